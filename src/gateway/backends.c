/*
 * backends.c — the registry of configured MCP servers: building each
 * connection's mcp config from gw_server_config_t, startup discovery
 * (spec §3.5), the per-session stdio pool (spec §3.1) and the tool indexes
 * tools/list and tools/call read.
 *
 * Departure from upstream (self-healing, spec README): a session's stdio
 * process that died is restarted by the mcp layer on its next use instead of
 * failing until the pool evicts it.
 */
#include "gateway/gateway_internal.h"
#include "gateway/oidc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

extern char **environ;

static void hook_rpc(void *ud, const mcp_rpc_log_t *r)
{
    (void)ud;
    const char *tool = NULL;
    if (r->direction == MCP_DIR_OUT && r->message && r->method && !strcmp(r->method, "tools/call"))
        tool = json_string_value(json_object_get(json_object_get(r->message, "params"), "name"));
    gw_log_rpc(r->server_id, r->direction == MCP_DIR_OUT ? "OUT" : "IN", r->method, tool,
               (json_t *)r->message, r->error);
}

static void hook_stderr(void *ud, const char *id, const char *line, size_t len)
{
    (void)ud;
    gw_log_server(id, GW_LOG_INFO, "backend", "[stderr] %.*s", (int)len, line);
}

static void hook_log(void *ud, const char *id, mcp_log_level_t level, const char *msg)
{
    (void)ud;
    gw_level_t l = level == MCP_LOG_ERROR ? GW_LOG_ERROR
                   : level == MCP_LOG_WARN ? GW_LOG_WARN
                   : level == MCP_LOG_DEBUG ? GW_LOG_DEBUG
                                            : GW_LOG_INFO;
    gw_log_server(id, l, "backend", "%s", msg);
}

static void hook_notification(void *ud, const char *id, const json_t *n)
{
    (void)ud;
    if (gw_debug_enabled("backend:notify")) {
        char *t = json_dumps(n, JSON_COMPACT);
        gw_debug("backend:notify", "%s: %s", id, t ? t : "");
        free(t);
    }
}

/* The child's environment: ours plus the server's env map (spec §2.4). */
static char **build_env(const gw_server_config_t *c)
{
    if (c->env.count == 0)
        return NULL;
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + c->env.count + 1, sizeof *envp);
    if (!envp)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(environ[i], '=');
        size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
        bool overridden = false;
        for (size_t j = 0; j < c->env.count; j++)
            if (strlen(c->env.items[j].key) == nl && !strncmp(c->env.items[j].key, environ[i], nl))
                overridden = true;
        if (!overridden)
            envp[k++] = strdup(environ[i]);
    }
    for (size_t j = 0; j < c->env.count; j++) {
        char *kv = NULL;
        if (asprintf(&kv, "%s=%s", c->env.items[j].key, c->env.items[j].value) >= 0)
            envp[k++] = kv;
    }
    envp[k] = NULL;
    return envp;
}

static void free_strv(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

/* mcp dynamic-headers hook of a github-oidc backend: the bearer token for
 * its audience, fetched or cached (oidc.h). Runs before every request. */
static bool oidc_headers(void *ud, const char *server_id, mcp_http_add_header_fn add, void *hdrs, err_t *err)
{
    gw_backend_t *b = ud;
    (void)server_id;
    char *jwt = gw_oidc_token(b->oidc, b->oidc_audience, err);
    if (!jwt)
        return false;
    char *line = NULL;
    bool ok = asprintf(&line, "Authorization: Bearer %s", jwt) >= 0 && add(hdrs, line);
    if (!ok)
        err_set(err, "out of memory");
    free(line);
    free(jwt);
    return ok;
}

/* spec §3.2: inside a container, a stdio server that is not itself a
 * container runs with the gateway's own privileges, mounts and network
 * (the docker socket, often): say so, once per server, at startup. */
static void warn_uncontained(const char *id, const char *command, bool in_container)
{
    const char *base = strrchr(command, '/');
    base = base ? base + 1 : command;
    if (!in_container || strcmp(base, "docker") == 0)
        return;
    gw_log(GW_LOG_WARN, "startup",
           "Security warning: server '%s' runs '%s' directly inside the gateway's container, without container "
           "isolation; it shares the gateway's filesystem, network and credentials",
           id, command);
}

bool gw_backends_init(gw_server_t *s, err_t *err)
{
    bool in_container = gw_running_in_container(); /* reads /proc: once, not per server */
    s->nbackends = s->cfg->server_count;
    s->backends = calloc(s->nbackends ? s->nbackends : 1, sizeof *s->backends);
    if (!s->backends)
        return err_set(err, "out of memory");
    for (size_t i = 0; i < s->nbackends; i++) {
        gw_backend_t *b = &s->backends[i];
        const gw_server_config_t *c = &s->cfg->servers[i];
        b->cfg = c;
        b->id = c->id;
        pthread_mutex_init(&b->lock, NULL);
        mcp_backend_config_t *m = &b->mcfg;
        m->id = c->id;
        m->startup_timeout_ms = s->cfg->gateway.startup_timeout * 1000;
        m->shutdown_grace_ms = 1000; /* per step: close stdin, SIGTERM, SIGKILL */
        m->client_name = "awmg";
        m->client_version = gw_version() + 1;
        m->hooks.on_rpc = hook_rpc;
        m->hooks.on_stderr = hook_stderr;
        m->hooks.on_log = hook_log;
        m->hooks.on_notification = hook_notification;
        if (c->kind == GW_SERVER_STDIO) {
            m->kind = MCP_BACKEND_STDIO;
            b->argv = gw_server_launch_argv(c, NULL, NULL, err);
            if (!b->argv)
                return err_prefix(err, "server '%s'", c->id);
            b->envp = build_env(c);
            warn_uncontained(c->id, b->argv[0], in_container);
            m->stdio.command = b->argv[0];
            m->stdio.args = (const char *const *)(b->argv + 1);
            m->stdio.env = (const char *const *)b->envp;
            m->stdio.cwd = NULL;
        } else {
            m->kind = MCP_BACKEND_HTTP;
            m->http.url = c->url;
            m->http.connect_timeout_ms = c->connect_timeout > 0 ? c->connect_timeout * 1000 : 30000;
            if (c->auth_type && !strcmp(c->auth_type, "github-oidc")) {
                if (!s->oidc && !(s->oidc = gw_oidc_new(getenv("ACTIONS_ID_TOKEN_REQUEST_URL"),
                                                         getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
                                                         m->http.connect_timeout_ms, err)))
                    return err_prefix(err, "server '%s'", c->id);
                b->oidc = s->oidc;
                b->oidc_audience = c->auth_audience ? c->auth_audience : c->url;
                m->http.dynamic_headers = oidc_headers;
                m->http.dynamic_headers_ud = b;
            }
            b->headers = calloc(c->headers.count + 1, sizeof *b->headers);
            if (!b->headers)
                return err_set(err, "out of memory");
            size_t nh = 0;
            for (size_t j = 0; j < c->headers.count; j++) {
                /* the OIDC bearer token overrides a static Authorization (§3.3) */
                if (b->oidc_audience && !strcasecmp(c->headers.items[j].key, "Authorization"))
                    continue;
                if (asprintf(&b->headers[nh++], "%s: %s", c->headers.items[j].key, c->headers.items[j].value) < 0)
                    return err_set(err, "out of memory");
            }
            m->http.headers = (const char *const *)b->headers;
        }
        b->startup = mcp_backend_new(m, err);
        if (!b->startup)
            return err_prefix(err, "server '%s'", c->id);
    }
    return true;
}

static bool tool_allowed(const gw_server_config_t *c, const char *name)
{
    if (!c->has_tools || c->tools.count == 0)
        return true;
    for (size_t i = 0; i < c->tools.count; i++)
        if (!strcmp(c->tools.items[i], "*") || !strcmp(c->tools.items[i], name))
            return true;
    return false;
}

json_t *gw_normalize_schema(json_t *schema)
{
    if (!json_is_object(schema))
        return json_pack("{s:s,s:{}}", "type", "object", "properties");
    json_t *type = json_object_get(schema, "type");
    json_t *props = json_object_get(schema, "properties");
    json_t *out = json_deep_copy(schema);
    if (!type) {
        if (props)
            json_object_set_new(out, "type", json_string("object"));
        else {
            json_decref(out);
            return json_pack("{s:s,s:{}}", "type", "object", "properties");
        }
    } else if (json_is_string(type) && !strcmp(json_string_value(type), "object") && !props &&
               !json_object_get(schema, "additionalProperties")) {
        json_object_set_new(out, "properties", json_object());
    }
    return out;
}

typedef struct {
    gw_server_t *s;
    size_t i;
} discover_arg_t;

static void *discover_one(void *arg)
{
    discover_arg_t *a = arg;
    gw_server_t *s = a->s;
    gw_backend_t *b = &s->backends[a->i];
    err_t err = {{0}};
    int64_t deadline = mcp_now_ms() + (int64_t)s->cfg->gateway.startup_timeout * 1000 + 5000;
    gw_log_server(b->id, GW_LOG_INFO, "backend", "Launching MCP backend server: %s", b->id);
    json_t *tools = NULL;
    if (!mcp_backend_start(b->startup, &err) ||
        mcp_backend_list_tools(b->startup, deadline, NULL, &tools, &err) != MCP_CALL_OK) {
        char tail[2048];
        mcp_backend_stderr_tail(b->startup, tail, sizeof tail);
        gw_log_md(GW_LOG_ERROR, "backend", "Failed to register tools from %s: %s%s%s", b->id, err.msg,
                  tail[0] ? "\nstderr:\n" : "", tail);
        b->status = GW_BACKEND_ERROR;
        b->last_error = strdup(err.msg);
        b->tools = json_array();
        return NULL;
    }
    json_t *kept = json_array();
    size_t k;
    json_t *t;
    json_array_foreach(tools, k, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        if (name && tool_allowed(b->cfg, name))
            json_array_append(kept, t);
    }
    json_decref(tools);
    b->tools = kept;
    /* Prompts (unified mode only) when the backend declares them. */
    json_t *caps = mcp_backend_capabilities(b->startup);
    if (s->mode == GW_MODE_UNIFIED && json_object_get(caps, "prompts")) {
        json_t *prompts = NULL;
        if (mcp_backend_list_all(b->startup, "prompts/list", "prompts", deadline, NULL, &prompts, &err) ==
            MCP_CALL_OK)
            b->prompts = prompts;
    }
    json_decref(caps);
    b->status = GW_BACKEND_RUNNING;
    b->started_at = time(NULL);
    gw_log_tools(b->id, b->tools);
    gw_log_server(b->id, GW_LOG_INFO, "backend", "Registered %zu tools from %s", json_array_size(b->tools),
                  b->id);
    return NULL;
}

static int tool_cmp(const void *a, const void *b)
{
    return strcmp(((const gw_tool_t *)a)->exposed, ((const gw_tool_t *)b)->exposed);
}

static json_t *tool_def(const gw_backend_t *b, json_t *t, const char *exposed)
{
    const char *desc = json_string_value(json_object_get(t, "description"));
    char *d = NULL;
    if (asprintf(&d, "[%s] %s", b->id, desc ? desc : "") < 0)
        return NULL;
    json_t *def = json_object();
    json_object_set_new(def, "name", json_string(exposed));
    json_object_set_new(def, "description", json_string(d));
    free(d);
    json_object_set_new(def, "inputSchema", gw_normalize_schema(json_object_get(t, "inputSchema")));
    json_t *ann = json_object_get(t, "annotations");
    if (json_is_object(ann))
        json_object_set(def, "annotations", ann);
    return def;
}

static void add_tools(gw_toolset_t *ts, const gw_server_t *s, size_t bi, bool prefixed)
{
    const gw_backend_t *b = &s->backends[bi];
    size_t i;
    json_t *t;
    json_array_foreach(b->tools, i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        gw_tool_t *x = &ts->tools[ts->count];
        if (prefixed) {
            if (asprintf(&x->exposed, "%s___%s", b->id, name) < 0)
                continue;
        } else {
            x->exposed = strdup(name);
        }
        x->def = tool_def(b, t, x->exposed);
        x->bare = json_string_value(json_object_get(t, "name"));
        x->backend = (int)bi;
        ts->count++;
    }
}

static void build_indexes(gw_server_t *s)
{
    if (s->mode == GW_MODE_ROUTED) {
        s->nroutes = s->nbackends;
        s->routes = calloc(s->nroutes ? s->nroutes : 1, sizeof *s->routes);
        for (size_t i = 0; i < s->nbackends; i++) {
            gw_toolset_t *ts = &s->routes[i];
            ts->tools = calloc(json_array_size(s->backends[i].tools) + 1, sizeof *ts->tools);
            add_tools(ts, s, i, false);
            qsort(ts->tools, ts->count, sizeof *ts->tools, tool_cmp);
            ts->prompts = json_array();
        }
        return;
    }
    s->nroutes = 1;
    s->routes = calloc(1, sizeof *s->routes);
    size_t total = 0;
    for (size_t i = 0; i < s->nbackends; i++)
        total += json_array_size(s->backends[i].tools);
    gw_toolset_t *ts = &s->routes[0];
    ts->tools = calloc(total + 1, sizeof *ts->tools);
    ts->prompts = json_array();
    for (size_t i = 0; i < s->nbackends; i++) {
        add_tools(ts, s, i, true);
        size_t k;
        json_t *p;
        json_array_foreach(s->backends[i].prompts, k, p) {
            json_t *c = json_deep_copy(p);
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *desc = json_string_value(json_object_get(p, "description"));
            char *n = NULL, *d = NULL;
            if (asprintf(&n, "%s___%s", s->backends[i].id, name ? name : "") >= 0)
                json_object_set_new(c, "name", json_string(n));
            if (asprintf(&d, "[%s] %s", s->backends[i].id, desc ? desc : "") >= 0)
                json_object_set_new(c, "description", json_string(d));
            free(n);
            free(d);
            json_array_append_new(ts->prompts, c);
        }
    }
    qsort(ts->tools, ts->count, sizeof *ts->tools, tool_cmp);
}

void gw_backends_discover(gw_server_t *s)
{
    discover_arg_t *args = calloc(s->nbackends + 1, sizeof *args);
    pthread_t *th = calloc(s->nbackends + 1, sizeof *th);
    bool *started = calloc(s->nbackends + 1, sizeof *started);
    bool seq = s->opt->sequential_launch || s->cfg->sequential_launch;
    for (size_t i = 0; i < s->nbackends; i++) {
        args[i].s = s;
        args[i].i = i;
        if (seq || pthread_create(&th[i], NULL, discover_one, &args[i]) != 0)
            discover_one(&args[i]);
        else
            started[i] = true;
    }
    for (size_t i = 0; i < s->nbackends; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    free(args);
    free(th);
    free(started);
    size_t failed = 0, total = 0;
    for (size_t i = 0; i < s->nbackends; i++) {
        failed += s->backends[i].status == GW_BACKEND_ERROR;
        total += json_array_size(s->backends[i].tools);
    }
    build_indexes(s);
    gw_log(GW_LOG_INFO, "startup", "Tool registration complete: %zu succeeded, %zu failed, total tools=%zu",
           s->nbackends - failed, failed, total);
    if (failed)
        gw_log_md(GW_LOG_WARN, "startup",
                  "Tool registration incomplete: %zu of %zu backends failed — agents will not see tools from these servers",
                  failed, s->nbackends);
}

const gw_tool_t *gw_toolset_find(const gw_toolset_t *ts, const char *name)
{
    size_t lo = 0, hi = ts->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ts->tools[mid].exposed, name);
        if (c == 0)
            return &ts->tools[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

mcp_backend_t *gw_backend_conn(gw_server_t *s, int bi, const char *gsid, err_t *err)
{
    gw_backend_t *b = &s->backends[bi];
    if (b->mcfg.kind == MCP_BACKEND_HTTP)
        return b->startup;
    pthread_mutex_lock(&b->lock);
    for (size_t i = 0; i < b->npool; i++) {
        if (!strcmp(b->pool[i].gsid, gsid)) {
            mcp_backend_t *c = b->pool[i].conn;
            pthread_mutex_unlock(&b->lock);
            return c;
        }
    }
    gw_pool_entry_t *np = realloc(b->pool, (b->npool + 1) * sizeof *np);
    if (!np) {
        pthread_mutex_unlock(&b->lock);
        err_set(err, "out of memory");
        return NULL;
    }
    b->pool = np;
    mcp_backend_t *c = mcp_backend_new(&b->mcfg, err);
    char *g = strdup(gsid);
    if (!c || !g) {
        pthread_mutex_unlock(&b->lock);
        free(g);
        if (c)
            mcp_backend_free(c);
        return NULL;
    }
    b->pool[b->npool].gsid = g;
    b->pool[b->npool].conn = c;
    b->npool++;
    pthread_mutex_unlock(&b->lock);
    gw_log_server(b->id, GW_LOG_INFO, "backend", "New session connection for %s", b->id);
    return c;
}

static void *stop_one(void *arg)
{
    mcp_backend_stop(arg);
    return NULL;
}

/* Stops every connection at once: each stop may wait out the close-stdin /
 * SIGTERM grace periods, and shutdown should take the longest of them, not
 * their sum. */
void gw_backends_stop(gw_server_t *s)
{
    size_t n = 0, cap = 0;
    mcp_backend_t **all = NULL;
    for (size_t i = 0; i < s->nbackends; i++) {
        gw_backend_t *b = &s->backends[i];
        pthread_mutex_lock(&b->lock);
        size_t need = n + b->npool + 1;
        if (need > cap) {
            cap = need * 2;
            mcp_backend_t **na = realloc(all, cap * sizeof *na);
            if (!na) {
                pthread_mutex_unlock(&b->lock);
                break;
            }
            all = na;
        }
        if (b->startup)
            all[n++] = b->startup;
        for (size_t j = 0; j < b->npool; j++)
            all[n++] = b->pool[j].conn;
        pthread_mutex_unlock(&b->lock);
    }
    pthread_t *th = calloc(n ? n : 1, sizeof *th);
    bool *ok = calloc(n ? n : 1, sizeof *ok);
    for (size_t i = 0; i < n; i++) {
        if (th && ok && pthread_create(&th[i], NULL, stop_one, all[i]) == 0)
            ok[i] = true;
        else
            mcp_backend_stop(all[i]);
    }
    for (size_t i = 0; th && ok && i < n; i++)
        if (ok[i])
            pthread_join(th[i], NULL);
    free(th);
    free(ok);
    free(all);
}

void gw_backends_free(gw_server_t *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        for (size_t j = 0; j < s->routes[i].count; j++) {
            free(s->routes[i].tools[j].exposed);
            json_decref(s->routes[i].tools[j].def);
        }
        free(s->routes[i].tools);
        json_decref(s->routes[i].prompts);
    }
    free(s->routes);
    s->routes = NULL;
    for (size_t i = 0; i < s->nbackends; i++) {
        gw_backend_t *b = &s->backends[i];
        if (b->startup)
            mcp_backend_free(b->startup);
        for (size_t j = 0; j < b->npool; j++) {
            mcp_backend_free(b->pool[j].conn);
            free(b->pool[j].gsid);
        }
        free(b->pool);
        free_strv(b->argv);
        free_strv(b->envp);
        free_strv(b->headers);
        free(b->last_error);
        json_decref(b->tools);
        json_decref(b->prompts);
        pthread_mutex_destroy(&b->lock);
    }
    free(s->backends);
    s->backends = NULL;
    gw_oidc_free(s->oidc);
    s->oidc = NULL;
}
