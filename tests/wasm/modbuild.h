/*
 * modbuild.h — what the fusion tests (test_chains, test_calls,
 * test_branches) share: a byte buffer that encodes a WebAssembly module by
 * hand, so each function body is exactly the instruction sequence under
 * test, and the pair of translations of one module (optimised and plain,
 * wasm_module_load_plain) they compare. Every failure fails the test.
 */
#ifndef FLOWGATE_TESTS_WASM_MODBUILD_H
#define FLOWGATE_TESTS_WASM_MODBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

typedef struct bytes {
    uint8_t *p; /* malloc'd; the owner frees it */
    size_t n, cap;
} bytes_t;

void mb_put(bytes_t *b, uint8_t v);
void mb_put_u32(bytes_t *b, uint32_t v); /* unsigned LEB128 */
void mb_put_s32(bytes_t *b, int32_t v);  /* signed LEB128 */
void mb_put_ops(bytes_t *b, const uint8_t *ops, size_t n);
void mb_put_bytes(bytes_t *b, const bytes_t *src);
/* Appends section `id` with `body` as its contents, then empties body. */
void mb_put_section(bytes_t *mod, uint8_t id, bytes_t *body);
/* The magic and version. */
void mb_put_header(bytes_t *mod);
/* The function section for n functions, function i of type type_of(i)
 * (type_of NULL: all of type 0), using sec as scratch. */
void mb_put_func_section(bytes_t *mod, bytes_t *sec, uint32_t n, uint32_t (*type_of)(uint32_t));
/* The export section: function i exported as "f<i>", for i < n. */
void mb_put_export_section(bytes_t *mod, bytes_t *sec, uint32_t n);

/* One module loaded both ways, with a linker to instantiate them. */
typedef struct mb_pair {
    bytes_t bin;
    wasm_module_t *opt, *plain;
    wasm_linker_t *linker;
} mb_pair_t;

/* Loads bin (the pair takes it) with both translations. */
mb_pair_t *mb_pair_load(bytes_t bin);
void mb_pair_free(mb_pair_t *p);
/* An instance of m (p->opt or p->plain) under limits (NULL: defaults). */
wasm_instance_t *mb_instantiate(const mb_pair_t *p, const wasm_module_t *m, const wasm_limits_t *limits);
/* Export "f<idx>" of inst. */
wasm_func_t *mb_export(wasm_instance_t *inst, uint32_t idx);

#endif
