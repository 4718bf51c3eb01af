/*
 * toml.c — the TOML 1.0.0 parser behind toml.h.
 *
 * One pass over the bytes, recursive descent for values (bounded by
 * TOML_MAX_DEPTH), a tree of toml_value_t nodes as output. The tricky part
 * of TOML is not the lexing but the "a table may be defined only once"
 * rules; every table node carries flags that record how it came to exist:
 *
 *   TF_IMPLICIT  created as an intermediate of a [a.b.c] header: may later
 *                be defined once by its own header;
 *   TF_EXPLICIT  defined by a [header] (or is an [[array]] element);
 *   TF_DOTTED    created by a dotted key `a.b = 1`: defined, so no header
 *                may name it, but more dotted keys may extend it and
 *                headers may add sub-tables below it;
 *   TF_INLINE    an inline table `{...}`: closed for good.
 *   AF_AOT       (arrays) an array of tables built by [[...]]; a static
 *                array `[...]` can never be appended to by a header.
 */
#include "util/toml.h"
#include "util/buf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    TF_IMPLICIT = 1,
    TF_EXPLICIT = 2,
    TF_DOTTED = 4,
    TF_INLINE = 8,
    AF_AOT = 16,
};

typedef struct parser {
    const unsigned char *s;
    size_t n, i;
    int line;
    size_t line_start;
    toml_value_t *root, *cur;
    err_t *err;
} parser_t;


/* One part of a (possibly dotted) key. */
typedef struct keypart {
    char *s;
    size_t len;
    int line, column;
} keypart_t;

typedef struct keylist {
    keypart_t *items;
    size_t count, cap;
} keylist_t;

/* ------------------------------------------------------------------ */
/* errors and small helpers                                            */

static bool fail(parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(parser_t *p, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(p->err, "line %d, column %zu: %s", p->line, p->i - p->line_start + 1, msg);
}

static bool fail_at_key(parser_t *p, const keypart_t *k, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail_at_key(parser_t *p, const keypart_t *k, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return err_set(p->err, "line %d, column %d: %s", k->line, k->column, msg);
}

static bool oom(parser_t *p) { return fail(p, "out of memory"); }

static int peek(const parser_t *p) { return p->i < p->n ? p->s[p->i] : -1; }
static int peek_at(const parser_t *p, size_t k) { return p->i + k < p->n ? p->s[p->i + k] : -1; }
static int column(const parser_t *p) { return (int)(p->i - p->line_start + 1); }

static bool is_digit(int c) { return c >= '0' && c <= '9'; }
static bool is_bare_key_char(int c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

static void skip_ws(parser_t *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t'))
        p->i++;
}

/* Consumes LF or CRLF; returns false (consuming nothing) otherwise. */
static bool eat_newline(parser_t *p)
{
    if (peek(p) == '\n') {
        p->i++;
    } else if (peek(p) == '\r' && peek_at(p, 1) == '\n') {
        p->i += 2;
    } else {
        return false;
    }
    p->line++;
    p->line_start = p->i;
    return true;
}

/* A short printable rendering of a key for messages. */
static const char *key_show(const keypart_t *k, char *buf, size_t size)
{
    size_t o = 0;
    for (size_t j = 0; j < k->len && o + 5 < size; j++) {
        unsigned char c = (unsigned char)k->s[j];
        buf[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    buf[o] = '\0';
    return buf;
}

static bool put_utf8(util_buf_t *b, uint32_t cp)
{
    char out[4];
    size_t n;
    if (cp < 0x80) {
        out[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        out[0] = (char)(0xF0 | (cp >> 18));
        out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return util_buf_append(b, out, n);
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0 when invalid
 * (overlong forms, surrogates and code points above U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Checks the whole input up front, so that later stages may treat every
 * byte >= 0x80 as part of a valid character. Reports the position. */
static bool check_utf8(parser_t *p)
{
    size_t i = 0;
    while (i < p->n) {
        size_t len = utf8_seq(p->s + i, p->n - i);
        if (len == 0) {
            /* Move the cursor there for the line/column in the message. */
            for (; p->i < i; p->i++) {
                if (p->s[p->i] == '\n') {
                    p->line++;
                    p->line_start = p->i + 1;
                }
            }
            return fail(p, "invalid UTF-8 byte 0x%02X", p->s[i]);
        }
        i += len;
    }
    return true;
}

static void keylist_free(keylist_t *kl)
{
    for (size_t k = 0; k < kl->count; k++)
        free(kl->items[k].s);
    free(kl->items);
    kl->items = NULL;
    kl->count = kl->cap = 0;
}

/* ------------------------------------------------------------------ */
/* tree nodes                                                           */

static toml_value_t *node_new(parser_t *p, toml_type_t type, int line, int col)
{
    toml_value_t *v = calloc(1, sizeof *v);
    if (!v) {
        oom(p);
        return NULL;
    }
    v->type = type;
    v->line = line;
    v->column = col;
    return v;
}

void toml_free(toml_value_t *v)
{
    if (!v)
        return;
    switch (v->type) {
    case TOML_TABLE:
        for (size_t k = 0; k < v->u.table.count; k++) {
            free(v->u.table.items[k].key);
            toml_free(v->u.table.items[k].value);
        }
        free(v->u.table.items);
        free(v->index);
        break;
    case TOML_ARRAY:
        for (size_t k = 0; k < v->u.array.count; k++)
            toml_free(v->u.array.items[k]);
        free(v->u.array.items);
        break;
    case TOML_STRING:
        free(v->u.str.ptr);
        break;
    default:
        break;
    }
    free(v);
}

/* Tables with more than INDEX_MIN keys get an open-addressing hash index
 * (slot = entry number + 1, 0 = empty, load factor <= 1/2) so that a
 * document with very many keys stays linear rather than quadratic. */
#define INDEX_MIN 16

static uint32_t key_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)key[i]) * 16777619u;
    return h;
}

static toml_value_t *table_find(const toml_value_t *t, const char *key, size_t len)
{
    if (t->index) {
        size_t mask = t->index_cap - 1;
        for (size_t i = key_hash(key, len) & mask;; i = (i + 1) & mask) {
            uint32_t slot = t->index[i];
            if (!slot)
                return NULL;
            const toml_entry_t *e = &t->u.table.items[slot - 1];
            if (e->key_len == len && memcmp(e->key, key, len) == 0)
                return e->value;
        }
    }
    for (size_t k = 0; k < t->u.table.count; k++) {
        const toml_entry_t *e = &t->u.table.items[k];
        if (e->key_len == len && memcmp(e->key, key, len) == 0)
            return e->value;
    }
    return NULL;
}

static void index_put(toml_value_t *t, size_t entry)
{
    const toml_entry_t *e = &t->u.table.items[entry];
    size_t mask = t->index_cap - 1;
    size_t i = key_hash(e->key, e->key_len) & mask;
    while (t->index[i])
        i = (i + 1) & mask;
    t->index[i] = (uint32_t)(entry + 1);
}

/* Called after an entry was appended. Without memory for the index the
 * table just stays on linear search. */
static void index_update(toml_value_t *t)
{
    size_t n = t->u.table.count;
    if (n <= INDEX_MIN || n >= UINT32_MAX / 4)
        return;
    if (t->index && n * 2 <= t->index_cap) {
        index_put(t, n - 1);
        return;
    }
    size_t cap = 64;
    while (cap < n * 4)
        cap *= 2;
    uint32_t *idx = calloc(cap, sizeof *idx);
    free(t->index);
    t->index = NULL;
    if (!idx)
        return; /* back to linear search */
    t->index = idx;
    t->index_cap = cap;
    for (size_t k = 0; k < n; k++)
        index_put(t, k);
}

const toml_value_t *toml_get(const toml_value_t *table, const char *key)
{
    if (!table || table->type != TOML_TABLE || !key)
        return NULL;
    return table_find(table, key, strlen(key));
}

/* Adds key -> v (the caller checked the key is new). Takes v on success. */
static bool table_add(parser_t *p, toml_value_t *t, const keypart_t *k, toml_value_t *v)
{
    if (t->u.table.count == t->u.table.cap) {
        size_t cap = t->u.table.cap ? t->u.table.cap * 2 : 8;
        toml_entry_t *items = realloc(t->u.table.items, cap * sizeof *items);
        if (!items)
            return oom(p);
        t->u.table.items = items;
        t->u.table.cap = cap;
    }
    char *key = malloc(k->len + 1);
    if (!key)
        return oom(p);
    memcpy(key, k->s, k->len);
    key[k->len] = '\0';
    toml_entry_t *e = &t->u.table.items[t->u.table.count++];
    e->key = key;
    e->key_len = k->len;
    e->value = v;
    index_update(t);
    return true;
}

static bool array_push(parser_t *p, toml_value_t *a, toml_value_t *v)
{
    if (a->u.array.count == a->u.array.cap) {
        size_t cap = a->u.array.cap ? a->u.array.cap * 2 : 8;
        toml_value_t **items = realloc(a->u.array.items, cap * sizeof *items);
        if (!items)
            return oom(p);
        a->u.array.items = items;
        a->u.array.cap = cap;
    }
    a->u.array.items[a->u.array.count++] = v;
    return true;
}

/* Creates an empty table under `parent` at key k, with the given flags. */
static toml_value_t *add_table(parser_t *p, toml_value_t *parent, const keypart_t *k, int flags)
{
    if (parent->depth + 1 > TOML_MAX_DEPTH) {
        fail_at_key(p, k, "nesting deeper than %d levels", TOML_MAX_DEPTH);
        return NULL;
    }
    toml_value_t *t = node_new(p, TOML_TABLE, k->line, k->column);
    if (!t)
        return NULL;
    t->depth = (uint16_t)(parent->depth + 1);
    t->flags = (uint8_t)flags;
    if (!table_add(p, parent, k, t)) {
        free(t);
        return NULL;
    }
    return t;
}

/* ------------------------------------------------------------------ */
/* comments, strings, keys                                              */

/* At '#': consumes the comment up to (not including) the newline. */
static bool parse_comment(parser_t *p)
{
    p->i++;
    while (p->i < p->n) {
        unsigned char c = p->s[p->i];
        if (c == '\n')
            return true;
        if (c == '\r') {
            if (peek_at(p, 1) == '\n')
                return true;
            return fail(p, "carriage return not followed by a line feed");
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return fail(p, "control character U+%04X is not allowed in a comment", c);
        p->i++;
    }
    return true;
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* At a backslash inside a basic string: decodes one escape into b.
 * spec: TOML 1.0 allows exactly \b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX. */
static bool parse_escape(parser_t *p, util_buf_t *b)
{
    int c = peek_at(p, 1);
    char out;
    switch (c) {
    case 'b': out = '\b'; break;
    case 't': out = '\t'; break;
    case 'n': out = '\n'; break;
    case 'f': out = '\f'; break;
    case 'r': out = '\r'; break;
    case '"': out = '"'; break;
    case '\\': out = '\\'; break;
    case 'u':
    case 'U': {
        int digits = c == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (int k = 0; k < digits; k++) {
            int h = hex_val(peek_at(p, 2 + (size_t)k));
            if (h < 0)
                return fail(p, "\\%c escape needs %d hex digits", c, digits);
            cp = (cp << 4) | (uint32_t)h;
        }
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return fail(p, "\\%c%0*X is not a Unicode scalar value", c, digits, cp);
        if (!put_utf8(b, cp))
            return oom(p);
        p->i += 2 + (size_t)digits;
        return true;
    }
    default:
        if (c < 0)
            return fail(p, "unterminated string");
        if (c >= 0x20 && c < 0x7f)
            return fail(p, "invalid escape sequence \\%c", c);
        return fail(p, "invalid escape sequence");
    }
    if (!util_buf_putc(b, out))
        return oom(p);
    p->i += 2;
    return true;
}

/* Consumes one piece of a string body at c (not its end, not a newline:
 * those are the caller's): an escape in a basic string (quote q '"'),
 * otherwise one raw byte, which must not be a control character. Bytes
 * >= 0x80 were validated as UTF-8 already. */
static bool string_body_char(parser_t *p, util_buf_t *b, unsigned char q, int c)
{
    if (c == '\\' && q == '"')
        return parse_escape(p, b);
    if ((c < 0x20 && c != '\t') || c == 0x7f)
        return fail(p, "control character U+%04X must be escaped in a string", c);
    if (!util_buf_putc(b, (char)c))
        return oom(p);
    p->i++;
    return true;
}

/* Basic or literal single-line string at its opening quote. */
static bool parse_line_string(parser_t *p, util_buf_t *b)
{
    unsigned char q = p->s[p->i];
    size_t open = p->i;
    p->i++;
    for (;;) {
        int c = peek(p);
        if (c < 0 || c == '\n' || (c == '\r' && peek_at(p, 1) == '\n')) {
            p->i = open; /* point at the opening quote */
            return fail(p, "unterminated string");
        }
        if (c == q) {
            p->i++;
            return true;
        }
        if (!string_body_char(p, b, q, c))
            return false;
    }
}

/* Multi-line basic or literal string at its opening triple quote. */
static bool parse_ml_string(parser_t *p, util_buf_t *b)
{
    unsigned char q = p->s[p->i];
    int open_line = p->line;
    p->i += 3;
    eat_newline(p); /* a newline right after the delimiter is trimmed */
    for (;;) {
        int c = peek(p);
        if (c < 0)
            return fail(p, "unterminated multi-line string (opened on line %d)", open_line);
        if (c == q && peek_at(p, 1) == q && peek_at(p, 2) == q) {
            /* Up to two quotes may sit right before the closing three. */
            size_t run = 3;
            while (peek_at(p, run) == q)
                run++;
            if (run > 5)
                return fail(p, "too many quotes at the end of a multi-line string");
            for (size_t k = 0; k < run - 3; k++)
                if (!util_buf_putc(b, (char)q))
                    return oom(p);
            p->i += run;
            return true;
        }
        if (c == '\n' || c == '\r') {
            size_t at = p->i;
            if (!eat_newline(p))
                return fail(p, "carriage return not followed by a line feed");
            if (!util_buf_append(b, (const char *)p->s + at, p->i - at))
                return oom(p);
            continue;
        }
        if (c == '\\' && q == '"') {
            /* Line-ending backslash: skip whitespace up to the newline,
             * then all whitespace and newlines after it. */
            size_t k = 1;
            while (peek_at(p, k) == ' ' || peek_at(p, k) == '\t')
                k++;
            int after = peek_at(p, k);
            if (after == '\n' || (after == '\r' && peek_at(p, k + 1) == '\n')) {
                p->i += k;
                for (;;) {
                    if (eat_newline(p))
                        continue;
                    if (peek(p) == ' ' || peek(p) == '\t') {
                        p->i++;
                        continue;
                    }
                    break;
                }
                continue;
            }
        }
        if (!string_body_char(p, b, q, c))
            return false;
    }
}

static bool parse_simple_key(parser_t *p, keypart_t *k)
{
    k->line = p->line;
    k->column = column(p);
    util_buf_t b = {0};
    int c = peek(p);
    if (c == '"' || c == '\'') {
        if (!parse_line_string(p, &b)) {
            util_buf_free(&b);
            return false;
        }
    } else {
        size_t start = p->i;
        while (p->i < p->n && is_bare_key_char(p->s[p->i]))
            p->i++;
        if (p->i == start) {
            if (c < 0 || c == '\n' || c == '\r')
                return fail(p, "expected a key");
            if (c >= 0x20 && c < 0x7f)
                return fail(p, "expected a key, found '%c'", c);
            return fail(p, "expected a key");
        }
        if (!util_buf_append(&b, (const char *)p->s + start, p->i - start))
            return oom(p);
    }
    if (!b.p && !util_buf_append(&b, "", 0))
        return oom(p);
    k->s = b.p;
    k->len = b.len;
    return true;
}

/* key = simple-key *( ws "." ws simple-key ) */
static bool parse_key(parser_t *p, keylist_t *kl)
{
    for (;;) {
        if (kl->count == kl->cap) {
            size_t cap = kl->cap ? kl->cap * 2 : 4;
            keypart_t *items = realloc(kl->items, cap * sizeof *items);
            if (!items)
                return oom(p);
            kl->items = items;
            kl->cap = cap;
        }
        if (kl->count >= TOML_MAX_DEPTH)
            return fail(p, "key has more than %d parts", TOML_MAX_DEPTH);
        if (!parse_simple_key(p, &kl->items[kl->count]))
            return false;
        kl->count++;
        size_t save = p->i;
        skip_ws(p);
        if (peek(p) != '.') {
            p->i = save;
            return true;
        }
        p->i++;
        skip_ws(p);
    }
}

/* ------------------------------------------------------------------ */
/* numbers and date/times                                               */

/* Consumes digit *( ["_"] digit ) of the base from t[i..L). Returns the new
 * index, or (size_t)-1 when there is no digit or an underscore is not
 * between two digits. */
static size_t digit_run(const char *t, size_t L, size_t i, int base)
{
    size_t start = i;
    bool last_us = true; /* as if preceded by '_' so a leading '_' fails */
    for (; i < L; i++) {
        int c = (unsigned char)t[i];
        if (c == '_') {
            if (last_us)
                return (size_t)-1;
            last_us = true;
            continue;
        }
        int d = hex_val(c);
        if (d < 0 || d >= base)
            break;
        last_us = false;
    }
    if (i == start || last_us)
        return (size_t)-1;
    return i;
}

static bool parse_int_digits(parser_t *p, const char *t, size_t L, int base, bool neg,
                             int64_t *out)
{
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (size_t i = 0; i < L; i++) {
        if (t[i] == '_')
            continue;
        uint64_t d = (uint64_t)hex_val((unsigned char)t[i]);
        if (v > (limit - d) / (uint64_t)base)
            return fail(p, "integer does not fit in 64 bits");
        v = v * (uint64_t)base + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

static bool parse_number(parser_t *p, const char *t, size_t L, toml_value_t *v)
{
    size_t i = 0;
    bool neg = false, sign = false;
    if (L > 0 && (t[0] == '+' || t[0] == '-')) {
        neg = t[0] == '-';
        sign = true;
        i = 1;
    }
    size_t rest = L - i;
    if (rest == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
        v->type = TOML_FLOAT;
        if (t[i] == 'i')
            v->u.fp = neg ? -INFINITY : INFINITY;
        else
            v->u.fp = neg ? -NAN : NAN;
        return true;
    }
    if (rest >= 2 && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'o' || t[i + 1] == 'b')) {
        int base = t[i + 1] == 'x' ? 16 : t[i + 1] == 'o' ? 8 : 2;
        if (sign)
            return fail(p, "a sign is not allowed on hexadecimal, octal or binary integers");
        size_t end = digit_run(t, L, i + 2, base);
        if (end != L)
            return fail(p, "invalid %s integer '%.*s'",
                        base == 16 ? "hexadecimal" : base == 8 ? "octal" : "binary", (int)L, t);
        v->type = TOML_INTEGER;
        return parse_int_digits(p, t + i + 2, L - i - 2, base, false, &v->u.integer);
    }
    size_t int_start = i;
    size_t end = digit_run(t, L, i, 10);
    if (end == (size_t)-1)
        return fail(p, "invalid value '%.*s'", (int)L, t);
    if (t[int_start] == '0' && end - int_start > 1)
        return fail(p, "leading zeros are not allowed in '%.*s'", (int)L, t);
    size_t int_end = end;
    bool is_float = false;
    if (end < L && t[end] == '.') {
        end = digit_run(t, L, end + 1, 10);
        if (end == (size_t)-1)
            return fail(p, "a decimal point must be followed by digits in '%.*s'", (int)L, t);
        is_float = true;
    }
    if (end < L && (t[end] == 'e' || t[end] == 'E')) {
        size_t k = end + 1;
        if (k < L && (t[k] == '+' || t[k] == '-'))
            k++;
        end = digit_run(t, L, k, 10);
        if (end == (size_t)-1)
            return fail(p, "invalid exponent in '%.*s'", (int)L, t);
        is_float = true;
    }
    if (end != L)
        return fail(p, "invalid value '%.*s'", (int)L, t);
    if (!is_float) {
        v->type = TOML_INTEGER;
        return parse_int_digits(p, t + int_start, int_end - int_start, 10, neg, &v->u.integer);
    }
    char buf[128];
    size_t o = 0;
    for (size_t k = 0; k < L; k++) {
        if (t[k] == '_')
            continue;
        if (o + 1 >= sizeof buf)
            return fail(p, "float literal too long");
        buf[o++] = t[k];
    }
    buf[o] = '\0';
    errno = 0;
    char *endp;
    double d = strtod(buf, &endp);
    if (*endp != '\0')
        return fail(p, "invalid float '%s'", buf);
    if (isinf(d))
        return fail(p, "float '%s' is out of range", buf);
    v->type = TOML_FLOAT;
    v->u.fp = d;
    return true;
}

static bool fixed_digits(const char *t, size_t n, int *out)
{
    int v = 0;
    for (size_t k = 0; k < n; k++) {
        if (!is_digit((unsigned char)t[k]))
            return false;
        v = v * 10 + (t[k] - '0');
    }
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dim[m - 1];
}

/* HH:MM:SS[.frac] at t; returns the index after it or (size_t)-1. */
static size_t parse_time_part(const char *t, size_t L, toml_datetime_t *dt)
{
    if (L < 8 || t[2] != ':' || t[5] != ':' || !fixed_digits(t, 2, &dt->hour) ||
        !fixed_digits(t + 3, 2, &dt->minute) || !fixed_digits(t + 6, 2, &dt->second))
        return (size_t)-1;
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
        return (size_t)-1;
    size_t i = 8;
    if (i < L && t[i] == '.') {
        i++;
        size_t start = i;
        while (i < L && is_digit((unsigned char)t[i])) {
            if (i - start < 9) {
                dt->nanosecond = dt->nanosecond * 10 + (t[i] - '0');
                dt->frac_digits++;
            }
            i++;
        }
        if (i == start)
            return (size_t)-1;
        for (int k = dt->frac_digits; k < 9; k++)
            dt->nanosecond *= 10;
    }
    return i;
}

/* A date/time token (a date-time written with a space already has 'T'). */
static bool parse_datetime(parser_t *p, const char *t, size_t L, toml_value_t *v)
{
    toml_datetime_t dt = {0};
    if (L >= 3 && t[2] == ':') {
        if (parse_time_part(t, L, &dt) != L)
            return fail(p, "invalid local time '%.*s'", (int)L, t);
        v->type = TOML_TIME_LOCAL;
        v->u.dt = dt;
        return true;
    }
    if (L < 10 || t[4] != '-' || t[7] != '-' || !fixed_digits(t, 4, &dt.year) ||
        !fixed_digits(t + 5, 2, &dt.month) || !fixed_digits(t + 8, 2, &dt.day))
        return fail(p, "invalid date '%.*s'", (int)L, t);
    if (dt.month < 1 || dt.month > 12 || dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
        return fail(p, "date '%.*s' does not exist", (int)L, t);
    if (L == 10) {
        v->type = TOML_DATE_LOCAL;
        v->u.dt = dt;
        return true;
    }
    if (t[10] != 'T' && t[10] != 't')
        return fail(p, "invalid date-time '%.*s'", (int)L, t);
    size_t i = 11;
    size_t used = parse_time_part(t + i, L - i, &dt);
    if (used == (size_t)-1)
        return fail(p, "invalid date-time '%.*s'", (int)L, t);
    i += used;
    if (i == L) {
        v->type = TOML_DATETIME_LOCAL;
        v->u.dt = dt;
        return true;
    }
    if ((t[i] == 'Z' || t[i] == 'z') && i + 1 == L) {
        v->type = TOML_DATETIME;
        v->u.dt = dt;
        return true;
    }
    int oh, om;
    if ((t[i] == '+' || t[i] == '-') && L - i == 6 && t[i + 3] == ':' &&
        fixed_digits(t + i + 1, 2, &oh) && fixed_digits(t + i + 4, 2, &om) && oh <= 23 &&
        om <= 59) {
        dt.offset_minutes = (oh * 60 + om) * (t[i] == '-' ? -1 : 1);
        v->type = TOML_DATETIME;
        v->u.dt = dt;
        return true;
    }
    return fail(p, "invalid date-time offset in '%.*s'", (int)L, t);
}

static bool is_token_char(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '_' || c == '+' || c == '-' || c == '.' || c == ':';
}

/* A bare value: bool, number or date/time. */
static bool parse_bare_value(parser_t *p, toml_value_t *v)
{
    size_t start = p->i;
    while (p->i < p->n && is_token_char(p->s[p->i]))
        p->i++;
    size_t L = p->i - start;
    if (L == 0) {
        int c = peek(p);
        if (c < 0 || c == '\n' || c == '\r' || c == '#')
            return fail(p, "expected a value");
        if (c >= 0x20 && c < 0x7f)
            return fail(p, "expected a value, found '%c'", c);
        return fail(p, "expected a value");
    }
    const char *t = (const char *)p->s + start;
    size_t reset = p->i;
    p->i = start; /* errors point at the start of the value */
    if ((L == 4 && memcmp(t, "true", 4) == 0) || (L == 5 && memcmp(t, "false", 5) == 0)) {
        v->type = TOML_BOOL;
        v->u.boolean = L == 4;
        p->i = reset;
        return true;
    }
    bool date = L >= 5 && is_digit(t[0]) && is_digit(t[1]) && is_digit(t[2]) && is_digit(t[3]) &&
                t[4] == '-';
    bool time = L >= 3 && is_digit(t[0]) && is_digit(t[1]) && t[2] == ':';
    if (date || time) {
        char buf[80];
        if (L == 10 && date && reset + 3 < p->n && p->s[reset] == ' ' &&
            is_digit(p->s[reset + 1]) && is_digit(p->s[reset + 2]) && p->s[reset + 3] == ':') {
            /* "1979-05-27 07:32:00": the space separates date and time. */
            size_t k = reset + 1;
            while (k < p->n && is_token_char(p->s[k]))
                k++;
            size_t L2 = k - reset - 1;
            if (10 + 1 + L2 >= sizeof buf)
                return fail(p, "invalid date-time");
            memcpy(buf, t, 10);
            buf[10] = 'T';
            memcpy(buf + 11, p->s + reset + 1, L2);
            if (!parse_datetime(p, buf, 11 + L2, v))
                return false;
            p->i = k;
            return true;
        }
        if (!parse_datetime(p, t, L, v))
            return false;
        p->i = reset;
        return true;
    }
    if (!parse_number(p, t, L, v))
        return false;
    p->i = reset;
    return true;
}

/* ------------------------------------------------------------------ */
/* values, arrays, inline tables                                        */

static bool parse_value(parser_t *p, int depth, toml_value_t **out);

/* Walks/creates the intermediate tables of a dotted key below t, as a
 * key/value line may (see the flags at the top), and checks the last part
 * is new. Returns the table that gets the last part, or NULL. */
static toml_value_t *resolve_dotted(parser_t *p, toml_value_t *t, const keylist_t *kl)
{
    char show[64];
    for (size_t k = 0; k + 1 < kl->count; k++) {
        const keypart_t *kp = &kl->items[k];
        toml_value_t *v = table_find(t, kp->s, kp->len);
        if (!v) {
            v = add_table(p, t, kp, TF_DOTTED);
            if (!v)
                return NULL;
        } else if (v->type != TOML_TABLE || !(v->flags & TF_DOTTED) || (v->flags & TF_INLINE)) {
            fail_at_key(p, kp, "cannot add keys to '%s': it is already defined (line %d)",
                        key_show(kp, show, sizeof show), v->line);
            return NULL;
        }
        t = v;
    }
    const keypart_t *last = &kl->items[kl->count - 1];
    toml_value_t *dup = table_find(t, last->s, last->len);
    if (dup) {
        fail_at_key(p, last, "duplicate key '%s' (first defined on line %d)",
                    key_show(last, show, sizeof show), dup->line);
        return NULL;
    }
    return t;
}

/* key ws "=" ws value, inserted below t. */
static bool parse_keyval(parser_t *p, toml_value_t *t)
{
    keylist_t kl = {0};
    bool ok = false;
    if (!parse_key(p, &kl))
        goto out;
    skip_ws(p);
    if (peek(p) != '=') {
        fail(p, "expected '=' after a key");
        goto out;
    }
    p->i++;
    skip_ws(p);
    toml_value_t *target = resolve_dotted(p, t, &kl);
    if (!target)
        goto out;
    toml_value_t *v = NULL;
    if (!parse_value(p, target->depth + 1, &v))
        goto out;
    if (!table_add(p, target, &kl.items[kl.count - 1], v)) {
        toml_free(v);
        goto out;
    }
    ok = true;
out:
    keylist_free(&kl);
    return ok;
}

/* Skips whitespace, newlines and comments (inside arrays). */
static bool skip_ws_nl(parser_t *p)
{
    for (;;) {
        skip_ws(p);
        int c = peek(p);
        if (c == '#') {
            if (!parse_comment(p))
                return false;
            continue;
        }
        if (c == '\n' || c == '\r') {
            if (!eat_newline(p))
                return fail(p, "carriage return not followed by a line feed");
            continue;
        }
        return true;
    }
}

static bool parse_array(parser_t *p, toml_value_t *a, int depth)
{
    p->i++; /* [ */
    for (;;) {
        if (!skip_ws_nl(p))
            return false;
        if (peek(p) == ']') {
            p->i++;
            return true;
        }
        toml_value_t *v = NULL;
        if (!parse_value(p, depth + 1, &v))
            return false;
        if (!array_push(p, a, v)) {
            toml_free(v);
            return false;
        }
        if (!skip_ws_nl(p))
            return false;
        if (peek(p) == ',') {
            p->i++;
            continue;
        }
        if (peek(p) == ']') {
            p->i++;
            return true;
        }
        return peek(p) < 0 ? fail(p, "unterminated array") : fail(p, "expected ',' or ']' in an array");
    }
}

/* Inline tables stay on one line and have no trailing comma (TOML 1.0). */
static bool parse_inline_table(parser_t *p, toml_value_t *t)
{
    p->i++; /* { */
    skip_ws(p);
    if (peek(p) == '}') {
        p->i++;
        return true;
    }
    for (;;) {
        if (!parse_keyval(p, t))
            return false;
        skip_ws(p);
        if (peek(p) == ',') {
            p->i++;
            skip_ws(p);
            continue;
        }
        if (peek(p) == '}') {
            p->i++;
            return true;
        }
        return fail(p, "expected ',' or '}' in an inline table (which must stay on one line)");
    }
}

static bool parse_value(parser_t *p, int depth, toml_value_t **out)
{
    if (depth > TOML_MAX_DEPTH)
        return fail(p, "nesting deeper than %d levels", TOML_MAX_DEPTH);
    toml_value_t *v = node_new(p, TOML_STRING, p->line, column(p));
    if (!v)
        return false;
    v->depth = (uint16_t)depth;
    int c = peek(p);
    bool ok;
    if (c == '"' || c == '\'') {
        util_buf_t b = {0};
        if (peek_at(p, 1) == c && peek_at(p, 2) == c)
            ok = parse_ml_string(p, &b);
        else
            ok = parse_line_string(p, &b);
        if (ok && !b.p && !util_buf_append(&b, "", 0))
            ok = oom(p);
        if (ok) {
            v->u.str.ptr = b.p;
            v->u.str.len = b.len;
        } else {
            util_buf_free(&b);
        }
    } else if (c == '[') {
        v->type = TOML_ARRAY;
        ok = parse_array(p, v, depth);
    } else if (c == '{') {
        v->type = TOML_TABLE;
        v->flags = TF_INLINE;
        ok = parse_inline_table(p, v);
    } else {
        v->type = TOML_BOOL; /* a scalar with nothing to free until set */
        ok = parse_bare_value(p, v);
    }
    if (!ok) {
        toml_free(v);
        return false;
    }
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ */
/* table headers and the document                                       */

static bool parse_header(parser_t *p)
{
    bool aot = peek_at(p, 1) == '[';
    p->i += aot ? 2 : 1;
    skip_ws(p);
    keylist_t kl = {0};
    bool ok = false;
    char show[64];
    if (!parse_key(p, &kl))
        goto out;
    skip_ws(p);
    if (peek(p) != ']' || (aot && peek_at(p, 1) != ']')) {
        fail(p, aot ? "expected ']]' to close an array-of-tables header" : "expected ']' to close a table header");
        goto out;
    }
    p->i += aot ? 2 : 1;

    toml_value_t *t = p->root;
    for (size_t k = 0; k + 1 < kl.count; k++) {
        const keypart_t *kp = &kl.items[k];
        toml_value_t *v = table_find(t, kp->s, kp->len);
        if (!v) {
            v = add_table(p, t, kp, TF_IMPLICIT);
            if (!v)
                goto out;
        } else if (v->type == TOML_ARRAY && (v->flags & AF_AOT)) {
            v = v->u.array.items[v->u.array.count - 1];
        } else if (v->type != TOML_TABLE || (v->flags & TF_INLINE)) {
            fail_at_key(p, kp, "'%s' is already defined as a value (line %d), not a table",
                        key_show(kp, show, sizeof show), v->line);
            goto out;
        }
        t = v;
    }
    const keypart_t *last = &kl.items[kl.count - 1];
    toml_value_t *v = table_find(t, last->s, last->len);
    if (!aot) {
        if (!v) {
            v = add_table(p, t, last, TF_EXPLICIT);
            if (!v)
                goto out;
        } else if (v->type == TOML_TABLE && v->flags == TF_IMPLICIT) {
            v->flags = TF_EXPLICIT;
            v->line = last->line;
            v->column = last->column;
        } else {
            fail_at_key(p, last, "table '%s' is already defined (line %d)",
                        key_show(last, show, sizeof show), v->line);
            goto out;
        }
        p->cur = v;
    } else {
        if (!v) {
            if (t->depth + 1 > TOML_MAX_DEPTH) {
                fail_at_key(p, last, "nesting deeper than %d levels", TOML_MAX_DEPTH);
                goto out;
            }
            v = node_new(p, TOML_ARRAY, last->line, last->column);
            if (!v)
                goto out;
            v->flags = AF_AOT;
            v->depth = (uint16_t)(t->depth + 1);
            if (!table_add(p, t, last, v)) {
                free(v);
                goto out;
            }
        } else if (v->type != TOML_ARRAY || !(v->flags & AF_AOT)) {
            fail_at_key(p, last, "'%s' is already defined (line %d), not as an array of tables",
                        key_show(last, show, sizeof show), v->line);
            goto out;
        }
        if (v->depth + 1 > TOML_MAX_DEPTH) {
            fail_at_key(p, last, "nesting deeper than %d levels", TOML_MAX_DEPTH);
            goto out;
        }
        toml_value_t *elem = node_new(p, TOML_TABLE, last->line, last->column);
        if (!elem)
            goto out;
        elem->flags = TF_EXPLICIT;
        elem->depth = (uint16_t)(v->depth + 1);
        if (!array_push(p, v, elem)) {
            free(elem);
            goto out;
        }
        p->cur = elem;
    }
    ok = true;
out:
    keylist_free(&kl);
    return ok;
}

/* After a key/value or header: optional whitespace and comment, then a
 * newline or the end of input. */
static bool end_of_line(parser_t *p)
{
    skip_ws(p);
    if (peek(p) == '#' && !parse_comment(p))
        return false;
    if (peek(p) < 0 || eat_newline(p))
        return true;
    if (peek(p) == '\r')
        return fail(p, "carriage return not followed by a line feed");
    return fail(p, "expected a newline after the value");
}

bool toml_parse(const char *text, size_t len, toml_value_t **out, err_t *err)
{
    parser_t p = {.s = (const unsigned char *)text, .n = len, .line = 1, .err = err};
    *out = NULL;
    if (!text && len)
        return err_set(err, "line 1, column 1: no input");
    if (!check_utf8(&p))
        return false;
    p.i = 0;
    p.line = 1;
    p.line_start = 0;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        p.i = 3; /* BOM; columns still count its bytes */
    }
    p.root = node_new(&p, TOML_TABLE, 1, 1);
    if (!p.root)
        return false;
    p.root->flags = TF_EXPLICIT;
    p.cur = p.root;
    for (;;) {
        skip_ws(&p);
        int c = peek(&p);
        if (c < 0)
            break;
        if (c == '#') {
            if (!parse_comment(&p))
                goto fail;
            continue; /* the newline (or end) is taken on the next turn */
        }
        if (c == '\n' || c == '\r') {
            if (!eat_newline(&p)) {
                fail(&p, "carriage return not followed by a line feed");
                goto fail;
            }
            continue;
        }
        if (c == '[') {
            if (!parse_header(&p))
                goto fail;
        } else if (!parse_keyval(&p, p.cur)) {
            goto fail;
        }
        if (!end_of_line(&p))
            goto fail;
    }
    *out = p.root;
    return true;
fail:
    toml_free(p.root);
    return false;
}

/* ------------------------------------------------------------------ */
/* output helpers                                                       */

const char *toml_type_name(toml_type_t t)
{
    switch (t) {
    case TOML_TABLE: return "table";
    case TOML_ARRAY: return "array";
    case TOML_STRING: return "string";
    case TOML_INTEGER: return "integer";
    case TOML_FLOAT: return "float";
    case TOML_BOOL: return "bool";
    case TOML_DATETIME: return "datetime";
    case TOML_DATETIME_LOCAL: return "datetime-local";
    case TOML_DATE_LOCAL: return "date-local";
    case TOML_TIME_LOCAL: return "time-local";
    }
    return "?";
}

size_t toml_datetime_format(const toml_value_t *v, char *buf, size_t size)
{
    if (!v || size == 0)
        return 0;
    const toml_datetime_t *d = &v->u.dt;
    char date[48] = "", time[64] = "", off[32] = "";
    bool has_date = v->type == TOML_DATETIME || v->type == TOML_DATETIME_LOCAL ||
                    v->type == TOML_DATE_LOCAL;
    bool has_time = v->type == TOML_DATETIME || v->type == TOML_DATETIME_LOCAL ||
                    v->type == TOML_TIME_LOCAL;
    if (!has_date && !has_time)
        return 0;
    if (has_date)
        snprintf(date, sizeof date, "%04d-%02d-%02d", d->year, d->month, d->day);
    if (has_time) {
        int n = snprintf(time, sizeof time, "%02d:%02d:%02d", d->hour, d->minute, d->second);
        if (d->frac_digits > 0) {
            int digits = d->frac_digits < 3 ? 3 : d->frac_digits;
            int frac = d->nanosecond;
            for (int k = digits; k < 9; k++)
                frac /= 10;
            snprintf(time + n, sizeof time - (size_t)n, ".%0*d", digits, frac);
        }
    }
    if (v->type == TOML_DATETIME) {
        int m = d->offset_minutes;
        if (m == 0)
            strcpy(off, "Z");
        else
            snprintf(off, sizeof off, "%c%02d:%02d", m < 0 ? '-' : '+', abs(m) / 60, abs(m) % 60);
    }
    int n = snprintf(buf, size, "%s%s%s%s", date, has_date && has_time ? "T" : "", time, off);
    return n < 0 || (size_t)n >= size ? 0 : (size_t)n;
}

json_t *toml_to_json(const toml_value_t *v, err_t *err)
{
    json_t *j = NULL;
    switch (v->type) {
    case TOML_TABLE:
        j = json_object();
        if (!j)
            break;
        for (size_t k = 0; k < v->u.table.count; k++) {
            const toml_entry_t *e = &v->u.table.items[k];
            json_t *c = toml_to_json(e->value, err);
            if (!c || json_object_setn_new(j, e->key, e->key_len, c) != 0) {
                json_decref(j);
                return c ? (err_set(err, "out of memory"), NULL) : NULL;
            }
        }
        return j;
    case TOML_ARRAY:
        j = json_array();
        if (!j)
            break;
        for (size_t k = 0; k < v->u.array.count; k++) {
            json_t *c = toml_to_json(v->u.array.items[k], err);
            if (!c || json_array_append_new(j, c) != 0) {
                json_decref(j);
                return c ? (err_set(err, "out of memory"), NULL) : NULL;
            }
        }
        return j;
    case TOML_STRING:
        j = json_stringn(v->u.str.ptr, v->u.str.len);
        break;
    case TOML_INTEGER:
        j = json_integer((json_int_t)v->u.integer);
        break;
    case TOML_FLOAT:
        if (!isfinite(v->u.fp)) {
            err_set(err, "line %d, column %d: %s cannot be represented in JSON", v->line,
                    v->column, isnan(v->u.fp) ? "nan" : "inf");
            return NULL;
        }
        j = json_real(v->u.fp);
        break;
    case TOML_BOOL:
        j = json_boolean(v->u.boolean);
        break;
    default: {
        char buf[64];
        if (toml_datetime_format(v, buf, sizeof buf) == 0) {
            err_set(err, "line %d, column %d: cannot format date/time", v->line, v->column);
            return NULL;
        }
        j = json_string(buf);
        break;
    }
    }
    if (!j)
        err_set(err, "out of memory");
    return j;
}
