/*
 * tagset.c — sorted tag sets and the flow-check primitive (spec §3.1, §3.2).
 *
 * A set is a sorted array of owned strings. Sorted storage makes every
 * printed list sorted for free (departure 9) and turns union, intersection
 * and subset into linear merges.
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <stdlib.h>
#include <string.h>

void difc_tagset_init(difc_tagset_t *s)
{
    s->tags = NULL;
    s->len = s->cap = 0;
}

void difc_tagset_free(difc_tagset_t *s)
{
    for (size_t i = 0; i < s->len; i++)
        free(s->tags[i]);
    free(s->tags);
    difc_tagset_init(s);
}

/* Index of `tag`, or of where it would be inserted; *found tells which. */
static size_t find(const difc_tagset_t *s, const char *tag, bool *found)
{
    size_t lo = 0, hi = s->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->tags[mid], tag);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static bool reserve(difc_tagset_t *s, size_t need)
{
    if (need <= s->cap)
        return true;
    size_t cap = s->cap ? s->cap * 2 : 4;
    while (cap < need)
        cap *= 2;
    char **t = realloc(s->tags, cap * sizeof *t);
    if (!t)
        return false;
    s->tags = t;
    s->cap = cap;
    return true;
}

bool difc_tagset_add(difc_tagset_t *s, const char *tag)
{
    bool found;
    size_t at = find(s, tag, &found);
    if (found)
        return true;
    if (!reserve(s, s->len + 1))
        return false;
    char *copy = strdup(tag);
    if (!copy)
        return false;
    memmove(s->tags + at + 1, s->tags + at, (s->len - at) * sizeof *s->tags);
    s->tags[at] = copy;
    s->len++;
    return true;
}

bool difc_tagset_add_trimmed(difc_tagset_t *s, const char *tag)
{
    size_t n;
    tag = difc_trim_space(tag, &n);
    if (n == 0)
        return true;
    char *t = strndup(tag, n);
    if (!t)
        return false;
    bool ok = difc_tagset_add(s, t);
    free(t);
    return ok;
}

bool difc_tagset_contains(const difc_tagset_t *s, const char *tag)
{
    bool found;
    find(s, tag, &found);
    return found;
}

bool difc_tagset_remove(difc_tagset_t *s, const char *tag)
{
    bool found;
    size_t at = find(s, tag, &found);
    if (!found)
        return false;
    free(s->tags[at]);
    memmove(s->tags + at, s->tags + at + 1, (s->len - at - 1) * sizeof *s->tags);
    s->len--;
    return true;
}

bool difc_tagset_copy(difc_tagset_t *dst, const difc_tagset_t *src)
{
    if (dst == src)
        return true;
    difc_tagset_free(dst);
    if (src->len == 0)
        return true;
    if (!reserve(dst, src->len))
        return false;
    for (size_t i = 0; i < src->len; i++) {
        dst->tags[i] = strdup(src->tags[i]);
        if (!dst->tags[i]) {
            dst->len = i;
            difc_tagset_free(dst);
            return false;
        }
    }
    dst->len = src->len;
    return true;
}

/* Merge of two sorted arrays into a fresh one: dst keeps its own strings,
 * new ones are copied from src. On OOM nothing changes. */
bool difc_tagset_union(difc_tagset_t *dst, const difc_tagset_t *src)
{
    if (dst == src || src->len == 0)
        return true;
    size_t cap = dst->len + src->len;
    char **out = malloc(cap * sizeof *out);
    if (!out)
        return false;
    /* Copy src's missing strings first, so an OOM leaves dst untouched. */
    size_t i = 0, j = 0, n = 0;
    while (i < dst->len || j < src->len) {
        int c = i >= dst->len ? 1 : j >= src->len ? -1 : strcmp(dst->tags[i], src->tags[j]);
        if (c < 0) {
            out[n++] = dst->tags[i++];
        } else if (c == 0) {
            out[n++] = dst->tags[i++];
            j++;
        } else {
            char *copy = strdup(src->tags[j++]);
            if (!copy) {
                /* Undo: free only the copies we made (not dst's strings). */
                size_t a = 0;
                for (size_t k = 0; k < n; k++) {
                    if (a < dst->len && out[k] == dst->tags[a])
                        a++;
                    else
                        free(out[k]);
                }
                free(out);
                return false;
            }
            out[n++] = copy;
        }
    }
    free(dst->tags);
    dst->tags = out;
    dst->len = n;
    dst->cap = cap;
    return true;
}

void difc_tagset_intersect(difc_tagset_t *dst, const difc_tagset_t *src)
{
    if (dst == src)
        return;
    size_t i = 0, j = 0, n = 0;
    while (i < dst->len) {
        int c = j >= src->len ? -1 : strcmp(dst->tags[i], src->tags[j]);
        if (c < 0) {
            free(dst->tags[i++]);
        } else if (c == 0) {
            dst->tags[n++] = dst->tags[i++];
            j++;
        } else {
            j++;
        }
    }
    dst->len = n;
}

bool difc_tagset_is_subset(const difc_tagset_t *a, const difc_tagset_t *b)
{
    size_t j = 0;
    for (size_t i = 0; i < a->len; i++) {
        while (j < b->len && strcmp(b->tags[j], a->tags[i]) < 0)
            j++;
        if (j >= b->len || strcmp(b->tags[j], a->tags[i]) != 0)
            return false;
        j++;
    }
    return true;
}

bool difc_tagset_equal(const difc_tagset_t *a, const difc_tagset_t *b)
{
    if (a->len != b->len)
        return false;
    for (size_t i = 0; i < a->len; i++)
        if (strcmp(a->tags[i], b->tags[i]) != 0)
            return false;
    return true;
}

bool difc_tagset_from_json(difc_tagset_t *s, const json_t *array, bool trim)
{
    difc_tagset_free(s);
    if (!array || !json_is_array(array))
        return true;
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v) {
        if (!json_is_string(v))
            continue;
        bool ok = trim ? difc_tagset_add_trimmed(s, json_string_value(v))
                       : difc_tagset_add(s, json_string_value(v));
        if (!ok) {
            difc_tagset_free(s);
            return false;
        }
    }
    return true;
}

json_t *difc_tagset_to_json(const difc_tagset_t *s)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; i < s->len; i++) {
        if (json_array_append_new(a, json_string(s->tags[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

char *difc_tagset_format(const difc_tagset_t *s)
{
    size_t n = 3;
    for (size_t i = 0; i < s->len; i++)
        n += strlen(s->tags[i]) + 1;
    char *out = malloc(n);
    if (!out)
        return NULL;
    char *p = out;
    *p++ = '[';
    for (size_t i = 0; i < s->len; i++) {
        if (i)
            *p++ = ' ';
        size_t l = strlen(s->tags[i]);
        memcpy(p, s->tags[i], l);
        p += l;
    }
    *p++ = ']';
    *p = '\0';
    return out;
}

/* Shared by both kinds: every tag of `need` must be in `have`, unless
 * `have` holds the wildcard. Violations are the tags of `need` missing from
 * `have`. spec: §3.2 — secrecy: need = src, have = target; integrity:
 * need = target, have = src. */
static bool check_covered(const difc_tagset_t *need, const difc_tagset_t *have,
                          difc_tagset_t *violations)
{
    if (violations)
        difc_tagset_free(violations);
    if (difc_tagset_contains(have, DIFC_WILDCARD))
        return true;
    bool ok = true;
    for (size_t i = 0; i < need->len; i++) {
        if (difc_tagset_contains(have, need->tags[i]))
            continue;
        ok = false;
        if (!violations)
            break;
        if (!difc_tagset_add(violations, need->tags[i])) {
            difc_tagset_free(violations);
            return false;
        }
    }
    return ok;
}

bool difc_secrecy_flows(const difc_tagset_t *src, const difc_tagset_t *target,
                        difc_tagset_t *violations)
{
    return check_covered(src, target, violations);
}

bool difc_integrity_flows(const difc_tagset_t *src, const difc_tagset_t *target,
                          difc_tagset_t *violations)
{
    return check_covered(target, src, violations);
}
