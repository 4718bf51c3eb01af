/*
 * sse.c — text/event-stream: an incremental parser and an event writer.
 *
 * Parsing follows the HTML "server-sent events" interpretation rules: lines
 * end in CRLF, LF or CR; a line starting with ':' is a comment; "field:
 * value" drops one space after the colon; data lines accumulate joined by
 * LF; id sets the last event id (ignored if it contains NUL); retry takes
 * ASCII digits only; a blank line dispatches, unless no data line was seen.
 * MCP uses the stream for JSON-RPC messages (spec: mcp-protocol §1.3),
 * including "priming" events that carry an id and empty data.
 *
 * Invariant: `line` holds the current unfinished line across feeds;
 * `pending_cr` remembers a CR that ended the previous chunk so that a LF
 * starting the next chunk is not taken for a second (blank) line.
 */
#include "mcp/mcp.h"
#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mcp_sse_parser {
    mcp_sse_event_fn fn;
    void *ud;
    size_t max_event;
    util_buf_t line, data, event, id;
    long retry_ms;
    bool saw_data;
    bool pending_cr;
    bool started; /* BOM check done */
    bool stopped; /* fn returned false */
};

mcp_sse_parser_t *mcp_sse_parser_new(size_t max_event, mcp_sse_event_fn fn, void *ud)
{
    mcp_sse_parser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->fn = fn;
    p->ud = ud;
    p->max_event = max_event ? max_event : (size_t)64 << 20;
    p->retry_ms = -1;
    /* id must always be a valid string, even before the first id: line. */
    if (!util_buf_append(&p->id, "", 0)) {
        free(p);
        return NULL;
    }
    return p;
}

void mcp_sse_parser_free(mcp_sse_parser_t *p)
{
    if (!p)
        return;
    util_buf_free(&p->line);
    util_buf_free(&p->data);
    util_buf_free(&p->event);
    util_buf_free(&p->id);
    free(p);
}

const char *mcp_sse_parser_last_event_id(const mcp_sse_parser_t *p)
{
    return p->id.p;
}

static bool dispatch(mcp_sse_parser_t *p)
{
    bool ok = true;
    if (p->saw_data) {
        size_t n = p->data.len;
        if (n && p->data.p[n - 1] == '\n')
            n--; /* the LF after the last data line */
        mcp_sse_event_t ev = {
            .event = p->event.len ? p->event.p : "message",
            .data = n ? p->data.p : "",
            .data_len = n,
            .id = p->id.p,
            .retry_ms = p->retry_ms,
        };
        ok = p->fn(p->ud, &ev);
    }
    util_buf_clear(&p->data);
    util_buf_clear(&p->event);
    p->saw_data = false;
    p->retry_ms = -1;
    return ok;
}

/* Processes one complete line (without its terminator). */
static bool process_line(mcp_sse_parser_t *p, const char *s, size_t n, err_t *err)
{
    if (n == 0) {
        if (!dispatch(p)) {
            p->stopped = true;
            err_clear(err);
            return false;
        }
        return true;
    }
    if (s[0] == ':')
        return true;
    const char *colon = memchr(s, ':', n);
    size_t flen = colon ? (size_t)(colon - s) : n;
    const char *v = colon ? colon + 1 : s + n;
    size_t vlen = colon ? n - flen - 1 : 0;
    if (vlen && v[0] == ' ') {
        v++;
        vlen--;
    }
#define FIELD(name) (flen == sizeof(name) - 1 && memcmp(s, name, flen) == 0)
    if (FIELD("data")) {
        if (p->data.len + vlen + 1 > p->max_event)
            return err_set(err, "SSE event larger than %zu bytes", p->max_event);
        if (!util_buf_append(&p->data, v, vlen) || !util_buf_append(&p->data, "\n", 1))
            return err_set(err, "out of memory in SSE parser");
        p->saw_data = true;
    } else if (FIELD("event")) {
        util_buf_clear(&p->event);
        if (!util_buf_append(&p->event, v, vlen))
            return err_set(err, "out of memory in SSE parser");
    } else if (FIELD("id")) {
        if (!memchr(v, '\0', vlen)) {
            util_buf_clear(&p->id);
            if (!util_buf_append(&p->id, v, vlen))
                return err_set(err, "out of memory in SSE parser");
        }
    } else if (FIELD("retry")) {
        long ms = 0;
        size_t i;
        for (i = 0; i < vlen && v[i] >= '0' && v[i] <= '9'; i++)
            ms = ms > 100000000 ? ms : ms * 10 + (v[i] - '0'); /* saturate, never overflow */
        if (vlen && i == vlen)
            p->retry_ms = ms;
    }
#undef FIELD
    return true;
}

bool mcp_sse_parser_feed(mcp_sse_parser_t *p, const char *data, size_t len, err_t *err)
{
    if (p->stopped) {
        err_clear(err);
        return false;
    }
    if (!p->started && len > 0) {
        /* The BOM may only appear as the stream's first bytes; buffer until
         * we have three bytes or a mismatch. */
        static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
        size_t have = p->line.len, i = 0;
        while (have < 3 && i < len && data[i] == bom[have]) {
            if (!util_buf_append(&p->line, data + i, 1))
                return err_set(err, "out of memory in SSE parser");
            have++;
            i++;
        }
        if (have == 3) {
            util_buf_clear(&p->line);
            p->started = true;
        } else if (i == len) {
            return true; /* still a prefix of the BOM */
        } else {
            p->started = true; /* not a BOM: keep the bytes as line content */
        }
        data += i;
        len -= i;
    }
    while (len > 0) {
        if (p->pending_cr) {
            p->pending_cr = false;
            if (data[0] == '\n') {
                data++;
                len--;
                continue;
            }
        }
        /* The first CR or LF: two memchr scans beat a byte loop on long
         * data lines, which is what JSON-RPC events are. */
        const char *nl = memchr(data, '\n', len);
        size_t lim = nl ? (size_t)(nl - data) : len;
        const char *crp = memchr(data, '\r', lim);
        size_t i = crp ? (size_t)(crp - data) : lim;
        if (p->line.len + i > p->max_event)
            return err_set(err, "SSE line longer than %zu bytes", p->max_event);
        if (i == len) {
            if (!util_buf_append(&p->line, data, len))
                return err_set(err, "out of memory in SSE parser");
            break;
        }
        const char *s = data;
        size_t n = i;
        if (p->line.len) {
            if (!util_buf_append(&p->line, data, i))
                return err_set(err, "out of memory in SSE parser");
            s = p->line.p;
            n = p->line.len;
        }
        bool cr = data[i] == '\r';
        bool ok = process_line(p, s, n, err);
        util_buf_clear(&p->line);
        if (!ok)
            return false;
        data += i + 1;
        len -= i + 1;
        if (cr)
            p->pending_cr = true;
    }
    return true;
}

char *mcp_sse_format_event(const char *event, const char *id, const char *data, size_t data_len,
                           long retry_ms, size_t *out_len)
{
    if ((event && strpbrk(event, "\r\n")) || (id && strpbrk(id, "\r\n")))
        return NULL;
    if (!data)
        data = "", data_len = 0;
    util_buf_t b = {0};
    if (event) {
        util_buf_puts(&b, "event: ");
        util_buf_puts(&b, event);
        util_buf_putc(&b, '\n');
    }
    if (id) {
        util_buf_puts(&b, "id: ");
        util_buf_puts(&b, id);
        util_buf_putc(&b, '\n');
    }
    if (retry_ms >= 0)
        util_buf_printf(&b, "retry: %ld\n", retry_ms);
    /* n separators make n+1 data lines, so a trailing newline survives the
     * parser's "drop the last LF" rule and "" still yields one data line. */
    size_t i = 0;
    for (;;) {
        size_t j = i;
        while (j < data_len && data[j] != '\r' && data[j] != '\n')
            j++;
        util_buf_puts(&b, "data: ");
        util_buf_append(&b, data + i, j - i);
        util_buf_putc(&b, '\n');
        if (j == data_len)
            break;
        if (data[j] == '\r' && j + 1 < data_len && data[j + 1] == '\n')
            j++;
        i = j + 1;
    }
    util_buf_putc(&b, '\n');
    size_t n = b.len;
    char *out = util_buf_take(&b); /* NULL after an OOM anywhere above */
    if (out && out_len)
        *out_len = n;
    return out;
}
