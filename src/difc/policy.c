/*
 * policy.c — guard policies: parsing and validating allow-only and
 * write-sink (spec §3.10), the per-server guard-policies forms, and the
 * allow-only -> write-sink accept mapping (§3.9). Pure logic on jansson
 * values; messages are upstream's (C:guard_policy*.go). Type errors that
 * upstream reports in Go's json wording carry our own wording after the
 * same "invalid allow-only.<field>: " prefix.
 */
#include "difc/difc.h"
#include "difc/difc_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const LEVELS[] = {"none", "unapproved", "approved", "merged"};

void difc_strlist_free(difc_strlist_t *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

static bool strlist_push(difc_strlist_t *l, const char *s, size_t n)
{
    char **items = realloc(l->items, (l->len + 1) * sizeof *items);
    if (!items)
        return false;
    l->items = items;
    char *c = strndup(s, n);
    if (!c)
        return false;
    l->items[l->len++] = c;
    return true;
}

static bool strlist_has(const difc_strlist_t *l, const char *s, bool fold)
{
    for (size_t i = 0; i < l->len; i++)
        if (fold ? strcasecmp(l->items[i], s) == 0 : strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

/* Lower-cased trimmed copy (NULL on OOM). */
static char *lower_trimmed(const char *s)
{
    const char *t;
    size_t n;
    t = difc_trim_space(s, &n);
    char *out = strndup(t, n);
    if (out)
        for (char *p = out; *p; p++)
            *p = (char)tolower((unsigned char)*p);
    return out;
}

void difc_policy_free(difc_policy_t *p)
{
    difc_allow_only_t *a = &p->allow_only;
    difc_strlist_free(&a->scopes);
    free(a->min_integrity);
    for (size_t i = 0; i < a->n_limits; i++)
        free(a->limits[i].tool);
    free(a->limits);
    difc_strlist_t *lists[] = {&a->blocked_users, &a->approval_labels, &a->trusted_users,
                               &a->refusal_labels, &a->endorsement_reactions,
                               &a->disapproval_reactions};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        difc_strlist_free(lists[i]);
    free(a->disapproval_integrity);
    free(a->endorser_min_integrity);
    free(a->promotion_label);
    free(a->demotion_label);
    difc_strlist_free(&p->write_sink.accept);
    free(p->write_sink.sink_visibility);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ scopes -- */

static bool token_ok(const char *s, size_t n, size_t max)
{
    if (n < 1 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* owner/ + (star | repo | prefix + star): lower-case [a-z0-9_-], owner at
 * most 39 characters, repo at most 100, one star only at the end. */
static bool repo_scope_ok(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash || strchr(slash + 1, '/'))
        return false;
    if (!token_ok(s, (size_t)(slash - s), 39))
        return false;
    const char *repo = slash + 1;
    size_t n = strlen(repo);
    if (n == 1 && repo[0] == '*')
        return true;
    const char *star = strchr(repo, '*');
    if (star && star != repo + n - 1)
        return false; /* misplaced or repeated star */
    if (star)
        n--;
    return token_ok(repo, n, 100);
}

static bool owner_ok(const char *s)
{
    return token_ok(s, strlen(s), 39);
}

/* ----------------------------------------------------- allow-only parts -- */

/* An optional level field: absent/blank allowed when `optional`. */
static bool level_field(const char *field, const char *raw, bool optional, char **out, err_t *err)
{
    char *v = lower_trimmed(raw ? raw : "");
    if (!v)
        return err_set(err, "out of memory");
    if (*v == '\0' && optional) {
        free(v);
        *out = NULL;
        return true;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, LEVELS[i]) == 0) {
            *out = v;
            return true;
        }
    }
    free(v);
    return err_set(err, "%s must be one of: none, unapproved, approved, merged", field);
}

/* A []string field: absent/null is empty; otherwise an array of strings
 * (null elements read as "", as in Go). Returns the raw strings. */
static bool string_array(const char *field, const json_t *v, difc_strlist_t *raw, err_t *err)
{
    if (!v || json_is_null(v))
        return true;
    if (!json_is_array(v))
        return err_set(err, "invalid allow-only.%s: expected array of strings, got %s", field,
                       difc_json_type_name(v));
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_null(e) && !json_is_string(e))
            return err_set(err, "invalid allow-only.%s: expected array of strings, got %s at index %zu",
                           field, difc_json_type_name(e), i);
        const char *s = json_is_string(e) ? json_string_value(e) : "";
        if (!strlist_push(raw, s, strlen(s)))
            return err_set(err, "out of memory");
    }
    return true;
}

/* normalizeStringSlice: trim, reject blanks, de-duplicate by case-folded
 * key; `upper` stores the upper-cased key (reactions), else the trimmed
 * original spelling. */
static bool normalize_list(const char *field, const difc_strlist_t *raw, bool upper,
                           difc_strlist_t *out, err_t *err)
{
    for (size_t i = 0; i < raw->len; i++) {
        const char *t;
        size_t n;
        t = difc_trim_space(raw->items[i], &n);
        if (n == 0)
            return err_set(err, "allow-only.%s entries must not be empty", field);
        char *v = strndup(t, n);
        if (!v)
            return err_set(err, "out of memory");
        if (upper)
            for (char *p = v; *p; p++)
                *p = (char)toupper((unsigned char)*p);
        bool dup = strlist_has(out, v, true);
        bool ok = dup || strlist_push(out, v, strlen(v));
        free(v);
        if (!ok)
            return err_set(err, "out of memory");
    }
    return true;
}

/* refusal-labels: an array of strings, or one string split on ',' and
 * '\n' with blanks dropped. */
static bool refusal_labels(const json_t *v, difc_strlist_t *raw, err_t *err)
{
    if (!v || json_is_null(v))
        return true;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        bool all_strings = true;
        json_array_foreach(v, i, e) all_strings &= json_is_string(e) || json_is_null(e);
        if (all_strings)
            return string_array("refusal-labels", v, raw, err);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            size_t n = strcspn(s, ",\n");
            const char *t;
            size_t tn;
            char *part = strndup(s, n);
            if (!part)
                return err_set(err, "out of memory");
            t = difc_trim_space(part, &tn);
            bool ok = tn == 0 || strlist_push(raw, t, tn);
            free(part);
            if (!ok)
                return err_set(err, "out of memory");
            s += n;
            if (*s)
                s++;
        }
        if (raw->len == 0)
            return err_set(err, "invalid allow-only.refusal-labels: must include at least one label");
        return true;
    }
    return err_set(err, "invalid allow-only.refusal-labels: expected array of strings or "
                        "comma/newline-delimited expression");
}

static bool string_field(const char *field, const json_t *v, const char **out, err_t *err)
{
    *out = NULL;
    if (!v || json_is_null(v))
        return true;
    if (!json_is_string(v))
        return err_set(err, "invalid allow-only.%s: expected string, got %s", field, difc_json_type_name(v));
    *out = json_string_value(v);
    return true;
}

static bool tool_limits(const json_t *v, difc_allow_only_t *a, err_t *err)
{
    if (!v || json_is_null(v))
        return true;
    if (!json_is_object(v))
        return err_set(err, "invalid allow-only.tool-call-limits: expected object of integers, got %s",
                       difc_json_type_name(v));
    size_t n = json_object_size(v);
    a->limits = calloc(n ? n : 1, sizeof *a->limits);
    if (!a->limits)
        return err_set(err, "out of memory");
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        long long lim;
        if (json_is_integer(val))
            lim = json_integer_value(val);
        else
            return err_set(err, "invalid allow-only.tool-call-limits: value for \"%s\" must be an integer, got %s",
                           key, difc_json_type_name(val));
        const char *t;
        size_t tn;
        t = difc_trim_space(key, &tn);
        if (tn == 0)
            return err_set(err, "allow-only.tool-call-limits keys must not be empty");
        char *name = strndup(t, tn);
        if (!name)
            return err_set(err, "out of memory");
        if (lim < 0) {
            err_set(err, "allow-only.tool-call-limits[\"%s\"] must be >= 0", name);
            free(name);
            return false;
        }
        a->limits[a->n_limits].tool = name;
        a->limits[a->n_limits].max = lim;
        a->n_limits++;
    }
    return true;
}

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

static bool repos_field(const json_t *v, difc_allow_only_t *a, err_t *err)
{
    if (json_is_string(v)) {
        char *s = lower_trimmed(json_string_value(v));
        if (!s)
            return err_set(err, "out of memory");
        bool all = strcmp(s, "all") == 0, pub = strcmp(s, "public") == 0;
        free(s);
        if (!all && !pub)
            return err_set(err, "allow-only.repos string must be 'all' or 'public'");
        a->repos_kind = all ? DIFC_REPOS_ALL : DIFC_REPOS_PUBLIC;
        return true;
    }
    if (!json_is_array(v))
        return err_set(err, "allow-only.repos must be 'all', 'public', or a non-empty array of repo "
                            "scope strings");
    if (json_array_size(v) == 0)
        return err_set(err, "allow-only.repos array must contain at least one scope");
    a->repos_kind = DIFC_REPOS_SCOPES;
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (!json_is_string(e))
            return err_set(err, "allow-only.repos array values must be strings");
        const char *t;
        size_t n;
        t = difc_trim_space(json_string_value(e), &n);
        if (n == 0)
            return err_set(err, "allow-only.repos scope entries must not be empty");
        char *s = strndup(t, n);
        if (!s)
            return err_set(err, "out of memory");
        if (!repo_scope_ok(s)) {
            err_set(err, "allow-only.repos scope \"%s\" is invalid; expected owner/*, owner/repo, or owner/re*", s);
            free(s);
            return false;
        }
        bool dup = strlist_has(&a->scopes, s, false);
        bool ok = !dup && strlist_push(&a->scopes, s, n);
        free(s);
        if (dup)
            return err_set(err, "allow-only.repos must not contain duplicates");
        if (!ok)
            return err_set(err, "out of memory");
    }
    qsort(a->scopes.items, a->scopes.len, sizeof *a->scopes.items, cmp_str);
    return true;
}

/* The keys of an allow-only object, matched case-insensitively. */
enum {
    K_REPOS, K_MIN, K_LIMITS, K_BLOCKED, K_REFUSAL, K_APPROVAL, K_TRUSTED, K_ENDORSE, K_DISAPPROVE,
    K_DIS_INT, K_ENDORSER_MIN, K_PROMO, K_DEMO, K_COUNT
};
static const char *const ALLOW_KEYS[K_COUNT] = {
    "repos", "min-integrity", "tool-call-limits", "blocked-users", "refusal-labels",
    "approval-labels", "trusted-users", "endorsement-reactions", "disapproval-reactions",
    "disapproval-integrity", "endorser-min-integrity", "promotion-label", "demotion-label",
};

static bool parse_allow_only(const json_t *obj, difc_allow_only_t *a, err_t *err)
{
    if (!json_is_object(obj))
        return err_set(err, "invalid allow-only: expected object, got %s", difc_json_type_name(obj));
    const json_t *f[K_COUNT] = {0};
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        int k = -1;
        if (strcasecmp(key, "integrity") == 0)
            k = K_MIN; /* legacy alias */
        for (int i = 0; k < 0 && i < K_COUNT; i++)
            if (strcasecmp(key, ALLOW_KEYS[i]) == 0)
                k = i;
        if (k < 0)
            return err_set(err, "allow-only contains unsupported field \"%s\"", key);
        f[k] = val;
    }
    /* Unmarshal stage: types, then the two required fields. */
    const json_t *mi = f[K_MIN];
    if (mi && !json_is_null(mi) && !json_is_string(mi))
        return err_set(err, "invalid allow-only.min-integrity: expected string, got %s", difc_json_type_name(mi));
    difc_strlist_t blocked = {0}, refusal = {0}, approval = {0}, trusted = {0}, endorse = {0},
                   disapprove = {0};
    const char *dis_int = NULL, *endorser_min = NULL, *promo = NULL, *demo = NULL;
    bool ok = tool_limits(f[K_LIMITS], a, err) &&
              string_array("blocked-users", f[K_BLOCKED], &blocked, err) &&
              refusal_labels(f[K_REFUSAL], &refusal, err) &&
              string_array("approval-labels", f[K_APPROVAL], &approval, err) &&
              string_array("trusted-users", f[K_TRUSTED], &trusted, err) &&
              string_array("endorsement-reactions", f[K_ENDORSE], &endorse, err) &&
              string_array("disapproval-reactions", f[K_DISAPPROVE], &disapprove, err) &&
              string_field("disapproval-integrity", f[K_DIS_INT], &dis_int, err) &&
              string_field("endorser-min-integrity", f[K_ENDORSER_MIN], &endorser_min, err) &&
              string_field("promotion-label", f[K_PROMO], &promo, err) &&
              string_field("demotion-label", f[K_DEMO], &demo, err);
    if (ok && (!f[K_REPOS] || json_is_null(f[K_REPOS])))
        ok = err_set(err, "allow-only must include repos");
    const char *t;
    size_t tn;
    t = difc_trim_space(json_is_string(mi) ? json_string_value(mi) : "", &tn);
    if (ok && tn == 0)
        ok = err_set(err, "allow-only must include min-integrity");

    /* Validation stage, upstream's order (NormalizeGuardPolicy). */
    ok = ok && level_field("allow-only.min-integrity", json_string_value(mi), false, &a->min_integrity, err);
    ok = ok && normalize_list("blocked-users", &blocked, false, &a->blocked_users, err) &&
         normalize_list("refusal-labels", &refusal, false, &a->refusal_labels, err) &&
         normalize_list("approval-labels", &approval, false, &a->approval_labels, err) &&
         normalize_list("trusted-users", &trusted, false, &a->trusted_users, err) &&
         normalize_list("endorsement-reactions", &endorse, true, &a->endorsement_reactions, err) &&
         normalize_list("disapproval-reactions", &disapprove, true, &a->disapproval_reactions, err) &&
         level_field("allow-only.disapproval-integrity", dis_int, true, &a->disapproval_integrity, err) &&
         level_field("allow-only.endorser-min-integrity", endorser_min, true, &a->endorser_min_integrity,
                     err);
    const char *labels[2] = {promo, demo};
    char **dst[2] = {&a->promotion_label, &a->demotion_label};
    for (int i = 0; ok && i < 2; i++) {
        t = difc_trim_space(labels[i] ? labels[i] : "", &tn);
        if (tn > 0 && !(*dst[i] = strndup(t, tn)))
            ok = err_set(err, "out of memory");
    }
    ok = ok && repos_field(f[K_REPOS], a, err);
    difc_strlist_free(&blocked);
    difc_strlist_free(&refusal);
    difc_strlist_free(&approval);
    difc_strlist_free(&trusted);
    difc_strlist_free(&endorse);
    difc_strlist_free(&disapprove);
    return ok;
}

/* ------------------------------------------------------------ write-sink -- */

static bool accept_entry_ok(const char *entry, err_t *err)
{
    const char *scope = entry;
    const char *colon = strchr(entry, ':');
    if (colon && colon > entry) {
        size_t vn = (size_t)(colon - entry);
        bool vis_ok = (vn == 7 && strncmp(entry, "private", 7) == 0) ||
                      (vn == 6 && strncmp(entry, "public", 6) == 0) ||
                      (vn == 8 && strncmp(entry, "internal", 8) == 0);
        if (!vis_ok)
            return err_set(err, "write-sink.accept entry \"%s\" is invalid: visibility prefix must be "
                                "private, public, or internal; got \"%.*s\"", entry, (int)vn, entry);
        scope = colon + 1;
    }
    if (!repo_scope_ok(scope) && !owner_ok(scope))
        return err_set(err, "write-sink.accept entry \"%s\" is invalid: scope \"%s\" is invalid; "
                            "expected owner, owner/*, owner/repo, or owner/re*", entry, scope);
    return true;
}

static bool parse_write_sink(const json_t *obj, difc_write_sink_t *ws, err_t *err)
{
    if (!json_is_object(obj))
        return err_set(err, "invalid write-sink: expected object, got %s", difc_json_type_name(obj));
    const json_t *accept = NULL, *vis = NULL;
    const char *key;
    const json_t *val;
    /* Go decodes into a struct: field names match case-insensitively and
     * unknown keys are ignored. */
    json_object_foreach((json_t *)obj, key, val) {
        if (strcasecmp(key, "accept") == 0)
            accept = val;
        else if (strcasecmp(key, "sink-visibility") == 0)
            vis = val;
    }
    difc_strlist_t raw = {0};
    if (accept && !json_is_null(accept)) {
        if (!json_is_array(accept))
            return err_set(err, "invalid write-sink.accept: expected array of strings, got %s",
                           difc_json_type_name(accept));
        size_t i;
        const json_t *e;
        json_array_foreach(accept, i, e) {
            if (!json_is_string(e) && !json_is_null(e)) {
                difc_strlist_free(&raw);
                return err_set(err, "invalid write-sink.accept: expected array of strings, got %s at index %zu",
                               difc_json_type_name(e), i);
            }
            const char *s = json_is_string(e) ? json_string_value(e) : "";
            if (!strlist_push(&raw, s, strlen(s))) {
                difc_strlist_free(&raw);
                return err_set(err, "out of memory");
            }
        }
    }
    if (vis && !json_is_null(vis) && !json_is_string(vis)) {
        difc_strlist_free(&raw);
        return err_set(err, "invalid write-sink.sink-visibility: expected string, got %s", difc_json_type_name(vis));
    }
    bool ok = true;
    if (raw.len == 0)
        ok = err_set(err, "write-sink.accept must contain at least one entry");
    for (size_t i = 0; ok && i < raw.len; i++) {
        const char *t;
        size_t n;
        t = difc_trim_space(raw.items[i], &n);
        char *e = strndup(t, n);
        if (!e) {
            ok = err_set(err, "out of memory");
            break;
        }
        if (n == 0)
            ok = err_set(err, "write-sink.accept entries must not be empty");
        else if (strcmp(e, "*") == 0 && raw.len != 1)
            ok = err_set(err, "write-sink.accept wildcard \"*\" must be the only entry");
        else if (strlist_has(&ws->accept, e, false))
            ok = err_set(err, "write-sink.accept must not contain duplicates");
        else if (strcmp(e, "*") != 0)
            ok = accept_entry_ok(e, err);
        if (ok && !strlist_push(&ws->accept, e, n))
            ok = err_set(err, "out of memory");
        free(e);
    }
    difc_strlist_free(&raw);
    if (ok && json_is_string(vis)) {
        char *v = lower_trimmed(json_string_value(vis));
        if (!v)
            return err_set(err, "out of memory");
        if (*v == '\0') {
            free(v);
        } else if (strcmp(v, "public") && strcmp(v, "private") && strcmp(v, "internal")) {
            free(v);
            ok = err_set(err, "write-sink.sink-visibility must be one of: public, private, internal");
        } else {
            ws->sink_visibility = v;
        }
    }
    return ok;
}

/* ---------------------------------------------------------------- policy -- */

bool difc_policy_parse(const json_t *obj, difc_policy_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj))
        return err_set(err, "policy must be a JSON object, got %s", obj ? difc_json_type_name(obj) : "nothing");
    const json_t *ao = NULL, *ws = NULL;
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)obj, key, val) {
        if (strcasecmp(key, "allow-only") == 0 || strcasecmp(key, "allowonly") == 0)
            ao = val;
        else if (strcasecmp(key, "write-sink") == 0 || strcasecmp(key, "writesink") == 0)
            ws = val;
        else
            return err_set(err, "policy contains unsupported field \"%s\"", key);
    }
    /* Go's RawMessage of a JSON null is "null", which counts as present. */
    if (!ao && !ws)
        return err_set(err, "policy must include allow-only or write-sink");
    if (ao && ws)
        return err_set(err, "policy must include either allow-only or write-sink, not both");
    bool ok;
    if (ao) {
        out->kind = DIFC_POLICY_ALLOW_ONLY;
        ok = parse_allow_only(ao, &out->allow_only, err);
    } else {
        out->kind = DIFC_POLICY_WRITE_SINK;
        ok = parse_write_sink(ws, &out->write_sink, err);
    }
    if (!ok)
        difc_policy_free(out);
    return ok;
}

static bool has_policy_key(const json_t *m)
{
    return json_object_get(m, "allow-only") || json_object_get(m, "allowonly") ||
           json_object_get(m, "write-sink") || json_object_get(m, "writesink");
}

/* ParsePolicyMap: the modern form or the legacy flat {repos, min-integrity}.
 * *found false = no policy in this map. */
static bool parse_policy_map(const json_t *m, difc_policy_t *out, bool *found, err_t *err)
{
    *found = false;
    if (json_object_size(m) == 0)
        return true;
    if (has_policy_key(m)) {
        *found = true;
        return difc_policy_parse(m, out, err) ? true : err_prefix(err, "invalid server guard policy");
    }
    const json_t *repos = json_object_get(m, "repos");
    if (!repos)
        return true;
    const json_t *integ = json_object_get(m, "min-integrity");
    if (!integ)
        integ = json_object_get(m, "integrity");
    if (!integ)
        return err_set(err, "invalid server guard policy: repos specified without min-integrity");
    /* Upstream stringifies the integrity value with %v. */
    json_t *lvl;
    if (json_is_string(integ)) {
        lvl = json_incref((json_t *)integ);
    } else {
        char *s = json_dumps(integ, JSON_ENCODE_ANY | JSON_COMPACT);
        lvl = json_string(s ? s : "");
        free(s);
    }
    json_t *ao = json_object();
    json_t *pol = json_object();
    bool ok = lvl && ao && pol && json_object_set(ao, "repos", (json_t *)repos) == 0 &&
              json_object_set(ao, "min-integrity", lvl) == 0 &&
              json_object_set(pol, "allow-only", ao) == 0;
    json_decref(lvl);
    json_decref(ao);
    if (!ok) {
        json_decref(pol);
        return err_set(err, "out of memory");
    }
    *found = true;
    ok = difc_policy_parse(pol, out, err);
    json_decref(pol);
    return ok ? true : err_prefix(err, "invalid server guard policy");
}

bool difc_policy_parse_server(const char *server_id, const json_t *raw, difc_policy_t *out,
                              bool *found, err_t *err)
{
    memset(out, 0, sizeof *out);
    *found = false;
    if (!json_is_object(raw) || json_object_size(raw) == 0)
        return true;
    if (!parse_policy_map(raw, out, found, err))
        return false;
    if (*found)
        return true;
    const json_t *nested = server_id ? json_object_get(raw, server_id) : NULL;
    if (nested) {
        if (!json_is_object(nested))
            return err_set(err, "invalid guard policy for server '%s': expected object", server_id);
        if (!parse_policy_map(nested, out, found, err))
            return false;
        if (*found)
            return true;
    }
    if (json_object_size(raw) == 1) {
        const char *key;
        const json_t *val;
        json_object_foreach((json_t *)raw, key, val) {
            if (!json_is_object(val))
                continue;
            if (!parse_policy_map(val, out, found, err))
                return false;
            if (*found)
                return true;
        }
    }
    return true;
}

static json_t *strlist_json(const difc_strlist_t *l)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < l->len; i++)
        if (json_array_append_new(a, json_string(l->items[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

json_t *difc_policy_to_json(const difc_policy_t *p)
{
    json_t *root = json_object(), *body = json_object();
    bool ok = root && body;
    if (ok && p->kind == DIFC_POLICY_WRITE_SINK) {
        ok = json_object_set_new(body, "accept", strlist_json(&p->write_sink.accept)) == 0;
        if (ok && p->write_sink.sink_visibility)
            ok = json_object_set_new(body, "sink-visibility",
                                     json_string(p->write_sink.sink_visibility)) == 0;
        ok = ok && json_object_set(root, "write-sink", body) == 0;
    } else if (ok) {
        const difc_allow_only_t *a = &p->allow_only;
        json_t *repos = a->repos_kind == DIFC_REPOS_ALL      ? json_string("all")
                        : a->repos_kind == DIFC_REPOS_PUBLIC ? json_string("public")
                                                             : strlist_json(&a->scopes);
        ok = json_object_set_new(body, "repos", repos) == 0 &&
             json_object_set_new(body, "min-integrity",
                                 json_string(a->min_integrity ? a->min_integrity : "")) == 0;
        if (ok && a->n_limits) {
            json_t *lim = json_object();
            for (size_t i = 0; lim && i < a->n_limits; i++)
                if (json_object_set_new(lim, a->limits[i].tool, json_integer(a->limits[i].max)) != 0) {
                    json_decref(lim);
                    lim = NULL;
                }
            ok = json_object_set_new(body, "tool-call-limits", lim) == 0;
        }
        struct { const char *k; const difc_strlist_t *l; } lists[] = {
            {"blocked-users", &a->blocked_users}, {"refusal-labels", &a->refusal_labels},
            {"approval-labels", &a->approval_labels}, {"trusted-users", &a->trusted_users},
            {"endorsement-reactions", &a->endorsement_reactions},
            {"disapproval-reactions", &a->disapproval_reactions},
        };
        for (size_t i = 0; ok && i < sizeof lists / sizeof *lists; i++)
            if (lists[i].l->len)
                ok = json_object_set_new(body, lists[i].k, strlist_json(lists[i].l)) == 0;
        struct { const char *k; const char *v; } strs[] = {
            {"disapproval-integrity", a->disapproval_integrity},
            {"endorser-min-integrity", a->endorser_min_integrity},
            {"promotion-label", a->promotion_label},
            {"demotion-label", a->demotion_label},
        };
        for (size_t i = 0; ok && i < sizeof strs / sizeof *strs; i++)
            if (strs[i].v)
                ok = json_object_set_new(body, strs[i].k, json_string(strs[i].v)) == 0;
        ok = ok && json_object_set(root, "allow-only", body) == 0;
    }
    json_decref(body);
    if (!ok) {
        json_decref(root);
        return NULL;
    }
    return root;
}

bool difc_allow_only_accept_rules(const difc_allow_only_t *ao, difc_strlist_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    if (ao->repos_kind != DIFC_REPOS_SCOPES)
        return strlist_push(out, "*", 1) ? true : err_set(err, "out of memory");
    for (size_t i = 0; i < ao->scopes.len; i++) {
        const char *s = ao->scopes.items[i];
        size_t n = strlen(s);
        util_buf_t b = {0};
        /* "O/" + "*" (owner wildcard) becomes the bare owner; exact and
         * prefix scopes are kept as they are. */
        if (n >= 2 && strcmp(s + n - 2, "/*") == 0)
            util_buf_printf(&b, "private:%.*s", (int)(n - 2), s);
        else
            util_buf_printf(&b, "private:%s", s);
        char *e = util_buf_take(&b);
        bool ok = e && strlist_push(out, e, strlen(e));
        free(e);
        if (!ok) {
            difc_strlist_free(out);
            return err_set(err, "out of memory");
        }
    }
    return true;
}

bool difc_write_sink_covers(const difc_write_sink_t *ws, const difc_allow_only_t *ao)
{
    if (ws->accept.len == 1 && strcmp(ws->accept.items[0], "*") == 0)
        return true;
    difc_strlist_t need;
    if (!difc_allow_only_accept_rules(ao, &need, NULL))
        return false;
    bool ok = true;
    for (size_t i = 0; ok && i < need.len; i++)
        ok = strlist_has(&ws->accept, need.items[i], false);
    difc_strlist_free(&need);
    return ok;
}
