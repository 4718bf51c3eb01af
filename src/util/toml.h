/*
 * toml.h — a small, strict TOML 1.0.0 parser.
 *
 * toml_parse() turns a document into a tree of toml_value_t nodes: tables,
 * arrays and the eight scalar kinds of TOML 1.0 (string, integer, float,
 * bool and the four date/time kinds, which stay distinct types here). The
 * tree keeps each value's line and column so that a consumer such as the
 * gateway's config loader can point at the offending line. toml_to_json()
 * converts a (sub)tree to a jansson value for free-form subtrees (guard
 * configs, policies); that conversion is lossy for date/times, which become
 * RFC 3339 strings, and fails on NaN/infinity, which JSON cannot hold.
 *
 * Strictness (decisions where TOML 1.0 leaves room):
 *   - input must be valid UTF-8 (a leading BOM is skipped);
 *   - integers must fit in int64, else an error (no silent wrap/float);
 *   - a float literal that overflows a double is an error;
 *   - nesting of arrays/tables deeper than TOML_MAX_DEPTH is an error;
 *   - only the 1.0 escapes are accepted (`\e`, `\xHH` are 1.1: rejected);
 *   - a carriage return not followed by LF is rejected everywhere,
 *     including inside multi-line strings (we follow the 1.0 ABNF, which
 *     only admits CR as part of CRLF);
 *   - 1.1 syntax (newlines/trailing commas in inline tables, times without
 *     seconds, Unicode bare keys) is rejected;
 *   - fractional seconds beyond nanoseconds are truncated, not rounded.
 *
 * Ownership: toml_parse() returns a tree owned by the caller and freed with
 * toml_free(); every string and child belongs to its parent. The tree is
 * read-only after parsing. Strings are NUL-terminated and also carry their
 * length, because `\u0000` is a legal escape.
 */
#ifndef FLOWGATE_UTIL_TOML_H
#define FLOWGATE_UTIL_TOML_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define TOML_MAX_DEPTH 128

typedef enum toml_type {
    TOML_TABLE,
    TOML_ARRAY,
    TOML_STRING,
    TOML_INTEGER,
    TOML_FLOAT,
    TOML_BOOL,
    TOML_DATETIME,        /* offset date-time */
    TOML_DATETIME_LOCAL,  /* local date-time */
    TOML_DATE_LOCAL,
    TOML_TIME_LOCAL,
} toml_type_t;

typedef struct toml_datetime {
    int year, month, day;        /* date kinds */
    int hour, minute, second;    /* time kinds */
    int nanosecond;              /* fractional seconds, truncated to 9 digits */
    int frac_digits;             /* digits written in the source (0 = none), max 9 */
    int offset_minutes;          /* TOML_DATETIME: east of UTC; Z is 0 */
} toml_datetime_t;

typedef struct toml_value toml_value_t;

typedef struct toml_entry {
    char *key;                   /* decoded, NUL-terminated */
    size_t key_len;              /* may contain NUL bytes */
    toml_value_t *value;
} toml_entry_t;

struct toml_value {
    toml_type_t type;
    int line, column;            /* 1-based, column in bytes; where it starts */
    union {
        struct { char *ptr; size_t len; } str;
        int64_t integer;
        double fp;
        bool boolean;
        toml_datetime_t dt;
        struct { toml_entry_t *items; size_t count, cap; } table;   /* source order */
        struct { toml_value_t **items; size_t count, cap; } array;
    } u;
    /* private to the parser */
    uint16_t depth;
    uint8_t flags;
    uint32_t *index;             /* tables with many keys: hash slots */
    size_t index_cap;
};

/* Parses a whole document. On success *out is the root table. On failure
 * returns false, *out is NULL and err reads "line L, column C: <what>". */
bool toml_parse(const char *text, size_t len, toml_value_t **out, err_t *err);

/* Frees a tree returned by toml_parse (NULL is fine). */
void toml_free(toml_value_t *v);

/* The value under key in a table (exact bytes, NUL-terminated key), or NULL
 * when absent or when v is not a table. */
const toml_value_t *toml_get(const toml_value_t *table, const char *key);

/* "table", "array", "string", "integer", "float", "bool", "datetime",
 * "datetime-local", "date-local", "time-local" (the toml-test names). */
const char *toml_type_name(toml_type_t t);

/* Writes a date/time value in the toml-test form: RFC 3339 with an
 * uppercase T, Z or ±HH:MM, and at least three fractional digits when the
 * source had any. Returns the length, or 0 when v is not a date/time. */
size_t toml_datetime_format(const toml_value_t *v, char *buf, size_t size);

/* Converts a tree to jansson: table -> object, array -> array, string ->
 * string, integer -> integer, float -> real, bool -> bool, date/time ->
 * string (toml_datetime_format). Returns a new reference, or NULL with err
 * set (NaN/infinity, allocation failure). */
json_t *toml_to_json(const toml_value_t *v, err_t *err);

#endif
