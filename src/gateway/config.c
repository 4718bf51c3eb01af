/*
 * config.c — the gw_config_t object: construction helpers shared by the
 * loaders, freeing, look-ups, the launch-time argv, and the message formats
 * of gateway.md §2.8.
 */
#include "gateway/config_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static const char *env_getenv(const char *name, void *ud)
{
    (void)ud;
    return getenv(name);
}

void cfg_ctx_init(cfg_ctx_t *ctx, const gw_config_options_t *opts)
{
    ctx->getenv = opts && opts->getenv ? opts->getenv : env_getenv;
    ctx->ud = opts ? opts->getenv_ud : NULL;
    ctx->version = opts && opts->version ? opts->version : "dev";
    ctx->containerized_only = opts && opts->containerized_only;
}

const char *cfg_getenv(const cfg_ctx_t *ctx, const char *name)
{
    return ctx->getenv(name, ctx->ud);
}

/* ------------------------------------------------------------ messages */

void cfg_fmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, size, fmt, ap);
    va_end(ap);
}

bool cfg_field_error(err_t *err, const char *path, const char *suggestion, const char *fmt, ...)
{
    char msg[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (suggestion)
        return err_set(err, "Configuration error at %s: %s\nSuggestion: %s", path, msg, suggestion);
    return err_set(err, "Configuration error at %s: %s", path, msg);
}

bool cfg_schema_error(err_t *err, const cfg_ctx_t *ctx, const char *location, const char *error,
                      const char *details)
{
    /* err_t holds ERR_MSG_MAX bytes: the facts come first so that only the
     * reference links at the end can be cut. */
    return err_set(err,
                   "Configuration validation error (MCP Gateway version: %s):\n\n"
                   "Location: %s\nError: %s%s%s\n\n"
                   "Please check your configuration against the MCP Gateway specification at:\n"
                   "https://github.com/github/gh-aw/blob/main/docs/src/content/docs/reference/"
                   "mcp-gateway.md",
                   ctx->version, location && *location ? location : "<root>", error,
                   details ? "\nDetails: " : "", details ? details : "");
}

bool cfg_undefined_var_error(err_t *err, const char *name)
{
    return err_set(err,
                   "Configuration error at configuration: undefined environment variable "
                   "referenced: %s\nSuggestion: Set the environment variable %s before starting "
                   "the gateway",
                   name, name);
}

/* ------------------------------------------------------------ containers */

char *cfg_strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool cfg_strlist_push(gw_strlist_t *l, const char *s)
{
    char *copy = strdup(s);
    if (!copy)
        return false;
    char **items = realloc(l->items, (l->count + 2) * sizeof *items);
    if (!items) {
        free(copy);
        return false;
    }
    l->items = items;
    l->items[l->count++] = copy;
    l->items[l->count] = NULL; /* keeps the list usable as an argv tail */
    return true;
}

void cfg_strlist_free(gw_strlist_t *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->count = 0;
}

bool cfg_strmap_set(gw_strmap_t *m, const char *key, const char *value)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(m->items[mid].key, key);
        if (c == 0) {
            char *v = strdup(value);
            if (!v)
                return false;
            free(m->items[mid].value);
            m->items[mid].value = v;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    char *k = strdup(key), *v = strdup(value);
    gw_strpair_t *items = realloc(m->items, (m->count + 1) * sizeof *items);
    if (!k || !v || !items) {
        free(k);
        free(v);
        if (items)
            m->items = items;
        return false;
    }
    m->items = items;
    memmove(&m->items[lo + 1], &m->items[lo], (m->count - lo) * sizeof *items);
    m->items[lo].key = k;
    m->items[lo].value = v;
    m->count++;
    return true;
}

void cfg_strmap_free(gw_strmap_t *m)
{
    for (size_t i = 0; i < m->count; i++) {
        free(m->items[i].key);
        free(m->items[i].value);
    }
    free(m->items);
    m->items = NULL;
    m->count = 0;
}

const char *gw_strmap_get(const gw_strmap_t *map, const char *key)
{
    size_t lo = 0, hi = map->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(map->items[mid].key, key);
        if (c == 0)
            return map->items[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* ------------------------------------------------------------ the object */

gw_config_t *cfg_new(gw_config_source_t source)
{
    gw_config_t *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return NULL;
    cfg->source = source;
    gw_gateway_config_t *g = &cfg->gateway;
    g->port = GW_CONFIG_DEFAULT_PORT;
    g->startup_timeout = GW_CONFIG_DEFAULT_STARTUP_TIMEOUT;
    g->tool_timeout = GW_CONFIG_DEFAULT_TOOL_TIMEOUT;
    g->keepalive_interval = GW_CONFIG_DEFAULT_KEEPALIVE_INTERVAL;
    g->payload_size_threshold = GW_CONFIG_DEFAULT_PAYLOAD_SIZE_THRESHOLD;
    g->force_public_repos = true;
    g->payload_dir = strdup(GW_CONFIG_DEFAULT_PAYLOAD_DIR);
    g->payload_path_prefix = strdup("");
    if (!g->payload_dir || !g->payload_path_prefix) {
        gw_config_free(cfg);
        return NULL;
    }
    return cfg;
}

gw_server_config_t *cfg_add_server(gw_config_t *cfg, const char *id)
{
    gw_server_config_t *s = realloc(cfg->servers, (cfg->server_count + 1) * sizeof *s);
    if (!s)
        return NULL;
    cfg->servers = s;
    gw_server_config_t *srv = &s[cfg->server_count];
    memset(srv, 0, sizeof *srv);
    srv->id = strdup(id);
    if (!srv->id)
        return NULL;
    cfg->server_count++;
    srv->connect_timeout = GW_CONFIG_DEFAULT_CONNECT_TIMEOUT;
    srv->rate_limit_threshold = GW_CONFIG_DEFAULT_RATE_LIMIT_THRESHOLD;
    srv->rate_limit_cooldown = GW_CONFIG_DEFAULT_RATE_LIMIT_COOLDOWN;
    return srv;
}

gw_guard_config_t *cfg_add_guard(gw_config_t *cfg, const char *name)
{
    gw_guard_config_t *g = realloc(cfg->guards, (cfg->guard_count + 1) * sizeof *g);
    if (!g)
        return NULL;
    cfg->guards = g;
    gw_guard_config_t *gd = &g[cfg->guard_count];
    memset(gd, 0, sizeof *gd);
    gd->name = strdup(name);
    if (!gd->name)
        return NULL;
    cfg->guard_count++;
    return gd;
}

static void server_free(gw_server_config_t *s)
{
    free(s->id);
    free(s->type);
    free(s->command);
    cfg_strlist_free(&s->args);
    cfg_strmap_free(&s->env);
    free(s->container);
    free(s->working_directory);
    free(s->url);
    cfg_strmap_free(&s->headers);
    free(s->auth_type);
    free(s->auth_audience);
    cfg_strlist_free(&s->tools);
    free(s->registry);
    free(s->guard);
    json_decref(s->guard_policies);
    json_decref(s->tool_response_filters);
    gw_jq_set_free(s->jq_filters);
}

void gw_config_free(gw_config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->server_count; i++)
        server_free(&cfg->servers[i]);
    free(cfg->servers);
    for (size_t i = 0; i < cfg->guard_count; i++) {
        gw_guard_config_t *g = &cfg->guards[i];
        free(g->name);
        free(g->type);
        free(g->path);
        json_decref(g->config);
        json_decref(g->policy);
    }
    free(cfg->guards);
    gw_gateway_config_t *g = &cfg->gateway;
    free(g->domain);
    free(g->agent_id);
    free(g->payload_dir);
    free(g->payload_path_prefix);
    cfg_strlist_free(&g->trusted_bots);
    cfg_strlist_free(&g->sink_visibility_exempt_servers);
    free(g->otel.endpoint);
    cfg_strmap_free(&g->otel.headers);
    free(g->otel.trace_id);
    free(g->otel.span_id);
    free(g->otel.service_name);
    free(g->otel.signal_path);
    free(cfg->guards_mode);
    json_decref(cfg->custom_schemas);
    free(cfg);
}

const gw_server_config_t *gw_config_find_server(const gw_config_t *cfg, const char *id)
{
    for (size_t i = 0; cfg && id && i < cfg->server_count; i++)
        if (strcmp(cfg->servers[i].id, id) == 0)
            return &cfg->servers[i];
    return NULL;
}

const gw_guard_config_t *gw_config_find_guard(const gw_config_t *cfg, const char *name)
{
    for (size_t i = 0; cfg && name && i < cfg->guard_count; i++)
        if (strcmp(cfg->guards[i].name, name) == 0)
            return &cfg->guards[i];
    return NULL;
}

/* ------------------------------------------------------------ launch argv */

void gw_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **a = argv; *a; a++)
        free(*a);
    free(argv);
}

/* spec: gateway.md §2.4 — at launch every "-e NAME" without '=' becomes
 * "-e NAME=<value>" when NAME is set in the gateway's environment. */
char **gw_server_launch_argv(const gw_server_config_t *srv, gw_config_getenv_fn getenv_fn,
                             void *ud, err_t *err)
{
    if (!srv || srv->kind != GW_SERVER_STDIO || !srv->command || !*srv->command) {
        err_set(err, "server '%s' has no command to launch", srv && srv->id ? srv->id : "?");
        return NULL;
    }
    if (!getenv_fn)
        getenv_fn = env_getenv;
    char **argv = calloc(srv->args.count + 2, sizeof *argv);
    if (!argv)
        goto nomem;
    argv[0] = strdup(srv->command);
    if (!argv[0])
        goto nomem;
    for (size_t i = 0; i < srv->args.count; i++) {
        const char *a = srv->args.items[i];
        const char *prev = i > 0 ? srv->args.items[i - 1] : NULL;
        const char *val = NULL;
        if (prev && strcmp(prev, "-e") == 0 && *a && !strchr(a, '='))
            val = getenv_fn(a, ud);
        if (val) {
            size_t n = strlen(a) + strlen(val) + 2;
            argv[i + 1] = malloc(n);
            if (argv[i + 1])
                snprintf(argv[i + 1], n, "%s=%s", a, val);
        } else {
            argv[i + 1] = strdup(a);
        }
        if (!argv[i + 1])
            goto nomem;
    }
    return argv;
nomem:
    gw_argv_free(argv);
    err_set(err, "out of memory");
    return NULL;
}
