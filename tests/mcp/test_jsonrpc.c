/* JSON-RPC 2.0 classification and builders (mcp.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include <stdlib.h>

#include "mcp/mcp.h"

static mcp_parse_status_t parse(const char *s, mcp_msg_t *m)
{
    err_t e = {{0}};
    return mcp_jsonrpc_parse(s, strlen(s), m, &e);
}

static void test_request_is_classified_with_id_method_params(void **state)
{
    (void)state;
    mcp_msg_t m;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}", &m),
                     MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_REQUEST);
    assert_int_equal(json_integer_value(m.id), 7);
    assert_string_equal(m.method, "tools/call");
    assert_string_equal(json_string_value(json_object_get(m.params, "name")), "x");
    mcp_msg_free(&m);
    assert_null(m.root);
}

static void test_string_id_request_and_notification(void **state)
{
    (void)state;
    mcp_msg_t m;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}", &m), MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_REQUEST);
    assert_string_equal(json_string_value(m.id), "abc");
    assert_null(m.params);
    mcp_msg_free(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m), MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_NOTIFICATION);
    assert_null(m.id);
    mcp_msg_free(&m);
}

static void test_response_and_error_are_classified(void **state)
{
    (void)state;
    mcp_msg_t m;
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"ok\":true}}", &m), MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_RESPONSE);
    assert_true(json_is_true(json_object_get(m.result, "ok")));
    mcp_msg_free(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"Parse error\","
                           "\"data\":[1]}}",
                           &m),
                     MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_ERROR);
    assert_int_equal(m.error_code, -32700);
    assert_string_equal(m.error_message, "Parse error");
    assert_true(json_is_array(m.error_data));
    assert_true(json_is_null(m.id));
    mcp_msg_free(&m);
}

static void test_non_json_is_a_parse_error(void **state)
{
    (void)state;
    mcp_msg_t m;
    err_t e = {{0}};
    assert_int_equal(mcp_jsonrpc_parse("{\"jsonrpc\":", 11, &m, &e), MCP_PARSE_NOT_JSON);
    assert_non_null(strstr(e.msg, "JSON parse error"));
    mcp_msg_free(&m);
    assert_int_equal(parse("", &m), MCP_PARSE_NOT_JSON);
    mcp_msg_free(&m);
}

static void test_invalid_messages_keep_their_id_for_the_reply(void **state)
{
    (void)state;
    mcp_msg_t m;
    /* wrong version */
    assert_int_equal(parse("{\"jsonrpc\":\"1.0\",\"id\":5,\"method\":\"x\"}", &m), MCP_PARSE_INVALID);
    assert_int_equal(json_integer_value(m.id), 5);
    mcp_msg_free(&m);
    /* method not a string */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":3}", &m), MCP_PARSE_INVALID);
    assert_string_equal(json_string_value(m.id), "q");
    mcp_msg_free(&m);
    /* params a scalar */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":3}", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    /* a request's id must not be null or fractional */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"x\"}", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"x\"}", &m), MCP_PARSE_INVALID);
    assert_null(m.id);
    mcp_msg_free(&m);
    /* both result and error, or neither */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{\"code\":1}}", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1}", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    /* error code must be an integer */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":1,\"error\":{\"code\":\"x\",\"message\":\"m\"}}", &m),
                     MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    /* scalars and empty arrays */
    assert_int_equal(parse("42", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    assert_int_equal(parse("[]", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
    /* method with an embedded NUL */
    assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"a\\u0000b\"}", &m), MCP_PARSE_INVALID);
    mcp_msg_free(&m);
}

static void test_batch_is_reported_and_allowed_only_in_2025_03_26(void **state)
{
    (void)state;
    mcp_msg_t m;
    assert_int_equal(parse("[{\"jsonrpc\":\"2.0\",\"method\":\"a\"},{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"b\"}]", &m),
                     MCP_PARSE_BATCH);
    assert_int_equal(json_array_size(m.root), 2);
    mcp_msg_t one;
    err_t e;
    assert_int_equal(mcp_jsonrpc_classify(json_array_get(m.root, 1), &one, &e), MCP_PARSE_OK);
    assert_int_equal(one.kind, MCP_MSG_REQUEST);
    mcp_msg_free(&one);
    mcp_msg_free(&m);
    assert_true(mcp_jsonrpc_batch_allowed("2025-03-26"));
    assert_false(mcp_jsonrpc_batch_allowed("2025-06-18"));
    assert_false(mcp_jsonrpc_batch_allowed("2025-11-25"));
    assert_false(mcp_jsonrpc_batch_allowed("2024-11-05"));
    assert_false(mcp_jsonrpc_batch_allowed(NULL));
}

static void test_builders_produce_parseable_one_line_messages(void **state)
{
    (void)state;
    json_t *id = json_integer(3);
    json_t *params = json_pack("{s:s}", "text", "line1\nline2");
    json_t *req = mcp_jsonrpc_request(id, "tools/call", params);
    size_t len;
    char *s = mcp_jsonrpc_serialize(req, &len);
    assert_non_null(s);
    assert_null(memchr(s, '\n', len));
    mcp_msg_t m;
    err_t e;
    assert_int_equal(mcp_jsonrpc_parse(s, len, &m, &e), MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_REQUEST);
    assert_string_equal(json_string_value(json_object_get(m.params, "text")), "line1\nline2");
    mcp_msg_free(&m);
    free(s);

    json_t *note = mcp_jsonrpc_notification("notifications/initialized", NULL);
    assert_null(json_object_get(note, "id"));
    assert_null(json_object_get(note, "params"));

    json_t *res = mcp_jsonrpc_result(id, NULL);
    assert_true(json_is_object(json_object_get(res, "result")));
    assert_int_equal(json_integer_value(json_object_get(res, "id")), 3);

    json_t *data = json_pack("{s:[s]}", "supported", "2025-11-25");
    json_t *er = mcp_jsonrpc_error(NULL, MCP_ERR_INVALID_PARAMS, "Unsupported protocol version", data);
    assert_true(json_is_null(json_object_get(er, "id")));
    json_t *eo = json_object_get(er, "error");
    assert_int_equal(json_integer_value(json_object_get(eo, "code")), -32602);
    assert_string_equal(json_string_value(json_object_get(eo, "message")), "Unsupported protocol version");
    assert_non_null(json_object_get(eo, "data"));
    s = mcp_jsonrpc_serialize(er, &len);
    assert_int_equal(mcp_jsonrpc_parse(s, len, &m, &e), MCP_PARSE_OK);
    assert_int_equal(m.kind, MCP_MSG_ERROR);
    mcp_msg_free(&m);
    free(s);
    json_decref(id);
    json_decref(params);
    json_decref(req);
    json_decref(note);
    json_decref(res);
    json_decref(data);
    json_decref(er);
}

static void test_error_codes_match_the_spec(void **state)
{
    (void)state;
    assert_int_equal(MCP_ERR_PARSE, -32700);
    assert_int_equal(MCP_ERR_INVALID_REQUEST, -32600);
    assert_int_equal(MCP_ERR_METHOD_NOT_FOUND, -32601);
    assert_int_equal(MCP_ERR_INVALID_PARAMS, -32602);
    assert_int_equal(MCP_ERR_INTERNAL, -32603);
    assert_int_equal(MCP_ERR_RESOURCE_NOT_FOUND, -32002);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_is_classified_with_id_method_params),
        cmocka_unit_test(test_string_id_request_and_notification),
        cmocka_unit_test(test_response_and_error_are_classified),
        cmocka_unit_test(test_non_json_is_a_parse_error),
        cmocka_unit_test(test_invalid_messages_keep_their_id_for_the_reply),
        cmocka_unit_test(test_batch_is_reported_and_allowed_only_in_2025_03_26),
        cmocka_unit_test(test_builders_produce_parseable_one_line_messages),
        cmocka_unit_test(test_error_codes_match_the_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
