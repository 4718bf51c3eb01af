/* reader.c — LEB128 and name decoding with the spec's malformedness rules
 * (spec 5.2.2: at most ceil(N/7) bytes, unused bits of the last byte must be
 * zero / sign extension). */
#include "wasm/reader.h"

#include <stdarg.h>

bool rd_fail(reader_t *r, wasm_load_error_t kind, const char *fmt, ...) {
    if (r->why && *r->why == WASM_LOAD_OK)
        *r->why = kind;
    if (r->err) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        err_set(r->err, "%s at byte offset %zu", msg, rd_off(r));
    }
    return false;
}

static bool leb_u(reader_t *r, unsigned bits, uint64_t *out) {
    *out = 0;
    uint64_t v = 0;
    unsigned shift = 0;
    const uint8_t *start = r->p;
    for (;;) {
        if (r->p >= r->end)
            return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end (LEB128)");
        uint8_t b = *r->p++;
        if (shift + 7 >= bits && shift < bits) {
            /* last allowed byte */
            if (b & 0x80) {
                r->p = start;
                return rd_fail(r, WASM_LOAD_MALFORMED, "integer representation too long");
            }
            unsigned used = bits - shift;
            if (used < 7 && (b >> used) != 0) {
                r->p = start;
                return rd_fail(r, WASM_LOAD_MALFORMED, "integer too large");
            }
            v |= (uint64_t)b << shift;
            break;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    *out = v;
    return true;
}

static bool leb_s(reader_t *r, unsigned bits, int64_t *out) {
    *out = 0;
    uint64_t v = 0;
    unsigned shift = 0;
    const uint8_t *start = r->p;
    uint8_t b;
    for (;;) {
        if (r->p >= r->end)
            return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end (LEB128)");
        b = *r->p++;
        if (shift + 7 >= bits) {
            if (b & 0x80) {
                r->p = start;
                return rd_fail(r, WASM_LOAD_MALFORMED, "integer representation too long");
            }
            unsigned used = bits - shift; /* 1..7 bits that carry value incl. sign */
            if (used < 7) {
                uint8_t rest = (uint8_t)(b >> (used - 1)); /* sign bit and unused bits */
                uint8_t all = (uint8_t)((1u << (8 - used)) - 1) & 0x7f >> (used - 1);
                if (rest != 0 && rest != all) {
                    r->p = start;
                    return rd_fail(r, WASM_LOAD_MALFORMED, "integer too large");
                }
            }
            v |= (uint64_t)(b & 0x7f) << shift;
            shift += 7;
            break;
        }
        v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    if (shift < 64 && (b & 0x40))
        v |= ~(uint64_t)0 << shift;
    *out = (int64_t)v;
    return true;
}

bool rd_u32_slow(reader_t *r, uint32_t *out) {
    uint64_t v;
    *out = 0;
    if (!leb_u(r, 32, &v))
        return false;
    *out = (uint32_t)v;
    return true;
}

bool rd_s32(reader_t *r, int32_t *out) {
    int64_t v;
    *out = 0;
    if (!leb_s(r, 32, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

bool rd_s33(reader_t *r, int64_t *out) { return leb_s(r, 33, out); }
bool rd_s64(reader_t *r, int64_t *out) { return leb_s(r, 64, out); }

bool rd_bytes(reader_t *r, uint32_t n, const uint8_t **out) {
    *out = NULL;
    if ((size_t)(r->end - r->p) < n)
        return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end: %u bytes needed", n);
    *out = r->p;
    r->p += n;
    return true;
}

static bool utf8_ok(const uint8_t *s, uint32_t n) {
    uint32_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        uint32_t len, cp;
        if ((c & 0xe0) == 0xc0) {
            len = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i < len)
            return false;
        for (uint32_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000))
            return false;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += len;
    }
    return true;
}

bool rd_name(reader_t *r, const uint8_t **s, uint32_t *len) {
    if (!rd_u32(r, len) || !rd_bytes(r, *len, s))
        return false;
    if (!utf8_ok(*s, *len)) {
        r->p -= *len;
        return rd_fail(r, WASM_LOAD_MALFORMED, "malformed UTF-8 encoding");
    }
    return true;
}

bool rd_valtype(reader_t *r, wasm_valtype_t *t) {
    uint8_t b;
    if (!rd_u8(r, &b))
        return false;
    switch (b) {
    case WASM_I32: case WASM_I64: case WASM_F32: case WASM_F64: case WASM_FUNCREF: case WASM_EXTERNREF:
        *t = (wasm_valtype_t)b;
        return true;
    }
    r->p--;
    return rd_fail(r, WASM_LOAD_MALFORMED, "malformed value type 0x%02x", b);
}

bool rd_reftype(reader_t *r, wasm_valtype_t *t) {
    uint8_t b;
    if (!rd_u8(r, &b))
        return false;
    if (b == WASM_FUNCREF || b == WASM_EXTERNREF) {
        *t = (wasm_valtype_t)b;
        return true;
    }
    r->p--;
    return rd_fail(r, WASM_LOAD_MALFORMED, "malformed reference type 0x%02x", b);
}
