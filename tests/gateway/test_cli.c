/* The root command's flags, environment defaults and cobra error texts
 * (spec: gateway §1.2, §1.3, §8 case 1). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/gateway.h"

static gw_cli_result_t parse(gw_options_t *o, err_t *err, ...)
{
    char *argv[32] = {"flowgate"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    memset(err, 0, sizeof *err);
    return gw_cli_parse(argc, argv, o, err);
}

static int clear_env(void **state)
{
    (void)state;
    const char *vars[] = {"MCP_GATEWAY_LOG_DIR", "MCP_GATEWAY_PAYLOAD_DIR", "MCP_GATEWAY_PAYLOAD_SIZE_THRESHOLD",
                          "MCP_GATEWAY_GUARDS_MODE", "MCP_GATEWAY_TLS_CERT", "MCP_GATEWAY_TLS_KEY",
                          "MCP_GATEWAY_SHUTDOWN_TIMEOUT", "MCP_GATEWAY_URL_DOMAIN_AUDIT", "DEBUG"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void test_no_config_flag_is_the_cobra_group_error(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "at least one of the flags in the group [config config-stdin] is required");
}

static void test_defaults_are_routed_on_port_3000(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", NULL), GW_CLI_RUN);
    assert_true(o.config_stdin);
    assert_string_equal(o.listen, "127.0.0.1:3000");
    assert_int_equal(o.mode, GW_MODE_ROUTED);
    assert_string_equal(o.log_dir, "/tmp/gh-aw/mcp-logs");
    assert_string_equal(o.payload_dir, "/tmp/jq-payloads");
    assert_int_equal(o.payload_size_threshold, 524288);
    assert_int_equal(o.shutdown_timeout_ms, 5000);
    assert_string_equal(o.guards_mode, "strict");
    assert_false(o.guards_mode_set);
}

static void test_flag_forms_long_equals_short_and_attached(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "-cfile.toml", "--listen=0.0.0.0:8080", "--unified", "--log-dir", "/x",
                           "--payload-size-threshold", "100", "--shutdown-timeout", "1m30s", NULL),
                     GW_CLI_RUN);
    assert_string_equal(o.config_file, "file.toml");
    assert_string_equal(o.listen, "0.0.0.0:8080");
    assert_int_equal(o.mode, GW_MODE_UNIFIED);
    assert_string_equal(o.log_dir, "/x");
    assert_int_equal(o.payload_size_threshold, 100);
    assert_true(o.payload_size_threshold_set);
    assert_int_equal(o.shutdown_timeout_ms, 90000);
    assert_int_equal(parse(&o, &err, "-c", "a.toml", "-l", "127.0.0.1:1", NULL), GW_CLI_RUN);
    assert_string_equal(o.config_file, "a.toml");
    assert_string_equal(o.listen, "127.0.0.1:1");
}

static void test_routed_and_unified_are_exclusive(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", "--routed", "--unified", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "[routed unified]"));
}

static void test_unknown_flag_points_at_help(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", "--bogus", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "unknown flag: --bogus\nSee 'flowgate --help' for usage");
    assert_int_equal(parse(&o, &err, "-x", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "unknown shorthand flag: 'x' in -x"));
    assert_int_equal(parse(&o, &err, "--listen", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "flag needs an argument: --listen"));
    assert_int_equal(parse(&o, &err, "serve", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "unknown command \"serve\""));
}

static void test_help_and_version_win_over_missing_config(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--version", NULL), GW_CLI_VERSION);
    assert_int_equal(parse(&o, &err, "-h", NULL), GW_CLI_HELP);
    assert_non_null(strstr(gw_version_string(), ", commit: "));
}

static void test_env_defaults_apply_when_flags_absent(void **state)
{
    (void)state;
    setenv("MCP_GATEWAY_LOG_DIR", "/env/logs", 1);
    setenv("MCP_GATEWAY_PAYLOAD_SIZE_THRESHOLD", "2048", 1);
    setenv("MCP_GATEWAY_GUARDS_MODE", "filter", 1);
    setenv("MCP_GATEWAY_SHUTDOWN_TIMEOUT", "250ms", 1);
    setenv("MCP_GATEWAY_URL_DOMAIN_AUDIT", "yes", 1);
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", NULL), GW_CLI_RUN);
    assert_string_equal(o.log_dir, "/env/logs");
    assert_int_equal(o.payload_size_threshold, 2048);
    assert_false(o.payload_size_threshold_set);
    assert_string_equal(o.guards_mode, "filter");
    assert_true(o.guards_mode_set);
    assert_int_equal(o.shutdown_timeout_ms, 250);
    assert_true(o.url_domain_audit);
    /* The flag wins over the environment. */
    assert_int_equal(parse(&o, &err, "--config-stdin", "--log-dir", "/flag", NULL), GW_CLI_RUN);
    assert_string_equal(o.log_dir, "/flag");
    clear_env(NULL);
}

static void test_invalid_env_threshold_falls_back_to_default(void **state)
{
    (void)state;
    setenv("MCP_GATEWAY_PAYLOAD_SIZE_THRESHOLD", "-5", 1);
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", NULL), GW_CLI_RUN);
    assert_int_equal(o.payload_size_threshold, 524288);
    clear_env(NULL);
}

static void test_verbosity_sets_debug_only_from_two(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", "-v", NULL), GW_CLI_RUN);
    assert_null(getenv("DEBUG"));
    assert_int_equal(parse(&o, &err, "--config-stdin", "-vv", NULL), GW_CLI_RUN);
    assert_string_equal(getenv("DEBUG"), "cmd:*,server:*,launcher:*");
    unsetenv("DEBUG");
    assert_int_equal(parse(&o, &err, "--config-stdin", "-v", "-vv", NULL), GW_CLI_RUN);
    assert_int_equal(o.verbose, 3);
    assert_string_equal(getenv("DEBUG"), "*");
    /* An explicit DEBUG is left alone. */
    setenv("DEBUG", "mine", 1);
    assert_int_equal(parse(&o, &err, "--config-stdin", "-vvv", NULL), GW_CLI_RUN);
    assert_string_equal(getenv("DEBUG"), "mine");
    clear_env(NULL);
}

static void test_bad_guards_mode_and_tls_pairs_fail(void **state)
{
    (void)state;
    gw_options_t o;
    err_t err;
    assert_int_equal(parse(&o, &err, "--config-stdin", "--guards-mode", "loose", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "invalid --guards-mode flag"));
    assert_int_equal(parse(&o, &err, "--config-stdin", "--tls-cert", "c.pem", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "--tls-cert and --tls-key must both be provided together");
    assert_int_equal(parse(&o, &err, "--config-stdin", "--tls-ca", "ca.pem", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "--tls-ca requires"));
    assert_int_equal(parse(&o, &err, "--config-stdin", "--shutdown-timeout", "soon", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "invalid duration"));
}


/* ---- flowgate proxy (spec §6) ---- */

static gw_cli_result_t parse_proxy(gw_proxy_options_t *o, err_t *err, ...)
{
    char *argv[32] = {"proxy"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 31;)
        argv[argc++] = a;
    va_end(ap);
    memset(err, 0, sizeof *err);
    return gw_proxy_cli_parse(argc, argv, o, err);
}

static int clear_proxy_env(void **state)
{
    clear_env(state);
    const char *vars[] = {"MCP_GATEWAY_GUARD_POLICY_JSON", "MCP_GATEWAY_FORCE_PUBLIC_REPOS",
                          "MCP_GATEWAY_WASM_GUARDS_DIR"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    return 0;
}

static void test_proxy_defaults_and_env(void **state)
{
    (void)state;
    gw_proxy_options_t o;
    err_t err;
    setenv("MCP_GATEWAY_GUARD_POLICY_JSON", "{\"allow-only\":{}}", 1);
    setenv("MCP_GATEWAY_LOG_DIR", "/tmp/px-logs", 1);
    setenv("MCP_GATEWAY_FORCE_PUBLIC_REPOS", "false", 1);
    assert_int_equal(parse_proxy(&o, &err, "--guard-wasm", "g.wasm", NULL), GW_CLI_RUN);
    assert_string_equal(o.listen, "127.0.0.1:8080");
    assert_string_equal(o.guard_wasm, "g.wasm");
    assert_string_equal(o.policy, "{\"allow-only\":{}}");
    assert_string_equal(o.log_dir, "/tmp/px-logs");
    assert_string_equal(o.guards_mode, "strict"); /* shared with the root command (spec §9) */
    assert_false(o.force_public_repos);
    assert_false(o.tls);
    assert_null(o.github_api_url);
    gw_proxy_options_free(&o);
    /* The flag wins over the environment. */
    assert_int_equal(parse_proxy(&o, &err, "--guard-wasm", "g.wasm", "--force-public-repos", "--policy", "", "-l",
                                 "0.0.0.0:8443", "--tls", NULL),
                     GW_CLI_RUN);
    assert_true(o.force_public_repos);
    assert_string_equal(o.policy, "");
    assert_string_equal(o.listen, "0.0.0.0:8443");
    assert_true(o.tls);
    gw_proxy_options_free(&o);
}

static void test_proxy_lists_accumulate(void **state)
{
    (void)state;
    gw_proxy_options_t o;
    err_t err;
    assert_int_equal(parse_proxy(&o, &err, "--guard-wasm=g.wasm", "--trusted-bots", "a[bot],b[bot]", "--trusted-bots=c",
                                 "--trusted-users", "u1", NULL),
                     GW_CLI_RUN);
    assert_string_equal(o.trusted_bots, "a[bot],b[bot],c");
    assert_string_equal(o.trusted_users, "u1");
    gw_proxy_options_free(&o);
    assert_null(o.trusted_bots);
}

static void test_proxy_errors(void **state)
{
    (void)state;
    gw_proxy_options_t o;
    err_t err;
    /* No guard given and none to discover. */
    setenv("MCP_GATEWAY_WASM_GUARDS_DIR", "/nonexistent-guards", 1);
    assert_int_equal(parse_proxy(&o, &err, NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "required flag(s) \"guard-wasm\" not set");
    gw_proxy_options_free(&o);
    assert_int_equal(parse_proxy(&o, &err, "--guard-wasm", "g", "--guards-mode", "loose", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "invalid --guards-mode flag"));
    gw_proxy_options_free(&o);
    assert_int_equal(parse_proxy(&o, &err, "--routed", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "unknown flag: --routed\nSee 'flowgate proxy --help' for usage");
    gw_proxy_options_free(&o);
    assert_int_equal(parse_proxy(&o, &err, "--tls=maybe", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "strconv.ParseBool"));
    gw_proxy_options_free(&o);
    assert_int_equal(parse_proxy(&o, &err, "--policy", NULL), GW_CLI_ERROR);
    assert_non_null(strstr(err.msg, "flag needs an argument: --policy"));
    gw_proxy_options_free(&o);
    /* Help needs no guard. */
    assert_int_equal(parse_proxy(&o, &err, "-h", NULL), GW_CLI_HELP);
    gw_proxy_options_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_no_config_flag_is_the_cobra_group_error, clear_env),
        cmocka_unit_test_setup(test_defaults_are_routed_on_port_3000, clear_env),
        cmocka_unit_test_setup(test_flag_forms_long_equals_short_and_attached, clear_env),
        cmocka_unit_test_setup(test_routed_and_unified_are_exclusive, clear_env),
        cmocka_unit_test_setup(test_unknown_flag_points_at_help, clear_env),
        cmocka_unit_test_setup(test_help_and_version_win_over_missing_config, clear_env),
        cmocka_unit_test_setup(test_env_defaults_apply_when_flags_absent, clear_env),
        cmocka_unit_test_setup(test_invalid_env_threshold_falls_back_to_default, clear_env),
        cmocka_unit_test_setup(test_verbosity_sets_debug_only_from_two, clear_env),
        cmocka_unit_test_setup(test_bad_guards_mode_and_tls_pairs_fail, clear_env),
        cmocka_unit_test_setup(test_proxy_defaults_and_env, clear_proxy_env),
        cmocka_unit_test_setup(test_proxy_lists_accumulate, clear_proxy_env),
        cmocka_unit_test_setup(test_proxy_errors, clear_proxy_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
