/*
 * process.c — spawning and ending stdio backend processes.
 *
 * Every pipe end we keep is close-on-exec, so a child spawned for one backend
 * never inherits another backend's stdin (which would keep that stdin open
 * after we close it and break EOF-based shutdown). The child leads a new
 * process group so that stop can signal everything it started
 * (spec: mcp-protocol §1.2, gateway §3.2: close stdin, SIGTERM, SIGKILL).
 */
#include "mcp/mcp_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_pair(int p[2])
{
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
}

bool mcp__spawn(const char *command, char *const *args, char *const *env, const char *cwd, mcp_child_t *child,
                err_t *err)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
    size_t nargs = 0;
    while (args && args[nargs])
        nargs++;
    char **argv = calloc(nargs + 2, sizeof *argv);
    if (!argv)
        return err_set(err, "out of memory");
    argv[0] = (char *)command;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = args[i];

    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(errp, O_CLOEXEC) != 0) {
        int e = errno;
        close_pair(in);
        close_pair(out);
        close_pair(errp);
        free(argv);
        return err_set(err, "cannot create pipes: %s", strerror(e));
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
    if (cwd)
        posix_spawn_file_actions_addchdir_np(&fa, cwd);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    /* The gateway may block or ignore signals (SIGPIPE...); a child must
     * start with defaults or it may never die of SIGTERM/SIGPIPE. */
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);

    pid_t pid;
    int rc = posix_spawnp(&pid, command, &fa, &attr, argv, env ? env : environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(argv);
    close(in[0]);
    close(out[1]);
    close(errp[1]);
    if (rc != 0) {
        close(in[1]);
        close(out[0]);
        close(errp[0]);
        return err_set(err, "cannot start '%s': %s", command, strerror(rc));
    }
    child->pid = pid;
    child->in_fd = in[1];
    child->out_fd = out[0];
    child->err_fd = errp[0];
    return true;
}

static void describe(const siginfo_t *si, char *buf, size_t size)
{
    if (si->si_code == CLD_EXITED)
        snprintf(buf, size, "exited with status %d", si->si_status);
    else
        snprintf(buf, size, "exited (killed by signal %d: %s)", si->si_status, strsignal(si->si_status));
}

bool mcp__peek_exit(pid_t pid, int ms, char *buf, size_t size)
{
    int64_t until = mcp_now_ms() + ms;
    for (;;) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int rc = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
        if (rc == 0 && si.si_pid == pid) {
            describe(&si, buf, size);
            return true;
        }
        if (rc != 0 && errno != EINTR) {
            snprintf(buf, size, "exited");
            return true; /* already reaped (by a concurrent stop) */
        }
        if (mcp_now_ms() >= until)
            return false;
        poll(NULL, 0, 10);
    }
}

bool mcp__wait_exit(pid_t pid, int ms)
{
    char buf[64];
    return mcp__peek_exit(pid, ms, buf, sizeof buf);
}

void mcp__reap(pid_t pid, char *buf, size_t size)
{
    siginfo_t si;
    for (;;) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED) == 0) {
            describe(&si, buf, size);
            return;
        }
        if (errno != EINTR) {
            snprintf(buf, size, "exited");
            return;
        }
    }
}

ssize_t mcp__write_nosigpipe(int fd, const void *data, size_t len)
{
    /* Block SIGPIPE in this thread around the write; if the write raised one
     * that was not already pending, consume it so the process never sees it. */
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t n = write(fd, data, len);
    int e = errno;
    if (n < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return n;
}
