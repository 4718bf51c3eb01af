/*
 * sbuf.c — the growable string used to build messages (difc_internal.h).
 */
#include "difc/difc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(sbuf_t *b, size_t add)
{
    if (b->oom)
        return false;
    if (b->len + add + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + add + 1)
        cap *= 2;
    char *p = realloc(b->buf, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->buf = p;
    b->cap = cap;
    return true;
}

void sbuf_putn(sbuf_t *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

void sbuf_puts(sbuf_t *b, const char *s)
{
    sbuf_putn(b, s, strlen(s));
}

void sbuf_printf(sbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if (!grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *sbuf_take(sbuf_t *b)
{
    char *out = NULL;
    if (!b->oom) {
        out = b->buf ? b->buf : strdup("");
        b->buf = NULL;
    }
    sbuf_free(b);
    return out;
}

void sbuf_free(sbuf_t *b)
{
    free(b->buf);
    b->buf = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
