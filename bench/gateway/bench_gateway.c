/* bench_gateway — tools/call through Flowgate vs straight to the backend.
 *
 * Starts server-everything in streamable-HTTP mode on 127.0.0.1 and a
 * flowgate with three backends (that HTTP server, server-everything and
 * server-memory over stdio). Then, with T client threads each making N
 * `echo` calls on its own keep-alive connection and MCP session:
 *   direct        POST to the backend's /mcp
 *   via flowgate  POST to flowgate's /mcp/remote (same backend, HTTP)
 *   via flowgate  POST to flowgate's /mcp/everything (stdio backend)
 * and prints requests/s, p50 and p99 latency, the ratios against direct,
 * and flowgate's RSS with its 3 backends. Figures only, no pass/fail.
 *
 * Usage: bench_gateway [threads=8] [calls per thread=250]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

typedef struct {
    const char *url;
    const char *auth; /* NULL: none */
    int calls;
    double *lat_ms;   /* calls entries */
    int failures;
} worker_t;

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

typedef struct {
    char *b;
    size_t n;
    char sid[128];
} buf_t;

static size_t on_body(char *p, size_t s, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t len = s * n;
    char *nb = realloc(b->b, b->n + len + 1);
    if (!nb)
        return 0;
    b->b = nb;
    memcpy(b->b + b->n, p, len);
    b->n += len;
    b->b[b->n] = 0;
    return len;
}

static size_t on_header(char *p, size_t s, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t len = s * n;
    if (len > 16 && !strncasecmp(p, "mcp-session-id:", 15)) {
        const char *v = p + 15;
        while (*v == ' ')
            v++;
        size_t vl = len - (size_t)(v - p);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        if (vl < sizeof b->sid) {
            memcpy(b->sid, v, vl);
            b->sid[vl] = 0;
        }
    }
    return len;
}

static long post(CURL *c, const char *url, struct curl_slist *h, const char *body, buf_t *b)
{
    b->n = 0;
    if (b->b)
        b->b[0] = 0;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        return -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void *worker(void *arg)
{
    worker_t *w = arg;
    CURL *c = curl_easy_init();
    buf_t b = {0};
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Accept: application/json, text/event-stream");
    char auth[300];
    if (w->auth) {
        snprintf(auth, sizeof auth, "Authorization: %s", w->auth);
        h = curl_slist_append(h, auth);
    }
    post(c, w->url, h,
         "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
         "\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}",
         &b);
    char sh[200];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", b.sid);
    h = curl_slist_append(h, sh);
    h = curl_slist_append(h, "MCP-Protocol-Version: 2025-06-18");
    post(c, w->url, h, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &b);
    for (int i = 0; i < w->calls; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
                 "\"arguments\":{\"message\":\"bench %d\"}}}",
                 i + 1, i);
        double t0 = now_ms();
        long st = post(c, w->url, h, body, &b);
        w->lat_ms[i] = now_ms() - t0;
        if (st != 200 || !strstr(b.b ? b.b : "", "Echo: bench"))
            w->failures++;
    }
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    free(b.b);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    double rps, p50, p99;
    int failures;
} result_t;

static result_t run(const char *url, const char *auth, int threads, int calls)
{
    worker_t *w = calloc((size_t)threads, sizeof *w);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    double *all = calloc((size_t)threads * (size_t)calls, sizeof *all);
    double t0 = now_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){url, auth, calls, all + (size_t)i * (size_t)calls, 0};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    result_t r = {0};
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        r.failures += w[i].failures;
    }
    double secs = (now_ms() - t0) / 1e3;
    size_t n = (size_t)threads * (size_t)calls;
    qsort(all, n, sizeof *all, cmp_double);
    r.rps = (double)n / secs;
    r.p50 = all[n / 2];
    r.p99 = all[(n * 99) / 100];
    free(all);
    free(w);
    free(th);
    return r;
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 8;
    int calls = argc > 2 ? atoi(argv[2]) : 250;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int port = fg_free_port();
    char portenv[32];
    snprintf(portenv, sizeof portenv, "PORT=%d", port);
    char *env[] = {portenv, NULL};
    char *nargv[] = {(char *)fg_node_bin(), (char *)fg_everything_js(), "streamableHttp", NULL};
    fg_proc_t remote;
    if (!fg_spawn(&remote, nargv, env, NULL, false) || !fg_wait_port(port, 30000)) {
        fprintf(stderr, "bench_gateway: cannot start server-everything (run scripts/install-test-tools.sh)\n");
        return 1;
    }
    char *mem = fg_tempdir("bench-memory");
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{"
             "\"everything\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\",\"stdio\"]},"
             "\"memory\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[\"%s\"],\"env\":{\"MEMORY_FILE_PATH\":\"%s/m.jsonl\"}},"
             "\"remote\":{\"type\":\"http\",\"url\":\"http://127.0.0.1:%d/mcp\"}},"
             "\"gateway\":{\"port\":3000,\"domain\":\"localhost\",\"agentId\":\"bench-agent\"}}",
             fg_node_bin(), fg_everything_js(), fg_node_bin(), fg_memory_js(), mem, port);
    fg_gateway_t g;
    if (!fg_gateway_start(&g, cfg, NULL, 60000)) {
        fprintf(stderr, "bench_gateway: flowgate did not start\n");
        fg_proc_stop(&remote, 2000);
        return 1;
    }
    long rss_idle = rss_kb(g.proc.pid);
    char direct[128], via_http[160], via_stdio[160];
    snprintf(direct, sizeof direct, "http://127.0.0.1:%d/mcp", port);
    snprintf(via_http, sizeof via_http, "%s/mcp/remote", g.url_base);
    snprintf(via_stdio, sizeof via_stdio, "%s/mcp/everything", g.url_base);

    /* Warm up every path (JIT in node, connections, session processes). */
    run(direct, NULL, 2, 20);
    run(via_http, g.auth, 2, 20);
    run(via_stdio, g.auth, 2, 20);

    result_t d = run(direct, NULL, threads, calls);
    result_t h = run(via_http, g.auth, threads, calls);
    result_t s = run(via_stdio, g.auth, threads, calls);
    long rss_loaded = rss_kb(g.proc.pid);

    printf("bench_gateway: tools/call echo, %d threads x %d calls, keep-alive, one MCP session per thread\n",
           threads, calls);
    printf("%-34s %12s %10s %10s %9s\n", "path", "requests/s", "p50 ms", "p99 ms", "failures");
    printf("%-34s %12.0f %10.2f %10.2f %9d\n", "direct to backend (HTTP)", d.rps, d.p50, d.p99, d.failures);
    printf("%-34s %12.0f %10.2f %10.2f %9d\n", "via flowgate -> same HTTP backend", h.rps, h.p50, h.p99, h.failures);
    printf("%-34s %12.0f %10.2f %10.2f %9d\n", "via flowgate -> stdio backend", s.rps, s.p50, s.p99, s.failures);
    printf("ratio flowgate(HTTP)/direct: throughput %.2f, p50 %.2fx, p99 %.2fx\n", h.rps / d.rps, h.p50 / d.p50,
           h.p99 / d.p99);
    printf("ratio flowgate(stdio)/direct: throughput %.2f, p50 %.2fx, p99 %.2fx\n", s.rps / d.rps, s.p50 / d.p50,
           s.p99 / d.p99);
    printf("flowgate RSS with 3 backends: %ld KiB idle, %ld KiB after the runs (backends are separate processes)\n",
           rss_idle, rss_loaded);
    fflush(stdout);
    fg_gateway_stop(&g);
    fg_proc_stop(&remote, 3000);
    free(mem);
    return 0;
}
