/*
 * test_demo_server.c — the demo MCP server, driven as a real child process
 * over pipes with newline-delimited JSON-RPC, as a gateway would.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define IO_TIMEOUT_MS 10000

typedef struct child {
    pid_t pid;
    int in;  /* the server's stdin */
    int out; /* the server's stdout */
    char buf[1 << 16];
    size_t len;
    char log_path[64];
} child_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts the server with a fresh call log; page_size NULL = no paging. */
static child_t *spawn_server(const char *page_size)
{
    child_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    snprintf(c->log_path, sizeof c->log_path, "/tmp/demo-server-test-XXXXXX");
    int lfd = mkstemp(c->log_path);
    assert_true(lfd >= 0);
    close(lfd);
    int to_child[2], from_child[2];
    assert_int_equal(pipe(to_child), 0);
    assert_int_equal(pipe(from_child), 0);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        dup2(to_child[0], 0);
        dup2(from_child[1], 1);
        close(to_child[0]), close(to_child[1]), close(from_child[0]), close(from_child[1]);
        if (page_size)
            setenv("DEMO_PAGE_SIZE", page_size, 1);
        else
            unsetenv("DEMO_PAGE_SIZE");
        unsetenv("DEMO_SERVER_LOG");
        execl(DEMO_SERVER_PATH, DEMO_SERVER_PATH, "--log", c->log_path, (char *)NULL);
        _exit(127);
    }
    close(to_child[0]);
    close(from_child[1]);
    c->in = to_child[1];
    c->out = from_child[0];
    return c;
}

static void send_line(child_t *c, const char *line)
{
    size_t n = strlen(line);
    assert_int_equal(write(c->in, line, n), (ssize_t)n);
    assert_int_equal(write(c->in, "\n", 1), 1);
}

static void send_fmt(child_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void send_fmt(child_t *c, const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    send_line(c, line);
}

/* The next line the server writes, parsed; fails the test on timeout. */
static json_t *recv_msg(child_t *c)
{
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            json_error_t jerr;
            json_t *msg = json_loadb(c->buf, n, 0, &jerr);
            if (!msg)
                fail_msg("server wrote a line that is not JSON: %.*s", (int)n, c->buf);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return msg;
        }
        int left = (int)(deadline - now_ms());
        struct pollfd p = {.fd = c->out, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, left) <= 0)
            fail_msg("no reply from the server within %d ms", IO_TIMEOUT_MS);
        assert_true(c->len < sizeof c->buf);
        ssize_t got = read(c->out, c->buf + c->len, sizeof c->buf - c->len);
        if (got <= 0)
            fail_msg("server closed its stdout");
        c->len += (size_t)got;
    }
}

/* Waits for exit after stdin is closed; returns the wait status. */
static int close_and_wait(child_t *c)
{
    close(c->in);
    c->in = -1;
    int status = -1;
    int64_t deadline = now_ms() + IO_TIMEOUT_MS;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (now_ms() > deadline) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            fail_msg("server did not exit after stdin closed");
        }
        usleep(5000);
    }
    return status;
}

static void destroy(child_t *c)
{
    if (c->in >= 0)
        close_and_wait(c);
    close(c->out);
    unlink(c->log_path);
    free(c);
}

static json_t *request(child_t *c, int id, const char *method, const char *params_json)
{
    if (params_json)
        send_fmt(c, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\",\"params\":%s}", id, method, params_json);
    else
        send_fmt(c, "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"%s\"}", id, method);
    json_t *reply = recv_msg(c);
    assert_int_equal(json_integer_value(json_object_get(reply, "id")), id);
    return reply;
}

static void initialize(child_t *c)
{
    json_t *r = request(c, 1, "initialize",
                        "{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},"
                        "\"clientInfo\":{\"name\":\"test\",\"version\":\"1\"}}");
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
    send_line(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

static child_t *started(const char *page_size)
{
    child_t *c = spawn_server(page_size);
    initialize(c);
    return c;
}

static int error_code(const json_t *reply)
{
    json_t *e = json_object_get(reply, "error");
    assert_non_null(e);
    return (int)json_integer_value(json_object_get(e, "code"));
}

/* tools/call; returns the result object (new reference). */
static json_t *call_tool(child_t *c, int id, const char *name, const char *args_json)
{
    char params[2048];
    snprintf(params, sizeof params, "{\"name\":\"%s\",\"arguments\":%s}", name, args_json);
    json_t *reply = request(c, id, "tools/call", params);
    json_t *result = json_incref(json_object_get(reply, "result"));
    assert_non_null(result);
    json_decref(reply);
    return result;
}

/* The JSON inside content[0].text. */
static json_t *result_text_json(const json_t *result)
{
    const char *text = json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
    assert_non_null(text);
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static const char *result_text(const json_t *result)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
}

static char *read_log(child_t *c)
{
    FILE *f = fopen(c->log_path, "r");
    assert_non_null(f);
    static char text[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return text;
}


/* Fixtures: a child per test, always reaped by the teardown, even when an
 * assertion fails halfway. */
static int setup_fresh(void **state)
{
    *state = spawn_server(NULL);
    return 0;
}

static int setup_started(void **state)
{
    *state = started(NULL);
    return 0;
}

static int setup_paged(void **state)
{
    *state = started("2");
    return 0;
}

static int teardown(void **state)
{
    destroy(*state);
    return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static void test_initialize_echoes_a_supported_version(void **state)
{
    child_t *c = *state;
    json_t *r = request(c, 7, "initialize",
                        "{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},"
                        "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}");
    json_t *res = json_object_get(r, "result");
    assert_string_equal(json_string_value(json_object_get(res, "protocolVersion")), "2025-06-18");
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "serverInfo"), "name")),
                        "flowgate-demo-server");
    assert_non_null(json_object_get(json_object_get(res, "capabilities"), "tools"));
    json_decref(r);
}

static void test_initialize_answers_latest_for_an_unknown_version(void **state)
{
    child_t *c = *state;
    json_t *r = request(c, 1, "initialize",
                        "{\"protocolVersion\":\"1999-01-01\",\"capabilities\":{},"
                        "\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "result"), "protocolVersion")),
                        "2025-11-25");
    json_decref(r);
    r = request(c, 2, "initialize", "{\"capabilities\":{}}");
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
}

static void test_only_ping_is_served_before_initialize(void **state)
{
    child_t *c = *state;
    json_t *r = request(c, 1, "tools/list", NULL);
    assert_int_equal(error_code(r), -32600);
    json_decref(r);
    r = request(c, 2, "ping", NULL);
    assert_true(json_is_object(json_object_get(r, "result")));
    assert_int_equal(json_object_size(json_object_get(r, "result")), 0);
    json_decref(r);
}

static void test_server_exits_zero_when_stdin_closes(void **state)
{
    child_t *c = *state;
    int status = close_and_wait(c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- JSON-RPC errors -------------------------------------------------------- */

static void test_malformed_lines_get_jsonrpc_errors(void **state)
{
    child_t *c = *state;
    send_line(c, "{not json");
    json_t *r = recv_msg(c);
    assert_int_equal(error_code(r), -32700);
    assert_true(json_is_null(json_object_get(r, "id")));
    json_decref(r);

    send_line(c, "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]"); /* a batch */
    r = recv_msg(c);
    assert_int_equal(error_code(r), -32600);
    json_decref(r);

    send_line(c, "{\"jsonrpc\":\"1.0\",\"id\":9,\"method\":\"ping\"}");
    r = recv_msg(c);
    assert_int_equal(error_code(r), -32600);
    assert_int_equal(json_integer_value(json_object_get(r, "id")), 9);
    json_decref(r);

    r = request(c, 10, "resources/list", NULL);
    assert_int_equal(error_code(r), -32601);
    json_decref(r);
}

static void test_notifications_get_no_reply(void **state)
{
    child_t *c = *state;
    send_line(c, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":3}}");
    send_line(c, "{\"jsonrpc\":\"2.0\",\"method\":\"no/such/notification\"}");
    /* The next line must answer this request, not the notifications. */
    json_t *r = request(c, 42, "ping", NULL);
    assert_non_null(json_object_get(r, "result"));
    json_decref(r);
}

static void test_unknown_tool_is_invalid_params(void **state)
{
    child_t *c = *state;
    json_t *r = request(c, 5, "tools/call", "{\"name\":\"delete_everything\",\"arguments\":{}}");
    assert_int_equal(error_code(r), -32602);
    assert_non_null(strstr(json_string_value(json_object_get(json_object_get(r, "error"), "message")),
                           "delete_everything"));
    json_decref(r);
    r = request(c, 6, "tools/call", "{\"name\":\"list_issues\",\"arguments\":[1]}");
    assert_int_equal(error_code(r), -32602);
    json_decref(r);
}

/* ---- tools/list ------------------------------------------------------------- */

static void test_tools_list_returns_every_tool_with_an_object_schema(void **state)
{
    child_t *c = *state;
    json_t *r = request(c, 2, "tools/list", "{}");
    json_t *tools = json_object_get(json_object_get(r, "result"), "tools");
    assert_int_equal(json_array_size(tools), 5);
    assert_null(json_object_get(json_object_get(r, "result"), "nextCursor"));
    const char *want[] = {"list_issues", "get_issue", "create_issue", "list_public_notes", "sleep"};
    for (size_t i = 0; i < 5; i++) {
        json_t *t = json_array_get(tools, i);
        assert_string_equal(json_string_value(json_object_get(t, "name")), want[i]);
        assert_string_equal(json_string_value(json_object_get(json_object_get(t, "inputSchema"), "type")),
                            "object");
    }
    json_decref(r);
}

static void test_tools_list_pages_by_cursor_when_page_size_is_set(void **state)
{
    child_t *c = *state;
    size_t sizes[3], pages = 0, total = 0;
    json_t *names = json_array();
    char params[128] = "{}";
    for (int id = 10;; id++) {
        json_t *r = request(c, id, "tools/list", params);
        json_t *res = json_object_get(r, "result");
        json_t *tools = json_object_get(res, "tools");
        assert_true(pages < 3);
        sizes[pages++] = json_array_size(tools);
        size_t i;
        json_t *t;
        json_array_foreach(tools, i, t) json_array_append(names, json_object_get(t, "name"));
        total += json_array_size(tools);
        const char *next = json_string_value(json_object_get(res, "nextCursor"));
        if (!next) {
            json_decref(r);
            break;
        }
        snprintf(params, sizeof params, "{\"cursor\":\"%s\"}", next);
        json_decref(r);
    }
    assert_int_equal(pages, 3);
    assert_int_equal(sizes[0], 2);
    assert_int_equal(sizes[1], 2);
    assert_int_equal(sizes[2], 1);
    assert_int_equal(total, 5);
    assert_string_equal(json_string_value(json_array_get(names, 4)), "sleep");
    json_decref(names);
}

static void test_tools_list_rejects_an_unknown_cursor(void **state)
{
    child_t *c = *state;
    const char *bad[] = {"{\"cursor\":\"bogus\"}", "{\"cursor\":\"offset:99\"}", "{\"cursor\":\"offset:0\"}",
                         "{\"cursor\":\"offset:2x\"}", "{\"cursor\":7}"};
    for (int i = 0; i < 5; i++) {
        json_t *r = request(c, 20 + i, "tools/list", bad[i]);
        assert_int_equal(error_code(r), -32602);
        json_decref(r);
    }
}

/* ---- tools ------------------------------------------------------------------ */

static void test_list_issues_returns_public_and_private_issues(void **state)
{
    child_t *c = *state;
    json_t *res = call_tool(c, 3, "list_issues", "{}");
    assert_false(json_is_true(json_object_get(res, "isError")));
    json_t *issues = result_text_json(res);
    assert_true(json_is_array(issues));
    assert_int_equal(json_array_size(issues), 6);
    int pub = 0, priv = 0;
    size_t i;
    json_t *issue;
    json_array_foreach(issues, i, issue) {
        const char *vis = json_string_value(json_object_get(issue, "visibility"));
        assert_non_null(vis);
        pub += strcmp(vis, "public") == 0;
        priv += strcmp(vis, "private") == 0;
        assert_non_null(json_string_value(json_object_get(issue, "author_association")));
        assert_int_equal(json_integer_value(json_object_get(issue, "number")), (json_int_t)i + 1);
    }
    assert_int_equal(pub, 4);
    assert_int_equal(priv, 2);
    /* structuredContent carries the same issues. */
    assert_true(json_equal(json_object_get(json_object_get(res, "structuredContent"), "issues"), issues));
    json_decref(issues);
    json_decref(res);
}

static void test_get_issue_returns_that_issue_or_a_tool_error(void **state)
{
    child_t *c = *state;
    json_t *res = call_tool(c, 3, "get_issue", "{\"number\":4}");
    json_t *issue = result_text_json(res);
    assert_int_equal(json_integer_value(json_object_get(issue, "number")), 4);
    assert_string_equal(json_string_value(json_object_get(issue, "visibility")), "private");
    assert_true(json_equal(json_object_get(res, "structuredContent"), issue));
    json_decref(issue);
    json_decref(res);

    res = call_tool(c, 4, "get_issue", "{\"number\":99}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    assert_non_null(strstr(result_text(res), "#99 not found"));
    json_decref(res);

    res = call_tool(c, 5, "get_issue", "{\"number\":\"4\"}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    json_decref(res);
}

static void test_create_issue_appends_an_issue(void **state)
{
    child_t *c = *state;
    json_t *res = call_tool(c, 3, "create_issue", "{\"title\":\"New \\\"quoted\\\" one\",\"body\":\"b\"}");
    json_t *issue = result_text_json(res);
    assert_int_equal(json_integer_value(json_object_get(issue, "number")), 7);
    assert_string_equal(json_string_value(json_object_get(issue, "title")), "New \"quoted\" one");
    assert_string_equal(json_string_value(json_object_get(issue, "visibility")), "private");
    assert_string_equal(json_string_value(json_object_get(issue, "author_association")), "NONE");
    json_decref(issue);
    json_decref(res);

    res = call_tool(c, 4, "create_issue", "{\"title\":\"shown\",\"visibility\":\"public\"}");
    json_decref(res);
    res = call_tool(c, 5, "list_issues", "{}");
    json_t *issues = result_text_json(res);
    assert_int_equal(json_array_size(issues), 8);
    assert_string_equal(json_string_value(json_object_get(json_array_get(issues, 7), "visibility")), "public");
    json_decref(issues);
    json_decref(res);
}

static void test_create_issue_rejects_bad_arguments_without_creating(void **state)
{
    child_t *c = *state;
    const char *bad[] = {"{}", "{\"title\":\"\"}", "{\"title\":\"x\",\"visibility\":\"secret\"}",
                         "{\"title\":\"x\",\"body\":3}"};
    for (int i = 0; i < 4; i++) {
        json_t *res = call_tool(c, 10 + i, "create_issue", bad[i]);
        assert_true(json_is_true(json_object_get(res, "isError")));
        json_decref(res);
    }
    json_t *res = call_tool(c, 20, "list_issues", "{}");
    json_t *issues = result_text_json(res);
    assert_int_equal(json_array_size(issues), 6);
    json_decref(issues);
    json_decref(res);
}

static void test_every_tools_call_is_logged_in_order(void **state)
{
    child_t *c = *state;
    json_t *r = request(c, 2, "tools/list", NULL); /* not a call: not logged */
    json_decref(r);
    json_decref(call_tool(c, 3, "list_issues", "{}"));
    json_decref(call_tool(c, 4, "create_issue", "{\"title\":\"logged\"}"));
    r = request(c, 5, "tools/call", "{\"name\":\"nope\"}");
    json_decref(r);
    const char *log = read_log(c);
    assert_string_equal(log, "{\"tool\":\"list_issues\",\"arguments\":{}}\n"
                             "{\"tool\":\"create_issue\",\"arguments\":{\"title\":\"logged\"}}\n"
                             "{\"tool\":\"nope\",\"arguments\":null}\n");
}

static void test_public_notes_and_sleep_answer(void **state)
{
    child_t *c = *state;
    json_t *res = call_tool(c, 3, "list_public_notes", "{}");
    json_t *notes = result_text_json(res);
    assert_int_equal(json_array_size(notes), 2);
    json_decref(notes);
    json_decref(res);

    int64_t t0 = now_ms();
    res = call_tool(c, 4, "sleep", "{\"ms\":100}");
    assert_true(now_ms() - t0 >= 100);
    assert_string_equal(result_text(res), "slept 100 ms");
    json_decref(res);
    res = call_tool(c, 5, "sleep", "{\"ms\":-1}");
    assert_true(json_is_true(json_object_get(res, "isError")));
    json_decref(res);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initialize_echoes_a_supported_version, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_initialize_answers_latest_for_an_unknown_version, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_only_ping_is_served_before_initialize, setup_fresh, teardown),
        cmocka_unit_test_setup_teardown(test_server_exits_zero_when_stdin_closes, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_lines_get_jsonrpc_errors, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_notifications_get_no_reply, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_tool_is_invalid_params, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_tools_list_returns_every_tool_with_an_object_schema, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_tools_list_pages_by_cursor_when_page_size_is_set, setup_paged, teardown),
        cmocka_unit_test_setup_teardown(test_tools_list_rejects_an_unknown_cursor, setup_paged, teardown),
        cmocka_unit_test_setup_teardown(test_list_issues_returns_public_and_private_issues, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_get_issue_returns_that_issue_or_a_tool_error, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_create_issue_appends_an_issue, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_create_issue_rejects_bad_arguments_without_creating, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_every_tools_call_is_logged_in_order, setup_started, teardown),
        cmocka_unit_test_setup_teardown(test_public_notes_and_sleep_answer, setup_started, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
