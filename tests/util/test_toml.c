/*
 * test_toml.c — util/toml.h behaviour the toml-test corpus leaves open
 * (its README "Gaps" section) plus the API around the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/toml.h"

static toml_value_t *parse_ok(const char *text)
{
    toml_value_t *root = NULL;
    err_t err = {{0}};
    bool ok = toml_parse(text, strlen(text), &root, &err);
    if (!ok)
        print_error("unexpected error: %s\n", err.msg);
    assert_true(ok);
    assert_non_null(root);
    return root;
}

/* Parses text that must fail; returns the message. */
static const char *parse_fail(const char *text, err_t *err)
{
    toml_value_t *root = (toml_value_t *)1;
    assert_false(toml_parse(text, strlen(text), &root, err));
    assert_null(root);
    return err->msg;
}

static void test_int64_limits_parse(void **state)
{
    (void)state;
    toml_value_t *r = parse_ok("max = 9223372036854775807\nmin = -9223372036854775808\n"
                               "hex = 0x7FFFFFFFFFFFFFFF\nbin = 0b0\n");
    assert_int_equal(toml_get(r, "max")->u.integer, INT64_MAX);
    assert_true(toml_get(r, "min")->u.integer == INT64_MIN);
    assert_int_equal(toml_get(r, "hex")->u.integer, INT64_MAX);
    assert_int_equal(toml_get(r, "bin")->u.integer, 0);
    toml_free(r);
}

static void test_integer_overflow_is_an_error(void **state)
{
    (void)state;
    err_t err;
    assert_non_null(strstr(parse_fail("a = 9223372036854775808\n", &err), "64 bits"));
    assert_non_null(strstr(parse_fail("a = -9223372036854775809\n", &err), "64 bits"));
    assert_non_null(strstr(parse_fail("a = 0x8000000000000000\n", &err), "64 bits"));
    assert_non_null(strstr(parse_fail("a = 0o1777777777777777777777\n", &err), "64 bits"));
    assert_non_null(strstr(parse_fail("a = 99999999999999999999999\n", &err), "64 bits"));
}

static void test_float_overflow_is_an_error(void **state)
{
    (void)state;
    err_t err;
    assert_non_null(strstr(parse_fail("a = 1e400\n", &err), "out of range"));
    toml_value_t *r = parse_ok("a = 1e-400\nb = -0.0\n");
    assert_true(toml_get(r, "a")->u.fp == 0.0);
    toml_free(r);
}

static char *repeat(const char *unit, int times, const char *prefix, const char *suffix_unit)
{
    size_t n = strlen(prefix) + (strlen(unit) + strlen(suffix_unit)) * (size_t)times + 8;
    char *s = malloc(n);
    assert_non_null(s);
    strcpy(s, prefix);
    for (int k = 0; k < times; k++)
        strcat(s, unit);
    for (int k = 0; k < times; k++)
        strcat(s, suffix_unit);
    strcat(s, "\n");
    return s;
}

static void test_array_nesting_limit(void **state)
{
    (void)state;
    char *ok = repeat("[", TOML_MAX_DEPTH - 1, "a = ", "]");
    toml_value_t *r = parse_ok(ok);
    toml_free(r);
    free(ok);
    char *deep = repeat("[", 5000, "a = ", "]");
    err_t err;
    assert_non_null(strstr(parse_fail(deep, &err), "nesting deeper"));
    free(deep);
}

static void test_inline_table_nesting_limit(void **state)
{
    (void)state;
    char *deep = repeat("{b=", 5000, "a = ", "}");
    err_t err;
    assert_non_null(strstr(parse_fail(deep, &err), "nesting deeper"));
    free(deep);
}

static void test_header_and_dotted_key_nesting_limit(void **state)
{
    (void)state;
    char *hdr = repeat("a.", 300, "[", "");
    size_t L = strlen(hdr);
    hdr[L - 2] = ']'; /* "[a.a.a....a]\n" */
    err_t err;
    assert_non_null(strstr(parse_fail(hdr, &err), "more than"));
    free(hdr);
    char *dotted = repeat("a.", 300, "", "");
    L = strlen(dotted);
    dotted[L - 2] = '\0';
    char *line = malloc(L + 16);
    assert_non_null(line);
    sprintf(line, "%s = 1\n", dotted);
    parse_fail(line, &err);
    free(line);
    free(dotted);
}

static void test_escape_e_is_rejected(void **state)
{
    (void)state;
    err_t err;
    assert_non_null(strstr(parse_fail("a = \"\\e[0m\"\n", &err), "invalid escape"));
    assert_non_null(strstr(parse_fail("a = \"\"\"\\e\"\"\"\n", &err), "invalid escape"));
    parse_fail("a = \"\\x41\"\n", &err);
}

static void test_lone_cr_in_multiline_strings_is_rejected(void **state)
{
    (void)state;
    err_t err;
    assert_non_null(strstr(parse_fail("a = \"\"\"x\ry\"\"\"\n", &err), "carriage return"));
    assert_non_null(strstr(parse_fail("a = '''x\ry'''\n", &err), "carriage return"));
    parse_fail("a = 1 # c\r\n# x\ry\n", &err);
    toml_value_t *r = parse_ok("a = \"\"\"x\r\ny\"\"\"\r\n");
    assert_string_equal(toml_get(r, "a")->u.str.ptr, "x\r\ny");
    toml_free(r);
}

static void test_error_names_line_and_column(void **state)
{
    (void)state;
    err_t err;
    assert_string_equal(parse_fail("a = 1\nb = \"open\n", &err), "line 2, column 5: unterminated string");
    assert_non_null(strstr(parse_fail("a = 1\n\n[t]\nx = 1\nx = 2\n", &err), "line 5, column 1: duplicate key 'x'"));
    assert_non_null(strstr(parse_fail("a = 1\n\xff\n", &err), "line 2, column 1: invalid UTF-8"));
}

static void test_values_keep_their_position(void **state)
{
    (void)state;
    toml_value_t *r = parse_ok("# c\n[srv]\n  port = 8080\n");
    const toml_value_t *srv = toml_get(r, "srv");
    assert_int_equal(srv->line, 2);
    const toml_value_t *port = toml_get(srv, "port");
    assert_int_equal(port->line, 3);
    assert_int_equal(port->column, 10);
    toml_free(r);
}

static void test_nul_escape_keeps_length(void **state)
{
    (void)state;
    toml_value_t *r = parse_ok("a = \"x\\u0000y\"\n");
    const toml_value_t *a = toml_get(r, "a");
    assert_int_equal(a->u.str.len, 3);
    assert_memory_equal(a->u.str.ptr, "x\0y", 3);
    toml_free(r);
}

static void test_datetimes_are_distinct_types(void **state)
{
    (void)state;
    toml_value_t *r = parse_ok("a = 1979-05-27T07:32:00.6-07:00\nb = 1979-05-27 07:32:00\n"
                               "c = 1979-05-27\nd = 07:32:00.123456789\n");
    char buf[64];
    assert_int_equal(toml_get(r, "a")->type, TOML_DATETIME);
    toml_datetime_format(toml_get(r, "a"), buf, sizeof buf);
    assert_string_equal(buf, "1979-05-27T07:32:00.600-07:00");
    assert_int_equal(toml_get(r, "b")->type, TOML_DATETIME_LOCAL);
    toml_datetime_format(toml_get(r, "b"), buf, sizeof buf);
    assert_string_equal(buf, "1979-05-27T07:32:00");
    assert_int_equal(toml_get(r, "c")->type, TOML_DATE_LOCAL);
    assert_int_equal(toml_get(r, "d")->type, TOML_TIME_LOCAL);
    toml_datetime_format(toml_get(r, "d"), buf, sizeof buf);
    assert_string_equal(buf, "07:32:00.123456789");
    toml_free(r);
}

static void test_to_json_converts_tree(void **state)
{
    (void)state;
    toml_value_t *r = parse_ok("[t]\ns = \"x\"\ni = 3\nf = 1.5\nb = true\nd = 2020-01-02\n"
                               "arr = [1, {k = \"v\"}]\n");
    err_t err;
    json_t *j = toml_to_json(toml_get(r, "t"), &err);
    assert_non_null(j);
    char *dump = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(dump, "{\"arr\":[1,{\"k\":\"v\"}],\"b\":true,\"d\":\"2020-01-02\",\"f\":1.5,\"i\":3,\"s\":\"x\"}");
    free(dump);
    json_decref(j);
    toml_free(r);
}

static void test_to_json_rejects_nan(void **state)
{
    (void)state;
    toml_value_t *r = parse_ok("x = nan\n");
    err_t err = {{0}};
    assert_null(toml_to_json(r, &err));
    assert_non_null(strstr(err.msg, "nan"));
    toml_free(r);
}

/* 100k keys in one table, then a duplicate at the end: linear with the
 * hash index (quadratic search would take minutes). */
static void test_many_keys_stay_fast_and_checked(void **state)
{
    (void)state;
    enum { N = 100000 };
    size_t cap = (size_t)N * 16 + 64, len = 0;
    char *doc = malloc(cap);
    assert_non_null(doc);
    for (int i = 0; i < N; i++)
        len += (size_t)snprintf(doc + len, cap - len, "k%d = %d\n", i, i);
    doc[len] = '\0';
    toml_value_t *r = NULL;
    err_t err;
    assert_true(toml_parse(doc, len, &r, &err));
    assert_int_equal(r->u.table.count, N);
    assert_int_equal(toml_get(r, "k12345")->u.integer, 12345);
    assert_int_equal(toml_get(r, "k0")->u.integer, 0);
    assert_null(toml_get(r, "k100000"));
    toml_free(r);
    len += (size_t)snprintf(doc + len, cap - len, "k77 = 1\n");
    assert_false(toml_parse(doc, len, &r, &err));
    assert_non_null(strstr(err.msg, "duplicate key 'k77'"));
    free(doc);
}

static void test_empty_and_bom_documents(void **state)
{
    (void)state;
    toml_value_t *r = NULL;
    err_t err;
    assert_true(toml_parse("", 0, &r, &err));
    assert_int_equal(r->u.table.count, 0);
    toml_free(r);
    r = parse_ok("\xEF\xBB\xBF" "a = 1\n");
    assert_non_null(toml_get(r, "a"));
    toml_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int64_limits_parse),
        cmocka_unit_test(test_integer_overflow_is_an_error),
        cmocka_unit_test(test_float_overflow_is_an_error),
        cmocka_unit_test(test_array_nesting_limit),
        cmocka_unit_test(test_inline_table_nesting_limit),
        cmocka_unit_test(test_header_and_dotted_key_nesting_limit),
        cmocka_unit_test(test_escape_e_is_rejected),
        cmocka_unit_test(test_lone_cr_in_multiline_strings_is_rejected),
        cmocka_unit_test(test_error_names_line_and_column),
        cmocka_unit_test(test_values_keep_their_position),
        cmocka_unit_test(test_nul_escape_keeps_length),
        cmocka_unit_test(test_datetimes_are_distinct_types),
        cmocka_unit_test(test_to_json_converts_tree),
        cmocka_unit_test(test_to_json_rejects_nan),
        cmocka_unit_test(test_many_keys_stay_fast_and_checked),
        cmocka_unit_test(test_empty_and_bom_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
