/*
 * tracing.c — spans, the export queue and the OTLP/HTTP JSON exporter (see
 * tracing.h; spec: gateway §5.6).
 *
 * A span is built directly in its OTLP JSON form (jansson), so ending it is
 * a queue append and the exporter only wraps a batch in the resource/scope
 * envelope. IDs are lowercase hex, as the OTLP JSON mapping requires.
 */
#include "gateway/tracing.h"

#include "gateway/gateway_internal.h"
#include "gateway/log.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 2048          /* finished spans waiting for export */
#define BATCH_MAX 512           /* spans per export request */
#define EXPORT_TIMEOUT_MS 10000 /* spec: export timeout 10 s */
#define FLUSH_TIMEOUT_MS 5000   /* spec: shutdown flushes for 5 s */

typedef struct endpoint {
    char *url;
    struct curl_slist *headers; /* Content-Type + configured headers */
} endpoint_t;

struct gw_tracer {
    endpoint_t *eps;
    size_t neps;
    json_t *resource;          /* {"attributes":[...]} */
    char parent_trace[33];     /* "" when none configured */
    char parent_span[17];
    uint64_t sample_bound;     /* TraceIDRatioBased: sample when x < bound */
    bool sample_all, sample_none;
    int interval_ms;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    json_t *queue;             /* array of finished span objects */
    size_t dropped;
    bool stop;
    pthread_t thread;
};

struct gw_span {
    gw_tracer_t *t;
    bool sampled;
    char trace_id[33];
    char span_id[17];
    json_t *obj;               /* the OTLP span being built */
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static json_t *ns_value(uint64_t ns)
{
    char b[32];
    snprintf(b, sizeof b, "%llu", (unsigned long long)ns);
    return json_string(b); /* int64 fields are strings in OTLP JSON */
}

static json_t *attr(const char *key, json_t *value)
{
    return json_pack("{s:s,s:o}", "key", key, "value", value);
}

static json_t *str_value(const char *v)
{
    return json_pack("{s:s}", "stringValue", v ? v : "");
}

/* ---- configuration */

static const char *env_of(const gw_tracer_options_t *o, const char *name)
{
    return o->getenv ? o->getenv(name, o->getenv_ud) : getenv(name);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decoding in place (OTEL_EXPORTER_OTLP_HEADERS values). */
static void url_unescape(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%' && hexval(r[1]) >= 0 && hexval(r[2]) >= 0) {
            *w++ = (char)(hexval(r[1]) * 16 + hexval(r[2]));
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static bool add_header(struct curl_slist **l, const char *k, const char *v)
{
    size_t n = strlen(k) + strlen(v) + 3;
    char *line = malloc(n);
    if (!line)
        return false;
    snprintf(line, n, "%s: %s", k, v);
    struct curl_slist *nl = curl_slist_append(*l, line);
    free(line);
    if (!nl)
        return false;
    *l = nl;
    return true;
}

/* Content-Type plus the common headers: configured, else the env list. */
static bool common_headers(const gw_tracer_options_t *o, struct curl_slist **l)
{
    if (!add_header(l, "Content-Type", "application/json"))
        return false;
    if (o->headers && o->headers->count > 0) {
        for (size_t i = 0; i < o->headers->count; i++)
            if (!add_header(l, o->headers->items[i].key, o->headers->items[i].value))
                return false;
        return true;
    }
    const char *env = env_of(o, "OTEL_EXPORTER_OTLP_HEADERS");
    if (!env || !*env)
        return true;
    char *copy = strdup(env);
    if (!copy)
        return false;
    bool ok = true;
    char *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); ok && p; p = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = '\0';
        char *k = trim(p), *v = trim(eq + 1);
        url_unescape(v);
        if (*k)
            ok = add_header(l, k, v);
    }
    free(copy);
    return ok;
}

/* url + signal path unless it already ends with it. */
static char *export_url(const char *url, const char *signal)
{
    size_t n = strlen(url), sn = strlen(signal);
    if (n >= sn && !strcmp(url + n - sn, signal))
        return strdup(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    char *u = malloc(n + sn + 1);
    if (!u)
        return NULL;
    memcpy(u, url, n);
    memcpy(u + n, signal, sn + 1);
    return u;
}

static bool push_endpoint(gw_tracer_t *t, const char *url, const char *signal, struct curl_slist *headers)
{
    endpoint_t *e = realloc(t->eps, (t->neps + 1) * sizeof *e);
    if (!e)
        return false;
    t->eps = e;
    e[t->neps].url = export_url(url, signal);
    e[t->neps].headers = headers;
    if (!e[t->neps].url)
        return false;
    t->neps++;
    return true;
}

/* curl_slist has no copy; rebuild the common list for each endpoint. */
static bool load_endpoints(gw_tracer_t *t, const gw_tracer_options_t *o, err_t *err)
{
    const char *signal = o->signal_path && *o->signal_path ? o->signal_path : "/v1/traces";
    const char *fan = env_of(o, "GH_AW_OTLP_ENDPOINTS");
    if (fan && *fan) {
        const char *p = fan;
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (*p == '[') {
            json_error_t je;
            json_t *arr = json_loads(p, 0, &je);
            if (!json_is_array(arr)) {
                json_decref(arr);
                return err_set(err, "GH_AW_OTLP_ENDPOINTS: invalid JSON: %s", je.text);
            }
            size_t i;
            json_t *e;
            json_array_foreach(arr, i, e) {
                const char *url = json_string_value(json_object_get(e, "url"));
                if (!url || !*url) {
                    json_decref(arr);
                    return err_set(err, "GH_AW_OTLP_ENDPOINTS[%zu]: missing url", i);
                }
                struct curl_slist *h = NULL;
                bool ok = add_header(&h, "Content-Type", "application/json");
                const char *k;
                json_t *v;
                json_object_foreach(json_object_get(e, "headers"), k, v) {
                    if (ok && json_is_string(v))
                        ok = add_header(&h, k, json_string_value(v));
                }
                if (!ok || !push_endpoint(t, url, signal, h)) {
                    curl_slist_free_all(h);
                    json_decref(arr);
                    return err_set(err, "out of memory");
                }
            }
            json_decref(arr);
            return true;
        }
        char *copy = strdup(fan);
        if (!copy)
            return err_set(err, "out of memory");
        char *save = NULL;
        for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
            u = trim(u);
            if (!*u)
                continue;
            struct curl_slist *h = NULL;
            if (!common_headers(o, &h) || !push_endpoint(t, u, signal, h)) {
                curl_slist_free_all(h);
                free(copy);
                return err_set(err, "out of memory");
            }
        }
        free(copy);
        return true;
    }
    if (o->endpoint && *o->endpoint) {
        struct curl_slist *h = NULL;
        if (!common_headers(o, &h) || !push_endpoint(t, o->endpoint, signal, h)) {
            curl_slist_free_all(h);
            return err_set(err, "out of memory");
        }
    }
    return true;
}

static json_t *resource_of(const gw_tracer_options_t *o)
{
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    json_t *attrs = json_array();
    json_array_append_new(attrs, attr("service.name", str_value(o->service_name && *o->service_name
                                                                    ? o->service_name
                                                                    : "mcp-gateway")));
    json_array_append_new(attrs, attr("service.version", str_value(o->service_version ? o->service_version : "dev")));
    json_array_append_new(attrs, attr("host.name", str_value(host)));
    char pid[32];
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    json_array_append_new(attrs, attr("process.pid", json_pack("{s:s}", "intValue", pid)));
    return json_pack("{s:o}", "attributes", attrs);
}

/* ---- export */

static size_t discard_body(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* POSTs body to one endpoint; false with a reason on failure. */
static bool post(const endpoint_t *e, const char *body, long timeout_ms, char *why, size_t whylen)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(why, whylen, "curl_easy_init failed");
        return false;
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, e->url);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
        return false;
    }
    if (status < 200 || status > 299) {
        snprintf(why, whylen, "HTTP %ld", status);
        return false;
    }
    return true;
}

static void export_batch(gw_tracer_t *t, json_t *spans, long timeout_ms)
{
    json_t *doc = json_pack("{s:[{s:O,s:[{s:{s:s,s:s},s:O}]}]}", "resourceSpans", "resource", t->resource,
                            "scopeSpans", "scope", "name", "flowgate", "version", gw_version_string(), "spans", spans);
    char *body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    size_t n = json_array_size(spans);
    if (!body) {
        pthread_mutex_lock(&t->mu);
        t->dropped += n;
        pthread_mutex_unlock(&t->mu);
        return;
    }
    for (size_t i = 0; i < t->neps; i++) {
        char why[CURL_ERROR_SIZE + 32];
        if (!post(&t->eps[i], body, timeout_ms, why, sizeof why)) {
            gw_log(GW_LOG_WARN, "tracing", "OTLP export to %s failed (%s): dropped %zu span(s)", t->eps[i].url, why, n);
            pthread_mutex_lock(&t->mu);
            t->dropped += n;
            pthread_mutex_unlock(&t->mu);
        }
    }
    free(body);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *exporter(void *ud)
{
    gw_tracer_t *t = ud;
    int64_t flush_until = 0;
    pthread_mutex_lock(&t->mu);
    for (;;) {
        if (!t->stop && json_array_size(t->queue) < BATCH_MAX) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += t->interval_ms / 1000;
            ts.tv_nsec += (long)(t->interval_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&t->cond, &t->mu, &ts);
        }
        if (t->stop && !flush_until)
            flush_until = mono_ms() + FLUSH_TIMEOUT_MS;
        size_t n = json_array_size(t->queue);
        if (n == 0) {
            if (t->stop)
                break;
            continue;
        }
        long timeout = EXPORT_TIMEOUT_MS;
        if (flush_until) {
            timeout = (long)(flush_until - mono_ms());
            if (timeout <= 0) {
                t->dropped += n;
                gw_log(GW_LOG_WARN, "tracing", "shutdown flush timed out: dropped %zu span(s)", n);
                json_array_clear(t->queue);
                break;
            }
        }
        json_t *batch = json_array();
        size_t take = n < BATCH_MAX ? n : BATCH_MAX;
        for (size_t i = 0; batch && i < take; i++)
            json_array_append(batch, json_array_get(t->queue, i));
        for (size_t i = 0; i < take; i++)
            json_array_remove(t->queue, 0);
        pthread_mutex_unlock(&t->mu);
        if (batch)
            export_batch(t, batch, timeout);
        json_decref(batch);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* ---- the gateway's tracer */

void gw_tracing_start(gw_server_t *s)
{
    const gw_otel_config_t *c = &s->cfg->gateway.otel;
    const gw_options_t *o = s->opt;
    gw_tracer_options_t to = {
        .endpoint = c->endpoint && *c->endpoint ? c->endpoint : o ? o->otlp_endpoint : NULL,
        .headers = &c->headers,
        .signal_path = c->signal_path,
        .service_name = c->service_name && *c->service_name ? c->service_name : o ? o->otlp_service_name : NULL,
        .service_version = gw_version_string(),
        .trace_id = c->trace_id,
        .span_id = c->span_id,
        .sample_rate = c->has_sample_rate ? c->sample_rate : o ? o->otlp_sample_rate : 1.0,
    };
    err_t err = {{0}};
    if (!gw_tracer_new(&to, &s->tracer, &err)) {
        gw_log(GW_LOG_WARN, "tracing", "OpenTelemetry tracing disabled: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < gw_tracer_endpoint_count(s->tracer); i++)
        gw_log(GW_LOG_INFO, "tracing", "OpenTelemetry tracing enabled, exporting to %s",
               gw_tracer_endpoint(s->tracer, i));
}

gw_span_t *gw_trace_tool_call_begin(gw_tracer_t *t, const char *server_id, const char *tool)
{
    gw_span_t *s = gw_span_start(t, "mcp.tool_call", GW_SPAN_INTERNAL, NULL);
    gw_span_set_str(s, "gen_ai.system", "mcp");
    gw_span_set_str(s, "gen_ai.operation.name", "execute_tool");
    gw_span_set_str(s, "gen_ai.agent.name", "mcp-gateway");
    gw_span_set_str(s, "gen_ai.agent.id", server_id);
    gw_span_set_str(s, "mcp.method", "tools/call");
    gw_span_set_str(s, "gen_ai.tool.name", tool);
    return s;
}

void gw_trace_tool_call_end(gw_span_t *s, int status, bool rate_limited, const char *error)
{
    gw_span_set_int(s, "mcp.response.status", status);
    gw_span_set_bool(s, "rate_limit.hit", rate_limited);
    if (error)
        gw_span_set_error(s, error);
    gw_span_end(s);
}

gw_span_t *gw_trace_backend_begin(gw_span_t *tool_call, const char *server_id)
{
    if (!tool_call)
        return NULL;
    gw_span_t *s = gw_span_start(tool_call->t, "gateway.backend.execute", GW_SPAN_CLIENT, tool_call);
    gw_span_set_str(s, "gen_ai.agent.id", server_id);
    return s;
}

void gw_trace_backend_end(gw_span_t *s, bool ok)
{
    if (!ok)
        gw_span_set_error(s, "backend call failed");
    gw_span_end(s);
}

/* ---- the tracer */

static bool valid_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    bool nonzero = false;
    for (size_t i = 0; i < n; i++) {
        if (hexval(s[i]) < 0)
            return false;
        nonzero |= s[i] != '0';
    }
    return nonzero;
}

static void tracer_release(gw_tracer_t *t)
{
    for (size_t i = 0; i < t->neps; i++) {
        free(t->eps[i].url);
        curl_slist_free_all(t->eps[i].headers);
    }
    free(t->eps);
    json_decref(t->resource);
    json_decref(t->queue);
    free(t);
    curl_global_cleanup();
}

bool gw_tracer_new(const gw_tracer_options_t *o, gw_tracer_t **out, err_t *err)
{
    *out = NULL;
    gw_tracer_t *t = calloc(1, sizeof *t);
    if (!t)
        return err_set(err, "out of memory");
    /* Reference-counted and thread-safe in the libcurl Debian 12 ships. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(t);
        return err_set(err, "curl_global_init failed");
    }
    if (!load_endpoints(t, o, err)) {
        tracer_release(t);
        return false;
    }
    if (t->neps == 0) {
        tracer_release(t);
        return true; /* noop */
    }
    t->resource = resource_of(o);
    t->queue = json_array();
    if (!t->resource || !t->queue) {
        tracer_release(t);
        return err_set(err, "out of memory");
    }
    if (valid_hex(o->trace_id, 32)) {
        memcpy(t->parent_trace, o->trace_id, 33);
        if (valid_hex(o->span_id, 16))
            memcpy(t->parent_span, o->span_id, 17);
    }
    double r = o->sample_rate;
    t->sample_all = r >= 1.0;
    t->sample_none = r <= 0.0 || r != r;
    t->sample_bound = (uint64_t)(r * 9223372036854775808.0); /* rate * 2^63 */
    t->interval_ms = o->batch_interval_ms > 0 ? o->batch_interval_ms : 1000;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (pthread_create(&t->thread, NULL, exporter, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cond);
        tracer_release(t);
        return err_set(err, "cannot start the OTLP exporter thread");
    }
    *out = t;
    return true;
}

void gw_tracer_free(gw_tracer_t *t)
{
    if (!t)
        return;
    pthread_mutex_lock(&t->mu);
    t->stop = true;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cond);
    tracer_release(t);
}

size_t gw_tracer_dropped(gw_tracer_t *t)
{
    if (!t)
        return 0;
    pthread_mutex_lock(&t->mu);
    size_t n = t->dropped;
    pthread_mutex_unlock(&t->mu);
    return n;
}

size_t gw_tracer_endpoint_count(const gw_tracer_t *t)
{
    return t ? t->neps : 0;
}

const char *gw_tracer_endpoint(const gw_tracer_t *t, size_t i)
{
    return t && i < t->neps ? t->eps[i].url : NULL;
}

/* TraceIDRatioBased: the last 8 bytes of the trace ID, big-endian, >> 1. */
static bool sampled(const gw_tracer_t *t, const char *trace_id)
{
    if (t->sample_all)
        return true;
    if (t->sample_none)
        return false;
    uint64_t x = 0;
    for (int i = 16; i < 32; i++)
        x = x << 4 | (uint64_t)hexval(trace_id[i]);
    return (x >> 1) < t->sample_bound;
}

gw_span_t *gw_span_start(gw_tracer_t *t, const char *name, gw_span_kind_t kind, const gw_span_t *parent)
{
    if (!t)
        return NULL;
    gw_span_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->t = t;
    const char *parent_span = NULL;
    if (parent) {
        memcpy(s->trace_id, parent->trace_id, sizeof s->trace_id);
        parent_span = parent->span_id;
        s->sampled = parent->sampled;
    } else {
        if (t->parent_trace[0]) {
            memcpy(s->trace_id, t->parent_trace, sizeof s->trace_id);
            parent_span = t->parent_span[0] ? t->parent_span : NULL;
        } else if (!gw_random_hex(s->trace_id, 16)) {
            free(s);
            return NULL;
        }
        s->sampled = sampled(t, s->trace_id);
    }
    if (!gw_random_hex(s->span_id, 8)) {
        free(s);
        return NULL;
    }
    if (!s->sampled)
        return s; /* carries the IDs for children, records nothing */
    s->obj = json_pack("{s:s,s:s,s:s,s:i,s:o,s:[]}", "traceId", s->trace_id, "spanId", s->span_id, "name", name,
                       "kind", (int)kind, "startTimeUnixNano", ns_value(now_ns()), "attributes");
    if (s->obj && parent_span)
        json_object_set_new(s->obj, "parentSpanId", json_string(parent_span));
    if (!s->obj) {
        free(s);
        return NULL;
    }
    return s;
}

static void set_attr(gw_span_t *s, const char *key, json_t *value)
{
    if (!s || !s->obj) {
        json_decref(value);
        return;
    }
    json_array_append_new(json_object_get(s->obj, "attributes"), attr(key, value));
}

void gw_span_set_str(gw_span_t *s, const char *key, const char *value)
{
    if (s && s->obj)
        set_attr(s, key, str_value(value));
}

void gw_span_set_int(gw_span_t *s, const char *key, int64_t value)
{
    if (!s || !s->obj)
        return;
    char b[32];
    snprintf(b, sizeof b, "%lld", (long long)value);
    set_attr(s, key, json_pack("{s:s}", "intValue", b));
}

void gw_span_set_bool(gw_span_t *s, const char *key, bool value)
{
    if (s && s->obj)
        set_attr(s, key, json_pack("{s:b}", "boolValue", value));
}

void gw_span_set_error(gw_span_t *s, const char *message)
{
    if (s && s->obj)
        json_object_set_new(s->obj, "status", json_pack("{s:i,s:s}", "code", 2, "message", message ? message : ""));
}

void gw_span_end(gw_span_t *s)
{
    if (!s)
        return;
    gw_tracer_t *t = s->t;
    if (s->obj) {
        json_object_set_new(s->obj, "endTimeUnixNano", ns_value(now_ns()));
        pthread_mutex_lock(&t->mu);
        if (json_array_size(t->queue) >= QUEUE_MAX) {
            t->dropped++;
            json_decref(s->obj);
        } else {
            json_array_append_new(t->queue, s->obj);
            if (json_array_size(t->queue) >= BATCH_MAX)
                pthread_cond_signal(&t->cond);
        }
        pthread_mutex_unlock(&t->mu);
    }
    free(s);
}
