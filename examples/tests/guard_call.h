/*
 * guard_call.h — for the native tests of the demo guard: call one of its
 * exports the way the host drives the ABI (spec: guard-abi §1.6): alloc the
 * input and output buffers, copy the input in, call, copy the output out,
 * dealloc output then input.
 */
#ifndef DEMO_GUARD_CALL_H
#define DEMO_GUARD_CALL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "guard_rt.h"

typedef int32_t (*guard_export_fn)(const char *, int32_t, char *, int32_t);

/* Returns the export's code. When out is non-NULL it receives a malloc'd
 * copy of the output (NUL-terminated) for a code >= 0, or of the 4-byte size
 * hint for -2 (when out_size >= 4); otherwise NULL. */
static inline int32_t guard_call(guard_export_fn fn, const char *input, int32_t out_size, char **out)
{
    int32_t in_len = (int32_t)strlen(input);
    char *in = guard_alloc(in_len);
    char *buf = guard_alloc(out_size);
    if (!in || !buf)
        abort(); /* the arena is sized for these tests */
    memcpy(in, input, (size_t)in_len);
    int32_t rc = fn(in, in_len, buf, out_size);
    if (out) {
        size_t n = rc >= 0 && rc <= out_size ? (size_t)rc : rc == -2 && out_size >= 4 ? 4 : 0;
        *out = NULL;
        if (n || rc == 0) {
            *out = malloc(n + 1);
            memcpy(*out, buf, n);
            (*out)[n] = '\0';
        }
    }
    guard_dealloc(buf, out_size);
    guard_dealloc(in, in_len);
    return rc;
}

#endif
