/*
 * test_config_json.c — gateway/config.h with JSON on stdin (gateway.md §2.1-
 * §2.4, §2.6-§2.8 and acceptance cases §8.26-§8.31).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/config.h"

/* A fake environment so tests never depend on the real one. */
static const char *fake_env[][2] = {
    {"MY_TOKEN", "tok-123"},
    {"EMPTY", ""},
    {"WORKSPACE", "/home/runner/work/x/x"},
    {"QUOTED", "a\"b\\c"},
    {"INDIRECT", "${MY_TOKEN}"},
    {"INDIRECT_BAD", "${NOPE_NOT_SET}"},
    {"KEYNAME", "renamed"},
    {NULL, NULL},
};
static const char *extra_env[4][2];

static const char *env_get(const char *name, void *ud)
{
    (void)ud;
    for (int i = 0; fake_env[i][0]; i++)
        if (!strcmp(fake_env[i][0], name))
            return fake_env[i][1];
    for (int i = 0; i < 4 && extra_env[i][0]; i++)
        if (!strcmp(extra_env[i][0], name))
            return extra_env[i][1];
    return NULL;
}

static gw_config_options_t opts = {.version = "test", .getenv = env_get};

static int reset_env(void **state)
{
    (void)state;
    memset(extra_env, 0, sizeof extra_env);
    opts.containerized_only = false;
    return 0;
}

#define GW ",\"gateway\":{\"port\":8080,\"domain\":\"localhost\",\"agentId\":\"secret\"}"

static gw_config_t *load_ok(const char *json)
{
    gw_config_t *cfg = NULL;
    err_t err = {{0}};
    bool ok = gw_config_load_json(json, strlen(json), &opts, &cfg, &err);
    if (!ok)
        print_error("unexpected error: %s\n", err.msg);
    assert_true(ok);
    assert_non_null(cfg);
    return cfg;
}

/* Loads a config that must fail, checks each needle is in the message. */
static void load_fails(const char *json, ...)
{
    gw_config_t *cfg = (gw_config_t *)1;
    err_t err = {{0}};
    assert_false(gw_config_load_json(json, strlen(json), &opts, &cfg, &err));
    assert_ptr_equal(cfg, (gw_config_t *)1); /* untouched: nothing half-built escapes */
    va_list ap;
    va_start(ap, json);
    for (const char *needle; (needle = va_arg(ap, const char *));) {
        if (!strstr(err.msg, needle))
            fail_msg("expected '%s' in: %s", needle, err.msg);
    }
    va_end(ap);
}

static char *join_args(const gw_server_config_t *s)
{
    size_t n = strlen(s->command) + 1;
    for (size_t i = 0; i < s->args.count; i++)
        n += strlen(s->args.items[i]) + 1;
    char *out = malloc(n + 1);
    assert_non_null(out);
    strcpy(out, s->command);
    for (size_t i = 0; i < s->args.count; i++) {
        strcat(out, " ");
        strcat(out, s->args.items[i]);
    }
    return out;
}

/* ---- conversion ---- */

static void test_container_server_gets_exact_docker_argv(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"mcpServers\":{\"safeoutputs\":{\"type\":\"stdio\",\"container\":\"ghcr.io/github/gh-aw-node\","
        "\"entrypoint\":\"sh\",\"mounts\":[\"/tmp:/tmp:rw\",\"/a:/b:ro\"],"
        "\"env\":{\"ZED\":\"z\",\"DEBUG\":\"*\",\"PASS\":\"\"},"
        "\"args\":[\"-w\",\"${WORKSPACE}\"],\"entrypointArgs\":[\"-c\",\"sh start.sh\"]}}" GW "}");
    const gw_server_config_t *s = gw_config_find_server(cfg, "safeoutputs");
    assert_non_null(s);
    assert_int_equal(s->kind, GW_SERVER_STDIO);
    char *argv = join_args(s);
    assert_string_equal(argv,
                        "docker run --rm -i -e NO_COLOR=1 -e TERM=dumb -e PYTHONUNBUFFERED=1 "
                        "--entrypoint sh -v /tmp:/tmp:rw -v /a:/b:ro -e DEBUG=* -e PASS -e ZED=z "
                        "-w /home/runner/work/x/x ghcr.io/github/gh-aw-node -c sh start.sh");
    free(argv);
    assert_int_equal(s->env.count, 0); /* JSON container servers: env goes in argv only */
    assert_string_equal(s->container, "ghcr.io/github/gh-aw-node");
    gw_config_free(cfg);
}

/* spec: §8.26 */
static void test_acceptance_docker_argv_contents(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"mcpServers\":{\"t\":{\"container\":\"test/container:latest\",\"entrypointArgs\":[\"arg1\",\"arg2\"],"
        "\"env\":{\"TEST_VAR\":\"value\",\"PASSTHROUGH_VAR\":\"\"}}}" GW "}");
    const gw_server_config_t *s = &cfg->servers[0];
    assert_string_equal(s->command, "docker");
    char *argv = join_args(s);
    assert_non_null(strstr(argv, "-e NO_COLOR=1 -e TERM=dumb -e PYTHONUNBUFFERED=1"));
    assert_non_null(strstr(argv, "-e PASSTHROUGH_VAR -e TEST_VAR=value test/container:latest arg1 arg2"));
    free(argv);
    gw_config_free(cfg);
}

static void test_local_type_loads_as_stdio(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"type\":\"local\",\"container\":\"mcp/memory\"}}" GW "}");
    assert_string_equal(cfg->servers[0].type, "stdio");
    assert_int_equal(cfg->servers[0].kind, GW_SERVER_STDIO);
    gw_config_free(cfg);
}

static void test_command_server_is_a_flowgate_extension(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"mcpServers\":{\"n\":{\"command\":\"node\",\"args\":[\"server.js\",\"--x\"],"
        "\"env\":{\"TOKEN\":\"${MY_TOKEN}\"}}}" GW "}");
    const gw_server_config_t *s = &cfg->servers[0];
    assert_string_equal(s->command, "node");
    assert_int_equal(s->args.count, 2);
    assert_string_equal(s->args.items[1], "--x");
    assert_string_equal(gw_strmap_get(&s->env, "TOKEN"), "tok-123");
    assert_null(s->container);
    gw_config_free(cfg);
}

/* spec: §8.27 — upstream's behaviour when containerized_only is set. */
static void test_command_rejected_when_containerized_only(void **state)
{
    (void)state;
    opts.containerized_only = true;
    load_fails("{\"mcpServers\":{\"n\":{\"command\":\"node\"}}" GW "}", "validation error", "command", NULL);
}

static void test_command_and_container_together_rejected(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"n\":{\"command\":\"node\",\"container\":\"x/y\"}}" GW "}",
               "mcpServers.n", "cannot both be set", NULL);
}

static void test_http_server_keeps_url_and_expanded_headers(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"https://example.com/mcp\","
        "\"headers\":{\"Authorization\":\"Bearer ${MY_TOKEN}\",\"X-Indirect\":\"${INDIRECT}\"},"
        "\"connect_timeout\":7,\"tools\":[\"a\",\"b\"]}}" GW "}");
    const gw_server_config_t *s = &cfg->servers[0];
    assert_int_equal(s->kind, GW_SERVER_HTTP);
    assert_string_equal(s->url, "https://example.com/mcp");
    assert_string_equal(gw_strmap_get(&s->headers, "Authorization"), "Bearer tok-123");
    /* the second expansion pass of §2.1 step 7 */
    assert_string_equal(gw_strmap_get(&s->headers, "X-Indirect"), "tok-123");
    assert_int_equal(s->connect_timeout, 7);
    assert_true(s->has_tools);
    assert_int_equal(s->tools.count, 2);
    gw_config_free(cfg);
}

static void test_second_expansion_pass_reports_server(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"https://e.com\","
               "\"headers\":{\"X\":\"${INDIRECT_BAD}\"}}}" GW "}",
               "server \"h\": failed to expand environment variable(s)", "NOPE_NOT_SET", NULL);
}

static void test_gateway_fields_and_defaults(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW "}");
    const gw_gateway_config_t *g = &cfg->gateway;
    assert_int_equal(g->port, 8080);
    assert_string_equal(g->domain, "localhost");
    assert_string_equal(g->agent_id, "secret");
    assert_false(g->agent_id_from_api_key);
    assert_int_equal(g->startup_timeout, 30);
    assert_int_equal(g->tool_timeout, 60);
    assert_int_equal(g->keepalive_interval, 1500);
    assert_string_equal(g->payload_dir, "/tmp/jq-payloads");
    assert_string_equal(g->payload_path_prefix, "");
    assert_int_equal(g->payload_size_threshold, 524288);
    assert_true(g->force_public_repos);
    assert_false(g->has_trusted_bots);
    assert_false(g->otel.present);
    assert_false(cfg->servers[0].has_tools);
    assert_int_equal(cfg->servers[0].tool_timeout, 0);
    assert_int_equal(cfg->source, GW_CONFIG_SOURCE_JSON);
    gw_config_free(cfg);
}

static void test_gateway_fields_explicit(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"mcpServers\":{\"m\":{\"container\":\"a\",\"toolTimeout\":20}},\"gateway\":{\"port\":13001,"
        "\"domain\":\"awmg-mcpg\",\"apiKey\":\"k\",\"startupTimeout\":5,\"toolTimeout\":15,"
        "\"keepaliveInterval\":0,\"payloadDir\":\"/data/p\",\"payloadSizeThreshold\":100,"
        "\"payloadPathPrefix\":\"/workspace/payloads\",\"trustedBots\":[\"bot\"],\"forcePublicRepos\":false,"
        "\"sinkVisibilityExemptServers\":[\"s\"],\"opentelemetry\":{\"endpoint\":\"https://otel.example\","
        "\"traceId\":\"0123456789abcdef0123456789abcdef\",\"spanId\":\"0123456789abcdef\",\"serviceName\":\"svc\"}}}");
    const gw_gateway_config_t *g = &cfg->gateway;
    assert_int_equal(g->port, 13001);
    assert_string_equal(g->agent_id, "k");
    assert_true(g->agent_id_from_api_key);
    assert_int_equal(g->startup_timeout, 5);
    assert_int_equal(g->tool_timeout, 15);
    assert_int_equal(g->keepalive_interval, -1); /* §9: explicit 0 disables in JSON */
    assert_string_equal(g->payload_dir, "/data/p");
    assert_int_equal(g->payload_size_threshold, 100);
    assert_string_equal(g->payload_path_prefix, "/workspace/payloads");
    assert_true(g->has_trusted_bots);
    assert_false(g->force_public_repos);
    assert_string_equal(g->sink_visibility_exempt_servers.items[0], "s");
    assert_true(g->otel.present);
    assert_string_equal(g->otel.endpoint, "https://otel.example");
    assert_string_equal(g->otel.service_name, "svc");
    assert_int_equal(cfg->servers[0].tool_timeout, 20);
    gw_config_free(cfg);
}

static void test_agent_id_wins_over_api_key(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,"
                               "\"domain\":\"localhost\",\"agentId\":\"aid\",\"apiKey\":\"key\"}}");
    assert_string_equal(cfg->gateway.agent_id, "aid");
    assert_false(cfg->gateway.agent_id_from_api_key);
    gw_config_free(cfg);
}

static void test_tool_timeout_from_environment(void **state)
{
    (void)state;
    extra_env[0][0] = "MCP_GATEWAY_TOOL_TIMEOUT";
    extra_env[0][1] = "45";
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW "}");
    assert_int_equal(cfg->gateway.tool_timeout, 45);
    gw_config_free(cfg);
    extra_env[0][1] = "5"; /* below 10: ignored */
    cfg = load_ok("{\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW "}");
    assert_int_equal(cfg->gateway.tool_timeout, 60);
    gw_config_free(cfg);
}

static void test_servers_keep_document_order(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"zeta\":{\"container\":\"a\"},\"alpha\":{\"container\":\"b\"}}" GW "}");
    assert_int_equal(cfg->server_count, 2);
    assert_string_equal(cfg->servers[0].id, "zeta");
    assert_string_equal(cfg->servers[1].id, "alpha");
    gw_config_free(cfg);
}

/* ---- ${VAR} ---- */

/* spec: §8.28 */
static void test_undefined_variable_is_named(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"env\":{\"X\":\"${UNDEFINED_VAR}\"}}}" GW "}",
               "undefined environment variable referenced: UNDEFINED_VAR",
               "Suggestion: Set the environment variable UNDEFINED_VAR", NULL);
}

static void test_expansion_everywhere_and_escaped_safely(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"mcpServers\":{\"m\":{\"container\":\"a\",\"env\":{\"A\":\"${QUOTED}\",\"B\":\"x${EMPTY}y\","
        "\"C\":\"$MY_TOKEN ${1X}\",\"${KEYNAME}\":\"v\"}}},"
        "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"apiKey\":\"${MY_TOKEN}\"}}");
    char *argv = join_args(&cfg->servers[0]);
    /* the value with a quote and a backslash does not corrupt the document */
    assert_non_null(strstr(argv, "-e A=a\"b\\c -e B=xy -e C=$MY_TOKEN ${1X} -e renamed=v"));
    free(argv);
    assert_string_equal(cfg->gateway.agent_id, "tok-123");
    gw_config_free(cfg);
}

static void test_quoted_port_variable_fails_after_expansion(void **state)
{
    (void)state;
    extra_env[0][0] = "PORT";
    extra_env[0][1] = "8080";
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":\"${PORT}\","
               "\"domain\":\"localhost\",\"agentId\":\"a\"}}",
               "validation error", "gateway/port", NULL);
}

/* ---- JSON and schema errors ---- */

static void test_invalid_json_is_reported(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\": {", "failed to normalize configuration", "JSON", NULL);
    load_fails("[1]", "must be an object", NULL);
}

/* spec: §8.29 */
static void test_schema_requires_gateway_and_its_fields(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}}}", "validation error", "gateway", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"domain\":\"localhost\",\"agentId\":\"a\"}}",
               "validation error", "port", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"agentId\":\"a\"}}",
               "validation error", "domain", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\"}}",
               "validation error", "agentId", NULL);
    load_fails("{\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\"}}", "validation error",
               "mcpServers", NULL);
}

static void test_schema_requires_container_and_url(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"type\":\"stdio\"}}" GW "}", "validation error",
               "Missing required field(s): container", "mcpServers/m", NULL);
    load_fails("{\"mcpServers\":{\"h\":{\"type\":\"http\"}}" GW "}", "validation error",
               "Missing required field(s): url", NULL);
    load_fails("{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"ftp://x\"}}" GW "}", "validation error",
               "mcpServers/h/url", NULL);
}

static void test_schema_rejects_unknown_fields(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\","
               "\"agentId\":\"a\",\"prot\":2}}",
               "validation error", "Location: gateway", "Unexpected field(s): \"prot\"", NULL);
    load_fails("{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"http://x\",\"mounts\":[\"/a:/b:ro\"]}}" GW "}",
               "validation error", "mounts", NULL);
    load_fails("{\"extra\":1,\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW "}", "validation error",
               "<root>", "extra", NULL);
}

static void test_schema_type_mismatch(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"args\":\"-x\"}}" GW "}", "validation error",
               "Type mismatch - expected array, got string", "mcpServers/m/args", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"env\":{\"A\":1}}}" GW "}", "validation error",
               "mcpServers/m/env/A", NULL);
}

static void test_container_pattern_rejects_digest(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"img@sha256:abcd\"}}" GW "}", "validation error",
               "container", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"\"}}" GW "}", "validation error", "container", NULL);
}

static void test_bad_type_rejected(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"type\":\"Bad Type\",\"container\":\"a\"}}" GW "}", "validation error",
               "mcpServers/m/type", NULL);
}

/* ---- rule errors (§2.7) ---- */

static void test_tool_timeout_below_ten_names_field(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"toolTimeout\":5}}" GW "}",
               "mcpServers.m.toolTimeout", "toolTimeout must be at least 10, got 5", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"tool_timeout\":5}}" GW "}",
               "tool_timeout must be at least 10", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\","
               "\"agentId\":\"a\",\"toolTimeout\":9}}",
               "gateway.toolTimeout", "at least 10", NULL);
}

static void test_mount_rules(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"mounts\":[\"/a:/b:ro\",\"/a:/b\"]}}" GW "}",
               "mcpServers.m.mounts[1]", "invalid mount format '/a:/b' (expected 'source:dest:mode')", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"mounts\":[\"x:/b:ro\"]}}" GW "}",
               "mount source must be an absolute path, got 'x'", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"mounts\":[\"/x:b:ro\"]}}" GW "}",
               "mount destination must be an absolute path", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"mounts\":[\"/x:/b:rx\"]}}" GW "}",
               "invalid mount mode 'rx' (must be 'ro' or 'rw')", NULL);
}

static void test_entrypoint_whitespace_rejected(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"entrypoint\":\"  \"}}" GW "}",
               "mcpServers.m.entrypoint", "whitespace", NULL);
}

static void test_gateway_rules(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":70000,\"domain\":\"localhost\",\"agentId\":\"a\"}}",
               "port must be between 1 and 65535, got 70000", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"Bad_Host\",\"agentId\":\"a\"}}",
               "domain 'Bad_Host' must be 'localhost'", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\",\"payloadDir\":\"rel/dir\"}}",
               "payloadDir must be an absolute path", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\",\"payloadSizeThreshold\":0}}",
               "payloadSizeThreshold must be a positive integer (>= 1), got 0", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\",\"startupTimeout\":0}}",
               "startupTimeout", NULL);
}

/* spec: §8.31 */
static void test_trusted_bots_empty_rejected(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\",\"trustedBots\":[]}}",
               "trusted_bots must be a non-empty array when present", NULL);
}

static void test_opentelemetry_rules(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\","
               "\"opentelemetry\":{\"endpoint\":\"https://o\",\"traceId\":\"00000000000000000000000000000000\"}}}",
               "traceId", "all zeros", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\","
               "\"opentelemetry\":{\"endpoint\":\"https://o\",\"spanId\":\"ABC\"}}}",
               "spanId", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\","
               "\"opentelemetry\":{\"endpoint\":\"http://o\"}}}",
               "https", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"a\","
               "\"opentelemetry\":{\"endpoint\":\"https://o\",\"headers\":{}}}}",
               "validation error", "headers", NULL);
}

static void test_custom_schemas_rules(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW ",\"customSchemas\":{\"stdio\":\"https://x\"}}",
               "reserved", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"type\":\"mytype\"}}" GW "}", "unsupported server type 'mytype'",
               "not registered in customSchemas", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW ",\"customSchemas\":{\"t\":\"http://x\"}}",
               "customSchemas.t", "https", NULL);
    /* Flowgate does not fetch remote schemas: fail closed, not unchecked */
    load_fails("{\"mcpServers\":{\"m\":{\"type\":\"t\"}}" GW ",\"customSchemas\":{\"t\":\"https://x/s.json\"}}",
               "custom server type 't'", "not supported", NULL);
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"type\":\"mytype\",\"container\":\"img\"}}" GW
                               ",\"customSchemas\":{\"mytype\":\"\"}}");
    assert_string_equal(cfg->servers[0].type, "mytype");
    assert_string_equal(cfg->servers[0].command, "docker");
    gw_config_free(cfg);
}

static void test_auth_rules(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"auth\":{\"type\":\"github-oidc\"}}}" GW "}",
               "auth", "server type \"stdio\"", NULL);
    load_fails("{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"https://x\",\"auth\":{\"type\":\"github-oidc\"}}}" GW "}",
               "requires OIDC authentication but ACTIONS_ID_TOKEN_REQUEST_URL is not set", NULL);
    load_fails("{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"https://x\",\"auth\":{\"type\":\"basic\"}}}" GW "}",
               "unsupported auth type 'basic'", NULL);
    extra_env[0][0] = "ACTIONS_ID_TOKEN_REQUEST_URL";
    extra_env[0][1] = "https://token";
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"h\":{\"type\":\"http\",\"url\":\"https://x/mcp\",\"auth\":{\"type\":\"github-oidc\"}}}" GW "}");
    assert_string_equal(cfg->servers[0].auth_type, "github-oidc");
    assert_string_equal(cfg->servers[0].auth_audience, "https://x/mcp"); /* defaults to url */
    gw_config_free(cfg);
}

static void test_tool_response_filters_rules(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"tool_response_filters\":{\"t\":\"\"}}}" GW "}",
               "mcpServers.m.tool_response_filters.t contains an invalid jq expression", NULL);
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"tool_response_filters\":{\"t\":\"map(.x)\"}}}" GW "}");
    assert_string_equal(json_string_value(json_object_get(cfg->servers[0].tool_response_filters, "t")), "map(.x)");
    gw_config_free(cfg);
}

/* ---- guards and policies ---- */

static void test_guards_and_guard_policies_kept_raw(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok(
        "{\"guards\":{\"gh\":{\"type\":\"wasm\",\"path\":\"/guards/g.wasm\",\"config\":{\"k\":[1]},"
        "\"policy\":{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}}},"
        "\"mcpServers\":{\"github\":{\"container\":\"a\",\"guard\":\"gh\","
        "\"guard-policies\":{\"allow-only\":{\"repos\":[\"o/r\"],\"min-integrity\":\"approved\"}}},"
        "\"safeoutputs\":{\"container\":\"b\",\"guard-policies\":{\"write-sink\":{\"accept\":[\"*\"]}}}}" GW "}");
    const gw_guard_config_t *g = gw_config_find_guard(cfg, "gh");
    assert_non_null(g);
    assert_string_equal(g->type, "wasm");
    assert_string_equal(g->path, "/guards/g.wasm");
    assert_non_null(json_object_get(g->config, "k"));
    assert_non_null(json_object_get(g->policy, "allow-only"));
    const gw_server_config_t *s = gw_config_find_server(cfg, "github");
    assert_string_equal(s->guard, "gh");
    assert_non_null(json_object_get(s->guard_policies, "allow-only"));
    json_t *p = NULL;
    err_t err;
    assert_true(gw_config_server_policy(s, &p, &err));
    assert_non_null(json_object_get(p, "allow-only"));
    json_decref(p);
    assert_null(gw_config_find_server(cfg, "nope"));
    gw_config_free(cfg);
}

static void test_write_sink_schema(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"guard-policies\":{\"write-sink\":{}}}}" GW "}",
               "validation error", "accept", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"guard-policies\":{\"write-sink\":{\"accept\":[\"*\"],"
               "\"sink-visibility\":\"secret\"}}}}" GW "}",
               "validation error", "sink-visibility", NULL);
}

static void test_server_policy_forms(void **state)
{
    (void)state;
    gw_server_config_t s = {.id = "github"};
    json_t *p = NULL;
    err_t err;
    /* legacy flat form gets wrapped */
    s.guard_policies = json_pack("{s:s,s:s}", "repos", "all", "min-integrity", "none");
    assert_true(gw_config_server_policy(&s, &p, &err));
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "allow-only"), "repos")), "all");
    json_decref(p);
    json_decref(s.guard_policies);
    /* repos without an integrity level */
    s.guard_policies = json_pack("{s:s}", "repos", "all");
    assert_false(gw_config_server_policy(&s, &p, &err));
    assert_non_null(strstr(err.msg, "repos specified without min-integrity"));
    json_decref(s.guard_policies);
    /* nested under the server's id, among other keys */
    s.guard_policies = json_pack("{s:{s:{s:[s]}},s:{}}", "github", "write-sink", "accept", "*", "other");
    assert_true(gw_config_server_policy(&s, &p, &err));
    assert_non_null(json_object_get(p, "write-sink"));
    json_decref(p);
    json_decref(s.guard_policies);
    /* a single key holding a policy map */
    s.guard_policies = json_pack("{s:{s:{s:s,s:s}}}", "whatever", "allowonly", "repos", "all", "integrity", "none");
    assert_true(gw_config_server_policy(&s, &p, &err));
    assert_non_null(json_object_get(p, "allow-only")); /* canonical spelling */
    json_decref(p);
    json_decref(s.guard_policies);
    /* no policy */
    s.guard_policies = json_object();
    assert_true(gw_config_server_policy(&s, &p, &err));
    assert_null(p);
    json_decref(s.guard_policies);
}

static void test_invalid_policies_rejected_at_load(void **state)
{
    (void)state;
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"guard-policies\":{\"allow-only\":"
               "{\"repos\":[\"Bad.Repo\"],\"min-integrity\":\"none\"}}}}" GW "}",
               "Configuration error at mcpServers.m.guard-policies", "allow-only.repos scope", NULL);
    load_fails("{\"mcpServers\":{\"m\":{\"container\":\"a\",\"guard-policies\":{\"repos\":\"all\"}}}" GW "}",
               "repos specified without min-integrity", NULL);
    load_fails("{\"guards\":{\"g\":{\"type\":\"wasm\",\"policy\":{\"allow-only\":{\"repos\":\"all\"},"
               "\"write-sink\":{\"accept\":[\"*\"]}}}},\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW "}",
               "Configuration error at guards.g.policy", "not both", NULL);
}

/* ---- launch argv and stream loading ---- */

static const char *launch_env(const char *name, void *ud)
{
    (void)ud;
    return !strcmp(name, "PASS") ? "from-gateway" : NULL;
}

static void test_launch_argv_fills_passthrough_env(void **state)
{
    (void)state;
    gw_config_t *cfg = load_ok("{\"mcpServers\":{\"m\":{\"container\":\"img\",\"env\":{\"PASS\":\"\",\"UNSET\":\"\",\"SET\":\"v\"}}}" GW "}");
    err_t err;
    char **argv = gw_server_launch_argv(&cfg->servers[0], launch_env, NULL, &err);
    assert_non_null(argv);
    size_t n = 0;
    char joined[1024] = "";
    for (; argv[n]; n++) {
        strcat(joined, argv[n]);
        strcat(joined, " ");
    }
    assert_int_equal(n, cfg->servers[0].args.count + 1);
    assert_string_equal(joined, "docker run --rm -i -e NO_COLOR=1 -e TERM=dumb -e PYTHONUNBUFFERED=1 "
                                "-e PASS=from-gateway -e SET=v -e UNSET img ");
    gw_argv_free(argv);
    gw_config_free(cfg);
}

static void test_load_from_stream(void **state)
{
    (void)state;
    static const char doc[] = "{\"mcpServers\":{\"m\":{\"container\":\"a\"}}" GW "}";
    FILE *f = fmemopen((void *)doc, sizeof doc - 1, "r");
    assert_non_null(f);
    gw_config_t *cfg = NULL;
    err_t err;
    assert_true(gw_config_load_json_stream(f, &opts, &cfg, &err));
    fclose(f);
    assert_int_equal(cfg->server_count, 1);
    gw_config_free(cfg);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup(name, reset_env)
    const struct CMUnitTest tests[] = {
        T(test_container_server_gets_exact_docker_argv),
        T(test_acceptance_docker_argv_contents),
        T(test_local_type_loads_as_stdio),
        T(test_command_server_is_a_flowgate_extension),
        T(test_command_rejected_when_containerized_only),
        T(test_command_and_container_together_rejected),
        T(test_http_server_keeps_url_and_expanded_headers),
        T(test_second_expansion_pass_reports_server),
        T(test_gateway_fields_and_defaults),
        T(test_gateway_fields_explicit),
        T(test_agent_id_wins_over_api_key),
        T(test_tool_timeout_from_environment),
        T(test_servers_keep_document_order),
        T(test_undefined_variable_is_named),
        T(test_expansion_everywhere_and_escaped_safely),
        T(test_quoted_port_variable_fails_after_expansion),
        T(test_invalid_json_is_reported),
        T(test_schema_requires_gateway_and_its_fields),
        T(test_schema_requires_container_and_url),
        T(test_schema_rejects_unknown_fields),
        T(test_schema_type_mismatch),
        T(test_container_pattern_rejects_digest),
        T(test_bad_type_rejected),
        T(test_tool_timeout_below_ten_names_field),
        T(test_mount_rules),
        T(test_entrypoint_whitespace_rejected),
        T(test_gateway_rules),
        T(test_trusted_bots_empty_rejected),
        T(test_opentelemetry_rules),
        T(test_custom_schemas_rules),
        T(test_auth_rules),
        T(test_tool_response_filters_rules),
        T(test_guards_and_guard_policies_kept_raw),
        T(test_write_sink_schema),
        T(test_server_policy_forms),
        T(test_invalid_policies_rejected_at_load),
        T(test_launch_argv_fills_passthrough_env),
        T(test_load_from_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
