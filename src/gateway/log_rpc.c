/*
 * log_rpc.c — rpc-messages.jsonl (schema rpc-message/v2) and secret
 * redaction (spec: gateway §5.3).
 *
 * Redaction departs from upstream's regex-over-text in one way: it walks the
 * JSON tree, so the result is always valid JSON (upstream may produce
 * {"_error":"invalid JSON"} records after redacting). The patterns are the
 * same families: key=value secrets, GitHub tokens, bearer tokens, long hex
 * runs, JWTs, and values of secret-looking JSON keys.
 */
#include "gateway/log_internal.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const secret_keys[] = {
    "token", "secret", "password", "passwd", "apikey", "api_key", "api-key",
    "access_key", "client_id", "authorization", "credential", "private_key",
};

static bool secret_key(const char *k)
{
    char low[128];
    size_t n = strlen(k);
    if (n >= sizeof low)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)k[i]);
    low[n] = 0;
    /* progressToken is protocol plumbing, not a secret. */
    if (strcmp(low, "progresstoken") == 0)
        return false;
    for (size_t i = 0; i < sizeof secret_keys / sizeof secret_keys[0]; i++)
        if (strstr(low, secret_keys[i]))
            return true;
    return false;
}

/* Text patterns. `keep` > 0: the match's subexpression `keep` is kept and
 * "=[REDACTED]" follows it; otherwise the whole match becomes [REDACTED]. */
static const struct {
    const char *re;
    int keep;
} text_patterns[] = {
    {"(token|key|secret|password|auth)[[:space:]]*[=:][[:space:]]*[^[:space:]\"',;]{8,}", 1},
    {"(apikey|api_key|access_key|client_secret|client_id)[[:space:]]*[=:][[:space:]]*[^[:space:]\"',;]+", 1},
    {"gh[pousr]_[A-Za-z0-9]{20,}", 0},
    {"github_pat_[A-Za-z0-9_]{20,}", 0},
    {"bearer[[:space:]]+[A-Za-z0-9._~+/=-]+", 0},
    {"authorization:[[:space:]]*[^[:space:]]+", 0},
    {"eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]*", 0},
    {"[0-9a-fA-F]{32,}", 0},
};
#define NPAT (sizeof text_patterns / sizeof text_patterns[0])
static regex_t compiled[NPAT];
static pthread_once_t compile_once = PTHREAD_ONCE_INIT;
static bool compiled_ok;

static void compile_patterns(void)
{
    compiled_ok = true;
    for (size_t i = 0; i < NPAT; i++)
        if (regcomp(&compiled[i], text_patterns[i].re, REG_EXTENDED | REG_ICASE) != 0)
            compiled_ok = false;
}

/* Applies one pattern to `s` (malloc'd), returns a new malloc'd string. */
static char *apply(const char *s, size_t pi)
{
    size_t cap = strlen(s) + 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    const char *p = s;
    regmatch_t m[2];
    int flags = 0;
    while (*p && regexec(&compiled[pi], p, 2, m, flags) == 0 && m[0].rm_eo > m[0].rm_so) {
        const char *rep = "[REDACTED]";
        size_t keep = 0;
        if (text_patterns[pi].keep)
            keep = (size_t)(m[1].rm_eo - m[1].rm_so);
        size_t need = len + (size_t)m[0].rm_so + keep + 32;
        if (need > cap) {
            cap = need * 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
        }
        memcpy(out + len, p, (size_t)m[0].rm_so);
        len += (size_t)m[0].rm_so;
        if (keep) {
            memcpy(out + len, p + m[1].rm_so, keep);
            len += keep;
            out[len++] = '=';
        }
        memcpy(out + len, rep, strlen(rep));
        len += strlen(rep);
        p += m[0].rm_eo;
        flags = REG_NOTBOL;
    }
    size_t rest = strlen(p);
    if (len + rest + 1 > cap) {
        char *n = realloc(out, len + rest + 1);
        if (!n) {
            free(out);
            return NULL;
        }
        out = n;
    }
    memcpy(out + len, p, rest + 1);
    return out;
}

char *gw_redact_text(const char *s)
{
    pthread_once(&compile_once, compile_patterns);
    char *cur = strdup(s);
    if (!cur || !compiled_ok)
        return cur;
    for (size_t i = 0; i < NPAT; i++) {
        char *next = apply(cur, i);
        free(cur);
        if (!next)
            return NULL;
        cur = next;
    }
    return cur;
}

json_t *gw_redact(json_t *v)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            if (json_is_string(x) && secret_key(k))
                json_object_set_new(o, k, json_string("[REDACTED]"));
            else
                json_object_set_new(o, k, gw_redact(x));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, gw_redact(x));
        return a;
    }
    if (json_is_string(v)) {
        char *r = gw_redact_text(json_string_value(v));
        json_t *s = r ? json_string(r) : json_string("[REDACTED]");
        free(r);
        return s ? s : json_string("");
    }
    return json_incref(v);
}

void gw_log_rpc(const char *server, const char *direction, const char *method,
                const char *tool, json_t *msg, const char *error)
{
    bool out = strcmp(direction, "OUT") == 0;
    json_t *payload;
    if (!msg) {
        payload = json_pack("{s:s,s:s}", "_error", "invalid JSON", "_raw", "");
    } else if (out) {
        /* Requests are logged without their id (upstream's v2 schema). */
        json_t *raw = json_object();
        json_object_set_new(raw, "jsonrpc", json_string("2.0"));
        json_t *m = json_object_get(msg, "method");
        if (m)
            json_object_set(raw, "method", m);
        json_t *p = json_object_get(msg, "params");
        if (p)
            json_object_set(raw, "params", p);
        payload = gw_redact(raw);
        json_decref(raw);
    } else {
        payload = gw_redact(msg);
    }
    char ts[40];
    gw_log_timestamp(ts, sizeof ts);
    json_t *rec = json_object();
    json_object_set_new(rec, "timestamp", json_string(ts));
    json_object_set_new(rec, "event", json_string(out ? "rpc_request" : "rpc_response"));
    json_object_set_new(rec, "_schema", json_string("rpc-message/v2"));
    json_object_set_new(rec, "direction", json_string(direction));
    json_object_set_new(rec, "server_id", json_string(server));
    if (method && *method)
        json_object_set_new(rec, "method", json_string(method));
    if (error && *error)
        json_object_set_new(rec, "error", json_string(error));
    json_object_set(rec, "payload", payload);
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(rec);

    /* gateway.md: payload without jsonrpc/method, at most 512 characters. */
    json_t *md = json_deep_copy(payload);
    json_object_del(md, "jsonrpc");
    json_object_del(md, "method");
    char *mdtext = json_dumps(md, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(md);
    json_decref(payload);

    pthread_mutex_lock(&gw_logstate.lock);
    if (gw_logstate.jsonl && line) {
        fputs(line, gw_logstate.jsonl);
        fputc('\n', gw_logstate.jsonl);
        fflush(gw_logstate.jsonl); /* to the kernel; see put_line in log.c */
    }
    pthread_mutex_unlock(&gw_logstate.lock);

    char head[512];
    if (out)
        snprintf(head, sizeof head, "- \xf0\x9f\x94\x8d rpc **%s**\xe2\x86\x92`%s`%s%s%s\n", server,
                 method ? method : "", tool ? " `" : "", tool ? tool : "", tool ? "`" : "");
    else
        snprintf(head, sizeof head, "- \xf0\x9f\x94\x8d rpc **%s**\xe2\x86\x90`resp`%s%s%s\n", server,
                 error ? " \xe2\x9a\xa0\xef\xb8\x8f`" : "", error ? error : "", error ? "`" : "");
    char body[700];
    snprintf(body, sizeof body, "  ```json\n  %.512s\n  ```\n", mdtext ? mdtext : "");
    char entry[1300];
    snprintf(entry, sizeof entry, "%s%s", head, body);
    gw_md_raw(entry);

    if (line && gw_debug_enabled("rpc"))
        gw_log(GW_LOG_DEBUG, "rpc", "%s%s%s %zub %.10240s", server, out ? "\xe2\x86\x92" : "\xe2\x86\x90",
               method ? method : "resp", strlen(line), line);
    free(mdtext);
    free(line);
}
