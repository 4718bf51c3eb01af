/*
 * jq_filter.c — compiled jq programs for tool_response_filters (see
 * jq_filter.h; spec: gateway §4.11).
 *
 * Values cross between jansson and jq as JSON text: both sides already
 * parse and print JSON correctly, and a filter runs once per tool call, so
 * a text hop is cheaper in code than a value-by-value converter.
 */
#include "gateway/jq_filter.h"

#include <jq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct gw_jq {
    pthread_mutex_t mu; /* a jq_state runs one program at a time */
    jq_state *jq;
};

typedef struct gw_jq_entry {
    char *tool;
    gw_jq_t *jq;
} gw_jq_entry_t;

struct gw_jq_set {
    gw_jq_entry_t *items;
    size_t count;
};

/* Compile errors arrive through this callback; keep the first. */
typedef struct compile_msgs {
    char first[512];
} compile_msgs_t;

static void on_error(void *ud, jv msg)
{
    compile_msgs_t *m = ud;
    if (!m->first[0]) {
        jv f = jq_format_error(jv_copy(msg));
        const char *t = jv_get_kind(f) == JV_KIND_STRING ? jv_string_value(f) : "unknown jq error";
        if (!strncmp(t, "jq: error: ", 11))
            t += 11;
        size_t n = strcspn(t, "\n");
        if (n >= sizeof m->first)
            n = sizeof m->first - 1;
        memcpy(m->first, t, n);
        m->first[n] = '\0';
        jv_free(f);
    }
    jv_free(msg);
}

/* jq_init + compile; NULL with msgs->first set on failure. */
static jq_state *compile_text(const char *text, compile_msgs_t *msgs)
{
    jq_state *jq = jq_init();
    if (!jq) {
        snprintf(msgs->first, sizeof msgs->first, "out of memory");
        return NULL;
    }
    jq_set_error_cb(jq, on_error, msgs);
    if (!jq_compile(jq, text)) {
        jq_teardown(&jq);
        if (!msgs->first[0])
            snprintf(msgs->first, sizeof msgs->first, "compile error");
        return NULL;
    }
    /* Runtime errors are reported through jq_next's invalid value. */
    jq_set_error_cb(jq, NULL, NULL);
    return jq;
}

gw_jq_t *gw_jq_compile(const char *expr, err_t *err)
{
    if (!expr || !*expr) {
        err_set(err, "empty expression");
        return NULL;
    }
    /* $ENV and env read as {} (upstream disables $ENV). The newlines keep a
     * trailing `# comment` in expr from eating the closing parenthesis. */
    static const char head[] = "def env: {}; {} as $ENV | (\n", tail[] = "\n)";
    size_t n = strlen(expr);
    char *wrapped = malloc(sizeof head + n + sizeof tail);
    if (!wrapped) {
        err_set(err, "out of memory");
        return NULL;
    }
    memcpy(wrapped, head, sizeof head - 1);
    memcpy(wrapped + sizeof head - 1, expr, n);
    memcpy(wrapped + sizeof head - 1 + n, tail, sizeof tail);
    compile_msgs_t msgs = {{0}};
    jq_state *jq = compile_text(wrapped, &msgs);
    free(wrapped);
    if (!jq) {
        /* Report jq's message about the text as written (positions match). */
        compile_msgs_t raw = {{0}};
        jq_state *probe = compile_text(expr, &raw);
        if (probe) {
            jq_teardown(&probe);
            err_set(err, "%s", "module directives (import/include) are not supported");
        } else {
            err_set(err, "%s", raw.first);
        }
        return NULL;
    }
    gw_jq_t *f = calloc(1, sizeof *f);
    if (!f) {
        jq_teardown(&jq);
        err_set(err, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&f->mu, NULL);
    f->jq = jq;
    return f;
}

void gw_jq_free(gw_jq_t *f)
{
    if (!f)
        return;
    jq_teardown(&f->jq);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* jansson -> jv through text. */
static bool to_jv(const json_t *in, jv *out, err_t *err)
{
    char *text = json_dumps(in, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    if (!text)
        return err_set(err, "cannot encode the input as JSON");
    jv v = jv_parse(text);
    free(text);
    if (!jv_is_valid(v)) {
        jv_free(v);
        return err_set(err, "cannot pass the input to jq");
    }
    *out = v;
    return true;
}

/* jv (consumed) -> jansson through text. */
static json_t *from_jv(jv v, err_t *err)
{
    jv s = jv_dump_string(v, 0);
    json_t *j = json_loads(jv_string_value(s), JSON_DECODE_ANY, NULL);
    jv_free(s);
    if (!j)
        err_set(err, "cannot read jq's output as JSON");
    return j;
}

/* The message of an invalid jv from jq_next (consumed); false when it is
 * the plain end of the outputs. */
static bool runtime_error(jv r, err_t *err)
{
    jv msg = jv_invalid_get_msg(r);
    bool is_err = jv_get_kind(msg) != JV_KIND_NULL;
    if (is_err) {
        if (jv_get_kind(msg) == JV_KIND_STRING) {
            err_set(err, "%s", jv_string_value(msg));
        } else {
            jv s = jv_dump_string(msg, 0);
            err_set(err, "%s (not a string)", jv_string_value(s));
            jv_free(s);
        }
    }
    jv_free(msg);
    return is_err;
}

bool gw_jq_run(gw_jq_t *f, const json_t *in, json_t **out, err_t *err)
{
    jv input;
    if (!to_jv(in, &input, err))
        return false;
    bool ok = false;
    json_t *result = NULL;
    pthread_mutex_lock(&f->mu);
    jq_start(f->jq, input, 0);
    jv first = jq_next(f->jq);
    if (!jv_is_valid(first)) {
        if (!runtime_error(first, err))
            err_set(err, "the filter produced no output");
    } else if (jq_halted(f->jq)) {
        jv_free(first);
        err_set(err, "the filter halted");
    } else {
        jv second = jq_next(f->jq);
        if (jv_is_valid(second)) {
            jv_free(second);
            jv_free(first);
            err_set(err, "the filter produced more than one output");
        } else if (runtime_error(second, err)) {
            jv_free(first);
        } else {
            result = from_jv(first, err);
            ok = result != NULL;
        }
    }
    pthread_mutex_unlock(&f->mu);
    *out = result;
    return ok;
}

json_t *gw_jq_filter_result(gw_jq_t *f, const json_t *result, err_t *err)
{
    json_t *content = json_object_get(result, "content");
    json_t *item = json_array_get(content, 0);
    const char *type = json_string_value(json_object_get(item, "type"));
    const char *text = json_string_value(json_object_get(item, "text"));
    json_t *parsed = type && !strcmp(type, "text") && text ? json_loads(text, JSON_DECODE_ANY, NULL) : NULL;
    json_t *out = NULL;
    if (parsed) {
        bool ok = gw_jq_run(f, parsed, &out, err);
        json_decref(parsed);
        if (!ok)
            return NULL;
        char *t = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
        json_decref(out);
        json_t *r = t ? json_deep_copy(result) : NULL;
        json_t *nitem = r ? json_array_get(json_object_get(r, "content"), 0) : NULL;
        if (!nitem || json_object_set_new(nitem, "text", json_string(t)) != 0) {
            free(t);
            json_decref(r);
            err_set(err, "out of memory");
            return NULL;
        }
        free(t);
        return r;
    }
    if (!gw_jq_run(f, result, &out, err))
        return NULL;
    if (json_is_object(out) && json_is_array(json_object_get(out, "content")))
        return out;
    char *t = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
    json_decref(out);
    json_t *r = t ? json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", t) : NULL;
    free(t);
    if (!r)
        err_set(err, "out of memory");
    return r;
}

bool gw_jq_set_compile(const json_t *filters, const char *path, gw_jq_set_t **out, err_t *err)
{
    *out = NULL;
    size_t n = json_object_size(filters);
    if (n == 0)
        return true;
    gw_jq_set_t *set = calloc(1, sizeof *set);
    if (set)
        set->items = calloc(n, sizeof *set->items);
    if (!set || !set->items) {
        free(set);
        return err_set(err, "out of memory");
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)filters, k, v) {
        err_t cerr = {{0}};
        gw_jq_t *jq = gw_jq_compile(json_string_value(v), &cerr);
        char *tool = jq ? strdup(k) : NULL;
        if (!tool) {
            gw_jq_free(jq);
            gw_jq_set_free(set);
            if (!cerr.msg[0])
                return err_set(err, "out of memory");
            return err_set(err, "%s.%s contains an invalid jq expression: %s", path, k, cerr.msg);
        }
        set->items[set->count].tool = tool;
        set->items[set->count].jq = jq;
        set->count++;
    }
    *out = set;
    return true;
}

gw_jq_t *gw_jq_set_find(const gw_jq_set_t *set, const char *tool)
{
    if (!set || !tool)
        return NULL;
    for (size_t i = 0; i < set->count; i++)
        if (!strcmp(set->items[i].tool, tool))
            return set->items[i].jq;
    return NULL;
}

void gw_jq_set_free(gw_jq_set_t *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++) {
        free(set->items[i].tool);
        gw_jq_free(set->items[i].jq);
    }
    free(set->items);
    free(set);
}
