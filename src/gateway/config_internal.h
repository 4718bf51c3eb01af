/*
 * config_internal.h — pieces shared by the config loaders (config.c,
 * config_json.c, config_toml.c, config_rules.c, expand.c). Not for use
 * outside src/gateway/config*.c.
 */
#ifndef FLOWGATE_GATEWAY_CONFIG_INTERNAL_H
#define FLOWGATE_GATEWAY_CONFIG_INTERNAL_H

#include <stdio.h>

#include "gateway/config.h"
#include "gateway/jq_filter.h"

/* snprintf into an array where cutting a long path is acceptable; a real
 * function so that gcc's -Wformat-truncation does not flag every use. */
void cfg_fmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define CFG_FMT(buf, ...) cfg_fmt((buf), sizeof(buf), __VA_ARGS__)

/* The options with defaults filled in. */
typedef struct cfg_ctx {
    gw_config_getenv_fn getenv;
    void *ud;
    const char *version;
    bool containerized_only;
} cfg_ctx_t;

void cfg_ctx_init(cfg_ctx_t *ctx, const gw_config_options_t *opts);
const char *cfg_getenv(const cfg_ctx_t *ctx, const char *name);

/* ---- messages (gateway.md §2.8) ---- */

/* "Configuration error at <path>: <msg>[\nSuggestion: <suggestion>]".
 * Returns false. */
bool cfg_field_error(err_t *err, const char *path, const char *suggestion, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The multi-line schema error: location uses '/' ("<root>" for the root),
 * details may be NULL. Returns false. */
bool cfg_schema_error(err_t *err, const cfg_ctx_t *ctx, const char *location, const char *error,
                      const char *details);

/* ---- ${VAR} expansion (§2.6) ---- */

typedef enum cfg_expand_result {
    CFG_EXPAND_OK,
    CFG_EXPAND_UNDEFINED,   /* *undefined names the first undefined variable */
    CFG_EXPAND_NOMEM,
} cfg_expand_result_t;

/* Expands every ${NAME} (NAME = [A-Za-z_][A-Za-z0-9_]*) in s. On OK, *out is
 * a new malloc'd string. On UNDEFINED, undefined (size >= 256) gets the name. */
cfg_expand_result_t cfg_expand(const cfg_ctx_t *ctx, const char *s, char **out, char *undefined,
                               size_t undefined_size);

/* The upstream error text for an undefined variable. Returns false. */
bool cfg_undefined_var_error(err_t *err, const char *name);

/* ---- small owned containers ---- */

char *cfg_strdup(const char *s);
bool cfg_strlist_push(gw_strlist_t *l, const char *s);
void cfg_strlist_free(gw_strlist_t *l);
/* Adds or replaces key; map stays sorted. */
bool cfg_strmap_set(gw_strmap_t *m, const char *key, const char *value);
void cfg_strmap_free(gw_strmap_t *m);

gw_config_t *cfg_new(gw_config_source_t source);
/* Appends a zeroed server with defaults; returns it or NULL (no memory). */
gw_server_config_t *cfg_add_server(gw_config_t *cfg, const char *id);
gw_guard_config_t *cfg_add_guard(gw_config_t *cfg, const char *name);

/* ---- rules shared by JSON and TOML (§2.7) ---- */

/* The container image pattern of the schema. */
bool cfg_valid_container(const char *s);
/* domain: localhost, host.docker.internal, ${VAR}, or an RFC-1123 label. */
bool cfg_valid_domain(const char *s);
/* n lowercase hex digits. */
bool cfg_valid_hex(const char *s, size_t n);
bool cfg_all_zeros(const char *s);
/* ${NAME} with NAME = [A-Z_][A-Z0-9_]* (the schema's variable form). */
bool cfg_is_var_expr(const char *s);
/* Checks one mount "source:dest:mode"; path is used in the message. */
bool cfg_check_mount(const char *m, const char *path, err_t *err);
/* docker run argv of §2.4 into srv->args; srv->command = "docker". */
bool cfg_build_docker_args(gw_server_config_t *srv, const char *entrypoint,
                           const gw_strlist_t *mounts, const gw_strmap_t *env,
                           const gw_strlist_t *args, const gw_strlist_t *entrypoint_args,
                           err_t *err);
/* OpenTelemetry checks: https endpoint (or a variable form when
 * allow_var), trace/span IDs. prefix names the section in messages. */
bool cfg_check_otel(const gw_otel_config_t *o, const char *path, const char *trace_field,
                    const char *span_field, err_t *err);
/* Guard policies: finds the GuardPolicy in a server's guard-policies value
 * and validates it (see gw_config_server_policy). */
bool cfg_check_server_policy(const gw_server_config_t *srv, const char *path, err_t *err);
/* Validates a GuardPolicy object (guards.<name>.policy). */
bool cfg_check_guard_policy(const json_t *policy, const char *path, err_t *err);

#endif
