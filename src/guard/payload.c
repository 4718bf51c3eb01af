/*
 * payload.c — the label_agent input (guard-abi §2.1): built from the
 * resolved policy, checked the strict way upstream checks it before a guard
 * sees it, first failure wins.
 *
 * Departure 6: `tool-call-limits` is removed before the checks (the gateway
 * enforces limits per session), so a policy with limits no longer makes
 * every call on a WASM-guarded server fail. The same trap (§6.1) holds for
 * `promotion-label` and `demotion-label`, which config validation accepts
 * and upstream's checker then refuses; the guard reads them (the Rust guard
 * does), so here they pass the check and reach the guard.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "guard/guard.h"

#define SHAPE "invalid guard policy transport shape: "

static const char *const allow_only_keys[] = {
    "repos",           "min-integrity",         "integrity",           "blocked-users",
    "refusal-labels",  "approval-labels",       "trusted-users",       "endorsement-reactions",
    "disapproval-reactions", "disapproval-integrity", "endorser-min-integrity",
    "promotion-label",       "demotion-label", /* not upstream's: see the top of this file */
};

/* Trimmed copy of s (ASCII white space). */
static char *trim_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = '\0';
    }
    return r;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

static bool valid_level(const char *s)
{
    static const char *const levels[] = {"none", "unapproved", "approved", "merged"};
    char *t = trim_dup(s, strlen(s));
    if (!t)
        return false;
    bool ok = false;
    for (size_t i = 0; i < 4 && !ok; i++)
        ok = strcasecmp(t, levels[i]) == 0;
    free(t);
    return ok;
}

static bool level_field(const json_t *ao, const char *field, bool required, err_t *err)
{
    const json_t *v = json_object_get(ao, field);
    if (!v)
        return !required || err_set(err, "%s must be one of: none, unapproved, approved, merged", field);
    if (!json_is_string(v) || !valid_level(json_string_value(v)))
        return err_set(err, "%s must be one of: none, unapproved, approved, merged", field);
    return true;
}

/* owner/STAR, owner/repo or owner/prefixSTAR: owner [a-z0-9_-]{1,39}, repo or
 * prefix [a-z0-9_-]{1,100}, at most one '*', only at the end (§3.10). */
static bool valid_scope(const char *s)
{
    const char *slash = strchr(s, '/');
    if (!slash)
        return false;
    size_t olen = (size_t)(slash - s);
    if (olen < 1 || olen > 39)
        return false;
    for (const char *p = s; p < slash; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return false;
    const char *r = slash + 1;
    size_t rlen = strlen(r);
    if (rlen == 1 && r[0] == '*')
        return true;
    bool star = rlen && r[rlen - 1] == '*';
    size_t body = star ? rlen - 1 : rlen;
    if (body < 1 || body > 100)
        return false;
    for (size_t i = 0; i < body; i++)
        if (!(islower((unsigned char)r[i]) || isdigit((unsigned char)r[i]) || r[i] == '_' || r[i] == '-'))
            return false;
    return true;
}

static bool check_repos(const json_t *v, err_t *err)
{
    static const char msg[] = "invalid repos value: expected all, public, or non-empty array of scoped strings";
    if (json_is_string(v)) {
        char *t = trim_dup(json_string_value(v), json_string_length(v));
        bool ok = t && (strcasecmp(t, "all") == 0 || strcasecmp(t, "public") == 0);
        free(t);
        return ok || err_set(err, "%s", msg);
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return err_set(err, "%s", msg);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e) || !valid_scope(json_string_value(e)))
            return err_set(err, "%s", msg);
        for (size_t j = 0; j < i; j++)
            if (json_equal(e, json_array_get(v, j)))
                return err_set(err, "%s", msg);
    }
    return true;
}

static bool check_string_array(const json_t *v, const char *field, err_t *err)
{
    if (!json_is_array(v))
        return err_set(err, "invalid %s value: expected array of strings", field);
    for (size_t i = 0; i < json_array_size(v); i++) {
        const json_t *e = json_array_get(v, i);
        if (!json_is_string(e))
            return err_set(err, "invalid %s value: expected array of strings", field);
        if (blank(json_string_value(e)))
            return err_set(err, "invalid %s value: each entry must be a non-empty string", field);
    }
    return true;
}

/* refusal-labels: array (entries trimmed) or "a, b\nc"; *norm gets the
 * normalised array (new reference) when non-NULL. */
static bool check_refusal_labels(const json_t *v, json_t **norm, err_t *err)
{
    static const char f[] = "refusal-labels";
    json_t *out = json_array();
    if (!out)
        return err_set(err, "out of memory");
    if (json_is_array(v)) {
        if (!check_string_array(v, f, err))
            return json_decref(out), false;
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *e = json_array_get(v, i);
            char *t = trim_dup(json_string_value(e), json_string_length(e));
            json_array_append_new(out, json_string(t ? t : ""));
            free(t);
        }
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            size_t n = strcspn(s, ",\n");
            char *t = trim_dup(s, n);
            if (t && *t)
                json_array_append_new(out, json_string(t));
            free(t);
            s += n;
            if (*s)
                s++;
        }
        if (json_array_size(out) == 0) {
            json_decref(out);
            return err_set(err, "invalid %s value: must include at least one non-empty label", f);
        }
    } else {
        json_decref(out);
        return err_set(err, "invalid %s value: expected array of strings or comma/newline-delimited string", f);
    }
    if (norm)
        *norm = out;
    else
        json_decref(out);
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Object keys in sorted order, so "first failure" is deterministic. */
static const char **sorted_keys(const json_t *obj, size_t *n)
{
    *n = json_object_size(obj);
    const char **keys = malloc((*n ? *n : 1) * sizeof *keys);
    if (!keys)
        return NULL;
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        (void)v;
        keys[i++] = k;
    }
    qsort(keys, *n, sizeof *keys, cmp_str);
    return keys;
}

/* The checks of §2.1 steps 3–13. With `rewrite`, refusal-labels is
 * replaced by its normalised array (the payload must then be writable). */
static bool check_payload(json_t *p, bool rewrite, err_t *err)
{
    if (!p)
        return err_set(err, "policy is required");
    if (!json_is_object(p))
        return err_set(err, "policy JSON must decode to an object");
    const json_t *legacy = json_object_get(p, "policy");
    if (legacy)
        return err_set(err, "gateway policy adapter is outdated: remove legacy envelope key policy before calling "
                            "label_agent");
    json_t *ao = json_object_get(p, "allow-only");
    if (!ao)
        ao = json_object_get(p, "allowonly");
    if (!ao)
        return err_set(err, "label_agent policy must use top-level allow-only object (received policy.allow-only)");

    size_t nk;
    const char **keys = sorted_keys(p, &nk);
    if (!keys)
        return err_set(err, "out of memory");
    for (size_t i = 0; i < nk; i++) {
        if (strcmp(keys[i], "allow-only") && strcmp(keys[i], "allowonly") && strcmp(keys[i], "trusted-bots")) {
            err_set(err, SHAPE "unexpected key \"%s\"", keys[i]);
            free(keys);
            return false;
        }
    }
    free(keys);

    if (!json_is_object(ao) || !json_object_get(ao, "repos") ||
        (!json_object_get(ao, "min-integrity") && !json_object_get(ao, "integrity")))
        return err_set(err, SHAPE "missing required fields repos and/or min-integrity in allow-only object");
    keys = sorted_keys(ao, &nk);
    if (!keys)
        return err_set(err, "out of memory");
    for (size_t i = 0; i < nk; i++) {
        bool known = false;
        for (size_t j = 0; j < sizeof allow_only_keys / sizeof allow_only_keys[0] && !known; j++)
            known = strcmp(keys[i], allow_only_keys[j]) == 0;
        if (!known) {
            err_set(err, SHAPE "unexpected allow-only key \"%s\"", keys[i]);
            free(keys);
            return false;
        }
    }
    free(keys);

    if (!check_repos(json_object_get(ao, "repos"), err))
        return false;
    if (!level_field(ao, json_object_get(ao, "min-integrity") ? "min-integrity" : "integrity", true, err))
        return false;
    static const char *const lists[] = {"blocked-users", "approval-labels", "trusted-users", "endorsement-reactions",
                                        "disapproval-reactions"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        const json_t *v = json_object_get(ao, lists[i]);
        if (v && !check_string_array(v, lists[i], err))
            return false;
    }
    const json_t *rl = json_object_get(ao, "refusal-labels");
    if (rl) {
        json_t *norm = NULL;
        if (!check_refusal_labels(rl, rewrite ? &norm : NULL, err))
            return false;
        if (rewrite)
            json_object_set_new(ao, "refusal-labels", norm);
    }
    const json_t *tb = json_object_get(p, "trusted-bots");
    if (tb) {
        if (!json_is_array(tb) || json_array_size(tb) == 0)
            return err_set(err, "invalid trusted-bots value: must be a non-empty array when present");
        if (!check_string_array(tb, "trusted-bots", err))
            return false;
    }
    return level_field(ao, "disapproval-integrity", false, err) &&
           level_field(ao, "endorser-min-integrity", false, err);
}

bool guard_label_agent_payload_check(const json_t *payload, err_t *err)
{
    return check_payload((json_t *)payload, false, err);
}

bool guard_label_agent_payload(const json_t *policy, const json_t *trusted_bots, const json_t *trusted_users,
                               json_t **out, err_t *err)
{
    *out = NULL;
    if (!policy || json_is_null(policy))
        return err_set(err, "policy is required");
    json_t *p;
    if (json_is_string(policy)) {
        char *t = trim_dup(json_string_value(policy), json_string_length(policy));
        if (!t)
            return err_set(err, "out of memory");
        if (!*t) {
            free(t);
            return err_set(err, "policy string is empty");
        }
        json_error_t je;
        p = json_loads(t, JSON_DECODE_ANY, &je);
        free(t);
        if (!p)
            return err_set(err, "policy string is not valid JSON object: %s", je.text);
        if (!json_is_object(p)) {
            json_decref(p);
            return err_set(err, "policy JSON must decode to an object");
        }
    } else if (json_is_object(policy)) {
        p = json_deep_copy(policy);
        if (!p)
            return err_set(err, "out of memory");
    } else {
        return err_set(err, "policy JSON must decode to an object");
    }
    /* A legacy envelope {"policy":{"allow-only":...}} is reported by the
     * checks below, before anything is added. */
    json_t *ao = json_object_get(p, "allow-only");
    if (!ao)
        ao = json_object_get(p, "allowonly");
    if (json_is_object(ao)) {
        /* Departure 6 (keys may come in any case from a raw config). */
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(ao, tmp, k, v)
        {
            (void)v;
            if (strcasecmp(k, "tool-call-limits") == 0)
                json_object_del(ao, k);
        }
        if (trusted_users && json_is_array(trusted_users) && json_array_size(trusted_users) > 0)
            json_object_set_new(ao, "trusted-users", json_deep_copy(trusted_users));
    }
    if (trusted_bots && json_is_array(trusted_bots) && json_array_size(trusted_bots) > 0)
        json_object_set_new(p, "trusted-bots", json_deep_copy(trusted_bots));
    if (!check_payload(p, true, err)) {
        json_decref(p);
        return false;
    }
    *out = p;
    return true;
}
