/*
 * buf.c — the growable byte string (buf.h).
 */
#include "util/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for `add` more bytes and the NUL; doubling keeps appends
 * amortised O(1). */
static bool grow(util_buf_t *b, size_t add)
{
    if (b->oom)
        return false;
    if (add > (size_t)-1 / 2 - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + add + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

bool util_buf_append(util_buf_t *b, const void *s, size_t n)
{
    if (!grow(b, n))
        return false;
    if (n)
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

bool util_buf_puts(util_buf_t *b, const char *s)
{
    return util_buf_append(b, s, strlen(s));
}

bool util_buf_putc(util_buf_t *b, char c)
{
    return util_buf_append(b, &c, 1);
}

bool util_buf_printf(util_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return false;
    }
    if (!grow(b, (size_t)n))
        return false;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return true;
}

void util_buf_clear(util_buf_t *b)
{
    b->len = 0;
    b->oom = false;
    if (b->p)
        b->p[0] = '\0';
}

char *util_buf_take(util_buf_t *b)
{
    char *out = NULL;
    if (!b->oom) {
        out = b->p ? b->p : strdup("");
        b->p = NULL;
    }
    util_buf_free(b);
    return out;
}

void util_buf_free(util_buf_t *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
