/* bench_pipeline — what the DIFC guard pipeline costs per tools/call.
 *
 * One flowgate (routed mode) with three copies of the demo issue tracker
 * (examples/demo-server), policy repos ["demo/tracker"], min-integrity
 * approved where there is a guard:
 *   plain   no guard: the noop guard (label_resource only, no
 *           label_response in strict mode);
 *   prop    the demo guard built in propagate mode: label_agent once,
 *           label_resource, label_response with one path label per issue,
 *           every item judged, none removed, labels accumulated;
 *   filter  demo_guard.wasm (filter mode): the same, and the issues written
 *           by outsiders (all those created here) are removed in place,
 *           with the notice and one difc_filtered record each.
 * Every tracker is first filled to 100 issues (create_issue through the
 * gateway), so list_issues answers with a 100-item response. Then:
 *   latency     one client, N sequential list_issues on each server:
 *               p50/p99, and the difference to noop = the added latency;
 *   throughput  T clients at once, each on its own connection and session,
 *               M calls each: calls/s on each server and the ratio.
 * All clients of a server use the same agent (X-Agent-ID bench-<server>),
 * so they share one backend process (spec: gateway §3.1) and see the same
 * 100 issues. Figures only.
 *
 * Usage: bench_pipeline [calls=200] [threads=8] [calls per thread=25]
 */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static fg_gateway_t gw;

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

/* One client: a keep-alive connection and an MCP session on one route. */
typedef struct {
    CURL *c;
    struct curl_slist *h;
    buf_t b;
    char url[200];
} client_t;

static long post(client_t *cl, const char *body)
{
    cl->b.n = 0;
    if (cl->b.b)
        cl->b.b[0] = 0;
    CURL *c = cl->c;
    curl_easy_setopt(c, CURLOPT_URL, cl->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, cl->h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &cl->b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &cl->b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    long status = 0;
    if (curl_easy_perform(c) != CURLE_OK)
        return -1;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void client_open(client_t *cl, const char *server)
{
    memset(cl, 0, sizeof *cl);
    snprintf(cl->url, sizeof cl->url, "%s/mcp/%s", gw.url_base, server);
    cl->c = curl_easy_init();
    cl->h = curl_slist_append(cl->h, "Content-Type: application/json");
    cl->h = curl_slist_append(cl->h, "Accept: application/json, text/event-stream");
    char auth[300];
    snprintf(auth, sizeof auth, "Authorization: %s", gw.auth);
    cl->h = curl_slist_append(cl->h, auth);
    /* One agent per server: labels are shared across servers, and an agent
     * tainted by the guarded server may not use a noop server (§6.16). */
    char agent[200];
    snprintf(agent, sizeof agent, "X-Agent-ID: bench-%s", server);
    cl->h = curl_slist_append(cl->h, agent);
    post(cl, "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\","
             "\"capabilities\":{},\"clientInfo\":{\"name\":\"bench\",\"version\":\"1\"}}}");
    char sh[200];
    snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", cl->b.sid);
    cl->h = curl_slist_append(cl->h, sh);
    cl->h = curl_slist_append(cl->h, "MCP-Protocol-Version: 2025-06-18");
    post(cl, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}");
}

static void client_close(client_t *cl)
{
    curl_slist_free_all(cl->h);
    curl_easy_cleanup(cl->c);
    free(cl->b.b);
}

static const char LIST[] =
    "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"list_issues\",\"arguments\":{}}}";

/* A list_issues answer that is a result (not an error) with issue text. */
static bool list_ok(client_t *cl, long st)
{
    return st == 200 && cl->b.b && strstr(cl->b.b, "\"result\"") && strstr(cl->b.b, "demo/tracker");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    const char *server;
    int calls;
    double *lat;
    int failures;
} worker_t;

static void *worker(void *arg)
{
    worker_t *w = arg;
    client_t cl;
    client_open(&cl, w->server);
    for (int i = 0; i < w->calls; i++) {
        double t0 = now_ms();
        long st = post(&cl, LIST);
        w->lat[i] = now_ms() - t0;
        if (!list_ok(&cl, st))
            w->failures++;
    }
    client_close(&cl);
    return NULL;
}

typedef struct {
    double rps, p50, p99;
    int failures;
} result_t;

static result_t run(const char *server, int threads, int calls)
{
    worker_t *w = calloc((size_t)threads, sizeof *w);
    pthread_t *th = calloc((size_t)threads, sizeof *th);
    double *all = calloc((size_t)threads * (size_t)calls, sizeof *all);
    double t0 = now_ms();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){server, calls, all + (size_t)i * (size_t)calls, 0};
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

/* Fills a tracker to 100 issues (6 built in + 94 created, a third of them
 * private: an agent that may read private data may not write public). */
static void fill(const char *server)
{
    client_t cl;
    client_open(&cl, server);
    for (int i = 7; i <= 100; i++) {
        char body[400];
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"create_issue\","
                 "\"arguments\":{\"title\":\"bench issue %d with a title of ordinary length\",\"body\":\"Steps to "
                 "reproduce: run the thing, observe the other thing. Expected something else.\",\"visibility\":\"%s\"}}}",
                 i, i, "private");
        long st = post(&cl, body);
        if (st != 200 || !strstr(cl.b.b ? cl.b.b : "", "\"result\"")) {
            fprintf(stderr, "create_issue on %s failed: %s\n", server, cl.b.b ? cl.b.b : "");
            exit(1);
        }
    }
    client_close(&cl);
}

static size_t count(const char *s, const char *needle)
{
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

int main(int argc, char **argv)
{
    int calls = argc > 1 ? atoi(argv[1]) : 200;
    int threads = argc > 2 ? atoi(argv[2]) : 8;
    int per_thread = argc > 3 ? atoi(argv[3]) : 25;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    /* Logs on tmpfs: every filtered item is a difc_filtered record and two
     * text lines, each fsynced (spec: gateway §5.2, §5.3); on a disk that
     * would be the figure, not the pipeline. */
    char logdir[] = "/dev/shm/fg-bench-pipe-XXXXXX";
    if (!mkdtemp(logdir))
        snprintf(logdir, sizeof logdir, "/tmp");
    const char *extra[] = {"--log-dir", logdir, NULL};
    char cfg[4096];
    snprintf(cfg, sizeof cfg,
             "{\"mcpServers\":{"
             "\"filter\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[],\"guard\":\"demo\","
             "\"guard-policies\":{\"allow-only\":{\"repos\":[\"demo/tracker\"],\"min-integrity\":\"approved\"}}},"
             "\"prop\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[],\"guard\":\"prop\","
             "\"guard-policies\":{\"allow-only\":{\"repos\":[\"demo/tracker\"],\"min-integrity\":\"approved\"}}},"
             "\"plain\":{\"type\":\"stdio\",\"command\":\"%s\",\"args\":[]}},"
             "\"guards\":{\"demo\":{\"type\":\"wasm\",\"path\":\"%s\"},\"prop\":{\"type\":\"wasm\",\"path\":\"%s\"}},"
             "\"gateway\":{\"port\":8000,\"domain\":\"localhost\",\"agentId\":\"bench-agent\"}}",
             DEMO_SERVER, DEMO_SERVER, DEMO_SERVER, DEMO_GUARD, PROPAGATE_GUARD);
    if (!fg_gateway_start(&gw, cfg, extra, 60000)) {
        fprintf(stderr, "flowgate did not start\n");
        return 1;
    }
    const char *servers[3] = {"plain", "prop", "filter"};
    const char *names[3] = {"noop", "demo guard, propagate", "demo guard, filter"};
    size_t items[3], bytes[3];
    for (int i = 0; i < 3; i++) {
        fill(servers[i]);
        /* What one response looks like. */
        client_t cl;
        client_open(&cl, servers[i]);
        post(&cl, LIST);
        items[i] = count(cl.b.b ? cl.b.b : "", "\\\"html_url\\\"");
        bytes[i] = cl.b.n;
        client_close(&cl);
        run(servers[i], 1, 20); /* warm-up: guard instances, backend process */
    }
    result_t lat[3], thr[3];
    for (int i = 0; i < 3; i++)
        lat[i] = run(servers[i], 1, calls);
    for (int i = 0; i < 3; i++)
        thr[i] = run(servers[i], threads, per_thread);

    printf("bench_pipeline: list_issues (100 issues in the tracker) through flowgate, same demo-server behind\n");
    printf("no guard (noop) / the demo guard in propagate mode (0 items filtered) / in filter mode\n");
    printf("(min-integrity approved: the issues written by outsiders are filtered, one difc_filtered record each)\n\n");
    printf("%-24s %8s %8s %10s %10s %10s %10s %10s %8s\n", "server", "items", "bytes", "p50", "p99", "added p50",
           "added p99", "8x calls/s", "ratio");
    int failures = 0;
    for (int i = 0; i < 3; i++) {
        printf("%-24s %8zu %8zu %8.3fms %8.3fms %8.3fms %8.3fms %10.0f %7.2fx\n", names[i], items[i], bytes[i],
               lat[i].p50, lat[i].p99, lat[i].p50 - lat[0].p50, lat[i].p99 - lat[0].p99, thr[i].rps,
               thr[i].rps / thr[0].rps);
        failures += lat[i].failures + thr[i].failures;
    }
    printf("\nlatency: 1 client, %d sequential calls; throughput: %d clients x %d calls, each on its own\n", calls,
           threads, per_thread);
    printf("connection and MCP session (p50/p99 under load:");
    for (int i = 0; i < 3; i++)
        printf(" %s %.2f/%.2fms%s", servers[i], thr[i].p50, thr[i].p99, i < 2 ? ";" : ")\n");
    printf("failures: %d (should be 0)\n", failures);
    int st = fg_gateway_stop(&gw);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", logdir);
    if (strncmp(logdir, "/dev/shm/", 9) == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", logdir);
    curl_global_cleanup();
    return st == 0 ? 0 : 1;
}
