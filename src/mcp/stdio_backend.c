/*
 * stdio_backend.c — an MCP server run as a child process, speaking
 * newline-delimited JSON-RPC on its stdin/stdout (spec: mcp-protocol §1.2,
 * gateway §3.2).
 *
 * Threads: any number of callers, plus one reader thread per running child
 * that reads stdout and stderr with poll(). Requests are correlated with
 * their answers by pending.c: a caller waits on a slot under its request id
 * while its line is written under write_mu; the reader hands each stdout
 * line to mcp__pending_dispatch_text. When stdout reaches EOF every waiting
 * slot fails with the exit reason, and the backend is marked EXITED so the
 * next call restarts it.
 *
 * Invariant: in_fd changes only under write_mu.
 */
#include "mcp/mcp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STDERR_TAIL 4096
#define STDERR_MAX_LINE (64 * 1024)

typedef struct stdio_impl {
    pthread_mutex_t mu;
    pthread_mutex_t write_mu;
    mcp_child_t child;       /* pid -1 when none */
    int wake[2];             /* close() wakes the reader through this */
    bool alive;              /* the child's stdout is open and we are not closing */
    atomic_bool closing;
    bool reader_started;
    pthread_t reader;
    mcp_pending_t pending;   /* its lock is mu */
    char exit_msg[ERR_MSG_MAX];
    char tail[STDERR_TAIL];
    size_t tail_len;
    char last_stderr[256];
} stdio_impl_t;

static stdio_impl_t *impl_of(mcp_backend_t *b) { return b->impl; }

/* ----------------------------------------------------------- writing */

typedef enum { WR_OK, WR_TIMEOUT, WR_DEAD, WR_BROKEN } write_result_t;

/* Writes one whole line. WR_TIMEOUT: nothing was written before the
 * deadline; WR_DEAD: the child's stdin is closed (nothing written);
 * WR_BROKEN: a partial line went out, so the stream is corrupt. */
static write_result_t write_line(stdio_impl_t *s, const char *data, size_t len, int64_t deadline_ms)
{
    size_t done = 0;
    write_result_t r = WR_OK;
    pthread_mutex_lock(&s->write_mu);
    while (done < len) {
        if (s->child.in_fd < 0 || atomic_load(&s->closing)) {
            r = done ? WR_BROKEN : WR_DEAD;
            break;
        }
        ssize_t n = mcp__write_nosigpipe(s->child.in_fd, data + done, len - done);
        if (n > 0) {
            done += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            int64_t now = mcp_now_ms();
            if (deadline_ms && now >= deadline_ms) {
                r = done ? WR_BROKEN : WR_TIMEOUT;
                break;
            }
            /* Short slices so that close() is never held up for long. */
            struct pollfd pfd = {.fd = s->child.in_fd, .events = POLLOUT};
            poll(&pfd, 1, 100);
            continue;
        }
        r = done ? WR_BROKEN : WR_DEAD;
        break;
    }
    pthread_mutex_unlock(&s->write_mu);
    return r;
}

/* Serialises and writes a message, logging it (mcp_stream_io_t.send). */
static mcp_send_result_t send_msg(mcp_backend_t *b, const json_t *msg, const char *method, int64_t deadline_ms,
                                  err_t *err)
{
    stdio_impl_t *s = impl_of(b);
    size_t len;
    char *text = mcp_jsonrpc_serialize(msg, &len);
    char *line = text ? realloc(text, len + 2) : NULL;
    if (!line) {
        free(text);
        return err_set(err, "out of memory"), MCP_SEND_NOT_SENT;
    }
    line[len] = '\n';
    mcp__rpc_log(b, MCP_DIR_OUT, method, msg, NULL);
    write_result_t r = write_line(s, line, len + 1, deadline_ms);
    free(line);
    if (r == WR_OK)
        return MCP_SEND_OK;
    if (r == WR_TIMEOUT)
        return err_set(err, "backend '%s': timed out writing %s", b->id, method ? method : "a message"),
               MCP_SEND_TIMEOUT;
    pthread_mutex_lock(&s->mu);
    if (r == WR_BROKEN && s->child.pid > 0) {
        /* Half a line on the wire: nothing after it can be parsed, so end
         * this child; the reader then fails every waiter. */
        kill(-s->child.pid, SIGKILL);
    }
    err_set(err, "%s", s->exit_msg[0] ? s->exit_msg : "backend's stdin is closed");
    pthread_mutex_unlock(&s->mu);
    return r == WR_DEAD ? MCP_SEND_NOT_SENT : MCP_SEND_FAILED;
}

/* mcp_stream_io_t.ready: mu held. */
static bool child_ready(mcp_backend_t *b, err_t *err)
{
    stdio_impl_t *s = impl_of(b);
    if (s->alive)
        return true;
    return err_set(err, "%s", s->exit_msg[0] ? s->exit_msg : "backend is not running");
}

static const mcp_stream_io_t stdio_io = {.ready = child_ready, .send = send_msg};

/* ------------------------------------------------------------ reader */

static bool on_stdout_line(void *ud, char *line, size_t len)
{
    mcp_backend_t *b = ud;
    mcp__pending_dispatch_text(b, &impl_of(b)->pending, &stdio_io, line, len);
    return true;
}

static bool on_stderr_line(void *ud, char *line, size_t len)
{
    mcp_backend_t *b = ud;
    stdio_impl_t *s = impl_of(b);
    pthread_mutex_lock(&s->mu);
    /* Keep the last STDERR_TAIL bytes: drop from the front when full. */
    size_t add = len + 1 > STDERR_TAIL ? STDERR_TAIL : len + 1;
    if (s->tail_len + add > STDERR_TAIL) {
        size_t drop = s->tail_len + add - STDERR_TAIL;
        memmove(s->tail, s->tail + drop, s->tail_len - drop);
        s->tail_len -= drop;
    }
    memcpy(s->tail + s->tail_len, line + (len + 1 - add), add - 1);
    s->tail_len += add - 1;
    s->tail[s->tail_len++] = '\n';
    snprintf(s->last_stderr, sizeof s->last_stderr, "%s", line);
    pthread_mutex_unlock(&s->mu);
    if (b->hooks.on_stderr)
        b->hooks.on_stderr(b->hooks.ud, b->id, line, len);
    return true;
}

/* Reads what stderr has right now (after stdout closed, so that the exit
 * message can quote the child's last words). */
static bool drain_stderr(mcp_backend_t *b, mcp_linebuf_t *lb, int ms)
{
    stdio_impl_t *s = impl_of(b);
    char buf[4096];
    struct pollfd pfd = {.fd = s->child.err_fd, .events = POLLIN};
    while (poll(&pfd, 1, ms) > 0) {
        ssize_t n = read(s->child.err_fd, buf, sizeof buf);
        if (n <= 0)
            return false;
        mcp_linebuf_feed(lb, buf, (size_t)n, on_stderr_line, b, NULL);
    }
    return true;
}

static void stdout_closed(mcp_backend_t *b, mcp_linebuf_t *errlb, bool *err_open)
{
    stdio_impl_t *s = impl_of(b);
    if (atomic_load(&s->closing))
        return; /* close() reports its own reason */
    char how[128];
    bool exited = false;
    /* Give the child a moment to finish dying, reading its stderr meanwhile. */
    for (int i = 0; i < 50 && !exited; i++) {
        if (*err_open)
            *err_open = drain_stderr(b, errlb, 10);
        else
            poll(NULL, 0, 10);
        exited = mcp__peek_exit(s->child.pid, 0, how, sizeof how);
    }
    if (*err_open)
        *err_open = drain_stderr(b, errlb, 0);
    char msg[ERR_MSG_MAX];
    mcp__set_exited(b); /* before waking callers, so that they see EXITED */
    pthread_mutex_lock(&s->mu);
    if (s->last_stderr[0])
        snprintf(msg, sizeof msg, "backend '%s' %s (last stderr: %.200s)", b->id,
                 exited ? how : "closed its stdout", s->last_stderr);
    else
        snprintf(msg, sizeof msg, "backend '%s' %s", b->id, exited ? how : "closed its stdout");
    s->alive = false;
    snprintf(s->exit_msg, sizeof s->exit_msg, "%s", msg);
    mcp__pending_fail_all(&s->pending, msg);
    pthread_mutex_unlock(&s->mu);
    mcp__log(b, MCP_LOG_WARN, "%s", msg);
}

static void *reader_main(void *arg)
{
    mcp_backend_t *b = arg;
    stdio_impl_t *s = impl_of(b);
    mcp_linebuf_t outlb, errlb;
    mcp_linebuf_init(&outlb, b->max_message);
    mcp_linebuf_init(&errlb, STDERR_MAX_LINE);
    bool out_open = true, err_open = true;
    size_t bufsize = 64 * 1024;
    char *buf = malloc(bufsize);
    if (!buf) {
        mcp__log(b, MCP_LOG_ERROR, "out of memory starting the reader; killing the child");
        kill(-s->child.pid, SIGKILL);
        bufsize = 0;
    }
    while (buf && (out_open || err_open)) {
        struct pollfd pfd[3] = {
            {.fd = out_open ? s->child.out_fd : -1, .events = POLLIN},
            {.fd = err_open ? s->child.err_fd : -1, .events = POLLIN},
            {.fd = s->wake[0], .events = POLLIN},
        };
        if (poll(pfd, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pfd[2].revents)
            break;
        if (pfd[0].revents) {
            ssize_t n = read(s->child.out_fd, buf, bufsize);
            if (n > 0) {
                err_t e = {{0}};
                if (!mcp_linebuf_feed(&outlb, buf, (size_t)n, on_stdout_line, b, &e) && e.msg[0])
                    mcp__log(b, MCP_LOG_WARN, "stdout: %s", e.msg);
            } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                out_open = false;
                stdout_closed(b, &errlb, &err_open);
            }
        }
        if (pfd[1].revents && err_open) {
            ssize_t n = read(s->child.err_fd, buf, bufsize);
            if (n > 0)
                mcp_linebuf_feed(&errlb, buf, (size_t)n, on_stderr_line, b, NULL);
            else if (n == 0 || (errno != EINTR && errno != EAGAIN))
                err_open = false;
        }
    }
    if (buf && out_open) {
        /* Woken by close(): nothing to report, close() fails the waiters. */
    }
    if (!buf)
        stdout_closed(b, &errlb, &err_open);
    free(buf);
    mcp_linebuf_free(&outlb);
    mcp_linebuf_free(&errlb);
    return NULL;
}

/* --------------------------------------------------------------- ops */

static bool stdio_open(mcp_backend_t *b, int64_t deadline_ms, err_t *err)
{
    (void)deadline_ms;
    stdio_impl_t *s = impl_of(b);
    mcp_child_t child;
    if (!mcp__spawn(b->command, b->args, b->env, b->cwd, &child, err))
        return err_prefix(err, "backend '%s'", b->id);
    int fl = fcntl(child.in_fd, F_GETFL);
    fcntl(child.in_fd, F_SETFL, fl | O_NONBLOCK); /* writes are bounded by deadlines */
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        int e = errno;
        kill(-child.pid, SIGKILL);
        char how[64];
        mcp__reap(child.pid, how, sizeof how);
        close(child.in_fd);
        close(child.out_fd);
        close(child.err_fd);
        s->wake[0] = s->wake[1] = -1;
        return err_set(err, "backend '%s': cannot create a pipe: %s", b->id, strerror(e));
    }
    pthread_mutex_lock(&s->write_mu);
    pthread_mutex_lock(&s->mu);
    s->child = child;
    s->alive = true;
    atomic_store(&s->closing, false);
    s->exit_msg[0] = '\0';
    s->tail_len = 0;
    s->last_stderr[0] = '\0';
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_unlock(&s->write_mu);
    if (pthread_create(&s->reader, NULL, reader_main, b) != 0) {
        b->ops->close(b, false, "could not start");
        return err_set(err, "backend '%s': cannot create the reader thread", b->id);
    }
    s->reader_started = true;
    mcp__log(b, MCP_LOG_INFO, "started process %d: %s", (int)child.pid, b->command);
    return true;
}

static void stdio_close(mcp_backend_t *b, bool graceful, const char *why)
{
    stdio_impl_t *s = impl_of(b);
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof msg, "backend '%s' %s", b->id, why);
    atomic_store(&s->closing, true);
    pthread_mutex_lock(&s->mu);
    s->alive = false;
    if (!s->exit_msg[0] || graceful)
        snprintf(s->exit_msg, sizeof s->exit_msg, "%s", msg);
    mcp__pending_fail_all(&s->pending, msg);
    pid_t pid = s->child.pid;
    pthread_mutex_unlock(&s->mu);

    pthread_mutex_lock(&s->write_mu);
    if (s->child.in_fd >= 0)
        close(s->child.in_fd);
    s->child.in_fd = -1;
    pthread_mutex_unlock(&s->write_mu);

    if (pid > 0) {
        if (graceful && !mcp__wait_exit(pid, b->shutdown_grace_ms)) {
            kill(-pid, SIGTERM);
            if (!mcp__wait_exit(pid, b->shutdown_grace_ms))
                mcp__log(b, MCP_LOG_WARN, "process %d ignored SIGTERM; sending SIGKILL", (int)pid);
        }
        /* The whole group: helpers the server started die with it. */
        kill(-pid, SIGKILL);
        char how[128];
        mcp__reap(pid, how, sizeof how);
        mcp__log(b, MCP_LOG_INFO, "process %d %s", (int)pid, how);
    }
    if (s->reader_started) {
        ssize_t w = write(s->wake[1], "x", 1);
        (void)w;
        pthread_join(s->reader, NULL);
        s->reader_started = false;
    }
    pthread_mutex_lock(&s->mu);
    if (s->child.out_fd >= 0)
        close(s->child.out_fd);
    if (s->child.err_fd >= 0)
        close(s->child.err_fd);
    if (s->wake[0] >= 0)
        close(s->wake[0]);
    if (s->wake[1] >= 0)
        close(s->wake[1]);
    s->wake[0] = s->wake[1] = -1;
    s->child.out_fd = s->child.err_fd = -1;
    s->child.pid = -1;
    pthread_mutex_unlock(&s->mu);
}

static mcp_call_status_t stdio_call(mcp_backend_t *b, mcp_call_t *c, json_t **response, err_t *err)
{
    return mcp__pending_call(b, &impl_of(b)->pending, &stdio_io, c, response, err);
}

static bool stdio_notify(mcp_backend_t *b, const json_t *msg, int64_t deadline_ms, err_t *err)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    return send_msg(b, msg, method, deadline_ms, err) == MCP_SEND_OK;
}

static void stdio_destroy(mcp_backend_t *b)
{
    stdio_impl_t *s = impl_of(b);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->write_mu);
    free(s);
    b->impl = NULL;
}

const mcp_backend_ops_t mcp_stdio_ops = {
    .open = stdio_open,
    .close = stdio_close,
    .call = stdio_call,
    .notify = stdio_notify,
    .destroy = stdio_destroy,
};

bool mcp_stdio_init(mcp_backend_t *b, err_t *err)
{
    stdio_impl_t *s = calloc(1, sizeof *s);
    if (!s)
        return err_set(err, "out of memory");
    if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_mutex_init(&s->write_mu, NULL) != 0) {
        free(s);
        return err_set(err, "backend '%s': cannot create locks", b->id);
    }
    s->child.pid = -1;
    s->child.in_fd = s->child.out_fd = s->child.err_fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->pending.mu = &s->mu;
    atomic_init(&s->closing, false);
    b->impl = s;
    return true;
}

/* ------------------------------------------------ kind-specific getters */

pid_t mcp_backend_pid(mcp_backend_t *b)
{
    if (b->kind != MCP_BACKEND_STDIO)
        return -1;
    stdio_impl_t *s = impl_of(b);
    pthread_mutex_lock(&s->mu);
    pid_t pid = s->alive ? s->child.pid : -1;
    pthread_mutex_unlock(&s->mu);
    return pid;
}

void mcp_backend_stderr_tail(mcp_backend_t *b, char *buf, size_t size)
{
    if (size == 0)
        return;
    buf[0] = '\0';
    if (b->kind != MCP_BACKEND_STDIO)
        return;
    stdio_impl_t *s = impl_of(b);
    pthread_mutex_lock(&s->mu);
    size_t n = s->tail_len < size - 1 ? s->tail_len : size - 1;
    memcpy(buf, s->tail + s->tail_len - n, n);
    buf[n] = '\0';
    pthread_mutex_unlock(&s->mu);
}
