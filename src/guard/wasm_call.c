/*
 * wasm_call.c — one export call: buffers in guest memory, the call, the
 * return-code protocol (guard-abi §1.6, §1.7).
 *
 * Invariants:
 *  - output is copied out of guest memory before anything is freed;
 *  - dealloc runs with no deadline and no cancel flag (only a short safety
 *    deadline), so a cancelled request still returns its buffers; it is
 *    skipped only when the instance is going to be discarded anyway;
 *  - the direct-memory path never overlaps memory the guard may own: its
 *    buffers live in pages the host itself grew (departure 4);
 *  - a reported length larger than the buffer is an error (departure 3).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/wasm_guard_internal.h"

#define DEALLOC_SAFETY_NS (1000ull * 1000000ull)

/* Calls fn on the slot's instance and classifies what happened. `cancellable`
 * ties the call to the request's deadline and cancel flag. */
static guard_call_outcome_t invoke(guard_slot_t *s, const wasm_func_t *fn, const wasm_val_t *args, uint32_t nargs,
                                   wasm_val_t *res, uint32_t nres, bool cancellable, err_t *err)
{
    guard_ctx_t *ctx = s->call ? s->call->ctx : NULL;
    wasm_call_opts_t opts = {0};
    if (cancellable && ctx) {
        opts.deadline_ns = ctx->deadline_ns;
        opts.interrupt = &ctx->cancel;
    } else {
        opts.deadline_ns = wasm_now_ns() + DEALLOC_SAFETY_NS;
    }
    wasm_trap_t trap;
    memset(&trap, 0, sizeof trap);
    err_t e = {{0}};
    wasm_status_t st = wasm_func_call(s->inst, fn, args, nargs, res, nres, &opts, &trap, &e);
    switch (st) {
    case WASM_OK:
        return GUARD_CALL_OK;
    case WASM_BAD_CALL:
        err_set(err, "%s", e.msg);
        return GUARD_CALL_ERROR;
    case WASM_INTERRUPTED:
        if (cancellable && ctx && ctx->deadline_ns && wasm_now_ns() >= ctx->deadline_ns) {
            err_set(err, "guard call interrupted: deadline exceeded");
            return GUARD_CALL_INTERRUPTED;
        }
        if (cancellable && ctx && atomic_load(&ctx->cancel)) {
            err_set(err, "guard call interrupted: request cancelled");
            return GUARD_CALL_CANCELLED;
        }
        err_set(err, "guard call interrupted: deadline exceeded");
        return GUARD_CALL_INTERRUPTED;
    case WASM_TRAPPED:
        break;
    }
    if (trap.kind == WASM_TRAP_EXIT) {
        err_set(err, "module closed with exit_code(%d)", (int)trap.exit_code);
        return trap.exit_code == 0 ? GUARD_CALL_EXITED : GUARD_CALL_TRAPPED;
    }
    if (trap.kind == WASM_TRAP_HOST && s->call && s->call->interrupted) {
        /* A host function (poll_oneoff) saw the deadline or cancel flag. */
        if (s->call->cancelled) {
            err_set(err, "guard call interrupted: request cancelled");
            return GUARD_CALL_CANCELLED;
        }
        err_set(err, "guard call interrupted: deadline exceeded");
        return GUARD_CALL_INTERRUPTED;
    }
    if (trap.func_name[0])
        err_set(err, "wasm error: %s (in %s)", trap.message[0] ? trap.message : wasm_trap_kind_message(trap.kind),
                trap.func_name);
    else
        err_set(err, "wasm error: %s", trap.message[0] ? trap.message : wasm_trap_kind_message(trap.kind));
    return GUARD_CALL_TRAPPED;
}

static bool discards(guard_call_outcome_t o)
{
    return o == GUARD_CALL_TRAPPED || o == GUARD_CALL_INTERRUPTED || o == GUARD_CALL_CANCELLED ||
           o == GUARD_CALL_EXITED;
}

/* alloc(size) -> ptr, with upstream's error texts. */
static guard_call_outcome_t guest_alloc(guard_slot_t *s, const wasm_func_t *alloc, uint32_t size, const char *what,
                                        uint32_t *ptr, err_t *err)
{
    wasm_functype_t ty;
    wasm_func_type(alloc, &ty);
    if (ty.nresults == 0) {
        err_set(err, "failed to allocate WASM %s buffer: alloc returned no result", what);
        return GUARD_CALL_ERROR;
    }
    if (ty.nparams != 1 || ty.params[0] != WASM_I32 || ty.results[0] != WASM_I32) {
        err_set(err, "failed to allocate WASM %s buffer: alloc must have signature (i32)->i32", what);
        return GUARD_CALL_ERROR;
    }
    wasm_val_t arg = {.type = WASM_I32, .of.i32 = (int32_t)size};
    wasm_val_t r = {.type = WASM_I32};
    guard_call_outcome_t o = invoke(s, alloc, &arg, 1, &r, 1, true, err);
    if (o != GUARD_CALL_OK)
        return err_prefix(err, "failed to allocate WASM %s buffer", what), o;
    if (r.of.i32 == 0) {
        err_set(err, "failed to allocate WASM %s buffer: alloc returned null pointer", what);
        return GUARD_CALL_ERROR;
    }
    *ptr = (uint32_t)r.of.i32;
    return GUARD_CALL_OK;
}

/* dealloc(ptr, size), never cancellable; errors are only logged. */
static void guest_dealloc(guard_slot_t *s, const wasm_func_t *dealloc, uint32_t ptr, uint32_t size)
{
    if (ptr == 0 || size == 0)
        return;
    wasm_functype_t ty;
    wasm_func_type(dealloc, &ty);
    if (ty.nparams != 2 || ty.params[0] != WASM_I32 || ty.params[1] != WASM_I32 || ty.nresults > 1) {
        guard_wasm_log(s->guard, GUARD_LOG_WARN, "dealloc has an unexpected signature; buffer not freed");
        return;
    }
    wasm_val_t args[2] = {{.type = WASM_I32, .of.i32 = (int32_t)ptr}, {.type = WASM_I32, .of.i32 = (int32_t)size}};
    wasm_val_t r = {.type = ty.nresults ? ty.results[0] : WASM_I32};
    err_t e = {{0}};
    if (invoke(s, dealloc, args, 2, &r, ty.nresults, false, &e) != GUARD_CALL_OK)
        guard_wasm_log(s->guard, GUARD_LOG_WARN, "dealloc(%" PRIu32 ", %" PRIu32 ") failed: %s", ptr, size, e.msg);
}

/* Direct-memory path: buffers in a region of pages the host grew itself.
 * The region is reused across calls and extended in place while it is still
 * at the top of memory; otherwise a fresh one is grown above whatever the
 * guard has grown since (departure 4). */
static bool direct_region(guard_slot_t *s, size_t need, err_t *err)
{
    if (s->region_len >= need)
        return true;
    uint64_t cur = (uint64_t)wasm_memory_pages(s->inst) * GUARD_PAGE;
    uint64_t grow_bytes;
    bool extend = s->region_len && s->region_off + s->region_len == cur;
    if (extend)
        grow_bytes = need - s->region_len;
    else
        grow_bytes = need;
    uint32_t pages = (uint32_t)((grow_bytes + GUARD_PAGE - 1) / GUARD_PAGE);
    if (wasm_memory_grow(s->inst, pages) < 0)
        return err_set(err, "failed to grow WASM memory from %" PRIu64 " to %" PRIu64 " bytes", cur,
                       cur + (uint64_t)pages * GUARD_PAGE);
    if (extend) {
        s->region_len += (uint64_t)pages * GUARD_PAGE;
    } else {
        s->region_off = cur;
        s->region_len = (uint64_t)pages * GUARD_PAGE;
    }
    return true;
}

static uint32_t rd_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

guard_call_outcome_t guard_wasm_call_export(guard_slot_t *s, const char *fname, const uint8_t *input,
                                            size_t input_len, uint8_t **out, size_t *out_len, err_t *err)
{
    *out = NULL;
    *out_len = 0;
    wasm_func_t *fn = wasm_instance_export_func(s->inst, fname);
    if (!fn)
        return err_set(err, "function %s not exported from WASM module", fname), GUARD_CALL_ERROR;
    wasm_functype_t fty;
    wasm_func_type(fn, &fty);
    if (fty.nresults == 0) /* only reachable through raw calls: load checks the label_* exports */
        return err_set(err, "WASM function returned no results"), GUARD_CALL_ERROR;
    if (!s->guard->has_memory)
        return err_set(err, "WASM module has no memory"), GUARD_CALL_ERROR;
    if (input_len > GUARD_MAX_INPUT)
        return err_set(err, "input too large: %zu bytes (max %u)", input_len, GUARD_MAX_INPUT), GUARD_CALL_ERROR;

    wasm_func_t *alloc = NULL, *dealloc = NULL;
    if (s->guard->has_alloc) {
        alloc = wasm_instance_export_func(s->inst, "alloc");
        dealloc = wasm_instance_export_func(s->inst, "dealloc");
    }
    if ((!alloc || !dealloc) && !s->warned_direct) {
        s->warned_direct = true;
        guard_wasm_log(s->guard, GUARD_LOG_WARN,
                       "module exports no alloc/dealloc; using host-grown memory for guard buffers");
    }

    uint32_t size = GUARD_OUTPUT_INITIAL;
    for (int attempt = 0; attempt < GUARD_OUTPUT_ATTEMPTS; attempt++) {
        uint32_t in_ptr = 0, out_ptr = 0;
        guard_call_outcome_t o;
        if (alloc && dealloc) {
            o = guest_alloc(s, alloc, (uint32_t)input_len, "input", &in_ptr, err);
            if (o != GUARD_CALL_OK)
                return o;
            o = guest_alloc(s, alloc, size, "output", &out_ptr, err);
            if (o != GUARD_CALL_OK) {
                if (!discards(o))
                    guest_dealloc(s, dealloc, in_ptr, (uint32_t)input_len);
                return o;
            }
        } else {
            if (!direct_region(s, input_len + size, err))
                return GUARD_CALL_ERROR;
            in_ptr = (uint32_t)s->region_off;
            out_ptr = (uint32_t)(s->region_off + input_len);
        }

        o = GUARD_CALL_OK;
        int32_t n = 0;
        if (!wasm_memory_write(s->inst, in_ptr, input, input_len)) {
            err_set(err, "failed to write input to WASM memory");
            o = GUARD_CALL_ERROR;
        } else {
            wasm_val_t args[4] = {{.type = WASM_I32, .of.i32 = (int32_t)in_ptr},
                                  {.type = WASM_I32, .of.i32 = (int32_t)input_len},
                                  {.type = WASM_I32, .of.i32 = (int32_t)out_ptr},
                                  {.type = WASM_I32, .of.i32 = (int32_t)size}};
            wasm_val_t r = {.type = WASM_I32};
            o = invoke(s, fn, args, 4, &r, 1, true, err);
            if (o != GUARD_CALL_OK)
                err_prefix(err, "WASM function call failed");
            n = r.of.i32;
        }

        uint32_t next = 0;
        if (o == GUARD_CALL_OK) {
            if (n == -2) {
                uint8_t hint[4];
                uint32_t h = wasm_memory_read(s->inst, out_ptr, hint, 4) ? rd_u32(hint) : 0;
                next = h > 0 ? h : (size > UINT32_MAX / 2 ? UINT32_MAX : size * 2);
            } else if (n < 0) {
                err_set(err, "WASM function returned error code: %" PRId32, n);
                o = GUARD_CALL_ERROR;
            } else if ((uint32_t)n > size) {
                err_set(err, "guard reported output length %" PRId32 " larger than its output buffer of %" PRIu32
                        " bytes", n, size);
                o = GUARD_CALL_ERROR;
            } else if (n > 0) {
                uint8_t *buf = malloc((size_t)n);
                if (!buf) {
                    err_set(err, "out of memory copying %" PRId32 " bytes of guard output", n);
                    o = GUARD_CALL_ERROR;
                } else if (!wasm_memory_read(s->inst, out_ptr, buf, (size_t)n)) {
                    free(buf);
                    err_set(err, "failed to read output from WASM memory (len=%" PRId32 ")", n);
                    o = GUARD_CALL_ERROR;
                } else {
                    *out = buf;
                    *out_len = (size_t)n;
                }
            }
        }

        if (alloc && dealloc && !discards(o)) {
            guest_dealloc(s, dealloc, out_ptr, size);
            guest_dealloc(s, dealloc, in_ptr, (uint32_t)input_len);
        }
        if (o != GUARD_CALL_OK)
            return o;
        if (n != -2)
            return GUARD_CALL_OK;
        if (next > GUARD_OUTPUT_MAX) {
            err_set(err, "guard requires buffer of %" PRIu32 " bytes which exceeds maximum of %u bytes", next,
                    GUARD_OUTPUT_MAX);
            return GUARD_CALL_ERROR;
        }
        size = next;
    }
    err_set(err, "failed after %d attempts, buffer size %" PRIu32 " still insufficient", GUARD_OUTPUT_ATTEMPTS, size);
    return GUARD_CALL_ERROR;
}
