/*
 * hmac.c — optional HMAC request signing on the MCP routes (spec: gateway
 * §4.4): SHA-256 (FIPS 180-4), HMAC (RFC 2104), and the verifier with its
 * 60-second nonce memory.
 *
 * The signature covers "<ts>\n<nonce>\n<path>\n<hex sha256(body)>". Only a
 * request whose signature verifies consumes its nonce, so a forged request
 * cannot burn a legitimate client's nonce.
 */
#include "gateway/gateway_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t used;
} sha256_t;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t ror(uint32_t x, int n)
{
    return (x >> n) | (x << (32 - n));
}

static void block(sha256_t *s, const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ror(w[i - 15], 7) ^ ror(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror(w[i - 2], 17) ^ ror(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6],
             h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
    s->h[5] += f;
    s->h[6] += g;
    s->h[7] += h;
}

static void sha_init(sha256_t *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->len = 0;
    s->used = 0;
}

static void sha_update(sha256_t *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->len += n;
    while (n > 0) {
        size_t take = 64 - s->used < n ? 64 - s->used : n;
        memcpy(s->buf + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            block(s, s->buf);
            s->used = 0;
        }
    }
}

static void sha_final(sha256_t *s, unsigned char out[32])
{
    uint64_t bits = s->len * 8;
    unsigned char pad = 0x80;
    sha_update(s, &pad, 1);
    unsigned char zero = 0;
    while (s->used != 56)
        sha_update(s, &zero, 1);
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha_update(s, lenb, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[2 * n] = 0;
}

void gw_sha256_hex(const void *data, size_t len, char out[65])
{
    sha256_t s;
    unsigned char d[32];
    sha_init(&s);
    sha_update(&s, data, len);
    sha_final(&s, d);
    to_hex(d, 32, out);
}

void gw_hmac_sha256_hex(const void *key, size_t klen, const void *data, size_t len, char out[65])
{
    unsigned char k[64] = {0}, ipad[64], opad[64], inner[32], d[32];
    if (klen > 64) {
        sha256_t s;
        sha_init(&s);
        sha_update(&s, key, klen);
        sha_final(&s, k);
    } else {
        memcpy(k, key, klen);
    }
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    sha256_t s;
    sha_init(&s);
    sha_update(&s, ipad, 64);
    sha_update(&s, data, len);
    sha_final(&s, inner);
    sha_init(&s);
    sha_update(&s, opad, 64);
    sha_update(&s, inner, 32);
    sha_final(&s, d);
    to_hex(d, 32, out);
}

#define NONCE_TTL_S 60
#define WINDOW_S 30

typedef struct {
    char *nonce;
    int64_t expires;
} nonce_t;

struct gw_hmac {
    char *secret;
    pthread_mutex_t lock;
    nonce_t *nonces;
    size_t n, cap;
};

gw_hmac_t *gw_hmac_new(const char *secret)
{
    gw_hmac_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->secret = strdup(secret);
    if (!h->secret) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->lock, NULL);
    return h;
}

void gw_hmac_free(gw_hmac_t *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        free(h->nonces[i].nonce);
    free(h->nonces);
    free(h->secret);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* Lazily drops expired nonces; true when `nonce` is still remembered.
 * Caller holds the lock. */
static bool seen_locked(gw_hmac_t *h, const char *nonce, int64_t now)
{
    bool seen = false;
    for (size_t i = 0; i < h->n;) {
        if (h->nonces[i].expires <= now) {
            free(h->nonces[i].nonce);
            h->nonces[i] = h->nonces[--h->n];
            continue;
        }
        if (!strcmp(h->nonces[i].nonce, nonce))
            seen = true;
        i++;
    }
    return seen;
}

static bool consttime_hex_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char d = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        d |= (unsigned char)(a[i] ^ b[i]);
    return d == 0;
}

const char *gw_hmac_check(gw_hmac_t *h, const char *ts, const char *nonce, const char *sig, const char *path,
                          const char *body, size_t len, int64_t now)
{
    if (!ts || !*ts || !nonce || !*nonce || !sig || !*sig)
        return "missing HMAC signature headers";
    char *end;
    long long t = strtoll(ts, &end, 10);
    if (*end)
        return "invalid HMAC timestamp";
    if (t > now + WINDOW_S || t < now - WINDOW_S)
        return "HMAC timestamp out of acceptable window";
    pthread_mutex_lock(&h->lock);
    bool seen = seen_locked(h, nonce, now);
    pthread_mutex_unlock(&h->lock);
    if (seen)
        return "HMAC nonce already used (replay detected)";
    char bh[65], want[65];
    gw_sha256_hex(body ? body : "", body ? len : 0, bh);
    size_t mlen = strlen(ts) + strlen(nonce) + strlen(path) + 64 + 4;
    char *msg = malloc(mlen);
    if (!msg)
        return "invalid HMAC signature";
    int n = snprintf(msg, mlen, "%s\n%s\n%s\n%s", ts, nonce, path, bh);
    gw_hmac_sha256_hex(h->secret, strlen(h->secret), msg, (size_t)n, want);
    free(msg);
    if (!consttime_hex_eq(sig, want))
        return "invalid HMAC signature";
    /* Record atomically: a concurrent request with the same nonce loses. */
    pthread_mutex_lock(&h->lock);
    const char *fail = NULL;
    if (seen_locked(h, nonce, now)) {
        fail = "HMAC nonce already used (replay detected)";
    } else {
        if (h->n == h->cap) {
            size_t cap = h->cap ? h->cap * 2 : 64;
            nonce_t *nn = realloc(h->nonces, cap * sizeof *nn);
            if (nn) {
                h->nonces = nn;
                h->cap = cap;
            }
        }
        char *dup = strdup(nonce);
        if (h->n < h->cap && dup) {
            h->nonces[h->n].nonce = dup;
            h->nonces[h->n].expires = now + NONCE_TTL_S;
            h->n++;
        } else {
            free(dup);
            fail = "invalid HMAC signature"; /* cannot remember it: refuse */
        }
    }
    pthread_mutex_unlock(&h->lock);
    return fail;
}
