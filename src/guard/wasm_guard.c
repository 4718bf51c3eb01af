/*
 * wasm_guard.c — the WASM guard: loading and export checks (guard-abi §1.1,
 * §1.2), the instance pool (departure 7), trap handling and health
 * (departure 5), and the guard vtable.
 *
 * The module is compiled once. Each pooled instance is a slot with its own
 * linker (so host functions find their slot through `env`). A request
 * borrows a slot for one export call; a slot that trapped, was interrupted
 * or exited is discarded and a fresh one is made on demand. Guards keep
 * their policy in globals set by label_agent (§1.9), so the last successful
 * label_agent input is kept and replayed on any slot that has not seen it
 * before its first label_resource/label_response.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard/wasm_guard_internal.h"
#include "util/file.h"

#define DEFAULT_IDLE_MS 30000u
#define WAIT_STEP_NS (10ull * 1000000ull)

static const guard_ops_t wasm_guard_ops;

void guard_wasm_log(const wasm_guard_t *g, guard_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    guard_log_vprintf(&g->log, g->name, level, fmt, ap);
    va_end(ap);
}

/* ---- slots ------------------------------------------------------------- */

static void slot_free(guard_slot_t *s)
{
    if (!s)
        return;
    wasm_instance_free(s->inst);
    wasm_linker_free(s->linker);
    free(s);
}

static guard_slot_t *slot_new(wasm_guard_t *g, err_t *err)
{
    guard_slot_t *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, "failed to instantiate WASM module: out of memory"), NULL;
    s->guard = g;
    s->linker = wasm_linker_new();
    if (!s->linker) {
        free(s);
        return err_set(err, "failed to instantiate WASM module: out of memory"), NULL;
    }
    if (!guard_wasi_define(s->linker, s, err) || !guard_env_define(s->linker, s, err)) {
        slot_free(s);
        return err_prefix(err, "failed to instantiate WASM module"), NULL;
    }
    wasm_limits_t lim = {.max_memory_pages = GUARD_MAX_MEMORY_PAGES};
    wasm_inst_error_t why;
    s->inst = wasm_instance_new(g->module, s->linker, &lim, &why, err);
    if (!s->inst) {
        slot_free(s);
        return err_prefix(err, "failed to instantiate WASM module"), NULL;
    }
    return s;
}

/* ---- the pool ---------------------------------------------------------- */

static void pool_free_idle_locked(wasm_guard_t *g, uint64_t now, guard_slot_t **dead, size_t *ndead, size_t cap)
{
    for (size_t i = 0; i < g->max_instances && g->live > 1 && *ndead < cap; i++) {
        guard_slot_t *s = g->slots[i];
        if (s && !s->in_use && now - s->last_used_ns > g->idle_ns) {
            g->slots[i] = NULL;
            g->live--;
            dead[(*ndead)++] = s;
        }
    }
}

static bool failed_error(wasm_guard_t *g, err_t *err)
{
    return err_set(err, "WASM guard '%s' is unavailable after %d traps within %llu s: %s", g->name, GUARD_TRAP_LIMIT,
                   GUARD_TRAP_WINDOW_NS / 1000000000ull, g->failed_why);
}

/* Borrows an idle slot, makes a new one below the ceiling, or waits for one
 * to come back — as long as the request's deadline and cancel flag allow. */
static guard_slot_t *pool_acquire(wasm_guard_t *g, guard_ctx_t *ctx, err_t *err)
{
    /* A request already over its deadline (the backend took the time) or
     * cancelled never starts guard code: it would only be interrupted at
     * once and the instance thrown away. */
    if (ctx && guard_ctx_done(ctx)) {
        err_set(err, "guard call interrupted: %s before the guard ran",
                atomic_load(&ctx->cancel) && !(ctx->deadline_ns && wasm_now_ns() >= ctx->deadline_ns)
                    ? "request cancelled"
                    : "deadline exceeded");
        return NULL;
    }
    pthread_mutex_lock(&g->mu);
    for (;;) {
        if (g->failed) {
            failed_error(g, err);
            pthread_mutex_unlock(&g->mu);
            return NULL;
        }
        /* Most recently used idle slot first, so extras go idle and age out. */
        guard_slot_t *best = NULL;
        for (size_t i = 0; i < g->max_instances; i++) {
            guard_slot_t *s = g->slots[i];
            if (s && !s->in_use && (!best || s->last_used_ns > best->last_used_ns))
                best = s;
        }
        if (best) {
            best->in_use = true;
            pthread_mutex_unlock(&g->mu);
            return best;
        }
        if (g->live < g->max_instances) {
            g->live++;
            pthread_mutex_unlock(&g->mu);
            guard_slot_t *s = slot_new(g, err);
            pthread_mutex_lock(&g->mu);
            if (!s) {
                g->live--;
                pthread_cond_broadcast(&g->cv);
                pthread_mutex_unlock(&g->mu);
                return NULL;
            }
            for (size_t i = 0; i < g->max_instances; i++) {
                if (!g->slots[i]) {
                    g->slots[i] = s;
                    break;
                }
            }
            s->in_use = true;
            g->created++;
            pthread_mutex_unlock(&g->mu);
            return s;
        }
        if (ctx && guard_ctx_done(ctx)) {
            pthread_mutex_unlock(&g->mu);
            err_set(err, "no guard instance became free before the request %s",
                    atomic_load(&ctx->cancel) ? "was cancelled" : "deadline");
            return NULL;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t t = (uint64_t)ts.tv_nsec + WAIT_STEP_NS;
        ts.tv_sec += (time_t)(t / 1000000000ull);
        ts.tv_nsec = (long)(t % 1000000000ull);
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
    }
}

static void pool_release(wasm_guard_t *g, guard_slot_t *s, bool discard)
{
    guard_wasi_flush(s);
    guard_slot_t *dead[64];
    size_t ndead = 0;
    uint64_t now = wasm_now_ns();
    pthread_mutex_lock(&g->mu);
    if (discard) {
        for (size_t i = 0; i < g->max_instances; i++) {
            if (g->slots[i] == s) {
                g->slots[i] = NULL;
                break;
            }
        }
        g->live--;
    } else {
        s->in_use = false;
        s->last_used_ns = now;
    }
    /* Release idle extras (at most the local array's size per pass; the
     * rest go on a later release). */
    pool_free_idle_locked(g, now, dead, &ndead, sizeof dead / sizeof dead[0]);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (discard)
        slot_free(s);
    for (size_t i = 0; i < ndead; i++)
        slot_free(dead[i]);
}

/* Departure 5: counts traps and deadline interruptions in a sliding window. */
static void note_trap(wasm_guard_t *g, const char *why)
{
    uint64_t now = wasm_now_ns();
    pthread_mutex_lock(&g->mu);
    g->traps++;
    memmove(g->trap_times, g->trap_times + 1, sizeof g->trap_times - sizeof g->trap_times[0]);
    g->trap_times[GUARD_TRAP_LIMIT - 1] = now;
    if (g->ntraps < GUARD_TRAP_LIMIT)
        g->ntraps++;
    bool newly_failed = false;
    if (!g->failed && g->ntraps == GUARD_TRAP_LIMIT && now - g->trap_times[0] <= GUARD_TRAP_WINDOW_NS) {
        g->failed = newly_failed = true;
        snprintf(g->failed_why, sizeof g->failed_why, "%s", why);
    }
    pthread_mutex_unlock(&g->mu);
    if (newly_failed)
        guard_wasm_log(g, GUARD_LOG_ERROR, "marked failed after %d traps within %llu s; last: %s", GUARD_TRAP_LIMIT,
                       GUARD_TRAP_WINDOW_NS / 1000000000ull, why);
}

/* ---- one guarded call -------------------------------------------------- */

/* Whether a deadline interruption is the guard's doing (departure 5 counts
 * those): its own code, not call_backend waiting on a slow backend, used
 * most of the time the call had, and enough of it to matter. A request that
 * reached the guard with a few ms left, or whose backend ate the deadline,
 * must not take the guard down for every other request. */
static bool guard_overran(const guard_ctx_t *ctx, uint64_t started_ns, uint64_t backend_wait_ns)
{
    uint64_t now = wasm_now_ns();
    uint64_t spent = now - started_ns;
    uint64_t own = spent > backend_wait_ns ? spent - backend_wait_ns : 0;
    uint64_t budget = ctx && ctx->deadline_ns > started_ns ? ctx->deadline_ns - started_ns : spent;
    return own >= GUARD_BLAME_MIN_NS && 2 * own >= budget;
}

static bool outcome_discards(guard_call_outcome_t o)
{
    return o != GUARD_CALL_OK && o != GUARD_CALL_ERROR;
}

/* Runs export `fname` on a pooled slot. For label_agent (`agent` non-NULL)
 * the output is parsed while the slot is still held, and on success the
 * input becomes the policy replayed on other slots. */
static bool run_export(wasm_guard_t *g, guard_ctx_t *ctx, const char *fname, const uint8_t *input, size_t len,
                       difc_agent_result_t *agent, bool remember, uint8_t **out, size_t *out_len, err_t *err)
{
    *out = NULL;
    *out_len = 0;
    guard_slot_t *s = pool_acquire(g, ctx, err);
    if (!s)
        return false;
    guard_call_state_t cs = {.ctx = ctx};
    uint64_t started_ns = wasm_now_ns();
    s->call = &cs;
    guard_call_outcome_t o = GUARD_CALL_OK;

    if (!agent) {
        /* Bring this slot up to the current policy first (§1.9). */
        uint8_t *pol = NULL;
        size_t pol_len = 0;
        uint64_t gen = 0;
        pthread_mutex_lock(&g->mu);
        if (g->policy_gen && s->policy_gen != g->policy_gen && (pol = malloc(g->policy_len ? g->policy_len : 1))) {
            memcpy(pol, g->policy, g->policy_len);
            pol_len = g->policy_len;
            gen = g->policy_gen;
        }
        pthread_mutex_unlock(&g->mu);
        if (gen) {
            uint8_t *ro;
            size_t rl;
            o = guard_wasm_call_export(s, "label_agent", pol, pol_len, &ro, &rl, err);
            free(ro);
            if (o == GUARD_CALL_OK)
                s->policy_gen = gen;
            else
                err_prefix(err, "replaying label_agent on a fresh guard instance");
        }
        free(pol);
    }
    if (o == GUARD_CALL_OK) {
        cs.backend_calls = 0; /* spec: §1.4 — the counter is per invocation */
        cs.interrupted = cs.cancelled = false;
        o = guard_wasm_call_export(s, fname, input, len, out, out_len, err);
    }
    if (o == GUARD_CALL_OK && agent) {
        if (!difc_agent_result_parse((const char *)*out, *out_len, agent, err)) {
            o = GUARD_CALL_ERROR;
        } else if (remember) {
            uint8_t *copy = malloc(len ? len : 1);
            if (copy) {
                memcpy(copy, input, len);
                pthread_mutex_lock(&g->mu);
                free(g->policy);
                g->policy = copy;
                g->policy_len = len;
                s->policy_gen = ++g->policy_gen;
                pthread_mutex_unlock(&g->mu);
            }
        }
    }
    s->call = NULL;
    pool_release(g, s, outcome_discards(o));
    if (o == GUARD_CALL_TRAPPED || (o == GUARD_CALL_INTERRUPTED && guard_overran(ctx, started_ns, cs.backend_wait_ns))) {
        guard_wasm_log(g, GUARD_LOG_ERROR, "%s: %s; the instance is discarded", fname, err ? err->msg : "trap");
        note_trap(g, err ? err->msg : "trap");
    } else if (o == GUARD_CALL_INTERRUPTED) {
        guard_wasm_log(g, GUARD_LOG_WARN,
                       "%s: %s; the instance is discarded, not counted against the guard "
                       "(%llu ms of the call went to the backend)",
                       fname, err ? err->msg : "interrupted", (unsigned long long)(cs.backend_wait_ns / 1000000ull));
    }
    if (o != GUARD_CALL_OK) {
        free(*out);
        *out = NULL;
        *out_len = 0;
        return false;
    }
    return true;
}

bool guard_wasm_call_raw(guard_t *base, guard_ctx_t *ctx, const char *export_name, const uint8_t *input,
                         size_t input_len, uint8_t **out, size_t *out_len, err_t *err)
{
    *out = NULL;
    *out_len = 0;
    if (base->ops != &wasm_guard_ops)
        return err_set(err, "guard '%s' is not a WASM guard", base->name);
    return run_export((wasm_guard_t *)base, ctx, export_name, input, input_len, NULL, false, out, out_len, err);
}

/* ---- the vtable -------------------------------------------------------- */

static char *dump_sorted(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static bool wg_label_agent(guard_t *base, guard_ctx_t *ctx, const json_t *payload, difc_agent_result_t *out,
                           err_t *err)
{
    wasm_guard_t *g = (wasm_guard_t *)base;
    if (!guard_label_agent_payload_check(payload, err))
        return false;
    char *in = dump_sorted(payload);
    if (!in)
        return err_set(err, "out of memory serialising the label_agent input");
    uint8_t *o;
    size_t n;
    bool ok = run_export(g, ctx, "label_agent", (const uint8_t *)in, strlen(in), out, true, &o, &n, err);
    free(in);
    free(o);
    return ok;
}

char *guard_wasm_tool_input(const char *tool_name, const json_t *tool_args, const json_t *tool_result, bool with_result)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "capabilities", json_object());
    json_object_set(o, "tool_args", tool_args ? (json_t *)tool_args : json_null());
    json_object_set_new(o, "tool_name", json_string(tool_name ? tool_name : ""));
    if (with_result)
        json_object_set(o, "tool_result", tool_result ? (json_t *)tool_result : json_null());
    char *s = dump_sorted(o);
    json_decref(o);
    return s;
}

static bool wg_label_resource(guard_t *base, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                              difc_resource_t *res, difc_op_t *op, err_t *err)
{
    *op = DIFC_OP_WRITE;
    char *in = guard_wasm_tool_input(tool_name, tool_args, NULL, false);
    if (!in)
        return err_set(err, "out of memory serialising the label_resource input");
    uint8_t *o;
    size_t n;
    bool ok = run_export((wasm_guard_t *)base, ctx, "label_resource", (const uint8_t *)in, strlen(in), NULL, false,
                         &o, &n, err);
    free(in);
    if (ok)
        ok = difc_resource_result_parse((const char *)o, n, res, op, err);
    free(o);
    return ok;
}

static bool wg_label_response(guard_t *base, guard_ctx_t *ctx, const char *tool_name, const json_t *tool_args,
                              const json_t *tool_result, difc_response_labels_t *out, err_t *err)
{
    char *in = guard_wasm_tool_input(tool_name, tool_args, tool_result, true);
    if (!in)
        return err_set(err, "out of memory serialising the label_response input");
    uint8_t *o;
    size_t n;
    bool ok = run_export((wasm_guard_t *)base, ctx, "label_response", (const uint8_t *)in, strlen(in), NULL, false,
                         &o, &n, err);
    free(in);
    if (ok)
        ok = difc_response_labels_parse((const char *)o, n, out, err);
    free(o);
    return ok;
}

static bool wg_healthy(guard_t *base, err_t *why)
{
    wasm_guard_t *g = (wasm_guard_t *)base;
    pthread_mutex_lock(&g->mu);
    bool ok = !g->failed;
    if (!ok)
        failed_error(g, why);
    pthread_mutex_unlock(&g->mu);
    return ok;
}

static void wg_close(guard_t *base)
{
    wasm_guard_t *g = (wasm_guard_t *)base;
    for (size_t i = 0; i < g->max_instances; i++)
        slot_free(g->slots[i]);
    free(g->slots);
    wasm_module_free(g->module);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->policy);
    free(g->name);
    free(g);
}

static const guard_ops_t wasm_guard_ops = {
    .label_agent = wg_label_agent,
    .label_resource = wg_label_resource,
    .label_response = wg_label_response,
    .healthy = wg_healthy,
    .close = wg_close,
};

bool guard_wasm_stats(guard_t *base, guard_wasm_stats_t *out)
{
    if (!base || base->ops != &wasm_guard_ops)
        return false;
    wasm_guard_t *g = (wasm_guard_t *)base;
    pthread_mutex_lock(&g->mu);
    out->live_instances = g->live;
    out->max_instances = g->max_instances;
    out->instances_created = g->created;
    out->traps = g->traps;
    out->failed = g->failed;
    pthread_mutex_unlock(&g->mu);
    return true;
}

/* ---- loading ----------------------------------------------------------- */

static void format_types(char *buf, size_t n, const wasm_valtype_t *t, uint32_t count, bool parens_for_one)
{
    size_t off = 0;
    bool parens = count != 1 || parens_for_one;
    if (parens)
        off += (size_t)snprintf(buf + off, n - off, "(");
    for (uint32_t i = 0; i < count && off < n; i++) {
        const char *name = t[i] == WASM_I32     ? "i32"
                           : t[i] == WASM_I64   ? "i64"
                           : t[i] == WASM_F32   ? "f32"
                           : t[i] == WASM_F64   ? "f64"
                           : t[i] == WASM_FUNCREF ? "funcref"
                                                  : "externref";
        off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? "," : "", name);
    }
    if (parens && off < n)
        snprintf(buf + off, n - off, ")");
}

static bool check_signature(const wasm_module_t *mod, const char *name, err_t *err)
{
    wasm_export_info_t e;
    wasm_module_find_export(mod, name, &e);
    const wasm_functype_t *f = &e.func;
    bool ok = f->nparams == 4 && f->nresults == 1 && f->results[0] == WASM_I32;
    for (uint32_t i = 0; ok && i < 4; i++)
        ok = f->params[i] == WASM_I32;
    if (ok)
        return true;
    char p[128], r[128];
    format_types(p, sizeof p, f->params, f->nparams, true);
    format_types(r, sizeof r, f->results, f->nresults, false);
    return err_set(err, "WASM module function %s must have signature (i32,i32,i32,i32)->i32, got %s->%s", name, p,
                   r);
}

static bool has_func_export(const wasm_module_t *mod, const char *name)
{
    wasm_export_info_t e;
    return wasm_module_find_export(mod, name, &e) && e.kind == WASM_EXTERN_FUNC;
}

/* spec: guard-abi §1.2, in upstream's order. */
static bool check_exports(const wasm_module_t *mod, err_t *err)
{
    bool lres = has_func_export(mod, "label_resource"), lresp = has_func_export(mod, "label_response");
    if (!lres || !lresp) {
        if (!lres && has_func_export(mod, "_start"))
            return err_set(err, "WASM module does not export guard functions. This usually means the guard was "
                                "compiled with standard Go instead of TinyGo. Build it as a WASI reactor that "
                                "exports label_agent, label_resource and label_response (for Go: tinygo build "
                                "-target=wasi -buildmode=c-shared; for Rust: a cdylib for wasm32-wasip1).");
        return err_set(err, "WASM module must export label_resource and label_response functions");
    }
    if (!has_func_export(mod, "label_agent"))
        return err_set(err, "WASM module must export label_agent");
    return check_signature(mod, "label_resource", err) && check_signature(mod, "label_response", err) &&
           check_signature(mod, "label_agent", err);
}

static bool module_has_memory(const wasm_module_t *mod, wasm_instance_t *inst)
{
    if (wasm_memory_pages(inst) > 0)
        return true;
    for (uint32_t i = 0; i < wasm_module_export_count(mod); i++) {
        wasm_export_info_t e;
        wasm_module_export(mod, i, &e);
        if (e.kind == WASM_EXTERN_MEMORY)
            return true;
    }
    return false;
}

guard_t *guard_wasm_load_bytes(const uint8_t *bytes, size_t len, const guard_wasm_opts_t *opts, err_t *err)
{
    guard_wasm_opts_t def = {0};
    if (!opts)
        opts = &def;
    wasm_guard_t *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(err, "out of memory loading a guard"), NULL;
    g->name = strdup(opts->name && *opts->name ? opts->name : "guard");
    g->log = opts->log;
    size_t max = opts->max_instances;
    if (!max) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        max = n > 0 ? (size_t)n : 1;
    }
    g->max_instances = max;
    g->idle_ns = (uint64_t)(opts->idle_ms ? opts->idle_ms : DEFAULT_IDLE_MS) * 1000000ull;
    g->slots = calloc(max, sizeof *g->slots);
    if (!g->name || !g->slots) {
        free(g->name);
        free(g->slots);
        free(g);
        return err_set(err, "out of memory loading a guard"), NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->base.ops = &wasm_guard_ops;
    g->base.name = g->name;
    g->base.type = "wasm";

    wasm_load_error_t why;
    g->module = len ? wasm_module_load(bytes, len, &why, err) : NULL;
    if (!g->module) {
        if (!len)
            err_set(err, "empty module");
        err_prefix(err, "failed to instantiate WASM module");
        wg_close(&g->base);
        return NULL;
    }
    /* Instantiate first, as upstream does: unresolvable imports and bad
     * segments are reported before missing exports. */
    guard_slot_t *s = slot_new(g, err);
    if (!s) {
        wg_close(&g->base);
        return NULL;
    }
    g->slots[0] = s;
    g->live = 1;
    g->created = 1;
    s->last_used_ns = wasm_now_ns();
    if (!check_exports(g->module, err)) {
        wg_close(&g->base);
        return NULL;
    }
    g->has_alloc = has_func_export(g->module, "alloc") && has_func_export(g->module, "dealloc");
    g->has_memory = module_has_memory(g->module, s->inst);
    return &g->base;
}

guard_t *guard_wasm_load_file(const char *path, const guard_wasm_opts_t *opts, err_t *err)
{
    size_t len = 0;
    uint8_t *buf = util_read_file(path, &len, err);
    if (!buf)
        return err_prefix(err, "failed to read WASM file"), NULL;
    guard_t *g = guard_wasm_load_bytes(buf, len, opts, err);
    free(buf);
    return g;
}
