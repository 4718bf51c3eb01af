/* Environment defaults of every root flag that has one (spec: gateway §1.2
 * table), --shutdown-timeout's env rule, and the .env file format of §1.4
 * step 2 (gw_env_load_file). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/gateway.h"

static const char *const vars[] = {
    "MCP_GATEWAY_PAYLOAD_DIR", "MCP_GATEWAY_PAYLOAD_PATH_PREFIX", "MCP_GATEWAY_WASM_CACHE_DIR",
    "MCP_GATEWAY_TLS_CERT", "MCP_GATEWAY_TLS_KEY", "MCP_GATEWAY_CA_CERT", "MCP_GATEWAY_HMAC_SECRET",
    "MCP_GATEWAY_GUARDS_SINK_SERVER_IDS", "MCP_GATEWAY_GUARD_POLICY_JSON", "MCP_GATEWAY_ALLOWONLY_SCOPE_PUBLIC",
    "MCP_GATEWAY_ALLOWONLY_SCOPE_OWNER", "MCP_GATEWAY_ALLOWONLY_SCOPE_REPO", "MCP_GATEWAY_ALLOWONLY_MIN_INTEGRITY",
    "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "MCP_GATEWAY_SHUTDOWN_TIMEOUT", "MCP_GATEWAY_LOG_DIR",
    "MCP_GATEWAY_GUARDS_MODE", "MCP_GATEWAY_URL_DOMAIN_AUDIT", "FG_ENV_A", "FG_ENV_B", "FG_ENV_C", "FG_ENV_D",
    "FG_ENV_E", "FG_ENV_MISSING"};

static int clear_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static gw_cli_result_t parse_stdin(gw_options_t *o, err_t *err, const char *extra)
{
    char *argv[] = {"flowgate", "--config-stdin", (char *)extra, NULL};
    memset(o, 0, sizeof *o);
    memset(err, 0, sizeof *err);
    return gw_cli_parse(extra ? 3 : 2, argv, o, err);
}

static void test_every_table_env_var_sets_its_flag_default(void **state)
{
    (void)state;
    setenv("MCP_GATEWAY_PAYLOAD_DIR", "/env/payloads", 1);
    setenv("MCP_GATEWAY_PAYLOAD_PATH_PREFIX", "/workspace/p", 1);
    setenv("MCP_GATEWAY_WASM_CACHE_DIR", "/env/cache", 1);
    setenv("MCP_GATEWAY_TLS_CERT", "/env/cert.pem", 1);
    setenv("MCP_GATEWAY_TLS_KEY", "/env/key.pem", 1);
    setenv("MCP_GATEWAY_CA_CERT", "/env/ca.pem", 1);
    setenv("MCP_GATEWAY_HMAC_SECRET", "s3cret", 1);
    setenv("MCP_GATEWAY_GUARDS_SINK_SERVER_IDS", "a,b", 1);
    setenv("MCP_GATEWAY_GUARD_POLICY_JSON", "{\"allow-only\":{}}", 1);
    setenv("MCP_GATEWAY_ALLOWONLY_SCOPE_PUBLIC", "on", 1);
    setenv("MCP_GATEWAY_ALLOWONLY_SCOPE_OWNER", "octo", 1);
    setenv("MCP_GATEWAY_ALLOWONLY_SCOPE_REPO", "repo", 1);
    setenv("MCP_GATEWAY_ALLOWONLY_MIN_INTEGRITY", "approved", 1);
    setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel:4318", 1);
    setenv("OTEL_SERVICE_NAME", "svc", 1);
    gw_options_t o;
    err_t err;
    assert_int_equal(parse_stdin(&o, &err, NULL), GW_CLI_RUN);
    assert_string_equal(o.payload_dir, "/env/payloads");
    assert_false(o.payload_dir_set);
    assert_string_equal(o.payload_path_prefix, "/workspace/p");
    assert_string_equal(o.wasm_cache_dir, "/env/cache");
    assert_string_equal(o.tls_cert, "/env/cert.pem");
    assert_string_equal(o.tls_key, "/env/key.pem");
    assert_string_equal(o.tls_ca, "/env/ca.pem");
    assert_string_equal(o.hmac_secret, "s3cret");
    assert_string_equal(o.guards_sink_server_ids, "a,b");
    assert_string_equal(o.guard_policy_json, "{\"allow-only\":{}}");
    assert_true(o.allowonly_scope_public);
    assert_string_equal(o.allowonly_scope_owner, "octo");
    assert_string_equal(o.allowonly_scope_repo, "repo");
    assert_string_equal(o.allowonly_min_integrity, "approved");
    assert_string_equal(o.otlp_endpoint, "http://otel:4318");
    assert_string_equal(o.otlp_service_name, "svc");
    /* A flag still wins over its variable. */
    assert_int_equal(parse_stdin(&o, &err, "--payload-dir=/flag"), GW_CLI_RUN);
    assert_string_equal(o.payload_dir, "/flag");
    assert_true(o.payload_dir_set);
    clear_env(NULL);
}

static void test_defaults_without_env(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse_stdin(&o, &err, NULL), GW_CLI_RUN);
    assert_string_equal(o.log_dir, "/tmp/gh-aw/mcp-logs");
    assert_string_equal(o.payload_dir, "/tmp/jq-payloads");
    assert_string_equal(o.otlp_service_name, "mcp-gateway");
    assert_string_equal(o.guards_mode, "strict");
    assert_false(o.guards_mode_set);
    assert_int_equal(o.shutdown_timeout_ms, 5000);
    assert_null(o.hmac_secret);
}

static void test_shutdown_timeout_env_must_be_a_positive_duration(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    const char *bad[] = {"0s", "-1s", "soon", "5"};
    for (size_t i = 0; i < 4; i++) {
        setenv("MCP_GATEWAY_SHUTDOWN_TIMEOUT", bad[i], 1);
        assert_int_equal(parse_stdin(&o, &err, NULL), GW_CLI_RUN);
        assert_int_equal(o.shutdown_timeout_ms, 5000);
    }
    setenv("MCP_GATEWAY_SHUTDOWN_TIMEOUT", "1m30s", 1);
    assert_int_equal(parse_stdin(&o, &err, NULL), GW_CLI_RUN);
    assert_int_equal(o.shutdown_timeout_ms, 90000);
    /* The flag beats the variable. */
    assert_int_equal(parse_stdin(&o, &err, "--shutdown-timeout=2s"), GW_CLI_RUN);
    assert_int_equal(o.shutdown_timeout_ms, 2000);
    clear_env(NULL);
}

static void test_env_file_trims_skips_comments_and_expands(void **state)
{
    (void)state;
    char path[] = "/tmp/fg-cli-env-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# a comment\n"
                       "\n"
                       "  FG_ENV_A  =  spaced value  \n"
                       "FG_ENV_B=\"quoted\"\n"
                       "FG_ENV_C=${FG_ENV_A}-and-$FG_ENV_A\n"
                       "FG_ENV_D=x${FG_ENV_MISSING}y\n"
                       "FG_ENV_E=a=b\n"
                       "not a pair\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    err_t err = {{0}};
    assert_true(gw_env_load_file(path, &err));
    unlink(path);
    assert_string_equal(getenv("FG_ENV_A"), "spaced value");
    assert_string_equal(getenv("FG_ENV_B"), "\"quoted\""); /* no quote stripping */
    assert_string_equal(getenv("FG_ENV_C"), "spaced value-and-spaced value");
    assert_string_equal(getenv("FG_ENV_D"), "xy");
    assert_string_equal(getenv("FG_ENV_E"), "a=b");
    assert_false(gw_env_load_file("/nonexistent/dir/.env", &err));
    clear_env(NULL);
}

static void test_container_detection_follows_upstreams_rules(void **state)
{
    (void)state;
    assert_true(gw_cgroup_text_is_container("12:pids:/docker/0123abcd\n"));
    assert_true(gw_cgroup_text_is_container("0::/system.slice/containerd.service\n"));
    assert_true(gw_cgroup_text_is_container("3:cpu:/kubepods/besteffort/pod1\n"));
    assert_true(gw_cgroup_text_is_container("1:name=systemd:/lxc/box\n"));
    assert_false(gw_cgroup_text_is_container("0::/user.slice/user-1000.slice\n"));
    assert_false(gw_cgroup_text_is_container(""));
    setenv("RUNNING_IN_CONTAINER", "true", 1);
    assert_true(gw_running_in_container());
    unsetenv("RUNNING_IN_CONTAINER");
}

int main(void)
{
    clear_env(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_every_table_env_var_sets_its_flag_default, clear_env),
        cmocka_unit_test_teardown(test_defaults_without_env, clear_env),
        cmocka_unit_test_teardown(test_shutdown_timeout_env_must_be_a_positive_duration, clear_env),
        cmocka_unit_test_teardown(test_env_file_trims_skips_comments_and_expands, clear_env),
        cmocka_unit_test(test_container_detection_follows_upstreams_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
