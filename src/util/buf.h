/*
 * buf.h — a growable byte string, the one every module uses to assemble
 * text or bytes of unknown length: messages (difc), decoded TOML strings,
 * SSE fields, stdio lines and HTTP bodies (mcp).
 *
 * The bytes p[0..len) are followed by a NUL once anything (even nothing:
 * util_buf_append(b, "", 0)) was appended, so text without NULs can be used
 * as a C string in place. `oom` latches: after one failed append every later
 * append is a no-op returning false and util_buf_take() returns NULL, so a
 * builder may append freely and check once at the end. A zeroed struct is an
 * empty buffer; the struct owns p until util_buf_take() hands it over or
 * util_buf_free() releases it. Not thread-safe (one owner at a time).
 */
#ifndef FLOWGATE_UTIL_BUF_H
#define FLOWGATE_UTIL_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct util_buf {
    char *p;        /* NULL until the first append */
    size_t len, cap;
    bool oom;       /* an append failed; see above */
} util_buf_t;

/* Appends n bytes of s (s may be NULL when n is 0). False on OOM (latched). */
bool util_buf_append(util_buf_t *b, const void *s, size_t n);
/* Appends a NUL-terminated string. */
bool util_buf_puts(util_buf_t *b, const char *s);
bool util_buf_putc(util_buf_t *b, char c);
/* Appends printf-formatted text. False on OOM or a formatting error. */
bool util_buf_printf(util_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Empties the buffer (keeping its memory for reuse) and clears the latch. */
void util_buf_clear(util_buf_t *b);
/* Returns the NUL-terminated contents (caller frees; "" when nothing was
 * appended) or NULL after an OOM; either way b is left empty. */
char *util_buf_take(util_buf_t *b);
/* Releases the memory; b is left empty and reusable. */
void util_buf_free(util_buf_t *b);

#endif
