/* The flowgate binary run as a user would: exit codes and messages for the
 * command line and for each kind of configuration error, the stdout
 * document and nothing else on stdout (spec: gateway §1, §4.14, §8 cases
 * 1–4, 27–30). */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

/* From src/gateway/hmac.c, compiled into this test. */
void gw_hmac_sha256_hex(const void *key, size_t klen, const void *data, size_t len, char out[65]);
void gw_sha256_hex(const void *data, size_t len, char out[65]);

static void expect_fail(const char *const args[], const char *input, const char *needle)
{
    char *out = NULL, *err = NULL;
    int st = fg_run_flowgate(args, input, &out, &err, 20000);
    if (st == 0 || !strstr(err, needle))
        fprintf(stderr, "status %d, stderr:\n%s\n(wanted \"%s\")\n", st, err, needle);
    assert_int_not_equal(st, 0);
    assert_non_null(strstr(err, needle));
    assert_string_equal(out, ""); /* nothing on stdout when it fails */
    free(out);
    free(err);
}

static void test_no_config_flag_exits_1_with_group_error(void **state)
{
    (void)state;
    const char *args[] = {NULL};
    char *out, *err;
    assert_int_equal(fg_run_flowgate(args, NULL, &out, &err, 10000), 1);
    assert_non_null(strstr(err, "at least one of the flags in the group [config config-stdin] is required"));
    free(out);
    free(err);
}

static void test_version_prints_mcpg_gateway_line(void **state)
{
    (void)state;
    const char *args[] = {"--version", NULL};
    char *out, *err;
    assert_int_equal(fg_run_flowgate(args, NULL, &out, &err, 10000), 0);
    assert_int_equal(strncmp(out, "MCPG Gateway v", 14), 0);
    free(out);
    free(err);
}

static void test_unknown_flag_exits_1_pointing_at_help(void **state)
{
    (void)state;
    const char *args[] = {"--config-stdin", "--frobnicate", NULL};
    expect_fail(args, NULL, "unknown flag: --frobnicate\nSee 'flowgate --help' for usage");
}

static const char *const stdin_args[] = {"--config-stdin", "--listen", "127.0.0.1:0", "--log-dir", "/tmp/fg-cli-test-logs", NULL};

static void test_malformed_json_config(void **state)
{
    (void)state;
    expect_fail(stdin_args, "{\"mcpServers\": {", "failed to load config");
}

static void test_undefined_variable_is_named(void **state)
{
    (void)state;
    unsetenv("FG_SURELY_UNDEFINED_VAR");
    expect_fail(stdin_args,
                "{\"mcpServers\":{\"a\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:1/mcp\"}},"
                "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"apiKey\":\"${FG_SURELY_UNDEFINED_VAR}\"}}",
                "FG_SURELY_UNDEFINED_VAR");
}

static void test_missing_gateway_section_fails_validation(void **state)
{
    (void)state;
    expect_fail(stdin_args, "{\"mcpServers\":{\"a\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:1/mcp\"}}}",
                "validation error");
}

static void test_http_server_without_url_fails_validation(void **state)
{
    (void)state;
    expect_fail(stdin_args,
                "{\"mcpServers\":{\"a\":{\"type\":\"http\"}},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"k\"}}",
                "validation error");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_toml_unknown_key_and_empty_servers(void **state)
{
    (void)state;
    char *d = fg_tempdir("toml");
    char path[256];
    snprintf(path, sizeof path, "%s/c.toml", d);
    write_file(path, "[gateway]\nprot = 3000\n[servers.a]\ncommand = \"node\"\n");
    const char *args[] = {"--config", path, "--listen", "127.0.0.1:0", "--log-dir", d, NULL};
    expect_fail(args, NULL, "unrecognized field");
    write_file(path, "[gateway]\nport = 3000\n");
    expect_fail(args, NULL, "no servers defined");
    write_file(path, "[gateway]\nagent_id = \"unterminated\n");
    expect_fail(args, NULL, "line");
    const char *missing[] = {"--config", "/nonexistent/flowgate.toml", "--log-dir", d, NULL};
    expect_fail(missing, NULL, "failed to load config");
    free(d);
}

static void test_listen_failure_is_reported(void **state)
{
    (void)state;
    /* Hold a port so the gateway cannot bind it. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 1), 0);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    char listen_addr[64];
    snprintf(listen_addr, sizeof listen_addr, "127.0.0.1:%d", ntohs(a.sin_port));
    const char *args[] = {"--config-stdin", "--listen", listen_addr, "--log-dir", "/tmp/fg-cli-test-logs", NULL};
    char want[96];
    snprintf(want, sizeof want, "failed to listen on %s", listen_addr);
    expect_fail(args,
                "{\"mcpServers\":{},\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"k\"}}",
                want);
    close(fd);
}

static void test_stdout_is_only_the_config_document(void **state)
{
    (void)state;
    /* A server that cannot start still gets a route (spec §4.10). */
    const char *cfg = "{\"mcpServers\":{\"echoserver\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\","
                      "\"connectTimeout\":1},\"second\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\","
                      "\"connectTimeout\":1,\"tools\":[\"a\",\"b\"]}},"
                      "\"gateway\":{\"port\":13010,\"domain\":\"localhost\",\"agentId\":\"test-secret-key-12345\"}}";
    const char *modes[] = {"--routed", "--unified"};
    for (int m = 0; m < 2; m++) {
        fg_gateway_t g;
        const char *extra[] = {modes[m], NULL};
        assert_true(fg_gateway_start(&g, cfg, extra, 30000));
        json_t *e = json_object_get(json_object_get(g.doc, "mcpServers"), "echoserver");
        char url[128];
        snprintf(url, sizeof url, m == 0 ? "http://127.0.0.1:%d/mcp/echoserver" : "http://127.0.0.1:%d/mcp", g.port);
        assert_string_equal(json_string_value(json_object_get(e, "type")), "http");
        assert_string_equal(json_string_value(json_object_get(e, "url")), url);
        assert_string_equal(json_string_value(json_object_get(json_object_get(e, "headers"), "Authorization")),
                            "test-secret-key-12345");
        assert_null(json_object_get(e, "tools"));
        json_t *s2 = json_object_get(json_object_get(g.doc, "mcpServers"), "second");
        assert_int_equal(json_array_size(json_object_get(s2, "tools")), 2);
        if (m == 0) {
            /* Backends that failed to start: 200, "unhealthy", status error. */
            char hurl[160];
            snprintf(hurl, sizeof hurl, "%s/health", g.url_base);
            fg_resp_t r;
            assert_true(fg_http("GET", hurl, NULL, NULL, &r));
            assert_int_equal(r.status, 200);
            json_t *h = json_loads(r.body, 0, NULL);
            assert_string_equal(json_string_value(json_object_get(h, "status")), "unhealthy");
            json_t *es = json_object_get(json_object_get(h, "servers"), "echoserver");
            assert_string_equal(json_string_value(json_object_get(es, "status")), "error");
            assert_int_equal(json_integer_value(json_object_get(es, "uptime")), 0);
            json_decref(h);
            fg_resp_free(&r);
            /* Its route still exists; calling its (absent) tools fails. */
            char murl[160], ah[300];
            snprintf(murl, sizeof murl, "%s/mcp/echoserver", g.url_base);
            snprintf(ah, sizeof ah, "Authorization: %s", g.auth);
            const char *hd[] = {ah, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
            assert_true(fg_http("POST", murl, hd,
                                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
                                &r));
            assert_int_equal(r.status, 200);
            json_t *v = fg_sse_first(r.body);
            assert_null(json_object_get(json_object_get(json_object_get(v, "result"), "capabilities"), "tools"));
            json_decref(v);
            fg_resp_free(&r);
        }
        assert_int_equal(fg_gateway_stop(&g), 0);
        /* After the document, stdout stayed silent through shutdown. */
        assert_string_equal(g.extra_stdout, "");
    }
}

static void test_generated_agent_id_is_64_hex(void **state)
{
    (void)state;
    const char *cfg = "{\"mcpServers\":{\"x\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\",\"connectTimeout\":1}},"
                      "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"k\"}}";
    (void)cfg;
    char *d = fg_tempdir("toml");
    char path[256];
    snprintf(path, sizeof path, "%s/c.toml", d);
    write_file(path, "[servers.x]\ntype = \"http\"\nurl = \"http://127.0.0.1:9/mcp\"\nconnect_timeout = 1\n");
    const char *extra[] = {"--config", path, NULL};
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, NULL, extra, 30000));
    assert_int_equal(strlen(g.auth), 64);
    assert_int_equal(strspn(g.auth, "0123456789abcdef"), 64);
    assert_int_equal(fg_gateway_stop(&g), 0);
    free(d);
}

static void test_env_file_feeds_config_expansion(void **state)
{
    (void)state;
    char *d = fg_tempdir("envfile");
    char path[256];
    snprintf(path, sizeof path, "%s/.env", d);
    write_file(path, "# comment\n\n  FG_ENV_FILE_AGENT = agent-$FG_ENV_FILE_SUFFIX \nFG_ENV_FILE_SUFFIX2=x\n");
    setenv("FG_ENV_FILE_SUFFIX", "from-env", 1);
    unsetenv("FG_ENV_FILE_AGENT");
    const char *cfg = "{\"mcpServers\":{\"x\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\",\"connectTimeout\":1}},"
                      "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"${FG_ENV_FILE_AGENT}\"}}";
    const char *extra[] = {"--env", path, NULL};
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, extra, 30000));
    assert_string_equal(g.auth, "agent-from-env");
    assert_int_equal(fg_gateway_stop(&g), 0);
    const char *bad[] = {"--config-stdin", "--env", "/nonexistent/.env", NULL};
    expect_fail(bad, cfg, "failed to load .env file");
    free(d);
}

static void test_hmac_signing_guards_mcp_routes(void **state)
{
    (void)state;
    const char *cfg = "{\"mcpServers\":{\"x\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\",\"connectTimeout\":1}},"
                      "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"hmac-agent\"}}";
    const char *extra[] = {"--hmac-secret", "s3cret", NULL};
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, extra, 30000));
    char url[160];
    snprintf(url, sizeof url, "%s/mcp/x", g.url_base);
    const char *body = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\","
                       "\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";
    const char *plain[] = {"Authorization: hmac-agent", "Content-Type: application/json",
                           "Accept: application/json, text/event-stream", NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", url, plain, body, &r));
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "missing HMAC signature headers"));
    fg_resp_free(&r);
    char ts[32], bh[65], msg[256], sig[65], hts[64], hsig[100];
    snprintf(ts, sizeof ts, "%ld", (long)time(NULL));
    gw_sha256_hex(body, strlen(body), bh);
    snprintf(msg, sizeof msg, "%s\nnonce-1\n/mcp/x\n%s", ts, bh);
    gw_hmac_sha256_hex("s3cret", 6, msg, strlen(msg), sig);
    snprintf(hts, sizeof hts, "X-MCP-Timestamp: %s", ts);
    snprintf(hsig, sizeof hsig, "X-MCP-Signature: %s", sig);
    const char *signed_h[] = {"Authorization: hmac-agent", "Content-Type: application/json",
                              "Accept: application/json, text/event-stream", hts, "X-MCP-Nonce: nonce-1", hsig, NULL};
    assert_true(fg_http("POST", url, signed_h, body, &r));
    assert_int_equal(r.status, 200);
    fg_resp_free(&r);
    assert_true(fg_http("POST", url, signed_h, body, &r));
    assert_int_equal(r.status, 401);
    assert_non_null(strstr(r.body, "replay detected"));
    fg_resp_free(&r);
    /* Auth runs first; /health is not signed. */
    const char *noauth[] = {"Content-Type: application/json", "Accept: application/json, text/event-stream", NULL};
    assert_true(fg_http("POST", url, noauth, body, &r));
    assert_non_null(strstr(r.body, "missing Authorization header"));
    fg_resp_free(&r);
    snprintf(url, sizeof url, "%s/health", g.url_base);
    assert_true(fg_http("GET", url, NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    fg_resp_free(&r);
    assert_int_equal(fg_gateway_stop(&g), 0);
}

static void test_tls_serves_https_and_rejects_bad_files(void **state)
{
    (void)state;
    char *d = fg_tempdir("tls");
    char cmd[1024], cert[300], key[300];
    snprintf(cert, sizeof cert, "%s/cert.pem", d);
    snprintf(key, sizeof key, "%s/key.pem", d);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout '%s' -out '%s' -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    const char *cfg = "{\"mcpServers\":{\"x\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\",\"connectTimeout\":1}},"
                      "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"tls-agent\"}}";
    const char *extra[] = {"--tls-cert", cert, "--tls-key", key, NULL};
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, extra, 30000));
    const char *url = json_string_value(json_object_get(json_object_get(json_object_get(g.doc, "mcpServers"), "x"), "url"));
    assert_int_equal(strncmp(url, "https://127.0.0.1:", 18), 0);
    char h[200];
    snprintf(h, sizeof h, "%s/health", g.url_base);
    fg_http_cainfo = cert;
    fg_resp_t r;
    assert_true(fg_http("GET", h, NULL, NULL, &r));
    fg_http_cainfo = NULL;
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "specVersion"));
    fg_resp_free(&r);
    assert_int_equal(fg_gateway_stop(&g), 0);
    /* A key that is not PEM, and mTLS (not provided), fail at startup. */
    const char *bad[] = {"--config-stdin", "--listen", "127.0.0.1:0", "--log-dir", d, "--tls-cert", cert, "--tls-key", "/etc/hostname", NULL};
    expect_fail(bad, cfg, "failed to configure TLS");
    const char *mtls[] = {"--config-stdin", "--listen", "127.0.0.1:0", "--log-dir", d, "--tls-cert", cert, "--tls-key", key, "--tls-ca", cert, NULL};
    expect_fail(mtls, cfg, "failed to configure TLS");
    free(d);
}

static void test_validate_env_names_what_is_missing(void **state)
{
    (void)state;
    unsetenv("MCP_GATEWAY_PORT");
    unsetenv("MCP_GATEWAY_DOMAIN");
    unsetenv("MCP_GATEWAY_AGENT_ID");
    unsetenv("MCP_GATEWAY_API_KEY");
    setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock", 1);
    const char *args[] = {"--config-stdin", "--validate-env", "--log-dir", "/tmp/fg-cli-test-logs", NULL};
    expect_fail(args, "{}", "environment validation failed: Environment validation failed:");
    expect_fail(args, "{}", "Required environment variables not set: MCP_GATEWAY_PORT, MCP_GATEWAY_DOMAIN, MCP_GATEWAY_AGENT_ID");
    expect_fail(args, "{}", "Docker daemon is not accessible");
    unsetenv("DOCKER_HOST");
}

static void test_sigint_is_a_clean_shutdown(void **state)
{
    (void)state;
    const char *cfg = "{\"mcpServers\":{\"x\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:9/mcp\",\"connectTimeout\":1}},"
                      "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"int-agent\"}}";
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, NULL, 30000));
    kill(g.proc.pid, SIGINT);
    assert_int_equal(fg_proc_wait(&g.proc, 15000), 0);
    close(g.proc.out_fd);
    json_decref(g.doc);
}

/* spec §3.2: a command server inside a container gets a security warning;
 * a containerised one does not. */
static void test_uncontained_command_server_warns_inside_a_container(void **state)
{
    (void)state;
    setenv("RUNNING_IN_CONTAINER", "true", 1);
    const char *cfg = "{\"mcpServers\":{"
                      "\"bare\":{\"type\":\"stdio\",\"command\":\"true\"},"
                      "\"boxed\":{\"type\":\"stdio\",\"container\":\"example/boxed:1\"}},"
                      "\"gateway\":{\"port\":1,\"domain\":\"localhost\",\"agentId\":\"c-agent\",\"startupTimeout\":5}}";
    fg_gateway_t g;
    assert_true(fg_gateway_start(&g, cfg, NULL, 30000));
    assert_int_equal(fg_gateway_stop(&g), 0);
    unsetenv("RUNNING_IN_CONTAINER");
    char path[512];
    snprintf(path, sizeof path, "%s/mcp-gateway.log", g.log_dir);
    char *log = fg_read_file(path);
    assert_non_null(log);
    if (!strstr(log, "[WARN] [startup] Security warning: server 'bare' runs 'true' directly inside"))
        fail_msg("no warning for the command server in:\n%s", log);
    assert_null(strstr(log, "server 'boxed' runs"));
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_config_flag_exits_1_with_group_error),
        cmocka_unit_test(test_version_prints_mcpg_gateway_line),
        cmocka_unit_test(test_unknown_flag_exits_1_pointing_at_help),
        cmocka_unit_test(test_malformed_json_config),
        cmocka_unit_test(test_undefined_variable_is_named),
        cmocka_unit_test(test_missing_gateway_section_fails_validation),
        cmocka_unit_test(test_http_server_without_url_fails_validation),
        cmocka_unit_test(test_toml_unknown_key_and_empty_servers),
        cmocka_unit_test(test_listen_failure_is_reported),
        cmocka_unit_test(test_stdout_is_only_the_config_document),
        cmocka_unit_test(test_generated_agent_id_is_64_hex),
        cmocka_unit_test(test_env_file_feeds_config_expansion),
        cmocka_unit_test(test_hmac_signing_guards_mcp_routes),
        cmocka_unit_test(test_tls_serves_https_and_rejects_bad_files),
        cmocka_unit_test(test_validate_env_names_what_is_missing),
        cmocka_unit_test(test_sigint_is_a_clean_shutdown),
        cmocka_unit_test(test_uncontained_command_server_warns_inside_a_container),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
