/*
 * bench_difc.c — what DIFC enforcement costs per tool call, in-process:
 *   1. difc_evaluate for a read with github-guard-like labels;
 *   2. difc_filter_response on a 100-item MCP-wrapped response with path
 *      labels (every other item denied, removed in place), against the bare
 *      JSON work the same step cannot avoid (deep copy, parse of the inner
 *      text, re-serialisation), measured in the same run;
 *   3. the agent registry: snapshot + accumulate per request, 1 vs 4
 *      threads on distinct agents and on one shared agent.
 * Prints a table of medians; no pass/fail.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "difc/difc.h"

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median(uint64_t *t, int n)
{
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    return (double)t[n / 2];
}

static void add(difc_tagset_t *s, const char *t)
{
    if (!difc_tagset_add(s, t))
        abort();
}

#define ITEMS 100
#define RUNS 301

static json_t *make_result(void)
{
    json_t *items = json_array();
    for (int i = 0; i < ITEMS; i++)
        json_array_append_new(items, json_pack("{s:i,s:s,s:s,s:{s:s},s:s,s:[s,s]}", "number", i, "title",
                                               "Fix the flaky integration test on arm64", "state", "open", "user",
                                               "login", "octocat", "html_url", "https://github.com/o/r/issues/1",
                                               "labels", "bug", "ci"));
    json_t *inner = json_pack("{s:i,s:b,s:o}", "total_count", ITEMS, "incomplete_results", 0, "items", items);
    char *text = json_dumps(inner, JSON_COMPACT);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 0);
    free(text);
    json_decref(inner);
    return r;
}

static difc_response_labels_t make_labels(void)
{
    json_t *paths = json_array();
    for (int i = 0; i < ITEMS; i++) {
        char p[32], d[48];
        snprintf(p, sizeof p, "/items/%d", i);
        snprintf(d, sizeof d, "issue:o/r#%d", i);
        json_array_append_new(paths, json_pack("{s:s,s:{s:s,s:[s],s:[s,s]}}", "path", p, "labels", "description", d,
                                               "secrecy", i % 2 ? "private:o/r" : "private:o/pub", "integrity",
                                               "none:o/r", "unapproved:o/r"));
    }
    json_t *v = json_pack("{s:o,s:s}", "labeled_paths", paths, "items_path", "/items");
    difc_response_labels_t rl;
    err_t err;
    if (!difc_response_labels_from_json(v, &rl, &err))
        abort();
    json_decref(v);
    return rl;
}

typedef struct worker {
    difc_agents_t *reg;
    char id[32];
    int n;
    uint64_t ns;
} worker_t;

static void *agent_worker(void *arg)
{
    worker_t *w = arg;
    difc_labels_t read = {0};
    add(&read.secrecy, "private:o/r");
    add(&read.integrity, "none:o/r");
    uint64_t s = now_ns();
    for (int i = 0; i < w->n; i++) {
        difc_labels_t snap;
        if (!difc_agents_snapshot(w->reg, w->id, &snap, NULL) ||
            !difc_agents_accumulate_read(w->reg, w->id, &read, NULL))
            abort();
        difc_labels_free(&snap);
    }
    w->ns = now_ns() - s;
    difc_labels_free(&read);
    return NULL;
}

/* Requests per second over `threads` threads; shared = one agent id. */
static double agents_rate(int threads, bool shared)
{
    difc_agents_t *reg = difc_agents_new();
    pthread_t th[8];
    worker_t w[8];
    int per = 200000 / threads;
    uint64_t s = now_ns();
    for (int i = 0; i < threads; i++) {
        w[i] = (worker_t){.reg = reg, .n = per};
        snprintf(w[i].id, sizeof w[i].id, shared ? "shared" : "agent-%d", i);
        pthread_create(&th[i], NULL, agent_worker, &w[i]);
    }
    for (int i = 0; i < threads; i++)
        pthread_join(th[i], NULL);
    double secs = (double)(now_ns() - s) / 1e9;
    difc_agents_free(reg);
    return (double)(per * threads) / secs;
}

int main(void)
{
    static uint64_t t[RUNS];

    /* 1. One read check. */
    difc_labels_t agent = {0};
    add(&agent.secrecy, "private:o/r");
    add(&agent.secrecy, "private:o/pub");
    add(&agent.integrity, "none:o/r");
    add(&agent.integrity, "unapproved:o/r");
    add(&agent.integrity, "approved:o/r");
    difc_resource_t res = {0};
    difc_resource_set_description(&res, "issue:o/r#1");
    add(&res.labels.secrecy, "private:o/r");
    add(&res.labels.integrity, "none:o/r");
    add(&res.labels.integrity, "unapproved:o/r");
    add(&res.labels.integrity, "approved:o/r");
    const int EV = 1000;
    for (int r = 0; r < RUNS; r++) {
        uint64_t s = now_ns();
        for (int i = 0; i < EV; i++) {
            difc_eval_t ev;
            difc_evaluate(&agent, &res, DIFC_OP_READ, DIFC_MODE_FILTER, &ev, NULL);
            difc_eval_free(&ev);
        }
        t[r] = (now_ns() - s) / EV;
    }
    double eval_ns = median(t, RUNS);
    for (int r = 0; r < RUNS; r++) {
        uint64_t s = now_ns();
        for (int i = 0; i < EV; i++) {
            difc_eval_t ev;
            difc_evaluate(&agent, &res, DIFC_OP_WRITE, DIFC_MODE_FILTER, &ev, NULL);
            difc_eval_free(&ev);
        }
        t[r] = (now_ns() - s) / EV;
    }
    double deny_ns = median(t, RUNS);

    /* 2. Phase 5 on a 100-item response. The agent keeps only what the
     * items carry in integrity and only private:o/pub in secrecy, so the
     * even items are kept and the odd (private:o/r) ones removed. */
    difc_tagset_remove(&agent.integrity, "approved:o/r");
    difc_tagset_remove(&agent.secrecy, "private:o/r");
    json_t *result = make_result();
    difc_response_labels_t rl = make_labels();
    size_t kept = 0, removed = 0;
    for (int r = 0; r < RUNS; r++) {
        uint64_t s = now_ns();
        difc_filter_outcome_t o;
        err_t err;
        if (!difc_filter_response(&agent, DIFC_OP_READ, DIFC_MODE_FILTER, &res, &rl, result, &o, &err))
            abort();
        t[r] = now_ns() - s;
        kept = o.accessible;
        removed = o.n_filtered;
        difc_filter_outcome_free(&o);
    }
    double filter_ns = median(t, RUNS);
    for (int r = 0; r < RUNS; r++) {
        uint64_t s = now_ns();
        json_t *copy = json_deep_copy(result);
        const char *text = json_string_value(json_object_get(json_array_get(json_object_get(copy, "content"), 0), "text"));
        json_t *inner = json_loads(text, 0, NULL);
        char *out = json_dumps(inner, JSON_COMPACT);
        t[r] = now_ns() - s;
        free(out);
        json_decref(inner);
        json_decref(copy);
    }
    double json_ns = median(t, RUNS);

    /* 3. The registry. */
    double r1 = agents_rate(1, false), r4 = agents_rate(4, false), r4s = agents_rate(4, true);

    printf("%-58s %12s %12s %8s\n", "measured", "figure", "compared to", "ratio");
    printf("%-58s %9.0f ns %9.0f ns %8.2f\n", "difc_evaluate read (allowed) vs write (denied, reason)", eval_ns,
           deny_ns, eval_ns / deny_ns);
    printf("%-58s %9.1f us %9.1f us %8.2f\n", "filter 100-item MCP response vs copy+parse+dump only",
           filter_ns / 1000.0, json_ns / 1000.0, filter_ns / json_ns);
    printf("%-58s %12zu %12zu\n", "  items kept / removed in place", kept, removed);
    printf("%-58s %9.2f M/s %9.2f M/s %8.2f\n", "agents snapshot+accumulate: 4 threads vs 1 (own agents)",
           r4 / 1e6, r1 / 1e6, r4 / r1);
    printf("%-58s %9.2f M/s %9.2f M/s %8.2f\n", "agents snapshot+accumulate: 4 threads on one agent vs 1",
           r4s / 1e6, r1 / 1e6, r4s / r1);

    difc_response_labels_free(&rl);
    json_decref(result);
    difc_resource_free(&res);
    difc_labels_free(&agent);
    return 0;
}
