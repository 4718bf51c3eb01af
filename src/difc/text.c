/*
 * text.c — the two small text rules every difc parser shares
 * (difc_internal.h): Go's strings.TrimSpace on ASCII white space, which
 * upstream applies to tags, policy values and guard messages, and the JSON
 * type names our decode errors print.
 */
#include "difc/difc_internal.h"

#include <string.h>

/* Go's ASCII white space; spelled out rather than isspace() so that the
 * process locale cannot change what a tag is. */
static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

const char *difc_trim_space(const char *s, size_t *len)
{
    while (is_space(*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && is_space(s[n - 1]))
        n--;
    *len = n;
    return s;
}

const char *difc_json_type_name(const json_t *v)
{
    if (!v)
        return "nothing";
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "bool";
    case JSON_NULL: return "null";
    }
    return "value";
}
