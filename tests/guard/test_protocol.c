/* test_protocol.c — the memory and return-code protocol of one export call
 * (guard-abi §1.6, §1.7; departures 3 and 4), on both memory paths: the
 * guard's alloc/dealloc (behave_alloc.wasm) and the host-grown region
 * (behave.wasm). */
#include "helpers.h"

#define MIB (1024u * 1024u)

typedef struct fx {
    guard_t *g;
    guard_ctx_t ctx;
} fx_t;

static int setup_direct(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->g = load_fixture("behave.wasm", "direct", 1, NULL);
    guard_ctx_init(&f->ctx, 0, NULL);
    *state = f;
    return f->g ? 0 : -1;
}

static int setup_alloc(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    f->g = load_fixture("behave_alloc.wasm", "alloc", 1, NULL);
    guard_ctx_init(&f->ctx, 0, NULL);
    *state = f;
    return f->g ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    guard_close(f->g);
    free(f);
    return 0;
}

static json_t *sizes_seen(fx_t *f)
{
    err_t err = {{0}};
    json_t *st = raw_json(f->g, &f->ctx, "label_resource", "stats", &err);
    assert_non_null(st);
    json_t *s = json_incref(json_object_get(st, "sizes"));
    json_decref(st);
    return s;
}

static void assert_sizes(fx_t *f, const long long *want, size_t n)
{
    json_t *s = sizes_seen(f);
    assert_int_equal(json_array_size(s), n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(json_integer_value(json_array_get(s, i)), want[i]);
    json_decref(s);
}

static void test_echo_round_trip(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    char *out = raw(f->g, &f->ctx, "label_resource", "echo hello guard", &err);
    assert_non_null(out);
    assert_string_equal(out, "echo hello guard");
    free(out);
}

static void test_direct_memory_never_overlaps_guard_heap(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    json_t *a = raw_json(f->g, &f->ctx, "label_resource", "ptrs", &err);
    assert_non_null(a);
    long long in = jint(a, "in"), out = jint(a, "out"), out_size = jint(a, "out_size");
    /* Upstream would put the buffers at the top of existing memory, over
     * the guard's heap; ours live in pages the host grew above it. */
    assert_true(in >= jint(a, "heap_hi"));
    assert_int_equal(out, in + jint(a, "in_len"));
    assert_true(out + out_size <= jint(a, "mem"));
    assert_int_equal(jint(a, "intact"), 1);
    assert_int_equal(out_size, 4 * MIB);

    /* The guard grows memory itself; the host region must not move onto
     * those pages, and both stay intact. */
    json_t *g = raw_json(f->g, &f->ctx, "label_resource", "growown", &err);
    assert_non_null(g);
    long long own_lo = jint(g, "own_lo");
    assert_true(own_lo >= out + out_size); /* the guard's pages came after ours */
    json_t *b = raw_json(f->g, &f->ctx, "label_resource", "ptrs", &err);
    assert_non_null(b);
    long long in2 = jint(b, "in"), end2 = jint(b, "out") + jint(b, "out_size");
    assert_true(end2 <= own_lo || in2 >= jint(b, "own_hi"));
    assert_true(in2 >= jint(b, "heap_hi"));
    assert_int_equal(jint(b, "intact"), 1);
    json_decref(a);
    json_decref(g);
    json_decref(b);
}

static void test_alloc_path_uses_guard_allocator_and_frees(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    json_t *a = raw_json(f->g, &f->ctx, "label_resource", "ptrs", &err);
    assert_non_null(a);
    long long in = jint(a, "in"), out = jint(a, "out");
    long long a0 = jint(a, "last_alloc0"), a1 = jint(a, "last_alloc1");
    assert_true((in == a0 && out == a1) || (in == a1 && out == a0));
    json_decref(a);
    json_t *s = raw_json(f->g, &f->ctx, "label_resource", "stats", &err);
    assert_non_null(s);
    /* Two calls so far, each alloc x2; the first call's buffers are freed,
     * this call's are freed after it returns. */
    assert_int_equal(jint(s, "alloc"), 4);
    assert_int_equal(jint(s, "dealloc"), 2);
    json_decref(s);
}

static void test_minus_two_without_hint_doubles_to_ceiling(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    assert_null(raw(f->g, &f->ctx, "label_resource", "m2nohint", &err));
    assert_string_equal(err.msg, "guard requires buffer of 33554432 bytes which exceeds maximum of 16777216 bytes");
    const long long want[] = {4 * MIB, 8 * MIB, 16 * MIB};
    assert_sizes(f, want, 3);
}

static void test_minus_two_with_hint_uses_hinted_size(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    char *out = raw(f->g, &f->ctx, "label_resource", "m2hint", &err);
    assert_non_null(out);
    assert_string_equal(out, ""); /* 0 = empty output */
    free(out);
    const long long want[] = {4 * MIB, 5242880};
    assert_sizes(f, want, 2);
}

static void test_minus_two_constant_hint_exhausts_attempts(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    assert_null(raw(f->g, &f->ctx, "label_resource", "m2const", &err));
    assert_string_equal(err.msg, "failed after 3 attempts, buffer size 5242880 still insufficient");
    const long long want[] = {4 * MIB, 5242880, 5242880};
    assert_sizes(f, want, 3);
}

static void test_negative_code_is_error_and_guard_stays_healthy(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    assert_null(raw(f->g, &f->ctx, "label_resource", "neg", &err));
    assert_string_equal(err.msg, "WASM function returned error code: -7");
    assert_true(guard_healthy(f->g, NULL));
    guard_wasm_stats_t st;
    assert_true(guard_wasm_stats(f->g, &st));
    assert_int_equal(st.instances_created, 1); /* the instance was kept */
    assert_int_equal(st.traps, 0);
}

static void test_zero_means_empty_output(void **state)
{
    fx_t *f = *state;
    uint8_t *out = (uint8_t *)"x";
    size_t n = 99;
    err_t err = {{0}};
    assert_true(guard_wasm_call_raw(f->g, &f->ctx, "label_resource", (const uint8_t *)"zero", 4, &out, &n, &err));
    assert_null(out);
    assert_int_equal(n, 0);
}

static void test_length_over_buffer_is_error(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    assert_null(raw(f->g, &f->ctx, "label_resource", "over", &err));
    assert_string_equal(err.msg, "guard reported output length 4194305 larger than its output buffer of 4194304 bytes");
}

static void test_input_over_8mib_is_refused_before_the_guard(void **state)
{
    fx_t *f = *state;
    size_t n = 8 * MIB + 1;
    uint8_t *in = malloc(n);
    memcpy(in, "zero ", 5);
    memset(in + 5, 'a', n - 5);
    uint8_t *out;
    size_t on;
    err_t err = {{0}};
    assert_false(guard_wasm_call_raw(f->g, &f->ctx, "label_resource", in, n, &out, &on, &err));
    assert_string_equal(err.msg, "input too large: 8388609 bytes (max 8388608)");
    /* exactly 8 MiB is accepted */
    assert_true(guard_wasm_call_raw(f->g, &f->ctx, "label_resource", in, n - 1, &out, &on, &err));
    assert_int_equal(on, 0);
    free(in);
    json_t *s = raw_json(f->g, &f->ctx, "label_resource", "stats", &err);
    assert_int_equal(jint(s, "calls"), 2); /* the refused call never reached the guard */
    json_decref(s);
}

static void test_missing_export_is_reported(void **state)
{
    fx_t *f = *state;
    err_t err = {{0}};
    assert_null(raw(f->g, &f->ctx, "label_nothing", "x", &err));
    assert_string_equal(err.msg, "function label_nothing not exported from WASM module");
}

static void test_alloc_null_pointer_is_error(void **state)
{
    (void)state;
    guard_t *g = load_fixture("alloc_null.wasm", "nullalloc", 1, NULL);
    assert_non_null(g);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    assert_null(raw(g, &ctx, "label_resource", "x", &err));
    assert_string_equal(err.msg, "failed to allocate WASM input buffer: alloc returned null pointer");
    assert_null(raw(g, &ctx, "label_void", "x", &err));
    assert_string_equal(err.msg, "WASM function returned no results");
    assert_true(guard_healthy(g, NULL));
    guard_close(g);
}

static void test_trap_in_alloc_discards_instance(void **state)
{
    (void)state;
    guard_t *g = load_fixture("alloc_trap.wasm", "trapalloc", 1, NULL);
    assert_non_null(g);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    err_t err = {{0}};
    assert_null(raw(g, &ctx, "label_resource", "x", &err));
    assert_non_null(strstr(err.msg, "failed to allocate WASM input buffer: wasm error: unreachable"));
    guard_wasm_stats_t st;
    guard_wasm_stats(g, &st);
    assert_int_equal(st.traps, 1);
    assert_int_equal(st.live_instances, 0); /* discarded; the next call makes one */
    guard_close(g);
}

/* Cancels the request when the guard's dealloc logs: a cancel that arrives
 * while buffers are being returned must not stop the returning. */
static guard_ctx_t *cancel_target;
static void cancel_on_dealloc(void *ud, guard_log_level_t level, const char *line)
{
    (void)ud, (void)level;
    if (strstr(line, "dealloc") && cancel_target)
        guard_ctx_cancel(cancel_target);
}

static void test_dealloc_runs_when_request_cancelled(void **state)
{
    (void)state;
    guard_wasm_opts_t o = {.name = "cancel-dealloc", .max_instances = 1, .log = {cancel_on_dealloc, NULL}};
    err_t err = {{0}};
    guard_t *g = guard_wasm_load_file(fixture_path("cancel_dealloc.wasm"), &o, &err);
    assert_non_null(g);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    cancel_target = &ctx;
    char *out = raw(g, &ctx, "label_resource", "go", &err);
    cancel_target = NULL;
    assert_true(guard_ctx_done(&ctx)); /* cancelled by the first dealloc */
    if (!out)
        fail_msg("call: %s", err.msg);
    free(out);
    guard_ctx_t ctx2;
    guard_ctx_init(&ctx2, 0, NULL);
    out = raw(g, &ctx2, "label_resource", "count", &err);
    assert_non_null(out);
    assert_string_equal(out, "2"); /* the second buffer was still returned */
    free(out);
    guard_close(g);
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_direct, teardown), \
                cmocka_unit_test_setup_teardown(t, setup_alloc, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_echo_round_trip),
        cmocka_unit_test_setup_teardown(test_direct_memory_never_overlaps_guard_heap, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_path_uses_guard_allocator_and_frees, setup_alloc, teardown),
        BOTH(test_minus_two_without_hint_doubles_to_ceiling),
        BOTH(test_minus_two_with_hint_uses_hinted_size),
        BOTH(test_minus_two_constant_hint_exhausts_attempts),
        BOTH(test_negative_code_is_error_and_guard_stays_healthy),
        BOTH(test_zero_means_empty_output),
        BOTH(test_length_over_buffer_is_error),
        BOTH(test_input_over_8mib_is_refused_before_the_guard),
        cmocka_unit_test_setup_teardown(test_missing_export_is_reported, setup_direct, teardown),
        cmocka_unit_test(test_alloc_null_pointer_is_error),
        cmocka_unit_test(test_trap_in_alloc_discards_instance),
        cmocka_unit_test(test_dealloc_runs_when_request_cancelled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
