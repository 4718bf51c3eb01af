/*
 * test_config_toml.c — gateway/config.h with a TOML file (gateway.md §2.5,
 * acceptance case §8.30).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/config.h"

static const char *env_get(const char *name, void *ud)
{
    (void)ud;
    if (!strcmp(name, "OTEL_HOST"))
        return "otel.example.com";
    if (!strcmp(name, "TRACE"))
        return "0123456789abcdef0123456789abcdef";
    return NULL;
}

static gw_config_options_t opts = {.version = "test", .getenv = env_get};

static int reset(void **state)
{
    (void)state;
    opts.containerized_only = false;
    return 0;
}

static gw_config_t *load_ok(const char *toml)
{
    gw_config_t *cfg = NULL;
    err_t err = {{0}};
    bool ok = gw_config_load_toml(toml, strlen(toml), &opts, &cfg, &err);
    if (!ok)
        print_error("unexpected error: %s\n", err.msg);
    assert_true(ok);
    return cfg;
}

static void load_fails(const char *toml, ...)
{
    gw_config_t *cfg = (gw_config_t *)1;
    err_t err = {{0}};
    assert_false(gw_config_load_toml(toml, strlen(toml), &opts, &cfg, &err));
    assert_ptr_equal(cfg, (gw_config_t *)1);
    va_list ap;
    va_start(ap, toml);
    for (const char *needle; (needle = va_arg(ap, const char *));) {
        if (!strstr(err.msg, needle))
            fail_msg("expected '%s' in: %s", needle, err.msg);
    }
    va_end(ap);
}

#define DOCKER_SERVER "[servers.github]\ncommand = \"docker\"\nargs = [\"run\", \"--rm\", \"-i\", \"ghcr.io/github/github-mcp-server\"]\n"

static void test_full_config_converts(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "guards_mode = \"filter\"\nsequential_launch = true\n"
        "[gateway]\nport = 3100\napi_key = \"k\"\ndomain = \"localhost\"\nstartup_timeout = 10\n"
        "tool_timeout = 90\nkeepalive_interval = -1\npayload_dir = \"/p\"\npayload_path_prefix = \"/w\"\n"
        "payload_size_threshold = 1024\ntrusted_bots = [\"b\"]\nforce_public_repos = false\n"
        "sink_visibility_exempt_servers = [\"x\"]\n"
        DOCKER_SERVER
        "env = { GITHUB_TOKEN = \"t\" }\ntools = [\"get_issue\"]\ntool_timeout = 5\n"
        "rate_limit_threshold = 7\nrate_limit_cooldown = 120\nworking_directory = \"/tmp\"\nregistry = \"r\"\n"
        "[servers.remote]\ntype = \"http\"\nurl = \"https://example.com/mcp\"\nheaders = { X-Key = \"v\" }\n"
        "connect_timeout = 3\n");
    assert_int_equal(cfg->source, GW_CONFIG_SOURCE_TOML);
    assert_string_equal(cfg->guards_mode, "filter");
    assert_true(cfg->sequential_launch);
    const gw_gateway_config_t *g = &cfg->gateway;
    assert_int_equal(g->port, 3100);
    assert_string_equal(g->agent_id, "k");
    assert_true(g->agent_id_from_api_key);
    assert_int_equal(g->startup_timeout, 10);
    assert_int_equal(g->tool_timeout, 90);
    assert_int_equal(g->keepalive_interval, -1);
    assert_string_equal(g->payload_dir, "/p");
    assert_string_equal(g->payload_path_prefix, "/w");
    assert_int_equal(g->payload_size_threshold, 1024);
    assert_true(g->has_trusted_bots);
    assert_false(g->force_public_repos);
    assert_int_equal(cfg->server_count, 2);
    const gw_server_config_t *s = gw_config_find_server(cfg, "github");
    assert_string_equal(s->type, "stdio");
    assert_string_equal(s->command, "docker");
    assert_int_equal(s->args.count, 4);
    /* TOML env goes to the child's environment, not into argv (§2.5) */
    assert_string_equal(gw_strmap_get(&s->env, "GITHUB_TOKEN"), "t");
    assert_int_equal(s->tool_timeout, 5); /* TOML does not enforce >= 10 */
    assert_int_equal(s->rate_limit_threshold, 7);
    assert_int_equal(s->rate_limit_cooldown, 120);
    assert_string_equal(s->working_directory, "/tmp");
    s = gw_config_find_server(cfg, "remote");
    assert_int_equal(s->kind, GW_SERVER_HTTP);
    assert_string_equal(gw_strmap_get(&s->headers, "X-Key"), "v");
    assert_int_equal(s->connect_timeout, 3);
    assert_int_equal(s->rate_limit_threshold, 3);
    assert_int_equal(s->rate_limit_cooldown, 60);
    gw_config_free(cfg);
}

static void test_zero_values_get_defaults(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("[gateway]\nport = 0\nstartup_timeout = 0\ntool_timeout = 0\nkeepalive_interval = 0\n" DOCKER_SERVER);
    assert_int_equal(cfg->gateway.port, 3000);
    assert_int_equal(cfg->gateway.startup_timeout, 30);
    assert_int_equal(cfg->gateway.tool_timeout, 60);
    assert_int_equal(cfg->gateway.keepalive_interval, 1500);
    assert_null(cfg->gateway.agent_id);
    gw_config_free(cfg);
}

/* spec: §8.30 */
static void test_unknown_field_rejected(void **state)
{
    (void)state;
    load_fails("[gateway]\nprot = 3000\n" DOCKER_SERVER "foo = 1\n",
               "configuration contains unrecognized field(s): gateway.prot, servers.github.foo",
               "check the MCP Gateway Specification", NULL);
    load_fails("top = 1\n" DOCKER_SERVER, "unrecognized field", "top", NULL);
}

static void test_free_form_subtrees_accept_any_keys(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        DOCKER_SERVER "guard = \"gh\"\n[servers.github.guard_policies.allow-only]\nrepos = [\"o/r\"]\nmin-integrity = \"approved\"\n"
        "[guards.gh]\ntype = \"wasm\"\npath = \"/g.wasm\"\n[guards.gh.config]\nanything = { deep = [1, 2] }\n"
        "[guards.gh.policy.write-sink]\naccept = [\"*\"]\n");
    const gw_server_config_t *s = &cfg->servers[0];
    assert_string_equal(s->guard, "gh");
    json_t *ao = json_object_get(s->guard_policies, "allow-only");
    assert_string_equal(json_string_value(json_object_get(ao, "min-integrity")), "approved");
    const gw_guard_config_t *g = gw_config_find_guard(cfg, "gh");
    assert_string_equal(g->type, "wasm");
    assert_int_equal(json_array_size(json_object_get(json_object_get(g->config, "anything"), "deep")), 2);
    assert_non_null(json_object_get(g->policy, "write-sink"));
    gw_config_free(cfg);
}

static void test_no_servers_rejected(void **state)
{
    (void)state;
    load_fails("[gateway]\nport = 3000\n", "no servers defined", NULL);
}

static void test_parse_error_names_line(void **state)
{
    (void)state;
    load_fails("[gateway]\ndomain = \"open\n", "failed to parse TOML", "line 2", NULL);
}

static void test_type_mismatch_names_key(void **state)
{
    (void)state;
    load_fails("[gateway]\nport = \"3000\"\n" DOCKER_SERVER, "gateway.port", "line 2", "string", NULL);
    load_fails(DOCKER_SERVER "tools = \"x\"\n", "servers.github.tools", NULL);
}

/* spec: §8.30 — upstream's containerisation rule, kept behind the option. */
static void test_non_docker_command(void **state)
{
    (void)state;
    static const char doc[] = "[servers.n]\ncommand = \"node\"\nargs = [\"s.js\"]\n";
    gw_config_t *cfg = load_ok(doc); /* Flowgate extension */
    assert_string_equal(cfg->servers[0].command, "node");
    gw_config_free(cfg);
    opts.containerized_only = true;
    load_fails(doc, "stdio servers must use containerized execution (command must be 'docker', got 'node')", NULL);
}

static void test_server_requirements(void **state)
{
    (void)state;
    load_fails("[servers.a]\ntype = \"stdio\"\n", "servers.a", "'command' is required", NULL);
    load_fails("[servers.a]\ntype = \"http\"\n", "'url' is required for HTTP servers", NULL);
    load_fails("[servers.a]\ntype = \"sse\"\ncommand = \"x\"\n", "unsupported server type 'sse'", NULL);
    load_fails("[servers.a]\ncommand = \"docker\"\n[servers.a.auth]\ntype = \"github-oidc\"\n", "auth", NULL);
}

static void test_gateway_rules(void **state)
{
    (void)state;
    load_fails("[gateway]\nport = 70000\n" DOCKER_SERVER, "port must be between 1 and 65535", NULL);
    load_fails("[gateway]\npayload_size_threshold = 0\n" DOCKER_SERVER, "payload_size_threshold must be a positive integer", NULL);
    load_fails("[gateway]\ntrusted_bots = []\n" DOCKER_SERVER, "trusted_bots must be a non-empty array when present", NULL);
    load_fails("guards_mode = \"loose\"\n" DOCKER_SERVER, "guards_mode", NULL);
}

static void test_opentelemetry_is_expanded_and_checked(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("[gateway.opentelemetry]\nendpoint = \"https://${OTEL_HOST}/v1\"\ntrace_id = \"${TRACE}\"\n"
                               "sample_rate = 0.5\nheaders = { Authorization = \"x\" }\n" DOCKER_SERVER);
    const gw_otel_config_t *o = &cfg->gateway.otel;
    assert_true(o->present);
    assert_string_equal(o->endpoint, "https://otel.example.com/v1");
    assert_string_equal(o->trace_id, "0123456789abcdef0123456789abcdef");
    assert_true(o->has_sample_rate);
    assert_string_equal(gw_strmap_get(&o->headers, "Authorization"), "x");
    gw_config_free(cfg);
    load_fails("[gateway.opentelemetry]\nendpoint = \"https://${NOT_SET_ANYWHERE}\"\n" DOCKER_SERVER,
               "undefined environment variable referenced: NOT_SET_ANYWHERE", NULL);
    load_fails("[gateway.opentelemetry]\nendpoint = \"http://plain\"\n" DOCKER_SERVER, "https", NULL);
    load_fails("[gateway.opentelemetry]\nendpoint = \"https://o\"\nspan_id = \"0000000000000000\"\n" DOCKER_SERVER,
               "span_id", "all zeros", NULL);
}

static void test_legacy_tracing_not_expanded(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("[gateway.tracing]\nendpoint = \"http://${NOT_SET_ANYWHERE}\"\n" DOCKER_SERVER);
    assert_string_equal(cfg->gateway.otel.endpoint, "http://${NOT_SET_ANYWHERE}");
    gw_config_free(cfg);
}

static void test_no_expansion_outside_opentelemetry(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(DOCKER_SERVER "env = { T = \"${NOT_SET_ANYWHERE}\" }\n");
    assert_string_equal(gw_strmap_get(&cfg->servers[0].env, "T"), "${NOT_SET_ANYWHERE}");
    gw_config_free(cfg);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[] = "/tmp/flowgate-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    static const char doc[] = DOCKER_SERVER;
    assert_int_equal(write(fd, doc, sizeof doc - 1), (ssize_t)(sizeof doc - 1));
    close(fd);
    gw_config_t *cfg = NULL;
    err_t err;
    assert_true(gw_config_load_toml_file(path, &opts, &cfg, &err));
    assert_int_equal(cfg->server_count, 1);
    gw_config_free(cfg);
    unlink(path);
    assert_false(gw_config_load_toml_file(path, &opts, &cfg, &err));
    assert_non_null(strstr(err.msg, path));
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, reset)
    const struct CMUnitTest tests[] = {
        T(test_full_config_converts),
        T(test_zero_values_get_defaults),
        T(test_unknown_field_rejected),
        T(test_free_form_subtrees_accept_any_keys),
        T(test_no_servers_rejected),
        T(test_parse_error_names_line),
        T(test_type_mismatch_names_key),
        T(test_non_docker_command),
        T(test_server_requirements),
        T(test_gateway_rules),
        T(test_opentelemetry_is_expanded_and_checked),
        T(test_legacy_tracing_not_expanded),
        T(test_no_expansion_outside_opentelemetry),
        T(test_load_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
