/*
 * test_collection.c — resolving path labels and items against the backend
 * result (spec §2.4; §5 cases 26–29; departure 2 for unlabelled items).
 */
#include "difc_test.h"
#include "difc/difc_internal.h"

static void parse_rl(const char *text, difc_response_labels_t *rl)
{
    err_t err = {0};
    if (!difc_response_labels_parse(text, strlen(text), rl, &err))
        fail_msg("parse: %s", err.msg);
}

#define WRAPPED_TWO "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"items\\\":[{\\\"id\\\":1},{\\\"id\\\":2}]}\"}]}"

/* §5 case 26 */
static void test_path_labels_over_mcp_wrapped_data(void **state)
{
    (void)state;
    json_t *result = J(WRAPPED_TWO);
    difc_response_labels_t rl;
    parse_rl("{\"labeled_paths\":[{\"path\":\"/items/0\",\"labels\":{\"description\":\"first\","
             "\"secrecy\":[\"private:o/r\"],\"integrity\":[\"approved:o/r\"]}}],"
             "\"default_labels\":{\"description\":\"D\",\"secrecy\":[],\"integrity\":[\"none:all\"]},"
             "\"items_path\":\"/items\"}", &rl);
    difc_collection_t c;
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 2);
    assert_false(c.whole);
    assert_json_eq(c.items[0].data, "{\"id\":1}");
    assert_true(c.items[0].has_labels);
    assert_string_equal(difc_resource_description(&c.items[0].labels), "first");
    assert_tags(&c.items[0].labels.labels.secrecy, "[private:o/r]");
    assert_json_eq(c.items[1].data, "{\"id\":2}");
    assert_true(c.items[1].has_labels);
    assert_string_equal(difc_resource_description(&c.items[1].labels), "D");
    assert_tags(&c.items[1].labels.labels.integrity, "[none:all]");
    difc_collection_free(&c);
    difc_response_labels_free(&rl);

    /* Without defaults: the second item is "unlabeled" with empty labels,
     * and Flowgate marks it unlabelled (denied when filtered). */
    parse_rl("{\"labeled_paths\":[{\"path\":\"/items/0\",\"labels\":{\"secrecy\":[],\"integrity\":[]}}],"
             "\"items_path\":\"/items\"}", &rl);
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 2);
    assert_true(c.items[0].has_labels);
    assert_false(c.items[1].has_labels);
    assert_string_equal(difc_resource_description(&c.items[1].labels), "unlabeled");
    assert_int_equal(c.items[1].labels.labels.secrecy.len, 0);
    assert_int_equal(c.items[1].labels.labels.integrity.len, 0);
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    json_decref(result);
}

/* §5 case 27 */
static void test_path_index_resolution_details(void **state)
{
    (void)state;
    assert_int_equal(difc_path_item_index("/other/0", "/items"), -1);
    assert_int_equal(difc_path_item_index("items3", "items"), -1);     /* does not match items path */
    assert_int_equal(difc_path_item_index("", ""), -1);                /* no index in path */
    assert_int_equal(difc_path_item_index("items/3", "items"), 3);
    assert_int_equal(difc_path_item_index("/items/3/title", "/items"), 3); /* deeper labels item 3 */
    assert_int_equal(difc_path_item_index("/7", ""), 7);
    assert_int_equal(difc_path_item_index("/x", ""), -1);
    assert_int_equal(difc_path_item_index("/items/-1", "/items"), -1);
    assert_int_equal(difc_path_item_index("/a~1b/2", "/a~1b"), 2);
    assert_int_equal(difc_path_item_index("/items", "/items"), -1);

    /* In a resolution: unmatched, out-of-range and negative entries are
     * skipped; the later of two entries for one index wins. */
    json_t *result = J("[{\"n\":0},{\"n\":1}]");
    difc_response_labels_t rl;
    parse_rl("{\"labeled_paths\":[{\"path\":\"/other/0\",\"labels\":{\"description\":\"other\"}},"
             "{\"path\":\"/1\",\"labels\":{\"description\":\"early\"}},"
             "{\"path\":\"/9\",\"labels\":{\"description\":\"oob\"}},"
             "{\"path\":\"/-1\",\"labels\":{\"description\":\"neg\"}},"
             "{\"path\":\"/1\",\"labels\":{\"description\":\"late\"}}],"
             "\"default_labels\":{\"description\":\"dflt\"}}", &rl);
    difc_collection_t c;
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 2);
    assert_string_equal(difc_resource_description(&c.items[0].labels), "dflt");
    assert_string_equal(difc_resource_description(&c.items[1].labels), "late");
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    json_decref(result);
}

static void expect_resolve_error(const char *result_text, const char *rl_text, const char *want)
{
    json_t *result = J(result_text);
    difc_response_labels_t rl;
    parse_rl(rl_text, &rl);
    difc_collection_t c;
    err_t err = {0};
    assert_false(difc_collection_resolve(&rl, result, &c, &err));
    assert_string_equal(err.msg, want);
    assert_null(c.root);
    difc_response_labels_free(&rl);
    json_decref(result);
}

/* §5 case 28 and the other navigation errors of §2.4. */
static void test_path_navigation_failures(void **state)
{
    (void)state;
    expect_resolve_error(WRAPPED_TWO, "{\"labeled_paths\":[],\"items_path\":\"/missing\"}",
                         "failed to resolve path labels: path \"/missing\" not found in response");
    expect_resolve_error("{\"items\":{\"a\":1}}", "{\"labeled_paths\":[],\"items_path\":\"/items\"}",
                         "failed to resolve path labels: items_path \"/items\" does not point to an array");
    expect_resolve_error("{\"a\":[[1]]}", "{\"labeled_paths\":[],\"items_path\":\"/a/x\"}",
                         "failed to resolve path labels: expected array index at \"/a/x\", got \"x\"");
    expect_resolve_error("{\"a\":[[1]]}", "{\"labeled_paths\":[],\"items_path\":\"/a/4\"}",
                         "failed to resolve path labels: array index 4 out of bounds");
    expect_resolve_error("{\"a\":\"s\"}", "{\"labeled_paths\":[],\"items_path\":\"/a/b\"}",
                         "failed to resolve path labels: cannot navigate path \"/a/b\": unexpected type at \"b\"");

    /* Through the filter, the pipeline's message gains its prefix (§5 28). */
    json_t *result = J(WRAPPED_TWO);
    difc_response_labels_t rl;
    parse_rl("{\"labeled_paths\":[],\"items_path\":\"/missing\"}", &rl);
    difc_labels_t agent = {0};
    difc_resource_t res = {0};
    difc_filter_outcome_t o;
    err_t err = {0};
    assert_false(difc_filter_response(&agent, DIFC_OP_READ, DIFC_MODE_FILTER, &res, &rl, result, &o, &err));
    assert_string_equal(err.msg, "failed to apply path labels: failed to resolve path labels: path "
                                 "\"/missing\" not found in response");
    assert_null(o.result);
    difc_response_labels_free(&rl);
    json_decref(result);
}

/* Navigation through nested objects and arrays, with escaped keys. */
static void test_items_path_walks_objects_and_arrays(void **state)
{
    (void)state;
    json_t *result = J("{\"data\":{\"search\":{\"nodes\":[{\"a\":1}]}},\"x/y\":[[{\"b\":2},{\"b\":3}]]}");
    difc_response_labels_t rl;
    parse_rl("{\"labeled_paths\":[],\"items_path\":\"/data/search/nodes\",\"default_labels\":{}}", &rl);
    difc_collection_t c;
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 1);
    assert_json_eq(c.items[0].data, "{\"a\":1}");
    assert_null(c.unwrapped);
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    parse_rl("{\"labeled_paths\":[{\"path\":\"/x~1y/0/1\",\"labels\":{\"description\":\"hit\"}}],"
             "\"items_path\":\"x~1y/0\"}", &rl);
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 2);
    assert_false(c.items[0].has_labels);
    assert_string_equal(difc_resource_description(&c.items[1].labels), "hit");
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    json_decref(result);
}

/* §5 case 29 */
static void test_single_object_is_one_item_with_the_whole_wrapper(void **state)
{
    (void)state;
    const char *wrapped = "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"number\\\":42}\"}],\"isError\":false}";
    json_t *result = J(wrapped);
    difc_response_labels_t rl;
    parse_rl("{\"labeled_paths\":[{\"path\":\"/0\",\"labels\":{\"description\":\"ignored\"}}],"
             "\"default_labels\":{\"description\":\"D\",\"secrecy\":[\"private:o/r\"]}}", &rl);
    difc_collection_t c;
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 1);
    assert_true(c.whole);
    assert_json_eq(c.items[0].data, wrapped);
    assert_string_equal(difc_resource_description(&c.items[0].labels), "D");
    assert_tags(&c.items[0].labels.labels.secrecy, "[private:o/r]");
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    json_decref(result);
}

/* §2.4 step 1: text of every text-like item is concatenated; image, audio
 * and resource items are skipped; non-JSON text leaves the result as is. */
static void test_mcp_unwrap_concatenates_text_items(void **state)
{
    (void)state;
    json_t *result = J("{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"id\\\":1},\"},"
                       "{\"type\":\"image\",\"data\":\"AAAA\",\"text\":\"ignored\"},"
                       "{\"text\":\"{\\\"id\\\":2}]\"}]}");
    difc_response_labels_t rl;
    parse_rl("{\"labeled_paths\":[],\"default_labels\":{}}", &rl);
    difc_collection_t c;
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 2);
    assert_json_eq(c.items[1].data, "{\"id\":2}");
    assert_non_null(c.unwrapped);
    difc_collection_free(&c);
    json_decref(result);
    result = J("{\"content\":[{\"type\":\"text\",\"text\":\"not json\"}]}");
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_int_equal(c.n_items, 1);
    assert_true(c.whole);
    assert_null(c.unwrapped);
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    json_decref(result);
}

static void test_items_format_recognises_the_whole_result(void **state)
{
    (void)state;
    json_t *result = J("{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}");
    difc_response_labels_t rl;
    parse_rl("{\"items\":[{\"data\":{\"content\":[{\"type\":\"text\",\"text\":\"x\"}]},\"labels\":{}}]}", &rl);
    difc_collection_t c;
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_true(c.from_items);
    assert_true(c.whole);
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    parse_rl("{\"items\":[{\"data\":{\"id\":1},\"labels\":{}},{\"data\":{\"id\":2}}]}", &rl);
    assert_true(difc_collection_resolve(&rl, result, &c, NULL));
    assert_false(c.whole);
    assert_int_equal(c.n_items, 2);
    assert_true(c.items[0].has_labels);
    assert_false(c.items[1].has_labels);
    difc_collection_free(&c);
    difc_response_labels_free(&rl);
    json_decref(result);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_labels_over_mcp_wrapped_data),
        cmocka_unit_test(test_path_index_resolution_details),
        cmocka_unit_test(test_path_navigation_failures),
        cmocka_unit_test(test_items_path_walks_objects_and_arrays),
        cmocka_unit_test(test_single_object_is_one_item_with_the_whole_wrapper),
        cmocka_unit_test(test_mcp_unwrap_concatenates_text_items),
        cmocka_unit_test(test_items_format_recognises_the_whole_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
