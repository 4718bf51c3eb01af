/*
 * helpers.h — shared by the guard tests: fixture paths, a log sink that
 * records lines, a mock backend answering from a JSON object, and small JSON
 * helpers. Everything is static so each test program stays one file.
 */
#ifndef FLOWGATE_TESTS_GUARD_HELPERS_H
#define FLOWGATE_TESTS_GUARD_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"
#include "wasm/wasm.h"

#ifndef GUARD_FIXTURES
#error "GUARD_FIXTURES must name the directory of built fixture modules"
#endif

static inline char *fixture_path(const char *name)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", GUARD_FIXTURES, name);
    return buf;
}

/* ---- log capture ------------------------------------------------------- */

typedef struct log_capture {
    pthread_mutex_t mu;
    char *lines[256];
    guard_log_level_t levels[256];
    size_t n;
} log_capture_t;

static inline void log_capture_fn(void *ud, guard_log_level_t level, const char *line)
{
    log_capture_t *c = ud;
    pthread_mutex_lock(&c->mu);
    if (c->n < 256) {
        c->levels[c->n] = level;
        c->lines[c->n++] = strdup(line);
    }
    pthread_mutex_unlock(&c->mu);
}

static inline void log_capture_init(log_capture_t *c)
{
    memset(c, 0, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
}

static inline void log_capture_free(log_capture_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->lines[i]);
    pthread_mutex_destroy(&c->mu);
}

/* Index of the first line containing `s`, or -1. */
static inline int log_capture_find(log_capture_t *c, const char *s)
{
    pthread_mutex_lock(&c->mu);
    int r = -1;
    for (size_t i = 0; i < c->n && r < 0; i++)
        if (strstr(c->lines[i], s))
            r = (int)i;
    pthread_mutex_unlock(&c->mu);
    return r;
}

/* ---- mock backend ------------------------------------------------------ */

/* Answers tool T with answers[T] (a JSON value); a tool without an answer
 * fails. Counts calls. */
typedef struct mock_backend {
    guard_backend_t be;
    json_t *answers;
    int calls;
    pthread_mutex_t mu;
} mock_backend_t;

static inline bool mock_call_tool(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args,
                                  json_t **result, err_t *err)
{
    (void)ctx, (void)args;
    mock_backend_t *m = self;
    pthread_mutex_lock(&m->mu);
    m->calls++;
    pthread_mutex_unlock(&m->mu);
    json_t *a = json_object_get(m->answers, tool);
    if (!a)
        return err_set(err, "unknown tool %s", tool);
    *result = json_incref(a);
    return true;
}

static inline void mock_init(mock_backend_t *m, json_t *answers)
{
    memset(m, 0, sizeof *m);
    m->be.call_tool = mock_call_tool;
    m->be.self = m;
    m->answers = answers;
    pthread_mutex_init(&m->mu, NULL);
}

static inline void mock_free(mock_backend_t *m)
{
    json_decref(m->answers);
    pthread_mutex_destroy(&m->mu);
}

/* ---- guards ------------------------------------------------------------ */

static inline guard_t *load_fixture(const char *file, const char *name, size_t max_instances, log_capture_t *log)
{
    guard_wasm_opts_t o = {.name = name, .max_instances = max_instances};
    if (log) {
        o.log.fn = log_capture_fn;
        o.log.ud = log;
    }
    err_t err = {{0}};
    guard_t *g = guard_wasm_load_file(fixture_path(file), &o, &err);
    if (!g)
        fprintf(stderr, "load %s: %s\n", file, err.msg);
    return g;
}

/* Raw call with a string input; returns the output as a NUL-terminated
 * malloc'd string (or NULL on error, with err). */
static inline char *raw(guard_t *g, guard_ctx_t *ctx, const char *export_name, const char *input, err_t *err)
{
    uint8_t *out = NULL;
    size_t n = 0;
    if (!guard_wasm_call_raw(g, ctx, export_name, (const uint8_t *)input, strlen(input), &out, &n, err))
        return NULL;
    char *s = malloc(n + 1);
    if (n)
        memcpy(s, out, n);
    s[n] = '\0';
    free(out);
    return s;
}

/* raw() parsed as a JSON object; NULL on error or bad JSON. */
static inline json_t *raw_json(guard_t *g, guard_ctx_t *ctx, const char *export_name, const char *input, err_t *err)
{
    char *s = raw(g, ctx, export_name, input, err);
    if (!s)
        return NULL;
    json_error_t je;
    json_t *v = json_loads(s, 0, &je);
    if (!v)
        fprintf(stderr, "bad JSON from guard: %s\n", s);
    free(s);
    return v;
}

static inline long long jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

#endif
