/*
 * fuzz_toml.c — arbitrary bytes as a TOML document: the parser (util/toml.h),
 * the conversions of its tree (toml_to_json, toml_datetime_format), and the
 * gateway's TOML config loader on the same bytes. Nothing may crash, leak,
 * recurse without bound, or return success together with an error.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gateway/config.h"
#include "util/toml.h"

static const char *no_env(const char *name, void *ud)
{
    (void)ud;
    return name[0] == 'A' ? "value" : NULL; /* some defined, some not */
}

static void walk(const toml_value_t *v)
{
    char buf[64];
    if (v->type == TOML_TABLE) {
        for (size_t i = 0; i < v->u.table.count; i++)
            walk(v->u.table.items[i].value);
    } else if (v->type == TOML_ARRAY) {
        for (size_t i = 0; i < v->u.array.count; i++)
            walk(v->u.array.items[i]);
    } else {
        toml_datetime_format(v, buf, sizeof buf);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    err_t err;
    toml_value_t *root = NULL;
    if (toml_parse(s, size, &root, &err)) {
        if (!root)
            abort(); /* success must come with a tree */
        walk(root);
        json_t *j = toml_to_json(root, &err);
        json_decref(j);
        toml_free(root);
    } else if (root || !err.msg[0]) {
        abort(); /* failure must come with a message and no tree */
    }

    gw_config_options_t opts = {.version = "fuzz", .getenv = no_env};
    gw_config_t *cfg = NULL;
    if (gw_config_load_toml(s, size, &opts, &cfg, &err))
        gw_config_free(cfg);
    return 0;
}
