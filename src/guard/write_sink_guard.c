/*
 * write_sink_guard.c — the write-sink guard (spec §3.9 "Write-sink guard",
 * G:write_sink.go; §5 case 34).
 *
 * An output server (safe-outputs, a comment poster) must accept writes from
 * agents that read private data under an allow-only policy, yet never let
 * that data out anywhere else. The write-sink labels every call as a WRITE
 * whose resource secrecy is the accept list, so the write rule
 * A.secrecy ⊆ R.secrecy lets exactly the agents whose tags are all accepted
 * through. Accept entries are literal tags; the only pattern is a sole
 * "*", which works because "*" on the target side of a secrecy check
 * passes everything (§3.2). With an effective visibility of "public" the
 * resource secrecy is empty instead: any agent with secrecy is refused,
 * whatever the accept list says. Resource integrity is always empty, so an
 * agent's integrity never blocks the write.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guard/guard.h"

typedef struct write_sink_guard {
    guard_t base;
    bool public_sink;          /* effective visibility is "public" */
    difc_tagset_t accept;      /* the accept entries as literal tags */
} write_sink_guard_t;

static bool ws_label_agent(guard_t *g, guard_ctx_t *ctx, const json_t *payload,
                           difc_agent_result_t *out, err_t *err)
{
    (void)g, (void)ctx, (void)payload, (void)err;
    difc_labels_free(&out->labels);
    out->mode = DIFC_MODE_FILTER;
    return true;
}

static bool ws_label_resource(guard_t *base, guard_ctx_t *ctx, const char *tool_name,
                              const json_t *tool_args, difc_resource_t *res, difc_op_t *op,
                              err_t *err)
{
    (void)ctx, (void)tool_args;
    write_sink_guard_t *g = (write_sink_guard_t *)base;
    *op = DIFC_OP_WRITE;
    difc_labels_free(&res->labels);
    const char *tool = tool_name ? tool_name : "";
    size_t n = strlen(tool) + 32;
    char *desc = malloc(n);
    if (!desc)
        return err_set(err, "out of memory");
    snprintf(desc, n, g->public_sink ? "write-sink:public (%s)" : "write-sink (%s)", tool);
    bool ok = difc_resource_set_description(res, desc);
    free(desc);
    if (ok && !g->public_sink)
        ok = difc_tagset_copy(&res->labels.secrecy, &g->accept);
    return ok ? true : err_set(err, "out of memory");
}

static bool ws_label_response(guard_t *g, guard_ctx_t *ctx, const char *tool_name,
                              const json_t *tool_args, const json_t *tool_result,
                              difc_response_labels_t *out, err_t *err)
{
    (void)g, (void)ctx, (void)tool_name, (void)tool_args, (void)tool_result, (void)err;
    out->kind = DIFC_RESPONSE_NONE;
    return true;
}

static void ws_close(guard_t *base)
{
    write_sink_guard_t *g = (write_sink_guard_t *)base;
    difc_tagset_free(&g->accept);
    free(g);
}

static const guard_ops_t write_sink_ops = {
    .label_agent = ws_label_agent,
    .label_resource = ws_label_resource,
    .label_response = ws_label_response,
    .healthy = NULL,
    .close = ws_close,
};

/* Visibility compared trimmed and lower-cased (§3.9). */
static bool is_public(const char *v)
{
    if (!v)
        return false;
    while (isspace((unsigned char)*v))
        v++;
    size_t n = strlen(v);
    while (n > 0 && isspace((unsigned char)v[n - 1]))
        n--;
    return n == 6 && strncasecmp(v, "public", 6) == 0;
}

guard_t *guard_write_sink_new(const difc_write_sink_t *ws, err_t *err)
{
    write_sink_guard_t *g = calloc(1, sizeof *g);
    if (!g) {
        err_set(err, "out of memory");
        return NULL;
    }
    g->base.ops = &write_sink_ops;
    g->base.name = "write-sink";
    g->base.type = "write-sink";
    g->public_sink = ws && is_public(ws->sink_visibility);
    for (size_t i = 0; ws && i < ws->accept.len; i++) {
        if (!difc_tagset_add(&g->accept, ws->accept.items[i])) {
            ws_close(&g->base);
            err_set(err, "out of memory");
            return NULL;
        }
    }
    return &g->base;
}
