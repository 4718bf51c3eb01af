/*
 * fuzz_jsonrpc.c — libFuzzer target for the bytes a backend (or a client)
 * controls in src/mcp: JSON-RPC classification, NDJSON line framing and the
 * SSE parser, plus the writer->parser round trip.
 *
 * Input: byte 0 picks chunk sizes for the streaming parsers; the rest is the
 * text. Properties checked (abort on violation):
 *   - a message that classifies OK re-serialises to one line that classifies
 *     the same way;
 *   - line and SSE parsing give the same events whatever the chunking;
 *   - an event written by mcp_sse_format_event parses back to one event with
 *     the same data (CR/CRLF normalised to LF).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c)) {                                                                                                    \
            fprintf(stderr, "property failed: %s (line %d)\n", #c, __LINE__);                                         \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

typedef struct digest {
    uint64_t h;
    size_t n;
} digest_t;

static void mix(digest_t *d, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        d->h = (d->h ^ (unsigned char)s[i]) * 1099511628211ULL;
    d->h = (d->h ^ 0xFF) * 1099511628211ULL;
    d->n++;
}

static bool on_line(void *ud, char *line, size_t len)
{
    mix(ud, line, len);
    mcp_msg_t m;
    mcp_jsonrpc_parse(line, len, &m, NULL);
    mcp_msg_free(&m);
    return true;
}

static bool on_event(void *ud, const mcp_sse_event_t *ev)
{
    digest_t *d = ud;
    mix(d, ev->event, strlen(ev->event));
    mix(d, ev->data, ev->data_len);
    mix(d, ev->id, strlen(ev->id));
    d->h ^= (uint64_t)ev->retry_ms;
    return true;
}

static void check_classify(const char *text, size_t len)
{
    mcp_msg_t m;
    err_t e;
    mcp_parse_status_t st = mcp_jsonrpc_parse(text, len, &m, &e);
    if (st == MCP_PARSE_OK) {
        size_t n;
        char *s = mcp_jsonrpc_serialize(m.root, &n);
        CHECK(s != NULL);
        CHECK(memchr(s, '\n', n) == NULL);
        mcp_msg_t again;
        CHECK(mcp_jsonrpc_parse(s, n, &again, &e) == MCP_PARSE_OK);
        CHECK(again.kind == m.kind);
        CHECK((m.method == NULL) == (again.method == NULL));
        CHECK(!m.method || strcmp(m.method, again.method) == 0);
        if (m.kind == MCP_MSG_ERROR)
            CHECK(m.error_code == again.error_code);
        /* replies built from it are valid messages too */
        json_t *reply = m.kind == MCP_MSG_REQUEST ? mcp_jsonrpc_error(m.id, MCP_ERR_INTERNAL, "x", m.params) : NULL;
        if (reply) {
            mcp_msg_t r;
            char *rs = mcp_jsonrpc_serialize(reply, &n);
            CHECK(rs && mcp_jsonrpc_parse(rs, n, &r, &e) == MCP_PARSE_OK && r.kind == MCP_MSG_ERROR);
            mcp_msg_free(&r);
            free(rs);
            json_decref(reply);
        }
        mcp_msg_free(&again);
        free(s);
    } else if (st == MCP_PARSE_BATCH) {
        for (size_t i = 0; i < json_array_size(m.root); i++) {
            mcp_msg_t one;
            mcp_jsonrpc_classify(json_array_get(m.root, i), &one, &e);
            mcp_msg_free(&one);
        }
    }
    mcp_msg_free(&m);
}

static digest_t lines(const char *text, size_t len, size_t chunk)
{
    digest_t d = {14695981039346656037ULL, 0};
    mcp_linebuf_t lb;
    mcp_linebuf_init(&lb, 4096);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        mcp_linebuf_feed(&lb, text + off, n, on_line, &d, NULL);
    }
    mcp_linebuf_free(&lb);
    return d;
}

static digest_t events(const char *text, size_t len, size_t chunk, bool *ok)
{
    digest_t d = {14695981039346656037ULL, 0};
    mcp_sse_parser_t *p = mcp_sse_parser_new(8192, on_event, &d);
    CHECK(p != NULL);
    *ok = true;
    for (size_t off = 0; off < len && *ok; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;
        *ok = mcp_sse_parser_feed(p, text + off, n, NULL);
    }
    mcp_sse_parser_free(p);
    return d;
}

typedef struct one {
    int n;
    char *data;
    size_t len;
} one_t;

static bool keep_event(void *ud, const mcp_sse_event_t *ev)
{
    one_t *o = ud;
    if (o->n++ == 0) {
        o->data = malloc(ev->data_len + 1);
        CHECK(o->data != NULL);
        memcpy(o->data, ev->data, ev->data_len);
        o->len = ev->data_len;
    }
    return true;
}

static void check_writer(const char *data, size_t len)
{
    size_t n;
    char *s = mcp_sse_format_event("message", "7", data, len, -1, &n);
    CHECK(s != NULL);
    one_t o = {0};
    mcp_sse_parser_t *p = mcp_sse_parser_new(0, keep_event, &o);
    CHECK(mcp_sse_parser_feed(p, s, n, NULL));
    CHECK(o.n == 1);
    /* expected: CRLF and CR become LF */
    char *want = malloc(len + 1);
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
            continue;
        want[w++] = data[i] == '\r' ? '\n' : data[i];
    }
    CHECK(o.len == w && memcmp(o.data, want, w) == 0);
    free(want);
    free(o.data);
    mcp_sse_parser_free(p);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536)
        return 0;
    size_t chunk = (size_t)(data[0] % 13) + 1;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    check_classify(text, len);

    digest_t a = lines(text, len, len ? len : 1), b = lines(text, len, chunk);
    CHECK(a.h == b.h && a.n == b.n);

    bool ok1, ok2;
    digest_t e1 = events(text, len, len ? len : 1, &ok1), e2 = events(text, len, chunk, &ok2);
    if (ok1 && ok2)
        CHECK(e1.h == e2.h && e1.n == e2.n);

    check_writer(text, len);
    return 0;
}
