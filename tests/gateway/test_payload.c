/* Large results spilled to payloadDir (spec §4.11, §8 cases 22–24), and
 * the gateway-session derivation that names their directory (§4.6). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "gateway/gateway_internal.h"

static char dir[64];

static int mk(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fg-payload-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int rm(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* A result whose compact JSON is exactly `size` bytes. */
static json_t *result_of_size(size_t size)
{
    const char *shell = "{\"content\":[{\"type\":\"text\",\"text\":\"\"}]}";
    size_t n = size - strlen(shell);
    char *text = malloc(n + 1);
    memset(text, 'x', n);
    text[n] = 0;
    json_t *r = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);
    free(text);
    char *d = json_dumps(r, JSON_COMPACT | JSON_PRESERVE_ORDER);
    assert_int_equal(strlen(d), size);
    free(d);
    return r;
}

static void test_threshold_is_inclusive(void **state)
{
    (void)state;
    json_t *r = result_of_size(100);
    assert_null(gw_payload_spill(dir, "", 100, "agent", r));
    json_t *out = gw_payload_spill(dir, "", 99, "agent", r);
    assert_non_null(out);
    json_decref(out);
    json_decref(r);
}

static void test_spilled_file_layout_mode_and_metadata(void **state)
{
    (void)state;
    json_t *r = result_of_size(800);
    json_t *out = gw_payload_spill(dir, "", 100, "agent-1", r);
    assert_non_null(out);
    json_t *items = json_object_get(out, "content");
    assert_int_equal(json_array_size(items), 1);
    json_t *meta = json_loads(json_string_value(json_object_get(json_array_get(items, 0), "text")), 0, NULL);
    assert_non_null(meta);
    const char *path = json_string_value(json_object_get(meta, "payloadPath"));
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/agent-1/", dir);
    assert_int_equal(strncmp(path, prefix, strlen(prefix)), 0);
    const char *qid = path + strlen(prefix);
    assert_int_equal(strspn(qid, "0123456789abcdef"), 32);
    assert_string_equal(qid + 32, "/payload.json");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 800);
    assert_int_equal(json_integer_value(json_object_get(meta, "originalSize")), 800);
    assert_non_null(strstr(json_string_value(json_object_get(meta, "agentInstructions")), "payloadPath"));
    const char *preview = json_string_value(json_object_get(meta, "payloadPreview"));
    assert_string_equal(preview + strlen(preview) - 3, "...");
    assert_int_equal(strlen(preview), 503);
    json_decref(meta);
    json_decref(out);
    json_decref(r);
}

static void test_prefix_and_default_session(void **state)
{
    (void)state;
    json_t *r = result_of_size(200);
    json_t *out = gw_payload_spill(dir, "/workspace/payloads", 100, "", r);
    json_t *meta = json_loads(json_string_value(json_object_get(json_array_get(json_object_get(out, "content"), 0), "text")), 0, NULL);
    const char *path = json_string_value(json_object_get(meta, "payloadPath"));
    assert_int_equal(strncmp(path, "/workspace/payloads/default/", 28), 0);
    char real[256];
    snprintf(real, sizeof real, "%s/default/%s", dir, path + 28);
    assert_int_equal(access(real, R_OK), 0);
    json_decref(meta);
    json_decref(out);
    json_decref(r);
}

static void test_preview_never_splits_a_utf8_character(void **state)
{
    (void)state;
    /* "é" is two bytes; place one across byte 500 of the payload. */
    char text[1200];
    const char *shell_head = "{\"content\":[{\"type\":\"text\",\"text\":\"";
    size_t head = strlen(shell_head);
    size_t pad = 499 - head;
    memset(text, 'a', pad);
    strcpy(text + pad, "\xc3\xa9\xc3\xa9\xc3\xa9 and more text to pass the threshold comfortably............");
    json_t *r = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);
    json_t *out = gw_payload_spill(dir, "", 100, "a", r);
    json_t *meta = json_loads(json_string_value(json_object_get(json_array_get(json_object_get(out, "content"), 0), "text")), 0, NULL);
    assert_non_null(meta); /* jansson rejects invalid UTF-8: the preview is valid */
    const char *preview = json_string_value(json_object_get(meta, "payloadPreview"));
    assert_int_equal(strlen(preview), 499 + 3);
    json_decref(meta);
    json_decref(out);
    json_decref(r);
}

static void test_schema_replaces_leaves_by_type(void **state)
{
    (void)state;
    json_t *v = json_loads("{\"name\":\"x\",\"count\":1,\"items\":[{\"id\":1},{\"id\":2}],\"ok\":true,\"n\":null,\"e\":[]}", 0, NULL);
    json_t *s = gw_payload_schema(v);
    json_t *want = json_loads("{\"name\":\"string\",\"count\":\"number\",\"items\":[{\"id\":\"number\"}],\"ok\":\"boolean\",\"n\":\"null\",\"e\":[]}", 0, NULL);
    assert_true(json_equal(s, want));
    json_decref(v);
    json_decref(s);
    json_decref(want);
}

static void test_is_error_results_are_left_to_the_caller(void **state)
{
    (void)state;
    /* The pipeline skips isError results; spill itself keeps isError when
     * asked, so the flag survives a replacement. */
    json_t *r = result_of_size(300);
    json_object_set_new(r, "isError", json_false());
    json_t *out = gw_payload_spill(dir, "", 100, "a", r);
    assert_true(json_is_false(json_object_get(out, "isError")));
    json_decref(out);
    json_decref(r);
}

static void test_gateway_session_id_from_headers(void **state)
{
    (void)state;
    char *g;
    assert_string_equal(g = gw_session_derive_gsid(NULL, "Bearer  tok "), "tok");
    free(g);
    assert_string_equal(g = gw_session_derive_gsid(NULL, "Agent bot-1"), "bot-1");
    free(g);
    assert_string_equal(g = gw_session_derive_gsid(NULL, "plain-key"), "plain-key");
    free(g);
    assert_string_equal(g = gw_session_derive_gsid("agent-x", "plain-key"), "agent-x");
    free(g);
    assert_string_equal(g = gw_session_derive_gsid(NULL, NULL), "default");
    free(g);
    assert_null(gw_session_derive_gsid(NULL, "a/b"));
    assert_null(gw_session_derive_gsid(NULL, ".."));
    assert_null(gw_session_derive_gsid("x\x01y", NULL));
}

static void test_session_ids_are_26_base32_characters(void **state)
{
    (void)state;
    char a[32], b[32];
    assert_true(gw_random_session_id(a));
    assert_true(gw_random_session_id(b));
    assert_int_equal(strlen(a), 26);
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), 26);
    assert_string_not_equal(a, b);
    char hex[65];
    assert_true(gw_random_hex(hex, 32));
    assert_int_equal(strspn(hex, "0123456789abcdef"), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_threshold_is_inclusive, mk, rm),
        cmocka_unit_test_setup_teardown(test_spilled_file_layout_mode_and_metadata, mk, rm),
        cmocka_unit_test_setup_teardown(test_prefix_and_default_session, mk, rm),
        cmocka_unit_test_setup_teardown(test_preview_never_splits_a_utf8_character, mk, rm),
        cmocka_unit_test(test_schema_replaces_leaves_by_type),
        cmocka_unit_test_setup_teardown(test_is_error_results_are_left_to_the_caller, mk, rm),
        cmocka_unit_test(test_gateway_session_id_from_headers),
        cmocka_unit_test(test_session_ids_are_26_base32_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
