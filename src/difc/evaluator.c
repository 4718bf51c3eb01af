/*
 * evaluator.c — modes, operations and the flow rules (spec §3.3, §3.4,
 * §3.8). Reason texts are upstream's, byte for byte, except that tag lists
 * are sorted (departure 9).
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool difc_mode_parse(const char *s, difc_mode_t *out, err_t *err)
{
    if (!s)
        s = "";
    /* Case-insensitive, deliberately not trimmed: " strict " is an error
     * upstream too (§2.2 step 7). */
    if (*s == '\0' || strcasecmp(s, "strict") == 0)
        *out = DIFC_MODE_STRICT;
    else if (strcasecmp(s, "filter") == 0)
        *out = DIFC_MODE_FILTER;
    else if (strcasecmp(s, "propagate") == 0)
        *out = DIFC_MODE_PROPAGATE;
    else
        return err_set(err, "unknown enforcement mode: %s (valid modes: strict, filter, propagate)", s);
    return true;
}

const char *difc_mode_name(difc_mode_t m)
{
    switch (m) {
    case DIFC_MODE_STRICT: return "strict";
    case DIFC_MODE_FILTER: return "filter";
    case DIFC_MODE_PROPAGATE: return "propagate";
    }
    return "unknown";
}

const char *difc_op_name(difc_op_t op)
{
    switch (op) {
    case DIFC_OP_READ: return "read";
    case DIFC_OP_WRITE: return "write";
    case DIFC_OP_READ_WRITE: return "read-write";
    }
    return "unknown";
}

difc_op_t difc_op_from_guard(const char *s)
{
    if (s && strcmp(s, "read") == 0)
        return DIFC_OP_READ;
    if (s && strcmp(s, "read-write") == 0)
        return DIFC_OP_READ_WRITE;
    /* Unknown, empty or differently cased: the most restrictive choice. */
    return DIFC_OP_WRITE;
}

void difc_eval_free(difc_eval_t *ev)
{
    difc_tagset_free(&ev->secrecy_to_add);
    difc_tagset_free(&ev->integrity_to_drop);
    free(ev->reason);
    ev->reason = NULL;
}

/* spec §3.3 formatIntegrityLevel: the highest known level named by the
 * tags (scope stripped at the first ':' when it is not the first char). */
char *difc_format_integrity_level(const difc_tagset_t *tags)
{
    if (tags->len == 0)
        return strdup("none");
    const char *highest = NULL;
    for (size_t i = 0; i < tags->len; i++) {
        const char *t = tags->tags[i];
        const char *colon = strchr(t, ':');
        size_t n = (colon && colon > t) ? (size_t)(colon - t) : strlen(t);
        if (n == 6 && strncmp(t, "merged", 6) == 0)
            return strdup("\"merged\"");
        if (n == 8 && strncmp(t, "approved", 8) == 0)
            highest = "\"approved\"";
        else if (n == 10 && strncmp(t, "unapproved", 10) == 0 && !highest)
            highest = "\"unapproved\"";
    }
    return highest ? strdup(highest) : difc_tagset_format(tags);
}

/* spec §3.3 formatSecrecyLevel: the longest non-empty private:<scope>. */
char *difc_format_secrecy_level(const difc_tagset_t *tags)
{
    if (tags->len == 0)
        return strdup("public");
    const char *best = NULL;
    size_t best_len = 0;
    bool bare = false;
    for (size_t i = 0; i < tags->len; i++) {
        const char *t = tags->tags[i];
        if (strncmp(t, "private:", 8) == 0) {
            size_t n = strlen(t + 8);
            if (n > best_len) {
                best = t + 8;
                best_len = n;
            }
        } else if (strcmp(t, "private") == 0) {
            bare = true;
        }
    }
    if (best) {
        util_buf_t b = {0};
        util_buf_printf(&b, "private (%s)", best);
        return util_buf_take(&b);
    }
    if (bare)
        return strdup("private");
    return difc_tagset_format(tags);
}

static void init_eval(difc_eval_t *out)
{
    out->decision = DIFC_ALLOW;
    difc_tagset_init(&out->secrecy_to_add);
    difc_tagset_init(&out->integrity_to_drop);
    out->reason = NULL;
}

static bool oom(difc_eval_t *out, err_t *err)
{
    difc_eval_free(out);
    out->decision = DIFC_DENY;
    return err_set(err, "out of memory");
}

/* Moves b's text into out->reason; an OOM while building it (b's latch)
 * fails the evaluation. */
static bool set_reason(difc_eval_t *out, util_buf_t *b, err_t *err)
{
    out->reason = util_buf_take(b);
    return out->reason ? true : oom(out, err);
}

/* Ends an evaluation as a denial with b's text as its reason. `level` is the
 * formatted label level the text quoted (taken and freed here; NULL meant
 * OOM, and the caller printed "" in its place). */
static bool deny(difc_eval_t *out, util_buf_t *b, char *level, err_t *err)
{
    b->oom |= !level;
    free(level);
    out->decision = DIFC_DENY;
    return set_reason(out, b, err);
}

static bool evaluate_read(const difc_labels_t *a, const difc_resource_t *r,
                          difc_mode_t mode, difc_eval_t *out, err_t *err)
{
    const char *desc = difc_resource_description(r);
    /* Integrity: R.integrity ⊇ A.integrity. An OOM while listing the
     * violations also returns false; the empty list is then detected. */
    bool iok = difc_integrity_flows(&r->labels.integrity, &a->integrity, &out->integrity_to_drop);
    if (!iok && out->integrity_to_drop.len == 0)
        return oom(out, err);

    if (mode == DIFC_MODE_PROPAGATE) {
        bool sok = difc_secrecy_flows(&r->labels.secrecy, &a->secrecy, &out->secrecy_to_add);
        if (!sok && out->secrecy_to_add.len == 0)
            return oom(out, err);
        if (iok && sok)
            return true;
        out->decision = DIFC_ALLOW_PROPAGATE;
        util_buf_t b = {0};
        util_buf_puts(&b, "Read allowed with label propagation: ");
        if (!sok) {
            char *s = difc_tagset_format(&out->secrecy_to_add);
            util_buf_printf(&b, "adding secrecy tags %s", s ? s : "");
            b.oom |= !s;
            free(s);
        }
        if (!iok) {
            char *s = difc_tagset_format(&out->integrity_to_drop);
            util_buf_printf(&b, "%sdropping integrity tags %s", sok ? "" : " and ", s ? s : "");
            b.oom |= !s;
            free(s);
        }
        return set_reason(out, &b, err);
    }

    if (!iok) {
        /* spec §6.5: secrecy is not evaluated once integrity failed. */
        char *lvl = difc_format_integrity_level(&out->integrity_to_drop);
        util_buf_t b = {0};
        util_buf_printf(&b, "Resource '%s' has lower integrity than agent requires. "
                        "The agent cannot read data with integrity below %s.",
                    desc, lvl ? lvl : "");
        return deny(out, &b, lvl, err);
    }
    bool sok = difc_secrecy_flows(&r->labels.secrecy, &a->secrecy, &out->secrecy_to_add);
    if (sok)
        return true;
    if (out->secrecy_to_add.len == 0)
        return oom(out, err);
    char *scope = difc_format_secrecy_level(&out->secrecy_to_add);
    util_buf_t b = {0};
    util_buf_printf(&b, "Resource '%s' has secrecy requirements that agent doesn't meet. "
                    "The agent is not authorized to access %s-scoped data.",
                desc, scope ? scope : "");
    return deny(out, &b, scope, err);
}

static bool evaluate_write(const difc_labels_t *a, const difc_resource_t *r,
                           difc_eval_t *out, err_t *err)
{
    const char *desc = difc_resource_description(r);
    /* Integrity: A.integrity ⊇ R.integrity. */
    if (!difc_integrity_flows(&a->integrity, &r->labels.integrity, &out->integrity_to_drop)) {
        if (out->integrity_to_drop.len == 0)
            return oom(out, err);
        char *lvl = difc_format_integrity_level(&out->integrity_to_drop);
        util_buf_t b = {0};
        util_buf_printf(&b, "Agent lacks required integrity to write to '%s'. "
                        "The agent's integrity level is insufficient; it needs %s integrity.",
                    desc, lvl ? lvl : "");
        return deny(out, &b, lvl, err);
    }
    /* Secrecy: A.secrecy ⊆ R.secrecy. */
    if (!difc_secrecy_flows(&a->secrecy, &r->labels.secrecy, &out->secrecy_to_add)) {
        if (out->secrecy_to_add.len == 0)
            return oom(out, err);
        char *scope = difc_format_secrecy_level(&out->secrecy_to_add);
        util_buf_t b = {0};
        util_buf_printf(&b, "Agent carries %s-scoped data that cannot be written to '%s' due to "
                        "secrecy constraints. The target resource is not authorized to receive "
                        "this sensitive data.",
                    scope ? scope : "", desc);
        return deny(out, &b, scope, err);
    }
    return true;
}

bool difc_evaluate(const difc_labels_t *agent, const difc_resource_t *res,
                   difc_op_t op, difc_mode_t mode, difc_eval_t *out, err_t *err)
{
    init_eval(out);
    switch (op) {
    case DIFC_OP_READ:
        return evaluate_read(agent, res, mode, out, err);
    case DIFC_OP_WRITE:
        return evaluate_write(agent, res, out, err);
    case DIFC_OP_READ_WRITE:
        if (!evaluate_read(agent, res, mode, out, err))
            return false;
        if (!difc_eval_allowed(out))
            return true;
        /* The read half passed (possibly with propagation). The write half
         * decides; when it passes too, the read half's propagation details
         * are kept (upstream drops them; nothing consumes them there). */
        difc_eval_t w;
        init_eval(&w);
        if (!evaluate_write(agent, res, &w, err)) {
            difc_eval_free(out);
            *out = w;
            return false;
        }
        if (!difc_eval_allowed(&w)) {
            difc_eval_free(out);
            *out = w;
        } else {
            difc_eval_free(&w);
        }
        return true;
    }
    /* Unknown operation: cannot come from a guard (difc_op_from_guard maps
     * everything else to write); fail closed rather than upstream's allow. */
    out->decision = DIFC_DENY;
    out->reason = strdup("unknown operation");
    return out->reason ? true : oom(out, err);
}

char *difc_format_violation(const difc_eval_t *ev, const difc_labels_t *agent,
                            const difc_resource_t *res)
{
    util_buf_t b = {0};
    char *s = NULL;
    util_buf_printf(&b, "DIFC Violation: %s\n\n", ev->reason ? ev->reason : "");
    if (ev->secrecy_to_add.len > 0) {
        s = difc_tagset_format(&ev->secrecy_to_add);
        if (!s)
            goto fail;
        util_buf_printf(&b, "Required Action: Add secrecy tags %s\n", s);
        util_buf_puts(&b, "\nImplications of adding secrecy tags:\n");
        util_buf_puts(&b, "  - Agent will be restricted from writing to resources that lack these tags\n");
        util_buf_puts(&b, "  - This includes public resources (e.g., public repositories, public internet)\n");
        util_buf_puts(&b, "  - Agent will be marked as handling sensitive information\n");
        util_buf_printf(&b, "  - Future writes must target resources with tags: %s\n", s);
        free(s);
    }
    if (ev->integrity_to_drop.len > 0) {
        s = difc_tagset_format(&ev->integrity_to_drop);
        if (!s)
            goto fail;
        util_buf_printf(&b, "\nRequired Action: Drop integrity tags %s\n", s);
        util_buf_puts(&b, "\nImplications of dropping integrity tags:\n");
        util_buf_puts(&b, "  - Agent will no longer be able to write to high-integrity resources\n");
        util_buf_printf(&b, "  - Specifically, agent cannot write to resources requiring tags: %s\n", s);
        util_buf_puts(&b, "  - This action acknowledges that agent has been influenced by lower-integrity data\n");
        util_buf_puts(&b, "  - Agent's outputs will be considered less trustworthy\n");
        free(s);
    }
    const difc_tagset_t *lists[4] = {&agent->secrecy, &agent->integrity,
                                     &res->labels.secrecy, &res->labels.integrity};
    for (int i = 0; i < 4; i++) {
        if (i == 0)
            util_buf_puts(&b, "\nCurrent Agent Labels:\n");
        if (i == 2)
            util_buf_puts(&b, "\nResource Requirements:\n");
        s = difc_tagset_format(lists[i]);
        if (!s)
            goto fail;
        util_buf_printf(&b, "  %s: %s\n", (i % 2) ? "Integrity" : "Secrecy", s);
        free(s);
    }
    return util_buf_take(&b);
fail:
    util_buf_free(&b);
    return NULL;
}

bool difc_coarse_deny_is_final(difc_op_t op)
{
    return op != DIFC_OP_READ;
}

bool difc_should_label_response(difc_op_t op, difc_mode_t mode)
{
    if (op == DIFC_OP_WRITE)
        return false;
    if (op == DIFC_OP_READ_WRITE && mode == DIFC_MODE_STRICT)
        return false;
    return true;
}

bool difc_should_accumulate(difc_op_t op, difc_mode_t mode)
{
    return op != DIFC_OP_WRITE && mode == DIFC_MODE_PROPAGATE;
}
