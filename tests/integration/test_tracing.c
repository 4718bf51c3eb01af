/*
 * test_tracing.c — OTLP export (spec: gateway §5.6): spans as OTLP/HTTP
 * JSON received by a small collector on 127.0.0.1 (libmicrohttpd, in this
 * process), fan-out to GH_AW_OTLP_ENDPOINTS, the configured parent
 * trace/span, a collector that is down, sampling, and finally the real
 * gateway tracing a tools/call to server-everything.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway/tracing.h"
#include "harness.h"

#define TRACE_ID "0af7651916cd43dd8448eb211c80319c"
#define SPAN_ID "b7ad6b7169203331"

/* ---- the collector */

typedef struct collector {
    struct MHD_Daemon *d;
    int port;
    pthread_mutex_t mu;
    json_t *requests; /* [{path, header, content_type, body}] */
} collector_t;

typedef struct upload {
    char *buf;
    size_t len;
} upload_t;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)version;
    collector_t *c = cls;
    upload_t *u = *con_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        *con_cls = u;
        return u ? MHD_YES : MHD_NO;
    }
    if (*size) {
        char *nb = realloc(u->buf, u->len + *size + 1);
        if (!nb)
            return MHD_NO;
        u->buf = nb;
        memcpy(u->buf + u->len, data, *size);
        u->len += *size;
        u->buf[u->len] = '\0';
        *size = 0;
        return MHD_YES;
    }
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    json_t *body = u->buf ? json_loads(u->buf, 0, NULL) : NULL;
    pthread_mutex_lock(&c->mu);
    json_array_append_new(c->requests, json_pack("{s:s,s:s,s:s,s:s,s:o?}", "method", method, "path", url, "header",
                                                 h ? h : "", "content_type", ct ? ct : "", "body", body));
    pthread_mutex_unlock(&c->mu);
    static const char ok[] = "{}";
    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)ok, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, 200, r);
    MHD_destroy_response(r);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    upload_t *u = *con_cls;
    if (u) {
        free(u->buf);
        free(u);
        *con_cls = NULL;
    }
}

static void collector_start(collector_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    c->requests = json_array();
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    c->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, c, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, c, MHD_OPTION_END);
    assert_non_null(c->d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(c->d, MHD_DAEMON_INFO_BIND_PORT);
    assert_non_null(info);
    c->port = info->port;
    assert_true(c->port > 0);
}

static void collector_stop(collector_t *c)
{
    MHD_stop_daemon(c->d);
    json_decref(c->requests);
    pthread_mutex_destroy(&c->mu);
}

/* Every span received so far (new array of new references). */
static json_t *collector_spans(collector_t *c)
{
    json_t *all = json_array();
    pthread_mutex_lock(&c->mu);
    size_t i, j, k;
    json_t *req, *rs, *ss;
    json_array_foreach(c->requests, i, req) {
        json_array_foreach(json_object_get(json_object_get(req, "body"), "resourceSpans"), j, rs) {
            json_array_foreach(json_object_get(rs, "scopeSpans"), k, ss) {
                json_array_extend(all, json_object_get(ss, "spans"));
            }
        }
    }
    pthread_mutex_unlock(&c->mu);
    return all;
}

/* Waits until at least n spans arrived; returns them. */
static json_t *collector_wait(collector_t *c, size_t n, int timeout_ms)
{
    for (int waited = 0;; waited += 50) {
        json_t *spans = collector_spans(c);
        if (json_array_size(spans) >= n || waited >= timeout_ms)
            return spans;
        json_decref(spans);
        usleep(50000);
    }
}

static json_t *request0(collector_t *c)
{
    pthread_mutex_lock(&c->mu);
    json_t *r = json_incref(json_array_get(c->requests, 0));
    pthread_mutex_unlock(&c->mu);
    assert_non_null(r);
    return r;
}

static json_t *find_span(json_t *spans, const char *name)
{
    size_t i;
    json_t *s;
    json_array_foreach(spans, i, s) {
        if (!strcmp(json_string_value(json_object_get(s, "name")), name))
            return s;
    }
    fail_msg("no span named %s", name);
    return NULL;
}

/* The value object of attribute key, or NULL. */
static json_t *attr_of(json_t *attrs, const char *key)
{
    size_t i;
    json_t *a;
    json_array_foreach(attrs, i, a) {
        if (!strcmp(json_string_value(json_object_get(a, "key")), key))
            return json_object_get(a, "value");
    }
    return NULL;
}

static const char *str_attr(json_t *span, const char *key)
{
    return json_string_value(json_object_get(attr_of(json_object_get(span, "attributes"), key), "stringValue"));
}

/* ---- options */

static const char *fanout_value;
static const char *fake_env(const char *name, void *ud)
{
    (void)ud;
    if (!strcmp(name, "GH_AW_OTLP_ENDPOINTS"))
        return fanout_value;
    return NULL;
}

static gw_tracer_options_t base_opts(void)
{
    return (gw_tracer_options_t){.sample_rate = 1.0, .batch_interval_ms = 100, .getenv = fake_env};
}

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- tests */

static void test_tool_call_spans_are_exported_as_otlp_json_with_parent_and_resource(void **state)
{
    (void)state;
    collector_t c;
    collector_start(&c);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", c.port);
    gw_strpair_t hp = {"X-Test", "from-config"};
    gw_strmap_t headers = {&hp, 1};
    gw_tracer_options_t o = base_opts();
    o.endpoint = url;
    o.headers = &headers;
    o.service_name = "svc-test";
    o.trace_id = TRACE_ID;
    o.span_id = SPAN_ID;
    fanout_value = NULL;
    gw_tracer_t *t = NULL;
    err_t err = {{0}};
    assert_true(gw_tracer_new(&o, &t, &err));
    assert_non_null(t);
    gw_span_t *call = gw_trace_tool_call_begin(t, "srv", "echo");
    gw_span_t *be = gw_trace_backend_begin(call, "srv");
    gw_trace_backend_end(be, true);
    gw_trace_tool_call_end(call, 200, false, NULL);
    json_t *spans = collector_wait(&c, 2, 10000);
    assert_int_equal(json_array_size(spans), 2);

    json_t *req = request0(&c);
    assert_string_equal(json_string_value(json_object_get(req, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(req, "path")), "/v1/traces");
    assert_string_equal(json_string_value(json_object_get(req, "header")), "from-config");
    assert_string_equal(json_string_value(json_object_get(req, "content_type")), "application/json");
    json_t *res = json_object_get(json_array_get(json_object_get(json_object_get(req, "body"), "resourceSpans"), 0),
                                  "resource");
    assert_string_equal(json_string_value(json_object_get(attr_of(json_object_get(res, "attributes"), "service.name"),
                                                          "stringValue")),
                        "svc-test");

    json_t *tc = find_span(spans, "mcp.tool_call"), *bx = find_span(spans, "gateway.backend.execute");
    assert_string_equal(json_string_value(json_object_get(tc, "traceId")), TRACE_ID);
    assert_string_equal(json_string_value(json_object_get(tc, "parentSpanId")), SPAN_ID);
    assert_int_equal(strlen(json_string_value(json_object_get(tc, "spanId"))), 16);
    assert_string_equal(json_string_value(json_object_get(bx, "traceId")), TRACE_ID);
    assert_string_equal(json_string_value(json_object_get(bx, "parentSpanId")),
                        json_string_value(json_object_get(tc, "spanId")));
    assert_int_equal(json_integer_value(json_object_get(bx, "kind")), GW_SPAN_CLIENT);
    assert_string_equal(str_attr(tc, "gen_ai.system"), "mcp");
    assert_string_equal(str_attr(tc, "gen_ai.operation.name"), "execute_tool");
    assert_string_equal(str_attr(tc, "gen_ai.agent.id"), "srv");
    assert_string_equal(str_attr(tc, "gen_ai.tool.name"), "echo");
    assert_string_equal(str_attr(tc, "mcp.method"), "tools/call");
    assert_string_equal(json_string_value(json_object_get(
                            attr_of(json_object_get(tc, "attributes"), "mcp.response.status"), "intValue")),
                        "200");
    assert_true(json_is_false(
        json_object_get(attr_of(json_object_get(tc, "attributes"), "rate_limit.hit"), "boolValue")));
    unsigned long long st = strtoull(json_string_value(json_object_get(tc, "startTimeUnixNano")), NULL, 10);
    unsigned long long en = strtoull(json_string_value(json_object_get(tc, "endTimeUnixNano")), NULL, 10);
    assert_true(st > 1600000000ull * 1000000000ull && st <= en);
    json_decref(req);
    json_decref(spans);
    gw_tracer_free(t);
    collector_stop(&c);
}

static void test_GH_AW_OTLP_ENDPOINTS_fans_out_and_wins_over_the_endpoint(void **state)
{
    (void)state;
    collector_t a, b;
    collector_start(&a);
    collector_start(&b);
    char fan[512];
    snprintf(fan, sizeof fan,
             "[{\"url\":\"http://127.0.0.1:%d\",\"headers\":{\"X-Test\":\"a\"}},"
             "{\"url\":\"http://127.0.0.1:%d/v1/traces\",\"headers\":{\"X-Test\":\"b\"}}]",
             a.port, b.port);
    fanout_value = fan;
    gw_tracer_options_t o = base_opts();
    o.endpoint = "http://127.0.0.1:1/never-used";
    gw_tracer_t *t = NULL;
    err_t err = {{0}};
    assert_true(gw_tracer_new(&o, &t, &err));
    assert_int_equal(gw_tracer_endpoint_count(t), 2);
    gw_span_t *s = gw_span_start(t, "one", GW_SPAN_INTERNAL, NULL);
    gw_span_set_error(s, "went wrong");
    gw_span_end(s);
    json_t *sa = collector_wait(&a, 1, 10000), *sb = collector_wait(&b, 1, 10000);
    assert_int_equal(json_array_size(sa), 1);
    assert_int_equal(json_array_size(sb), 1);
    json_t *ra = request0(&a), *rb = request0(&b);
    assert_string_equal(json_string_value(json_object_get(ra, "header")), "a");
    assert_string_equal(json_string_value(json_object_get(rb, "header")), "b");
    assert_string_equal(json_string_value(json_object_get(rb, "path")), "/v1/traces");
    json_t *st = json_object_get(json_array_get(sa, 0), "status");
    assert_int_equal(json_integer_value(json_object_get(st, "code")), 2);
    assert_string_equal(json_string_value(json_object_get(st, "message")), "went wrong");
    /* Without a configured parent each root span starts its own trace. */
    assert_int_equal(strlen(json_string_value(json_object_get(json_array_get(sa, 0), "traceId"))), 32);
    assert_null(json_object_get(json_array_get(sa, 0), "parentSpanId"));
    json_decref(ra);
    json_decref(rb);
    json_decref(sa);
    json_decref(sb);
    gw_tracer_free(t);

    /* The comma-list form. */
    fanout_value = " http://h1:4318 , https://h2/v1/traces,";
    assert_true(gw_tracer_new(&o, &t, &err));
    assert_int_equal(gw_tracer_endpoint_count(t), 2);
    assert_string_equal(gw_tracer_endpoint(t, 0), "http://h1:4318/v1/traces");
    assert_string_equal(gw_tracer_endpoint(t, 1), "https://h2/v1/traces");
    gw_tracer_free(t);
    fanout_value = "[{\"nourl\":1}]";
    t = (gw_tracer_t *)1;
    assert_false(gw_tracer_new(&o, &t, &err));
    assert_null(t);
    fanout_value = NULL;
    collector_stop(&a);
    collector_stop(&b);
}

static void test_a_down_collector_never_blocks_and_spans_are_dropped(void **state)
{
    (void)state;
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", fg_free_port()); /* nothing listens */
    gw_tracer_options_t o = base_opts();
    o.endpoint = url;
    gw_tracer_t *t = NULL;
    err_t err = {{0}};
    assert_true(gw_tracer_new(&o, &t, &err));
    int64_t t0 = ms_now();
    for (int i = 0; i < 100; i++) {
        gw_span_t *s = gw_trace_tool_call_begin(t, "srv", "x");
        gw_trace_tool_call_end(s, 500, false, "e");
    }
    assert_true(ms_now() - t0 < 1000); /* only queue appends */
    for (int i = 0; i < 200 && gw_tracer_dropped(t) < 100; i++)
        usleep(50000);
    assert_int_equal(gw_tracer_dropped(t), 100);
    t0 = ms_now();
    gw_tracer_free(t);
    assert_true(ms_now() - t0 < 6000);
}

static void test_no_endpoint_is_the_noop_tracer_and_rate_zero_samples_nothing(void **state)
{
    (void)state;
    gw_tracer_options_t o = base_opts();
    gw_tracer_t *t = (gw_tracer_t *)1;
    err_t err = {{0}};
    fanout_value = NULL;
    assert_true(gw_tracer_new(&o, &t, &err));
    assert_null(t);
    gw_span_t *s = gw_trace_tool_call_begin(NULL, "srv", "x");
    assert_null(s);
    gw_trace_tool_call_end(s, 200, false, NULL);

    collector_t c;
    collector_start(&c);
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", c.port);
    o.endpoint = url;
    o.sample_rate = 0.0;
    assert_true(gw_tracer_new(&o, &t, &err));
    for (int i = 0; i < 10; i++) {
        s = gw_trace_tool_call_begin(t, "srv", "x");
        gw_trace_backend_end(gw_trace_backend_begin(s, "srv"), true);
        gw_trace_tool_call_end(s, 200, false, NULL);
    }
    /* A span that is sampled arrives, so the collector path works. */
    gw_tracer_free(t);
    o.sample_rate = 1.0;
    assert_true(gw_tracer_new(&o, &t, &err));
    gw_span_end(gw_span_start(t, "kept", GW_SPAN_INTERNAL, NULL));
    gw_tracer_free(t); /* the shutdown flush sends it */
    json_t *spans = collector_spans(&c);
    assert_int_equal(json_array_size(spans), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(spans, 0), "name")), "kept");
    json_decref(spans);
    collector_stop(&c);
}

/* The gateway traces a real tools/call (GH_AW_OTLP_ENDPOINTS may use plain
 * http; the config's endpoint must be https by the schema). */
static void test_gateway_traces_a_tool_call(void **state)
{
    (void)state;
    collector_t c;
    collector_start(&c);
    char fan[128];
    snprintf(fan, sizeof fan, "http://127.0.0.1:%d", c.port);
    setenv("GH_AW_OTLP_ENDPOINTS", fan, 1);
    char cfg[2048];
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{\"everything\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"stdio\"]}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"trace-key\","
             "\"opentelemetry\":{\"endpoint\":\"https://otel.invalid\",\"traceId\":\"" TRACE_ID
             "\",\"spanId\":\"" SPAN_ID "\"}}}",
             fg_node_bin(), fg_everything_js());
    fg_gateway_t gw;
    bool started = fg_gateway_start(&gw, cfg, NULL, 60000);
    unsetenv("GH_AW_OTLP_ENDPOINTS");
    assert_true(started);
    char url[160], auth[300];
    snprintf(url, sizeof url, "%s/mcp/everything", gw.url_base);
    snprintf(auth, sizeof auth, "Authorization: %s", gw.auth);
    const char *h[] = {auth, "Content-Type: application/json", "Accept: application/json, text/event-stream", NULL,
                       NULL};
    fg_resp_t r;
    assert_true(fg_http("POST", url, h,
                        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                        "\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}",
                        &r));
    assert_int_equal(r.status, 200);
    char *sid = fg_resp_header(&r, "Mcp-Session-Id");
    assert_non_null(sid);
    fg_resp_free(&r);
    char sh[128];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
    h[3] = sh;
    assert_true(fg_http("POST", url, h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r));
    fg_resp_free(&r);
    assert_true(fg_http("POST", url, h,
                        "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                        "\"arguments\":{\"message\":\"traced\"}}}",
                        &r));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "traced"));
    fg_resp_free(&r);
    free(sid);
    json_t *spans = collector_wait(&c, 2, 15000);
    if (json_array_size(spans) < 2)
        fail_msg("collector got %zu span(s)", json_array_size(spans));
    json_t *tc = find_span(spans, "mcp.tool_call"), *bx = find_span(spans, "gateway.backend.execute");
    assert_string_equal(json_string_value(json_object_get(tc, "traceId")), TRACE_ID);
    assert_string_equal(json_string_value(json_object_get(tc, "parentSpanId")), SPAN_ID);
    assert_string_equal(str_attr(tc, "gen_ai.tool.name"), "echo");
    assert_string_equal(str_attr(tc, "gen_ai.agent.id"), "everything");
    assert_string_equal(json_string_value(json_object_get(
                            attr_of(json_object_get(tc, "attributes"), "mcp.response.status"), "intValue")),
                        "200");
    assert_string_equal(json_string_value(json_object_get(bx, "parentSpanId")),
                        json_string_value(json_object_get(tc, "spanId")));
    json_decref(spans);
    fg_gateway_stop(&gw);
    collector_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tool_call_spans_are_exported_as_otlp_json_with_parent_and_resource),
        cmocka_unit_test(test_GH_AW_OTLP_ENDPOINTS_fans_out_and_wins_over_the_endpoint),
        cmocka_unit_test(test_a_down_collector_never_blocks_and_spans_are_dropped),
        cmocka_unit_test(test_no_endpoint_is_the_noop_tracer_and_rate_zero_samples_nothing),
        cmocka_unit_test(test_gateway_traces_a_tool_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
