/*
 * filter.c — Phase 5 of the tools/call pipeline: judging every item of a
 * response for the agent, removing the denied ones, and reporting them
 * (spec §3.7, §4 steps 13–17, §4.1).
 *
 * Decisions that depart from upstream, all on the fail-closed side:
 *   - A response without fine-grained labels is judged as ONE item that is
 *     the whole result, labelled with the Phase 1 resource. A read denied at
 *     Phase 2 is therefore filtered (filter mode: an empty result and a
 *     notice) or blocks the response (strict), never passed through
 *     (departure 1, §6.2). An allowed one passes unchanged.
 *   - An item without labels is denied (departure 2, §6.4), and so is a
 *     path-format item that neither a labelled path nor default labels
 *     cover; a legacy items list whose elements were all dropped lets
 *     nothing of the result through.
 *   - Denied items are removed in place: the backend's envelope, the MCP
 *     wrapper and isError are kept (departure 8, §6.3). Text that held the
 *     items is re-serialised; when anything was removed, content items that
 *     did not take part in the unwrap (images, embedded resources) and a
 *     structuredContent that no longer matches are dropped too, since they
 *     may carry the removed data.
 *   - The collection rule for Phase 6 (§3.7, §6.6): upstream intersects the
 *     agent's integrity with the UNION of the items' integrity, so reading a
 *     low-integrity item next to a high-integrity one keeps the agent high.
 *     Flowgate intersects with every item's integrity (the intersection of
 *     the items' integrity labels): after reading several items the agent
 *     keeps only the integrity that all of them had. Secrecy is the union,
 *     as upstream. Like upstream the unfiltered collection is used (the
 *     notice names filtered items, so the agent did learn of them); items
 *     without labels carry nothing and are skipped; no labelled item at all
 *     gives empty labels (which clears the agent's integrity, §6.7).
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS_IN_NOTICE 5

static void filtered_item_free(difc_filtered_item_t *f)
{
    free(f->description);
    free(f->reason);
    difc_labels_free(&f->labels);
    json_decref(f->data);
}

void difc_filter_outcome_free(difc_filter_outcome_t *o)
{
    json_decref(o->result);
    for (size_t i = 0; i < o->n_filtered; i++)
        filtered_item_free(&o->filtered[i]);
    free(o->filtered);
    difc_labels_free(&o->read_labels);
    memset(o, 0, sizeof *o);
}

/* Phase 6 labels over the unfiltered collection (see the header comment). */
static bool aggregate(const difc_item_t *items, size_t n, difc_labels_t *out)
{
    difc_labels_init(out);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!items[i].has_labels)
            continue;
        if (!difc_tagset_union(&out->secrecy, &items[i].labels.labels.secrecy))
            return false;
        if (first) {
            if (!difc_tagset_copy(&out->integrity, &items[i].labels.labels.integrity))
                return false;
            first = false;
        } else {
            difc_tagset_intersect(&out->integrity, &items[i].labels.labels.integrity);
        }
    }
    return true;
}

/* Compact JSON text whose reals use the fewest digits that read back to
 * the same value (jansson's default of 17 digits prints 0.1 as
 * 0.10000000000000001). NULL on OOM. */
static bool has_real(const json_t *v)
{
    if (json_is_real(v))
        return true;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (has_real(json_array_get(v, i)))
                return true;
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        json_object_foreach((json_t *)v, k, e)
            if (has_real(e))
                return true;
    }
    return false;
}

char *difc_json_dump_compact(const json_t *v)
{
    if (!has_real(v)) /* nothing to shorten: one pass */
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    for (int prec = 15; prec <= 17; prec++) {
        size_t flags = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec);
        char *text = json_dumps(v, flags);
        if (!text || prec == 17)
            return text;
        json_t *back = json_loads(text, JSON_DECODE_ANY, NULL);
        if (!back) /* integers beyond 64 bits were read as reals */
            back = json_loads(text, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
        bool same = back && json_equal(back, (json_t *)v);
        json_decref(back);
        if (same)
            return text;
        free(text);
    }
    return NULL;
}

/* The envelope with its items replaced by `text`: an MCP result keeps every
 * key (isError, _meta, ...) except structuredContent, and its content
 * becomes one text item; anything else is replaced by the parsed value.
 * Steals nothing; returns a new reference or NULL on OOM. */
static json_t *envelope_with_text(const json_t *root, json_t *value)
{
    if (!json_is_object(root) || !json_is_array(json_object_get(root, "content")))
        return json_deep_copy(value); /* shares nothing with the labels */
    /* A deep copy: the result is the caller's to edit (e.g. to append the
     * notice) and must share nothing with the filtered items' data. */
    json_t *env = json_deep_copy(root);
    char *text = difc_json_dump_compact(value);
    json_t *item = json_object();
    json_t *content = json_array();
    bool ok = env && text && item && content &&
              json_object_set_new(item, "type", json_string("text")) == 0 &&
              json_object_set_new(item, "text", json_string(text)) == 0 &&
              json_array_append(content, item) == 0 &&
              json_object_set(env, "content", content) == 0;
    free(text);
    json_decref(item);
    json_decref(content);
    if (!ok) {
        json_decref(env);
        return NULL;
    }
    json_object_del(env, "structuredContent");
    return env;
}

/* Puts the edited inner value back into the MCP wrapper of c->root. */
static bool rewrap(difc_collection_t *c)
{
    json_t *content = json_object_get(c->root, "content");
    char *text = difc_json_dump_compact(c->unwrapped);
    if (!text)
        return false;
    json_t *fresh = json_array();
    bool ok = fresh != NULL, placed = false;
    size_t i;
    json_t *it;
    json_array_foreach(content, i, it) {
        if (!ok)
            break;
        if (!difc_content_item_is_text(it))
            continue; /* not part of the labelled data: may leak, dropped */
        if (placed)
            continue; /* its text is now inside the first text item */
        ok = json_object_set_new(it, "text", json_string(text)) == 0 &&
             json_array_append(fresh, it) == 0;
        placed = true;
    }
    free(text);
    ok = ok && json_object_set(c->root, "content", fresh) == 0;
    json_decref(fresh);
    if (!ok)
        return false;
    /* structuredContent mirrors the text for tools with an output schema;
     * it still holds the removed items, so it goes. */
    json_object_del(c->root, "structuredContent");
    return true;
}

/* The client's result after removing the denied items (`denied[i]`). */
static json_t *build_result(difc_collection_t *c, const bool *denied, size_t n_denied)
{
    /* A legacy items list whose elements were all dropped labels nothing
     * of the result: none of it may pass (upstream gives [] too). */
    bool nothing_labelled = c->from_items && c->n_items == 0;
    if (n_denied == 0 && !nothing_labelled)
        return json_incref(c->root);
    json_t *empty = json_array();
    if (!empty)
        return NULL;
    json_t *out = NULL;
    if (c->whole) {
        /* The only item is the whole result and it is denied: nothing of
         * it may remain but the envelope (departure 1). */
        out = envelope_with_text(c->root, empty);
    } else if (c->from_items) {
        /* Legacy items carry copies of the data, so there is no place to
         * remove them from: the accessible items' data, as an array, in
         * the backend's envelope. */
        for (size_t i = 0; i < c->n_items; i++)
            if (!denied[i] && json_array_append(empty, c->items[i].data) != 0)
                goto out;
        out = envelope_with_text(c->root, empty);
    } else {
        /* Path format: remove in place, back to front. */
        for (size_t i = c->n_items; i-- > 0;)
            if (denied[i] && json_array_remove(c->array, i) != 0)
                goto out;
        if (c->unwrapped && !rewrap(c))
            goto out;
        out = json_incref(c->root);
    }
out:
    json_decref(empty);
    return out;
}

static bool judge(const difc_labels_t *agent, difc_op_t op, difc_mode_t mode,
                  difc_collection_t *c, difc_filter_outcome_t *out, err_t *err)
{
    bool *denied = calloc(c->n_items ? c->n_items : 1, sizeof *denied);
    out->filtered = calloc(c->n_items ? c->n_items : 1, sizeof *out->filtered);
    if (!denied || !out->filtered) {
        free(denied);
        return err_set(err, "out of memory");
    }
    out->total = c->n_items;
    out->whole = c->whole;
    for (size_t i = 0; i < c->n_items; i++) {
        difc_item_t *it = &c->items[i];
        difc_eval_t ev = {0};
        char *reason = NULL;
        bool secrecy = false;
        if (!it->has_labels) {
            reason = strdup("item has no DIFC labels (denied: fail closed)");
        } else {
            /* OOM inside evaluate leaves ev a deny; the item is filtered. */
            difc_evaluate(agent, &it->labels, op, mode, &ev, NULL);
            if (difc_eval_allowed(&ev)) {
                difc_eval_free(&ev);
                out->accessible++;
                continue;
            }
            secrecy = ev.secrecy_to_add.len > 0;
            reason = ev.reason ? ev.reason : strdup("");
            ev.reason = NULL;
            difc_eval_free(&ev);
        }
        denied[i] = true;
        difc_filtered_item_t *f = &out->filtered[out->n_filtered++];
        f->reason = reason;
        f->secrecy_violation = secrecy;
        f->description = strdup(difc_resource_description(&it->labels));
        f->data = json_incref(it->data);
        if (!reason || !f->description || !difc_labels_copy(&f->labels, &it->labels.labels)) {
            free(denied);
            return err_set(err, "out of memory");
        }
    }
    out->blocked = mode == DIFC_MODE_STRICT && out->n_filtered > 0;
    out->result = build_result(c, denied, out->n_filtered);
    free(denied);
    if (!out->result || !aggregate(c->items, c->n_items, &out->read_labels))
        return err_set(err, "out of memory");
    return true;
}

bool difc_filter_response(const difc_labels_t *agent, difc_op_t op, difc_mode_t mode,
                          const difc_resource_t *resource, const difc_response_labels_t *rl,
                          const json_t *tool_result, difc_filter_outcome_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    difc_collection_t c;
    if (rl && rl->kind != DIFC_RESPONSE_NONE) {
        if (!difc_collection_resolve(rl, tool_result, &c, err))
            return err_prefix(err, "failed to apply path labels");
    } else {
        /* No fine-grained labels: the whole result is one item carrying the
         * Phase 1 resource labels (departure 1). */
        memset(&c, 0, sizeof c);
        c.root = json_deep_copy(tool_result ? tool_result : json_null());
        c.items = calloc(1, sizeof *c.items);
        if (!c.root || !c.items) {
            difc_collection_free(&c);
            return err_set(err, "out of memory");
        }
        c.whole = true;
        c.n_items = 1;
        c.items[0].data = json_incref(c.root);
        c.items[0].has_labels = resource != NULL; /* none at all: denied */
        difc_resource_init(&c.items[0].labels);
        if (resource && !difc_resource_copy(&c.items[0].labels, resource)) {
            difc_collection_free(&c);
            return err_set(err, "out of memory");
        }
    }
    bool ok = judge(agent, op, mode, &c, out, err);
    difc_collection_free(&c);
    if (!ok)
        difc_filter_outcome_free(out);
    return ok;
}

const char *difc_filter_policy_name(const difc_filter_outcome_t *o)
{
    size_t secrecy = 0;
    for (size_t i = 0; i < o->n_filtered; i++)
        secrecy += o->filtered[i].secrecy_violation;
    if (secrecy > 0 && secrecy == o->n_filtered)
        return "secrecy policy";
    if (secrecy == 0 && o->n_filtered > 0)
        return "integrity policy";
    return "access policy";
}

char *difc_format_strict_block(const difc_filter_outcome_t *o, const char *agent_id)
{
    util_buf_t b = {0};
    util_buf_printf(&b, "DIFC policy violation: %zu of %zu items in response are not accessible to agent %s",
                o->n_filtered, o->total, agent_id ? agent_id : "");
    return util_buf_take(&b);
}

char *difc_format_filter_notice(const difc_filter_outcome_t *o)
{
    if (o->n_filtered == 0)
        return NULL;
    const char *policy = difc_filter_policy_name(o);
    util_buf_t b = {0};
    util_buf_printf(&b, "[Filtered] %zu item(s) in this response were removed by %s and are not shown",
                o->n_filtered, policy);
    size_t parts = 0;
    if (o->n_filtered <= MAX_ITEMS_IN_NOTICE) {
        for (size_t i = 0; i < o->n_filtered; i++) {
            const char *d = o->filtered[i].description ? o->filtered[i].description : "";
            const char *r = o->filtered[i].reason ? o->filtered[i].reason : "";
            if (!*d && !*r)
                continue;
            util_buf_puts(&b, parts++ ? "; " : ": ");
            if (*d && *r)
                util_buf_printf(&b, "%s (%s)", d, r);
            else
                util_buf_puts(&b, *d ? d : r);
        }
    }
    util_buf_puts(&b, ".");
    return util_buf_take(&b);
}

bool difc_is_singular_read_tool(const char *tool_name)
{
    if (!tool_name)
        return true;
    return strncmp(tool_name, "list_", 5) != 0 && strncmp(tool_name, "search_", 7) != 0;
}

char *difc_format_filtered_single(const difc_filter_outcome_t *o)
{
    if (o->n_filtered == 0)
        return NULL;
    const difc_filtered_item_t *f = &o->filtered[0];
    const char *d = f->description && *f->description ? f->description : "resource";
    util_buf_t b = {0};
    util_buf_printf(&b, "[Filtered] %s exists but is not accessible \xe2\x80\x94 filtered by %s", d,
                difc_filter_policy_name(o));
    if (f->reason && *f->reason)
        util_buf_printf(&b, " (%s)", f->reason);
    return util_buf_take(&b);
}

/* First non-empty string among the keys. */
static const char *str_field(const json_t *m, const char *a, const char *b)
{
    const char *keys[2] = {a, b};
    for (int i = 0; i < 2 && keys[i]; i++) {
        const json_t *v = json_object_get(m, keys[i]);
        if (json_is_string(v) && *json_string_value(v))
            return json_string_value(v);
    }
    return NULL;
}

static bool set_opt(json_t *rec, const char *key, const char *val)
{
    if (!val || !*val)
        return true;
    return json_object_set_new(rec, key, json_string(val)) == 0;
}

json_t *difc_filtered_record(const difc_filtered_item_t *it, const char *server_id,
                             const char *tool_name, const char *timestamp)
{
    json_t *rec = json_object();
    if (!rec)
        return NULL;
    bool ok = json_object_set_new(rec, "timestamp", json_string(timestamp ? timestamp : "")) == 0 &&
              json_object_set_new(rec, "event", json_string("difc_filtered")) == 0 &&
              json_object_set_new(rec, "_schema", json_string("difc-filtered/v2")) == 0 &&
              json_object_set_new(rec, "server_id", json_string(server_id ? server_id : "")) == 0 &&
              json_object_set_new(rec, "tool_name", json_string(tool_name ? tool_name : "")) == 0 &&
              json_object_set_new(rec, "description",
                                  json_string(it->description ? it->description : "")) == 0 &&
              json_object_set_new(rec, "reason", json_string(it->reason ? it->reason : "")) == 0 &&
              json_object_set_new(rec, "secrecy_tags", difc_tagset_to_json(&it->labels.secrecy)) == 0 &&
              json_object_set_new(rec, "integrity_tags",
                                  difc_tagset_to_json(&it->labels.integrity)) == 0;
    const json_t *m = it->data;
    if (ok && json_is_object(m)) {
        const char *login = NULL;
        const json_t *user = json_object_get(m, "user");
        const json_t *author = json_object_get(m, "author");
        login = str_field(user, "login", NULL);
        if (!login)
            login = str_field(author, "login", NULL);
        ok = set_opt(rec, "author_association", str_field(m, "author_association", "authorAssociation")) &&
             set_opt(rec, "author_login", login) &&
             set_opt(rec, "html_url", str_field(m, "html_url", "htmlUrl")) &&
             set_opt(rec, "sha", str_field(m, "sha", NULL));
        /* number: only an integral JSON number (spec §4.1). */
        const json_t *num = json_object_get(m, "number");
        char buf[32] = "";
        if (json_is_integer(num))
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(num));
        else if (json_is_real(num) && isfinite(json_real_value(num)) &&
                 json_real_value(num) == floor(json_real_value(num)) &&
                 fabs(json_real_value(num)) < 9.2e18)
            snprintf(buf, sizeof buf, "%lld", (long long)json_real_value(num));
        if (ok)
            ok = set_opt(rec, "number", buf);
    }
    if (!ok) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}
