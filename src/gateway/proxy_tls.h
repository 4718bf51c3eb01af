/*
 * proxy_tls.h — the self-signed certificates of `proxy --tls` (spec:
 * gateway §6): a CA valid for 24 hours and a server certificate it signs
 * for localhost, 127.0.0.1 and ::1, so that clients which insist on HTTPS
 * (gh with GH_HOST) can be pointed at the proxy and told to trust the CA.
 * Private to src/gateway. Uses GnuTLS, the TLS library libmicrohttpd is
 * built on.
 */
#ifndef FLOWGATE_GATEWAY_PROXY_TLS_H
#define FLOWGATE_GATEWAY_PROXY_TLS_H

#include <stdbool.h>

#include "util/err.h"

typedef struct gw_proxy_tls {
    char *ca_path;     /* <dir>/ca.crt     (0644), PEM CERTIFICATE */
    char *cert_path;   /* <dir>/server.crt (0644), PEM CERTIFICATE */
    char *key_path;    /* <dir>/server.key (0600), PEM private key */
    char *cert_pem;    /* the server certificate's PEM text */
    char *key_pem;     /* the server key's PEM text */
} gw_proxy_tls_t;      /* every field owned; freed by gw_proxy_tls_free */

/* Creates dir (mkdir -p, 0755 less the umask) and writes fresh keys (ECDSA
 * P-256) and certificates into it, replacing any there; the files get
 * exactly the modes above whatever the umask or their old modes, and the
 * key file is never readable by others, not even briefly. The key is PEM
 * "EC PRIVATE KEY" (SEC 1). Validity: from one hour ago for 24 hours. The
 * CA key is discarded once the server certificate is signed. *out is zeroed
 * first and filled on success (free with gw_proxy_tls_free); on failure it
 * stays zeroed and err names the step and the path ("failed to create TLS
 * directory <dir>: <reason>", "failed to generate CA key: ...", "failed to
 * write server key <path>: ..."). */
bool gw_proxy_tls_generate(const char *dir, gw_proxy_tls_t *out, err_t *err);
/* NULL-safe; wipes key_pem before freeing it; leaves *t zeroed. */
void gw_proxy_tls_free(gw_proxy_tls_t *t);

#endif
