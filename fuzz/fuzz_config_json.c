/*
 * fuzz_config_json.c — arbitrary bytes as the JSON configuration on stdin
 * (gateway/config.h): parsing, ${VAR} expansion, the schema and rule checks,
 * conversion, and the launch argv of every stdio server that loads. Nothing
 * may crash or leak, and a failure must leave the output untouched.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gateway/config.h"

static const char *fake_env(const char *name, void *ud)
{
    (void)ud;
    /* Defined for names starting with A-M; a value that itself holds a
     * reference exercises the second expansion pass. */
    if (name[0] == 'X')
        return "${A}";
    return name[0] >= 'A' && name[0] <= 'M' ? "v\"\\al" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    err_t err;
    gw_config_options_t opts = {.version = "fuzz", .getenv = fake_env,
                                .containerized_only = size > 0 && (data[0] & 1)};
    gw_config_t *sentinel = (gw_config_t *)&opts, *cfg = sentinel;
    if (!gw_config_load_json((const char *)data, size, &opts, &cfg, &err)) {
        if (cfg != sentinel || !err.msg[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < cfg->server_count; i++) {
        const gw_server_config_t *s = &cfg->servers[i];
        json_t *policy = NULL;
        if (gw_config_server_policy(s, &policy, &err))
            json_decref(policy);
        if (s->kind == GW_SERVER_STDIO) {
            char **argv = gw_server_launch_argv(s, fake_env, NULL, &err);
            gw_argv_free(argv);
        }
    }
    gw_config_free(cfg);
    return 0;
}
