/*
 * expand.c — `${VAR}` expansion for configuration values.
 *
 * spec: gateway.md §2.6. Only the braced form with a name matching
 * [A-Za-z_][A-Za-z0-9_]* is expanded; `$VAR`, `${}` and `${1X}` stay as
 * written. A defined-but-empty variable expands to "". An undefined one is
 * an error naming it (upstream reports the first; so do we).
 */
#include "gateway/config_internal.h"

#include <stdlib.h>
#include <string.h>

static bool name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }
static bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }

/* Length of the name at s when s is "${NAME}..." (0 otherwise). */
static size_t var_at(const char *s)
{
    if (s[0] != '$' || s[1] != '{' || !name_start(s[2]))
        return 0;
    size_t n = 3;
    while (name_char(s[n]))
        n++;
    return s[n] == '}' ? n - 2 : 0;
}

cfg_expand_result_t cfg_expand(const cfg_ctx_t *ctx, const char *s, char **out, char *undefined,
                               size_t undefined_size)
{
    /* Two passes: measure, then write, so there is one allocation. */
    size_t total = 0;
    for (const char *p = s; *p;) {
        size_t n = var_at(p);
        if (!n) {
            total++;
            p++;
            continue;
        }
        char name[256];
        if (n >= sizeof name) {
            total += n + 3;
            p += n + 3;
            continue;
        }
        memcpy(name, p + 2, n);
        name[n] = '\0';
        const char *v = cfg_getenv(ctx, name);
        if (!v) {
            snprintf(undefined, undefined_size, "%s", name);
            return CFG_EXPAND_UNDEFINED;
        }
        total += strlen(v);
        p += n + 3;
    }
    char *buf = malloc(total + 1);
    if (!buf)
        return CFG_EXPAND_NOMEM;
    char *o = buf;
    for (const char *p = s; *p;) {
        size_t n = var_at(p);
        char name[256];
        if (!n || n >= sizeof name) {
            size_t k = n ? n + 3 : 1;
            if (k > total - (size_t)(o - buf))
                break;
            memcpy(o, p, k);
            o += k;
            p += k;
            continue;
        }
        memcpy(name, p + 2, n);
        name[n] = '\0';
        const char *v = cfg_getenv(ctx, name);
        size_t vl = v ? strlen(v) : 0;
        size_t room = total - (size_t)(o - buf);
        if (vl > room) /* the environment changed between the passes */
            vl = room;
        memcpy(o, v ? v : "", vl);
        o += vl;
        p += n + 3;
    }
    *o = '\0';
    *out = buf;
    return CFG_EXPAND_OK;
}
