/*
 * linebuf.c — newline-delimited framing for the stdio transport
 * (spec: mcp-protocol §1.2: one UTF-8 JSON message per line).
 *
 * Invariant: `line` holds the start of the current, unfinished line.
 * Lines are assembled there (one growing buffer, reused) so the callback gets
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
    util_buf_free(&lb->line);
    memset(lb, 0, sizeof *lb);
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
        } else if (lb->line.len + chunk > lb->max_line) {
            /* Drop the whole line, including what comes before the next
             * newline, so that the next message starts cleanly. */
            util_buf_clear(&lb->line);
            too_long = true;
            lb->discarding = (nl == NULL);
        } else {
            if (!util_buf_append(&lb->line, data, chunk))
                return err_set(err, "out of memory buffering a %zu-byte line", lb->line.len + chunk);
            if (nl) {
                bool go_on = emit(lb->line.p, lb->line.len, fn, ud);
                util_buf_clear(&lb->line);
                if (!go_on) {
                    err_clear(err);
                    return false;
                }
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
