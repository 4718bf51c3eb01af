/* guard_rt.c — freestanding runtime for C guards (see guard_rt.h). */
#include "guard_rt.h"

#define PAGE 65536u

/* ---- memory ------------------------------------------------------------ */

#ifdef __wasm__
extern unsigned char __heap_base; /* provided by wasm-ld: end of data + stack */
#define HEAP_BASE ((uintptr_t)&__heap_base)

/* Makes linear memory at least `end` bytes long. */
static bool memory_reserve(uintptr_t end)
{
    uintptr_t have = (uintptr_t)__builtin_wasm_memory_size(0) * PAGE;
    if (end <= have)
        return true;
    return __builtin_wasm_memory_grow(0, (end - have + PAGE - 1) / PAGE) != (size_t)-1;
}
#else
static unsigned char arena[RT_NATIVE_ARENA] __attribute__((aligned(8)));
#define HEAP_BASE ((uintptr_t)arena)

static bool memory_reserve(uintptr_t end) { return end <= HEAP_BASE + sizeof arena; }
#endif

static uintptr_t heap_top;   /* next free byte; 0 before the first use */
static uint32_t live_allocs; /* host allocations not yet freed */

void *rt_alloc(size_t n)
{
    if (heap_top == 0)
        heap_top = HEAP_BASE;
    uintptr_t p = (heap_top + 7u) & ~(uintptr_t)7u;
    if (n > UINTPTR_MAX - p || !memory_reserve(p + n))
        return NULL;
    heap_top = p + n;
    return (void *)p;
}

/* alloc(0) gets a valid pointer that is not counted as live: the host
 * skips dealloc for size 0 (spec: guard-abi §1.6), so counting it would
 * keep the heap from ever rewinding. */
GUARD_EXPORT("alloc") void *guard_alloc(int32_t size)
{
    static uint64_t empty;
    if (size < 0)
        return NULL;
    if (size == 0)
        return &empty;
    void *p = rt_alloc((size_t)size);
    if (p)
        live_allocs++;
    return p;
}

/* The host frees the output then the input buffer after every call (spec:
 * guard-abi §1.6); once nothing is live the whole heap is free again. */
GUARD_EXPORT("dealloc") void guard_dealloc(void *ptr, int32_t size)
{
    if (!ptr || size == 0 || live_allocs == 0)
        return;
    if (--live_allocs == 0)
        heap_top = HEAP_BASE;
}

#ifdef __wasm__
/* With no libc, the compiler may still emit calls to these for struct copies
 * and zeroing. */
void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}
#endif

/* ---- reading ----------------------------------------------------------- */

typedef struct cur {
    const char *p, *end;
} cur_t;

static void skip_ws(cur_t *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* c->p at '"'; moves past the closing quote. */
static bool parse_string(cur_t *c)
{
    c->p++;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p++;
        if (ch == '"')
            return true;
        if (ch < 0x20)
            return false;
        if (ch == '\\') {
            if (c->p >= c->end)
                return false;
            char e = *c->p++;
            if (e == 'u') {
                if (c->end - c->p < 4)
                    return false;
                for (int i = 0; i < 4; i++)
                    if (hexval(*c->p++) < 0)
                        return false;
            } else if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
                       e != 't') {
                return false;
            }
        }
    }
    return false;
}

static bool is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static bool parse_number(cur_t *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p >= c->end || !is_digit(*c->p))
        return false;
    if (*c->p == '0')
        c->p++;
    else
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (c->p >= c->end || !is_digit(*c->p))
            return false;
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (c->p >= c->end || !is_digit(*c->p))
            return false;
        while (c->p < c->end && is_digit(*c->p))
            c->p++;
    }
    return true;
}

static bool parse_literal(cur_t *c, const char *lit)
{
    while (*lit) {
        if (c->p >= c->end || *c->p != *lit)
            return false;
        c->p++, lit++;
    }
    return true;
}

/* Parses one value at c->p (no leading whitespace); recursion is bounded by
 * RT_MAX_DEPTH so hostile nesting cannot exhaust the guard's stack. */
static bool parse_value(cur_t *c, int depth)
{
    if (c->p >= c->end)
        return false;
    switch (*c->p) {
    case '"':
        return parse_string(c);
    case 't':
        return parse_literal(c, "true");
    case 'f':
        return parse_literal(c, "false");
    case 'n':
        return parse_literal(c, "null");
    case '{':
    case '[': {
        bool object = *c->p == '{';
        char close = object ? '}' : ']';
        if (depth >= RT_MAX_DEPTH)
            return false;
        c->p++;
        skip_ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return true;
        }
        for (;;) {
            if (object) {
                if (c->p >= c->end || *c->p != '"' || !parse_string(c))
                    return false;
                skip_ws(c);
                if (c->p >= c->end || *c->p != ':')
                    return false;
                c->p++;
                skip_ws(c);
            }
            if (!parse_value(c, depth + 1))
                return false;
            skip_ws(c);
            if (c->p >= c->end)
                return false;
            if (*c->p == close) {
                c->p++;
                return true;
            }
            if (*c->p != ',')
                return false;
            c->p++;
            skip_ws(c);
        }
    }
    default:
        return parse_number(c);
    }
}

bool js_parse(const char *text, size_t len, js_t *out)
{
    cur_t c = {text, text + len};
    skip_ws(&c);
    const char *start = c.p;
    if (!parse_value(&c, 0))
        return false;
    const char *stop = c.p;
    skip_ws(&c);
    if (c.p != c.end)
        return false;
    out->p = start;
    out->n = (size_t)(stop - start);
    return true;
}

bool js_iter_begin(js_t v, js_iter_t *it)
{
    if (!js_is_object(v) && !js_is_array(v))
        return false;
    it->p = v.p + 1;
    it->end = v.p + v.n - 1; /* the closing bracket */
    it->object = v.p[0] == '{';
    return true;
}

/* The input was validated by js_parse, so the walk below only has to find
 * boundaries; parse_value is reused to step over each value. */
static bool iter_step(js_iter_t *it, js_t *key, js_t *val)
{
    cur_t c = {it->p, it->end};
    skip_ws(&c);
    if (c.p < c.end && *c.p == ',') {
        c.p++;
        skip_ws(&c);
    }
    if (c.p >= c.end)
        return false;
    if (it->object) {
        key->p = c.p;
        if (!parse_string(&c))
            return false;
        key->n = (size_t)(c.p - key->p);
        skip_ws(&c);
        c.p++; /* ':' */
        skip_ws(&c);
    }
    val->p = c.p;
    if (!parse_value(&c, 0))
        return false;
    val->n = (size_t)(c.p - val->p);
    it->p = c.p;
    return true;
}

bool js_iter_next(js_iter_t *it, js_t *elem)
{
    js_t key;
    return iter_step(it, &key, elem);
}

bool js_iter_next_member(js_iter_t *it, js_t *key, js_t *val)
{
    key->p = 0;
    key->n = 0;
    return iter_step(it, key, val);
}

bool js_get(js_t obj, const char *key, js_t *out)
{
    js_iter_t it;
    js_t k, v;
    if (!js_is_object(obj) || !js_iter_begin(obj, &it))
        return false;
    while (iter_step(&it, &k, &v)) {
        if (js_str_eq(k, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static uint32_t hex4(const char *p)
{
    return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

long js_str_decode(js_t s, char *buf, size_t cap)
{
    if (!js_is_string(s) || s.n < 2)
        return -1;
    const char *p = s.p + 1, *end = s.p + s.n - 1;
    size_t len = 0;
    while (p < end) {
        char tmp[4];
        size_t k;
        if (*p != '\\') {
            tmp[0] = *p++;
            k = 1;
        } else {
            char e = p[1];
            p += 2;
            switch (e) {
            case 'b': tmp[0] = '\b'; k = 1; break;
            case 'f': tmp[0] = '\f'; k = 1; break;
            case 'n': tmp[0] = '\n'; k = 1; break;
            case 'r': tmp[0] = '\r'; k = 1; break;
            case 't': tmp[0] = '\t'; k = 1; break;
            case 'u': {
                uint32_t cp = hex4(p);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                    uint32_t lo = hex4(p + 2);
                    if (lo >= 0xDC00 && lo < 0xE000) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        p += 6;
                    }
                }
                if (cp >= 0xD800 && cp < 0xE000)
                    cp = 0xFFFD; /* a lone surrogate has no UTF-8 form */
                k = put_utf8(tmp, cp);
                break;
            }
            default: tmp[0] = e; k = 1; break; /* " \ / */
            }
        }
        if (len + k > cap)
            return -1;
        for (size_t i = 0; i < k; i++)
            buf[len++] = tmp[i];
    }
    return (long)len;
}

bool js_str_eq(js_t s, const char *lit)
{
    size_t n = 0;
    while (lit[n])
        n++;
    /* Fast path: no escapes, so the raw bytes between the quotes are the value. */
    if (!js_is_string(s))
        return false;
    if (s.n == n + 2) {
        bool same = true;
        for (size_t i = 0; i < n && same; i++)
            same = s.p[1 + i] == lit[i] && lit[i] != '\\';
        if (same)
            return true;
    }
    char buf[256];
    if (n > sizeof buf)
        return false;
    long got = js_str_decode(s, buf, sizeof buf);
    if (got != (long)n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (buf[i] != lit[i])
            return false;
    return true;
}

bool js_is_plain_integer(js_t v)
{
    size_t i = 0;
    if (v.n == 0)
        return false;
    if (v.p[0] == '-')
        i++;
    if (i >= v.n || v.n - i > 19)
        return false;
    for (; i < v.n; i++)
        if (!is_digit(v.p[i]))
            return false;
    return true;
}

bool rt_contains(const char *hay, size_t len, const char *needle)
{
    size_t n = 0;
    while (needle[n])
        n++;
    if (n == 0)
        return true;
    for (size_t i = 0; i + n <= len; i++) {
        size_t j = 0;
        while (j < n && hay[i + j] == needle[j])
            j++;
        if (j == n)
            return true;
    }
    return false;
}

/* ---- writing ----------------------------------------------------------- */

void jw_raw(jw_t *w, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++, w->len++)
        if (w->len < w->cap)
            w->buf[w->len] = s[i];
}

void jw_lit(jw_t *w, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    jw_raw(w, s, n);
}

void jw_str(jw_t *w, const char *s, size_t n)
{
    jw_raw(w, "\"", 1);
    jw_esc(w, s, n);
    jw_raw(w, "\"", 1);
}

void jw_esc(jw_t *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            char esc[2] = {'\\', (char)ch};
            jw_raw(w, esc, 2);
        } else if (ch < 0x20) {
            char esc[6] = {'\\', 'u', '0', '0', hex[ch >> 4], hex[ch & 15]};
            jw_raw(w, esc, 6);
        } else {
            jw_raw(w, (const char *)&ch, 1);
        }
    }
}

void jw_js(jw_t *w, js_t v) { jw_raw(w, v.p, v.n); }

void jw_uint(jw_t *w, uint32_t v)
{
    char digits[10];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        jw_raw(w, &digits[--n], 1);
}

int32_t rt_finish(jw_t *w)
{
    if (w->len <= w->cap)
        return (int32_t)w->len;
    if (w->cap >= 4) {
        uint32_t need = w->len > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)w->len;
        for (int i = 0; i < 4; i++)
            w->buf[i] = (char)(need >> (8 * i));
    }
    return -2;
}

/* ---- host imports ------------------------------------------------------ */

#ifdef __wasm__
__attribute__((import_module("env"), import_name("call_backend"))) int32_t
env_call_backend(const char *tool, int32_t tool_len, const char *args, int32_t args_len, char *result,
                 int32_t result_size);
__attribute__((import_module("env"), import_name("host_log"))) void env_host_log(int32_t level, const char *msg,
                                                                                  int32_t len);
#else
int32_t (*rt_native_call_backend)(const char *, int32_t, const char *, int32_t, char *, int32_t);
void (*rt_native_host_log)(int32_t, const char *, int32_t);
#endif

#define RT_BACKEND_MAX (16u << 20) /* the reference guard's ceiling (spec: guard-abi §1.4) */

int32_t rt_call_backend(const char *tool, size_t tool_len, const char *args, size_t args_len, char *result,
                        size_t result_size)
{
    if (tool_len > INT32_MAX || args_len > INT32_MAX || result_size > INT32_MAX)
        return -1;
#ifdef __wasm__
    return env_call_backend(tool, (int32_t)tool_len, args, (int32_t)args_len, result, (int32_t)result_size);
#else
    if (!rt_native_call_backend)
        return -1;
    return rt_native_call_backend(tool, (int32_t)tool_len, args, (int32_t)args_len, result, (int32_t)result_size);
#endif
}

/* Every attempt counts toward the host's per-invocation limit, so the
 * buffer only ever grows and the loop ends at the ceiling. */
bool rt_call_backend_alloc(const char *tool, size_t tool_len, const char *args, size_t args_len, size_t initial,
                           const char **out, size_t *out_len)
{
    size_t size = initial < 4 ? 4 : initial;
    while (size <= RT_BACKEND_MAX) {
        char *buf = rt_alloc(size);
        if (!buf)
            return false;
        int32_t n = rt_call_backend(tool, tool_len, args, args_len, buf, size);
        if (n >= 0) {
            if ((size_t)n > size)
                return false;
            *out = buf;
            *out_len = (size_t)n;
            return true;
        }
        if (n != -2)
            return false;
        uint32_t hint = (uint32_t)(unsigned char)buf[0] | (uint32_t)(unsigned char)buf[1] << 8 |
                        (uint32_t)(unsigned char)buf[2] << 16 | (uint32_t)(unsigned char)buf[3] << 24;
        size_t next = hint > size * 2 ? hint : size * 2;
        if (next <= size)
            return false;
        size = next;
    }
    return false;
}

void rt_log(int32_t level, const char *msg, size_t len)
{
    if (len == 0 || len > INT32_MAX)
        return;
#ifdef __wasm__
    env_host_log(level, msg, (int32_t)len);
#else
    if (rt_native_host_log)
        rt_native_host_log(level, msg, (int32_t)len);
#endif
}
