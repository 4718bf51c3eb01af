/*
 * config_rules.c — the validation rules and conversions that JSON and TOML
 * configs share: image/domain/mount/ID patterns, the docker argv of
 * gateway.md §2.4, OpenTelemetry checks (§2.7) and guard policies
 * (guard-abi-and-difc.md §3.10, validated by difc/policy.c).
 */
#include "gateway/config_internal.h"

#include "difc/difc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* spec: schema pattern ^[a-zA-Z0-9][a-zA-Z0-9./_-]*(:([a-zA-Z0-9._-]+|latest))?$
 * (so no "@sha256:" digest and no registry port). */
bool cfg_valid_container(const char *s)
{
    if (!s || !is_alnum(s[0]))
        return false;
    size_t i = 1;
    while (is_alnum(s[i]) || s[i] == '.' || s[i] == '/' || s[i] == '_' || s[i] == '-')
        i++;
    if (s[i] == '\0')
        return true;
    if (s[i] != ':' || s[i + 1] == '\0')
        return false;
    for (i++; s[i]; i++)
        if (!is_alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
            return false;
    return true;
}

bool cfg_is_var_expr(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 4 || s[0] != '$' || s[1] != '{' || s[n - 1] != '}')
        return false;
    if (!((s[2] >= 'A' && s[2] <= 'Z') || s[2] == '_'))
        return false;
    for (size_t i = 3; i < n - 1; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

bool cfg_valid_domain(const char *s)
{
    if (!s)
        return false;
    if (!strcmp(s, "localhost") || !strcmp(s, "host.docker.internal") || cfg_is_var_expr(s))
        return true;
    size_t n = strlen(s);
    if (n == 0 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0 && i < n - 1);
        if (!ok)
            return false;
    }
    return true;
}

bool cfg_valid_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool cfg_all_zeros(const char *s)
{
    for (; s && *s; s++)
        if (*s != '0')
            return false;
    return true;
}

/* spec: gateway.md §2.7 "Mounts". */
bool cfg_check_mount(const char *m, const char *path, err_t *err)
{
    const char *c1 = strchr(m, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || strchr(c2 + 1, ':'))
        return cfg_field_error(err, path, "Use the form '/host/path:/container/path:ro'",
                               "invalid mount format '%s' (expected 'source:dest:mode')", m);
    int sl = (int)(c1 - m), dl = (int)(c2 - c1 - 1);
    if (sl == 0 || m[0] != '/')
        return cfg_field_error(err, path, NULL, "mount source must be an absolute path, got '%.*s'",
                               sl, m);
    if (dl == 0 || c1[1] != '/')
        return cfg_field_error(err, path, NULL,
                               "mount destination must be an absolute path, got '%.*s'", dl, c1 + 1);
    if (strcmp(c2 + 1, "ro") != 0 && strcmp(c2 + 1, "rw") != 0)
        return cfg_field_error(err, path, NULL, "invalid mount mode '%s' (must be 'ro' or 'rw')",
                               c2 + 1);
    return true;
}

static bool push2(gw_strlist_t *l, const char *a, const char *b)
{
    return cfg_strlist_push(l, a) && cfg_strlist_push(l, b);
}

/* spec: gateway.md §2.4, in this exact order:
 * docker run --rm -i -e NO_COLOR=1 -e TERM=dumb -e PYTHONUNBUFFERED=1
 *   [--entrypoint E] [-v M]... [-e K | -e K=V]... [args...] IMAGE [entrypointArgs...]
 * env keys in sorted order (Go iterates its map randomly). */
bool cfg_build_docker_args(gw_server_config_t *srv, const char *entrypoint,
                           const gw_strlist_t *mounts, const gw_strmap_t *env,
                           const gw_strlist_t *args, const gw_strlist_t *entrypoint_args,
                           err_t *err)
{
    gw_strlist_t *a = &srv->args;
    free(srv->command);
    srv->command = strdup("docker");
    if (!srv->command)
        goto nomem;
    if (!cfg_strlist_push(a, "run") || !cfg_strlist_push(a, "--rm") || !cfg_strlist_push(a, "-i") ||
        !push2(a, "-e", "NO_COLOR=1") || !push2(a, "-e", "TERM=dumb") ||
        !push2(a, "-e", "PYTHONUNBUFFERED=1"))
        goto nomem;
    if (entrypoint && !push2(a, "--entrypoint", entrypoint))
        goto nomem;
    for (size_t i = 0; mounts && i < mounts->count; i++)
        if (!push2(a, "-v", mounts->items[i]))
            goto nomem;
    for (size_t i = 0; env && i < env->count; i++) {
        const gw_strpair_t *kv = &env->items[i];
        if (kv->value[0] == '\0') {
            if (!push2(a, "-e", kv->key))
                goto nomem;
            continue;
        }
        size_t n = strlen(kv->key) + strlen(kv->value) + 2;
        char *pair = malloc(n);
        if (!pair)
            goto nomem;
        snprintf(pair, n, "%s=%s", kv->key, kv->value);
        bool ok = push2(a, "-e", pair);
        free(pair);
        if (!ok)
            goto nomem;
    }
    for (size_t i = 0; args && i < args->count; i++)
        if (!cfg_strlist_push(a, args->items[i]))
            goto nomem;
    if (!cfg_strlist_push(a, srv->container ? srv->container : ""))
        goto nomem;
    for (size_t i = 0; entrypoint_args && i < entrypoint_args->count; i++)
        if (!cfg_strlist_push(a, entrypoint_args->items[i]))
            goto nomem;
    return true;
nomem:
    return err_set(err, "out of memory");
}

/* spec: gateway.md §2.7 "opentelemetry" (validation_tracing.go). */
bool cfg_check_otel(const gw_otel_config_t *o, const char *path, const char *trace_field,
                    const char *span_field, err_t *err)
{
    char p[256];
    CFG_FMT(p, "%s.endpoint", path);
    if (!o->endpoint || !*o->endpoint)
        return cfg_field_error(err, p, "Set an https:// OTLP endpoint", "endpoint is required");
    if (strncmp(o->endpoint, "https://", 8) != 0 || o->endpoint[8] == '\0')
        return cfg_field_error(err, p, NULL, "endpoint must be an https:// URL, got '%s'", o->endpoint);
    struct { const char *v, *field; size_t n; } ids[] = {
        {o->trace_id, trace_field, 32},
        {o->span_id, span_field, 16},
    };
    for (size_t i = 0; i < 2; i++) {
        if (!ids[i].v || !*ids[i].v)
            continue;
        CFG_FMT(p, "%s.%s", path, ids[i].field);
        if (!cfg_valid_hex(ids[i].v, ids[i].n))
            return cfg_field_error(err, p, NULL, "%s must be %zu lowercase hex characters, got '%s'",
                                   ids[i].field, ids[i].n, ids[i].v);
        if (cfg_all_zeros(ids[i].v))
            return cfg_field_error(err, p, NULL, "%s must not be all zeros", ids[i].field);
    }
    return true;
}

/* ------------------------------------------------------------ guard policies */

/* The forms and the policy's own rules live in one place, difc/policy.c
 * (difc_policy_parse_server); config only asks it and reports the path. */
bool gw_config_server_policy(const gw_server_config_t *srv, json_t **policy, err_t *err)
{
    *policy = NULL;
    if (!srv || !srv->guard_policies)
        return true;
    difc_policy_t p;
    bool found = false;
    if (!difc_policy_parse_server(srv->id, srv->guard_policies, &p, &found, err))
        return false;
    if (!found)
        return true;
    *policy = difc_policy_to_json(&p);
    difc_policy_free(&p);
    return *policy ? true : err_set(err, "out of memory");
}

bool cfg_check_server_policy(const gw_server_config_t *srv, const char *path, err_t *err)
{
    json_t *policy = NULL;
    if (!gw_config_server_policy(srv, &policy, err))
        return err_prefix(err, "Configuration error at %s", path);
    json_decref(policy);
    return true;
}

bool cfg_check_guard_policy(const json_t *policy, const char *path, err_t *err)
{
    difc_policy_t p;
    if (!difc_policy_parse(policy, &p, err))
        return err_prefix(err, "Configuration error at %s", path);
    difc_policy_free(&p);
    return true;
}
