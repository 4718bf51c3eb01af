/* test_load.c — loading a guard: every load error with upstream's text
 * (guard-abi §1.2, §5 cases 1–5), signatures, the sandbox's import set, the
 * start function that never runs, the 512-page cap at instantiation. */
#include "helpers.h"

static void expect_load_error(const char *file, const char *want)
{
    err_t err = {{0}};
    guard_t *g = guard_wasm_load_file(fixture_path(file), NULL, &err);
    assert_null(g);
    if (!strstr(err.msg, want))
        fail_msg("load %s: got \"%s\", want \"%s\"", file, err.msg, want);
}

static void test_missing_file_fails_with_read_error(void **state)
{
    (void)state;
    expect_load_error("no-such-guard.wasm", "failed to read WASM file: ");
}

static void test_empty_bytes_fail_to_instantiate(void **state)
{
    (void)state;
    err_t err = {{0}};
    assert_null(guard_wasm_load_bytes((const uint8_t *)"", 0, NULL, &err));
    assert_non_null(strstr(err.msg, "failed to instantiate WASM module: "));
}

static void test_invalid_bytes_fail_to_instantiate(void **state)
{
    (void)state;
    static const uint8_t junk[] = {0x00, 'a', 's', 'm', 0x02, 0, 0, 0, 0xff};
    err_t err = {{0}};
    assert_null(guard_wasm_load_bytes(junk, sizeof junk, NULL, &err));
    assert_non_null(strstr(err.msg, "failed to instantiate WASM module: "));
}

static void test_unresolvable_import_fails_to_instantiate(void **state)
{
    (void)state;
    err_t err = {{0}};
    assert_null(guard_wasm_load_file(fixture_path("bad_import.wasm"), NULL, &err));
    assert_non_null(strstr(err.msg, "failed to instantiate WASM module: "));
    assert_non_null(strstr(err.msg, "no_such_function")); /* names the field */
}

static void test_missing_label_response_is_reported(void **state)
{
    (void)state;
    expect_load_error("only_resource.wasm", "WASM module must export label_resource and label_response functions");
}

static void test_go_start_module_gets_tinygo_hint(void **state)
{
    (void)state;
    expect_load_error("go_start.wasm", "WASM module does not export guard functions. This usually means the guard "
                                       "was compiled with standard Go instead of TinyGo.");
}

static void test_missing_label_agent_is_reported(void **state)
{
    (void)state;
    expect_load_error("no_agent.wasm", "WASM module must export label_agent");
}

static void test_signature_mismatch_is_reported(void **state)
{
    (void)state;
    expect_load_error("bad_sig.wasm",
                      "WASM module function label_agent must have signature (i32,i32,i32,i32)->i32, got "
                      "(i32,i32,i32,i32)->()");
    expect_load_error("bad_sig_resource.wasm",
                      "WASM module function label_resource must have signature (i32,i32,i32,i32)->i32, got "
                      "(i32,i64)->i32");
}

static void test_initial_memory_over_cap_fails(void **state)
{
    (void)state;
    expect_load_error("big_memory.wasm", "failed to instantiate WASM module: ");
}

static void test_module_without_memory_fails_every_call(void **state)
{
    (void)state;
    guard_t *g = load_fixture("no_memory.wasm", "nomem", 1, NULL);
    assert_non_null(g);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    assert_null(raw(g, &ctx, "label_resource", "x", &err));
    assert_string_equal(err.msg, "WASM module has no memory");
    guard_close(g);
}

static void test_start_function_never_runs(void **state)
{
    (void)state;
    guard_t *g = load_fixture("start_trap.wasm", "starter", 1, NULL);
    assert_non_null(g); /* its start function is `unreachable` */
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    char *out = raw(g, &ctx, "label_resource", "x", &err);
    assert_non_null(out);
    assert_string_equal(out, "8"); /* fd_prestat_get(3) = EBADF: no preopens */
    free(out);
    guard_close(g);
}

static void test_every_wasi_preview1_import_resolves(void **state)
{
    (void)state;
    guard_t *g = load_fixture("wasi_all.wasm", "all", 1, NULL);
    assert_non_null(g);
    guard_close(g);
}

static void test_name_defaults_to_guard(void **state)
{
    (void)state;
    log_capture_t log;
    log_capture_init(&log);
    guard_t *g = load_fixture("behave.wasm", NULL, 1, &log);
    assert_non_null(g);
    assert_string_equal(guard_name(g), "guard");
    assert_string_equal(g->type, "wasm");
    assert_false(guard_is_noop(g));
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    free(raw(g, &ctx, "label_resource", "log", &err));
    assert_true(log_capture_find(&log, "[guard:guard] info msg") >= 0);
    guard_close(g);
    log_capture_free(&log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file_fails_with_read_error),
        cmocka_unit_test(test_empty_bytes_fail_to_instantiate),
        cmocka_unit_test(test_invalid_bytes_fail_to_instantiate),
        cmocka_unit_test(test_unresolvable_import_fails_to_instantiate),
        cmocka_unit_test(test_missing_label_response_is_reported),
        cmocka_unit_test(test_go_start_module_gets_tinygo_hint),
        cmocka_unit_test(test_missing_label_agent_is_reported),
        cmocka_unit_test(test_signature_mismatch_is_reported),
        cmocka_unit_test(test_initial_memory_over_cap_fails),
        cmocka_unit_test(test_module_without_memory_fails_every_call),
        cmocka_unit_test(test_start_function_never_runs),
        cmocka_unit_test(test_every_wasi_preview1_import_resolves),
        cmocka_unit_test(test_name_defaults_to_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
