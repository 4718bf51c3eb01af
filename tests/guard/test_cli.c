/* test_cli.c — `flowgate guard` (guard_cli_main): info, the three label
 * commands on inline and @file JSON with a mock backend, and its errors.
 * stdout is captured through a temporary file. */
#include <fcntl.h>
#include <unistd.h>

#include "helpers.h"

/* Runs guard_cli_main with argv; returns the exit status and puts what it
 * printed on stdout in *out (malloc'd). */
static int run_cli(int argc, char **argv, char **out)
{
    fflush(stdout);
    char path[] = "/tmp/flowgate-guard-cli-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(1);
    dup2(fd, 1);
    int rc = guard_cli_main(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    *out = calloc(1, (size_t)n + 1);
    assert_int_equal(read(fd, *out, (size_t)n), n);
    close(fd);
    unlink(path);
    return rc;
}

static void test_info_lists_exports_and_imports(void **state)
{
    (void)state;
    char wasm[4096];
    snprintf(wasm, sizeof wasm, "%s", fixture_path("realistic.wasm"));
    char *argv[] = {"guard", "info", wasm};
    char *out;
    assert_int_equal(run_cli(3, argv, &out), 0);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    assert_true(json_is_true(json_object_get(j, "valid_guard")));
    char *s = json_dumps(json_object_get(j, "exports"), JSON_COMPACT);
    assert_non_null(strstr(s, "\"name\":\"label_response\""));
    assert_non_null(strstr(s, "\"name\":\"alloc\""));
    free(s);
    s = json_dumps(json_object_get(j, "imports"), JSON_COMPACT);
    assert_non_null(strstr(s, "\"module\":\"env\",\"name\":\"call_backend\""));
    assert_non_null(strstr(s, "wasi_snapshot_preview1"));
    free(s);
    json_decref(j);
    free(out);
}

static void test_info_reports_an_invalid_guard(void **state)
{
    (void)state;
    char wasm[4096];
    snprintf(wasm, sizeof wasm, "%s", fixture_path("no_agent.wasm"));
    char *argv[] = {"guard", "info", wasm};
    char *out;
    assert_int_equal(run_cli(3, argv, &out), 1);
    assert_non_null(strstr(out, "WASM module must export label_agent"));
    free(out);
}

static void test_label_resource_with_policy_and_mock_backend(void **state)
{
    (void)state;
    char wasm[4096], backend[4096];
    snprintf(wasm, sizeof wasm, "%s", fixture_path("realistic.wasm"));
    /* The backend answers from a file. */
    char bpath[] = "/tmp/flowgate-guard-backend-XXXXXX";
    int fd = mkstemp(bpath);
    const char *answers = "{\"search_repositories\":{\"content\":[{\"type\":\"text\",\"text\":"
                          "\"{\\\"items\\\":[{\\\"private\\\":true}]}\"}]}}";
    assert_int_equal(write(fd, answers, strlen(answers)), (ssize_t)strlen(answers));
    close(fd);
    snprintf(backend, sizeof backend, "@%s", bpath);
    char *argv[] = {"guard", "label-resource", "--policy", "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"none\"}}",
                    "--backend", backend, "--raw", wasm, "get_file", "{\"owner\":\"acme\",\"repo\":\"secret\"}"};
    char *out;
    assert_int_equal(run_cli(10, argv, &out), 0);
    unlink(bpath);
    json_t *j = json_loads(out, 0, NULL);
    assert_non_null(j);
    json_t *res = json_object_get(j, "result");
    assert_string_equal(json_string_value(json_object_get(res, "operation")), "read");
    char *s = json_dumps(res, JSON_COMPACT);
    assert_non_null(strstr(s, "private:acme/secret"));
    free(s);
    assert_non_null(json_object_get(j, "label_agent"));
    assert_true(json_is_string(json_object_get(j, "raw")));
    assert_true(json_real_value(json_object_get(j, "call_ms_mean")) > 0);
    json_decref(j);
    free(out);
}

static void test_label_response_and_label_agent_commands(void **state)
{
    (void)state;
    char wasm[4096];
    snprintf(wasm, sizeof wasm, "%s", fixture_path("realistic.wasm"));
    char *argv[] = {"guard", "label-response", wasm, "list_issues", "{}",
                    "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"items\\\":[{\\\"number\\\":1,\\\"repository\\\":"
                    "\\\"a/b\\\"}]}\"}]}"};
    char *out;
    assert_int_equal(run_cli(6, argv, &out), 0);
    assert_non_null(strstr(out, "\"path\": \"/items/0\""));
    free(out);
    char *argv2[] = {"guard", "label-agent", wasm, "{\"allow-only\":{\"repos\":\"all\",\"min-integrity\":\"merged\"}}"};
    assert_int_equal(run_cli(4, argv2, &out), 0);
    assert_non_null(strstr(out, "\"difc_mode\": \"filter\""));
    assert_non_null(strstr(out, "merged:all"));
    free(out);
}

static void test_usage_errors(void **state)
{
    (void)state;
    char *out;
    char *argv[] = {"guard", "frobnicate", "x.wasm"};
    assert_int_equal(run_cli(3, argv, &out), 2);
    free(out);
    char *argv2[] = {"guard"};
    assert_int_equal(run_cli(1, argv2, &out), 2);
    free(out);
    char *argv3[] = {"guard", "label-agent", "/nonexistent/guard.wasm", "{}"};
    assert_int_equal(run_cli(4, argv3, &out), 1);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_info_lists_exports_and_imports),
        cmocka_unit_test(test_info_reports_an_invalid_guard),
        cmocka_unit_test(test_label_resource_with_policy_and_mock_backend),
        cmocka_unit_test(test_label_response_and_label_agent_commands),
        cmocka_unit_test(test_usage_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
