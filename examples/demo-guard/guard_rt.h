/*
 * guard_rt.h — a tiny freestanding runtime for Flowgate guards written in C
 * and compiled to wasm32 with no libc: memory, JSON reading, JSON writing.
 *
 * Memory. The module exports `alloc(i32) -> i32` and `dealloc(i32, i32)`,
 * the optional allocator exports of the guard ABI (spec: guard-abi §1.3,
 * §1.6): the host allocates the input and output buffers of every call with
 * them and frees both afterwards. Behind them is a bump allocator that
 * counts live host allocations and rewinds to the heap base when the count
 * drops to zero, which frees every scratch allocation (rt_alloc) made during
 * the call as well. So state that must outlive one call lives in static
 * variables, never in rt_alloc memory. Memory grows on demand and is never
 * shrunk.
 *
 * Native builds. The same sources compile for the host (gcc/clang, with
 * libc) so the guard's logic can be unit-tested directly: there, linear
 * memory is a fixed static arena and GUARD_EXPORT adds nothing.
 *
 * JSON reading. A js_t is the raw text of one JSON value inside the input;
 * nothing is copied. js_parse validates a whole document (RFC 8259, nesting
 * at most RT_MAX_DEPTH), after which js_get / js_iter walk it. Strings are
 * compared or decoded on demand.
 *
 * JSON writing. A jw_t writes into the host's output buffer and keeps
 * counting past its end, so that rt_finish can answer the ABI's "buffer too
 * small" code with the exact size needed (spec: guard-abi §1.7).
 *
 * Host imports. rt_call_backend and rt_log reach the host module "env"
 * (spec: guard-abi §1.4). wasm-ld only imports what is called, so a guard
 * that never uses them (the demo guard) still imports nothing. In native
 * builds they go to the hooks rt_native_call_backend / rt_native_host_log,
 * which a unit test sets (unset: call_backend fails with -1, logs vanish).
 */
#ifndef GUARD_RT_H
#define GUARD_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RT_MAX_DEPTH 128

#ifdef __wasm__
#define GUARD_EXPORT(name) __attribute__((export_name(name)))
#else
#define GUARD_EXPORT(name)
#define RT_NATIVE_ARENA (40u << 20) /* stands in for linear memory */
#endif

/* ---- the guard exports (spec: guard-abi §1.2, §1.7) ---- */

/* Each reads in[0..in_len) and writes at most out_size bytes at out, and
 * returns the output length, -1 for an input it rejects, or -2 (with the
 * needed size at out) when out_size is too small. A guard defines all three. */
int32_t label_agent(const char *in, int32_t in_len, char *out, int32_t out_size);
int32_t label_resource(const char *in, int32_t in_len, char *out, int32_t out_size);
int32_t label_response(const char *in, int32_t in_len, char *out, int32_t out_size);

/* ---- memory ---- */

/* The allocator exports: alloc(i32) -> i32 and dealloc(i32, i32). */
void *guard_alloc(int32_t size);
void guard_dealloc(void *ptr, int32_t size);

/* Scratch memory, 8-byte aligned, valid until the host frees the call's
 * buffers. NULL when memory cannot grow. */
void *rt_alloc(size_t n);

/* ---- reading ---- */

typedef struct js {
    const char *p; /* first byte of the value */
    size_t n;      /* its length; 0 means "no value" */
} js_t;

/* Validates that text[0..len) is one JSON value (surrounding whitespace
 * allowed); *out is the value without the whitespace. */
bool js_parse(const char *text, size_t len, js_t *out);

static inline bool js_is_object(js_t v) { return v.n > 0 && v.p[0] == '{'; }
static inline bool js_is_array(js_t v) { return v.n > 0 && v.p[0] == '['; }
static inline bool js_is_string(js_t v) { return v.n > 0 && v.p[0] == '"'; }
static inline bool js_is_true(js_t v) { return v.n == 4 && v.p[0] == 't'; }

/* The member `key` of object `obj`; false when obj is not an object or has
 * no such key (the first occurrence wins). */
bool js_get(js_t obj, const char *key, js_t *out);

/* Iterates the elements of an array, or the values of an object. */
typedef struct js_iter {
    const char *p, *end;
    bool object;
} js_iter_t;

bool js_iter_begin(js_t container, js_iter_t *it);
bool js_iter_next(js_iter_t *it, js_t *elem);
/* Like js_iter_next for an object, also giving the member's key (a string
 * value); for an array *key is {0, 0}. */
bool js_iter_next_member(js_iter_t *it, js_t *key, js_t *val);

/* True when `s` is a string equal to the NUL-terminated `lit`. */
bool js_str_eq(js_t s, const char *lit);

/* Decodes string `s` into buf (UTF-8, no NUL added). Returns the length, or
 * -1 when s is not a string or does not fit in cap. The decoded form is never
 * longer than s.n. */
long js_str_decode(js_t s, char *buf, size_t cap);

/* True when `v` is an integer literal of at most 19 digits (no fraction or
 * exponent), so its text can be copied as-is. */
bool js_is_plain_integer(js_t v);

/* True when needle occurs in hay[0..len). */
bool rt_contains(const char *hay, size_t len, const char *needle);

/* ---- writing ---- */

typedef struct jw {
    char *buf;
    size_t cap, len; /* len may exceed cap: the bytes that did not fit */
} jw_t;

void jw_raw(jw_t *w, const char *s, size_t n);
void jw_lit(jw_t *w, const char *s);          /* NUL-terminated, as is */
void jw_str(jw_t *w, const char *s, size_t n); /* as a JSON string */
void jw_esc(jw_t *w, const char *s, size_t n); /* escaped, without quotes */
void jw_js(jw_t *w, js_t v);                   /* a parsed value, as is */
void jw_uint(jw_t *w, uint32_t v);

/* Ends an export call: returns the output length, or -2 with the needed
 * size stored little-endian in the first 4 bytes of the buffer when it did
 * not fit (and the buffer has room for 4 bytes). */
int32_t rt_finish(jw_t *w);

/* ---- host imports (spec: guard-abi §1.4) ---- */

#ifndef __wasm__
/* Native stand-ins for the imports, NULL by default. */
extern int32_t (*rt_native_call_backend)(const char *tool, int32_t tool_len, const char *args, int32_t args_len,
                                         char *result, int32_t result_size);
extern void (*rt_native_host_log)(int32_t level, const char *msg, int32_t len);
#endif

/* env.call_backend as is: calls `tool` on the guard's backend with the JSON
 * `args` (args_len 0: null). Returns the result's length, -1 on any failure,
 * or -2 when it does not fit in result_size (the needed size then sits
 * little-endian in result[0..4) if result_size >= 4). */
int32_t rt_call_backend(const char *tool, size_t tool_len, const char *args, size_t args_len, char *result,
                        size_t result_size);

/* rt_call_backend with the buffer protocol handled: starts with `initial`
 * bytes of scratch memory and on -2 grows to max(hint, 2x) up to 16 MiB, as
 * the reference guard does. On success *out (scratch memory) holds *out_len
 * bytes; false on any failure. */
bool rt_call_backend_alloc(const char *tool, size_t tool_len, const char *args, size_t args_len, size_t initial,
                           const char **out, size_t *out_len);

/* env.host_log: 0 debug, 1 info, 2 warn, 3 error. Empty messages are not
 * sent. */
void rt_log(int32_t level, const char *msg, size_t len);

#endif
