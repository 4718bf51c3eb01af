/*
 * bench_mcp — what the MCP layer costs, measured in one run:
 *   1. JSON-RPC parse+classify of a ~10 KB tools/call result (messages/s),
 *      against jansson's bare json_loadb of the same text (the floor);
 *   2. SSE parsing of a stream of such events (MB/s), against memchr-only
 *      line splitting of the same bytes;
 *   3. tools/call round trips to the node fake servers over stdio, over
 *      streamable HTTP and over HTTP+SSE (127.0.0.1): sequential latency,
 *      and throughput with 8 threads sharing one backend (ratio to
 *      sequential).
 * Usage: bench_mcp [seconds-per-figure]   (default 1)
 */
#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static double secs = 1.0;

static char *big_response(size_t *len)
{
    json_t *content = json_array();
    for (int i = 0; i < 40; i++) {
        char t[256];
        snprintf(t, sizeof t, "item %d: the quick brown fox jumps over the lazy dog, again and again, %d times", i, i);
        json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", t));
    }
    json_t *result = json_pack("{s:o, s:b}", "content", content, "isError", 0);
    json_t *msg = json_pack("{s:s, s:i, s:o}", "jsonrpc", "2.0", "id", 42, "result", result);
    char *s = mcp_jsonrpc_serialize(msg, len);
    json_decref(msg);
    return s;
}

static void bench_parse(void)
{
    size_t len;
    char *text = big_response(&len);
    long n1 = 0, n2 = 0;
    int64_t t0 = mcp_now_ms(), until = t0 + (int64_t)(secs * 1000);
    while (mcp_now_ms() < until) {
        for (int i = 0; i < 100; i++) {
            mcp_msg_t m;
            mcp_jsonrpc_parse(text, len, &m, NULL);
            mcp_msg_free(&m);
        }
        n1 += 100;
    }
    double r1 = n1 / ((mcp_now_ms() - t0) / 1000.0);
    t0 = mcp_now_ms();
    until = t0 + (int64_t)(secs * 1000);
    while (mcp_now_ms() < until) {
        for (int i = 0; i < 100; i++)
            json_decref(json_loadb(text, len, 0, NULL));
        n2 += 100;
    }
    double r2 = n2 / ((mcp_now_ms() - t0) / 1000.0);
    printf("%-44s %12.0f msg/s   json_loadb alone %10.0f msg/s   ratio %.2f\n", "parse+classify 10 KB tools/call result", r1,
           r2, r1 / r2);
    free(text);
}

static bool count_event(void *ud, const mcp_sse_event_t *ev)
{
    *(size_t *)ud += ev->data_len;
    return true;
}

static void bench_sse(void)
{
    size_t len, elen;
    char *text = big_response(&len);
    char *ev = mcp_sse_format_event("message", "1", text, len, -1, &elen);
    size_t total = elen * 200;
    char *stream = malloc(total);
    for (int i = 0; i < 200; i++)
        memcpy(stream + (size_t)i * elen, ev, elen);
    size_t bytes = 0, sink = 0;
    int64_t t0 = mcp_now_ms(), until = t0 + (int64_t)(secs * 1000);
    while (mcp_now_ms() < until) {
        mcp_sse_parser_t *p = mcp_sse_parser_new(0, count_event, &sink);
        for (size_t off = 0; off < total; off += 4096)
            mcp_sse_parser_feed(p, stream + off, total - off < 4096 ? total - off : 4096, NULL);
        mcp_sse_parser_free(p);
        bytes += total;
    }
    double mb1 = bytes / 1e6 / ((mcp_now_ms() - t0) / 1000.0);
    bytes = 0;
    t0 = mcp_now_ms();
    until = t0 + (int64_t)(secs * 1000);
    while (mcp_now_ms() < until) {
        for (const char *q = stream; (q = memchr(q, '\n', (size_t)(stream + total - q))); q++)
            sink++;
        bytes += total;
    }
    double mb2 = bytes / 1e6 / ((mcp_now_ms() - t0) / 1000.0);
    printf("%-44s %12.0f MB/s    memchr lines     %10.0f MB/s    ratio %.2f\n", "SSE parse, 4 KB chunks", mb1, mb2,
           mb1 / mb2);
    free(stream);
    free(ev);
    free(text);
}

/* ------------------------------------------------------- round trips */

typedef struct worker {
    mcp_backend_t *b;
    int64_t until;
    long calls, errors;
} worker_t;

static bool echo(mcp_backend_t *b)
{
    json_t *params = json_pack("{s:s, s:{s:s}}", "name", "echo", "arguments", "message", "bench");
    json_t *res = NULL;
    mcp_call_status_t st = mcp_backend_request(b, "tools/call", params, mcp_now_ms() + 10000, NULL, &res, NULL);
    json_decref(params);
    json_decref(res);
    return st == MCP_CALL_OK;
}

static void *work(void *arg)
{
    worker_t *w = arg;
    while (mcp_now_ms() < w->until) {
        if (echo(w->b))
            w->calls++;
        else
            w->errors++;
    }
    return NULL;
}

static void round_trips(const char *name, mcp_backend_t *b)
{
    err_t e = {{0}};
    if (!mcp_backend_start(b, &e)) {
        printf("%-44s unavailable: %s\n", name, e.msg);
        return;
    }
    for (int i = 0; i < 20; i++)
        echo(b); /* warm up */
    worker_t one = {b, mcp_now_ms() + (int64_t)(secs * 1000), 0, 0};
    int64_t t0 = mcp_now_ms();
    work(&one);
    double seq = one.calls / ((mcp_now_ms() - t0) / 1000.0);
    enum { T = 8 };
    worker_t w[T];
    pthread_t th[T];
    t0 = mcp_now_ms();
    for (int i = 0; i < T; i++) {
        w[i] = (worker_t){b, t0 + (int64_t)(secs * 1000), 0, 0};
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    long calls = 0, errors = one.errors;
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        calls += w[i].calls;
        errors += w[i].errors;
    }
    double par = calls / ((mcp_now_ms() - t0) / 1000.0);
    printf("%-44s %9.0f us/call  8 threads %10.0f calls/s  ratio %.2f  (errors %ld)\n", name, 1e6 / seq, par,
           par / seq, errors);
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Round trips to a node fixture serving HTTP on a free port at `path`. */
static void http_round_trips(const char *name, const char *script, const char *path)
{
    int port = free_port();
    char portarg[16], url[64], js[512];
    snprintf(portarg, sizeof portarg, "%d", port);
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    snprintf(js, sizeof js, "%s/%s", FLOWGATE_MCP_FIXTURES, script);
    char *sargv[] = {FLOWGATE_NODE, js, portarg, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 1, 0);
    pid_t pid;
    if (posix_spawn(&pid, FLOWGATE_NODE, &fa, NULL, sargv, environ) == 0) {
        for (int i = 0; i < 200 && !port_open(port); i++)
            poll(NULL, 0, 50);
        mcp_backend_config_t h = {.id = "bench-http", .kind = MCP_BACKEND_HTTP, .http = {.url = url}};
        mcp_backend_t *b = mcp_backend_new(&h, NULL);
        if (b)
            round_trips(name, b);
        mcp_backend_free(b);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    posix_spawn_file_actions_destroy(&fa);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        secs = atof(argv[1]) > 0 ? atof(argv[1]) : 1.0;
    printf("bench_mcp (%.1f s per figure)\n", secs);
    bench_parse();
    bench_sse();

    const char *args[] = {FLOWGATE_MCP_FIXTURES "/fake_stdio_server.mjs", "normal", NULL};
    mcp_backend_config_t cfg = {.id = "bench-stdio", .kind = MCP_BACKEND_STDIO,
                                .stdio = {.command = FLOWGATE_NODE, .args = args}, .shutdown_grace_ms = 300};
    mcp_backend_t *b = mcp_backend_new(&cfg, NULL);
    if (b)
        round_trips("tools/call echo, stdio (node fake server)", b);
    mcp_backend_free(b);

    http_round_trips("tools/call echo, HTTP (node fake server)", "fake_http_server.mjs", "/mcp");
    http_round_trips("tools/call echo, HTTP+SSE (node fake server)", "fake_sse_server.mjs", "/sse");
    return 0;
}
