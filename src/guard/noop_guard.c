/*
 * noop_guard.c — the noop guard (spec §3.9 "Noop guard", G:noop.go).
 *
 * label_agent: empty labels, mode strict. label_resource: empty labels,
 * description "noop resource (no restrictions)", operation READ-WRITE (the
 * comment upstream that says read is wrong). label_response: none.
 * Because the operation is read-write, once an agent carries any tag every
 * call to a noop-guarded server is denied: the read half fails on the
 * agent's integrity, the write half on its secrecy. That is upstream's
 * behaviour and the reason every output server needs a write-sink.
 *
 * Stateless, so one instance could serve everyone; each guard_noop_new()
 * still returns its own object so that ownership stays simple.
 */
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"

static bool noop_label_agent(guard_t *g, guard_ctx_t *ctx, const json_t *payload,
                             difc_agent_result_t *out, err_t *err)
{
    (void)g, (void)ctx, (void)payload, (void)err;
    difc_labels_free(&out->labels);
    out->mode = DIFC_MODE_STRICT;
    return true;
}

static bool noop_label_resource(guard_t *g, guard_ctx_t *ctx, const char *tool_name,
                                const json_t *tool_args, difc_resource_t *res, difc_op_t *op,
                                err_t *err)
{
    (void)g, (void)ctx, (void)tool_name, (void)tool_args;
    difc_labels_free(&res->labels);
    if (!difc_resource_set_description(res, "noop resource (no restrictions)"))
        return err_set(err, "out of memory");
    *op = DIFC_OP_READ_WRITE;
    return true;
}

static bool noop_label_response(guard_t *g, guard_ctx_t *ctx, const char *tool_name,
                                const json_t *tool_args, const json_t *tool_result,
                                difc_response_labels_t *out, err_t *err)
{
    (void)g, (void)ctx, (void)tool_name, (void)tool_args, (void)tool_result, (void)err;
    out->kind = DIFC_RESPONSE_NONE;
    return true;
}

static void noop_close(guard_t *g)
{
    free(g);
}

static const guard_ops_t noop_ops = {
    .label_agent = noop_label_agent,
    .label_resource = noop_label_resource,
    .label_response = noop_label_response,
    .healthy = NULL,
    .close = noop_close,
};

guard_t *guard_noop_new(void)
{
    guard_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->ops = &noop_ops;
    g->name = "noop";
    g->type = "noop";
    return g;
}

guard_t *guard_create(const char *type, err_t *err)
{
    /* spec §3.9 CreateGuard: no production guard types are registered. */
    if (!type || *type == '\0' || strcmp(type, "noop") == 0) {
        guard_t *g = guard_noop_new();
        if (!g)
            err_set(err, "out of memory");
        return g;
    }
    err_set(err, "unknown guard type: %s", type);
    return NULL;
}
