/*
 * linebuf.c — newline-delimited framing for the stdio transport
 * (spec: mcp-protocol §1.2: one UTF-8 JSON message per line).
 *
 * Invariant: buf[0..len) holds the start of the current, unfinished line.
 * Lines are assembled in buf (one growing buffer, reused) so the callback gets
 * a writable NUL-terminated copy whatever the chunking.
 */
#include "mcp/mcp.h"

#include <stdlib.h>
#include <string.h>

void mcp_linebuf_init(mcp_linebuf_t *lb, size_t max_line)
{
    memset(lb, 0, sizeof *lb);
    lb->max_line = max_line ? max_line : (size_t)64 << 20;
}

void mcp_linebuf_free(mcp_linebuf_t *lb)
{
    free(lb->buf);
    memset(lb, 0, sizeof *lb);
}

static bool append(mcp_linebuf_t *lb, const char *data, size_t n, err_t *err)
{
    if (lb->len + n + 1 > lb->cap) {
        size_t cap = lb->cap ? lb->cap : 4096;
        while (cap < lb->len + n + 1)
            cap *= 2;
        char *nb = realloc(lb->buf, cap);
        if (!nb)
            return err_set(err, "out of memory buffering a %zu-byte line", lb->len + n);
        lb->buf = nb;
        lb->cap = cap;
    }
    memcpy(lb->buf + lb->len, data, n);
    lb->len += n;
    return true;
}

/* Hands one complete line (NUL-terminated in place) to fn. */
static bool emit(char *line, size_t len, mcp_line_fn fn, void *ud)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (len == 0)
        return true;
    line[len] = '\0';
    return fn(ud, line, len);
}

bool mcp_linebuf_feed(mcp_linebuf_t *lb, const char *data, size_t n, mcp_line_fn fn, void *ud, err_t *err)
{
    bool too_long = false;
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t chunk = nl ? (size_t)(nl - data) : n;
        if (lb->discarding) {
            if (nl)
                lb->discarding = false;
        } else if (lb->len + chunk > lb->max_line) {
            /* Drop the whole line, including what comes before the next
             * newline, so that the next message starts cleanly. */
            lb->len = 0;
            too_long = true;
            lb->discarding = (nl == NULL);
        } else {
            if (!append(lb, data, chunk, err))
                return false;
            if (nl) {
                size_t l = lb->len;
                lb->len = 0;
                if (!emit(lb->buf, l, fn, ud))
                    { err_clear(err); return false; }
            }
        }
        if (!nl)
            break;
        n -= chunk + 1;
        data = nl + 1;
    }
    if (too_long)
        return err_set(err, "message longer than %zu bytes discarded", lb->max_line);
    return true;
}
