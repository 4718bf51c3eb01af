/*
 * proxy_tls.c — the certificates of proxy_tls.h (spec: gateway §6): two
 * fresh ECDSA P-256 keys, a self-signed CA and a localhost server
 * certificate it signs, built with GnuTLS's x509 API and written as PEM.
 * The CA key never leaves this file: it is dropped once the server
 * certificate is signed, so the CA can sign nothing else.
 */
#include "gateway/proxy_tls.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/log_internal.h" /* gw_mkdir_p */

#define ORG "MCPG Proxy"
#define BACKDATE_S 3600             /* clients whose clock lags ours still accept the certs */
#define VALIDITY_S (24 * 3600)      /* counted from notBefore, as upstream does */
#define SERIAL_BYTES 16             /* 128 random bits */

/* A key and the certificate of its public half. */
typedef struct issued {
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
} issued_t;

static void issued_free(issued_t *i)
{
    if (i->crt)
        gnutls_x509_crt_deinit(i->crt);
    if (i->key)
        gnutls_x509_privkey_deinit(i->key);
    i->crt = NULL;
    i->key = NULL;
}

/* ---- building blocks -------------------------------------------------- */

/* A fresh P-256 key and an empty certificate to describe it. `what` names
 * the key in errors ("CA", "server"). */
static bool issued_init(issued_t *i, const char *what, err_t *err)
{
    int rc = gnutls_x509_privkey_init(&i->key);
    if (rc >= 0)
        rc = gnutls_x509_privkey_generate(i->key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
                                          0);
    if (rc < 0)
        return err_set(err, "failed to generate %s key: %s", what, gnutls_strerror(rc));
    if ((rc = gnutls_x509_crt_init(&i->crt)) < 0)
        return err_set(err, "failed to create %s certificate: %s", what, gnutls_strerror(rc));
    return true;
}

/* A random positive serial of up to 128 bits in minimal DER INTEGER form:
 * GnuTLS stores the bytes as given, and strict parsers (Go's crypto/x509,
 * which gh uses) reject a negative serial or a redundant leading zero.
 * Returns the length written to out (at most SERIAL_BYTES + 1), or a
 * negative GnuTLS error. */
static int random_serial(unsigned char out[SERIAL_BYTES + 1])
{
    unsigned char r[SERIAL_BYTES];
    int rc = gnutls_rnd(GNUTLS_RND_RANDOM, r, sizeof r);
    if (rc < 0)
        return rc;
    size_t skip = 0;
    while (skip < sizeof r - 1 && r[skip] == 0)
        skip++;
    if (r[sizeof r - 1] == 0 && skip == sizeof r - 1)
        r[sizeof r - 1] = 1; /* zero is not a valid serial */
    size_t n = 0;
    if (r[skip] & 0x80)
        out[n++] = 0; /* keep it positive */
    memcpy(out + n, r + skip, sizeof r - skip);
    return (int)(n + sizeof r - skip);
}

/* What both certificates share: v3, a fresh serial, O=MCPG Proxy + CN, the
 * validity window, the public key and its subject key id. */
static int set_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, time_t not_before)
{
    unsigned char serial[SERIAL_BYTES + 1], kid[64];
    size_t kid_len = sizeof kid;
    int n = random_serial(serial), rc;
    if (n < 0)
        return n;
    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 || (rc = gnutls_x509_crt_set_serial(crt, serial, (size_t)n)) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, ORG, (unsigned)strlen(ORG))) < 0 ||
        (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn))) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, not_before)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt, not_before + VALIDITY_S)) < 0 ||
        (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (rc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, kid, &kid_len)) < 0 ||
        (rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len)) < 0)
        return rc;
    return 0;
}

/* The CA: self-signed, may sign end-entity certificates only (pathlen 0). */
static bool make_ca(issued_t *ca, time_t not_before, err_t *err)
{
    if (!issued_init(ca, "CA", err))
        return false;
    int rc;
    if ((rc = set_common(ca->crt, ca->key, ORG " CA", not_before)) < 0 ||
        (rc = gnutls_x509_crt_set_basic_constraints(ca->crt, 1, 0)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(ca->crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0 ||
        (rc = gnutls_x509_crt_sign2(ca->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0)) < 0)
        return err_set(err, "failed to create CA certificate: %s", gnutls_strerror(rc));
    return true;
}

static int add_san(gnutls_x509_crt_t crt, gnutls_x509_subject_alt_name_t type, const void *data, unsigned len)
{
    return gnutls_x509_crt_set_subject_alt_name(crt, type, data, len, GNUTLS_FSAN_APPEND);
}

/* The server certificate: localhost by name and both loopback addresses,
 * for TLS servers only, signed by ca. */
static bool make_server(issued_t *srv, const issued_t *ca, time_t not_before, err_t *err)
{
    static const unsigned char v4[4] = {127, 0, 0, 1};
    static const unsigned char v6[16] = {[15] = 1};
    if (!issued_init(srv, "server", err))
        return false;
    unsigned char ca_kid[64];
    size_t ca_kid_len = sizeof ca_kid;
    int rc;
    if ((rc = set_common(srv->crt, srv->key, "localhost", not_before)) < 0 ||
        (rc = add_san(srv->crt, GNUTLS_SAN_DNSNAME, "localhost", 9)) < 0 ||
        (rc = add_san(srv->crt, GNUTLS_SAN_IPADDRESS, v4, sizeof v4)) < 0 || /* IPs as raw network-order bytes */
        (rc = add_san(srv->crt, GNUTLS_SAN_IPADDRESS, v6, sizeof v6)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(srv->crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(srv->crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        /* strict verifiers (OpenSSL's X509_STRICT, Python >= 3.13) want
         * the issuer's key id in every non-self-signed certificate */
        (rc = gnutls_x509_crt_get_subject_key_id(ca->crt, ca_kid, &ca_kid_len, NULL)) < 0 ||
        (rc = gnutls_x509_crt_set_authority_key_id(srv->crt, ca_kid, ca_kid_len)) < 0 ||
        (rc = gnutls_x509_crt_sign2(srv->crt, ca->crt, ca->key, GNUTLS_DIG_SHA256, 0)) < 0)
        return err_set(err, "failed to create server certificate: %s", gnutls_strerror(rc));
    return true;
}

/* Copies GnuTLS-allocated PEM into a malloc'd C string (what the struct
 * promises its callers free) and releases the original, wiping it first
 * since it may hold a private key. */
static char *datum_to_string(gnutls_datum_t *d)
{
    char *s = malloc((size_t)d->size + 1);
    if (s) {
        memcpy(s, d->data, d->size);
        s[d->size] = '\0';
    }
    gnutls_memset(d->data, 0, d->size);
    gnutls_free(d->data);
    d->data = NULL;
    return s;
}

static char *crt_pem(gnutls_x509_crt_t crt, const char *what, err_t *err)
{
    gnutls_datum_t d = {0};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0)
        return err_set(err, "failed to encode %s certificate: %s", what, gnutls_strerror(rc)), NULL;
    char *s = datum_to_string(&d);
    if (!s)
        err_set(err, "out of memory");
    return s;
}

/* PEM "EC PRIVATE KEY" (SEC 1), the form upstream writes too. */
static char *key_pem(gnutls_x509_privkey_t key, err_t *err)
{
    gnutls_datum_t d = {0};
    int rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0)
        return err_set(err, "failed to encode server key: %s", gnutls_strerror(rc)), NULL;
    char *s = datum_to_string(&d);
    if (!s)
        err_set(err, "out of memory");
    return s;
}

/* ---- files ------------------------------------------------------------ */

/* Writes text to path with exactly `mode`; returns 0 or an errno. The file
 * is created with `mode` and, when it already existed, chmod'ed after the
 * truncation and before the first byte, so a key never sits in a file that
 * others can read. fchmod also undoes a narrowing umask, keeping the
 * certificates readable by the clients meant to trust them. */
static int write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return errno;
    int e = fchmod(fd, mode) != 0 ? errno : 0;
    size_t left = strlen(text);
    while (!e && left) {
        ssize_t n = write(fd, text, left);
        if (n < 0 && errno != EINTR)
            e = errno;
        else if (n > 0)
            text += n, left -= (size_t)n;
    }
    if (close(fd) != 0 && !e)
        e = errno;
    return e;
}

static char *join(const char *dir, size_t dir_len, const char *name)
{
    char *p = NULL;
    if (asprintf(&p, "%.*s/%s", (int)dir_len, dir, name) < 0)
        return NULL;
    return p;
}

/* ---- the whole job ---------------------------------------------------- */

/* Builds both certificates and fills the PEM fields of out. */
static bool build(gw_proxy_tls_t *out, char **ca_pem, err_t *err)
{
    issued_t ca = {0}, srv = {0};
    time_t not_before = time(NULL) - BACKDATE_S;
    bool ok = make_ca(&ca, not_before, err) && make_server(&srv, &ca, not_before, err) &&
              (*ca_pem = crt_pem(ca.crt, "CA", err)) && (out->cert_pem = crt_pem(srv.crt, "server", err)) &&
              (out->key_pem = key_pem(srv.key, err));
    issued_free(&srv);
    issued_free(&ca);
    return ok;
}

/* The three files. A failure part-way leaves old and new files mixed;
 * the caller then refuses to start, so nothing ever serves them. */
static bool write_all(const gw_proxy_tls_t *t, const char *ca_pem, err_t *err)
{
    int e;
    if ((e = write_file(t->ca_path, ca_pem, 0644)))
        return err_set(err, "failed to write CA cert %s: %s", t->ca_path, strerror(e));
    if ((e = write_file(t->cert_path, t->cert_pem, 0644)))
        return err_set(err, "failed to write server cert %s: %s", t->cert_path, strerror(e));
    if ((e = write_file(t->key_path, t->key_pem, 0600)))
        return err_set(err, "failed to write server key %s: %s", t->key_path, strerror(e));
    return true;
}

bool gw_proxy_tls_generate(const char *dir, gw_proxy_tls_t *out, err_t *err)
{
    memset(out, 0, sizeof *out);
    if (!dir || !*dir)
        return err_set(err, "failed to create TLS directory: no directory given");
    size_t dir_len = strlen(dir);
    while (dir_len > 1 && dir[dir_len - 1] == '/')
        dir_len--; /* "d/" gives "d/ca.crt", not "d//ca.crt" */
    if (!gw_mkdir_p(dir, 0755))
        return err_set(err, "failed to create TLS directory %s: %s", dir, strerror(errno));

    char *ca_pem = NULL;
    bool ok = false;
    if (!(out->ca_path = join(dir, dir_len, "ca.crt")) || !(out->cert_path = join(dir, dir_len, "server.crt")) ||
        !(out->key_path = join(dir, dir_len, "server.key")))
        err_set(err, "out of memory");
    else
        ok = build(out, &ca_pem, err) && write_all(out, ca_pem, err);
    free(ca_pem);
    if (!ok)
        gw_proxy_tls_free(out);
    return ok;
}

void gw_proxy_tls_free(gw_proxy_tls_t *t)
{
    if (!t)
        return;
    if (t->key_pem)
        explicit_bzero(t->key_pem, strlen(t->key_pem));
    free(t->ca_path);
    free(t->cert_path);
    free(t->key_path);
    free(t->cert_pem);
    free(t->key_pem);
    memset(t, 0, sizeof *t);
}
