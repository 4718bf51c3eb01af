/* The URL-domain audit (spec: gateway §4.11, §5.1): which URL hosts are
 * found in a tool result (url_audit.c), and observed-url-domains.json as the
 * logger writes it (log.c). */
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

/* ---- extraction ----------------------------------------------------------- */

/* The hosts found in `v` (stolen), as compact JSON, e.g. ["a.io","b.io"]. */
static char *hosts_of(json_t *v)
{
    json_t *hosts = gw_url_domains_extract(v);
    json_decref(v);
    assert_non_null(hosts);
    char *s = json_dumps(hosts, JSON_COMPACT);
    json_decref(hosts);
    return s;
}

static void assert_hosts(json_t *v, const char *expected)
{
    char *got = hosts_of(v);
    assert_string_equal(got, expected);
    free(got);
}

static void test_host_is_lowercased_without_port_userinfo_or_trailing_dot(void **state)
{
    (void)state;
    assert_hosts(json_string("see HTTPS://User:pw@Example.COM:8443/x?q=1 and http://a.io./ and https://b.io:80"),
                 "[\"a.io\",\"b.io\",\"example.com\"]");
}

static void test_prose_punctuation_is_not_part_of_the_host(void **state)
{
    (void)state;
    assert_hosts(json_string("(https://a.example), https://b.example. https://c.example; <https://d.example>"
                             " 'https://e.example' https://f.example#frag https://g.example?x"),
                 "[\"a.example\",\"b.example\",\"c.example\",\"d.example\",\"e.example\",\"f.example\","
                 "\"g.example\"]");
}

static void test_only_http_and_https_urls_count(void **state)
{
    (void)state;
    assert_hosts(json_string("ftp://f.example mailto:x@m.example ws://w.example www.example.org https:// "
                             "http:///path file:///etc/hosts"),
                 "[]");
}

static void test_invalid_hosts_are_skipped(void **state)
{
    (void)state;
    assert_hosts(json_string("https://{owner}.github.io https://%41.com https://a.com:port/x https://[zz]/ "
                             "https://[::1]:8080/x https://.../ https://ok.example:/"),
                 "[\"::1\",\"ok.example\"]");
}

static void test_json_text_is_searched_unescaped(void **state)
{
    (void)state;
    /* MCP text content carrying JSON: escaped slashes and \u escapes only
     * become a URL once parsed; the raw text must not yield "ex" from
     * "https://ex\u0041mple.com". A JSON string inside that JSON is
     * searched too. */
    json_t *result = json_pack(
        "{s:[{s:s,s:s}]}", "content", "type", "text", "text",
        "{\"u\":\"https:\\/\\/Esc.Example\\/p\",\"v\":[\"http://ex\\u0041mple.com/x\"],"
        "\"inner\":\"[\\\"https://inner.example\\\"]\"}");
    assert_hosts(result, "[\"esc.example\",\"example.com\",\"inner.example\"]");
}

static void test_every_string_and_key_of_the_result_is_searched(void **state)
{
    (void)state;
    json_t *result = json_pack("{s:[{s:s,s:s}],s:{s:[s,i,b,n]},s:{s:s},s:{s:i}}", "content", "type", "text",
                               "text", "plain https://text.example", "structuredContent", "links",
                               "https://structured.example/a", 42, 1, "_meta", "source", "http://meta.example",
                               "counts", "https://key.example/x", 3);
    assert_hosts(result, "[\"key.example\",\"meta.example\",\"structured.example\",\"text.example\"]");
}

static void test_hosts_are_unique_and_sorted_bytewise(void **state)
{
    (void)state;
    assert_hosts(json_pack("[s,s]", "https://b.io https://B.io/x https://a.io", "https://A-z.io https://b.io"),
                 "[\"a-z.io\",\"a.io\",\"b.io\"]");
}

static void test_scan_of_raw_text_stops_at_a_backslash(void **state)
{
    (void)state;
    json_t *set = json_object();
    const char text[] = "\"https://raw.example\\\"  http://two.example\\n";
    gw_url_hosts_scan(text, sizeof text - 1, set);
    assert_int_equal(json_object_size(set), 2);
    assert_non_null(json_object_get(set, "raw.example"));
    assert_non_null(json_object_get(set, "two.example"));
    json_decref(set);
}

static void test_nesting_beyond_the_depth_limit_is_not_searched(void **state)
{
    (void)state;
    json_t *v = json_string("https://deep.example");
    for (int i = 0; i < 5000; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
    }
    json_t *top = json_pack("[s,o]", "https://top.example", v);
    assert_hosts(top, "[\"top.example\"]");
}

static void test_result_without_urls_gives_an_empty_list(void **state)
{
    (void)state;
    assert_hosts(json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", "no links here"), "[]");
}

/* ---- observed-url-domains.json ---------------------------------------------- */

static char dir[64];

static int open_logs(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/fg-urlaudit-XXXXXX");
    assert_non_null(mkdtemp(dir));
    mode_t old = umask(0); /* the file's mode must not depend on the umask */
    err_t err = {{0}};
    assert_true(gw_log_open(dir, &err));
    umask(old);
    return 0;
}

static int close_logs(void **state)
{
    (void)state;
    gw_log_close();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* The file's content (static buffer), or NULL if absent. */
static const char *read_observed(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/" GW_OBSERVED_URL_DOMAINS_FILE, dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static unsigned observed_mode(void)
{
    char path[128];
    struct stat st;
    snprintf(path, sizeof path, "%s/" GW_OBSERVED_URL_DOMAINS_FILE, dir);
    assert_int_equal(stat(path, &st), 0);
    return (unsigned)(st.st_mode & 0777);
}

static void log_hosts(const char *server, const char *a, const char *b)
{
    json_t *list = b ? json_pack("[s,s]", a, b) : json_pack("[s]", a);
    gw_log_url_domains(server, list);
    json_decref(list);
}

static void test_file_is_an_empty_object_with_mode_0600_at_open(void **state)
{
    (void)state;
    const char *t = read_observed();
    assert_non_null(t);
    assert_string_equal(t, "{}");
    assert_int_equal(observed_mode(), 0600);
}

static void test_hosts_accumulate_per_server_sorted_and_unique(void **state)
{
    (void)state;
    log_hosts("github", "b.io", "a.io");
    log_hosts("github", "a.io", "c.io");
    log_hosts("other", "x.io", NULL);
    assert_string_equal(read_observed(), "{\n"
                                         "  \"github\": [\n"
                                         "    \"a.io\",\n"
                                         "    \"b.io\",\n"
                                         "    \"c.io\"\n"
                                         "  ],\n"
                                         "  \"other\": [\n"
                                         "    \"x.io\"\n"
                                         "  ]\n"
                                         "}");
    assert_int_equal(observed_mode(), 0600);
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s/" GW_OBSERVED_URL_DOMAINS_FILE ".tmp", dir);
    assert_int_not_equal(access(tmp, F_OK), 0);
}

static void test_empty_server_or_list_changes_nothing(void **state)
{
    (void)state;
    log_hosts("", "a.io", NULL);
    gw_log_url_domains(NULL, NULL);
    json_t *empty = json_array();
    gw_log_url_domains("github", empty);
    json_decref(empty);
    assert_string_equal(read_observed(), "{}");
}

static void test_proxy_logs_have_no_observed_file(void **state)
{
    (void)state;
    err_t err = {{0}};
    char sub[128];
    snprintf(sub, sizeof sub, "%s/proxy", dir);
    assert_true(gw_log_open_set(sub, GW_LOGS_PROXY, &err));
    log_hosts("github", "a.io", NULL);
    char path[200];
    snprintf(path, sizeof path, "%s/" GW_OBSERVED_URL_DOMAINS_FILE, sub);
    assert_int_not_equal(access(path, F_OK), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_is_lowercased_without_port_userinfo_or_trailing_dot),
        cmocka_unit_test(test_prose_punctuation_is_not_part_of_the_host),
        cmocka_unit_test(test_only_http_and_https_urls_count),
        cmocka_unit_test(test_invalid_hosts_are_skipped),
        cmocka_unit_test(test_json_text_is_searched_unescaped),
        cmocka_unit_test(test_every_string_and_key_of_the_result_is_searched),
        cmocka_unit_test(test_hosts_are_unique_and_sorted_bytewise),
        cmocka_unit_test(test_scan_of_raw_text_stops_at_a_backslash),
        cmocka_unit_test(test_nesting_beyond_the_depth_limit_is_not_searched),
        cmocka_unit_test(test_result_without_urls_gives_an_empty_list),
        cmocka_unit_test_setup_teardown(test_file_is_an_empty_object_with_mode_0600_at_open, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_hosts_accumulate_per_server_sorted_and_unique, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_empty_server_or_list_changes_nothing, open_logs, close_logs),
        cmocka_unit_test_setup_teardown(test_proxy_logs_have_no_observed_file, open_logs, close_logs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
