/*
 * proxy_internal.h — the pieces of `flowgate proxy` (spec: gateway §6)
 * shared by proxy.c (HTTP front end, DIFC pipeline, run loop) and
 * proxy_upstream.c (the libcurl client for the GitHub API). Private to
 * src/gateway.
 */
#ifndef FLOWGATE_GATEWAY_PROXY_INTERNAL_H
#define FLOWGATE_GATEWAY_PROXY_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

/* Where reads and writes go, and with which fallback credentials. */
typedef struct gw_upstream {
    char *api_url;      /* owned: REST base, no trailing '/' */
    char *graphql_url;  /* owned: api_url + /graphql, or <host>/api/graphql on GHES */
    char *token;        /* owned fallback token, NULL when none */
} gw_upstream_t;

/* --github-api-url, else the environment (spec §1.7: GITHUB_API_URL, else
 * GITHUB_SERVER_URL mapped), else https://api.github.com; the token is
 * token_flag, else the first non-blank of GITHUB_MCP_SERVER_TOKEN,
 * GITHUB_TOKEN, GITHUB_PERSONAL_ACCESS_TOKEN, GH_TOKEN. False on OOM. */
bool gw_upstream_init(gw_upstream_t *u, const char *api_url_flag, const char *token_flag, err_t *err);
void gw_upstream_free(gw_upstream_t *u);

/* The upstream response headers a client gets back (upstream's list:
 * content type and disposition, redirects, rate limits, pagination, the
 * request id). */
enum {
    GW_UH_CONTENT_TYPE, GW_UH_CONTENT_DISPOSITION, GW_UH_LOCATION,
    GW_UH_RL_LIMIT, GW_UH_RL_REMAINING, GW_UH_RL_RESET, GW_UH_RL_RESOURCE, GW_UH_RL_USED,
    GW_UH_LINK, GW_UH_REQUEST_ID,
    GW_UH_COUNT
};
extern const char *const gw_upstream_header_names[GW_UH_COUNT];

typedef struct gw_upstream_req {
    const char *method;
    const char *target;        /* "/path[?query]", already percent-encoded */
    const char *body;          /* NULL: none */
    size_t body_len;
    const char *content_type;  /* NULL: none */
    const char *accept;        /* NULL: application/vnd.github+json */
    const char *client_auth;   /* the client's Authorization, NULL/"": none */
} gw_upstream_req_t;

typedef struct gw_upstream_resp {
    long status;
    util_buf_t body;
    char *headers[GW_UH_COUNT]; /* owned values, NULL when absent */
} gw_upstream_resp_t;          /* zero it first; gw_upstream_resp_free */

/* Largest upstream body the proxy holds in memory. */
#define GW_UPSTREAM_MAX_BODY ((size_t)64 << 20)

/* One request to GitHub. Authorization is the client's when it sent one,
 * else "token <fallback>", else none. Redirects are returned, not followed.
 * False (err says why) on a transport failure or an oversized body; any
 * HTTP status is a success here. */
bool gw_upstream_fetch(const gw_upstream_t *u, const gw_upstream_req_t *req, gw_upstream_resp_t *out,
                       err_t *err);
void gw_upstream_resp_free(gw_upstream_resp_t *r);

/* A guard's call_backend in proxy mode: the few tools the github guard asks
 * for (pull_request_read, issue_read, search_repositories,
 * get_collaborator_permission) answered from the REST API with the
 * fallback token (enrichment needs org-wide visibility), else the client's
 * credentials. *result is {"content":[{"type":"text","text":<body>}]}. */
bool gw_upstream_call_tool(const gw_upstream_t *u, const char *client_auth, const char *tool, const json_t *args,
                           json_t **result, err_t *err);

/* GET /repos/<nwo>: *is_public when its visibility is "public" (or
 * private:false). For --force-public-repos. */
bool gw_upstream_repo_is_public(const gw_upstream_t *u, const char *nwo, bool *is_public, err_t *err);

#endif
