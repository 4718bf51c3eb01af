/*
 * collection.c — resolving label_response output against the backend result
 * (spec §2.4 "Path format", §5 cases 26–29, §6.12).
 *
 * The collection works on a private deep copy of the tool result (`root`)
 * so that filtering can remove denied items in place and hand back the
 * backend's own shape (departure 8). When the result is an MCP wrapper
 * whose text content parses as JSON, that inner value (`unwrapped`) is
 * where items_path is looked up; filter.c serialises it back into the text
 * after removing items.
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

void difc_collection_free(difc_collection_t *c)
{
    for (size_t i = 0; i < c->n_items; i++) {
        json_decref(c->items[i].data);
        difc_resource_free(&c->items[i].labels);
    }
    free(c->items);
    json_decref(c->root);
    json_decref(c->unwrapped);
    memset(c, 0, sizeof *c);
}

/* Content items whose text takes part in the unwrap: objects with a string
 * "text" whose type is absent, "", "text" or unknown — image, audio and
 * resource items are skipped (spec §2.4 step 1). */
bool difc_content_item_is_text(const json_t *item)
{
    if (!json_is_object(item) || !json_is_string(json_object_get(item, "text")))
        return false;
    const json_t *t = json_object_get(item, "type");
    if (!json_is_string(t))
        return true;
    const char *s = json_string_value(t);
    return strcmp(s, "image") != 0 && strcmp(s, "audio") != 0 && strcmp(s, "resource") != 0;
}

/* After a parse with JSON_DECODE_INT_AS_REAL: integers that fit 64 bits
 * become integers again, so only the oversized ones stay reals. */
static void reals_back_to_ints(json_t *v)
{
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *e = json_array_get(v, i);
            double d = json_is_real(e) ? json_real_value(e) : 0.5;
            if (d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d)
                json_array_set_new(v, i, json_integer((json_int_t)d));
            else
                reals_back_to_ints(e);
        }
    } else if (json_is_object(v)) {
        const char *k;
        json_t *e;
        void *tmp;
        json_object_foreach_safe(v, tmp, k, e) {
            double d = json_is_real(e) ? json_real_value(e) : 0.5;
            if (d > -9.2e18 && d < 9.2e18 && d == (double)(long long)d)
                json_object_set_new(v, k, json_integer((json_int_t)d));
            else
                reals_back_to_ints(e);
        }
    }
}

/* The parsed concatenated text of an MCP wrapper, or NULL when `v` is not
 * one or its text is not JSON. *holder = the first contributing item. */
static json_t *unwrap_mcp(json_t *v, json_t **holder)
{
    *holder = NULL;
    const json_t *content = json_object_get(v, "content");
    if (!json_is_array(content) || json_array_size(content) == 0)
        return NULL;
    util_buf_t b = {0};
    size_t i;
    json_t *it;
    json_array_foreach(content, i, it) {
        if (!difc_content_item_is_text(it))
            continue;
        if (!*holder)
            *holder = it;
        util_buf_puts(&b, json_string_value(json_object_get(it, "text")));
    }
    if (!*holder || b.oom) {
        util_buf_free(&b);
        *holder = NULL;
        return NULL;
    }
    json_t *inner = json_loadb(b.p ? b.p : "", b.len, JSON_DECODE_ANY, NULL);
    /* jansson rejects integers beyond 64 bits, which Go (float64) reads. A
     * text the guard parsed must not silently become "not JSON" here: with
     * an empty items_path that would turn a labelled list into one item
     * carrying the default labels. Read such numbers as reals instead. */
    if (!inner) {
        inner = json_loadb(b.p ? b.p : "", b.len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, NULL);
        reals_back_to_ints(inner);
    }
    util_buf_free(&b);
    if (!inner)
        *holder = NULL;
    return inner;
}

/* Go's strconv.Atoi: optional sign, decimal digits, fits an int. */
static bool parse_index(const char *s, long *out)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p == '\0')
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    errno = 0;
    long v = strtol(s, NULL, 10);
    if (errno == ERANGE || v > INT_MAX || v < INT_MIN)
        return false;
    *out = v;
    return true;
}

/* Splits a JSON pointer (leading '/' dropped; "" and "/" give no segments),
 * unescaping ~1 then ~0 as upstream does. Segments are malloc'd into *segs;
 * returns the count or -1 on OOM. */
static long split_pointer(const char *path, char ***segs)
{
    *segs = NULL;
    if (path[0] == '\0' || strcmp(path, "/") == 0)
        return 0;
    if (path[0] == '/')
        path++;
    long n = 1;
    for (const char *p = path; *p; p++)
        n += *p == '/';
    char **out = calloc((size_t)n, sizeof *out);
    if (!out)
        return -1;
    const char *start = path;
    for (long i = 0; i < n; i++) {
        const char *end = strchr(start, '/');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        char *seg = malloc(len + 1);
        if (!seg) {
            for (long j = 0; j < i; j++)
                free(out[j]);
            free(out);
            return -1;
        }
        /* ~1 -> '/', then ~0 -> '~' (two passes, like upstream). */
        size_t k = 0;
        for (size_t j = 0; j < len; j++) {
            if (start[j] == '~' && j + 1 < len && start[j + 1] == '1') {
                seg[k++] = '/';
                j++;
            } else {
                seg[k++] = start[j];
            }
        }
        seg[k] = '\0';
        char *w = seg;
        for (char *r = seg; *r; r++) {
            if (r[0] == '~' && r[1] == '0') {
                *w++ = '~';
                r++;
            } else {
                *w++ = *r;
            }
        }
        *w = '\0';
        out[i] = seg;
        start = end ? end + 1 : start + len;
    }
    *segs = out;
    return n;
}

static void free_segs(char **segs, long n)
{
    for (long i = 0; i < n; i++)
        free(segs[i]);
    free(segs);
}

/* Walks items_path through `data` to the items array (spec §2.4 step 2). */
static bool find_items(json_t *data, const char *items_path, json_t **array, err_t *err)
{
    char **segs;
    long n = split_pointer(items_path, &segs);
    if (n < 0)
        return err_set(err, "out of memory");
    json_t *cur = data;
    bool ok = true;
    for (long i = 0; ok && i < n; i++) {
        const char *part = segs[i];
        if (part[0] == '\0')
            continue;
        if (json_is_object(cur)) {
            json_t *next = json_object_get(cur, part);
            if (!next)
                ok = err_set(err, "path \"%s\" not found in response", items_path);
            cur = next;
        } else if (json_is_array(cur)) {
            long idx;
            if (!parse_index(part, &idx))
                ok = err_set(err, "expected array index at \"%s\", got \"%s\"", items_path, part);
            else if (idx < 0 || (size_t)idx >= json_array_size(cur))
                ok = err_set(err, "array index %ld out of bounds", idx);
            else
                cur = json_array_get(cur, (size_t)idx);
        } else {
            ok = err_set(err, "cannot navigate path \"%s\": unexpected type at \"%s\"", items_path,
                         part);
        }
    }
    free_segs(segs, n);
    if (!ok)
        return false;
    if (!json_is_array(cur))
        return err_set(err, "items_path \"%s\" does not point to an array", items_path);
    *array = cur;
    return true;
}

/* The item index a labelled path names, or -1 when it names none: the
 * path must lie under items_path and its next segment must be an integer
 * (spec §2.4 step 3; §5 case 27). */
long difc_path_item_index(const char *path, const char *items_path)
{
    util_buf_t p = {0}, ip = {0};
    if (path[0] != '/')
        util_buf_puts(&p, "/");
    util_buf_puts(&p, path);
    if (items_path[0] != '\0' && items_path[0] != '/')
        util_buf_puts(&ip, "/");
    util_buf_puts(&ip, items_path);
    long idx = -1;
    if (p.oom || ip.oom)
        goto out;
    const char *np = p.p, *nip = ip.p ? ip.p : "";
    const char *remainder;
    size_t il = strlen(nip);
    if (il == 0)
        remainder = np;
    else if (strncmp(np, nip, il) == 0 && np[il] == '/')
        remainder = np + il;
    else
        goto out;
    char **segs;
    long n = split_pointer(remainder, &segs);
    long v;
    if (n > 0 && parse_index(segs[0], &v))
        idx = v < 0 ? -1 : v;
    if (n > 0)
        free_segs(segs, n);
out:
    util_buf_free(&p);
    util_buf_free(&ip);
    return idx;
}

static bool set_item(difc_item_t *it, json_t *data, const difc_resource_t *labels)
{
    it->data = json_incref(data);
    difc_resource_init(&it->labels);
    if (labels) {
        it->has_labels = true;
        return difc_resource_copy(&it->labels, labels);
    }
    /* Neither a path label nor default labels: upstream gives empty labels
     * described "unlabeled", which any agent with empty integrity could
     * read. Flowgate keeps the description but marks the item unlabelled,
     * so filtering denies it (departure 2: fail closed). */
    it->has_labels = false;
    return difc_resource_set_description(&it->labels, "unlabeled");
}

static bool resolve_paths(const difc_response_labels_t *rl, difc_collection_t *c, err_t *err)
{
    json_t *holder;
    c->unwrapped = unwrap_mcp(c->root, &holder);
    c->text_holder = holder;
    json_t *data = c->unwrapped ? c->unwrapped : c->root;
    const char *items_path = rl->items_path ? rl->items_path : "";
    const difc_resource_t *defaults = rl->has_default ? &rl->default_labels : NULL;

    json_t *array = NULL;
    if (items_path[0] == '\0') {
        if (json_is_array(data))
            array = data;
    } else if (!find_items(data, items_path, &array, err)) {
        return err_prefix(err, "failed to resolve path labels");
    }

    if (!array) {
        /* Not a collection: one item, the whole (still wrapped) result,
         * with the default labels; labeled_paths do not apply (§5 case 29). */
        c->whole = true;
        c->items = calloc(1, sizeof *c->items);
        if (!c->items)
            return err_set(err, "out of memory");
        c->n_items = 1;
        if (!set_item(&c->items[0], c->root, defaults))
            return err_set(err, "out of memory");
        return true;
    }

    c->array = array;
    size_t n = json_array_size(array);
    const difc_resource_t **chosen = calloc(n ? n : 1, sizeof *chosen);
    c->items = calloc(n ? n : 1, sizeof *c->items);
    if (!chosen || !c->items) {
        free(chosen);
        return err_set(err, "out of memory");
    }
    /* Later entries win when two name the same index. */
    for (size_t i = 0; i < rl->n_paths; i++) {
        long idx = difc_path_item_index(rl->paths[i].path, items_path);
        if (idx >= 0 && (size_t)idx < n)
            chosen[idx] = &rl->paths[i].labels;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        ok = set_item(&c->items[i], json_array_get(array, i), chosen[i] ? chosen[i] : defaults);
        c->n_items = i + 1;
    }
    free(chosen);
    return ok ? true : err_set(err, "out of memory");
}

static bool resolve_items(const difc_response_labels_t *rl, const json_t *tool_result,
                          difc_collection_t *c, err_t *err)
{
    c->from_items = true;
    c->items = calloc(rl->n_items ? rl->n_items : 1, sizeof *c->items);
    if (!c->items)
        return err_set(err, "out of memory");
    for (size_t i = 0; i < rl->n_items; i++) {
        difc_item_t *it = &c->items[i];
        difc_resource_init(&it->labels);
        it->data = json_incref(rl->items[i].data);
        it->has_labels = rl->items[i].has_labels;
        c->n_items = i + 1;
        if (!difc_resource_copy(&it->labels, &rl->items[i].labels))
            return err_set(err, "out of memory");
    }
    /* The Rust guard's singleton fallback labels the entire tool_result as
     * one item (§2.4); recognising it lets an allowed item keep the
     * backend's shape instead of becoming [<wrapper>] (§6.3). */
    c->whole = rl->n_items == 1 && json_equal(rl->items[0].data, (json_t *)tool_result);
    return true;
}

bool difc_collection_resolve(const difc_response_labels_t *rl, const json_t *tool_result,
                             difc_collection_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    json_t *null = json_null();
    if (!tool_result)
        tool_result = null;
    out->root = json_deep_copy(tool_result);
    if (!out->root)
        return err_set(err, "out of memory");
    bool ok;
    switch (rl ? rl->kind : DIFC_RESPONSE_NONE) {
    case DIFC_RESPONSE_PATHS:
        ok = resolve_paths(rl, out, err);
        break;
    case DIFC_RESPONSE_ITEMS:
        ok = resolve_items(rl, tool_result, out, err);
        break;
    default:
        ok = err_set(err, "no response labels to resolve");
        break;
    }
    if (!ok)
        difc_collection_free(out);
    return ok;
}
