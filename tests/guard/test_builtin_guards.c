/*
 * test_builtin_guards.c — the native guards noop and write-sink (spec §3.9;
 * §5 case 34), checked end to end with the difc evaluator: what the guard
 * labels, and what the flow rules then allow.
 */
#include "helpers.h"
#include "../difc/difc_test.h" /* TAGS(), labels_of() */

typedef struct fx {
    guard_ctx_t ctx;
    difc_labels_t agent;
    difc_resource_t res;
    difc_op_t op;
    difc_eval_t ev;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    guard_ctx_init(&f->ctx, 0, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    difc_labels_free(&f->agent);
    difc_resource_free(&f->res);
    difc_eval_free(&f->ev);
    free(f);
    return 0;
}

/* Labels the call with g, then evaluates it for f->agent. */
static bool allowed(fx_t *f, guard_t *g, const char *tool, difc_mode_t mode)
{
    difc_resource_free(&f->res);
    difc_eval_free(&f->ev);
    err_t err = {{0}};
    json_t *args = json_object();
    assert_true(guard_label_resource(g, &f->ctx, tool, args, &f->res, &f->op, &err));
    json_decref(args);
    assert_true(difc_evaluate(&f->agent, &f->res, f->op, mode, &f->ev, NULL));
    return difc_eval_allowed(&f->ev);
}

static guard_t *write_sink(const char *const *accept, const char *visibility)
{
    difc_write_sink_t ws = {0};
    size_t n = 0;
    while (accept && accept[n])
        n++;
    ws.accept.items = (char **)accept;
    ws.accept.len = n;
    ws.sink_visibility = (char *)visibility;
    err_t err = {{0}};
    guard_t *g = guard_write_sink_new(&ws, &err);
    assert_non_null(g);
    return g;
}

static void test_noop_labels(void **state)
{
    fx_t *f = *state;
    guard_t *g = guard_noop_new();
    assert_non_null(g);
    assert_true(guard_is_noop(g));
    assert_string_equal(guard_name(g), "noop");
    err_t err = {{0}};
    difc_agent_result_t ar = {0};
    json_t *payload = json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "all", "min-integrity", "none");
    assert_true(guard_label_agent(g, &f->ctx, payload, &ar, &err));
    json_decref(payload);
    assert_int_equal(ar.mode, DIFC_MODE_STRICT);
    assert_int_equal(ar.labels.secrecy.len + ar.labels.integrity.len, 0);
    difc_agent_result_free(&ar);

    assert_true(allowed(f, g, "anything", DIFC_MODE_STRICT));
    assert_int_equal(f->op, DIFC_OP_READ_WRITE);
    assert_string_equal(difc_resource_description(&f->res), "noop resource (no restrictions)");
    assert_int_equal(f->res.labels.secrecy.len + f->res.labels.integrity.len, 0);

    difc_response_labels_t rl = {0};
    json_t *result = json_pack("{s:[]}", "content");
    assert_true(guard_label_response(g, &f->ctx, "anything", NULL, result, &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_NONE);
    difc_response_labels_free(&rl);
    json_decref(result);
    assert_true(guard_healthy(g, &err));
    guard_close(g);
}

/* §3.9: once an agent carries any tag, every call to a noop server is
 * denied (read half: integrity; write half: secrecy). */
static void test_noop_denies_a_tainted_agent(void **state)
{
    fx_t *f = *state;
    guard_t *g = guard_noop_new();
    labels_of(&f->agent, NULL, TAGS("none:all"));
    assert_false(allowed(f, g, "t", DIFC_MODE_FILTER));
    assert_non_null(strstr(f->ev.reason, "integrity"));
    labels_of(&f->agent, TAGS("private:x"), NULL);
    assert_false(allowed(f, g, "t", DIFC_MODE_STRICT));
    assert_non_null(strstr(f->ev.reason, "secrecy"));
    guard_close(g);
}

static void test_write_sink_labels(void **state)
{
    fx_t *f = *state;
    guard_t *g = write_sink(TAGS("private:github/gh-aw*"), NULL);
    assert_false(guard_is_noop(g));
    assert_string_equal(g->type, "write-sink");
    err_t err = {{0}};
    difc_agent_result_t ar = {0};
    assert_true(guard_label_agent(g, &f->ctx, NULL, &ar, &err));
    assert_int_equal(ar.mode, DIFC_MODE_FILTER);
    assert_int_equal(ar.labels.secrecy.len + ar.labels.integrity.len, 0);
    difc_agent_result_free(&ar);
    allowed(f, g, "create_issue", DIFC_MODE_FILTER);
    assert_int_equal(f->op, DIFC_OP_WRITE);
    assert_string_equal(difc_resource_description(&f->res), "write-sink (create_issue)");
    assert_true(difc_tagset_contains(&f->res.labels.secrecy, "private:github/gh-aw*"));
    assert_int_equal(f->res.labels.integrity.len, 0);
    difc_response_labels_t rl = {0};
    assert_true(guard_label_response(g, &f->ctx, "create_issue", NULL, NULL, &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_NONE);
    guard_close(g);
}

/* §5 case 34 */
static void test_write_sink_accept_matching(void **state)
{
    fx_t *f = *state;
    guard_t *g = write_sink(TAGS("private:github/gh-aw*"), NULL);
    /* Integrity never blocks a write-sink: its resource integrity is empty. */
    labels_of(&f->agent, TAGS("private:github/gh-aw*"), TAGS("approved:all", "none:all"));
    assert_true(allowed(f, g, "add_comment", DIFC_MODE_FILTER));
    labels_of(&f->agent, TAGS("private:github/gh-aw*", "private:github/secret-repo"), TAGS("none:all"));
    assert_false(allowed(f, g, "add_comment", DIFC_MODE_FILTER));
    assert_non_null(strstr(f->ev.reason, "private (github/secret-repo)"));
    /* Exact matching: the accept entry is a literal tag, not a pattern. */
    labels_of(&f->agent, TAGS("private:github/gh-aw-tools"), NULL);
    assert_false(allowed(f, g, "add_comment", DIFC_MODE_PROPAGATE));
    guard_close(g);

    g = write_sink(TAGS("*"), NULL);
    labels_of(&f->agent, TAGS("private:a", "private:b/c", "x"), TAGS("none:all"));
    assert_true(allowed(f, g, "add_comment", DIFC_MODE_STRICT));
    guard_close(g);

    /* Visibility public: any secrecy is refused whatever accept says. */
    g = write_sink(TAGS("*"), "  Public ");
    labels_of(&f->agent, TAGS("private:x"), NULL);
    assert_false(allowed(f, g, "add_comment", DIFC_MODE_FILTER));
    assert_string_equal(difc_resource_description(&f->res), "write-sink:public (add_comment)");
    assert_non_null(strstr(f->ev.reason, "secrecy"));
    labels_of(&f->agent, NULL, TAGS("none:all"));
    assert_true(allowed(f, g, "add_comment", DIFC_MODE_FILTER));
    guard_close(g);

    /* A private sink visibility keeps the accept list. */
    g = write_sink(TAGS("private:x"), "private");
    labels_of(&f->agent, TAGS("private:x"), NULL);
    assert_true(allowed(f, g, "add_comment", DIFC_MODE_FILTER));
    guard_close(g);

    /* The same tainted agent on a noop server: denied on integrity. */
    g = guard_noop_new();
    labels_of(&f->agent, TAGS("private:github/gh-aw*"), TAGS("approved:all", "none:all"));
    assert_false(allowed(f, g, "add_comment", DIFC_MODE_FILTER));
    assert_non_null(strstr(f->ev.reason, "integrity"));
    guard_close(g);
}

/* A write-sink configured from an allow-only policy's accept rules lets the
 * agent that policy produces write (§3.9 table). */
static void test_write_sink_from_allow_only_mapping(void **state)
{
    fx_t *f = *state;
    json_t *pj = json_pack("{s:{s:[s,s,s],s:s}}", "allow-only", "repos", "acme/*", "octo/web", "octo/api-*",
                           "min-integrity", "approved");
    difc_policy_t p;
    err_t err = {{0}};
    assert_true(difc_policy_parse(pj, &p, &err));
    json_decref(pj);
    difc_write_sink_t ws = {0};
    assert_true(difc_allow_only_accept_rules(&p.allow_only, &ws.accept, &err));
    guard_t *g = guard_write_sink_new(&ws, &err);
    /* What the GitHub guard's label_agent gives for that policy (§2.2). */
    labels_of(&f->agent, TAGS("private:acme", "private:octo/web", "private:octo/api-*"), NULL);
    assert_true(allowed(f, g, "create_issue", DIFC_MODE_FILTER));
    assert_true(difc_write_sink_covers(&ws, &p.allow_only));
    difc_strlist_free(&ws.accept);
    difc_policy_free(&p);
    guard_close(g);
}

static void test_guard_create_types(void **state)
{
    (void)state;
    err_t err = {{0}};
    guard_t *g = guard_create("", &err);
    assert_non_null(g);
    assert_true(guard_is_noop(g));
    guard_close(g);
    g = guard_create("noop", &err);
    assert_non_null(g);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_null(guard_create("github-native", &err));
    assert_string_equal(err.msg, "unknown guard type: github-native");
    guard_close(NULL);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_noop_labels),
        T(test_noop_denies_a_tainted_agent),
        T(test_write_sink_labels),
        T(test_write_sink_accept_matching),
        T(test_write_sink_from_allow_only_mapping),
        T(test_guard_create_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
