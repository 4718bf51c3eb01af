#include "helpers.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

const char *th_node_modules(void)
{
    struct stat st;
    if (stat(FLOWGATE_NODE_MODULES "/@modelcontextprotocol/server-everything/dist/index.js", &st) != 0)
        fail_msg("%s is missing the npm test servers: run scripts/install-test-tools.sh", FLOWGATE_NODE_MODULES);
    return FLOWGATE_NODE_MODULES;
}

const char *th_node(void)
{
    return FLOWGATE_NODE;
}

const char *th_npm_server(const char *pkg)
{
    static __thread char buf[1024];
    snprintf(buf, sizeof buf, "%s/@modelcontextprotocol/%s/dist/index.js", th_node_modules(), pkg);
    return buf;
}

const char *th_fixture(const char *name)
{
    static __thread char buf[1024];
    snprintf(buf, sizeof buf, "%s/%s", FLOWGATE_MCP_FIXTURES, name);
    return buf;
}

int th_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = 0};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

pid_t th_spawn(char *const argv[], char *const extra_env[])
{
    size_t n = 0, m = 0;
    while (environ[n])
        n++;
    while (extra_env && extra_env[m])
        m++;
    char **env = calloc(n + m + 1, sizeof *env);
    assert_non_null(env);
    if (m)
        memcpy(env, extra_env, m * sizeof *env);
    memcpy(env + m, environ, n * sizeof *env);
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (!getenv("TH_VERBOSE"))
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(env);
    assert_int_equal(rc, 0);
    return pid;
}

bool th_wait_port(int port, pid_t pid, int timeout_ms)
{
    int64_t until = mcp_now_ms() + timeout_ms;
    while (mcp_now_ms() < until) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons((uint16_t)port)};
        bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return true;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid)
            return false;
        poll(NULL, 0, 50);
    }
    return false;
}

void th_kill(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGKILL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
}

pid_t th_start_http_server(const char *const args[], char *url, size_t url_size)
{
    for (int attempt = 0; attempt < 3; attempt++) {
        int port = th_free_port();
        char portnum[16], portenv[32];
        snprintf(portnum, sizeof portnum, "%d", port);
        snprintf(portenv, sizeof portenv, "PORT=%d", port);
        char *argv[16] = {(char *)th_node()};
        size_t n = 1;
        for (size_t i = 0; args[i] && n + 1 < sizeof argv / sizeof *argv; i++)
            argv[n++] = strcmp(args[i], "$PORT") == 0 ? portnum : (char *)args[i];
        argv[n] = NULL;
        char *env[] = {portenv, NULL};
        pid_t pid = th_spawn(argv, env);
        if (th_wait_port(port, pid, 20000)) {
            snprintf(url, url_size, "http://127.0.0.1:%d/mcp", port);
            return pid;
        }
        th_kill(pid);
    }
    return -1;
}

static void cat(char *buf, size_t size, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < size)
        snprintf(buf + n, size - n, "%s;", s);
}

static void on_rpc(void *ud, const mcp_rpc_log_t *rec)
{
    th_rec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    if (rec->direction == MCP_DIR_OUT)
        r->rpc_out++;
    else
        r->rpc_in++;
    if (rec->error)
        r->rpc_errors++;
    pthread_mutex_unlock(&r->mu);
}

static void on_stderr(void *ud, const char *id, const char *line, size_t len)
{
    (void)id, (void)line, (void)len;
    th_rec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    r->stderr_lines++;
    pthread_mutex_unlock(&r->mu);
}

static void on_log(void *ud, const char *id, mcp_log_level_t level, const char *msg)
{
    (void)id, (void)level;
    th_rec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    cat(r->log, sizeof r->log, msg);
    pthread_mutex_unlock(&r->mu);
}

static void on_notification(void *ud, const char *id, const json_t *n)
{
    (void)id;
    th_rec_t *r = ud;
    const char *method = json_string_value(json_object_get(n, "method"));
    const char *data = json_string_value(json_object_get(json_object_get(n, "params"), "data"));
    pthread_mutex_lock(&r->mu);
    r->notifications++;
    cat(r->notes, sizeof r->notes, method ? method : "?");
    if (data)
        cat(r->notes, sizeof r->notes, data);
    pthread_mutex_unlock(&r->mu);
}

static json_t *on_server_request(void *ud, const char *id, const char *method, const json_t *params)
{
    (void)id, (void)params;
    th_rec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    r->server_requests++;
    snprintf(r->last_server_request, sizeof r->last_server_request, "%s", method);
    pthread_mutex_unlock(&r->mu);
    return NULL; /* the library's defaults answer */
}

void th_rec_init(th_rec_t *r)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->mu, NULL);
}

void th_rec_hooks(th_rec_t *r, mcp_hooks_t *h)
{
    h->ud = r;
    h->on_rpc = on_rpc;
    h->on_stderr = on_stderr;
    h->on_log = on_log;
    h->on_notification = on_notification;
    h->on_server_request = on_server_request;
}

int th_rec_get(th_rec_t *r, const int *field)
{
    pthread_mutex_lock(&r->mu);
    int v = *field;
    pthread_mutex_unlock(&r->mu);
    return v;
}

bool th_rec_contains(th_rec_t *r, const char *which, const char *needle)
{
    pthread_mutex_lock(&r->mu);
    const char *hay = strcmp(which, "log") == 0 ? r->log : r->notes;
    bool found = strstr(hay, needle) != NULL;
    pthread_mutex_unlock(&r->mu);
    return found;
}

const char *th_text(const json_t *result)
{
    const char *t = json_string_value(json_object_get(json_array_get(json_object_get(result, "content"), 0), "text"));
    return t ? t : "";
}

mcp_backend_t *th_backend_new(mcp_backend_config_t *cfg, th_rec_t *r)
{
    if (r) {
        th_rec_init(r);
        th_rec_hooks(r, &cfg->hooks);
    }
    err_t e = {{0}};
    mcp_backend_t *b = mcp_backend_new(cfg, &e);
    if (!b)
        fail_msg("%s", e.msg);
    return b;
}

mcp_call_status_t th_call_tool(mcp_backend_t *b, const char *tool, json_t *args, const mcp_call_opts_t *o,
                               json_t **res, err_t *e)
{
    json_t *params = json_pack("{s:s, s:o}", "name", tool, "arguments", args ? args : json_null());
    mcp_call_opts_t def = {.deadline_ms = mcp_now_ms() + 30000};
    mcp_call_status_t st = mcp_backend_request_ex(b, "tools/call", params, o ? o : &def, res, e);
    json_decref(params);
    return st;
}

json_t *th_call_tool_ok(mcp_backend_t *b, const char *tool, json_t *args)
{
    json_t *res = NULL;
    err_t e = {{0}};
    mcp_call_status_t st = th_call_tool(b, tool, args, NULL, &res, &e);
    if (st != MCP_CALL_OK)
        fail_msg("tools/call %s: status %d: %s", tool, st, e.msg);
    return res;
}

typedef struct echo_job {
    mcp_backend_t *b;
    const char *who;
    int thread, calls;
    long bad;
} echo_job_t;

static void *echo_worker(void *arg)
{
    echo_job_t *j = arg;
    for (int i = 0; i < j->calls; i++) {
        char msg[96], want[112];
        snprintf(msg, sizeof msg, "%s thread %d call %d", j->who, j->thread, i);
        snprintf(want, sizeof want, "Echo: %s", msg);
        json_t *res = NULL;
        if (th_call_tool(j->b, "echo", json_pack("{s:s}", "message", msg), NULL, &res, NULL) != MCP_CALL_OK ||
            strcmp(th_text(res), want) != 0)
            j->bad++;
        json_decref(res);
    }
    return NULL;
}

long th_echo_from_threads(mcp_backend_t *b, const char *who, int threads, int calls)
{
    echo_job_t jobs[16];
    pthread_t th[16];
    assert_true(threads > 0 && threads <= 16);
    for (int i = 0; i < threads; i++) {
        jobs[i] = (echo_job_t){.b = b, .who = who, .thread = i, .calls = calls};
        assert_int_equal(pthread_create(&th[i], NULL, echo_worker, &jobs[i]), 0);
    }
    long bad = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        bad += jobs[i].bad;
    }
    return bad;
}

static void on_progress(void *ud, const json_t *n)
{
    th_progress_t *p = ud;
    if (strcmp(json_string_value(json_object_get(n, "method")), "notifications/progress") != 0)
        return;
    json_t *params = json_object_get(n, "params");
    json_t *tok = json_object_get(params, "progressToken");
    pthread_mutex_lock(&p->mu);
    p->n++;
    p->last = json_number_value(json_object_get(params, "progress"));
    if (json_is_integer(tok))
        snprintf(p->token, sizeof p->token, "%" JSON_INTEGER_FORMAT, json_integer_value(tok));
    else
        snprintf(p->token, sizeof p->token, "%s", json_string_value(tok) ? json_string_value(tok) : "?");
    pthread_mutex_unlock(&p->mu);
}

void th_long_operation(mcp_backend_t *b, json_t *token, th_progress_t *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    json_t *params = json_pack("{s:s, s:{s:f, s:i}, s:{s:o}}", "name", "trigger-long-running-operation", "arguments",
                               "duration", 0.3, "steps", 3, "_meta", "progressToken", token);
    json_t *before = json_deep_copy(params);
    mcp_call_opts_t o = {.deadline_ms = mcp_now_ms() + 30000, .on_notification = on_progress, .notify_ud = p};
    json_t *res = NULL;
    err_t e = {{0}};
    if (mcp_backend_request_ex(b, "tools/call", params, &o, &res, &e) != MCP_CALL_OK)
        fail_msg("%s", e.msg);
    assert_non_null(strstr(th_text(res), "Long running operation completed"));
    assert_true(json_equal(params, before)); /* the wire token was rewritten on a copy */
    json_decref(before);
    json_decref(params);
    json_decref(res);
    pthread_mutex_destroy(&p->mu);
}

void th_expect_method_not_found(mcp_backend_t *b)
{
    json_t *res = NULL;
    err_t e = {{0}};
    assert_int_equal(mcp_backend_request(b, "foo/bar", NULL, mcp_now_ms() + 30000, NULL, &res, &e),
                     MCP_CALL_RPC_ERROR);
    assert_int_equal(json_integer_value(json_object_get(res, "code")), MCP_ERR_METHOD_NOT_FOUND);
    assert_non_null(strstr(e.msg, "code=-32601"));
    json_decref(res);
}

void th_stop_then_echo_restarts(mcp_backend_t *b)
{
    unsigned starts = mcp_backend_start_count(b);
    mcp_backend_stop(b);
    assert_int_equal(mcp_backend_state(b), MCP_STATE_STOPPED);
    json_t *r = th_call_tool_ok(b, "echo", json_pack("{s:s}", "message", "again"));
    assert_string_equal(th_text(r), "Echo: again");
    json_decref(r);
    assert_int_equal(mcp_backend_state(b), MCP_STATE_RUNNING);
    assert_int_equal(mcp_backend_start_count(b), starts + 1);
}
