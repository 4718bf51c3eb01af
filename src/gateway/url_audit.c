/*
 * url_audit.c — the URL hosts in a tool result, for --url-domain-audit and
 * observed-url-domains.json (spec: gateway §1.2, §4.11, §5.1).
 *
 * What counts as a URL host (Flowgate's rule; upstream uses a regexp and
 * Go's net/url, this keeps to the same idea without a regexp engine):
 *   - a case-insensitive "http://" or "https://" anywhere in a string, with
 *     no word boundary required ("xhttps://a.io" counts, as upstream);
 *   - the authority runs to the first '/', '?', '#', '\', whitespace, quote
 *     or angle bracket, so a URL inside JSON text or HTML ends where the
 *     string or attribute does;
 *   - userinfo (up to the last '@') and a numeric port are dropped; a port
 *     that is not a number makes the candidate invalid (net/url does the
 *     same); "[v6]" hosts keep what is inside the brackets;
 *   - trailing prose punctuation (.,;:!?)]}) is not part of the host
 *     ("see https://a.io." is a.io), nor are trailing dots ("a.io." is a.io);
 *   - the host is lower-cased (ASCII) and must be 1-253 bytes of letters,
 *     digits, '-', '.', '_' or non-ASCII bytes (an IDN in UTF-8); anything
 *     else ("{owner}.github.io", "%41.com") is not a host and is skipped.
 * Which strings: every string value and object key of the result; a string
 * that is itself a JSON object or array (MCP text content usually is) is
 * parsed and searched instead of its raw text, so escaped URLs
 * ("https:\/\/a.io") are found and escapes never leak into a host.
 */
#include "gateway/gateway_internal.h"
#include "gateway/log_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOST_MAX 253
/* Nesting (arrays, objects, JSON inside strings) searched; deeper values
 * are skipped so a hostile result cannot exhaust the stack. */
#define DEPTH_MAX 128

static bool ends_authority(unsigned char c)
{
    return c == '/' || c == '?' || c == '#' || c == '\\' || c == '"' || c == '\'' || c == '<' || c == '>' ||
           c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == 0;
}

static bool is_trailing_punct(char c)
{
    return c && strchr(".,;:!?)]}", c) != NULL;
}

static bool host_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c >= 0x80;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Adds the lower-cased host s[0..n) to set if it is a valid host. */
static void add_host(const char *s, size_t n, bool bracketed, json_t *set)
{
    while (n > 0 && s[n - 1] == '.')
        n--;
    if (n == 0 || n > HOST_MAX)
        return;
    char host[HOST_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = bracketed ? (c == ':' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                               (c >= 'A' && c <= 'F'))
                            : host_char_ok(c);
        if (!ok)
            return;
        host[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : (char)c;
    }
    host[n] = 0;
    if (strspn(host, ".") == n)
        return;
    json_object_set_new(set, host, json_true());
}

/* The host of the authority a[0..n) (text after "scheme://"). */
static void authority_host(const char *a, size_t n, json_t *set)
{
    const char *at = NULL;
    for (size_t i = 0; i < n; i++)
        if (a[i] == '@')
            at = a + i;
    if (at) {
        n -= (size_t)(at + 1 - a);
        a = at + 1;
    }
    if (n > 0 && a[0] == '[') {
        const char *close = memchr(a, ']', n);
        if (!close)
            return;
        const char *rest = close + 1;
        size_t rn = n - (size_t)(rest - a);
        while (rn > 0 && is_trailing_punct(rest[rn - 1]))
            rn--;
        if (rn > 0 && (rest[0] != ':' || !all_digits(rest + 1, rn - 1)))
            return;
        add_host(a + 1, (size_t)(close - a - 1), true, set);
        return;
    }
    while (n > 0 && is_trailing_punct(a[n - 1]))
        n--;
    const char *colon = memchr(a, ':', n);
    size_t hn = colon ? (size_t)(colon - a) : n;
    if (colon && !all_digits(colon + 1, n - hn - 1))
        return;
    add_host(a, hn, false, set);
}

/* Length of "http://" or "https://" at s (case-insensitive), or 0. */
static size_t scheme_len(const char *s, size_t left)
{
    if (left >= 7 && strncasecmp(s, "http://", 7) == 0)
        return 7;
    if (left >= 8 && strncasecmp(s, "https://", 8) == 0)
        return 8;
    return 0;
}

void gw_url_hosts_scan(const char *text, size_t len, json_t *set)
{
    for (size_t i = 0; i + 7 <= len; i++) {
        if (text[i] != 'h' && text[i] != 'H')
            continue;
        size_t k = scheme_len(text + i, len - i);
        if (!k)
            continue;
        size_t start = i + k, end = start;
        while (end < len && !ends_authority((unsigned char)text[end]))
            end++;
        authority_host(text + start, end - start, set);
        i = end > i ? end - 1 : i;
    }
}

static void collect(json_t *v, json_t *set, int depth);

/* A string: its JSON if it is an object or array, else its text. */
static void collect_string(const char *s, size_t len, json_t *set, int depth)
{
    size_t lead = 0;
    while (lead < len && s[lead] && strchr(" \t\r\n", s[lead]))
        lead++;
    if (lead < len && (s[lead] == '{' || s[lead] == '[') && depth < DEPTH_MAX) {
        json_t *parsed = json_loadb(s, len, 0, NULL);
        if (parsed) {
            collect(parsed, set, depth + 1);
            json_decref(parsed);
            return;
        }
    }
    gw_url_hosts_scan(s, len, set);
}

static void collect(json_t *v, json_t *set, int depth)
{
    if (depth > DEPTH_MAX)
        return;
    if (json_is_string(v)) {
        collect_string(json_string_value(v), json_string_length(v), set, depth);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) collect(x, set, depth + 1);
    } else if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) {
            gw_url_hosts_scan(k, strlen(k), set);
            collect(x, set, depth + 1);
        }
    }
}

json_t *gw_url_domains_extract(json_t *value)
{
    json_t *set = json_object();
    if (!set)
        return NULL;
    collect(value, set, 0);
    json_t *out = gw_json_sorted_keys(set);
    json_decref(set);
    return out;
}
