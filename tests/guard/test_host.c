/* test_host.c — what the host gives a guard: the WASI sandbox (stdin at
 * EOF, stdout/stderr into the log and never the process's stdout, real
 * random and clocks) and the env module (call_backend with its limit and
 * size protocol, host_log levels) — guard-abi §1.1, §1.4, §1.5. */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"

static void test_stdin_reads_eof(void **state)
{
    (void)state;
    guard_t *g = load_fixture("behave.wasm", "reader", 1, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    json_t *r = raw_json(g, &ctx, "label_resource", "stdin", &err);
    assert_non_null(r);
    assert_int_equal(jint(r, "errno"), 0);
    assert_int_equal(jint(r, "nread"), 0);
    json_decref(r);
    guard_close(g);
}

static void test_stdout_goes_to_log_not_process_stdout(void **state)
{
    (void)state;
    log_capture_t log;
    log_capture_init(&log);
    guard_t *g = load_fixture("behave.wasm", "chatty", 1, &log);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);

    /* Point the process's fd 1 at a file for the duration of the call. */
    fflush(stdout);
    char path[] = "/tmp/flowgate-guard-stdout-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(1);
    dup2(fd, 1);
    err_t err = {{0}};
    json_t *r = raw_json(g, &ctx, "label_resource", "stdout", &err);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    close(fd);
    unlink(path);

    assert_non_null(r);
    assert_int_equal(jint(r, "errno"), 0);
    assert_int_equal(jint(r, "written"), 31);
    json_decref(r);
    assert_int_equal(size, 0); /* nothing reached the process's stdout */
    assert_true(log_capture_find(&log, "[guard:chatty] stdout: hello from guard stdout") >= 0);
    assert_true(log_capture_find(&log, "[guard:chatty] stderr: and stderr") >= 0);
    /* The unterminated tail is flushed when the call ends. */
    assert_true(log_capture_find(&log, "[guard:chatty] stdout: partial") >= 0);
    guard_close(g);
    log_capture_free(&log);
}

static void test_random_and_clocks_are_real(void **state)
{
    (void)state;
    guard_t *g = load_fixture("behave.wasm", "rng", 1, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    json_t *r = raw_json(g, &ctx, "label_resource", "random", &err);
    assert_non_null(r);
    assert_int_equal(jint(r, "errno"), 0);
    assert_true(jint(r, "nonzero") >= 8); /* 16 random bytes */
    long long now = (long long)time(NULL);
    assert_true(jint(r, "realtime_s") >= now - 5 && jint(r, "realtime_s") <= now + 5);
    json_decref(r);
    guard_close(g);
}

static void test_fifty_first_backend_call_is_refused(void **state)
{
    (void)state;
    mock_backend_t m;
    mock_init(&m, json_pack("{s:{s:[{s:s,s:s}]}}", "probe", "content", "type", "text", "text", "ok"));
    guard_t *g = load_fixture("behave.wasm", "caller", 1, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, &m.be);
    err_t err = {{0}};
    json_t *r = raw_json(g, &ctx, "label_resource", "backend 60", &err);
    assert_non_null(r);
    assert_int_equal(jint(r, "ok"), 50);
    assert_int_equal(jint(r, "m1"), 10);
    assert_int_equal(m.calls, 50); /* the backend never saw the refused ones */
    json_decref(r);
    /* The counter starts again for the next invocation. */
    r = raw_json(g, &ctx, "label_resource", "backend 3", &err);
    assert_int_equal(jint(r, "ok"), 3);
    assert_int_equal(m.calls, 53);
    json_decref(r);
    guard_close(g);
    mock_free(&m);
}

static void test_backend_errors_and_missing_backend_give_minus_one(void **state)
{
    (void)state;
    mock_backend_t m;
    mock_init(&m, json_object()); /* knows no tool */
    guard_t *g = load_fixture("behave.wasm", "caller", 1, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, &m.be);
    err_t err = {{0}};
    json_t *r = raw_json(g, &ctx, "label_resource", "backend 2", &err);
    assert_int_equal(jint(r, "m1"), 2);
    json_decref(r);
    guard_ctx_init(&ctx, 0, NULL); /* no backend at all */
    r = raw_json(g, &ctx, "label_resource", "backend 1", &err);
    assert_int_equal(jint(r, "m1"), 1);
    json_decref(r);
    guard_close(g);
    mock_free(&m);
}

static void test_backend_result_too_big_gives_minus_two_with_size(void **state)
{
    (void)state;
    json_t *big = json_pack("{s:s}", "text", "0123456789012345678901234567890123456789");
    char *dumped = json_dumps(big, JSON_COMPACT);
    size_t want = strlen(dumped);
    free(dumped);
    mock_backend_t m;
    mock_init(&m, json_pack("{s:o}", "big", big));
    guard_t *g = load_fixture("behave.wasm", "caller", 1, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, &m.be);
    err_t err = {{0}};
    json_t *r = raw_json(g, &ctx, "label_resource", "backendsmall", &err);
    assert_non_null(r);
    assert_int_equal(jint(r, "r8"), -2);
    assert_int_equal(jint(r, "hint"), (long long)want);
    assert_int_equal(jint(r, "r3"), -2);
    assert_int_equal(jint(r, "tiny_untouched"), 1);
    json_decref(r);
    guard_close(g);
    mock_free(&m);
}

static void test_host_log_levels_reach_the_sink(void **state)
{
    (void)state;
    log_capture_t log;
    log_capture_init(&log);
    guard_t *g = load_fixture("behave.wasm", "logger", 1, &log);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    free(raw(g, &ctx, "label_resource", "log", &err));
    static const struct {
        const char *text;
        guard_log_level_t level;
    } want[] = {{"[guard:logger] dbg msg", GUARD_LOG_DEBUG},
                {"[guard:logger] info msg", GUARD_LOG_INFO},
                {"[guard:logger] warn msg", GUARD_LOG_WARN},
                {"[guard:logger] error msg", GUARD_LOG_ERROR},
                {"[guard:logger] odd msg", GUARD_LOG_UNTAGGED}};
    for (size_t i = 0; i < 5; i++) {
        int at = log_capture_find(&log, want[i].text);
        assert_true(at >= 0);
        assert_int_equal(log.levels[at], want[i].level);
        assert_string_equal(log.lines[at], want[i].text);
    }
    guard_close(g);
    log_capture_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdin_reads_eof),
        cmocka_unit_test(test_stdout_goes_to_log_not_process_stdout),
        cmocka_unit_test(test_random_and_clocks_are_real),
        cmocka_unit_test(test_fifty_first_backend_call_is_refused),
        cmocka_unit_test(test_backend_errors_and_missing_backend_give_minus_one),
        cmocka_unit_test(test_backend_result_too_big_gives_minus_two_with_size),
        cmocka_unit_test(test_host_log_levels_reach_the_sink),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
