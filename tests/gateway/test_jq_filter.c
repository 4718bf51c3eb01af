/*
 * test_jq_filter.c — tool_response_filters (spec: gateway §4.11, §8 case 25):
 * compilation at config load, the result rewriting rules, jq's errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/config.h"
#include "gateway/jq_filter.h"

#define GW ",\"gateway\":{\"port\":8080,\"domain\":\"localhost\",\"agentId\":\"secret\"}"

static gw_config_options_t opts = {.version = "test"};

static json_t *js(const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(j);
    return j;
}

static gw_jq_t *compile_ok(const char *expr)
{
    err_t err = {{0}};
    gw_jq_t *f = gw_jq_compile(expr, &err);
    if (!f)
        fail_msg("compile of %s failed: %s", expr, err.msg);
    return f;
}

static void assert_json_eq(const json_t *got, const char *want)
{
    json_t *w = js(want);
    if (!json_equal((json_t *)got, w)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
        fail_msg("got %s, want %s", g ? g : "(null)", want);
    }
    json_decref(w);
}

static void test_invalid_expression_is_a_json_config_error_with_jq_message(void **state)
{
    (void)state;
    const char *cfgtext = "{\"mcpServers\":{\"m\":{\"container\":\"a\",\"tool_response_filters\":"
                          "{\"ok\":\".\",\"bad\":\"map(.x\"}}}" GW "}";
    gw_config_t *cfg = (gw_config_t *)1;
    err_t err = {{0}};
    assert_false(gw_config_load_json(cfgtext, strlen(cfgtext), &opts, &cfg, &err));
    assert_ptr_equal(cfg, (gw_config_t *)1);
    if (!strstr(err.msg, "mcpServers.m.tool_response_filters.bad contains an invalid jq expression: ") ||
        !strstr(err.msg, "syntax error"))
        fail_msg("unexpected message: %s", err.msg);
}

static void test_invalid_expression_is_a_toml_config_error(void **state)
{
    (void)state;
    const char *t = "[servers.m]\ncommand = \"docker\"\nargs = [\"run\", \"x\"]\n"
                    "[servers.m.tool_response_filters]\nt = \".a | ]\"\n";
    gw_config_t *cfg = NULL;
    err_t err = {{0}};
    assert_false(gw_config_load_toml(t, strlen(t), &opts, &cfg, &err));
    if (!strstr(err.msg, "tool_response_filters.t contains an invalid jq expression: ") ||
        !strstr(err.msg, "syntax error"))
        fail_msg("unexpected message: %s", err.msg);
}

static void test_valid_filters_are_compiled_at_load(void **state)
{
    (void)state;
    const char *cfgtext = "{\"mcpServers\":{\"m\":{\"container\":\"a\",\"tool_response_filters\":"
                          "{\"list\":\"map(.id)\"}}}" GW "}";
    gw_config_t *cfg = NULL;
    err_t err = {{0}};
    assert_true(gw_config_load_json(cfgtext, strlen(cfgtext), &opts, &cfg, &err));
    gw_jq_t *f = gw_jq_set_find(cfg->servers[0].jq_filters, "list");
    assert_non_null(f);
    assert_null(gw_jq_set_find(cfg->servers[0].jq_filters, "other"));
    json_t *in = js("[{\"id\":1},{\"id\":2}]"), *out = NULL;
    assert_true(gw_jq_run(f, in, &out, &err));
    assert_json_eq(out, "[1,2]");
    json_decref(in);
    json_decref(out);
    gw_config_free(cfg);
}

/* §8 case 25: the first text item holds a JSON array; later items stay. */
static void test_first_text_item_json_is_filtered_and_other_items_kept(void **state)
{
    (void)state;
    gw_jq_t *f = compile_ok("map(del(.rule.help))");
    json_t *r = js("{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"id\\\":1,\\\"rule\\\":{\\\"id\\\":\\\"r\\\","
                   "\\\"help\\\":\\\"long\\\"}}]\"},{\"type\":\"text\",\"text\":\"notice\"}],\"_meta\":{\"k\":1}}");
    err_t err = {{0}};
    json_t *out = gw_jq_filter_result(f, r, &err);
    assert_non_null(out);
    assert_json_eq(out, "{\"content\":[{\"type\":\"text\",\"text\":\"[{\\\"id\\\":1,\\\"rule\\\":{\\\"id\\\":\\\"r\\\"}}]\"},"
                        "{\"type\":\"text\",\"text\":\"notice\"}],\"_meta\":{\"k\":1}}");
    /* The input is not modified. */
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(json_object_get(r, "content"), 0), "text")),
                           "help"));
    json_decref(out);
    json_decref(r);
    gw_jq_free(f);
}

static void test_non_json_text_filters_the_whole_envelope(void **state)
{
    (void)state;
    err_t err = {{0}};
    json_t *r = js("{\"content\":[{\"type\":\"text\",\"text\":\"plain words\"}],\"structuredContent\":{\"n\":[1,2,3]}}");
    gw_jq_t *f = compile_ok("del(.structuredContent)");
    json_t *out = gw_jq_filter_result(f, r, &err);
    assert_json_eq(out, "{\"content\":[{\"type\":\"text\",\"text\":\"plain words\"}]}");
    json_decref(out);
    gw_jq_free(f);
    /* An output that is not a result envelope becomes one text item. */
    f = compile_ok(".structuredContent.n | length");
    out = gw_jq_filter_result(f, r, &err);
    assert_json_eq(out, "{\"content\":[{\"type\":\"text\",\"text\":\"3\"}]}");
    json_decref(out);
    gw_jq_free(f);
    json_decref(r);
}

static void test_env_is_disabled(void **state)
{
    (void)state;
    setenv("FLOWGATE_JQ_SECRET", "s3cret", 1);
    err_t err = {{0}};
    json_t *in = js("null"), *out = NULL;
    gw_jq_t *f = compile_ok("[$ENV.FLOWGATE_JQ_SECRET, env.FLOWGATE_JQ_SECRET, ($ENV|length)]");
    assert_true(gw_jq_run(f, in, &out, &err));
    assert_json_eq(out, "[null,null,0]");
    json_decref(out);
    gw_jq_free(f);
    json_decref(in);
}

static void test_runtime_errors_and_output_counts_are_errors(void **state)
{
    (void)state;
    json_t *in = js("{\"a\":[1,2]}"), *out = (json_t *)1;
    struct {
        const char *expr, *needle;
    } cases[] = {
        {".a + \"x\"", "cannot be added"},
        {"error(\"boom\")", "boom"},
        {".a[]", "more than one output"},
        {"empty", "no output"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err_t err = {{0}};
        gw_jq_t *f = compile_ok(cases[i].expr);
        assert_false(gw_jq_run(f, in, &out, &err));
        assert_null(out);
        if (!strstr(err.msg, cases[i].needle))
            fail_msg("%s: expected '%s' in: %s", cases[i].expr, cases[i].needle, err.msg);
        json_t *r = js("{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"a\\\":[1,2]}\"}]}");
        assert_null(gw_jq_filter_result(f, r, &err));
        json_decref(r);
        gw_jq_free(f);
    }
    json_decref(in);
}

static void test_compile_error_message_and_comment_safety(void **state)
{
    (void)state;
    err_t err = {{0}};
    assert_null(gw_jq_compile("{a:", &err));
    assert_non_null(strstr(err.msg, "syntax error"));
    assert_null(strstr(err.msg, "jq: error: "));
    assert_null(gw_jq_compile("", &err));
    /* A trailing comment does not swallow the wrapper's parenthesis. */
    gw_jq_t *f = compile_ok(".a # keep only a");
    json_t *in = js("{\"a\":7,\"b\":1}"), *out = NULL;
    assert_true(gw_jq_run(f, in, &out, &err));
    assert_json_eq(out, "7");
    json_decref(out);
    json_decref(in);
    gw_jq_free(f);
}

typedef struct worker {
    gw_jq_t *f;
    int bad;
} worker_t;

static void *run_many(void *ud)
{
    worker_t *w = ud;
    for (int i = 0; i < 200; i++) {
        json_t *in = json_pack("{s:i}", "n", i), *out = NULL;
        err_t err = {{0}};
        if (!gw_jq_run(w->f, in, &out, &err) || json_integer_value(out) != i * 2)
            w->bad++;
        json_decref(in);
        json_decref(out);
    }
    return NULL;
}

/* Tool calls run on several threads; one program is shared. */
static void test_one_program_runs_from_several_threads(void **state)
{
    (void)state;
    gw_jq_t *f = compile_ok(".n * 2");
    worker_t w[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){.f = f};
        assert_int_equal(pthread_create(&th[i], NULL, run_many, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].bad, 0);
    }
    gw_jq_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_expression_is_a_json_config_error_with_jq_message),
        cmocka_unit_test(test_invalid_expression_is_a_toml_config_error),
        cmocka_unit_test(test_valid_filters_are_compiled_at_load),
        cmocka_unit_test(test_first_text_item_json_is_filtered_and_other_items_kept),
        cmocka_unit_test(test_non_json_text_filters_the_whole_envelope),
        cmocka_unit_test(test_env_is_disabled),
        cmocka_unit_test(test_runtime_errors_and_output_counts_are_errors),
        cmocka_unit_test(test_compile_error_message_and_comment_safety),
        cmocka_unit_test(test_one_program_runs_from_several_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
