/*
 * test_demo_config.c — examples/demo.toml and examples/demo.json load with
 * Flowgate's configuration loader, say the same thing, select the demo guard
 * for the demo server, and point at what the build produces.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "gateway/config.h"

static gw_config_t *load_toml(void)
{
    gw_config_t *cfg = NULL;
    err_t err;
    if (!gw_config_load_toml_file(EXAMPLES_DIR "/demo.toml", NULL, &cfg, &err))
        fail_msg("demo.toml: %s", err.msg);
    return cfg;
}

static gw_config_t *load_json(void)
{
    FILE *f = fopen(EXAMPLES_DIR "/demo.json", "r");
    assert_non_null(f);
    gw_config_t *cfg = NULL;
    err_t err;
    bool ok = gw_config_load_json_stream(f, NULL, &cfg, &err);
    fclose(f);
    if (!ok)
        fail_msg("demo.json: %s", err.msg);
    return cfg;
}

/* A path in the configs is relative to the repository root with build/ as
 * the build directory (scripts/run.sh); it must name a file this build made. */
static void assert_built(const char *path)
{
    assert_non_null(path);
    assert_memory_equal(path, "build/", 6);
    char real[1024];
    snprintf(real, sizeof real, "%s/%s", BUILD_DIR, path + 6);
    if (access(real, R_OK) != 0)
        fail_msg("%s does not exist in this build (%s)", path, real);
}

static void check_demo(const gw_config_t *cfg)
{
    assert_int_equal(cfg->server_count, 1);
    const gw_server_config_t *srv = gw_config_find_server(cfg, "demo");
    assert_non_null(srv);
    assert_int_equal(srv->kind, GW_SERVER_STDIO);
    assert_built(srv->command);
    assert_string_equal(gw_strmap_get(&srv->env, "DEMO_SERVER_LOG"), "build/demo-server-calls.log");

    /* The server names its guard; the guard is a wasm module built here. */
    assert_string_equal(srv->guard, "demo");
    const gw_guard_config_t *g = gw_config_find_guard(cfg, "demo");
    assert_non_null(g);
    assert_string_equal(g->type, "wasm");
    assert_built(g->path);

    /* The policy label_agent receives. */
    json_t *want = json_loads("{\"allow-only\":{\"repos\":\"public\",\"min-integrity\":\"none\"}}", 0, NULL);
    if (!json_equal(srv->guard_policies, want)) {
        char *got = json_dumps(srv->guard_policies, JSON_COMPACT);
        fail_msg("guard policies %s", got ? got : "(none)");
    }
    json_decref(want);

    assert_string_equal(cfg->gateway.agent_id, "demo-agent");
    assert_int_equal(cfg->gateway.port, 8000);
}

static void test_demo_toml_selects_the_demo_guard(void **state)
{
    (void)state;
    gw_config_t *cfg = load_toml();
    check_demo(cfg);
    gw_config_free(cfg);
}

static void test_demo_json_selects_the_demo_guard(void **state)
{
    (void)state;
    gw_config_t *cfg = load_json();
    check_demo(cfg);
    gw_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_toml_selects_the_demo_guard),
        cmocka_unit_test(test_demo_json_selects_the_demo_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
