/*
 * test_filter.c — Phase 5: filtering, in-place removal, notices, the
 * strict block, the difc_filtered record and the Phase 6 labels (spec §3.7,
 * §4 steps 13–17, §4.1; §5 cases 38–43; departures 1, 2, 8, 9).
 */
#include "difc_test.h"

typedef struct fx {
    difc_labels_t agent;
    difc_resource_t res;       /* the Phase 1 resource */
    difc_response_labels_t rl;
    json_t *result;            /* the backend result */
    difc_filter_outcome_t o;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    *state = f;
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    difc_labels_free(&f->agent);
    difc_resource_free(&f->res);
    difc_response_labels_free(&f->rl);
    json_decref(f->result);
    difc_filter_outcome_free(&f->o);
    free(f);
    return 0;
}

static void given(fx_t *f, const char *result, const char *labels)
{
    json_decref(f->result);
    f->result = J(result);
    difc_response_labels_free(&f->rl);
    if (labels) {
        err_t err = {0};
        if (!difc_response_labels_parse(labels, strlen(labels), &f->rl, &err))
            fail_msg("labels: %s", err.msg);
    }
}

static void run(fx_t *f, difc_op_t op, difc_mode_t mode)
{
    difc_filter_outcome_free(&f->o);
    json_t *before = json_deep_copy(f->result);
    err_t err = {0};
    if (!difc_filter_response(&f->agent, op, mode, &f->res, &f->rl, f->result, &f->o, &err))
        fail_msg("filter: %s", err.msg);
    /* The backend result is borrowed, never modified. */
    assert_true(json_equal(before, f->result));
    json_decref(before);
    assert_non_null(f->o.result);
}

static const char *content_text(const json_t *result, size_t i)
{
    return json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), i), "text"));
}

#define ISSUES_RESULT "{\"content\":[{\"type\":\"text\",\"text\":\"raw\"}],\"isError\":false}"
#define TWO_ITEMS                                                                                  \
    "{\"items\":[{\"data\":{\"id\":1,\"title\":\"public issue\"},\"labels\":{\"description\":"     \
    "\"public item\",\"secrecy\":[],\"integrity\":[]}},{\"data\":{\"id\":2,\"title\":\"secret\"},"  \
    "\"labels\":{\"description\":\"restricted item\",\"secrecy\":[\"private:restricted/repo\"],"   \
    "\"integrity\":[]}}]}"

/* §5 case 39 */
static void test_strict_mode_blocks_a_partly_denied_collection(void **state)
{
    fx_t *f = *state;
    given(f, ISSUES_RESULT, TWO_ITEMS);
    run(f, DIFC_OP_READ, DIFC_MODE_STRICT);
    assert_true(f->o.blocked);
    assert_int_equal(f->o.total, 2);
    assert_int_equal(f->o.n_filtered, 1);
    char *msg = difc_format_strict_block(&f->o, "agent-7");
    assert_string_equal(msg, "DIFC policy violation: 1 of 2 items in response are not accessible to agent agent-7");
    free(msg);
}

/* §5 case 40 */
static void test_filter_mode_partial_keeps_accessible_items_and_notice(void **state)
{
    fx_t *f = *state;
    given(f, ISSUES_RESULT, TWO_ITEMS);
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_false(f->o.blocked);
    assert_int_equal(f->o.accessible, 1);
    assert_int_equal(f->o.n_filtered, 1);
    assert_json_eq(f->o.result, "{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"id\\\":1,\\\"title\\\":"
                                "\\\"public issue\\\"}]\"}],\"isError\":false}");
    json_t *arr = J(content_text(f->o.result, 0));
    assert_json_eq(arr, "[{\"id\":1,\"title\":\"public issue\"}]");
    json_decref(arr);
    char *notice = difc_format_filter_notice(&f->o);
    assert_starts_with(notice, "[Filtered] 1 item(s) in this response were removed by secrecy policy and "
                               "are not shown: restricted item (");
    assert_string_equal(notice, "[Filtered] 1 item(s) in this response were removed by secrecy policy and "
                                "are not shown: restricted item (Resource 'restricted item' has secrecy "
                                "requirements that agent doesn't meet. The agent is not authorized to access "
                                "private (restricted/repo)-scoped data.).");
    free(notice);
    /* The filtered item's details, for the difc_filtered record. */
    assert_string_equal(f->o.filtered[0].description, "restricted item");
    assert_true(f->o.filtered[0].secrecy_violation);
    assert_tags(&f->o.filtered[0].labels.secrecy, "[private:restricted/repo]");
    assert_json_eq(f->o.filtered[0].data, "{\"id\":2,\"title\":\"secret\"}");
}

/* §5 case 41 */
static void test_single_item_read_tool_reports_the_item(void **state)
{
    fx_t *f = *state;
    given(f, ISSUES_RESULT,
          "{\"items\":[{\"data\":{\"number\":42},\"labels\":{\"description\":\"issue:org/repo#42\","
          "\"secrecy\":[\"private:org/repo\"],\"integrity\":[]}}]}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.accessible, 0);
    assert_int_equal(f->o.n_filtered, 1);
    assert_true(difc_is_singular_read_tool("issue_read"));
    char *msg = difc_format_filtered_single(&f->o);
    assert_starts_with(msg, "[Filtered] issue:org/repo#42 exists but is not accessible \xe2\x80\x94 "
                            "filtered by secrecy policy (");
    assert_contains(msg, "private (org/repo)-scoped data.)");
    free(msg);
    /* Under a list tool: success with [] plus the notice. */
    assert_false(difc_is_singular_read_tool("list_issues"));
    assert_false(difc_is_singular_read_tool("search_code"));
    assert_string_equal(content_text(f->o.result, 0), "[]");
    assert_true(json_is_false(json_object_get(f->o.result, "isError")));
    char *notice = difc_format_filter_notice(&f->o);
    assert_non_null(notice);
    free(notice);
}

static void test_filtered_single_without_description_says_resource(void **state)
{
    fx_t *f = *state;
    given(f, ISSUES_RESULT, "{\"items\":[{\"data\":1,\"labels\":{\"integrity\":[],\"secrecy\":[\"s\"]}}]}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    char *msg = difc_format_filtered_single(&f->o);
    assert_starts_with(msg, "[Filtered] resource exists but is not accessible");
    free(msg);
}

/* §5 case 42 */
static void test_everything_filtered_gives_empty_array_and_notice(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, NOTAGS, TAGS("approved:all"));
    given(f, ISSUES_RESULT, TWO_ITEMS);
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 2);
    assert_string_equal(content_text(f->o.result, 0), "[]");
    assert_string_equal(difc_filter_policy_name(&f->o), "integrity policy");
    char *notice = difc_format_filter_notice(&f->o);
    assert_starts_with(notice, "[Filtered] 2 item(s) in this response were removed by integrity policy and "
                               "are not shown: public item (Resource 'public item' has lower integrity");
    free(notice);

    /* An empty collection: [] and no notice. */
    given(f, "{\"content\":[{\"type\":\"text\",\"text\":\"[]\"}]}", "{\"labeled_paths\":[]}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.total, 0);
    assert_int_equal(f->o.n_filtered, 0);
    assert_null(difc_format_filter_notice(&f->o));
    assert_json_eq(f->o.result, "{\"content\":[{\"type\":\"text\",\"text\":\"[]\"}]}");
}

/* §5 case 38 departs (departure 1): a read denied at Phase 2 without
 * response labels is not passed through. */
static void test_denied_read_without_labels_is_not_passed_through(void **state)
{
    fx_t *f = *state;
    resource_of(&f->res, "repo some/repo", TAGS("private:some/repo"), NOTAGS);
    given(f, "{\"content\":[{\"type\":\"text\",\"text\":\"secret data\"}],\"isError\":false,"
             "\"structuredContent\":{\"s\":\"secret data\"}}", NULL);
    /* Phase 2 denies the read... */
    difc_eval_t ev;
    assert_true(difc_evaluate(&f->agent, &f->res, DIFC_OP_READ, DIFC_MODE_FILTER, &ev, NULL));
    assert_int_equal(ev.decision, DIFC_DENY);
    assert_false(difc_coarse_deny_is_final(DIFC_OP_READ));
    difc_eval_free(&ev);
    /* ...filter mode: nothing of it, and a notice. */
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_false(f->o.blocked);
    assert_int_equal(f->o.n_filtered, 1);
    assert_json_eq(f->o.result, "{\"content\":[{\"type\":\"text\",\"text\":\"[]\"}],\"isError\":false}");
    char *text = json_dumps(f->o.result, JSON_COMPACT);
    assert_null(strstr(text, "secret"));
    free(text);
    char *notice = difc_format_filter_notice(&f->o);
    assert_contains(notice, "repo some/repo (");
    free(notice);
    /* ...strict mode: the response is blocked. */
    run(f, DIFC_OP_READ, DIFC_MODE_STRICT);
    assert_true(f->o.blocked);
    /* An allowed read without labels passes unchanged. */
    labels_of(&f->agent, TAGS("private:some/repo"), NOTAGS);
    run(f, DIFC_OP_READ, DIFC_MODE_STRICT);
    assert_int_equal(f->o.n_filtered, 0);
    assert_true(json_equal(f->o.result, f->result));
}

/* §5 case 43 with the registry: propagate accumulates the Phase 1 labels
 * when there are no response labels; write and filter mode add nothing. */
static void test_propagate_accumulates_read_labels(void **state)
{
    fx_t *f = *state;
    difc_agents_t *reg = difc_agents_new();
    resource_of(&f->res, "repo org/repo", TAGS("private:org/repo"), NOTAGS);
    given(f, ISSUES_RESULT, NULL);
    assert_true(difc_agents_snapshot(reg, "s", &f->agent, NULL));
    run(f, DIFC_OP_READ, DIFC_MODE_PROPAGATE);
    assert_int_equal(f->o.n_filtered, 0);
    assert_true(json_equal(f->o.result, f->result));
    assert_true(difc_should_accumulate(DIFC_OP_READ, DIFC_MODE_PROPAGATE));
    assert_true(difc_agents_accumulate_read(reg, "s", &f->o.read_labels, NULL));
    difc_labels_t got;
    assert_true(difc_agents_snapshot(reg, "s", &got, NULL));
    assert_true(difc_tagset_contains(&got.secrecy, "private:org/repo"));
    difc_labels_free(&got);
    assert_false(difc_should_accumulate(DIFC_OP_WRITE, DIFC_MODE_PROPAGATE));
    assert_false(difc_should_accumulate(DIFC_OP_READ, DIFC_MODE_FILTER));
    difc_agents_free(reg);
}

/* The collection rule (filter.c): secrecy is the union, integrity the
 * intersection of the labelled items (upstream: union). */
static void test_read_labels_intersect_item_integrity(void **state)
{
    fx_t *f = *state;
    given(f, "[1,2,3]",
          "{\"labeled_paths\":[{\"path\":\"/0\",\"labels\":{\"secrecy\":[\"private:a\"],"
          "\"integrity\":[\"approved:all\",\"none:all\"]}},{\"path\":\"/1\",\"labels\":{\"secrecy\":[\"private:b\"],"
          "\"integrity\":[\"none:all\"]}}]}");
    run(f, DIFC_OP_READ, DIFC_MODE_PROPAGATE);
    /* Item 2 is unlabelled: denied, and it adds nothing. */
    assert_int_equal(f->o.n_filtered, 1);
    assert_json_eq(f->o.result, "[1,2]");
    assert_tags(&f->o.read_labels.secrecy, "[private:a private:b]");
    assert_tags(&f->o.read_labels.integrity, "[none:all]");
}

/* Departure 8: items removed in place; envelope, other keys, isError kept. */
static void test_path_format_removes_items_in_place_keeping_shape(void **state)
{
    fx_t *f = *state;
    const char *inner = "{\"total_count\":3,\"items\":[{\"id\":1},{\"id\":2},{\"id\":3}],\"incomplete\":false}";
    json_t *wrapper = json_pack("{s:[{s:s,s:s},{s:s,s:s}],s:b,s:{s:i},s:o}", "content", "type", "text",
                                "text", inner, "type", "image", "data", "AAAA", "isError", 1,
                                "structuredContent", "total_count", 3, "_meta", json_pack("{s:s}", "k", "v"));
    char *wtext = json_dumps(wrapper, JSON_COMPACT);
    json_decref(wrapper);
    given(f, wtext,
          "{\"labeled_paths\":[{\"path\":\"/items/1\",\"labels\":{\"description\":\"#2\",\"secrecy\":[\"private:x\"]}}],"
          "\"default_labels\":{\"description\":\"public\"},\"items_path\":\"/items\"}");
    free(wtext);
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 1);
    assert_string_equal(f->o.filtered[0].description, "#2");
    /* isError and _meta kept, content is the single text item with the
     * items removed in place, total_count and incomplete kept; the image
     * and structuredContent (which could carry the removed item) dropped. */
    assert_true(json_is_true(json_object_get(f->o.result, "isError")));
    assert_json_eq(json_object_get(f->o.result, "_meta"), "{\"k\":\"v\"}");
    assert_null(json_object_get(f->o.result, "structuredContent"));
    assert_int_equal(json_array_size(json_object_get(f->o.result, "content")), 1);
    json_t *got = J(content_text(f->o.result, 0));
    assert_json_eq(got, "{\"total_count\":3,\"items\":[{\"id\":1},{\"id\":3}],\"incomplete\":false}");
    json_decref(got);

    /* Nothing filtered: the backend result, byte for byte the same value. */
    labels_of(&f->agent, TAGS("private:x"), NOTAGS);
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 0);
    assert_true(json_equal(f->o.result, f->result));
}

static void test_plain_json_result_filtered_in_place(void **state)
{
    fx_t *f = *state;
    given(f, "{\"data\":{\"nodes\":[{\"n\":1},{\"n\":2}]},\"extra\":\"kept\"}",
          "{\"labeled_paths\":[{\"path\":\"/data/nodes/0\",\"labels\":{\"integrity\":[\"none:all\"]}},"
          "{\"path\":\"/data/nodes/1\",\"labels\":{\"integrity\":[]}}],\"items_path\":\"/data/nodes\"}");
    labels_of(&f->agent, NOTAGS, TAGS("none:all"));
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_json_eq(f->o.result, "{\"data\":{\"nodes\":[{\"n\":1}]},\"extra\":\"kept\"}");
    assert_string_equal(difc_filter_policy_name(&f->o), "integrity policy");
}

/* Departure 2: an item without labels is denied. */
static void test_unlabelled_item_is_denied(void **state)
{
    fx_t *f = *state;
    given(f, ISSUES_RESULT, "{\"items\":[{\"data\":{\"id\":1}},{\"data\":{\"id\":2},\"labels\":{}}]}");
    for (int m = DIFC_MODE_STRICT; m <= DIFC_MODE_PROPAGATE; m++) {
        run(f, DIFC_OP_READ, (difc_mode_t)m);
        assert_int_equal(f->o.n_filtered, 1);
        assert_int_equal(f->o.accessible, 1);
        assert_contains(f->o.filtered[0].reason, "no DIFC labels");
        assert_false(f->o.filtered[0].secrecy_violation);
    }
    assert_string_equal(content_text(f->o.result, 0), "[{\"id\":2}]");
}

/* §4 step 17: list only up to 5 items; the policy name by violation kinds. */
static void test_notice_forms_and_policy_names(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, NOTAGS, TAGS("approved:all"));
    given(f, "[1,2,3,4,5,6]",
          "{\"labeled_paths\":[{\"path\":\"/0\",\"labels\":{\"secrecy\":[\"s\"],\"integrity\":[\"approved:all\"]}}],"
          "\"default_labels\":{\"integrity\":[]}}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 6);
    assert_string_equal(difc_filter_policy_name(&f->o), "access policy");
    char *notice = difc_format_filter_notice(&f->o);
    assert_string_equal(notice, "[Filtered] 6 item(s) in this response were removed by access policy and are not shown.");
    free(notice);
    assert_json_eq(f->o.result, "[]");
}

/* §4.1: the difc_filtered record. */
static void test_filtered_record_fields(void **state)
{
    fx_t *f = *state;
    given(f, "[]", "{\"items\":["
          "{\"data\":{\"authorAssociation\":\"MEMBER\",\"user\":{\"login\":\"\"},\"author\":{\"login\":\"bob\"},"
          "\"htmlUrl\":\"https://x/1\",\"number\":42.0,\"sha\":\"abc\"},"
          "\"labels\":{\"description\":\"d\",\"secrecy\":[\"private:b\",\"private:a\"],\"integrity\":[\"none:all\"]}},"
          "{\"data\":{\"author_association\":\"NONE\",\"user\":{\"login\":\"al\"},\"html_url\":\"u\",\"number\":1.5},"
          "\"labels\":{\"secrecy\":[\"x\"]}},"
          "{\"data\":\"scalar\",\"labels\":{\"secrecy\":[\"x\"]}}]}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 3);
    json_t *r = difc_filtered_record(&f->o.filtered[0], "github", "list_issues", "2026-01-01T00:00:00.000Z");
    json_t *want = J("{\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"event\":\"difc_filtered\","
                     "\"_schema\":\"difc-filtered/v2\",\"server_id\":\"github\",\"tool_name\":\"list_issues\","
                     "\"description\":\"d\",\"secrecy_tags\":[\"private:a\",\"private:b\"],"
                     "\"integrity_tags\":[\"none:all\"],\"author_association\":\"MEMBER\","
                     "\"author_login\":\"bob\",\"html_url\":\"https://x/1\",\"number\":\"42\",\"sha\":\"abc\"}");
    json_object_set(want, "reason", json_object_get(r, "reason"));
    assert_true(json_equal(r, want));
    assert_contains(json_string_value(json_object_get(r, "reason")), "secrecy requirements");
    json_decref(want);
    json_decref(r);
    r = difc_filtered_record(&f->o.filtered[1], "github", "t", "ts");
    assert_string_equal(json_string_value(json_object_get(r, "author_association")), "NONE");
    assert_string_equal(json_string_value(json_object_get(r, "author_login")), "al");
    assert_string_equal(json_string_value(json_object_get(r, "html_url")), "u");
    assert_null(json_object_get(r, "number")); /* not integral */
    assert_null(json_object_get(r, "sha"));
    json_decref(r);
    r = difc_filtered_record(&f->o.filtered[2], "github", "t", "ts");
    assert_null(json_object_get(r, "author_login"));
    assert_string_equal(json_string_value(json_object_get(r, "description")), "");
    json_decref(r);
}

/* Re-serialised text keeps numbers readable and exact, and an inner text
 * with integers beyond 64 bits is still unwrapped (not "not JSON"). */
static void test_rewritten_text_keeps_numbers(void **state)
{
    fx_t *f = *state;
    given(f, "{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"v\\\":0.1,\\\"w\\\":1.1,\\\"n\\\":7,"
             "\\\"pi\\\":3.141592653589793},{\\\"v\\\":2}]\"}]}",
          "{\"labeled_paths\":[{\"path\":\"/1\",\"labels\":{\"secrecy\":[\"s\"]}}],\"default_labels\":{}}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 1);
    assert_string_equal(content_text(f->o.result, 0), "[{\"v\":0.1,\"w\":1.1,\"n\":7,\"pi\":3.141592653589793}]");

    given(f, "{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"id\\\":123456789012345678901234},{\\\"id\\\":2}]\"}]}",
          "{\"labeled_paths\":[{\"path\":\"/0\",\"labels\":{\"secrecy\":[\"s\"]}}],\"default_labels\":{}}");
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.total, 2);
    assert_int_equal(f->o.n_filtered, 1);
    assert_string_equal(content_text(f->o.result, 0), "[{\"id\":2}]");
}

/* Legacy items whose elements are all dropped label nothing: nothing of
 * the result passes. No resource at all: the result is denied. */
static void test_nothing_labelled_passes_nothing(void **state)
{
    fx_t *f = *state;
    given(f, ISSUES_RESULT, "{\"items\":[1,\"x\"]}");
    assert_int_equal(f->rl.kind, DIFC_RESPONSE_ITEMS);
    run(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->o.total, 0);
    assert_string_equal(content_text(f->o.result, 0), "[]");

    given(f, ISSUES_RESULT, NULL);
    err_t err = {0};
    difc_filter_outcome_free(&f->o);
    assert_true(difc_filter_response(&f->agent, DIFC_OP_READ, DIFC_MODE_FILTER, NULL, NULL, f->result, &f->o, &err));
    assert_int_equal(f->o.n_filtered, 1);
    assert_string_equal(content_text(f->o.result, 0), "[]");
}

/* A write reaching Phase 5 (allowed at Phase 2) passes unchanged. */
static void test_allowed_write_passes_unchanged(void **state)
{
    fx_t *f = *state;
    resource_of(&f->res, "sink", TAGS("*"), NOTAGS);
    labels_of(&f->agent, TAGS("private:x"), NOTAGS);
    given(f, ISSUES_RESULT, NULL);
    run(f, DIFC_OP_WRITE, DIFC_MODE_FILTER);
    assert_int_equal(f->o.n_filtered, 0);
    assert_true(json_equal(f->o.result, f->result));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_strict_mode_blocks_a_partly_denied_collection),
        T(test_filter_mode_partial_keeps_accessible_items_and_notice),
        T(test_single_item_read_tool_reports_the_item),
        T(test_filtered_single_without_description_says_resource),
        T(test_everything_filtered_gives_empty_array_and_notice),
        T(test_denied_read_without_labels_is_not_passed_through),
        T(test_propagate_accumulates_read_labels),
        T(test_read_labels_intersect_item_integrity),
        T(test_path_format_removes_items_in_place_keeping_shape),
        T(test_plain_json_result_filtered_in_place),
        T(test_unlabelled_item_is_denied),
        T(test_notice_forms_and_policy_names),
        T(test_filtered_record_fields),
        T(test_rewritten_text_keeps_numbers),
        T(test_nothing_labelled_passes_nothing),
        T(test_allowed_write_passes_unchanged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
