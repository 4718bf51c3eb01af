/*
 * test_guard_output.c — parsing label_agent, label_resource and
 * label_response output (spec §2.2–§2.4; §5 cases 18–20, 24, 25).
 */
#include "difc_test.h"

static bool agent_parse(const char *text, difc_agent_result_t *r, err_t *err)
{
    return difc_agent_result_parse(text, strlen(text), r, err);
}

static void expect_agent_error(const char *text, const char *want_prefix)
{
    difc_agent_result_t r;
    err_t err = {0};
    assert_false(agent_parse(text, &r, &err));
    assert_starts_with(err.msg, want_prefix);
    assert_null(r.normalized_policy);
    assert_int_equal(r.labels.secrecy.len, 0);
}

/* §5 case 18 */
static void test_label_agent_success_false(void **state)
{
    (void)state;
    difc_agent_result_t r;
    err_t err = {0};
    assert_false(agent_parse("{\"success\":false,\"error\":\"policy validation failed\"}", &r, &err));
    assert_string_equal(err.msg, "label_agent rejected policy: policy validation failed");
    assert_false(agent_parse("{\"ok\":false}", &r, &err));
    assert_string_equal(err.msg, "label_agent returned non-success status");
    assert_false(agent_parse("{\"success\":false,\"error\":\"  \"}", &r, &err));
    assert_string_equal(err.msg, "label_agent returned non-success status");
}

/* §5 case 19 */
static void test_label_agent_error_field(void **state)
{
    (void)state;
    difc_agent_result_t r;
    err_t err = {0};
    assert_false(agent_parse("{\"error\":\"unexpected guard failure\",\"difc_mode\":\"strict\"}", &r, &err));
    assert_string_equal(err.msg, "label_agent returned error: unexpected guard failure");
    assert_true(agent_parse("{\"error\":\"\",\"agent\":{\"secrecy\":[\" private:o/r \",\"\"],"
                            "\"integrity\":[\"none:all\"]},\"difc_mode\":\"strict\"}", &r, &err));
    assert_int_equal(r.mode, DIFC_MODE_STRICT);
    assert_tags(&r.labels.secrecy, "[private:o/r]");
    assert_tags(&r.labels.integrity, "[none:all]");
    difc_agent_result_free(&r);
}

/* §5 case 20 */
static void test_label_agent_difc_mode(void **state)
{
    (void)state;
    expect_agent_error("{\"agent\":{}}", "label_agent response missing difc_mode");
    expect_agent_error("{\"difc_mode\":\"\"}", "label_agent response missing difc_mode");
    expect_agent_error("{\"difc_mode\":\"   \"}", "label_agent response missing difc_mode");
    expect_agent_error("{\"difc_mode\":\"invalid-mode\"}",
                       "invalid difc_mode from label_agent: unknown enforcement mode: invalid-mode "
                       "(valid modes: strict, filter, propagate)");
    expect_agent_error("{\"difc_mode\":\" strict \"}", "invalid difc_mode from label_agent");
    expect_agent_error("{\"difc_mode\":42}", "failed to decode label_agent response");
    expect_agent_error("{\"difc_mode\":\"filter\",\"agent\":{\"secrecy\":[1]}}",
                       "failed to decode label_agent response");
    expect_agent_error("{\"difc_mode\":\"filter\",\"agent\":[]}", "failed to decode label_agent response");
    difc_agent_result_t r;
    assert_true(agent_parse("{\"difc_mode\":\"STRICT\",\"error\":5}", &r, NULL));
    assert_int_equal(r.mode, DIFC_MODE_STRICT);
    difc_agent_result_free(&r);
    assert_true(agent_parse("{\"difc_mode\":\"Propagate\",\"normalized_policy\":{\"scope_kind\":\"All\"},"
                            "\"extra\":true}", &r, NULL));
    assert_int_equal(r.mode, DIFC_MODE_PROPAGATE);
    assert_json_eq(r.normalized_policy, "{\"scope_kind\":\"All\"}");
    difc_agent_result_free(&r);
}

static void test_label_agent_bytes_must_be_an_object(void **state)
{
    (void)state;
    difc_agent_result_t r;
    err_t err = {0};
    assert_false(difc_agent_result_parse("", 0, &r, &err));
    assert_string_equal(err.msg, "label_agent returned empty response");
    expect_agent_error("not json", "failed to unmarshal label_agent response: ");
    expect_agent_error("[1,2]", "failed to unmarshal label_agent response: ");
    /* Only the reported length counts, not a terminator. */
    const char buf[] = "{\"difc_mode\":\"filter\"}garbage";
    assert_true(difc_agent_result_parse(buf, 22, &r, &err));
    assert_int_equal(r.mode, DIFC_MODE_FILTER);
    difc_agent_result_free(&r);
}

static bool res_parse(const char *text, difc_resource_t *res, difc_op_t *op, err_t *err)
{
    return difc_resource_result_parse(text, strlen(text), res, op, err);
}

/* §5 case 24 */
static void test_label_resource_operation_and_shape(void **state)
{
    (void)state;
    difc_resource_t res;
    difc_op_t op = DIFC_OP_READ;
    err_t err = {0};
    const char *write_ops[] = {"{\"resource\":{},\"operation\":\"READ\"}",
                               "{\"resource\":{},\"operation\":\"\"}", "{\"resource\":{}}",
                               "{\"resource\":{},\"operation\":7}"};
    for (size_t i = 0; i < 4; i++) {
        assert_true(res_parse(write_ops[i], &res, &op, &err));
        assert_int_equal(op, DIFC_OP_WRITE);
        difc_resource_free(&res);
    }
    assert_true(res_parse("{\"resource\":{},\"operation\":\"read-write\"}", &res, &op, &err));
    assert_int_equal(op, DIFC_OP_READ_WRITE);
    difc_resource_free(&res);
    const char *bad[] = {"{\"operation\":\"read\"}", "{\"resource\":\"x\",\"operation\":\"read\"}",
                         "{\"resource\":[],\"operation\":\"read\"}", "{\"resource\":1,\"operation\":\"read\"}",
                         "{\"resource\":null,\"operation\":\"read\"}"};
    for (size_t i = 0; i < 5; i++) {
        op = DIFC_OP_READ;
        assert_false(res_parse(bad[i], &res, &op, &err));
        assert_string_equal(err.msg, "invalid resource format in guard response");
        assert_int_equal(op, DIFC_OP_WRITE);
    }
    assert_false(difc_resource_result_parse("", 0, &res, &op, &err));
    assert_starts_with(err.msg, "failed to unmarshal label_resource WASM response: ");
}

static void test_label_resource_labels_are_lenient(void **state)
{
    (void)state;
    difc_resource_t res;
    difc_op_t op;
    assert_true(res_parse("{\"resource\":{\"description\":\"repo o/r\",\"secrecy\":[\"private:o/r\",3,null],"
                          "\"integrity\":\"approved\"},\"operation\":\"read\"}", &res, &op, NULL));
    assert_int_equal(op, DIFC_OP_READ);
    assert_string_equal(difc_resource_description(&res), "repo o/r");
    assert_tags(&res.labels.secrecy, "[private:o/r]");
    assert_int_equal(res.labels.integrity.len, 0);
    difc_resource_free(&res);
    assert_true(res_parse("{\"resource\":{\"description\":5,\"secrecy\":[\" spaced \"]},\"operation\":\"read\"}",
                          &res, &op, NULL));
    assert_string_equal(difc_resource_description(&res), "");
    assert_true(difc_tagset_contains(&res.labels.secrecy, " spaced ")); /* not trimmed */
    difc_resource_free(&res);
}

static bool resp_parse(const char *text, difc_response_labels_t *rl, err_t *err)
{
    return difc_response_labels_parse(text, strlen(text), rl, err);
}

/* §5 case 25 */
static void test_label_response_nil_cases(void **state)
{
    (void)state;
    difc_response_labels_t rl;
    err_t err = {0};
    assert_true(difc_response_labels_parse("", 0, &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_NONE);
    const char *nil[] = {"{}", "{\"items\":[]}", "{\"items\":{}}", "{\"other\":1}"};
    for (size_t i = 0; i < 4; i++) {
        assert_true(resp_parse(nil[i], &rl, &err));
        assert_int_equal(rl.kind, DIFC_RESPONSE_NONE);
        difc_response_labels_free(&rl);
    }
    assert_false(difc_response_labels_from_json(NULL, &rl, &err)); /* no value at all */
    assert_starts_with(err.msg, "failed to unmarshal label_response WASM response: ");
    assert_false(resp_parse("[1]", &rl, &err));
    assert_starts_with(err.msg, "failed to unmarshal label_response WASM response: ");
    assert_false(resp_parse("{bad", &rl, &err));
    assert_starts_with(err.msg, "failed to unmarshal label_response WASM response: ");
}

static void test_label_response_items_format(void **state)
{
    (void)state;
    difc_response_labels_t rl;
    assert_true(resp_parse("{\"items\":[1,\"x\",{\"data\":{\"id\":1},\"labels\":{\"description\":\"a\","
                           "\"secrecy\":[\"private:o/r\"],\"integrity\":[\"none:all\"]}},{\"data\":2},"
                           "{\"labels\":\"bad\"}]}", &rl, NULL));
    assert_int_equal(rl.kind, DIFC_RESPONSE_ITEMS);
    assert_int_equal(rl.n_items, 3);
    assert_json_eq(rl.items[0].data, "{\"id\":1}");
    assert_true(rl.items[0].has_labels);
    assert_string_equal(difc_resource_description(&rl.items[0].labels), "a");
    assert_tags(&rl.items[0].labels.labels.secrecy, "[private:o/r]");
    assert_json_eq(rl.items[1].data, "2");
    assert_false(rl.items[1].has_labels);
    assert_true(json_is_null(rl.items[2].data));
    assert_false(rl.items[2].has_labels);
    difc_response_labels_free(&rl);
}

static void test_label_response_path_format(void **state)
{
    (void)state;
    difc_response_labels_t rl;
    err_t err = {0};
    assert_true(resp_parse("{\"labeled_paths\":null}", &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 0);
    assert_false(rl.has_default);
    difc_response_labels_free(&rl);

    assert_true(resp_parse("{\"labeled_paths\":[{\"path\":\"/items/0\",\"labels\":{\"description\":\"d\","
                           "\"secrecy\":[\"s\"],\"integrity\":[\"i\"]}}],\"default_labels\":{\"secrecy\":[],"
                           "\"integrity\":[\"none:all\"]},\"items_path\":\"/items\",\"items\":[1]}", &rl, &err));
    assert_int_equal(rl.kind, DIFC_RESPONSE_PATHS);
    assert_int_equal(rl.n_paths, 1);
    assert_string_equal(rl.paths[0].path, "/items/0");
    assert_string_equal(difc_resource_description(&rl.paths[0].labels), "d");
    assert_tags(&rl.paths[0].labels.labels.integrity, "[i]");
    assert_true(rl.has_default);
    assert_tags(&rl.default_labels.labels.integrity, "[none:all]");
    assert_string_equal(rl.items_path, "/items");
    difc_response_labels_free(&rl);

    const char *bad[] = {"{\"labeled_paths\":{}}", "{\"labeled_paths\":[1]}",
                         "{\"labeled_paths\":[{\"path\":3}]}",
                         "{\"labeled_paths\":[{\"path\":\"/0\",\"labels\":{\"secrecy\":[1]}}]}",
                         "{\"labeled_paths\":[],\"items_path\":5}",
                         "{\"labeled_paths\":[],\"default_labels\":\"x\"}"};
    for (size_t i = 0; i < 6; i++) {
        assert_false(resp_parse(bad[i], &rl, &err));
        assert_starts_with(err.msg, "failed to parse path labels: failed to parse path labels: ");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_agent_success_false),
        cmocka_unit_test(test_label_agent_error_field),
        cmocka_unit_test(test_label_agent_difc_mode),
        cmocka_unit_test(test_label_agent_bytes_must_be_an_object),
        cmocka_unit_test(test_label_resource_operation_and_shape),
        cmocka_unit_test(test_label_resource_labels_are_lenient),
        cmocka_unit_test(test_label_response_nil_cases),
        cmocka_unit_test(test_label_response_items_format),
        cmocka_unit_test(test_label_response_path_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
