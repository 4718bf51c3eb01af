/*
 * tracing.h — OTLP tracing of tool calls (spec: gateway §5.6, P1.10).
 *
 * A gw_tracer_t owns the export endpoints and a background thread. Spans are
 * started and ended on request threads; gw_span_end only appends the
 * finished span to the tracer's queue (bounded: a full queue drops the span
 * and counts it), so tracing never blocks a request. The thread sends
 * batches as OTLP/HTTP JSON (POST <endpoint>/v1/traces) to every endpoint,
 * with a 10 s timeout; a batch a collector refuses or never answers is
 * dropped with one log line. gw_tracer_free flushes what is queued, bounded
 * by 5 s, then joins the thread.
 *
 * Endpoints: GH_AW_OTLP_ENDPOINTS (a comma list of URLs, or a JSON array of
 * {url, headers}) when set, else the configured endpoint. Headers: the
 * configured ones, else OTEL_EXPORTER_OTLP_HEADERS (k=v,k2=v2, values
 * URL-unescaped). No endpoint at all means no tracer (NULL): every gw_span_*
 * function accepts NULL and does nothing, which is the noop tracer.
 *
 * A configured traceId/spanId becomes the parent of every root span; without
 * one each root span starts a new random trace. Sampling is upstream's
 * TraceIDRatioBased on the trace ID; children follow their root.
 */
#ifndef FLOWGATE_GATEWAY_TRACING_H
#define FLOWGATE_GATEWAY_TRACING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/config.h"
#include "util/err.h"

typedef struct gw_tracer gw_tracer_t;
typedef struct gw_span gw_span_t;

/* OTLP SpanKind values. */
typedef enum { GW_SPAN_INTERNAL = 1, GW_SPAN_SERVER = 2, GW_SPAN_CLIENT = 3 } gw_span_kind_t;

typedef struct gw_tracer_options {
    const char *endpoint;        /* NULL or "": only GH_AW_OTLP_ENDPOINTS */
    const gw_strmap_t *headers;  /* may be NULL */
    const char *signal_path;     /* NULL: "/v1/traces" */
    const char *service_name;    /* NULL: "mcp-gateway" */
    const char *service_version; /* NULL: "dev" */
    const char *trace_id;        /* parent: 32 lowercase hex, or NULL */
    const char *span_id;         /* parent: 16 lowercase hex, or NULL */
    double sample_rate;          /* 0..1 */
    int batch_interval_ms;       /* 0: 1000 */
    gw_config_getenv_fn getenv;  /* NULL: getenv(3) */
    void *getenv_ud;
} gw_tracer_options_t;

/* *out = a running tracer, or NULL when no endpoint is configured (not an
 * error). Returns false (err set) on a malformed GH_AW_OTLP_ENDPOINTS or a
 * thread/allocation failure; the caller then goes on without tracing. */
bool gw_tracer_new(const gw_tracer_options_t *o, gw_tracer_t **out, err_t *err);
/* Flushes (at most 5 s), stops the thread, frees. NULL is fine. */
void gw_tracer_free(gw_tracer_t *t);
/* Spans dropped so far (queue full, or export failed). */
size_t gw_tracer_dropped(gw_tracer_t *t);
/* The export URLs, for logs and tests; i < count. */
size_t gw_tracer_endpoint_count(const gw_tracer_t *t);
const char *gw_tracer_endpoint(const gw_tracer_t *t, size_t i);

/* Starts a span; parent NULL makes a root span (child of the configured
 * parent context, if any). Returns NULL when t is NULL or on allocation
 * failure; the setters and gw_span_end accept NULL. */
gw_span_t *gw_span_start(gw_tracer_t *t, const char *name, gw_span_kind_t kind, const gw_span_t *parent);
void gw_span_set_str(gw_span_t *s, const char *key, const char *value);
void gw_span_set_int(gw_span_t *s, const char *key, int64_t value);
void gw_span_set_bool(gw_span_t *s, const char *key, bool value);
/* Status ERROR with this description. */
void gw_span_set_error(gw_span_t *s, const char *message);
/* Ends the span and hands it to the exporter; s is gone afterwards. */
void gw_span_end(gw_span_t *s);

/* ---- the gateway's use (run.c, pipeline.c) */
struct gw_server;
/* s->tracer from the config's opentelemetry section (endpoint, headers,
 * traceId/spanId, serviceName, sample rate, signal path), falling back to
 * --otlp-endpoint / --otlp-service-name / --otlp-sample-rate. A failure is
 * only a warning: tracing stays off (spec §5.6). */
void gw_tracing_start(struct gw_server *s);
/* mcp.tool_call with the §5.6 attributes (NULL when t is NULL). */
gw_span_t *gw_trace_tool_call_begin(gw_tracer_t *t, const char *server_id, const char *tool);
/* Sets mcp.response.status and rate_limit.hit; error (may be NULL) makes
 * the status ERROR. Ends the span. */
void gw_trace_tool_call_end(gw_span_t *s, int status, bool rate_limited, const char *error);
/* gateway.backend.execute (client kind), a child of the tool-call span. */
gw_span_t *gw_trace_backend_begin(gw_span_t *tool_call, const char *server_id);
void gw_trace_backend_end(gw_span_t *s, bool ok);

#endif
