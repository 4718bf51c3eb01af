/*
 * log.h — the gateway's log files (spec: gateway §5).
 *
 * One process-wide logger, opened once by the gateway in --log-dir, writes:
 *   mcp-gateway.log      every line: "[<UTC ms>] [LEVEL] [category] message"
 *   <server>.log         per-backend lines (also copied to mcp-gateway.log
 *                        as "[<server>] message"), opened lazily
 *   gateway.md           a markdown preview of the "to markdown" messages:
 *                        startup/shutdown, config errors, auth rejections,
 *                        backend failures and RPC traffic
 *   rpc-messages.jsonl   gateway<->backend JSON-RPC traffic, schema
 *                        rpc-message/v2, secrets redacted
 *   tools.json           the tools each backend offers, rewritten atomically
 *   observed-url-domains.json
 *                        {} at open; with --url-domain-audit, the URL hosts
 *                        seen in each server's results, rewritten atomically
 * Debug lines (gw_debug) go to stderr and to mcp-gateway.log when the DEBUG
 * pattern list enables their namespace.
 *
 * The logger is a singleton because every module (and the mcp module's RPC
 * hook) logs into the same files; all functions are thread-safe and never
 * fail: a file that cannot be opened falls back (main log -> stderr) or is
 * skipped, as upstream does. Before gw_log_open, lines go to stderr only.
 */
#ifndef FLOWGATE_GATEWAY_LOG_H
#define FLOWGATE_GATEWAY_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <jansson.h>

#include "util/err.h"

typedef enum { GW_LOG_INFO, GW_LOG_WARN, GW_LOG_ERROR, GW_LOG_DEBUG } gw_level_t;

/* Creates `dir` (mkdir -p, 0755) and opens the files in it. Returns false
 * only when the directory cannot be created; a single file failing is
 * tolerated (see above). Calling it again closes the previous files first. */
bool gw_log_open(const char *dir, err_t *err);

/* The same for a chosen set of files: the gateway's (above) or proxy
 * mode's (spec §5.1: proxy.log in place of mcp-gateway.log, gateway.md,
 * rpc-messages.jsonl, and no tools.json). */
typedef enum { GW_LOGS_GATEWAY, GW_LOGS_PROXY } gw_log_set_t;
bool gw_log_open_set(const char *dir, gw_log_set_t set, err_t *err);

/* Writes gateway.md's closing </details> and closes every file. */
void gw_log_close(void);

/* Directory given to gw_log_open, or NULL. Borrowed. */
const char *gw_log_dir(void);

/* A line in mcp-gateway.log. */
void gw_log(gw_level_t level, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void gw_logv(gw_level_t level, const char *category, const char *fmt, va_list ap);

/* The same line, also rendered into gateway.md ("ToMarkdown" messages). */
void gw_log_md(gw_level_t level, const char *category, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A line in <server>.log and, prefixed "[server] ", in mcp-gateway.log. */
void gw_log_server(const char *server, gw_level_t level, const char *category,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Debug lines: DEBUG-pattern filtered (spec §5.1), to stderr as
 * "<ns> <msg> +<ms since previous line of ns>ms" and to the main log as
 * "[DEBUG] [<ns>] msg". gw_debug_set_patterns takes the DEBUG value (NULL:
 * read getenv("DEBUG")). */
void gw_debug_set_patterns(const char *patterns);
bool gw_debug_enabled(const char *ns);
void gw_debug(const char *ns, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Matches `ns` against a DEBUG pattern list ("*", "a:*", "*:b", "a:*:b",
 * comma-separated, "-pattern" excludes and wins). Exposed for tests. */
bool gw_debug_pattern_match(const char *patterns, const char *ns);

/* One RPC record (spec §5.3). direction "OUT" (request, `msg` is the full
 * request; its id is dropped) or "IN" (response). `msg` may be NULL on
 * transport failure, then `error` says why. Borrowed references. Also
 * writes the DEBUG rpc line and the gateway.md entry. `tool` may be NULL. */
void gw_log_rpc(const char *server, const char *direction, const char *method,
                const char *tool, json_t *msg, const char *error);

/* Replaces tools.json's entry for `server` with [{name,description}] taken
 * from `tools` (an array of MCP tool objects; borrowed). */
void gw_log_tools(const char *server, json_t *tools);

#define GW_OBSERVED_URL_DOMAINS_FILE "observed-url-domains.json"

/* Adds `domains` (an array of host strings; borrowed) to the set recorded
 * for `server` and, when one of them is new, rewrites
 * observed-url-domains.json as {"<server>":["sorted","hosts"]} (mode 0600,
 * tmp + rename). An empty server id or list does nothing; so does a closed
 * logger or a proxy-mode one (spec §5.1: gateway files only). */
void gw_log_url_domains(const char *server, json_t *domains);

/* Secret redaction used for rpc-messages.jsonl: returns a new reference to a
 * deep copy of `v` in which secret-looking keys have "[REDACTED]" values and
 * secret-looking substrings of strings are replaced. Exposed for tests. */
json_t *gw_redact(json_t *v);
/* In-place redaction of a NUL-terminated string; returns a malloc'd copy
 * (NULL on allocation failure). */
char *gw_redact_text(const char *s);

/* "2006-01-02T15:04:05.000Z" for now, into buf (>= 32 bytes). */
void gw_log_timestamp(char *buf, size_t n);

#endif
