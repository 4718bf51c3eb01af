/* NDJSON line framing and the SSE parser/writer (mcp.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/mcp.h"

/* ------------------------------------------------------------ lines */

typedef struct lines {
    int n;
    char got[8][64];
} lines_t;

static bool collect_line(void *ud, char *line, size_t len)
{
    lines_t *l = ud;
    assert_int_equal(strlen(line), len);
    if (l->n < 8)
        snprintf(l->got[l->n], sizeof l->got[0], "%s", line);
    l->n++;
    return true;
}

static void test_lines_split_across_chunks_and_strip_cr(void **state)
{
    (void)state;
    const char *stream = "{\"a\":1}\r\n\n{\"b\":2}\n{\"c\"";
    /* Feed every possible split into two chunks: the same lines come out. */
    for (size_t cut = 0; cut <= strlen(stream); cut++) {
        mcp_linebuf_t lb;
        lines_t l = {0};
        mcp_linebuf_init(&lb, 0);
        assert_true(mcp_linebuf_feed(&lb, stream, cut, collect_line, &l, NULL));
        assert_true(mcp_linebuf_feed(&lb, stream + cut, strlen(stream) - cut, collect_line, &l, NULL));
        assert_int_equal(l.n, 2);
        assert_string_equal(l.got[0], "{\"a\":1}");
        assert_string_equal(l.got[1], "{\"b\":2}");
        assert_true(mcp_linebuf_feed(&lb, ":3}\n", 4, collect_line, &l, NULL));
        assert_int_equal(l.n, 3);
        assert_string_equal(l.got[2], "{\"c\":3}");
        mcp_linebuf_free(&lb);
    }
}

static void test_overlong_line_is_dropped_and_stream_resyncs(void **state)
{
    (void)state;
    mcp_linebuf_t lb;
    lines_t l = {0};
    err_t e = {{0}};
    mcp_linebuf_init(&lb, 8);
    assert_false(mcp_linebuf_feed(&lb, "0123456789", 10, collect_line, &l, &e));
    assert_non_null(strstr(e.msg, "longer than 8"));
    assert_true(mcp_linebuf_feed(&lb, "abc\nok\n", 7, collect_line, &l, &e));
    assert_int_equal(l.n, 1);
    assert_string_equal(l.got[0], "ok");
    mcp_linebuf_free(&lb);
}

/* -------------------------------------------------------------- SSE */

typedef struct events {
    int n;
    char event[8][32];
    char data[8][128];
    char id[8][32];
    long retry[8];
} events_t;

static bool collect_event(void *ud, const mcp_sse_event_t *ev)
{
    events_t *e = ud;
    if (e->n < 8) {
        snprintf(e->event[e->n], sizeof e->event[0], "%s", ev->event);
        snprintf(e->data[e->n], sizeof e->data[0], "%.*s", (int)ev->data_len, ev->data);
        snprintf(e->id[e->n], sizeof e->id[0], "%s", ev->id);
        e->retry[e->n] = ev->retry_ms;
    }
    e->n++;
    return true;
}

static void check_standard_stream(events_t *e)
{
    assert_int_equal(e->n, 4);
    assert_string_equal(e->event[0], "message");
    assert_string_equal(e->data[0], "{\"a\":1}");
    assert_string_equal(e->id[0], "");
    assert_string_equal(e->data[1], "line1\nline2");
    assert_string_equal(e->id[1], "42");
    assert_int_equal(e->retry[1], 1500);
    assert_string_equal(e->event[2], "endpoint");
    assert_string_equal(e->data[2], "/post");
    assert_int_equal(e->retry[2], -1);
    assert_string_equal(e->data[3], ""); /* a priming event: id + empty data */
    assert_string_equal(e->id[3], "p1");
}

static const char standard_stream[] =
    "\xEF\xBB\xBF"           /* BOM */
    ": keep-alive comment\r\n"
    "data: {\"a\":1}\r\n\r\n"
    "id: 42\rretry: 1500\rdata:line1\rdata: line2\r\r"
    "event: endpoint\ndata: /post\nretry: 12x\nunknown: field\n\n"
    "id: only-id\n\n" /* no data: not dispatched, but the id sticks */
    "id: p1\ndata:\n\n";

static void test_sse_parses_every_line_ending_and_field(void **state)
{
    (void)state;
    events_t e = {0};
    mcp_sse_parser_t *p = mcp_sse_parser_new(0, collect_event, &e);
    assert_non_null(p);
    assert_true(mcp_sse_parser_feed(p, standard_stream, sizeof standard_stream - 1, NULL));
    check_standard_stream(&e);
    assert_string_equal(mcp_sse_parser_last_event_id(p), "p1");
    mcp_sse_parser_free(p);
}

static void test_sse_result_does_not_depend_on_chunking(void **state)
{
    (void)state;
    size_t len = sizeof standard_stream - 1;
    for (size_t cut = 0; cut <= len; cut++) {
        for (size_t cut2 = cut; cut2 <= len; cut2 += 7) {
            events_t e = {0};
            mcp_sse_parser_t *p = mcp_sse_parser_new(0, collect_event, &e);
            assert_true(mcp_sse_parser_feed(p, standard_stream, cut, NULL));
            assert_true(mcp_sse_parser_feed(p, standard_stream + cut, cut2 - cut, NULL));
            assert_true(mcp_sse_parser_feed(p, standard_stream + cut2, len - cut2, NULL));
            check_standard_stream(&e);
            mcp_sse_parser_free(p);
        }
    }
    /* One byte at a time. */
    events_t e = {0};
    mcp_sse_parser_t *p = mcp_sse_parser_new(0, collect_event, &e);
    for (size_t i = 0; i < len; i++)
        assert_true(mcp_sse_parser_feed(p, standard_stream + i, 1, NULL));
    check_standard_stream(&e);
    mcp_sse_parser_free(p);
}

static void test_sse_incomplete_event_is_not_dispatched(void **state)
{
    (void)state;
    events_t e = {0};
    mcp_sse_parser_t *p = mcp_sse_parser_new(0, collect_event, &e);
    assert_true(mcp_sse_parser_feed(p, "data: partial\n", 14, NULL));
    assert_int_equal(e.n, 0);
    mcp_sse_parser_free(p);
}

static void test_sse_oversized_event_fails_the_stream(void **state)
{
    (void)state;
    events_t e = {0};
    err_t er = {{0}};
    mcp_sse_parser_t *p = mcp_sse_parser_new(16, collect_event, &e);
    assert_false(mcp_sse_parser_feed(p, "data: 0123456789\ndata: 0123456789\n\n", 36, &er));
    assert_non_null(strstr(er.msg, "larger than 16"));
    mcp_sse_parser_free(p);
}

static bool stop_after_first(void *ud, const mcp_sse_event_t *ev)
{
    (void)ev;
    (*(int *)ud)++;
    return false;
}

static void test_sse_callback_can_stop_the_parser(void **state)
{
    (void)state;
    int n = 0;
    err_t er = {{0}};
    mcp_sse_parser_t *p = mcp_sse_parser_new(0, stop_after_first, &n);
    assert_false(mcp_sse_parser_feed(p, "data: a\n\ndata: b\n\n", 18, &er));
    assert_int_equal(n, 1);
    assert_string_equal(er.msg, "");
    mcp_sse_parser_free(p);
}

static void test_sse_writer_round_trips_through_the_parser(void **state)
{
    (void)state;
    const char *datas[] = {"{\"jsonrpc\":\"2.0\"}", "", "a\nb", "a\r\nb\rc", "trailing\n", "\n"};
    for (size_t i = 0; i < sizeof datas / sizeof *datas; i++) {
        size_t n;
        char *s = mcp_sse_format_event(i % 2 ? "message" : NULL, i % 3 ? "id-7" : NULL, datas[i], strlen(datas[i]),
                                       i == 2 ? 3000 : -1, &n);
        assert_non_null(s);
        assert_int_equal(strlen(s), n);
        events_t e = {0};
        mcp_sse_parser_t *p = mcp_sse_parser_new(0, collect_event, &e);
        assert_true(mcp_sse_parser_feed(p, s, n, NULL));
        assert_int_equal(e.n, 1);
        /* CR and CRLF inside data come back as LF, as the SSE rules say. */
        char want[64];
        size_t w = 0;
        for (const char *c = datas[i]; *c; c++) {
            if (*c == '\r' && c[1] == '\n')
                continue;
            want[w++] = *c == '\r' ? '\n' : *c;
        }
        want[w] = '\0';
        assert_string_equal(e.data[0], want);
        assert_string_equal(e.event[0], "message");
        assert_string_equal(e.id[0], i % 3 ? "id-7" : "");
        assert_int_equal(e.retry[0], i == 2 ? 3000 : -1);
        mcp_sse_parser_free(p);
        free(s);
    }
    assert_null(mcp_sse_format_event("bad\nname", NULL, "x", 1, -1, NULL));
    assert_null(mcp_sse_format_event(NULL, "bad\rid", "x", 1, -1, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_split_across_chunks_and_strip_cr),
        cmocka_unit_test(test_overlong_line_is_dropped_and_stream_resyncs),
        cmocka_unit_test(test_sse_parses_every_line_ending_and_field),
        cmocka_unit_test(test_sse_result_does_not_depend_on_chunking),
        cmocka_unit_test(test_sse_incomplete_event_is_not_dispatched),
        cmocka_unit_test(test_sse_oversized_event_fails_the_stream),
        cmocka_unit_test(test_sse_callback_can_stop_the_parser),
        cmocka_unit_test(test_sse_writer_round_trips_through_the_parser),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
