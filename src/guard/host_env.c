/*
 * host_env.c — the host module "env" a guard imports: call_backend and
 * host_log (guard-abi §1.4).
 *
 * Both are bound to a slot; everything they know about the request comes
 * from slot->call, which the pool sets for exactly the duration of one
 * export call. Neither ever traps: a bad pointer is -1 or is ignored, as
 * upstream does.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "guard/wasm_guard_internal.h"

#define SLOT(env) ((guard_slot_t *)(env))

/* call_backend(tool_ptr, tool_len, args_ptr, args_len, result_ptr, result_size) -> i32 */
static bool call_backend(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)t;
    guard_slot_t *s = SLOT(env);
    guard_call_state_t *cs = s->call;
    results[0].of.i32 = -1;
    if (!cs)
        return true;
    /* spec: §1.4 step 1 — every attempt counts, including failed and -2. */
    if (++cs->backend_calls > GUARD_MAX_BACKEND_CALLS) {
        if (cs->backend_calls == GUARD_MAX_BACKEND_CALLS + 1)
            guard_wasm_log(s->guard, GUARD_LOG_WARN, "call_backend limit of %d calls per invocation reached",
                           GUARD_MAX_BACKEND_CALLS);
        return true;
    }
    uint32_t tool_ptr = (uint32_t)args[0].of.i32, tool_len = (uint32_t)args[1].of.i32;
    uint32_t args_ptr = (uint32_t)args[2].of.i32, args_len = (uint32_t)args[3].of.i32;
    uint32_t res_ptr = (uint32_t)args[4].of.i32, res_size = (uint32_t)args[5].of.i32;

    const uint8_t *tp = wasm_memory_ptr(c, tool_ptr, tool_len);
    if (!tp && tool_len)
        return true;
    char *tool = malloc((size_t)tool_len + 1);
    if (!tool)
        return true;
    if (tool_len)
        memcpy(tool, tp, tool_len);
    tool[tool_len] = '\0';

    json_t *jargs = NULL;
    if (args_len) {
        const uint8_t *ap = wasm_memory_ptr(c, args_ptr, args_len);
        json_error_t jerr;
        if (!ap || !(jargs = json_loadb((const char *)ap, args_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr))) {
            free(tool);
            return true;
        }
    }
    if (!cs->ctx || !cs->ctx->backend || !cs->ctx->backend->call_tool) {
        guard_wasm_log(s->guard, GUARD_LOG_WARN, "call_backend %s: no backend available for this request", tool);
        free(tool);
        json_decref(jargs);
        return true;
    }
    json_t *res = NULL;
    err_t err = {{0}};
    const guard_backend_t *be = cs->ctx->backend;
    uint64_t t0 = wasm_now_ns();
    bool ok = be->call_tool(be->self, cs->ctx, tool, jargs, &res, &err);
    cs->backend_wait_ns += wasm_now_ns() - t0;
    json_decref(jargs);
    if (!ok) {
        guard_wasm_log(s->guard, GUARD_LOG_WARN, "call_backend %s failed: %s", tool, err.msg);
        free(tool);
        json_decref(res);
        return true;
    }
    free(tool);
    /* Sorted like every other guard input (upstream re-marshals it, §2). */
    char *out = json_dumps(res ? res : json_null(), JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
    json_decref(res);
    if (!out)
        return true;
    size_t len = strlen(out);
    if (len > res_size) {
        if (res_size >= 4) {
            uint8_t b[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16), (uint8_t)(len >> 24)};
            wasm_memory_write(c, res_ptr, b, 4);
        }
        free(out);
        results[0].of.i32 = -2;
        return true;
    }
    if (len > INT32_MAX || !wasm_memory_write(c, res_ptr, out, len)) {
        free(out);
        return true;
    }
    free(out);
    results[0].of.i32 = (int32_t)len;
    return true;
}

/* host_log(level, msg_ptr, msg_len) */
static bool host_log(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)results, (void)t;
    guard_slot_t *s = SLOT(env);
    int32_t level = args[0].of.i32;
    uint32_t len = (uint32_t)args[2].of.i32;
    const uint8_t *p = wasm_memory_ptr(c, (uint32_t)args[1].of.i32, len);
    if (!p && len)
        return true; /* spec: a failed read is silently ignored */
    guard_log_level_t lv = level >= 0 && level <= 3 ? (guard_log_level_t)level : GUARD_LOG_UNTAGGED;
    /* Cap what one message may put in the log. */
    int n = len > 8192 ? 8192 : (int)len;
    guard_wasm_log(s->guard, lv, "%.*s", n, p ? (const char *)p : "");
    return true;
}

bool guard_env_define(wasm_linker_t *linker, guard_slot_t *slot, err_t *err)
{
    static const wasm_valtype_t p6[6] = {WASM_I32, WASM_I32, WASM_I32, WASM_I32, WASM_I32, WASM_I32};
    static const wasm_valtype_t r1[1] = {WASM_I32};
    wasm_functype_t cb = {p6, 6, r1, 1};
    wasm_functype_t hl = {p6, 3, NULL, 0};
    return wasm_linker_define_func(linker, "env", "call_backend", &cb, call_backend, slot, err) &&
           wasm_linker_define_func(linker, "env", "host_log", &hl, host_log, slot, err);
}
