/* test_pool.c — the instance pool (departure 7): concurrent requests run in
 * parallel up to the ceiling, every instance gets label_agent replayed
 * before its first use, idle extra instances are released. Also run under
 * ThreadSanitizer (label tsan). */
#include <unistd.h>

#include "helpers.h"

#define SLEEP_MS 200

typedef struct worker {
    guard_t *g;
    const char *input;
    bool ok;
    long long policy;
    char err[ERR_MSG_MAX];
} worker_t;

static void *work(void *arg)
{
    worker_t *w = arg;
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 20000, NULL);
    err_t err = {{0}};
    json_t *r = raw_json(w->g, &ctx, "label_resource", w->input, &err);
    w->ok = r != NULL;
    w->policy = r ? jint(r, "policy") : -1;
    snprintf(w->err, sizeof w->err, "%s", err.msg);
    json_decref(r);
    return NULL;
}

/* Runs n concurrent "sleep SLEEP_MS" calls; returns wall time in ms. */
static uint64_t run_concurrent(guard_t *g, int n, worker_t *ws)
{
    pthread_t th[16];
    uint64_t t0 = wasm_now_ns();
    for (int i = 0; i < n; i++) {
        ws[i] = (worker_t){.g = g, .input = "sleep 200"};
        pthread_create(&th[i], NULL, work, &ws[i]);
    }
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    return (wasm_now_ns() - t0) / 1000000ull;
}

static void test_n_calls_on_pool_of_n_take_about_one_call(void **state)
{
    (void)state;
    enum { N = 4 };
    guard_t *g = load_fixture("behave.wasm", "pooled", N, NULL);
    worker_t ws[N];
    uint64_t one = run_concurrent(g, 1, ws);
    run_concurrent(g, N, ws); /* grows the pool to N instances */
    uint64_t all = run_concurrent(g, N, ws);
    for (int i = 0; i < N; i++)
        if (!ws[i].ok)
            fail_msg("worker %d: %s", i, ws[i].err);
    print_message("1 call: %llu ms; %d concurrent calls on a pool of %d: %llu ms (serialised would be ~%d ms)\n",
                  (unsigned long long)one, N, N, (unsigned long long)all, N * SLEEP_MS);
    /* Serialised would be N x one. */
    uint64_t limit = 2 * (one > SLEEP_MS ? one : SLEEP_MS);
    assert_true(all < limit);
    guard_wasm_stats_t st;
    guard_wasm_stats(g, &st);
    assert_int_equal(st.live_instances, N);
    assert_int_equal(st.max_instances, N);
    guard_close(g);
}

static void test_pool_never_exceeds_its_ceiling(void **state)
{
    (void)state;
    guard_t *g = load_fixture("behave.wasm", "small-pool", 2, NULL);
    worker_t ws[4];
    uint64_t all = run_concurrent(g, 4, ws);
    for (int i = 0; i < 4; i++)
        assert_true(ws[i].ok);
    guard_wasm_stats_t st;
    guard_wasm_stats(g, &st);
    assert_int_equal(st.instances_created, 2);
    assert_true(all >= 2 * SLEEP_MS - 10); /* two rounds of two */
    guard_close(g);
}

static void test_every_instance_gets_label_agent_before_use(void **state)
{
    (void)state;
    enum { N = 3 };
    guard_t *g = load_fixture("behave.wasm", "policy-pool", N, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    json_t *p = json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "all", "min-integrity", "none");
    difc_agent_result_t ar = {0};
    err_t err = {{0}};
    assert_true(guard_label_agent(g, &ctx, p, &ar, &err));
    difc_agent_result_free(&ar);
    json_decref(p);
    worker_t ws[N];
    run_concurrent(g, N, ws);
    for (int i = 0; i < N; i++) {
        assert_true(ws[i].ok);
        assert_int_equal(ws[i].policy, 1); /* replayed exactly once on each */
    }
    guard_wasm_stats_t st;
    guard_wasm_stats(g, &st);
    assert_int_equal(st.instances_created, N);
    guard_close(g);
}

static void test_idle_extra_instances_are_released(void **state)
{
    (void)state;
    guard_wasm_opts_t o = {.name = "idle", .max_instances = 3, .idle_ms = 500};
    err_t err = {{0}};
    guard_t *g = guard_wasm_load_file(fixture_path("behave.wasm"), &o, &err);
    assert_non_null(g);
    worker_t ws[3];
    run_concurrent(g, 3, ws);
    guard_wasm_stats_t st;
    guard_wasm_stats(g, &st);
    assert_int_equal(st.live_instances, 3);
    usleep(700 * 1000);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    free(raw(g, &ctx, "label_resource", "echo x", &err));
    guard_wasm_stats(g, &st);
    assert_int_equal(st.live_instances, 1);
    guard_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_n_calls_on_pool_of_n_take_about_one_call),
        cmocka_unit_test(test_pool_never_exceeds_its_ceiling),
        cmocka_unit_test(test_every_instance_gets_label_agent_before_use),
        cmocka_unit_test(test_idle_extra_instances_are_released),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
