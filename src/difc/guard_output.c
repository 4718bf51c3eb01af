/*
 * guard_output.c — parsing what a guard's label_agent, label_resource and
 * label_response wrote into C values (spec §2.2, §2.3, §2.4). The checks run
 * in upstream's order and produce its error texts; JSON syntax errors carry
 * jansson's wording instead of Go's.
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <stdlib.h>
#include <string.h>

static json_t *load(const char *bytes, size_t len, err_t *err, const char *what)
{
    json_error_t je;
    json_t *v = json_loadb(bytes, len, JSON_DECODE_ANY, &je);
    if (!v) {
        err_set(err, "failed to unmarshal %s: %s", what, je.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        err_set(err, "failed to unmarshal %s: expected a JSON object, got %s", what,
                difc_json_type_name(v));
        json_decref(v);
        return NULL;
    }
    return v;
}

/* A non-blank string value (Go: strings.TrimSpace(s) != ""). */
static bool non_blank(const json_t *v)
{
    size_t n = 0;
    if (json_is_string(v))
        difc_trim_space(json_string_value(v), &n);
    return n > 0;
}

/* Strict decode of a []string field that may be absent or null. Each
 * element must be a string (null elements are skipped, as Go leaves ""
 * and blanks are dropped by trimming anyway). */
static bool strict_tags(const json_t *v, difc_tagset_t *out, bool trim, const char *field,
                        err_t *err, const char *prefix)
{
    difc_tagset_free(out);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v))
        return err_set(err, "%s%s: expected array of strings, got %s", prefix, field, difc_json_type_name(v));
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (json_is_null(e))
            continue;
        if (!json_is_string(e))
            return err_set(err, "%s%s[%zu]: expected string, got %s", prefix, field, i,
                           difc_json_type_name(e));
        bool ok = trim ? difc_tagset_add_trimmed(out, json_string_value(e))
                       : difc_tagset_add(out, json_string_value(e));
        if (!ok)
            return err_set(err, "out of memory");
    }
    return true;
}

void difc_agent_result_free(difc_agent_result_t *r)
{
    difc_labels_free(&r->labels);
    json_decref(r->normalized_policy);
    r->normalized_policy = NULL;
    r->mode = DIFC_MODE_STRICT;
}

bool difc_agent_result_parse(const char *bytes, size_t len, difc_agent_result_t *out,
                             err_t *err)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return err_set(err, "label_agent returned empty response");
    json_t *v = load(bytes, len, err, "label_agent response");
    if (!v)
        return false;
    bool ok = false;
    const char *dec = "failed to decode label_agent response: ";

    /* spec §2.2 steps 2–4: explicit failure markers win over content. */
    const char *flags[2] = {"success", "ok"};
    for (int i = 0; i < 2; i++) {
        const json_t *f = json_object_get(v, flags[i]);
        if (json_is_false(f)) {
            const json_t *e = json_object_get(v, "error");
            if (non_blank(e))
                err_set(err, "label_agent rejected policy: %s", json_string_value(e));
            else
                err_set(err, "label_agent returned non-success status");
            goto out;
        }
    }
    const json_t *e = json_object_get(v, "error");
    if (non_blank(e)) {
        err_set(err, "label_agent returned error: %s", json_string_value(e));
        goto out;
    }

    /* Step 5: strict decode of the typed fields ("error" is not one of
     * them: a non-string error is an ignored extra field). */
    const json_t *agent = json_object_get(v, "agent");
    if (agent && !json_is_null(agent)) {
        if (!json_is_object(agent)) {
            err_set(err, "%sagent: expected object, got %s", dec, difc_json_type_name(agent));
            goto out;
        }
        if (!strict_tags(json_object_get(agent, "secrecy"), &out->labels.secrecy, true,
                         "agent.secrecy", err, dec) ||
            !strict_tags(json_object_get(agent, "integrity"), &out->labels.integrity, true,
                         "agent.integrity", err, dec))
            goto out;
    }
    const json_t *np = json_object_get(v, "normalized_policy");
    if (np && !json_is_null(np)) {
        if (!json_is_object(np)) {
            err_set(err, "%snormalized_policy: expected object, got %s", dec, difc_json_type_name(np));
            goto out;
        }
        out->normalized_policy = json_deep_copy(np);
        if (!out->normalized_policy) {
            err_set(err, "out of memory");
            goto out;
        }
    }
    const json_t *m = json_object_get(v, "difc_mode");
    if (m && !json_is_null(m) && !json_is_string(m)) {
        err_set(err, "%sdifc_mode: expected string, got %s", dec, difc_json_type_name(m));
        goto out;
    }
    /* Steps 6–7: blank is missing; otherwise case-insensitive, untrimmed. */
    if (!non_blank(m)) {
        err_set(err, "label_agent response missing difc_mode");
        goto out;
    }
    if (!difc_mode_parse(json_string_value(m), &out->mode, err)) {
        err_prefix(err, "invalid difc_mode from label_agent");
        goto out;
    }
    ok = true;
out:
    json_decref(v);
    if (!ok)
        difc_agent_result_free(out);
    return ok;
}

bool difc_resource_result_parse(const char *bytes, size_t len, difc_resource_t *res,
                                difc_op_t *op, err_t *err)
{
    difc_resource_init(res);
    *op = DIFC_OP_WRITE;
    json_t *v = load(bytes, len, err, "label_resource WASM response");
    if (!v)
        return false;
    const json_t *r = json_object_get(v, "resource");
    if (!json_is_object(r)) {
        json_decref(v);
        return err_set(err, "invalid resource format in guard response");
    }
    if (!difc_resource_from_json(res, r, err)) {
        json_decref(v);
        return false;
    }
    const json_t *o = json_object_get(v, "operation");
    *op = difc_op_from_guard(json_is_string(o) ? json_string_value(o) : NULL);
    json_decref(v);
    return true;
}

/* ------------------------------------------------------ label_response -- */

static void item_free(difc_item_t *it)
{
    json_decref(it->data);
    it->data = NULL;
    difc_resource_free(&it->labels);
}

void difc_response_labels_free(difc_response_labels_t *rl)
{
    for (size_t i = 0; i < rl->n_items; i++)
        item_free(&rl->items[i]);
    free(rl->items);
    for (size_t i = 0; i < rl->n_paths; i++) {
        free(rl->paths[i].path);
        difc_resource_free(&rl->paths[i].labels);
    }
    free(rl->paths);
    difc_resource_free(&rl->default_labels);
    free(rl->items_path);
    memset(rl, 0, sizeof *rl);
}

#define PATH_ERR "failed to parse path labels: failed to parse path labels: "

/* Strict decode of a PathLabelEntry {description?, secrecy, integrity}. */
static bool path_entry(const json_t *v, difc_resource_t *r, const char *where, err_t *err)
{
    difc_resource_init(r);
    if (!json_is_object(v))
        return err_set(err, PATH_ERR "%s: expected object, got %s", where, difc_json_type_name(v));
    const json_t *d = json_object_get(v, "description");
    if (d && !json_is_null(d) && !json_is_string(d))
        return err_set(err, PATH_ERR "%s.description: expected string, got %s", where,
                       difc_json_type_name(d));
    if (!difc_resource_set_description(r, json_is_string(d) ? json_string_value(d) : ""))
        return err_set(err, "out of memory");
    char field[96];
    snprintf(field, sizeof field, "%s.secrecy", where);
    if (!strict_tags(json_object_get(v, "secrecy"), &r->labels.secrecy, false, field, err,
                     PATH_ERR))
        return false;
    snprintf(field, sizeof field, "%s.integrity", where);
    return strict_tags(json_object_get(v, "integrity"), &r->labels.integrity, false, field, err,
                       PATH_ERR);
}

static bool parse_paths(const json_t *v, difc_response_labels_t *out, err_t *err)
{
    out->kind = DIFC_RESPONSE_PATHS;
    const json_t *lp = json_object_get(v, "labeled_paths");
    if (!json_is_null(lp)) {
        if (!json_is_array(lp))
            return err_set(err, PATH_ERR "labeled_paths: expected array, got %s", difc_json_type_name(lp));
        size_t n = json_array_size(lp);
        if (n) {
            out->paths = calloc(n, sizeof *out->paths);
            if (!out->paths)
                return err_set(err, "out of memory");
        }
        size_t i;
        const json_t *e;
        json_array_foreach(lp, i, e) {
            difc_path_label_t *pl = &out->paths[out->n_paths];
            difc_resource_init(&pl->labels);
            if (json_is_null(e)) {
                /* Go decodes null into a zero entry: path "" and empty
                 * labels. Keep it; resolution decides what it matches. */
                pl->path = strdup("");
                if (!pl->path)
                    return err_set(err, "out of memory");
                out->n_paths++;
                continue;
            }
            if (!json_is_object(e))
                return err_set(err, PATH_ERR "labeled_paths[%zu]: expected object, got %s", i,
                               difc_json_type_name(e));
            const json_t *p = json_object_get(e, "path");
            if (p && !json_is_null(p) && !json_is_string(p))
                return err_set(err, PATH_ERR "labeled_paths[%zu].path: expected string, got %s",
                               i, difc_json_type_name(p));
            pl->path = strdup(json_is_string(p) ? json_string_value(p) : "");
            if (!pl->path)
                return err_set(err, "out of memory");
            out->n_paths++;
            const json_t *l = json_object_get(e, "labels");
            char where[48];
            snprintf(where, sizeof where, "labeled_paths[%zu].labels", i);
            if (!l || json_is_null(l))
                continue; /* zero entry: empty labels, description "" */
            if (!path_entry(l, &pl->labels, where, err))
                return false;
        }
    }
    const json_t *dl = json_object_get(v, "default_labels");
    if (dl && !json_is_null(dl)) {
        if (!path_entry(dl, &out->default_labels, "default_labels", err))
            return false;
        out->has_default = true;
    }
    const json_t *ip = json_object_get(v, "items_path");
    if (ip && !json_is_null(ip) && !json_is_string(ip))
        return err_set(err, PATH_ERR "items_path: expected string, got %s", difc_json_type_name(ip));
    out->items_path = strdup(json_is_string(ip) ? json_string_value(ip) : "");
    if (!out->items_path)
        return err_set(err, "out of memory");
    return true;
}

static bool parse_items(const json_t *items, difc_response_labels_t *out, err_t *err)
{
    out->kind = DIFC_RESPONSE_ITEMS;
    size_t n = json_array_size(items);
    out->items = calloc(n, sizeof *out->items);
    if (!out->items)
        return err_set(err, "out of memory");
    size_t i;
    const json_t *e;
    json_array_foreach(items, i, e) {
        if (!json_is_object(e))
            continue; /* spec §2.4: non-object elements are dropped */
        difc_item_t *it = &out->items[out->n_items++];
        difc_resource_init(&it->labels);
        const json_t *d = json_object_get(e, "data");
        it->data = d ? json_deep_copy(d) : json_null();
        if (!it->data)
            return err_set(err, "out of memory");
        const json_t *l = json_object_get(e, "labels");
        /* A missing or non-object labels leaves the item unlabelled; it is
         * denied by filtering (departure 2), never dereferenced. */
        it->has_labels = json_is_object(l);
        if (it->has_labels && !difc_resource_from_json(&it->labels, l, err))
            return false;
    }
    return true;
}

bool difc_response_labels_from_json(const json_t *v, difc_response_labels_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(v))
        return err_set(err, "failed to unmarshal label_response WASM response: expected a JSON "
                            "object, got %s", difc_json_type_name(v));
    bool ok = true;
    if (json_object_get(v, "labeled_paths")) {
        ok = parse_paths(v, out, err);
    } else {
        const json_t *items = json_object_get(v, "items");
        if (json_is_array(items) && json_array_size(items) > 0)
            ok = parse_items(items, out, err);
    }
    if (!ok)
        difc_response_labels_free(out);
    return ok;
}

bool difc_response_labels_parse(const char *bytes, size_t len, difc_response_labels_t *out,
                                err_t *err)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return true; /* no fine-grained labels */
    json_t *v = load(bytes, len, err, "label_response WASM response");
    if (!v)
        return false;
    bool ok = difc_response_labels_from_json(v, out, err);
    json_decref(v);
    return ok;
}
