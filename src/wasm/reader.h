/*
 * reader.h — bounds-checked reading of the binary format (LEB128, bytes,
 * names) for decode.c and compile.c. Every failure records the byte offset
 * and marks the module malformed; callers just return false.
 */
#ifndef FLOWGATE_WASM_READER_H
#define FLOWGATE_WASM_READER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "wasm/wasm.h"

typedef struct reader {
    const uint8_t *base; /* start of the whole binary, for offsets */
    const uint8_t *p, *end;
    wasm_load_error_t *why;
    err_t *err;
} reader_t;

bool rd_fail(reader_t *r, wasm_load_error_t kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inline size_t rd_off(const reader_t *r) { return (size_t)(r->p - r->base); }

static inline bool rd_u8(reader_t *r, uint8_t *out) {
    if (r->p >= r->end) {
        *out = 0;
        return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end");
    }
    *out = *r->p++;
    return true;
}

bool rd_u32_slow(reader_t *r, uint32_t *out);
static inline bool rd_u32(reader_t *r, uint32_t *out) {
    if (r->p < r->end && *r->p < 0x80) {
        *out = *r->p++;
        return true;
    }
    return rd_u32_slow(r, out);
}
bool rd_s32(reader_t *r, int32_t *out);
bool rd_s33(reader_t *r, int64_t *out);
bool rd_s64(reader_t *r, int64_t *out);
bool rd_bytes(reader_t *r, uint32_t n, const uint8_t **out);
/* A length-prefixed UTF-8 name, validated. */
bool rd_name(reader_t *r, const uint8_t **s, uint32_t *len);
bool rd_valtype(reader_t *r, wasm_valtype_t *t);
bool rd_reftype(reader_t *r, wasm_valtype_t *t);

#endif
