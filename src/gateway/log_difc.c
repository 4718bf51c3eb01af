/*
 * log_difc.c — the difc_filtered record (spec: guard-abi §4.1; gateway §5.3):
 * one JSON line in rpc-messages.jsonl next to the RPC records, and a
 * "[DIFC-FILTERED] <json>" text line in <server>.log and mcp-gateway.log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gateway/log_internal.h"
#include "gateway/pipeline_guard.h"

void gw_log_difc_filtered(const char *server, const json_t *rec)
{
    char *line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!line)
        return;
    pthread_mutex_lock(&gw_logstate.lock);
    if (gw_logstate.jsonl) {
        fputs(line, gw_logstate.jsonl);
        fputc('\n', gw_logstate.jsonl);
        fflush(gw_logstate.jsonl);
        fdatasync(fileno(gw_logstate.jsonl));
    }
    pthread_mutex_unlock(&gw_logstate.lock);
    gw_log_server(server, GW_LOG_INFO, "difc", "[DIFC-FILTERED] %s", line);
    free(line);
}
