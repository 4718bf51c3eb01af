/*
 * oidc.h — GitHub Actions OIDC tokens for HTTP backends configured with
 * `auth: {type: "github-oidc", audience}` (spec: gateway §3.3, P1.9).
 *
 * A token is requested with GET <request_url>&audience=<aud> (URL-encoded;
 * `?` instead of `&` when the URL has no query), header
 * `Authorization: Bearer <request_token>`; the answer is {"value":"<jwt>"}.
 * Tokens are cached per audience until 60 s before the JWT's `exp` claim,
 * or for 5 minutes when the claim cannot be read. The bearer token then
 * replaces any static Authorization header of that backend's requests.
 *
 * One gw_oidc_t serves every backend of a gateway; thread-safe. A fetch
 * happens under the provider's lock, so concurrent first requests for one
 * audience cause one fetch.
 */
#ifndef FLOWGATE_GATEWAY_OIDC_H
#define FLOWGATE_GATEWAY_OIDC_H

#include <stdbool.h>
#include <stdint.h>

#include "util/err.h"

typedef struct gw_oidc gw_oidc_t;

/* request_url (ACTIONS_ID_TOKEN_REQUEST_URL) is required; request_token
 * (ACTIONS_ID_TOKEN_REQUEST_TOKEN) may be NULL (no Authorization sent).
 * Both are copied. timeout_ms bounds each fetch (0 = 30 s). Returns NULL
 * only when out of memory or request_url is empty (err says which). */
gw_oidc_t *gw_oidc_new(const char *request_url, const char *request_token, int timeout_ms, err_t *err);
void gw_oidc_free(gw_oidc_t *o);

/* A valid token for audience: from the cache or freshly fetched. Returns a
 * malloc'd JWT the caller frees, or NULL with err ("OIDC token request for
 * audience '<aud>' failed: ..."). */
char *gw_oidc_token(gw_oidc_t *o, const char *audience, err_t *err);

/* The `exp` claim (seconds since the epoch) of a JWT, or -1 when it has
 * none or the token is not a JWT. Exposed for tests. */
int64_t gw_oidc_jwt_exp(const char *jwt);

#endif
