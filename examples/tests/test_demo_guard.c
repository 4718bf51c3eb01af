/*
 * test_demo_guard.c — the demo guard's labelling logic and its runtime
 * (JSON reader, writer, allocator), compiled natively from the same sources
 * as demo_guard.wasm. Each call goes through guard_alloc/guard_dealloc the
 * way the host drives the ABI (spec: guard-abi §1.6).
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard_call.h"

typedef guard_export_fn export_fn;

#define OUT_SIZE (1 << 20)

static int32_t call_export(export_fn fn, const char *input, int32_t out_size, char **out)
{
    int32_t rc = guard_call(fn, input, out_size, out);
    assert_true(rc <= out_size);
    return rc;
}

/* Calls and parses the JSON output; fails unless the code is > 0. */
static json_t *call_json(export_fn fn, const char *input)
{
    char *out;
    int32_t rc = call_export(fn, input, OUT_SIZE, &out);
    if (rc <= 0)
        fail_msg("export returned %d for %s", rc, input);
    json_error_t jerr;
    json_t *v = json_loads(out, 0, &jerr);
    if (!v)
        fail_msg("guard output is not JSON (%s): %s", jerr.text, out);
    free(out);
    return v;
}

static json_t *call_jsonf(export_fn fn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *call_jsonf(export_fn fn, const char *fmt, ...)
{
    char input[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(input, sizeof input, fmt, ap);
    va_end(ap);
    return call_json(fn, input);
}

/* "[a,b]" as a JSON array of strings, for comparisons. */
static void assert_tags(const json_t *arr, const char *expected_json)
{
    json_t *want = json_loads(expected_json, 0, NULL);
    assert_non_null(want);
    if (!json_equal((json_t *)arr, want)) {
        char *got = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("tags %s, expected %s", got ? got : "(none)", expected_json);
    }
    json_decref(want);
}

#define ALL_LEVELS                                                                                          \
    "[\"none:demo/tracker\",\"unapproved:demo/tracker\",\"approved:demo/tracker\",\"merged:demo/tracker\"]"
#define UP_TO_APPROVED "[\"none:demo/tracker\",\"unapproved:demo/tracker\",\"approved:demo/tracker\"]"
#define PRIVATE "[\"private:demo/tracker\"]"

/* ---- label_agent ------------------------------------------------------------ */

static void test_agent_for_public_repos_holds_no_secrecy(void **state)
{
    (void)state;
    json_t *r = call_json(label_agent, "{\"allow-only\":{\"min-integrity\":\"none\",\"repos\":\"public\"}}");
    assert_tags(json_object_get(json_object_get(r, "agent"), "secrecy"), "[]");
    assert_tags(json_object_get(json_object_get(r, "agent"), "integrity"), "[\"none:demo/tracker\"]");
    assert_string_equal(json_string_value(json_object_get(r, "difc_mode")), "filter");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "normalized_policy"), "min-integrity")), "none");
    json_decref(r);
}

static void test_agent_integrity_is_cumulative_up_to_min_integrity(void **state)
{
    (void)state;
    json_t *r = call_json(label_agent, "{\"allow-only\":{\"min-integrity\":\" Approved \",\"repos\":\"all\"}}");
    assert_tags(json_object_get(json_object_get(r, "agent"), "integrity"), UP_TO_APPROVED);
    assert_tags(json_object_get(json_object_get(r, "agent"), "secrecy"), PRIVATE);
    json_decref(r);
    r = call_json(label_agent, "{\"allow-only\":{\"integrity\":\"merged\",\"repos\":\"all\"}}");
    assert_tags(json_object_get(json_object_get(r, "agent"), "integrity"), ALL_LEVELS);
    json_decref(r);
}

static void test_agent_gets_private_tag_when_repos_cover_the_tracker(void **state)
{
    (void)state;
    static const struct {
        const char *repos, *kind;
        bool covers;
    } cases[] = {
        {"[\"demo/tracker\"]", "repo", true},
        {"[\"demo/*\"]", "owner", true},
        {"[\"demo/tr*\"]", "repoprefix", true},
        {"[\"demo/tracker-old\"]", "repo", false},
        {"[\"demo/trackers*\"]", "repoprefix", false},
        {"[\"other/*\"]", "owner", false},
        {"[\"other/x\",\"demo/tracker\"]", "composite", true},
        {"\"ALL\"", "all", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r =
            call_jsonf(label_agent, "{\"allow-only\":{\"repos\":%s,\"min-integrity\":\"none\"},\"trusted-bots\":[\"b\"]}",
                       cases[i].repos);
        assert_tags(json_object_get(json_object_get(r, "agent"), "secrecy"), cases[i].covers ? PRIVATE : "[]");
        assert_string_equal(
            json_string_value(json_object_get(json_object_get(r, "normalized_policy"), "scope_kind")),
            cases[i].kind);
        json_decref(r);
    }
}

static void test_agent_rejects_bad_policies_with_minus_one(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "not json",
        "{\"allow-only\":{\"repos\":\"all\"}}",
        "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"high\"}}",
        "{\"allow-only\":{\"repos\":[],\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":\"mine\",\"min-integrity\":\"none\"}}",
        "{\"allow-only\":{\"repos\":[3],\"min-integrity\":\"none\"}}",
        "{\"policy\":{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}}",
        "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(call_export(label_agent, bad[i], OUT_SIZE, NULL), -1);
}

/* ---- label_resource ---------------------------------------------------------- */

static json_t *resource(const char *tool, const char *args)
{
    return call_jsonf(label_resource, "{\"capabilities\":{},\"tool_args\":%s,\"tool_name\":\"%s\"}", args, tool);
}

static void test_reads_of_issues_are_labelled_fail_secure(void **state)
{
    (void)state;
    json_t *r = resource("list_issues", "{}");
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "read");
    assert_tags(json_object_get(json_object_get(r, "resource"), "secrecy"), PRIVATE);
    assert_tags(json_object_get(json_object_get(r, "resource"), "integrity"), "[\"none:demo/tracker\"]");
    json_decref(r);
    r = resource("get_issue", "{\"number\":12}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "resource"), "description")),
                        "issue:demo/tracker#12");
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "read");
    json_decref(r);
}

static void test_create_issue_is_a_write_needing_approved_integrity(void **state)
{
    (void)state;
    json_t *r = resource("create_issue", "{\"title\":\"t\"}");
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "write");
    assert_tags(json_object_get(json_object_get(r, "resource"), "integrity"), UP_TO_APPROVED);
    assert_tags(json_object_get(json_object_get(r, "resource"), "secrecy"), PRIVATE);
    json_decref(r);
    /* A public issue is a public sink: secrecy empty, so private data cannot flow there. */
    r = resource("create_issue", "{\"title\":\"t\",\"visibility\":\"public\"}");
    assert_tags(json_object_get(json_object_get(r, "resource"), "secrecy"), "[]");
    json_decref(r);
    r = resource("create_issue", "{\"title\":\"t\",\"visibility\":\"PUBLIC\"}");
    assert_tags(json_object_get(json_object_get(r, "resource"), "secrecy"), PRIVATE);
    json_decref(r);
}

static void test_server_data_is_public_with_full_integrity(void **state)
{
    (void)state;
    json_t *r = resource("list_public_notes", "{}");
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "read");
    assert_tags(json_object_get(json_object_get(r, "resource"), "secrecy"), "[]");
    assert_tags(json_object_get(json_object_get(r, "resource"), "integrity"), ALL_LEVELS);
    json_decref(r);
}

static void test_unknown_tools_are_writes_nobody_may_make(void **state)
{
    (void)state;
    json_t *r = resource("drop_database", "null");
    assert_string_equal(json_string_value(json_object_get(r, "operation")), "write");
    assert_tags(json_object_get(json_object_get(r, "resource"), "integrity"), "[\"blocked:demo/tracker\"]");
    json_decref(r);
    assert_int_equal(call_export(label_resource, "{\"tool_args\":{}}", OUT_SIZE, NULL), -1);
}

/* ---- label_response ----------------------------------------------------------- */

/* The label_response input for a tool whose result text is `inner` JSON. */
static json_t *response_for(const char *tool, json_t *inner /* stolen */, bool is_error)
{
    char *text = json_dumps(inner, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(inner);
    json_t *input = json_pack("{s:{}, s:{}, s:s, s:{s:[{s:s, s:s}], s:b}}", "capabilities", "tool_args",
                              "tool_name", tool, "tool_result", "content", "type", "text", "text", text, "isError",
                              is_error);
    free(text);
    char *raw = json_dumps(input, JSON_COMPACT);
    json_decref(input);
    json_t *out = call_json(label_response, raw);
    free(raw);
    return out;
}

static json_t *issue(int number, const char *visibility, const char *association)
{
    return json_pack("{s:i, s:s, s:s, s:s, s:{s:s}}", "number", number, "title", "t \"q\" \\ \xc3\xa9 \\u0041",
                     "visibility", visibility, "author_association", association, "user", "login", "x");
}

static void test_list_issues_labels_every_issue_by_visibility_and_author(void **state)
{
    (void)state;
    json_t *issues = json_pack("[o,o,o,o]", issue(1, "public", "OWNER"), issue(2, "private", "MEMBER"),
                               issue(3, "public", "CONTRIBUTOR"), issue(4, "public", "NONE"));
    json_t *r = response_for("list_issues", issues, false);
    json_t *paths = json_object_get(r, "labeled_paths");
    assert_int_equal(json_array_size(paths), 4);
    assert_null(json_object_get(r, "items_path")); /* a root array */
    const char *want_secrecy[] = {"[]", PRIVATE, "[]", "[]"};
    const char *want_integrity[] = {UP_TO_APPROVED, UP_TO_APPROVED,
                                    "[\"none:demo/tracker\",\"unapproved:demo/tracker\"]",
                                    "[\"none:demo/tracker\"]"};
    for (size_t i = 0; i < 4; i++) {
        json_t *p = json_array_get(paths, i);
        char path[8], desc[32];
        snprintf(path, sizeof path, "/%zu", i);
        snprintf(desc, sizeof desc, "issue:demo/tracker#%zu", i + 1);
        assert_string_equal(json_string_value(json_object_get(p, "path")), path);
        json_t *labels = json_object_get(p, "labels");
        assert_string_equal(json_string_value(json_object_get(labels, "description")), desc);
        assert_tags(json_object_get(labels, "secrecy"), want_secrecy[i]);
        assert_tags(json_object_get(labels, "integrity"), want_integrity[i]);
    }
    /* Anything left unlabelled is treated as private and untrusted. */
    assert_tags(json_object_get(json_object_get(r, "default_labels"), "secrecy"), PRIVATE);
    assert_tags(json_object_get(json_object_get(r, "default_labels"), "integrity"), "[]");
    json_decref(r);
}

static void test_unrecognised_items_are_private(void **state)
{
    (void)state;
    json_t *r = response_for("list_issues", json_pack("[s, {s:s}]", "x", "visibility", "internal"), false);
    json_t *paths = json_object_get(r, "labeled_paths");
    assert_int_equal(json_array_size(paths), 2);
    for (size_t i = 0; i < 2; i++)
        assert_tags(json_object_get(json_object_get(json_array_get(paths, i), "labels"), "secrecy"), PRIVATE);
    json_decref(r);
}

static void test_get_issue_labels_the_whole_result_as_its_issue(void **state)
{
    (void)state;
    json_t *r = response_for("get_issue", issue(5, "public", "CONTRIBUTOR"), false);
    assert_int_equal(json_array_size(json_object_get(r, "labeled_paths")), 0);
    json_t *d = json_object_get(r, "default_labels");
    assert_string_equal(json_string_value(json_object_get(d, "description")), "issue:demo/tracker#5");
    assert_tags(json_object_get(d, "secrecy"), "[]");
    assert_tags(json_object_get(d, "integrity"), "[\"none:demo/tracker\",\"unapproved:demo/tracker\"]");
    json_decref(r);
    r = response_for("get_issue", issue(2, "private", "MEMBER"), false);
    assert_tags(json_object_get(json_object_get(r, "default_labels"), "secrecy"), PRIVATE);
    json_decref(r);
}

static void test_tool_errors_are_labelled_as_server_text(void **state)
{
    (void)state;
    json_t *r = response_for("get_issue", json_string("issue #99 not found"), true);
    json_t *d = json_object_get(r, "default_labels");
    assert_tags(json_object_get(d, "secrecy"), "[]");
    assert_tags(json_object_get(d, "integrity"), ALL_LEVELS);
    json_decref(r);
}

static void test_text_that_is_not_json_is_private(void **state)
{
    (void)state;
    const char *input = "{\"tool_name\":\"list_issues\",\"tool_result\":{\"content\":[{\"type\":\"text\","
                        "\"text\":\"[1,\"}]}}";
    json_t *r = call_json(label_response, input);
    assert_int_equal(json_array_size(json_object_get(r, "labeled_paths")), 0);
    assert_tags(json_object_get(json_object_get(r, "default_labels"), "secrecy"), PRIVATE);
    json_decref(r);
}

static void test_text_items_are_concatenated_like_the_host_does(void **state)
{
    (void)state;
    /* The array is split over two text items, with an image between them. */
    const char *input =
        "{\"tool_name\":\"list_issues\",\"tool_result\":{\"content\":["
        "{\"type\":\"text\",\"text\":\"[{\\\"number\\\":1,\\\"visibility\\\":\\\"public\\\"},\"},"
        "{\"type\":\"image\",\"data\":\"AAAA\",\"text\":\"ignored\",\"mimeType\":\"image/png\"},"
        "{\"type\":\"text\",\"text\":\"{\\\"number\\\":2,\\\"visibility\\\":\\\"private\\\"}]\"}]}}";
    json_t *r = call_json(label_response, input);
    json_t *paths = json_object_get(r, "labeled_paths");
    assert_int_equal(json_array_size(paths), 2);
    assert_tags(json_object_get(json_object_get(json_array_get(paths, 0), "labels"), "secrecy"), "[]");
    assert_tags(json_object_get(json_object_get(json_array_get(paths, 1), "labels"), "secrecy"), PRIVATE);
    json_decref(r);
}

static void test_other_tools_get_no_fine_grained_labels(void **state)
{
    (void)state;
    assert_int_equal(call_export(label_response,
                                 "{\"tool_name\":\"list_public_notes\",\"tool_result\":{\"content\":[]}}", OUT_SIZE,
                                 NULL),
                     0);
}

/* ---- ABI details and the runtime ------------------------------------------------ */

static void test_small_output_buffer_gets_minus_two_and_the_size_needed(void **state)
{
    (void)state;
    const char *input = "{\"allow-only\":{\"min-integrity\":\"merged\",\"repos\":[\"demo/tracker\"]}}";
    char *full;
    int32_t n = call_export(label_agent, input, OUT_SIZE, &full);
    assert_true(n > 16);
    char *hint;
    assert_int_equal(call_export(label_agent, input, 16, &hint), -2);
    uint32_t need = (uint32_t)(unsigned char)hint[0] | (uint32_t)(unsigned char)hint[1] << 8 |
                    (uint32_t)(unsigned char)hint[2] << 16 | (uint32_t)(unsigned char)hint[3] << 24;
    assert_int_equal(need, (uint32_t)n);
    char *again;
    assert_int_equal(call_export(label_agent, input, (int32_t)need, &again), n);
    assert_string_equal(again, full);
    /* Too small even for the hint: -2, nothing written. */
    assert_int_equal(call_export(label_agent, input, 3, NULL), -2);
    free(full), free(hint), free(again);
}

static void test_deep_nesting_is_rejected_not_crashed(void **state)
{
    (void)state;
    size_t depth = 100000;
    char *input = malloc(2 * depth + 64);
    size_t n = (size_t)sprintf(input, "{\"tool_name\":\"get_issue\",\"tool_args\":");
    memset(input + n, '[', depth);
    memset(input + n + depth, ']', depth);
    strcpy(input + n + 2 * depth, "}");
    assert_int_equal(call_export(label_resource, input, OUT_SIZE, NULL), -1);
    free(input);
}

static void test_escaped_keys_and_strings_are_decoded(void **state)
{
    (void)state;
    /* "tool_name" spelled with escapes, value "list_issues" with \u escapes. */
    json_t *r = call_json(label_resource, "{\"tool\\u005fname\":\"list\\u005Fissues\",\"tool_args\":{}}");
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "resource"), "description")),
                        "demo/tracker issues");
    json_decref(r);
}

static void test_heap_is_reused_once_the_host_frees_its_buffers(void **state)
{
    (void)state;
    char *a = guard_alloc(1000), *b = guard_alloc(2000);
    guard_dealloc(b, 2000);
    guard_dealloc(a, 1000);
    char *c = guard_alloc(1000);
    assert_ptr_equal(c, a);
    guard_dealloc(c, 1000);
    /* Many large calls in a row must not run out of memory. */
    for (int i = 0; i < 50; i++) {
        char *big = guard_alloc(4 << 20);
        assert_non_null(big);
        guard_dealloc(big, 4 << 20);
    }
    assert_null(guard_alloc(-1));
    /* A zero-size buffer, which the host never frees, must not pin the heap. */
    char *z = guard_alloc(0);
    assert_non_null(z);
    a = guard_alloc(1000);
    guard_dealloc(a, 1000);
    assert_ptr_equal(guard_alloc(1000), c);
    guard_dealloc(c, 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agent_for_public_repos_holds_no_secrecy),
        cmocka_unit_test(test_agent_integrity_is_cumulative_up_to_min_integrity),
        cmocka_unit_test(test_agent_gets_private_tag_when_repos_cover_the_tracker),
        cmocka_unit_test(test_agent_rejects_bad_policies_with_minus_one),
        cmocka_unit_test(test_reads_of_issues_are_labelled_fail_secure),
        cmocka_unit_test(test_create_issue_is_a_write_needing_approved_integrity),
        cmocka_unit_test(test_server_data_is_public_with_full_integrity),
        cmocka_unit_test(test_unknown_tools_are_writes_nobody_may_make),
        cmocka_unit_test(test_list_issues_labels_every_issue_by_visibility_and_author),
        cmocka_unit_test(test_unrecognised_items_are_private),
        cmocka_unit_test(test_get_issue_labels_the_whole_result_as_its_issue),
        cmocka_unit_test(test_tool_errors_are_labelled_as_server_text),
        cmocka_unit_test(test_text_that_is_not_json_is_private),
        cmocka_unit_test(test_text_items_are_concatenated_like_the_host_does),
        cmocka_unit_test(test_other_tools_get_no_fine_grained_labels),
        cmocka_unit_test(test_small_output_buffer_gets_minus_two_and_the_size_needed),
        cmocka_unit_test(test_deep_nesting_is_rejected_not_crashed),
        cmocka_unit_test(test_escaped_keys_and_strings_are_decoded),
        cmocka_unit_test(test_heap_is_reused_once_the_host_frees_its_buffers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
