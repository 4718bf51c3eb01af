/*
 * test_github_guard_wasm.c — github_guard.wasm run by Flowgate's own WASM
 * guard host (guard.h over src/wasm): the labels as the pipeline receives
 * them (difc types), call_backend answered by a guard_backend_t that plays
 * GitHub's search_repositories, the visibility cache, and the labels judged
 * by the real evaluator.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "guard/guard.h"

#define GITHUB_GUARD BUILD_DIR "/examples/github-guard/github_guard.wasm"
#define POLICY_OCTO "{\"allow-only\":{\"repos\":[\"octo/*\"],\"min-integrity\":\"approved\"}}"

/* ---- a GitHub MCP server in miniature -------------------------------------- */

typedef struct fake_github {
    int calls;         /* call_tool invocations */
    bool fail;         /* every call fails (a JSON-RPC error) */
    char last_args[256];
} fake_github_t;

static const struct {
    const char *full_name;
    bool private_;
} repos[] = {{"octo/demo", false}, {"octo/secret", true}, {"other/pub", false}, {"other/vault", true}};

static bool fake_call_tool(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args, json_t **result,
                           err_t *err)
{
    (void)ctx;
    fake_github_t *f = self;
    f->calls++;
    char *a = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    snprintf(f->last_args, sizeof f->last_args, "%s", a ? a : "null");
    free(a);
    if (f->fail)
        return err_set(err, "backend error server=github method=tools/call: code=-32603, message=boom");
    if (strcmp(tool, "search_repositories") != 0)
        return err_set(err, "unexpected tool %s", tool);
    const char *q = json_string_value(json_object_get(args, "query"));
    json_t *items = json_array();
    for (size_t i = 0; q && i < sizeof repos / sizeof repos[0]; i++)
        if (!strncmp(q, "repo:", 5) && !strcasecmp(q + 5, repos[i].full_name))
            json_array_append_new(items, json_pack("{s:s,s:b}", "full_name", repos[i].full_name, "private",
                                                   repos[i].private_));
    json_t *inner = json_pack("{s:i,s:o}", "total_count", (int)json_array_size(items), "items", items);
    char *text = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    *result = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 0);
    free(text);
    return true;
}

/* ---- driving the guard -------------------------------------------------------- */

typedef struct fixture {
    guard_t *g;
    fake_github_t gh;
    guard_backend_t backend;
    difc_labels_t agent;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof *f);
    err_t err;
    /* One instance, so that the visibility cache the test counts is the
     * one every call sees. */
    guard_wasm_opts_t opts = {.name = "github", .max_instances = 1};
    f->g = guard_wasm_load_file(GITHUB_GUARD, &opts, &err);
    if (!f->g)
        fail_msg("loading %s: %s", GITHUB_GUARD, err.msg);
    f->backend = (guard_backend_t){fake_call_tool, &f->gh};
    difc_labels_init(&f->agent);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    difc_labels_free(&f->agent);
    guard_close(f->g);
    free(f);
    return 0;
}

static void label_agent_ok(fixture_t *f, const char *policy_json, const char *trusted_bots_json,
                           difc_agent_result_t *out)
{
    json_t *policy = json_loads(policy_json, 0, NULL);
    json_t *bots = trusted_bots_json ? json_loads(trusted_bots_json, 0, NULL) : NULL;
    json_t *payload = NULL;
    err_t err;
    if (!guard_label_agent_payload(policy, bots, NULL, &payload, &err))
        fail_msg("payload: %s", err.msg);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 10000, &f->backend);
    if (!guard_label_agent(f->g, &ctx, payload, out, &err))
        fail_msg("label_agent: %s", err.msg);
    json_decref(payload);
    json_decref(bots);
    json_decref(policy);
}

static void label_resource_ok(fixture_t *f, const char *tool, const char *args_json, difc_resource_t *res,
                              difc_op_t *op)
{
    json_t *args = json_loads(args_json, 0, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 10000, &f->backend);
    difc_resource_init(res);
    err_t err;
    if (!guard_label_resource(f->g, &ctx, tool, args, res, op, &err))
        fail_msg("label_resource %s: %s", tool, err.msg);
    json_decref(args);
}

static void label_response_ok(fixture_t *f, const char *tool, const char *args_json, const json_t *result,
                              difc_response_labels_t *rl)
{
    json_t *args = json_loads(args_json, 0, NULL);
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 10000, &f->backend);
    err_t err;
    if (!guard_label_response(f->g, &ctx, tool, args, result, rl, &err))
        fail_msg("label_response %s: %s", tool, err.msg);
    json_decref(args);
}

/* The set equals the JSON array of strings `want`. */
static void assert_set(const difc_tagset_t *s, const char *want)
{
    json_t *arr = json_loads(want, 0, NULL);
    difc_tagset_t w = {0};
    assert_true(difc_tagset_from_json(&w, arr, false));
    if (!difc_tagset_equal(s, &w)) {
        char got[1024] = "";
        for (size_t i = 0; i < s->len; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "", s->tags[i]);
        fail_msg("tags [%s], expected %s", got, want);
    }
    difc_tagset_free(&w);
    json_decref(arr);
}

#define OCTO_NONE "[\"none:octo\"]"
#define OCTO_UNAPPROVED "[\"none:octo\",\"unapproved:octo\"]"
#define OCTO_APPROVED "[\"none:octo\",\"unapproved:octo\",\"approved:octo\"]"
#define OCTO_MERGED "[\"none:octo\",\"unapproved:octo\",\"approved:octo\",\"merged:octo\"]"

/* Sets POLICY_OCTO with trusted bot "helper-bot[bot]"; the agent's labels
 * go to f->agent. */
static void agent_octo(fixture_t *f)
{
    difc_agent_result_t r = {0};
    label_agent_ok(f, POLICY_OCTO, "[\"helper-bot[bot]\"]", &r);
    assert_int_equal(r.mode, DIFC_MODE_FILTER);
    assert_set(&r.labels.secrecy, "[\"private:octo\"]");
    assert_set(&r.labels.integrity, OCTO_APPROVED);
    assert_string_equal(json_string_value(json_object_get(r.normalized_policy, "scope_kind")), "Owner");
    difc_labels_free(&f->agent);
    difc_labels_init(&f->agent);
    assert_true(difc_labels_union(&f->agent, &r.labels));
    difc_agent_result_free(&r);
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_loads_and_labels_the_agent(void **state)
{
    fixture_t *f = *state;
    agent_octo(f);
    difc_agent_result_t r = {0};
    label_agent_ok(f, "{\"allow-only\":{\"repos\":[\"octo/demo\",\"acme/api-*\"],\"min-integrity\":\"none\"}}", NULL,
                   &r);
    assert_set(&r.labels.secrecy, "[\"private:octo/demo\",\"private:acme/api-*\"]");
    assert_set(&r.labels.integrity, "[\"integrity=none;scopes=octo/demo,acme/api-*\"]");
    assert_string_equal(json_string_value(json_object_get(r.normalized_policy, "scope_kind")), "Composite");
    difc_agent_result_free(&r);
    label_agent_ok(f, "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"merged\"}}", NULL, &r);
    assert_set(&r.labels.secrecy, "[]");
    assert_set(&r.labels.integrity, "[\"none:all\",\"unapproved:all\",\"approved:all\",\"merged:all\"]");
    difc_agent_result_free(&r);
    assert_int_equal(f->gh.calls, 0);
}

static void test_resource_labels_and_the_visibility_cache(void **state)
{
    fixture_t *f = *state;
    agent_octo(f);
    difc_resource_t res;
    difc_op_t op;
    label_resource_ok(f, "list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}", &res, &op);
    assert_int_equal(op, DIFC_OP_READ);
    assert_string_equal(difc_resource_description(&res), "resource:list_issues:octo/demo");
    assert_set(&res.labels.secrecy, "[]");
    assert_set(&res.labels.integrity, OCTO_MERGED);
    difc_resource_free(&res);
    assert_int_equal(f->gh.calls, 1);
    assert_string_equal(f->gh.last_args, "{\"perPage\":10,\"query\":\"repo:octo/demo\"}");

    /* Asked once per repository, whatever the tool. */
    for (int i = 0; i < 3; i++) {
        label_resource_ok(f, i % 2 ? "get_file_contents" : "list_pull_requests",
                          "{\"owner\":\"octo\",\"repo\":\"demo\"}", &res, &op);
        assert_set(&res.labels.secrecy, "[]");
        difc_resource_free(&res);
    }
    assert_int_equal(f->gh.calls, 1);

    label_resource_ok(f, "list_issues", "{\"owner\":\"octo\",\"repo\":\"secret\"}", &res, &op);
    assert_set(&res.labels.secrecy, "[\"private:octo\"]");
    assert_set(&res.labels.integrity, OCTO_MERGED);
    difc_resource_free(&res);
    label_resource_ok(f, "list_issues", "{\"owner\":\"other\",\"repo\":\"vault\"}", &res, &op);
    assert_set(&res.labels.secrecy, "[\"private:other/vault\"]");
    assert_set(&res.labels.integrity,
               "[\"none:other/vault\",\"unapproved:other/vault\",\"approved:other/vault\",\"merged:other/vault\"]");
    /* The evaluator: out of scope fails the agent's floor. */
    difc_eval_t ev = {0};
    difc_evaluate(&f->agent, &res, op, DIFC_MODE_FILTER, &ev, NULL);
    assert_false(difc_eval_allowed(&ev));
    difc_eval_free(&ev);
    difc_resource_free(&res);
    assert_int_equal(f->gh.calls, 3);
    label_resource_ok(f, "list_issues", "{\"owner\":\"octo\",\"repo\":\"secret\"}", &res, &op);
    difc_resource_free(&res);
    assert_int_equal(f->gh.calls, 3);
}

static void test_unknown_visibility_is_private(void **state)
{
    fixture_t *f = *state;
    agent_octo(f);
    difc_resource_t res;
    difc_op_t op;
    int calls = f->gh.calls;
    label_resource_ok(f, "list_issues", "{\"owner\":\"octo\",\"repo\":\"ghost\"}", &res, &op); /* not found */
    assert_set(&res.labels.secrecy, "[\"private:octo\"]");
    difc_resource_free(&res);
    f->gh.fail = true;
    label_resource_ok(f, "list_issues", "{\"owner\":\"other\",\"repo\":\"pub\"}", &res, &op); /* backend error */
    assert_set(&res.labels.secrecy, "[\"private:other/pub\"]");
    difc_resource_free(&res);
    f->gh.fail = false;
    label_resource_ok(f, "list_issues", "{\"owner\":\"other\",\"repo\":\"pub\"}", &res, &op); /* asked again */
    assert_set(&res.labels.secrecy, "[]");
    difc_resource_free(&res);
    assert_int_equal(f->gh.calls, calls + 3);
}

static void test_writes_and_unknown_tools(void **state)
{
    fixture_t *f = *state;
    agent_octo(f);
    difc_resource_t res;
    difc_op_t op;
    int calls = f->gh.calls;
    label_resource_ok(f, "create_issue", "{\"owner\":\"octo\",\"repo\":\"demo\",\"title\":\"t\"}", &res, &op);
    assert_int_equal(op, DIFC_OP_WRITE);
    assert_set(&res.labels.secrecy, "[]");
    assert_set(&res.labels.integrity, OCTO_UNAPPROVED);
    difc_resource_free(&res);
    label_resource_ok(f, "drop_everything", "{\"owner\":\"octo\",\"repo\":\"demo\"}", &res, &op);
    assert_int_equal(op, DIFC_OP_WRITE);
    assert_set(&res.labels.integrity, "[\"blocked:octo\"]");
    difc_eval_t ev = {0};
    difc_evaluate(&f->agent, &res, op, DIFC_MODE_FILTER, &ev, NULL);
    assert_false(difc_eval_allowed(&ev));
    difc_eval_free(&ev);
    difc_resource_free(&res);
    assert_int_equal(f->gh.calls, calls);
}

/* Item i of a path-format response: its labels, and whether the agent may
 * read it. */
static bool item_readable(fixture_t *f, const difc_response_labels_t *rl, size_t i)
{
    difc_eval_t ev = {0};
    difc_evaluate(&f->agent, &rl->paths[i].labels, DIFC_OP_READ, DIFC_MODE_FILTER, &ev, NULL);
    bool ok = difc_eval_allowed(&ev);
    difc_eval_free(&ev);
    return ok;
}

static void test_response_labels_items_for_the_filter(void **state)
{
    fixture_t *f = *state;
    agent_octo(f);
    /* list_issues as the GitHub MCP server answers it (MCP-wrapped). */
    json_t *issues = json_loads("[{\"number\":1,\"user\":{\"login\":\"a\"},\"author_association\":\"OWNER\"},"
                                "{\"number\":2,\"user\":{\"login\":\"b\"},\"author_association\":\"CONTRIBUTOR\"},"
                                "{\"number\":3,\"user\":{\"login\":\"c\"},\"author_association\":\"NONE\"},"
                                "{\"number\":4,\"user\":{\"login\":\"helper-bot[bot]\"},\"author_association\":\"NONE\"}]",
                                0, NULL);
    char *text = json_dumps(issues, JSON_COMPACT);
    json_decref(issues);
    json_t *wrapped = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 0);
    free(text);
    int calls = f->gh.calls;
    difc_response_labels_t rl = {0};
    label_response_ok(f, "list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}", wrapped, &rl);
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 4);
    assert_true(rl.items_path == NULL || rl.items_path[0] == '\0');
    assert_string_equal(rl.paths[2].path, "/2");
    assert_string_equal(difc_resource_description(&rl.paths[0].labels), "list_issues:octo/demo#1");
    assert_set(&rl.paths[0].labels.labels.integrity, OCTO_APPROVED);
    assert_set(&rl.paths[1].labels.labels.integrity, OCTO_UNAPPROVED);
    assert_set(&rl.paths[2].labels.labels.integrity, OCTO_NONE);
    assert_set(&rl.paths[3].labels.labels.integrity, OCTO_APPROVED); /* trusted bot */
    for (size_t i = 0; i < 4; i++)
        assert_set(&rl.paths[i].labels.labels.secrecy, "[]");
    assert_true(item_readable(f, &rl, 0));
    assert_false(item_readable(f, &rl, 1));
    assert_false(item_readable(f, &rl, 2));
    assert_true(item_readable(f, &rl, 3));
    /* The host resolves the paths against the wrapped result. */
    difc_collection_t coll = {0};
    err_t err;
    if (!difc_collection_resolve(&rl, wrapped, &coll, &err))
        fail_msg("resolve: %s", err.msg);
    assert_int_equal(coll.n_items, 4);
    assert_int_equal(json_integer_value(json_object_get(coll.items[3].data, "number")), 4);
    difc_collection_free(&coll);
    difc_response_labels_free(&rl);
    json_decref(wrapped);
    assert_int_equal(f->gh.calls, calls); /* octo/demo was cached by label_resource */

    /* Search results (raw, as proxy mode passes them): each item by its own repo. */
    json_t *search = json_loads(
        "{\"total_count\":2,\"items\":[{\"number\":1,\"repository_url\":\"https://api.github.com/repos/octo/secret\","
        "\"author_association\":\"MEMBER\"},{\"number\":2,\"repository_url\":"
        "\"https://api.github.com/repos/other/pub\",\"author_association\":\"OWNER\"}]}",
        0, NULL);
    rl = (difc_response_labels_t){0};
    label_response_ok(f, "search_issues", "{\"query\":\"is:open\"}", search, &rl);
    assert_string_equal(rl.items_path, "/items");
    assert_int_equal(rl.n_paths, 2);
    assert_string_equal(rl.paths[1].path, "/items/1");
    assert_set(&rl.paths[0].labels.labels.secrecy, "[\"private:octo\"]");
    assert_set(&rl.paths[1].labels.labels.secrecy, "[]");
    assert_set(&rl.paths[1].labels.labels.integrity,
               "[\"none:other/pub\",\"unapproved:other/pub\",\"approved:other/pub\"]");
    assert_true(item_readable(f, &rl, 0));
    assert_false(item_readable(f, &rl, 1));
    difc_response_labels_free(&rl);
    json_decref(search);

    /* A single object: no paths, the whole result under default_labels. */
    json_t *one = json_loads("{\"number\":7,\"user\":{\"login\":\"c\"},\"author_association\":\"NONE\"}", 0, NULL);
    rl = (difc_response_labels_t){0};
    label_response_ok(f, "issue_read", "{\"owner\":\"octo\",\"repo\":\"demo\",\"issue_number\":7}", one, &rl);
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 0);
    assert_true(rl.has_default);
    assert_string_equal(difc_resource_description(&rl.default_labels), "issue_read:octo/demo#7");
    assert_set(&rl.default_labels.labels.integrity, OCTO_NONE);
    difc_response_labels_free(&rl);
    json_decref(one);

    /* Text that is not JSON: no labels. */
    json_t *err_text = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", "rate limited", "isError", 1);
    rl = (difc_response_labels_t){0};
    label_response_ok(f, "list_issues", "{\"owner\":\"octo\",\"repo\":\"demo\"}", err_text, &rl);
    assert_int_equal(rl.kind, DIFC_RESPONSE_NONE);
    difc_response_labels_free(&rl);
    json_decref(err_text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_labels_the_agent),
        cmocka_unit_test(test_resource_labels_and_the_visibility_cache),
        cmocka_unit_test(test_unknown_visibility_is_private),
        cmocka_unit_test(test_writes_and_unknown_tools),
        cmocka_unit_test(test_response_labels_items_for_the_filter),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
