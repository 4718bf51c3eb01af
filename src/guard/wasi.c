/*
 * wasi.c — wasi_snapshot_preview1 for guards, with sandbox defaults.
 *
 * Every preview1 function gets a definition, so a guard built by any
 * toolchain links (guard-abi §1.5). The sandbox: no args, empty environment,
 * no preopened directories (so no path can ever be opened), stdin at EOF,
 * stdout and stderr line-buffered into the gateway's log (never the
 * process's stdout, which may carry MCP), real clocks, random bytes from
 * getrandom(), and poll_oneoff clock waits that really sleep but end early
 * when the request's deadline passes or its cancel flag is set.
 *
 * Guest pointers are bounds-checked; a bad one gives EFAULT, never a trap.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "guard/wasm_guard_internal.h"

/* WASI errno values (preview1 witx). */
enum {
    WASI_ESUCCESS = 0,
    WASI_EBADF = 8,
    WASI_EFAULT = 21,
    WASI_EINVAL = 28,
    WASI_EIO = 29,
    WASI_ENOSYS = 52,
    WASI_ENOTDIR = 54,
    WASI_ENOTSUP = 58,
    WASI_ESPIPE = 70,
    WASI_ENOTCAPABLE = 76,
};

#define WASI_FILETYPE_CHARACTER_DEVICE 2
#define WASI_RIGHT_FD_READ (1ull << 1)
#define WASI_RIGHT_FD_WRITE (1ull << 6)
#define WASI_RIGHT_POLL_FD_READWRITE (1ull << 27)

#define SLOT(env) ((guard_slot_t *)(env))
#define A32(i) ((uint32_t)args[i].of.i32)
#define A64(i) ((uint64_t)args[i].of.i64)

static inline void ret(wasm_val_t *results, int32_t e)
{
    results[0].of.i32 = e;
}

static bool put_u32(wasm_instance_t *inst, uint32_t off, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return wasm_memory_write(inst, off, b, 4);
}

static bool put_u64(wasm_instance_t *inst, uint32_t off, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return wasm_memory_write(inst, off, b, 8);
}

static bool get_u32(wasm_instance_t *inst, uint64_t off, uint32_t *v)
{
    uint8_t b[4];
    if (!wasm_memory_read(inst, off, b, 4))
        return false;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return true;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool is_stdio(uint32_t fd)
{
    return fd <= 2;
}

/* ---- args and environment: always empty -------------------------------- */

static bool sizes_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    ret(results, put_u32(c, A32(0), 0) && put_u32(c, A32(1), 0) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

static bool vec_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)c, (void)env, (void)args, (void)t;
    ret(results, WASI_ESUCCESS); /* nothing to write */
    return true;
}

/* ---- clocks ------------------------------------------------------------ */

static bool clock_id(uint32_t id, clockid_t *out)
{
    static const clockid_t ids[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
    if (id >= sizeof ids / sizeof ids[0])
        return false;
    *out = ids[id];
    return true;
}

static bool clock_res_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    clockid_t id;
    struct timespec ts;
    if (!clock_id(A32(0), &id) || clock_getres(id, &ts) != 0)
        return ret(results, WASI_EINVAL), true;
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    ret(results, put_u64(c, A32(1), ns) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

static bool clock_now(uint32_t wid, uint64_t *ns)
{
    clockid_t id;
    struct timespec ts;
    if (!clock_id(wid, &id) || clock_gettime(id, &ts) != 0)
        return false;
    *ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
    return true;
}

static bool clock_time_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    uint64_t ns;
    if (!clock_now(A32(0), &ns))
        return ret(results, WASI_EINVAL), true;
    ret(results, put_u64(c, A32(2), ns) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

/* ---- stdio ------------------------------------------------------------- */

static void linebuf_emit(guard_slot_t *s, guard_linebuf_t *lb, bool is_err)
{
    if (lb->len == 0)
        return;
    guard_wasm_log(s->guard, is_err ? GUARD_LOG_WARN : GUARD_LOG_INFO, "%s: %.*s", is_err ? "stderr" : "stdout",
                   (int)lb->len, lb->buf);
    lb->len = 0;
}

static void linebuf_put(guard_slot_t *s, bool is_err, const uint8_t *p, size_t n)
{
    guard_linebuf_t *lb = is_err ? &s->errb : &s->out;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\n') {
            linebuf_emit(s, lb, is_err);
            continue;
        }
        if (lb->len == sizeof lb->buf)
            linebuf_emit(s, lb, is_err); /* an over-long line comes out in pieces */
        lb->buf[lb->len++] = (char)p[i];
    }
}

void guard_wasi_flush(guard_slot_t *slot)
{
    linebuf_emit(slot, &slot->out, false);
    linebuf_emit(slot, &slot->errb, true);
}

/* fd_write(fd, iovs, iovs_len, nwritten) */
static bool fd_write(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)t;
    uint32_t fd = A32(0), iovs = A32(1), n = A32(2);
    if (fd != 1 && fd != 2)
        return ret(results, fd == 0 ? WASI_ENOTCAPABLE : WASI_EBADF), true;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t base, len;
        if (!get_u32(c, (uint64_t)iovs + 8ull * i, &base) || !get_u32(c, (uint64_t)iovs + 8ull * i + 4, &len))
            return ret(results, WASI_EFAULT), true;
        const uint8_t *p = len ? wasm_memory_ptr(c, base, len) : NULL;
        if (len && !p)
            return ret(results, WASI_EFAULT), true;
        linebuf_put(SLOT(env), fd == 2, p, len);
        total += len;
    }
    ret(results, put_u32(c, A32(3), (uint32_t)total) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

/* fd_read(fd, iovs, iovs_len, nread): stdin is always at EOF. */
static bool fd_read(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    uint32_t fd = A32(0);
    if (fd != 0)
        return ret(results, is_stdio(fd) ? WASI_ENOTCAPABLE : WASI_EBADF), true;
    ret(results, put_u32(c, A32(3), 0) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

/* fd_fdstat_get(fd, buf): stdio are character devices; nothing else exists. */
static bool fd_fdstat_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    uint32_t fd = A32(0);
    if (!is_stdio(fd))
        return ret(results, WASI_EBADF), true;
    uint8_t st[24] = {0};
    st[0] = WASI_FILETYPE_CHARACTER_DEVICE;
    uint64_t rights = WASI_RIGHT_POLL_FD_READWRITE | (fd == 0 ? WASI_RIGHT_FD_READ : WASI_RIGHT_FD_WRITE);
    for (int i = 0; i < 8; i++)
        st[8 + i] = (uint8_t)(rights >> (8 * i));
    ret(results, wasm_memory_write(c, A32(1), st, sizeof st) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

/* fd_filestat_get(fd, buf): a zeroed stat with the character-device type. */
static bool fd_filestat_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    if (!is_stdio(A32(0)))
        return ret(results, WASI_EBADF), true;
    uint8_t st[64] = {0};
    st[16] = WASI_FILETYPE_CHARACTER_DEVICE;
    ret(results, wasm_memory_write(c, A32(1), st, sizeof st) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

/* Calls on a file descriptor that only make sense for files: stdio answers
 * with `stdio_errno`, everything else is not open. */
#define FD_STUB(fname, stdio_errno)                                                                                  \
    static bool fname(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)  \
    {                                                                                                                \
        (void)c, (void)env, (void)t;                                                                                 \
        ret(results, is_stdio(A32(0)) ? (stdio_errno) : WASI_EBADF);                                                 \
        return true;                                                                                                 \
    }

FD_STUB(fd_advise, WASI_ESPIPE)
FD_STUB(fd_allocate, WASI_ESPIPE)
FD_STUB(fd_close, WASI_ESUCCESS) /* closing stdio is allowed and changes nothing */
FD_STUB(fd_datasync, WASI_EINVAL)
FD_STUB(fd_sync, WASI_EINVAL)
FD_STUB(fd_fdstat_set_flags, WASI_ENOTSUP)
FD_STUB(fd_fdstat_set_rights, WASI_ENOTCAPABLE)
FD_STUB(fd_filestat_set_size, WASI_EINVAL)
FD_STUB(fd_filestat_set_times, WASI_ENOTSUP)
FD_STUB(fd_pread, WASI_ESPIPE)
FD_STUB(fd_pwrite, WASI_ESPIPE)
FD_STUB(fd_readdir, WASI_ENOTDIR)
FD_STUB(fd_seek, WASI_ESPIPE)
FD_STUB(fd_tell, WASI_ESPIPE)
FD_STUB(fd_renumber, WASI_ENOTSUP)

/* No preopens: EBADF for every fd ends wasi-libc's preopen scan at once. */
static bool always_badf(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)c, (void)env, (void)args, (void)t;
    ret(results, WASI_EBADF);
    return true;
}

static bool always_nosys(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)c, (void)env, (void)args, (void)t;
    ret(results, WASI_ENOSYS);
    return true;
}

static bool always_ok(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)c, (void)env, (void)args, (void)t;
    ret(results, WASI_ESUCCESS);
    return true;
}

/* ---- random, exit ------------------------------------------------------ */

static bool random_get(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)env, (void)t;
    uint32_t len = A32(1);
    uint8_t *p = len ? wasm_memory_ptr(c, A32(0), len) : NULL;
    if (len && !p)
        return ret(results, WASI_EFAULT), true;
    size_t done = 0;
    while (done < len) {
        ssize_t r = getrandom(p + done, len - done, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return ret(results, WASI_EIO), true;
        }
        done += (size_t)r;
    }
    ret(results, WASI_ESUCCESS);
    return true;
}

static bool proc_exit(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    (void)c, (void)env, (void)results;
    t->kind = WASM_TRAP_EXIT;
    t->exit_code = args[0].of.i32;
    snprintf(t->message, sizeof t->message, "guard called proc_exit(%d)", (int)args[0].of.i32);
    return false;
}

/* ---- poll_oneoff: clock subscriptions sleep, fd ones are ready ---------- */

#define SUB_SIZE 48
#define EVENT_SIZE 32

bool guard_call_should_stop(guard_call_state_t *cs)
{
    if (!cs || !cs->ctx)
        return false;
    /* The deadline first: the engine's timer also raises the cancel flag
     * when the deadline passes, and that is not a cancellation. */
    if (cs->ctx->deadline_ns && wasm_now_ns() >= cs->ctx->deadline_ns) {
        cs->interrupted = true;
        return true;
    }
    if (atomic_load(&cs->ctx->cancel)) {
        cs->interrupted = cs->cancelled = true;
        return true;
    }
    return false;
}

/* Sleeps until monotonic time `until`, in short steps so that the cancel
 * flag (which has no wake-up of its own) is seen within a few ms. Returns
 * false when cut short by the deadline or the cancel flag. */
static bool sleep_until(guard_call_state_t *cs, uint64_t until)
{
    for (;;) {
        if (guard_call_should_stop(cs))
            return false;
        uint64_t now = wasm_now_ns();
        if (now >= until)
            return true;
        uint64_t step = until - now;
        if (step > 5000000ull)
            step = 5000000ull;
        if (cs && cs->ctx && cs->ctx->deadline_ns && cs->ctx->deadline_ns > now && cs->ctx->deadline_ns - now < step)
            step = cs->ctx->deadline_ns - now;
        struct timespec ts = {(time_t)(step / 1000000000ull), (long)(step % 1000000000ull)};
        nanosleep(&ts, NULL);
    }
}

static bool poll_oneoff(wasm_instance_t *c, void *env, const wasm_val_t *args, wasm_val_t *results, wasm_trap_t *t)
{
    guard_slot_t *s = SLOT(env);
    uint32_t in = A32(0), out = A32(1), n = A32(2);
    if (n == 0)
        return ret(results, WASI_EINVAL), true;
    if ((uint64_t)n * SUB_SIZE > 1u << 20)
        return ret(results, WASI_EINVAL), true;
    const uint8_t *subs = wasm_memory_ptr(c, in, (size_t)n * SUB_SIZE);
    if (!subs || !wasm_memory_ptr(c, out, (size_t)n * EVENT_SIZE))
        return ret(results, WASI_EFAULT), true;

    /* First pass: fd subscriptions are ready now (stdin at EOF, stdio
     * writable); find the earliest clock deadline. */
    uint64_t now_mono = wasm_now_ns(), wake = UINT64_MAX;
    uint32_t nready = 0;
    bool any_fd_ready = false;
    uint8_t ev[EVENT_SIZE];
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *sub = subs + (size_t)i * SUB_SIZE;
        uint8_t tag = sub[8];
        if (tag == 0) {
            uint32_t clk = (uint32_t)sub[16] | (uint32_t)sub[17] << 8 | (uint32_t)sub[18] << 16 |
                           (uint32_t)sub[19] << 24;
            uint64_t timeout = rd64(sub + 24);
            uint16_t flags = (uint16_t)(sub[40] | sub[41] << 8);
            uint64_t rel = timeout;
            if (flags & 1) { /* absolute time on that clock */
                uint64_t now_c;
                if (!clock_now(clk, &now_c))
                    return ret(results, WASI_EINVAL), true;
                rel = timeout > now_c ? timeout - now_c : 0;
            }
            uint64_t at = now_mono + rel < now_mono ? UINT64_MAX : now_mono + rel;
            if (at < wake)
                wake = at;
        } else if (tag == 1 || tag == 2) {
            any_fd_ready = true;
        } else {
            return ret(results, WASI_EINVAL), true;
        }
    }
    if (!any_fd_ready && wake != UINT64_MAX) {
        if (!sleep_until(s->call, wake)) {
            /* Cut short: end the guard call now rather than let it carry on. */
            t->kind = WASM_TRAP_HOST;
            snprintf(t->message, sizeof t->message, "guard call %s during poll_oneoff",
                     s->call && s->call->cancelled ? "cancelled" : "deadline exceeded");
            return false;
        }
    }
    uint64_t after = wasm_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *sub = subs + (size_t)i * SUB_SIZE;
        uint8_t tag = sub[8];
        memset(ev, 0, sizeof ev);
        memcpy(ev, sub, 8); /* userdata */
        ev[10] = tag;
        if (tag == 0) {
            if (any_fd_ready || after < wake)
                continue;
        } else {
            uint32_t fd = (uint32_t)sub[16] | (uint32_t)sub[17] << 8 | (uint32_t)sub[18] << 16 |
                          (uint32_t)sub[19] << 24;
            if (!is_stdio(fd))
                ev[8] = WASI_EBADF;
            else if (tag == 1 && fd == 0)
                ev[24] = 1; /* FD_READWRITE_HANGUP: stdin is at EOF, nbytes 0 */
        }
        wasm_memory_write(c, (uint64_t)out + (uint64_t)nready * EVENT_SIZE, ev, sizeof ev);
        nready++;
    }
    ret(results, put_u32(c, A32(3), nready) ? WASI_ESUCCESS : WASI_EFAULT);
    return true;
}

/* ---- the table --------------------------------------------------------- */

typedef struct wasi_fn {
    const char *name;
    const char *params; /* 'i' = i32, 'I' = i64 */
    bool has_result;    /* i32 errno */
    wasm_host_fn_t fn;
} wasi_fn_t;

/* Preview1, every function (wasi_snapshot_preview1.witx). */
static const wasi_fn_t wasi_fns[] = {
    {"args_get", "ii", true, vec_get},
    {"args_sizes_get", "ii", true, sizes_get},
    {"environ_get", "ii", true, vec_get},
    {"environ_sizes_get", "ii", true, sizes_get},
    {"clock_res_get", "ii", true, clock_res_get},
    {"clock_time_get", "iIi", true, clock_time_get},
    {"fd_advise", "iIIi", true, fd_advise},
    {"fd_allocate", "iII", true, fd_allocate},
    {"fd_close", "i", true, fd_close},
    {"fd_datasync", "i", true, fd_datasync},
    {"fd_fdstat_get", "ii", true, fd_fdstat_get},
    {"fd_fdstat_set_flags", "ii", true, fd_fdstat_set_flags},
    {"fd_fdstat_set_rights", "iII", true, fd_fdstat_set_rights},
    {"fd_filestat_get", "ii", true, fd_filestat_get},
    {"fd_filestat_set_size", "iI", true, fd_filestat_set_size},
    {"fd_filestat_set_times", "iIIi", true, fd_filestat_set_times},
    {"fd_pread", "iiiIi", true, fd_pread},
    {"fd_prestat_get", "ii", true, always_badf},
    {"fd_prestat_dir_name", "iii", true, always_badf},
    {"fd_pwrite", "iiiIi", true, fd_pwrite},
    {"fd_read", "iiii", true, fd_read},
    {"fd_readdir", "iiiIi", true, fd_readdir},
    {"fd_renumber", "ii", true, fd_renumber},
    {"fd_seek", "iIii", true, fd_seek},
    {"fd_sync", "i", true, fd_sync},
    {"fd_tell", "ii", true, fd_tell},
    {"fd_write", "iiii", true, fd_write},
    {"path_create_directory", "iii", true, always_badf},
    {"path_filestat_get", "iiiii", true, always_badf},
    {"path_filestat_set_times", "iiiiIIi", true, always_badf},
    {"path_link", "iiiiiii", true, always_badf},
    {"path_open", "iiiiiIIii", true, always_badf},
    {"path_readlink", "iiiiii", true, always_badf},
    {"path_remove_directory", "iii", true, always_badf},
    {"path_rename", "iiiiii", true, always_badf},
    {"path_symlink", "iiiii", true, always_badf},
    {"path_unlink_file", "iii", true, always_badf},
    {"poll_oneoff", "iiii", true, poll_oneoff},
    {"proc_exit", "i", false, proc_exit},
    {"proc_raise", "i", true, always_nosys},
    {"sched_yield", "", true, always_ok},
    {"random_get", "ii", true, random_get},
    {"sock_accept", "iii", true, always_badf},
    {"sock_recv", "iiiiii", true, always_badf},
    {"sock_send", "iiiii", true, always_badf},
    {"sock_shutdown", "ii", true, always_badf},
};

bool guard_wasi_define(wasm_linker_t *linker, guard_slot_t *slot, err_t *err)
{
    static const wasm_valtype_t r_i32[1] = {WASM_I32};
    for (size_t i = 0; i < sizeof wasi_fns / sizeof wasi_fns[0]; i++) {
        const wasi_fn_t *f = &wasi_fns[i];
        wasm_valtype_t params[16];
        uint32_t np = 0;
        for (const char *p = f->params; *p; p++)
            params[np++] = *p == 'I' ? WASM_I64 : WASM_I32;
        wasm_functype_t ty = {params, np, r_i32, f->has_result ? 1u : 0u};
        if (!wasm_linker_define_func(linker, "wasi_snapshot_preview1", f->name, &ty, f->fn, slot, err))
            return err_prefix(err, "defining wasi_snapshot_preview1.%s", f->name);
    }
    return true;
}
