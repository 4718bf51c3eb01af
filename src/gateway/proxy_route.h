/*
 * proxy_route.h — proxy mode's request mapper (spec: gateway §6): which
 * guard tool name, and which arguments, a GitHub REST or GraphQL read stands
 * for. Pure logic, no I/O. Private to src/gateway.
 *
 * The guard only knows MCP tool names (list_issues, issue_read, ...), so
 * every read the proxy filters must be translated into one. The tables are
 * upstream's (gh-aw-mcpg internal/proxy/router.go and graphql.go), first
 * match wins. A read that maps to nothing is refused by the caller (fail
 * closed); that decision is not made here.
 *
 * Paths given here are the request path as the client sent it, already
 * percent-decoded, without the query string, and with "/api/v3" stripped
 * (gw_proxy_strip_prefix).
 *
 * Everything here is stateless and safe to call from any number of threads.
 */
#ifndef FLOWGATE_GATEWAY_PROXY_ROUTE_H
#define FLOWGATE_GATEWAY_PROXY_ROUTE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* What a request maps to. `tool` is a static string; `args` is owned by the
 * match ({"owner":..,"repo":..,...}; {} for routes without arguments; all
 * values are strings, as upstream passes them). */
typedef struct gw_route_match {
    const char *tool;
    json_t *args;
} gw_route_match_t;

/* Releases args; leaves the match zeroed. NULL-safe. */
void gw_route_match_free(gw_route_match_t *m);

/* "/api/v3/x" -> "/x" (a pointer into path); "/api/v3" -> "/"; anything
 * else is returned unchanged. */
const char *gw_proxy_strip_prefix(const char *path);

/* /graphql, /api/graphql or /api/v3/graphql, with or without one trailing
 * slash. */
bool gw_proxy_is_graphql_path(const char *path);

/* /meta, /rate_limit, /octocat, /zen, /versions: GitHub metadata that
 * carries no user or repository data, passed through unlabelled. */
bool gw_proxy_is_metadata_path(const char *path);

/* Maps a REST path (a '?' and what follows are ignored). True with *out
 * filled on a match; false when no route matches (or on OOM, *out zeroed).
 * An empty segment ("//") never fills a placeholder; a byte of a value that
 * is not valid UTF-8 becomes U+FFFD, as upstream's JSON encoding has it. */
bool gw_proxy_match_rest(const char *path, gw_route_match_t *out);

/* Maps a GraphQL request body ({"query":"...","variables":{...}}). The tool
 * "graphql_introspection" marks a schema query (__type( / __schema), which
 * the caller passes through. args carries "owner" and "repo" when they can
 * be found (variables owner, name|repo first, then the query text). False
 * for a body that is not JSON, has no non-empty "query" string, or matches
 * no pattern. */
bool gw_proxy_match_graphql(const char *body, size_t len, gw_route_match_t *out);

#endif
