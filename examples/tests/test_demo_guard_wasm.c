/*
 * test_demo_guard_wasm.c — demo_guard.wasm and the end-to-end test guards
 * run by Flowgate's own WASM guard host (guard.h over src/wasm): the ABI as
 * built, the labels as the pipeline will receive them, and the test
 * switches (trap, loop, fail markers; modes).
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "guard/guard.h"

static guard_t *load(const char *path)
{
    err_t err;
    guard_wasm_opts_t opts = {.name = "demo", .max_instances = 2};
    guard_t *g = guard_wasm_load_file(path, &opts, &err);
    if (!g)
        fail_msg("loading %s: %s", path, err.msg);
    return g;
}

#define DEMO_GUARD BUILD_DIR "/examples/demo-guard/demo_guard.wasm"
#define FIXTURE(name) BUILD_DIR "/tests/integration/fixtures/guards/" name ".wasm"

static bool agent(guard_t *g, const char *policy_json, difc_agent_result_t *out, err_t *err)
{
    json_t *policy = json_loads(policy_json, 0, NULL);
    json_t *payload = NULL;
    assert_true(guard_label_agent_payload(policy, NULL, NULL, &payload, err));
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 10000, NULL);
    bool ok = guard_label_agent(g, &ctx, payload, out, err);
    json_decref(payload);
    json_decref(policy);
    return ok;
}

static bool resource(guard_t *g, uint64_t timeout_ms, const char *tool, const char *args_json, difc_resource_t *res,
                     difc_op_t *op, err_t *err)
{
    json_t *args = json_loads(args_json, 0, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, timeout_ms, NULL);
    difc_resource_init(res);
    bool ok = guard_label_resource(g, &ctx, tool, args, res, op, err);
    json_decref(args);
    return ok;
}

/* A normal call still works: the guard is usable after whatever came before. */
static void assert_guard_works(guard_t *g)
{
    difc_resource_t res;
    difc_op_t op;
    err_t err;
    if (!resource(g, 10000, "create_issue", "{\"title\":\"fine\"}", &res, &op, &err))
        fail_msg("a normal call failed: %s", err.msg);
    assert_int_equal(op, DIFC_OP_WRITE);
    difc_resource_free(&res);
}

static void test_demo_guard_loads_and_labels_the_agent(void **state)
{
    (void)state;
    guard_t *g = load(DEMO_GUARD);
    difc_agent_result_t r = {0};
    err_t err;
    if (!agent(g, "{\"allow-only\":{\"repos\":[\"demo/tracker\"],\"min-integrity\":\"unapproved\"}}", &r, &err))
        fail_msg("label_agent: %s", err.msg);
    assert_int_equal(r.mode, DIFC_MODE_FILTER);
    assert_true(difc_tagset_contains(&r.labels.secrecy, "private:demo/tracker"));
    assert_true(difc_tagset_contains(&r.labels.integrity, "none:demo/tracker"));
    assert_true(difc_tagset_contains(&r.labels.integrity, "unapproved:demo/tracker"));
    assert_false(difc_tagset_contains(&r.labels.integrity, "approved:demo/tracker"));
    difc_agent_result_free(&r);
    guard_close(g);
}

static void test_demo_guard_labels_a_write(void **state)
{
    (void)state;
    guard_t *g = load(DEMO_GUARD);
    difc_resource_t res;
    difc_op_t op;
    err_t err;
    if (!resource(g, 10000, "create_issue", "{\"title\":\"t\",\"visibility\":\"public\"}", &res, &op, &err))
        fail_msg("label_resource: %s", err.msg);
    assert_int_equal(op, DIFC_OP_WRITE);
    assert_true(difc_tagset_contains(&res.labels.integrity, "approved:demo/tracker"));
    assert_false(difc_tagset_contains(&res.labels.secrecy, "private:demo/tracker"));
    difc_resource_free(&res);
    guard_close(g);
}

static void test_demo_guard_labels_each_listed_issue(void **state)
{
    (void)state;
    guard_t *g = load(DEMO_GUARD);
    /* What demo-server's list_issues answers, in miniature. */
    json_t *result = json_loads(
        "{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"number\\\":1,\\\"visibility\\\":\\\"public\\\","
        "\\\"author_association\\\":\\\"OWNER\\\"},{\\\"number\\\":2,\\\"visibility\\\":\\\"private\\\","
        "\\\"author_association\\\":\\\"NONE\\\"}]\"}],\"isError\":false}",
        0, NULL);
    assert_non_null(result);
    json_t *args = json_object();
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 10000, NULL);
    difc_response_labels_t rl = {0};
    err_t err;
    if (!guard_label_response(g, &ctx, "list_issues", args, result, &rl, &err))
        fail_msg("label_response: %s", err.msg);
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 2);
    assert_string_equal(rl.paths[1].path, "/1");
    assert_string_equal(difc_resource_description(&rl.paths[1].labels), "issue:demo/tracker#2");
    assert_true(difc_tagset_contains(&rl.paths[1].labels.labels.secrecy, "private:demo/tracker"));
    assert_false(difc_tagset_contains(&rl.paths[0].labels.labels.secrecy, "private:demo/tracker"));
    difc_response_labels_free(&rl);
    json_decref(args);
    json_decref(result);
    guard_close(g);
}

static void test_trap_guard_traps_on_its_marker_and_recovers(void **state)
{
    (void)state;
    guard_t *g = load(FIXTURE("trap_guard"));
    assert_guard_works(g);
    difc_resource_t res;
    difc_op_t op;
    err_t err;
    assert_false(resource(g, 10000, "create_issue", "{\"title\":\"__trap__\"}", &res, &op, &err));
    assert_int_equal(op, DIFC_OP_WRITE);
    difc_resource_free(&res);
    guard_wasm_stats_t st;
    assert_true(guard_wasm_stats(g, &st));
    assert_int_equal(st.traps, 1);
    assert_guard_works(g); /* a fresh instance replaces the trapped one */
    guard_close(g);
}

static void test_loop_guard_is_stopped_by_the_deadline(void **state)
{
    (void)state;
    guard_t *g = load(FIXTURE("loop_guard"));
    difc_resource_t res;
    difc_op_t op;
    err_t err;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_false(resource(g, 200, "create_issue", "{\"title\":\"__loop__\"}", &res, &op, &err));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    difc_resource_free(&res);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(secs >= 0.2);
    assert_true(secs < 30); /* generous: ASan on a loaded machine */
    assert_guard_works(g);
    guard_close(g);
}

static void test_filter_guard_fails_with_minus_one_and_stays_healthy(void **state)
{
    (void)state;
    guard_t *g = load(FIXTURE("filter_guard"));
    difc_resource_t res;
    difc_op_t op;
    err_t err;
    assert_false(resource(g, 10000, "list_issues", "{\"q\":\"__fail__\"}", &res, &op, &err));
    assert_non_null(strstr(err.msg, "-1"));
    difc_resource_free(&res);
    guard_wasm_stats_t st;
    assert_true(guard_wasm_stats(g, &st));
    assert_int_equal(st.traps, 0);
    assert_true(guard_healthy(g, &err));
    assert_guard_works(g);
    guard_close(g);
}

static void test_mode_variants_report_their_mode(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        difc_mode_t mode;
    } cases[] = {
        {FIXTURE("propagate_guard"), DIFC_MODE_PROPAGATE},
        {FIXTURE("strict_guard"), DIFC_MODE_STRICT},
        {FIXTURE("filter_guard"), DIFC_MODE_FILTER},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        guard_t *g = load(cases[i].path);
        difc_agent_result_t r = {0};
        err_t err;
        if (!agent(g, "{\"allow-only\":{\"repos\":\"public\",\"min-integrity\":\"none\"}}", &r, &err))
            fail_msg("label_agent: %s", err.msg);
        assert_int_equal(r.mode, cases[i].mode);
        difc_agent_result_free(&r);
        guard_close(g);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_guard_loads_and_labels_the_agent),
        cmocka_unit_test(test_demo_guard_labels_a_write),
        cmocka_unit_test(test_demo_guard_labels_each_listed_issue),
        cmocka_unit_test(test_trap_guard_traps_on_its_marker_and_recovers),
        cmocka_unit_test(test_loop_guard_is_stopped_by_the_deadline),
        cmocka_unit_test(test_filter_guard_fails_with_minus_one_and_stays_healthy),
        cmocka_unit_test(test_mode_variants_report_their_mode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
