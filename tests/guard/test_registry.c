/*
 * test_registry.c — the guard registry, WASM discovery and per-server guard
 * selection (spec §3.9 "Registry" and "Selection order", §1.11).
 */
#include "helpers.h"

#include <sys/stat.h>
#include <unistd.h>

/* A native guard that counts its close, to observe ownership. */
typedef struct counted {
    guard_t base;
    int *closed;
} counted_t;

static void counted_close(guard_t *g)
{
    counted_t *c = (counted_t *)g;
    (*c->closed)++;
    free(c);
}

static const guard_ops_t counted_ops = {.close = counted_close};

static guard_t *counted_new(int *closed, const char *type)
{
    counted_t *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->base.ops = &counted_ops;
    c->base.name = "counted";
    c->base.type = type;
    c->closed = closed;
    return &c->base;
}

static void test_unknown_server_gets_the_shared_noop(void **state)
{
    (void)state;
    guard_registry_t *r = guard_registry_new();
    assert_non_null(r);
    guard_t *a = guard_registry_get(r, "nope");
    assert_non_null(a);
    assert_true(guard_is_noop(a));
    assert_ptr_equal(a, guard_registry_get(r, "other"));
    assert_false(guard_registry_has_non_noop(r));
    guard_registry_free(r);
}

static void test_set_get_replace_and_free_close_guards(void **state)
{
    (void)state;
    int closed1 = 0, closed2 = 0, closed3 = 0;
    guard_registry_t *r = guard_registry_new();
    err_t err = {{0}};
    guard_t *g1 = counted_new(&closed1, "wasm");
    assert_true(guard_registry_set(r, "github", g1, &err));
    assert_ptr_equal(guard_registry_get(r, "github"), g1);
    assert_true(guard_registry_has_non_noop(r));
    guard_t *g2 = counted_new(&closed2, "wasm");
    assert_true(guard_registry_set(r, "github", g2, &err));
    assert_int_equal(closed1, 1); /* the replaced guard is closed */
    assert_ptr_equal(guard_registry_get(r, "github"), g2);
    assert_true(guard_registry_set(r, "safeoutputs", counted_new(&closed3, "write-sink"), &err));
    assert_false(guard_registry_set(r, "x", NULL, &err));
    guard_registry_free(r);
    assert_int_equal(closed2, 1);
    assert_int_equal(closed3, 1);
}

/* ---- discovery ---------------------------------------------------------- */

static void touch(const char *dir, const char *name)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fputs("\0asm", fp);
    fclose(fp);
}

static void mkdir_in(const char *dir, const char *name)
{
    char p[1400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    assert_int_equal(mkdir(p, 0700), 0);
}

static void rm_rf(const char *path)
{
    char cmd[1500];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

static void test_discovery_picks_first_wasm_file_by_name(void **state)
{
    (void)state;
    char root[] = "/tmp/flowgate-discover-XXXXXX";
    assert_non_null(mkdtemp(root));
    mkdir_in(root, "srv");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/srv", root);
    touch(sub, "b.wasm");
    touch(sub, "c.WASM");
    touch(sub, "a.txt");
    mkdir_in(sub, "A.wasm"); /* sorts first but is a directory */
    char *path = NULL;
    err_t err = {{0}};
    assert_true(guard_discover_wasm("srv", root, NULL, &path, &err));
    assert_non_null(path);
    char want[700];
    snprintf(want, sizeof want, "%s/b.wasm", sub);
    assert_string_equal(path, want);
    free(path);

    /* The value is trimmed; an unknown server or an unset variable finds
     * nothing. */
    char padded[700];
    snprintf(padded, sizeof padded, "  %s \n", root);
    assert_true(guard_discover_wasm("srv", padded, NULL, &path, &err));
    assert_string_equal(path, want);
    free(path);
    assert_true(guard_discover_wasm("other", root, NULL, &path, &err));
    assert_null(path);
    assert_true(guard_discover_wasm("srv", NULL, NULL, &path, &err));
    assert_null(path);

    /* Extension match is case-insensitive. */
    snprintf(want, sizeof want, "%s/b.wasm", sub);
    unlink(want);
    assert_true(guard_discover_wasm("srv", root, NULL, &path, &err));
    snprintf(want, sizeof want, "%s/c.WASM", sub);
    assert_string_equal(path, want);
    free(path);
    rm_rf(root);
}

static void test_discovery_github_default_file(void **state)
{
    (void)state;
    char root[] = "/tmp/flowgate-discover-XXXXXX";
    assert_non_null(mkdtemp(root));
    touch(root, "00-github-guard.wasm");
    char def[600];
    snprintf(def, sizeof def, "%s/00-github-guard.wasm", root);
    mkdir_in(root, "github");
    char sub[600];
    snprintf(sub, sizeof sub, "%s/github", root);
    touch(sub, "z.wasm");
    char *path = NULL;
    err_t err = {{0}};
    /* Unset variable: the default file. */
    assert_true(guard_discover_wasm("github", NULL, def, &path, &err));
    assert_string_equal(path, def);
    free(path);
    /* Set: the default is still tried first. */
    assert_true(guard_discover_wasm("github", root, def, &path, &err));
    assert_string_equal(path, def);
    free(path);
    /* Set but empty: the default is skipped, and nothing else is searched. */
    assert_true(guard_discover_wasm("github", "", def, &path, &err));
    assert_null(path);
    /* Only for server "github". */
    assert_true(guard_discover_wasm("gitlab", NULL, def, &path, &err));
    assert_null(path);
    /* A missing default falls through to the directory. */
    unlink(def);
    assert_true(guard_discover_wasm("github", root, def, &path, &err));
    char want[700];
    snprintf(want, sizeof want, "%s/z.wasm", sub);
    assert_string_equal(path, want);
    free(path);
    rm_rf(root);
}

/* ---- selection ----------------------------------------------------------- */

typedef struct sel {
    log_capture_t log;
    guard_wasm_opts_t opts;
    guard_choice_t c;
} sel_t;

static int sel_setup(void **state)
{
    sel_t *s = calloc(1, sizeof *s);
    log_capture_init(&s->log);
    s->opts.log.fn = log_capture_fn;
    s->opts.log.ud = &s->log;
    s->c.server_id = "srv";
    s->c.has_policy = true;
    s->c.wasm_opts = &s->opts;
    *state = s;
    return 0;
}

static int sel_teardown(void **state)
{
    sel_t *s = *state;
    log_capture_free(&s->log);
    free(s);
    return 0;
}

static guard_t *choose(sel_t *s)
{
    err_t err = {{0}};
    guard_t *g = guard_choose(&s->c, &err);
    assert_non_null(g);
    return g;
}

static char *accept_star[] = {"*"};

static void test_write_sink_policy_gives_write_sink(void **state)
{
    sel_t *s = *state;
    difc_write_sink_t ws = {.accept = {.items = accept_star, .len = 1}};
    s->c.write_sink = &ws;
    s->c.guard_name = "ignored";
    guard_t *g = choose(s);
    assert_string_equal(g->type, "write-sink");
    guard_close(g);
    assert_int_equal(s->log.n, 0);
}

static void test_unloadable_wasm_falls_back_with_a_warning(void **state)
{
    sel_t *s = *state;
    difc_write_sink_t ws = {.accept = {.items = accept_star, .len = 1}};
    s->c.discovered_wasm = "/nonexistent/flowgate/guard.wasm";
    s->c.write_sink = &ws;
    guard_t *g = choose(s);
    assert_string_equal(g->type, "write-sink");
    guard_close(g);
    assert_true(log_capture_find(&s->log, "/nonexistent/flowgate/guard.wasm") >= 0);
    assert_true(log_capture_find(&s->log, "failed to read WASM file") >= 0);
    assert_int_equal(s->log.levels[0], GUARD_LOG_WARN);
    /* No write-sink either: noop. */
    s->c.write_sink = NULL;
    g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
}

static void test_configured_guard_types(void **state)
{
    sel_t *s = *state;
    s->c.guard_name = "g";
    s->c.guard_entry_exists = true;
    const char *noop_types[] = {"", "noop", NULL};
    for (int i = 0; i < 3; i++) {
        s->c.guard_type = noop_types[i];
        guard_t *g = choose(s);
        assert_true(guard_is_noop(g));
        guard_close(g);
    }
    assert_int_equal(s->log.n, 0);

    s->c.guard_type = "wasm";
    s->c.guard_path = NULL;
    guard_t *g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_true(log_capture_find(&s->log, "wasm guard 'g' requires a 'path' field") >= 0);

    s->c.guard_path = "/nonexistent/flowgate/g.wasm";
    g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_true(log_capture_find(&s->log, "failed to read WASM file") >= 0);

    s->c.guard_type = "custom";
    g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_true(log_capture_find(&s->log, "unknown guard type: custom") >= 0);

    /* A name without a guards entry goes through guard_create. */
    s->c.guard_entry_exists = false;
    s->c.guard_name = "mystery";
    g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_true(log_capture_find(&s->log, "unknown guard type: mystery") >= 0);
}

/* Step 1 with a real module: a discovered WASM file that loads wins over a
 * write-sink and is named after the server; a configured wasm guard is
 * named after its guard key. */
static void test_discovered_wasm_guard_is_chosen_first(void **state)
{
    sel_t *s = *state;
    char root[] = "/tmp/flowgate-choose-XXXXXX";
    assert_non_null(mkdtemp(root));
    mkdir_in(root, "srv");
    char dst[1400], cmd[6000];
    snprintf(dst, sizeof dst, "%s/srv/guard.wasm", root);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", fixture_path("behave.wasm"), dst);
    assert_int_equal(system(cmd), 0);
    char *path = NULL;
    err_t err = {{0}};
    assert_true(guard_discover_wasm("srv", root, NULL, &path, &err));
    assert_string_equal(path, dst);

    difc_write_sink_t ws = {.accept = {.items = accept_star, .len = 1}};
    s->c.discovered_wasm = path;
    s->c.write_sink = &ws;
    guard_t *g = choose(s);
    assert_string_equal(g->type, "wasm");
    assert_string_equal(guard_name(g), "srv");
    assert_false(guard_is_noop(g));
    guard_close(g);

    s->c.discovered_wasm = NULL;
    s->c.write_sink = NULL;
    s->c.guard_name = "mine";
    s->c.guard_entry_exists = true;
    s->c.guard_type = "wasm";
    s->c.guard_path = path;
    g = choose(s);
    assert_string_equal(g->type, "wasm");
    assert_string_equal(guard_name(g), "mine");
    guard_close(g);
    assert_int_equal(s->log.n, 0);
    free(path);
    rm_rf(root);
}

static void test_nothing_configured_gives_noop(void **state)
{
    sel_t *s = *state;
    s->c.has_policy = false;
    guard_t *g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_int_equal(s->log.n, 0);
}

static void test_non_noop_without_policy_becomes_noop(void **state)
{
    sel_t *s = *state;
    difc_write_sink_t ws = {.accept = {.items = accept_star, .len = 1}};
    s->c.write_sink = &ws;
    s->c.has_policy = false;
    guard_t *g = choose(s);
    assert_true(guard_is_noop(g));
    guard_close(g);
    assert_true(log_capture_find(&s->log, "has no policy") >= 0);
}

int main(void)
{
#define S(fn) cmocka_unit_test_setup_teardown(fn, sel_setup, sel_teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unknown_server_gets_the_shared_noop),
        cmocka_unit_test(test_set_get_replace_and_free_close_guards),
        cmocka_unit_test(test_discovery_picks_first_wasm_file_by_name),
        cmocka_unit_test(test_discovery_github_default_file),
        S(test_write_sink_policy_gives_write_sink),
        S(test_unloadable_wasm_falls_back_with_a_warning),
        S(test_configured_guard_types),
        S(test_discovered_wasm_guard_is_chosen_first),
        S(test_nothing_configured_gives_noop),
        S(test_non_noop_without_policy_becomes_noop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
