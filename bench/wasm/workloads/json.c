/*
 * json — generates ~4 MB of JSON (records with strings, escapes, numbers,
 * literals, nesting) and tokenizes it twice: byte scanning and
 * branching, the shape of the guard's serde_json work. The checksum mixes
 * the token counts, an FNV-1a hash of string contents and the numbers' values.
 *
 * Built to wasm32 (export `run`) and natively (-DBENCH_ENTRY=...).
 */
#include <stddef.h>
#include <stdint.h>

#ifndef BENCH_ENTRY
#define BENCH_ENTRY run
#endif

#define JSON_CAP (5u << 20)
#define JSON_TARGET (4u << 20)

static char json_buf[JSON_CAP];
static size_t json_len;
static uint32_t json_rng = 2463534242u;

static uint32_t rnd(void)
{
    json_rng ^= json_rng << 13, json_rng ^= json_rng >> 17, json_rng ^= json_rng << 5;
    return json_rng;
}

static void put(const char *s)
{
    while (*s)
        json_buf[json_len++] = *s++;
}

static void put_uint(uint32_t v)
{
    char tmp[12];
    int n = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    while (n)
        json_buf[json_len++] = tmp[--n];
}

static void put_string(void)
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _-";
    json_buf[json_len++] = '"';
    uint32_t n = 3 + rnd() % 24;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t r = rnd();
        if (r % 23 == 0)
            put("\\\"");
        else if (r % 29 == 0)
            put("\\n");
        else if (r % 31 == 0)
            put("\\u00e9");
        else
            json_buf[json_len++] = alpha[r % 64];
    }
    json_buf[json_len++] = '"';
}

static void put_number(void)
{
    uint32_t r = rnd();
    if (r & 1)
        json_buf[json_len++] = '-';
    put_uint(rnd() % 100000);
    if (r & 2) {
        json_buf[json_len++] = '.';
        put_uint(rnd() % 1000);
    }
    if ((r & 12) == 12) {
        put("e+");
        put_uint(r % 20);
    }
}

static void put_record(uint32_t id)
{
    put("{\"id\":");
    put_uint(id);
    put(",\"name\":");
    put_string();
    put(",\"tags\":[");
    uint32_t nt = rnd() % 5;
    for (uint32_t i = 0; i < nt; i++) {
        if (i)
            json_buf[json_len++] = ',';
        put_string();
    }
    put("],\"score\":");
    put_number();
    put(",\"active\":");
    put(rnd() & 1 ? "true" : "false");
    put(",\"parent\":null,\n  \"nested\":{\"k\":[");
    uint32_t nk = 1 + rnd() % 6;
    for (uint32_t i = 0; i < nk; i++) {
        if (i)
            put(", ");
        put_number();
    }
    put("]}}");
}

static void generate(void)
{
    json_len = 0;
    json_rng = 2463534242u;
    json_buf[json_len++] = '[';
    for (uint32_t id = 0; json_len < JSON_TARGET; id++) {
        if (id)
            put(",\n");
        put_record(id);
    }
    put("]\n");
}

typedef struct tally {
    uint64_t punct, strings, numbers, literals, errors;
    uint64_t hash, numsum;
} tally_t;

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static size_t scan_string(const char *p, size_t i, size_t n, tally_t *t)
{
    uint64_t h = t->hash;
    for (i++; i < n && p[i] != '"'; i++) {
        uint32_t c = (uint8_t)p[i];
        if (c == '\\' && i + 1 < n) {
            char e = p[++i];
            if (e == 'u' && i + 4 < n) {
                c = 0;
                for (int k = 1; k <= 4; k++)
                    c = c << 4 | (uint32_t)hexval(p[i + k]);
                i += 4;
            } else
                c = e == 'n' ? '\n' : e == 't' ? '\t' : (uint8_t)e;
        }
        h = (h ^ c) * 1099511628211ull;
    }
    t->hash = h;
    t->strings++;
    return i + 1;
}

static size_t scan_number(const char *p, size_t i, size_t n, tally_t *t)
{
    int neg = p[i] == '-';
    if (neg)
        i++;
    uint64_t v = 0;
    while (i < n && p[i] >= '0' && p[i] <= '9')
        v = v * 10 + (uint64_t)(p[i++] - '0');
    if (i < n && p[i] == '.')
        for (i++; i < n && p[i] >= '0' && p[i] <= '9'; i++)
            v = v * 3 + (uint64_t)(p[i] - '0');
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            v += (uint64_t)(p[i++] - '0') << 20;
    }
    t->numsum += neg ? ~v : v;
    t->numbers++;
    return i;
}

static int match(const char *p, size_t i, size_t n, const char *word)
{
    for (; *word; word++, i++)
        if (i >= n || p[i] != *word)
            return 0;
    return 1;
}

static void tokenize(const char *p, size_t n, tally_t *t)
{
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        switch (c) {
        case ' ': case '\n': case '\t': case '\r':
            i++;
            break;
        case '{': case '}': case '[': case ']': case ':': case ',':
            t->punct += (uint64_t)c;
            i++;
            break;
        case '"':
            i = scan_string(p, i, n, t);
            break;
        case 't':
            t->literals += match(p, i, n, "true") ? 1 : 1000000;
            i += 4;
            break;
        case 'f':
            t->literals += match(p, i, n, "false") ? 2 : 1000000;
            i += 5;
            break;
        case 'n':
            t->literals += match(p, i, n, "null") ? 3 : 1000000;
            i += 4;
            break;
        default:
            if (c == '-' || (c >= '0' && c <= '9'))
                i = scan_number(p, i, n, t);
            else {
                t->errors++;
                i++;
            }
        }
    }
}

uint64_t BENCH_ENTRY(void)
{
    generate();
    tally_t t = {0, 0, 0, 0, 0, 14695981039346656037ull, 0};
    for (int rep = 0; rep < 2; rep++)
        tokenize(json_buf, json_len, &t);
    return t.hash ^ (t.punct * 31 + t.strings * 37 + t.numbers * 41 + t.literals * 43 + t.errors * 47) ^
           (t.numsum << 7) ^ json_len;
}
