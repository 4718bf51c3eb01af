/*
 * bench_guard.c — what a guard costs per tool call, measured through the
 * whole host: label_resource and label_response of a realistic C guard
 * (WASI libc, JSON parser, call_backend) on a 100-item MCP response, plus
 * guard load time. Each figure is set against the host-side share measured
 * in the same run (serialising the input and parsing the output with
 * jansson/difc, no guard code), so the ratio says how much the guard's own
 * work weighs. Prints a table; no pass/fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"
#include "wasm/wasm.h"

static int cmp_u64(const void *a, const void *b);

/* The native build of the same guard (tests/guard/fixtures/realistic.c) and
 * the two host functions it imports. */
int label_resource(const char *in, int in_len, char *out, int out_size);
int label_response(const char *in, int in_len, char *out, int out_size);
int label_agent(const char *in, int in_len, char *out, int out_size);

int call_backend(const char *tool, int tool_len, const char *args, int args_len, char *res, int res_size);
int call_backend(const char *tool, int tool_len, const char *args, int args_len, char *res, int res_size)
{
    (void)tool, (void)tool_len, (void)args, (void)args_len;
    static const char r[] = "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"items\\\":[{\\\"private\\\":false}]}\"}]}";
    if ((int)sizeof r - 1 > res_size)
        return -2;
    memcpy(res, r, sizeof r - 1);
    return (int)sizeof r - 1;
}

void host_log(int level, const char *msg, int len);
void host_log(int level, const char *msg, int len)
{
    (void)level, (void)msg, (void)len;
}

/* Median ns of the native export on `in`. */
static double native_us(int (*fn)(const char *, int, char *, int), const char *in, uint64_t *t, int n)
{
    static char out[4 << 20];
    for (int i = 0; i < n; i++) {
        uint64_t s = wasm_now_ns();
        if (fn(in, (int)strlen(in), out, sizeof out) < 0)
            return -1;
        t[i] = wasm_now_ns() - s;
    }
    qsort(t, (size_t)n, sizeof *t, cmp_u64);
    return (double)t[n / 2] / 1000.0;
}

static bool backend(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args, json_t **result, err_t *err)
{
    (void)self, (void)ctx, (void)tool, (void)args, (void)err;
    *result = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", "{\"items\":[{\"private\":false}]}",
                        "isError", 0);
    return true;
}

static json_t *issues_result(int n)
{
    json_t *items = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(
            items, json_pack("{s:i,s:s,s:s,s:s,s:b,s:s,s:{s:s},s:[s,s]}", "number", i + 1, "title",
                             "Crash when the config file has a BOM", "body",
                             "Steps to reproduce: save config.json with a UTF-8 BOM and start the server. Expected: "
                             "it starts. Actual: parse error at line 1.",
                             "repository", i % 2 ? "acme/private-repo" : "acme/web", "private", i % 2,
                             "author_association", i % 3 ? "MEMBER" : "NONE", "user", "login", "octocat", "labels",
                             "bug", "triage"));
    json_t *inner = json_pack("{s:i,s:b,s:o}", "total_count", n, "incomplete_results", 0, "items", items);
    char *text = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    json_t *r = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text", "text", text, "isError", 0);
    free(text);
    return r;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double median_us(uint64_t *ns, int n)
{
    qsort(ns, (size_t)n, sizeof *ns, cmp_u64);
    return (double)ns[n / 2] / 1000.0;
}

static double p95_us(uint64_t *ns, int n)
{
    return (double)ns[(n * 95) / 100] / 1000.0; /* ns already sorted */
}

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = (size_t)n;
    return b;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : BENCH_GUARD_WASM;
    enum { LOADS = 20, N = 200 };
    static uint64_t t[N];
    size_t len;
    uint8_t *bytes = read_all(path, &len);
    if (!bytes) {
        fprintf(stderr, "bench_guard: cannot read %s\n", path);
        return 1;
    }
    err_t err = {{0}};

    /* Load: compile only, then the full guard load (compile + instance +
     * export checks). */
    uint64_t lc[LOADS], lg[LOADS];
    for (int i = 0; i < LOADS; i++) {
        uint64_t s = wasm_now_ns();
        wasm_module_t *m = wasm_module_load(bytes, len, NULL, &err);
        lc[i] = wasm_now_ns() - s;
        wasm_module_free(m);
        s = wasm_now_ns();
        guard_t *g = guard_wasm_load_bytes(bytes, len, NULL, &err);
        lg[i] = wasm_now_ns() - s;
        if (!g) {
            fprintf(stderr, "bench_guard: %s\n", err.msg);
            return 1;
        }
        guard_close(g);
    }

    guard_wasm_opts_t o = {.name = "bench", .max_instances = 1};
    guard_t *g = guard_wasm_load_bytes(bytes, len, &o, &err);
    guard_backend_t be = {.call_tool = backend};
    guard_ctx_t ctx;
    guard_ctx_init(&ctx, 0, &be);
    json_t *pol = json_pack("{s:{s:s,s:s}}", "allow-only", "repos", "all", "min-integrity", "approved");
    json_t *payload;
    difc_agent_result_t ar = {0};
    if (!guard_label_agent_payload(pol, NULL, NULL, &payload, &err) || !guard_label_agent(g, &ctx, payload, &ar, &err)) {
        fprintf(stderr, "bench_guard: label_agent: %s\n", err.msg);
        return 1;
    }
    difc_agent_result_free(&ar);

    json_t *args = json_pack("{s:s,s:s,s:s}", "owner", "acme", "repo", "web", "state", "open");
    json_t *result = issues_result(100);
    char *rs = json_dumps(result, JSON_COMPACT);
    size_t result_bytes = strlen(rs);
    free(rs);

    /* label_resource */
    for (int i = 0; i < N; i++) {
        difc_resource_t r = {0};
        difc_op_t op;
        uint64_t s = wasm_now_ns();
        if (!guard_label_resource(g, &ctx, "list_issues", args, &r, &op, &err)) {
            fprintf(stderr, "bench_guard: label_resource: %s\n", err.msg);
            return 1;
        }
        t[i] = wasm_now_ns() - s;
        difc_resource_free(&r);
    }
    double res_med = median_us(t, N), res_p95 = p95_us(t, N);

    /* label_response on 100 items */
    size_t npaths = 0;
    for (int i = 0; i < N; i++) {
        difc_response_labels_t rl = {0};
        uint64_t s = wasm_now_ns();
        if (!guard_label_response(g, &ctx, "list_issues", args, result, &rl, &err)) {
            fprintf(stderr, "bench_guard: label_response: %s\n", err.msg);
            return 1;
        }
        t[i] = wasm_now_ns() - s;
        npaths = rl.n_paths;
        difc_response_labels_free(&rl);
    }
    double resp_med = median_us(t, N), resp_p95 = p95_us(t, N);

    /* Host-side share of label_response: build + serialise the input and
     * parse a captured output, no guard code. */
    uint8_t *raw_out = NULL;
    size_t raw_len = 0;
    {
        json_t *in = json_pack("{s:{},s:O,s:s,s:O}", "capabilities", "tool_args", args, "tool_name", "list_issues",
                               "tool_result", result);
        char *s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
        guard_wasm_call_raw(g, &ctx, "label_response", (const uint8_t *)s, strlen(s), &raw_out, &raw_len, &err);
        free(s);
        json_decref(in);
    }
    for (int i = 0; i < N; i++) {
        uint64_t s = wasm_now_ns();
        json_t *in = json_pack("{s:{},s:O,s:s,s:O}", "capabilities", "tool_args", args, "tool_name", "list_issues",
                               "tool_result", result);
        char *str = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
        difc_response_labels_t rl = {0};
        difc_response_labels_parse((const char *)raw_out, raw_len, &rl, &err);
        t[i] = wasm_now_ns() - s;
        difc_response_labels_free(&rl);
        free(str);
        json_decref(in);
    }
    double host_med = median_us(t, N);

    /* The same guard compiled natively, on the same input bytes. */
    double nat_res = -1, nat_resp = -1;
    {
        static char out[1024];
        const char *pol_s = "{\"allow-only\":{\"min-integrity\":\"approved\",\"repos\":\"all\"}}";
        label_agent(pol_s, (int)strlen(pol_s), out, sizeof out);
        json_t *in = json_pack("{s:{},s:O,s:s}", "capabilities", "tool_args", args, "tool_name", "list_issues");
        char *s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
        nat_res = native_us(label_resource, s, t, N);
        free(s);
        json_object_set(in, "tool_result", result);
        s = json_dumps(in, JSON_COMPACT | JSON_SORT_KEYS);
        nat_resp = native_us(label_response, s, t, N);
        free(s);
        json_decref(in);
    }

    printf("bench_guard: %s (%zu bytes), %d iterations each, medians\n\n", path, len, N);
    printf("%-44s %12s %12s %8s\n", "measure", "figure", "compare", "ratio");
    printf("%-44s %10.2f ms %10.2f ms %7.2fx\n", "guard load (vs compile only)", median_us(lg, LOADS) / 1000.0,
           median_us(lc, LOADS) / 1000.0, median_us(lg, LOADS) / median_us(lc, LOADS));
    printf("%-44s %10.1f us %10.1f us %8s\n", "label_resource (median, p95)", res_med, res_p95, "");
    printf("%-44s %10.1f us %10.1f us %7.2fx\n", "label_resource vs same guard native", res_med, nat_res,
           res_med / nat_res);
    printf("%-44s %10.1f us %10.1f us %8s\n", "label_response 100 items (median, p95)", resp_med, resp_p95, "");
    printf("%-44s %10.1f us %10.1f us %7.2fx\n", "label_response vs same guard native", resp_med, nat_resp,
           resp_med / nat_resp);
    printf("%-44s %10.1f us %10.1f us %7.2fx\n", "label_response vs host-side JSON share", resp_med, host_med,
           resp_med / host_med);
    printf("\nresponse: %zu bytes in, %zu bytes of labels out, %zu labelled paths\n", result_bytes, raw_len, npaths);

    free(raw_out);
    json_decref(args);
    json_decref(result);
    json_decref(pol);
    json_decref(payload);
    guard_close(g);
    free(bytes);
    return 0;
}
