/*
 * test_proxy_tls — the certificates of `proxy --tls` (proxy_tls.h, spec:
 * gateway §6): the files and their modes, what the certificates say when
 * GnuTLS parses them back, a real handshake from libcurl (OpenSSL) to
 * libmicrohttpd (GnuTLS) serving them, and the error paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <errno.h>
#include <ftw.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gateway/proxy_tls.h"
#include "util/file.h"

static char root[] = "/tmp/fg-test-tls-XXXXXX"; /* every test works below it */

/* ---- helpers ---------------------------------------------------------- */

/* Writes root/<name> into the caller's char array buf and yields it. */
#define IN_ROOT(buf, name) (snprintf((buf), sizeof(buf), "%s/%s", root, (name)), (buf))

static void generate_ok(const char *dir, gw_proxy_tls_t *t)
{
    err_t err = {{0}};
    if (!gw_proxy_tls_generate(dir, t, &err))
        fail_msg("gw_proxy_tls_generate(%s): %s", dir, err.msg);
}

static char *slurp(const char *path)
{
    size_t n = 0;
    err_t err = {{0}};
    char *s = (char *)util_read_file(path, &n, &err);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static gnutls_x509_crt_t parse_crt(const char *pem)
{
    gnutls_x509_crt_t crt;
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
    assert_int_equal(gnutls_x509_crt_init(&crt), 0);
    assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
    return crt;
}

static gnutls_x509_crt_t parse_crt_file(const char *path)
{
    char *pem = slurp(path);
    gnutls_x509_crt_t crt = parse_crt(pem);
    free(pem);
    return crt;
}

static void assert_dn_field(gnutls_x509_crt_t crt, const char *oid, const char *want)
{
    char buf[256];
    size_t n = sizeof buf;
    assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, oid, 0, 0, buf, &n), 0);
    assert_string_equal(buf, want);
    n = sizeof buf; /* exactly one such attribute */
    assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, oid, 1, 0, buf, &n), GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
}

static void assert_p256_ecdsa_sha256(gnutls_x509_crt_t crt)
{
    unsigned bits = 0;
    assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, &bits), GNUTLS_PK_ECDSA);
    gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
    gnutls_datum_t x = {0}, y = {0};
    assert_int_equal(gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y), 0);
    assert_int_equal(curve, GNUTLS_ECC_CURVE_SECP256R1);
    gnutls_free(x.data);
    gnutls_free(y.data);
    assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_ECDSA_SHA256);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int group_setup(void **state)
{
    (void)state;
    umask(022); /* the modes asserted below are the ones a usual umask gives directories */
    if (!mkdtemp(root))
        return -1;
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- files ------------------------------------------------------------ */

static void test_generate_creates_nested_dir_and_writes_three_files_with_modes(void **state)
{
    (void)state;
    char dir[512], want[600];
    IN_ROOT(dir, "fresh/nested/tls"); /* none of it exists yet */
    gw_proxy_tls_t t;
    generate_ok(dir, &t);

    struct stat st;
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 0755);
    snprintf(want, sizeof want, "%s/ca.crt", dir);
    assert_string_equal(t.ca_path, want);
    snprintf(want, sizeof want, "%s/server.crt", dir);
    assert_string_equal(t.cert_path, want);
    snprintf(want, sizeof want, "%s/server.key", dir);
    assert_string_equal(t.key_path, want);
    assert_int_equal(mode_of(t.ca_path), 0644);
    assert_int_equal(mode_of(t.cert_path), 0644);
    assert_int_equal(mode_of(t.key_path), 0600);

    char *ca = slurp(t.ca_path), *cert = slurp(t.cert_path), *key = slurp(t.key_path);
    assert_string_equal(cert, t.cert_pem);
    assert_string_equal(key, t.key_pem);
    assert_non_null(strstr(ca, "-----BEGIN CERTIFICATE-----\n"));
    assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----\n"));
    assert_non_null(strstr(key, "-----BEGIN EC PRIVATE KEY-----\n")); /* SEC 1, as upstream writes it */
    assert_string_not_equal(ca, cert);
    free(ca);
    free(cert);
    free(key);
    gw_proxy_tls_free(&t);
}

static void test_trailing_slash_does_not_double_in_paths(void **state)
{
    (void)state;
    char dir[512], want[600];
    IN_ROOT(dir, "slash/");
    gw_proxy_tls_t t;
    generate_ok(dir, &t);
    snprintf(want, sizeof want, "%s/slash/ca.crt", root);
    assert_string_equal(t.ca_path, want);
    gw_proxy_tls_free(&t);
}

/* ---- what the certificates say ---------------------------------------- */

static void test_ca_is_a_self_signed_p256_ca_for_leaves_only(void **state)
{
    (void)state;
    char dir[512];
    gw_proxy_tls_t t;
    generate_ok(IN_ROOT(dir, "ca"), &t);
    gnutls_x509_crt_t ca = parse_crt_file(t.ca_path);

    assert_int_equal(gnutls_x509_crt_get_version(ca), 3);
    unsigned critical = 0, is_ca = 0;
    int pathlen = -2;
    assert_int_equal(gnutls_x509_crt_get_basic_constraints(ca, &critical, &is_ca, &pathlen), 1);
    assert_true(is_ca);
    assert_true(critical);
    assert_int_equal(pathlen, 0); /* it may sign leaves, not intermediates */
    unsigned usage = 0;
    assert_int_equal(gnutls_x509_crt_get_key_usage(ca, &usage, &critical), 0);
    assert_int_equal(usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    assert_dn_field(ca, GNUTLS_OID_X520_ORGANIZATION_NAME, "MCPG Proxy");
    assert_dn_field(ca, GNUTLS_OID_X520_COMMON_NAME, "MCPG Proxy CA");
    assert_p256_ecdsa_sha256(ca);

    /* self-issued, and the signature is its own key's */
    assert_true(gnutls_x509_crt_check_issuer(ca, ca));
    unsigned status = 99;
    assert_int_equal(gnutls_x509_crt_verify(ca, &ca, 1, 0, &status), 0);
    assert_int_equal(status, 0);

    gnutls_x509_crt_deinit(ca);
    gw_proxy_tls_free(&t);
}

static void test_server_cert_names_localhost_and_loopback_ips_only(void **state)
{
    (void)state;
    char dir[512];
    gw_proxy_tls_t t;
    generate_ok(IN_ROOT(dir, "server"), &t);
    gnutls_x509_crt_t srv = parse_crt(t.cert_pem);

    assert_dn_field(srv, GNUTLS_OID_X520_ORGANIZATION_NAME, "MCPG Proxy");
    assert_dn_field(srv, GNUTLS_OID_X520_COMMON_NAME, "localhost");
    assert_p256_ecdsa_sha256(srv);

    static const unsigned char v4[4] = {127, 0, 0, 1}, v6[16] = {[15] = 1};
    bool dns = false, ip4 = false, ip6 = false;
    unsigned n = 0;
    for (;; n++) {
        unsigned char buf[256];
        size_t size = sizeof buf;
        unsigned critical = 0;
        int type = gnutls_x509_crt_get_subject_alt_name(srv, n, buf, &size, &critical);
        if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
            break;
        if (type == GNUTLS_SAN_DNSNAME && size == 9 && !memcmp(buf, "localhost", 9) && !dns)
            dns = true;
        else if (type == GNUTLS_SAN_IPADDRESS && size == 4 && !memcmp(buf, v4, 4) && !ip4)
            ip4 = true;
        else if (type == GNUTLS_SAN_IPADDRESS && size == 16 && !memcmp(buf, v6, 16) && !ip6)
            ip6 = true;
        else
            fail_msg("unexpected subject alt name #%u (type %d, %zu bytes)", n, type, size);
    }
    assert_int_equal(n, 3);
    assert_true(dns && ip4 && ip6);

    /* the same, as a verifier matches names */
    assert_true(gnutls_x509_crt_check_hostname(srv, "localhost"));
    assert_false(gnutls_x509_crt_check_hostname(srv, "example.com"));
    static const unsigned char other4[4] = {127, 0, 0, 2};
    assert_true(gnutls_x509_crt_check_ip(srv, v4, sizeof v4, 0));
    assert_true(gnutls_x509_crt_check_ip(srv, v6, sizeof v6, 0));
    assert_false(gnutls_x509_crt_check_ip(srv, other4, sizeof other4, 0));

    /* a TLS server leaf: no CA powers, signing only, serverAuth only */
    unsigned critical = 0, is_ca = 0, usage = 0;
    int pathlen = 0;
    int bc = gnutls_x509_crt_get_basic_constraints(srv, &critical, &is_ca, &pathlen);
    assert_true(bc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE || (bc == 0 && !is_ca));
    assert_int_equal(gnutls_x509_crt_get_key_usage(srv, &usage, &critical), 0);
    assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE);
    char oid[128];
    size_t oid_len = sizeof oid;
    assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(srv, 0, oid, &oid_len, &critical), 0);
    assert_string_equal(oid, GNUTLS_KP_TLS_WWW_SERVER);
    oid_len = sizeof oid;
    assert_int_equal(gnutls_x509_crt_get_key_purpose_oid(srv, 1, oid, &oid_len, &critical),
                     GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);

    gnutls_x509_crt_deinit(srv);
    gw_proxy_tls_free(&t);
}

static void test_both_certs_are_valid_24h_from_an_hour_ago(void **state)
{
    (void)state;
    char dir[512];
    gw_proxy_tls_t t;
    time_t before = time(NULL);
    generate_ok(IN_ROOT(dir, "validity"), &t);
    time_t after = time(NULL);
    gnutls_x509_crt_t certs[2] = {parse_crt_file(t.ca_path), parse_crt(t.cert_pem)};
    for (int i = 0; i < 2; i++) {
        time_t from = gnutls_x509_crt_get_activation_time(certs[i]);
        time_t until = gnutls_x509_crt_get_expiration_time(certs[i]);
        assert_in_range(from, before - 3600 - 2, after - 3600 + 2);
        assert_int_equal(until - from, 24 * 3600);
        gnutls_x509_crt_deinit(certs[i]);
    }
    gw_proxy_tls_free(&t);
}

/* Verifies srv_pem against a trust list holding only ca_path, for TLS
 * server use as "localhost"; returns the GnuTLS status (0: trusted). */
static unsigned verify_with(const char *ca_path, const char *srv_pem)
{
    gnutls_x509_trust_list_t tl;
    assert_int_equal(gnutls_x509_trust_list_init(&tl, 0), 0);
    gnutls_x509_crt_t ca = parse_crt_file(ca_path), srv = parse_crt(srv_pem);
    assert_int_equal(gnutls_x509_trust_list_add_cas(tl, &ca, 1, 0), 1); /* tl owns ca now */
    gnutls_typed_vdata_st data[2] = {
        {.type = GNUTLS_DT_DNS_HOSTNAME, .data = (unsigned char *)"localhost"},
        {.type = GNUTLS_DT_KEY_PURPOSE_OID, .data = (unsigned char *)GNUTLS_KP_TLS_WWW_SERVER},
    };
    unsigned status = 0;
    assert_int_equal(gnutls_x509_trust_list_verify_crt2(tl, &srv, 1, data, 2, 0, &status, NULL), 0);
    gnutls_x509_crt_deinit(srv);
    gnutls_x509_trust_list_deinit(tl, 1);
    return status;
}

static void test_server_cert_verifies_against_its_own_ca_only(void **state)
{
    (void)state;
    char dir_a[512], dir_b[512];
    gw_proxy_tls_t a, b;
    generate_ok(IN_ROOT(dir_a, "verify-a"), &a);
    generate_ok(IN_ROOT(dir_b, "verify-b"), &b);
    assert_int_equal(verify_with(a.ca_path, a.cert_pem), 0);
    assert_int_equal(verify_with(b.ca_path, b.cert_pem), 0);
    assert_true(verify_with(b.ca_path, a.cert_pem) & GNUTLS_CERT_INVALID); /* same names, other key */

    /* the server cert points at its CA's key */
    gnutls_x509_crt_t ca = parse_crt_file(a.ca_path), srv = parse_crt(a.cert_pem);
    unsigned char ski[64], aki[64];
    size_t ski_len = sizeof ski, aki_len = sizeof aki;
    assert_int_equal(gnutls_x509_crt_get_subject_key_id(ca, ski, &ski_len, NULL), 0);
    assert_int_equal(gnutls_x509_crt_get_authority_key_id(srv, aki, &aki_len, NULL), 0);
    assert_memory_equal(ski, aki, ski_len);
    assert_int_equal(ski_len, aki_len);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_crt_deinit(srv);
    gw_proxy_tls_free(&a);
    gw_proxy_tls_free(&b);
}

static void test_key_is_the_server_certs_key(void **state)
{
    (void)state;
    char dir[512];
    gw_proxy_tls_t t;
    generate_ok(IN_ROOT(dir, "keymatch"), &t);
    gnutls_x509_privkey_t key;
    gnutls_datum_t d = {(unsigned char *)t.key_pem, (unsigned)strlen(t.key_pem)};
    assert_int_equal(gnutls_x509_privkey_init(&key), 0);
    assert_int_equal(gnutls_x509_privkey_import(key, &d, GNUTLS_X509_FMT_PEM), 0);
    assert_int_equal(gnutls_x509_privkey_get_pk_algorithm(key), GNUTLS_PK_ECDSA);

    gnutls_x509_crt_t srv = parse_crt(t.cert_pem), ca = parse_crt_file(t.ca_path);
    unsigned char kid[64], srv_kid[64], ca_kid[64];
    size_t kid_len = sizeof kid, srv_len = sizeof srv_kid, ca_len = sizeof ca_kid;
    assert_int_equal(gnutls_x509_privkey_get_key_id(key, 0, kid, &kid_len), 0);
    assert_int_equal(gnutls_x509_crt_get_key_id(srv, 0, srv_kid, &srv_len), 0);
    assert_int_equal(gnutls_x509_crt_get_key_id(ca, 0, ca_kid, &ca_len), 0);
    assert_int_equal(kid_len, srv_len);
    assert_memory_equal(kid, srv_kid, kid_len);
    assert_memory_not_equal(kid, ca_kid, kid_len); /* two keys, not one */

    gnutls_x509_crt_deinit(srv);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(key);
    gw_proxy_tls_free(&t);
}

/* Go's crypto/x509 (gh) refuses a negative serial or one with a redundant
 * leading zero byte; every serial must also be fresh. */
static void test_serials_are_fresh_positive_minimal_integers(void **state)
{
    (void)state;
    enum { ROUNDS = 8 };
    unsigned char serials[2 * ROUNDS][32];
    size_t lens[2 * ROUNDS];
    char dir[512];
    IN_ROOT(dir, "serials");
    for (int r = 0; r < ROUNDS; r++) {
        gw_proxy_tls_t t;
        generate_ok(dir, &t);
        gnutls_x509_crt_t certs[2] = {parse_crt_file(t.ca_path), parse_crt(t.cert_pem)};
        for (int c = 0; c < 2; c++) {
            size_t i = (size_t)(2 * r + c);
            lens[i] = sizeof serials[i];
            assert_int_equal(gnutls_x509_crt_get_serial(certs[c], serials[i], &lens[i]), 0);
            gnutls_x509_crt_deinit(certs[c]);
            const unsigned char *s = serials[i];
            assert_in_range(lens[i], 1, 17);
            assert_int_equal(s[0] & 0x80, 0);                          /* positive */
            assert_false(lens[i] > 1 && s[0] == 0 && !(s[1] & 0x80));  /* minimal */
            assert_false(lens[i] == 1 && s[0] == 0);                   /* non-zero */
            for (size_t j = 0; j < i; j++)
                assert_false(lens[j] == lens[i] && !memcmp(serials[j], s, lens[i]));
        }
        gw_proxy_tls_free(&t);
    }
}

/* ---- a real handshake ------------------------------------------------- */

typedef struct server {
    gw_proxy_tls_t tls;
    gw_proxy_tls_t other; /* a second, unrelated CA */
    struct MHD_Daemon *daemon;
    unsigned port;
    bool ipv6; /* the daemon also listens on ::1 */
} server_t;

static enum MHD_Result answer_ok(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *data, size_t *size, void **con_cls)
{
    (void)cls, (void)url, (void)method, (void)version, (void)data, (void)size, (void)con_cls;
    struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

static bool ipv6_loopback_usable(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static struct MHD_Daemon *start_tls_daemon(const gw_proxy_tls_t *t, unsigned flags)
{
    return MHD_start_daemon(MHD_USE_TLS | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | flags, 0, NULL, NULL,
                            answer_ok, NULL, MHD_OPTION_HTTPS_MEM_CERT, t->cert_pem, MHD_OPTION_HTTPS_MEM_KEY,
                            t->key_pem, MHD_OPTION_END);
}

static int server_setup(void **state)
{
    static server_t s;
    memset(&s, 0, sizeof s);
    char dir[512];
    generate_ok(IN_ROOT(dir, "https"), &s.tls);
    generate_ok(IN_ROOT(dir, "https-other"), &s.other);
    s.ipv6 = ipv6_loopback_usable();
    s.daemon = start_tls_daemon(&s.tls, s.ipv6 ? MHD_USE_DUAL_STACK : 0);
    if (!s.daemon && s.ipv6) {
        s.ipv6 = false;
        s.daemon = start_tls_daemon(&s.tls, 0);
    }
    if (!s.daemon)
        return -1;
    s.port = MHD_get_daemon_info(s.daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    *state = &s;
    return 0;
}

static int server_teardown(void **state)
{
    server_t *s = *state;
    MHD_stop_daemon(s->daemon); /* before the PEMs it was given are freed */
    gw_proxy_tls_free(&s->tls);
    gw_proxy_tls_free(&s->other);
    return 0;
}

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    char *body = ud;
    size_t len = size * n, have = strlen(body);
    if (have + len >= 64)
        return 0;
    memcpy(body + have, p, len);
    body[have + len] = '\0';
    return len;
}

/* GET https://<host>:<port>/ trusting only cainfo; body gets what came back. */
static CURLcode https_get(const server_t *s, const char *host, const char *cainfo, char body[64])
{
    char url[128], why[CURL_ERROR_SIZE] = "";
    snprintf(url, sizeof url, "https://%s:%u/", host, s->port);
    body[0] = '\0';
    CURL *c = curl_easy_init();
    assert_non_null(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, cainfo);
    curl_easy_setopt(c, CURLOPT_CAPATH, NULL); /* no system directory on the side */
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, why);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        assert_int_equal(status, 200);
    else
        print_message("  (%s with %s: %s)\n", url, cainfo, why);
    return rc;
}

static void test_https_to_localhost_verifies_with_the_ca(void **state)
{
    server_t *s = *state;
    char body[64];
    assert_int_equal(https_get(s, "localhost", s->tls.ca_path, body), CURLE_OK);
    assert_string_equal(body, "ok");
}

static void test_https_to_loopback_ips_verifies_with_the_ca(void **state)
{
    server_t *s = *state;
    char body[64];
    assert_int_equal(https_get(s, "127.0.0.1", s->tls.ca_path, body), CURLE_OK);
    assert_string_equal(body, "ok");
    if (!s->ipv6) {
        print_message("  (no IPv6 loopback here: [::1] not tried)\n");
        return;
    }
    assert_int_equal(https_get(s, "[::1]", s->tls.ca_path, body), CURLE_OK);
    assert_string_equal(body, "ok");
}

static void test_https_fails_without_our_ca(void **state)
{
    server_t *s = *state;
    char body[64];
    assert_int_equal(https_get(s, "localhost", s->other.ca_path, body), CURLE_PEER_FAILED_VERIFICATION);
    assert_string_equal(body, "");
    static const char *const bundles[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"};
    for (size_t i = 0; i < sizeof bundles / sizeof bundles[0]; i++)
        if (access(bundles[i], R_OK) == 0)
            assert_int_equal(https_get(s, "localhost", bundles[i], body), CURLE_PEER_FAILED_VERIFICATION);
}

static void test_https_to_a_name_not_in_the_cert_fails(void **state)
{
    server_t *s = *state;
    char body[64];
    /* 127.0.0.2 reaches the same loopback listener but is not a SAN */
    assert_int_equal(https_get(s, "127.0.0.2", s->tls.ca_path, body), CURLE_PEER_FAILED_VERIFICATION);
    assert_string_equal(body, "");
}

/* ---- errors and rewrites ---------------------------------------------- */

static void assert_zeroed(const gw_proxy_tls_t *t)
{
    assert_null(t->ca_path);
    assert_null(t->cert_path);
    assert_null(t->key_path);
    assert_null(t->cert_pem);
    assert_null(t->key_pem);
}

static void test_dir_under_a_regular_file_fails_naming_step_and_path(void **state)
{
    (void)state;
    char file[512], dir[512];
    FILE *f = fopen(IN_ROOT(file, "plain-file"), "w");
    assert_non_null(f);
    fclose(f);
    IN_ROOT(dir, "plain-file/tls");
    gw_proxy_tls_t t;
    err_t err = {{0}};
    assert_false(gw_proxy_tls_generate(dir, &t, &err));
    char want[700];
    snprintf(want, sizeof want, "failed to create TLS directory %s: %s", dir, strerror(ENOTDIR));
    assert_string_equal(err.msg, want);
    assert_zeroed(&t);

    assert_false(gw_proxy_tls_generate("", &t, &err));
    assert_non_null(strstr(err.msg, "failed to create TLS directory"));
    assert_zeroed(&t);
}

static void test_unwritable_key_path_fails_naming_the_file(void **state)
{
    (void)state;
    char dir[512], key[600];
    IN_ROOT(dir, "keydir");
    snprintf(key, sizeof key, "%s/server.key", dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(mkdir(key, 0755), 0); /* a directory where the key goes */
    gw_proxy_tls_t t;
    err_t err = {{0}};
    assert_false(gw_proxy_tls_generate(dir, &t, &err));
    char want[700];
    snprintf(want, sizeof want, "failed to write server key %s: %s", key, strerror(EISDIR));
    assert_string_equal(err.msg, want);
    assert_zeroed(&t);
}

static void test_regenerating_replaces_files_and_restores_modes(void **state)
{
    (void)state;
    char dir[512];
    IN_ROOT(dir, "again");
    gw_proxy_tls_t first, second;
    generate_ok(dir, &first);
    char *old_ca = slurp(first.ca_path);
    assert_int_equal(chmod(first.key_path, 0644), 0); /* someone loosened it */
    assert_int_equal(chmod(first.ca_path, 0600), 0);

    generate_ok(dir, &second);
    assert_int_equal(mode_of(second.key_path), 0600);
    assert_int_equal(mode_of(second.ca_path), 0644);
    assert_int_equal(mode_of(second.cert_path), 0644);
    char *ca = slurp(second.ca_path), *cert = slurp(second.cert_path), *key = slurp(second.key_path);
    assert_string_not_equal(ca, old_ca);
    assert_string_not_equal(cert, first.cert_pem);
    assert_string_not_equal(key, first.key_pem);
    assert_string_equal(cert, second.cert_pem);
    assert_string_equal(key, second.key_pem);
    assert_int_equal(verify_with(second.ca_path, second.cert_pem), 0);
    free(old_ca);
    free(ca);
    free(cert);
    free(key);
    gw_proxy_tls_free(&first);
    gw_proxy_tls_free(&second);
}

static void test_modes_hold_under_a_strict_umask(void **state)
{
    (void)state;
    char dir[512];
    mode_t old = umask(077);
    gw_proxy_tls_t t;
    generate_ok(IN_ROOT(dir, "umask"), &t);
    umask(old);
    assert_int_equal(mode_of(t.ca_path), 0644); /* clients must be able to read the CA */
    assert_int_equal(mode_of(t.cert_path), 0644);
    assert_int_equal(mode_of(t.key_path), 0600);
    gw_proxy_tls_free(&t);
}

static void test_free_is_null_safe_and_zeroes(void **state)
{
    (void)state;
    gw_proxy_tls_free(NULL);
    char dir[512];
    gw_proxy_tls_t t;
    generate_ok(IN_ROOT(dir, "free"), &t);
    gw_proxy_tls_free(&t);
    assert_zeroed(&t);
    gw_proxy_tls_free(&t); /* twice is harmless */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_creates_nested_dir_and_writes_three_files_with_modes),
        cmocka_unit_test(test_trailing_slash_does_not_double_in_paths),
        cmocka_unit_test(test_ca_is_a_self_signed_p256_ca_for_leaves_only),
        cmocka_unit_test(test_server_cert_names_localhost_and_loopback_ips_only),
        cmocka_unit_test(test_both_certs_are_valid_24h_from_an_hour_ago),
        cmocka_unit_test(test_server_cert_verifies_against_its_own_ca_only),
        cmocka_unit_test(test_key_is_the_server_certs_key),
        cmocka_unit_test(test_serials_are_fresh_positive_minimal_integers),
        cmocka_unit_test_setup_teardown(test_https_to_localhost_verifies_with_the_ca, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_https_to_loopback_ips_verifies_with_the_ca, server_setup,
                                        server_teardown),
        cmocka_unit_test_setup_teardown(test_https_fails_without_our_ca, server_setup, server_teardown),
        cmocka_unit_test_setup_teardown(test_https_to_a_name_not_in_the_cert_fails, server_setup, server_teardown),
        cmocka_unit_test(test_dir_under_a_regular_file_fails_naming_step_and_path),
        cmocka_unit_test(test_unwritable_key_path_fails_naming_the_file),
        cmocka_unit_test(test_regenerating_replaces_files_and_restores_modes),
        cmocka_unit_test(test_modes_hold_under_a_strict_umask),
        cmocka_unit_test(test_free_is_null_safe_and_zeroes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
