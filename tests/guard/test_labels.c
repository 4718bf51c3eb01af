/* test_labels.c — the guard vtable over a realistic guard (WASI libc, a real
 * JSON parser, policy in globals, call_backend for repo visibility): JSON
 * in as §2.1–§2.4 say, outputs parsed into difc structures. */
#include "helpers.h"

static json_t *search_answer(bool private_)
{
    char text[64];
    snprintf(text, sizeof text, "{\"items\":[{\"private\":%s}]}", private_ ? "true" : "false");
    return json_pack("{s:{s:[{s:s,s:s}],s:b}}", "search_repositories", "content", "type", "text", "text", text,
                     "isError", 0);
}

static json_t *issues_result(int n)
{
    json_t *items = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(items, json_pack("{s:i,s:s,s:s,s:b,s:s}", "number", i + 1, "title", "an issue",
                                               "repository", i % 2 ? "acme/private-repo" : "acme/web", "private",
                                               i % 2, "author_association", i % 3 ? "MEMBER" : "NONE"));
    json_t *inner = json_pack("{s:i,s:o}", "total_count", n, "items", items);
    char *text = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 0);
    free(text);
    return r;
}

typedef struct fx {
    guard_t *g;
    mock_backend_t m;
    log_capture_t log;
    guard_ctx_t ctx;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    log_capture_init(&f->log);
    mock_init(&f->m, search_answer(false));
    f->g = load_fixture("realistic.wasm", "real", 2, &f->log);
    guard_ctx_init(&f->ctx, 10000, &f->m.be);
    *state = f;
    return f->g ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    guard_close(f->g);
    mock_free(&f->m);
    log_capture_free(&f->log);
    free(f);
    return 0;
}

static void set_policy(fx_t *f, const char *level)
{
    json_t *pol = json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "all", "min-integrity", level);
    json_t *payload = NULL;
    err_t err = {{0}};
    assert_true(guard_label_agent_payload(pol, NULL, NULL, &payload, &err));
    difc_agent_result_t ar = {0};
    if (!guard_label_agent(f->g, &f->ctx, payload, &ar, &err))
        fail_msg("label_agent: %s", err.msg);
    difc_agent_result_free(&ar);
    json_decref(pol);
    json_decref(payload);
}

static void test_label_agent_result_is_parsed(void **state)
{
    fx_t *f = *state;
    json_t *payload = json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "all", "min-integrity", "approved");
    difc_agent_result_t ar = {0};
    err_t err = {{0}};
    assert_true(guard_label_agent(f->g, &f->ctx, payload, &ar, &err));
    assert_int_equal(ar.mode, DIFC_MODE_FILTER);
    assert_int_equal(ar.labels.integrity.len, 3);
    assert_true(difc_tagset_contains(&ar.labels.integrity, "approved:all"));
    assert_true(difc_tagset_contains(&ar.labels.integrity, "none:all"));
    assert_int_equal(ar.labels.secrecy.len, 0);
    assert_non_null(ar.normalized_policy);
    assert_string_equal(json_string_value(json_object_get(ar.normalized_policy, "min-integrity")), "approved");
    difc_agent_result_free(&ar);
    json_decref(payload);
    /* the guard's printf went to the log */
    assert_true(log_capture_find(&f->log, "[guard:real] stdout: label_agent: policy set to min-integrity approved") >=
                0);
}

static void test_label_agent_payload_is_checked_before_the_guard(void **state)
{
    fx_t *f = *state;
    json_t *payload = json_pack("{s:{s:[],s:s}}", "allow-only", "repos", "min-integrity", "none");
    difc_agent_result_t ar = {0};
    err_t err = {{0}};
    assert_false(guard_label_agent(f->g, &f->ctx, payload, &ar, &err));
    assert_non_null(strstr(err.msg, "invalid repos value"));
    difc_agent_result_free(&ar);
    json_decref(payload);
}

static void test_label_agent_guard_refusal_is_error_code(void **state)
{
    fx_t *f = *state;
    /* Passes the host's case-insensitive check; the guard wants lower case. */
    json_t *payload = json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "all", "min-integrity", "Approved");
    difc_agent_result_t ar = {0};
    err_t err = {{0}};
    assert_false(guard_label_agent(f->g, &f->ctx, payload, &ar, &err));
    assert_string_equal(err.msg, "WASM function returned error code: -1");
    difc_agent_result_free(&ar);
    json_decref(payload);
}

static void test_label_resource_read_public_repo(void **state)
{
    fx_t *f = *state;
    set_policy(f, "none");
    json_t *args = json_pack("{s:s,s:s}", "owner", "acme", "repo", "web");
    difc_resource_t res = {0};
    difc_op_t op;
    err_t err = {{0}};
    assert_true(guard_label_resource(f->g, &f->ctx, "list_issues", args, &res, &op, &err));
    assert_int_equal(op, DIFC_OP_READ);
    assert_string_equal(difc_resource_description(&res), "list_issues:acme/web");
    assert_int_equal(res.labels.secrecy.len, 0);
    assert_int_equal(f->m.calls, 1);
    difc_resource_free(&res);
    /* The guard caches visibility; a write asks nobody. */
    assert_true(guard_label_resource(f->g, &f->ctx, "create_issue", args, &res, &op, &err));
    assert_int_equal(op, DIFC_OP_WRITE);
    assert_true(difc_tagset_contains(&res.labels.integrity, "none:all"));
    assert_int_equal(f->m.calls, 1);
    difc_resource_free(&res);
    json_decref(args);
}

static void test_label_resource_private_repo_and_failed_backend(void **state)
{
    fx_t *f = *state;
    json_decref(f->m.answers);
    f->m.answers = search_answer(true);
    json_t *args = json_pack("{s:s,s:s}", "owner", "acme", "repo", "secret");
    difc_resource_t res = {0};
    difc_op_t op;
    err_t err = {{0}};
    assert_true(guard_label_resource(f->g, &f->ctx, "get_file", args, &res, &op, &err));
    assert_true(difc_tagset_contains(&res.labels.secrecy, "private:acme/secret"));
    difc_resource_free(&res);
    json_decref(args);
    /* A backend failure: the guard fails secure and says so in the log. */
    json_decref(f->m.answers);
    f->m.answers = json_object();
    args = json_pack("{s:s,s:s}", "owner", "acme", "repo", "unknown");
    assert_true(guard_label_resource(f->g, &f->ctx, "get_file", args, &res, &op, &err));
    assert_true(difc_tagset_contains(&res.labels.secrecy, "private:acme/unknown"));
    assert_true(log_capture_find(&f->log, "[guard:real] visibility lookup failed") >= 0);
    difc_resource_free(&res);
    json_decref(args);
}

static void test_label_response_labels_100_items_by_path(void **state)
{
    fx_t *f = *state;
    json_t *result = issues_result(100);
    json_t *args = json_pack("{s:s,s:s}", "owner", "acme", "repo", "web");
    difc_response_labels_t rl = {0};
    err_t err = {{0}};
    if (!guard_label_response(f->g, &f->ctx, "list_issues", args, result, &rl, &err))
        fail_msg("label_response: %s", err.msg);
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 100);
    assert_string_equal(rl.items_path, "/items");
    assert_string_equal(rl.paths[7].path, "/items/7");
    assert_true(difc_tagset_contains(&rl.paths[1].labels.labels.secrecy, "private:acme/private-repo"));
    assert_int_equal(rl.paths[0].labels.labels.secrecy.len, 0);
    assert_true(rl.has_default);
    difc_response_labels_free(&rl);
    json_decref(result);
    json_decref(args);
}

static void test_label_response_empty_output_means_no_labels(void **state)
{
    fx_t *f = *state;
    json_t *result = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", "plain words");
    difc_response_labels_t rl = {0};
    err_t err = {{0}};
    assert_true(guard_label_response(f->g, &f->ctx, "get_me", NULL, result, &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_NONE);
    difc_response_labels_free(&rl);
    json_decref(result);
}

static void test_guard_output_errors_surface(void **state)
{
    (void)state;
    guard_t *g = load_fixture("behave.wasm", "behave", 1, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, NULL);
    difc_resource_t res = {0};
    difc_op_t op = DIFC_OP_READ;
    err_t err = {{0}};
    /* "zero": empty output is not a label_resource answer. */
    assert_false(guard_label_resource(g, &ctx, "zero", NULL, &res, &op, &err));
    assert_non_null(strstr(err.msg, "failed to unmarshal label_resource WASM response"));
    assert_int_equal(op, DIFC_OP_WRITE);
    difc_resource_free(&res);
    /* "neg" */
    assert_false(guard_label_resource(g, &ctx, "neg", NULL, &res, &op, &err));
    assert_string_equal(err.msg, "WASM function returned error code: -7");
    difc_resource_free(&res);
    /* default label_response: one labelled path */
    difc_response_labels_t rl = {0};
    assert_true(guard_label_response(g, &ctx, "anything", NULL, NULL, &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 1);
    difc_response_labels_free(&rl);
    guard_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_label_agent_result_is_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_agent_payload_is_checked_before_the_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_agent_guard_refusal_is_error_code, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_resource_read_public_repo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_resource_private_repo_and_failed_backend, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_response_labels_100_items_by_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_label_response_empty_output_means_no_labels, setup, teardown),
        cmocka_unit_test(test_guard_output_errors_surface),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
