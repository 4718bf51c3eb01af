/*
 * ops.c — /health, /reflect, the shutdown that /close and signals start
 * (spec: gateway §4.12, §4.16), and the gateway-config document written to
 * stdout (spec §4.14).
 */
#include "gateway/gateway_internal.h"
#include "gateway/pipeline_guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

json_t *gw_health_json(gw_server_t *s)
{
    json_t *servers = json_object();
    bool unhealthy = false;
    time_t now = time(NULL);
    for (size_t i = 0; i < s->nbackends; i++) {
        gw_backend_t *b = &s->backends[i];
        const char *st = b->status == GW_BACKEND_ERROR ? "error"
                         : b->status == GW_BACKEND_RUNNING ? "running"
                                                           : "stopped";
        unhealthy |= b->status == GW_BACKEND_ERROR;
        json_int_t up = b->started_at ? (json_int_t)(now - b->started_at) : 0;
        json_object_set_new(servers, b->id, json_pack("{s:s,s:I}", "status", st, "uptime", up));
    }
    gw_guards_health(s, servers, &unhealthy); /* a failed guard is unhealthy (departure 5) */
    return json_pack("{s:s,s:s,s:s,s:o}", "status", unhealthy ? "unhealthy" : "healthy", "specVersion",
                     GW_SPEC_VERSION, "gatewayVersion", gw_version(), "servers", servers);
}

json_t *gw_reflect_json(gw_server_t *s)
{
    difc_mode_t mode = DIFC_MODE_STRICT;
    if (s->guards_mode)
        difc_mode_parse(s->guards_mode, &mode, NULL);
    json_t *doc = s->agents ? difc_agents_reflect(s->agents, mode, NULL) : NULL;
    return doc ? doc : json_pack("{s:{},s:s}", "agents", "mode", difc_mode_name(mode));
}

int gw_initiate_shutdown(gw_server_t *s)
{
    atomic_store(&s->closed, true);
    if (!atomic_exchange(&s->shutting_down, true)) {
        gw_log_md(GW_LOG_INFO, "shutdown", "Gateway shutdown initiated");
        gw_backends_stop(s);
    }
    atomic_store(&s->stop_requested, true);
    return (int)s->nbackends;
}

json_t *gw_stdout_config(gw_server_t *s, const char *listen, int port)
{
    /* Host from --listen; wildcard addresses become 127.0.0.1. */
    char host[256] = "127.0.0.1";
    const char *colon = strrchr(listen, ':');
    if (colon) {
        size_t hl = (size_t)(colon - listen);
        if (hl > 0 && hl < sizeof host) {
            memcpy(host, listen, hl);
            host[hl] = 0;
        }
    }
    if (!strcmp(host, "0.0.0.0") || !strcmp(host, "::") || !strcmp(host, "[::]") || !host[0])
        snprintf(host, sizeof host, "127.0.0.1");
    const char *scheme = s->tls_cert_pem ? "https" : "http";
    json_t *servers = json_object();
    for (size_t i = 0; i < s->nbackends; i++) {
        const gw_server_config_t *c = s->backends[i].cfg;
        char url[600];
        if (s->mode == GW_MODE_ROUTED)
            snprintf(url, sizeof url, "%s://%s:%d/mcp/%s", scheme, host, port, c->id);
        else
            snprintf(url, sizeof url, "%s://%s:%d/mcp", scheme, host, port);
        json_t *e = json_pack("{s:s,s:s,s:{s:s}}", "type", "http", "url", url, "headers", "Authorization",
                              s->agent_id);
        if (c->has_tools && c->tools.count > 0) {
            json_t *t = json_array();
            for (size_t j = 0; j < c->tools.count; j++)
                json_array_append_new(t, json_string(c->tools.items[j]));
            json_object_set_new(e, "tools", t);
        }
        json_object_set_new(servers, c->id, e);
    }
    return json_pack("{s:o}", "mcpServers", servers);
}
