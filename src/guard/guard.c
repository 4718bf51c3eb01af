/*
 * guard.c — the parts of guard.h every guard kind shares: the request
 * context and the vtable dispatchers.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "guard/guard.h"
#include "wasm/wasm.h"

const char *guard_log_level_name(guard_log_level_t level)
{
    switch (level) {
    case GUARD_LOG_DEBUG:
        return "debug";
    case GUARD_LOG_INFO:
        return "info";
    case GUARD_LOG_WARN:
        return "warn";
    case GUARD_LOG_ERROR:
        return "error";
    default:
        return "";
    }
}

void guard_log_vprintf(const guard_log_sink_t *sink, const char *name, guard_log_level_t level, const char *fmt,
                       va_list ap)
{
    char msg[8448];
    int n = snprintf(msg, sizeof msg, "[guard:%s] ", name);
    if (n < 0 || (size_t)n >= sizeof msg)
        n = 0;
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    if (sink && sink->fn) {
        sink->fn(sink->ud, level, msg);
        return;
    }
    /* Never stdout: it may carry the MCP stream. */
    const char *lv = guard_log_level_name(level);
    if (*lv)
        fprintf(stderr, "[%s] %s\n", lv, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

void guard_log_printf(const guard_log_sink_t *sink, const char *name, guard_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guard_log_vprintf(sink, name, level, fmt, ap);
    va_end(ap);
}

void guard_ctx_init(guard_ctx_t *ctx, uint64_t timeout_ms, const guard_backend_t *backend)
{
    ctx->deadline_ns = timeout_ms ? wasm_now_ns() + timeout_ms * 1000000ull : 0;
    atomic_init(&ctx->cancel, 0);
    ctx->backend = backend;
}

void guard_ctx_cancel(guard_ctx_t *ctx)
{
    atomic_store(&ctx->cancel, 1);
}

bool guard_ctx_done(const guard_ctx_t *ctx)
{
    if (atomic_load(&((guard_ctx_t *)ctx)->cancel))
        return true;
    return ctx->deadline_ns && wasm_now_ns() >= ctx->deadline_ns;
}

bool guard_label_agent(guard_t *g, guard_ctx_t *ctx, const json_t *payload, difc_agent_result_t *out, err_t *err)
{
    return g->ops->label_agent(g, ctx, payload, out, err);
}

bool guard_label_resource(guard_t *g, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                          difc_resource_t *res, difc_op_t *op, err_t *err)
{
    *op = DIFC_OP_WRITE;
    return g->ops->label_resource(g, ctx, tool_name, tool_args, res, op, err);
}

bool guard_label_response(guard_t *g, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                          const json_t *tool_result, difc_response_labels_t *out, err_t *err)
{
    return g->ops->label_response(g, ctx, tool_name, tool_args, tool_result, out, err);
}

bool guard_healthy(guard_t *g, err_t *why)
{
    return !g->ops->healthy || g->ops->healthy(g, why);
}

void guard_close(guard_t *g)
{
    if (g)
        g->ops->close(g);
}

const char *guard_name(const guard_t *g)
{
    return g->name;
}

bool guard_is_noop(const guard_t *g)
{
    return strcmp(g->type, "noop") == 0;
}
