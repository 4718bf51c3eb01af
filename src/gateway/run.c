/*
 * run.c — the life of a gateway process (spec: gateway §1.4, §4.16):
 * environment file, logs, config, overrides, backends, listener, the config
 * document on stdout, serving, and shutdown on SIGINT/SIGTERM or /close.
 *
 * Signals: SIGINT and SIGTERM are blocked before any thread exists, so every
 * thread inherits the mask and the main thread alone takes them with
 * sigtimedwait, alongside polling the stop flag /close sets. No handler runs
 * in signal context.
 */
#include "gateway/gateway_internal.h"
#include "gateway/pipeline_guard.h"
#include "gateway/resilience.h"
#include "gateway/tracing.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *mode_name(gw_mode_t m)
{
    return m == GW_MODE_ROUTED ? "ROUTED" : "UNIFIED";
}

static bool load_config(const gw_options_t *o, gw_config_t **cfg, err_t *err)
{
    gw_config_options_t copts = {0};
    copts.version = gw_version();
    if (o->config_stdin) {
        fprintf(stderr, "Reading configuration from stdin...\n");
        return gw_config_load_json_stream(stdin, &copts, cfg, err);
    }
    return gw_config_load_toml_file(o->config_file, &copts, cfg, err);
}

/* Fails with err for the features this build does not provide, so that a
 * deployment asking for them never runs without them (fail closed). */
static bool check_unsupported(const gw_options_t *o, err_t *err)
{
    if (o->tls_ca)
        return err_set(err, "failed to configure TLS: client certificates (--tls-ca, mTLS) are not supported by this build of flowgate");
    return true;
}

static char *read_pem(const char *path, err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(err, "failed to configure TLS: open %s: %s", path, strerror(errno)), NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while (m && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(f);
    if (!m || fclose(m) != 0 || !buf) {
        free(buf);
        return err_set(err, "failed to configure TLS: cannot read %s", path), NULL;
    }
    if (!strstr(buf, "-----BEGIN ")) {
        free(buf);
        return err_set(err, "failed to configure TLS: %s is not a PEM file", path), NULL;
    }
    return buf;
}

static void apply_overrides(gw_server_t *s, const gw_options_t *o)
{
    gw_gateway_config_t *g = &s->cfg->gateway;
    /* spec §1.3: the flag wins; else an env value differing from the
     * default; else the config; else the default. */
    if (o->payload_dir_set || strcmp(o->payload_dir, GW_DEFAULT_PAYLOAD_DIR) != 0 || !g->payload_dir)
        s->payload_dir = o->payload_dir;
    else
        s->payload_dir = g->payload_dir;
    if (o->payload_path_prefix_set || *o->payload_path_prefix || !g->payload_path_prefix)
        s->payload_prefix = o->payload_path_prefix;
    else
        s->payload_prefix = g->payload_path_prefix;
    if (o->payload_size_threshold_set || o->payload_size_threshold != GW_DEFAULT_PAYLOAD_THRESHOLD ||
        g->payload_size_threshold <= 0)
        s->payload_threshold = o->payload_size_threshold;
    else
        s->payload_threshold = (long)g->payload_size_threshold;
    /* §1.3 puts the URL-domain audit under the same rule, but it has no
     * config step: neither config format has the setting (upstream's
     * field is toml:"-" json:"-", and both loaders reject unknown keys).
     * So: the flag, else MCP_GATEWAY_URL_DOMAIN_AUDIT, else false, which
     * gw_cli_parse already decided. */
    s->url_domain_audit = o->url_domain_audit;
    if (s->url_domain_audit)
        gw_log(GW_LOG_INFO, "startup", "URL domain audit enabled: URL hosts in tool results go to %s",
               GW_OBSERVED_URL_DOMAINS_FILE);
    s->tool_timeout_s = g->tool_timeout > 0 ? g->tool_timeout : GW_DEFAULT_TOOL_TIMEOUT_S;
    const char *gm = o->guards_mode;
    if (!o->guards_mode_set && s->cfg->guards_mode)
        gm = s->cfg->guards_mode;
    s->guards_mode = strdup(gm);
    long ms = 0;
    const char *st = getenv("MCP_GATEWAY_SESSION_TIMEOUT");
    s->session_timeout_ms = (st && gw_parse_duration_ms(st, &ms) && ms > 0) ? ms : 6L * 3600 * 1000;
}

static void server_free(gw_server_t *s)
{
    gw_sessions_free(s);
    gw_resilience_free(s);
    gw_tracer_free(s->tracer); /* flushes queued spans, at most 5 s */
    gw_backends_free(s);
    gw_guards_free(s->guards);
    gw_config_free(s->cfg);
    free(s->agent_id);
    free(s->guards_mode);
    if (s->agents)
        difc_agents_free(s->agents);
    gw_hmac_free(s->hmac);
    free(s->tls_cert_pem);
    free(s->tls_key_pem);
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

static void shutdown_server(gw_server_t *s, const gw_options_t *o)
{
    gw_log_md(GW_LOG_INFO, "shutdown", "Shutting down...");
    gw_initiate_shutdown(s);
    /* Let stream workers finish (their backend calls fail once backends
     * are stopped), bounded by --shutdown-timeout. */
    int64_t until = mcp_now_ms() + (o->shutdown_timeout_ms > 0 ? o->shutdown_timeout_ms : 5000);
    pthread_mutex_lock(&s->lock);
    while (s->workers > 0 && mcp_now_ms() < until) {
        pthread_mutex_unlock(&s->lock);
        usleep(20000);
        pthread_mutex_lock(&s->lock);
    }
    pthread_mutex_unlock(&s->lock);
    gw_http_stop(s);
    /* Workers hold pointers into s: none may outlive it. */
    pthread_mutex_lock(&s->lock);
    while (s->workers > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    gw_resilience_stop(s);
    gw_backends_stop(s);
    gw_log(GW_LOG_INFO, "shutdown", "Gateway stopped");
}

int gw_run(const gw_options_t *o)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    err_t err = {{0}};
    if (o->env_file && !gw_env_load_file(o->env_file, &err)) {
        fprintf(stderr, "failed to load .env file: %s\n", err.msg);
        return 1;
    }
    gw_debug_set_patterns(NULL);
    if (!gw_log_open(o->log_dir, &err))
        fprintf(stderr, "Warning: %s; logging to stderr\n", err.msg);
    gw_log_md(GW_LOG_INFO, "startup", "MCPG Gateway version: %s", gw_version_string());
    gw_log_md(GW_LOG_INFO, "startup", "Starting MCPG with config: %s, listen: %s, log-dir: %s",
              o->config_stdin ? "stdin" : o->config_file, o->listen, o->log_dir);

    int status = 1;
    if (o->validate_env && !gw_validate_env(&err)) {
        fprintf(stderr, "environment validation failed: %s\n", err.msg);
        gw_log_md(GW_LOG_ERROR, "startup", "environment validation failed: %s", err.msg);
        gw_log_close();
        return 1;
    }
    if (!check_unsupported(o, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        gw_log_md(GW_LOG_ERROR, "startup", "%s", err.msg);
        gw_log_close();
        return 1;
    }
    gw_config_t *cfg = NULL;
    if (!load_config(o, &cfg, &err)) {
        gw_log_md(GW_LOG_ERROR, "config", "failed to load config: %s", err.msg);
        fprintf(stderr, "failed to load config: %s\n", err.msg);
        gw_log_close();
        return 1;
    }
    fprintf(stderr, "Loaded %zu MCP server(s)\n", cfg->server_count);

    gw_server_t s;
    memset(&s, 0, sizeof s);
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    s.cfg = cfg;
    s.opt = o;
    s.mode = o->mode;
    s.listen_fd = -1;
    atomic_init(&s.shutting_down, false);
    atomic_init(&s.closed, false);
    atomic_init(&s.stop_requested, false);
    apply_overrides(&s, o);
    s.agents = difc_agents_new();
    if (o->hmac_secret && *o->hmac_secret) {
        s.hmac = gw_hmac_new(o->hmac_secret);
        if (!s.hmac) {
            fprintf(stderr, "out of memory\n");
            goto out;
        }
        gw_log(GW_LOG_INFO, "startup", "HMAC request signing enabled on the MCP routes");
    }
    if (o->tls_cert) {
        s.tls_cert_pem = read_pem(o->tls_cert, &err);
        s.tls_key_pem = s.tls_cert_pem ? read_pem(o->tls_key, &err) : NULL;
        if (!s.tls_key_pem) {
            fprintf(stderr, "%s\n", err.msg);
            gw_log_md(GW_LOG_ERROR, "startup", "%s", err.msg);
            goto out;
        }
    }
    if (cfg->gateway.agent_id && *cfg->gateway.agent_id) {
        s.agent_id = strdup(cfg->gateway.agent_id);
        if (cfg->gateway.agent_id_from_api_key)
            gw_log(GW_LOG_WARN, "config", "apiKey is deprecated; use agentId");
    } else {
        /* Authentication is always on: no configured id means a random one
         * that only the stdout document reveals (spec §1.3). */
        char hex[65];
        if (gw_random_hex(hex, 32))
            s.agent_id = strdup(hex);
    }
    if (!s.agent_id) {
        fprintf(stderr, "failed to generate an agent id\n");
        goto out;
    }
    if (!gw_backends_init(&s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        gw_log_md(GW_LOG_ERROR, "startup", "%s", err.msg);
        goto out;
    }
    if (!s.agents || !gw_guards_init(&s, &err)) {
        fprintf(stderr, "failed to initialize guards: %s\n", s.agents ? err.msg : "out of memory");
        goto out;
    }
    if (gw_guards_enabled(s.guards))
        gw_log(GW_LOG_INFO, "startup", "Guards enforcement enabled with mode: %s", s.guards_mode);
    else
        gw_log(GW_LOG_INFO, "startup", "Guards enforcement disabled (sessions auto-created for standard MCP client compatibility)");
    gw_backends_discover(&s);
    if (!gw_resilience_start(&s, &err)) /* breakers + health monitor (resilience.h) */
        gw_log(GW_LOG_WARN, "startup", "%s", err.msg);
    gw_tracing_start(&s); /* OTLP (tracing.h); off without an endpoint */

    s.listen_fd = gw_listen_socket(o->listen, &s.port, &err);
    if (s.listen_fd < 0) {
        fprintf(stderr, "%s\n", err.msg);
        gw_log_md(GW_LOG_ERROR, "startup", "%s", err.msg);
        gw_backends_stop(&s);
        goto out;
    }
    if (!gw_http_start(&s, &err)) {
        close(s.listen_fd);
        fprintf(stderr, "%s\n", err.msg);
        gw_backends_stop(&s);
        goto out;
    }
    gw_log(GW_LOG_INFO, "startup", "Starting MCPG in %s mode on %s", mode_name(s.mode), o->listen);
    if (s.tls_cert_pem)
        gw_log(GW_LOG_INFO, "startup", "TLS enabled — listening on https://%s", o->listen);
    else
        gw_log(GW_LOG_INFO, "startup", "TLS not configured — listening on http://%s", o->listen);
    if (s.mode == GW_MODE_ROUTED) {
        char list[2048] = "";
        size_t len = 0;
        for (size_t i = 0; i < s.nbackends && len < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? " " : "", s.backends[i].id);
        gw_log(GW_LOG_INFO, "startup", "Routes: /mcp/<server> where <server> is one of: [%s]", list);
    }

    json_t *doc = gw_stdout_config(&s, o->listen, s.port);
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(doc);
    if (text) {
        if (fprintf(stdout, "%s\n", text) < 0 || fflush(stdout) != 0)
            gw_log(GW_LOG_WARN, "startup", "failed to write the gateway configuration to stdout");
        free(text);
    }

    /* Serve until a signal or /close. */
    while (!atomic_load(&s.stop_requested)) {
        struct timespec ts = {0, 200 * 1000000L};
        int sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGINT || sig == SIGTERM) {
            gw_log(GW_LOG_INFO, "shutdown", "Received %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
    }
    if (atomic_load(&s.closed))
        usleep(100000); /* let the /close reply reach its client */
    shutdown_server(&s, o);
    status = 0;
out:
    server_free(&s);
    gw_log_close();
    return status;
}
