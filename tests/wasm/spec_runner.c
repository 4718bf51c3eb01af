/*
 * spec_runner — runs the WebAssembly core spec scripts against our engine.
 *
 * Input is the JSON that wabt's wast2json makes from a .wast script (the
 * build converts the corpus into the build tree; see CMakeLists.txt). Each
 * command of the script is one check: modules must load and instantiate,
 * actions must return the expected values or trap with the expected text,
 * malformed/invalid/unlinkable/uninstantiable modules must be rejected for
 * the right reason. Commands in a form our binary-only engine cannot take
 * (text-format `assert_malformed` modules) are counted as skipped.
 *
 * Usage:
 *   spec_runner [-v] [--skip=NAME:LINE:WHY]... FILE.json
 *                                           run one script in this process
 *   spec_runner [-v] [--not-run=NAME:WHY]... [--skip=...]... FILE.json...
 *                                           run each script in a child
 *                                           process (a crash or hang in one
 *                                           is reported, the rest still run)
 * --plain loads modules with the engine's plain translation (the oracle of
 * fuzz_wasm_diff) instead of the optimizing one.
 * --skip names one command (by script and line) that is counted as skipped,
 * for the rare command wast2json 1.0.32 converts wrongly.
 * Prints one line per script and a total line
 *   "spec: N passed, M failed, K skipped"; exits 1 if anything failed.
 *
 * The `spectest` host module the scripts import is defined here through the
 * wasm_linker API. Host externref value N is the pointer N+1, so that every
 * host value (including 0) is a distinct non-NULL reference.
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wasm/wasm.h"
#include "wasm/wasm_internal.h" /* wasm_module_load_plain, for --plain */

#define MAX_VALS 64
#define MAX_SHOWN_FAILURES 30
#define CHILD_TIMEOUT_S 300
#define MAX_SKIPS 64

/* --plain: load every module with the engine's plain (non-optimizing)
 * translation, the oracle of the differential fuzzer, so that the oracle
 * itself is held to the spec. */
static bool use_plain;

/* --skip=NAME:LINE:WHY options. */
static const char *skips[MAX_SKIPS];
static int nskips;

typedef struct counts {
    long passed, failed, skipped;
    long skipped_text; /* of skipped: text-format assert_malformed modules */
} counts_t;

/* Everything one script run owns. Instances are kept until the end of the
 * script (in creation order, freed in reverse) because a later module or a
 * registered name may still refer to them, including instances whose start
 * function trapped (their functions may already sit in a shared table). */
typedef struct named {
    char *name;
    wasm_instance_t *inst;
} named_t;

typedef struct script {
    const char *dir;  /* where the .wasm files of the JSON live */
    const char *file; /* the script's name, for messages */
    bool verbose;
    wasm_linker_t *linker;
    wasm_module_t **mods;
    size_t nmods, capmods;
    wasm_instance_t **insts;
    size_t ninsts, capinsts;
    named_t *names;
    size_t nnames, capnames;
    wasm_instance_t *current; /* the last module defined (NULL if it failed) */
    counts_t c;
    long shown;
} script_t;

/* ---- Small helpers ------------------------------------------------------ */

static bool grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return false;
    *arr = p;
    *cap = ncap;
    return true;
}

static void fail(script_t *s, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(script_t *s, long line, const char *fmt, ...)
{
    s->c.failed++;
    if (s->shown++ >= MAX_SHOWN_FAILURES && !s->verbose) {
        if (s->shown == MAX_SHOWN_FAILURES + 2)
            printf("  %s: ... (more failures; -v shows all)\n", s->file);
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    printf("  %s:%ld: ", s->file, line);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static void pass(script_t *s)
{
    s->c.passed++;
}

static const char *str(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static uint8_t *read_file(const char *dir, const char *name, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

static const char *type_name(wasm_valtype_t t)
{
    switch (t) {
    case WASM_I32: return "i32";
    case WASM_I64: return "i64";
    case WASM_F32: return "f32";
    case WASM_F64: return "f64";
    case WASM_FUNCREF: return "funcref";
    case WASM_EXTERNREF: return "externref";
    }
    return "?";
}

static bool parse_type(const char *s, wasm_valtype_t *t)
{
    static const struct {
        const char *name;
        wasm_valtype_t t;
    } map[] = {{"i32", WASM_I32},         {"i64", WASM_I64},          {"f32", WASM_F32},
               {"f64", WASM_F64},         {"funcref", WASM_FUNCREF},  {"externref", WASM_EXTERNREF}};
    for (size_t i = 0; s && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(s, map[i].name) == 0) {
            *t = map[i].t;
            return true;
        }
    return false;
}

static void *host_ref(uint64_t n)
{
    return (void *)(uintptr_t)(n + 1);
}

/* Formats a value for failure messages. */
static const char *show(const wasm_val_t *v, char *buf, size_t n)
{
    switch (v->type) {
    case WASM_I32: snprintf(buf, n, "i32:%" PRIu32, (uint32_t)v->of.i32); break;
    case WASM_I64: snprintf(buf, n, "i64:%" PRIu64, (uint64_t)v->of.i64); break;
    case WASM_F32: snprintf(buf, n, "f32:%g (0x%08" PRIx32 ")", (double)v->of.f32, v->of.f32_bits); break;
    case WASM_F64: snprintf(buf, n, "f64:%g (0x%016" PRIx64 ")", v->of.f64, v->of.f64_bits); break;
    case WASM_FUNCREF: snprintf(buf, n, "funcref:%p", v->of.ref); break;
    case WASM_EXTERNREF: snprintf(buf, n, "externref:%p", v->of.ref); break;
    default: snprintf(buf, n, "type 0x%x", (unsigned)v->type); break;
    }
    return buf;
}

/* An argument or a constant expected value. */
static bool parse_value(json_t *j, wasm_val_t *out)
{
    const char *t = str(j, "type"), *v = str(j, "value");
    if (!parse_type(t, &out->type) || !v)
        return false;
    bool isnull = strcmp(v, "null") == 0;
    char *end;
    errno = 0;
    unsigned long long n = isnull ? 0 : strtoull(v, &end, 10);
    if (!isnull && (errno || *end))
        return false;
    switch (out->type) {
    case WASM_I32: out->of.i32 = (int32_t)(uint32_t)n; break;
    case WASM_I64: out->of.i64 = (int64_t)(uint64_t)n; break;
    case WASM_F32: out->of.f32_bits = (uint32_t)n; break;
    case WASM_F64: out->of.f64_bits = (uint64_t)n; break;
    case WASM_FUNCREF: out->of.ref = NULL; return isnull; /* only ref.null func is scriptable */
    case WASM_EXTERNREF: out->of.ref = isnull ? NULL : host_ref(n); break;
    }
    return true;
}

/* Does `got` match the script's expectation `want` (JSON)? Floats compare by
 * bits; nan:canonical / nan:arithmetic patterns follow the spec (canonical:
 * only the quiet bit in the payload; arithmetic: quiet bit set). A funcref
 * without a value means "any non-null function". */
static bool value_matches(json_t *want, const wasm_val_t *got, char *why, size_t n)
{
    wasm_valtype_t t;
    char buf[96];
    if (!parse_type(str(want, "type"), &t)) {
        snprintf(why, n, "script has unknown type %s", str(want, "type") ? str(want, "type") : "(none)");
        return false;
    }
    if (got->type != t) {
        snprintf(why, n, "got %s, expected a %s", show(got, buf, sizeof buf), type_name(t));
        return false;
    }
    const char *v = str(want, "value");
    if (!v) {
        if (t == WASM_FUNCREF && got->of.ref == NULL) {
            snprintf(why, n, "got ref.null, expected a function reference");
            return false;
        }
        return true;
    }
    if (strncmp(v, "nan:", 4) == 0 && (t == WASM_F32 || t == WASM_F64)) {
        bool canonical = strcmp(v, "nan:canonical") == 0;
        bool ok;
        if (t == WASM_F32) {
            uint32_t b = got->of.f32_bits & 0x7fffffffu;
            ok = canonical ? b == 0x7fc00000u : (b & 0x7fc00000u) == 0x7fc00000u;
        } else {
            uint64_t b = got->of.f64_bits & 0x7fffffffffffffffull;
            ok = canonical ? b == 0x7ff8000000000000ull
                           : (b & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
        }
        if (!ok)
            snprintf(why, n, "got %s, expected %s", show(got, buf, sizeof buf), v);
        return ok;
    }
    wasm_val_t w;
    if (!parse_value(want, &w)) {
        snprintf(why, n, "script value '%s' not understood", v);
        return false;
    }
    bool ok;
    switch (t) {
    case WASM_I32: ok = got->of.i32 == w.of.i32; break;
    case WASM_I64: ok = got->of.i64 == w.of.i64; break;
    case WASM_F32: ok = got->of.f32_bits == w.of.f32_bits; break;
    case WASM_F64: ok = got->of.f64_bits == w.of.f64_bits; break;
    default: ok = got->of.ref == w.of.ref; break;
    }
    if (!ok) {
        char b2[96];
        snprintf(why, n, "got %s, expected %s", show(got, buf, sizeof buf), show(&w, b2, sizeof b2));
    }
    return ok;
}

/* ---- The spectest host module ------------------------------------------ */

static bool host_print(wasm_instance_t *caller, void *env, const wasm_val_t *args, wasm_val_t *results,
                       wasm_trap_t *trap)
{
    (void)caller, (void)env, (void)args, (void)results, (void)trap;
    return true; /* the scripts only check that the call links and returns */
}

static bool define_spectest(wasm_linker_t *l, err_t *err)
{
    static const wasm_valtype_t i32[] = {WASM_I32}, i64[] = {WASM_I64}, f32[] = {WASM_F32}, f64[] = {WASM_F64},
                                i32f32[] = {WASM_I32, WASM_F32}, f64f64[] = {WASM_F64, WASM_F64};
    static const struct {
        const char *name;
        const wasm_valtype_t *params;
        uint32_t n;
    } fns[] = {{"print", NULL, 0},      {"print_i32", i32, 1},         {"print_i64", i64, 1},
               {"print_f32", f32, 1},   {"print_f64", f64, 1},         {"print_i32_f32", i32f32, 2},
               {"print_f64_f64", f64f64, 2}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        wasm_functype_t ft = {fns[i].params, fns[i].n, NULL, 0};
        if (!wasm_linker_define_func(l, "spectest", fns[i].name, &ft, host_print, NULL, err))
            return false;
    }
    wasm_val_t g;
    g.type = WASM_I32, g.of.i32 = 666;
    if (!wasm_linker_define_global(l, "spectest", "global_i32", g, false, err))
        return false;
    g.type = WASM_I64, g.of.i64 = 666;
    if (!wasm_linker_define_global(l, "spectest", "global_i64", g, false, err))
        return false;
    g.type = WASM_F32, g.of.f32 = 666.6f;
    if (!wasm_linker_define_global(l, "spectest", "global_f32", g, false, err))
        return false;
    g.type = WASM_F64, g.of.f64 = 666.6;
    if (!wasm_linker_define_global(l, "spectest", "global_f64", g, false, err))
        return false;
    return wasm_linker_define_table(l, "spectest", "table", WASM_FUNCREF, 10, 20, err) &&
           wasm_linker_define_memory(l, "spectest", "memory", 1, 2, err);
}

/* ---- Modules ------------------------------------------------------------ */

static wasm_instance_t *find_instance(script_t *s, const char *name)
{
    if (!name)
        return s->current;
    for (size_t i = s->nnames; i-- > 0;)
        if (strcmp(s->names[i].name, name) == 0)
            return s->names[i].inst;
    return NULL;
}

static bool keep_module(script_t *s, wasm_module_t *m)
{
    if (!grow((void **)&s->mods, &s->capmods, s->nmods, sizeof *s->mods))
        return false;
    s->mods[s->nmods++] = m;
    return true;
}

static bool keep_instance(script_t *s, wasm_instance_t *inst)
{
    if (!grow((void **)&s->insts, &s->capinsts, s->ninsts, sizeof *s->insts))
        return false;
    s->insts[s->ninsts++] = inst;
    return true;
}

/* Loads a module file; NULL with *why and err on failure. The module is
 * kept by the script (freed at its end) when it loads. */
static wasm_module_t *load(script_t *s, const char *file, wasm_load_error_t *why, err_t *err)
{
    size_t len;
    uint8_t *bytes = read_file(s->dir, file, &len);
    if (!bytes) {
        *why = WASM_LOAD_NOMEM;
        err_set(err, "cannot read %s/%s", s->dir, file);
        return NULL;
    }
    wasm_module_t *m = use_plain ? wasm_module_load_plain(bytes, len, why, err) : wasm_module_load(bytes, len, why, err);
    free(bytes);
    if (m && !keep_module(s, m)) {
        wasm_module_free(m);
        *why = WASM_LOAD_NOMEM;
        err_set(err, "out of memory");
        return NULL;
    }
    return m;
}

typedef enum { INST_OK, INST_LOAD_FAILED, INST_LINK_FAILED, INST_START_TRAPPED, INST_OTHER } inst_result_t;

/* Loads, instantiates and runs the start function. On INST_START_TRAPPED the
 * instance is kept anyway (see script_t). msg gets the reason on failure. */
static inst_result_t instantiate(script_t *s, const char *file, wasm_instance_t **out, wasm_inst_error_t *iwhy,
                                 char *msg, size_t n)
{
    err_t err = {{0}};
    wasm_load_error_t why = WASM_LOAD_OK;
    *out = NULL;
    *iwhy = WASM_INST_OK;
    wasm_module_t *m = load(s, file, &why, &err);
    if (!m) {
        snprintf(msg, n, "load failed (%d): %s", (int)why, err.msg);
        return INST_LOAD_FAILED;
    }
    wasm_instance_t *inst = wasm_instance_new(m, s->linker, NULL, iwhy, &err);
    if (!inst) {
        snprintf(msg, n, "instantiation failed (%d): %s", (int)*iwhy, err.msg);
        return INST_LINK_FAILED;
    }
    if (!keep_instance(s, inst)) {
        wasm_instance_free(inst);
        snprintf(msg, n, "out of memory");
        return INST_OTHER;
    }
    wasm_trap_t trap;
    memset(&trap, 0, sizeof trap);
    wasm_status_t st = wasm_instance_run_start(inst, &trap);
    if (st != WASM_OK) {
        snprintf(msg, n, "start function %s: %s (kind %d) in %s", st == WASM_TRAPPED ? "trapped" : "interrupted",
                 trap.message, (int)trap.kind, trap.func_name);
        return st == WASM_TRAPPED ? INST_START_TRAPPED : INST_OTHER;
    }
    *out = inst;
    return INST_OK;
}

static void cmd_module(script_t *s, json_t *cmd, long line)
{
    const char *file = str(cmd, "filename"), *name = str(cmd, "name");
    char msg[1024];
    wasm_instance_t *inst;
    wasm_inst_error_t iwhy;
    s->current = NULL;
    if (instantiate(s, file, &inst, &iwhy, msg, sizeof msg) != INST_OK) {
        fail(s, line, "module %s: %s", file, msg);
        return;
    }
    s->current = inst;
    if (name) {
        char *copy = strdup(name);
        if (!copy || !grow((void **)&s->names, &s->capnames, s->nnames, sizeof *s->names)) {
            free(copy);
            fail(s, line, "out of memory");
            return;
        }
        s->names[s->nnames++] = (named_t){copy, inst};
    }
    pass(s);
}

static void cmd_register(script_t *s, json_t *cmd, long line)
{
    const char *name = str(cmd, "name"), *as = str(cmd, "as");
    wasm_instance_t *inst = find_instance(s, name);
    err_t err = {{0}};
    if (!inst || !as) {
        fail(s, line, "register %s: no such module instance", as ? as : "?");
        return;
    }
    if (!wasm_linker_define_instance(s->linker, as, inst, &err)) {
        fail(s, line, "register %s: %s", as, err.msg);
        return;
    }
    pass(s);
}

/* ---- Actions ------------------------------------------------------------ */

typedef struct outcome {
    wasm_status_t status;
    wasm_trap_t trap;
    wasm_val_t results[MAX_VALS];
    uint32_t nresults;
    char msg[600]; /* why the action could not be made (status = WASM_BAD_CALL) */
} outcome_t;

static void run_action(script_t *s, json_t *action, outcome_t *o)
{
    memset(o, 0, sizeof *o);
    o->status = WASM_BAD_CALL;
    const char *type = str(action, "type"), *field = str(action, "field"), *modname = str(action, "module");
    wasm_instance_t *inst = find_instance(s, modname);
    if (!inst) {
        snprintf(o->msg, sizeof o->msg, "no instance%s%s (an earlier module failed?)", modname ? " " : "",
                 modname ? modname : "");
        return;
    }
    if (!field) {
        snprintf(o->msg, sizeof o->msg, "action has no field");
        return;
    }
    if (type && strcmp(type, "get") == 0) {
        if (!wasm_instance_export_global(inst, field, &o->results[0])) {
            snprintf(o->msg, sizeof o->msg, "no global export \"%s\"", field);
            return;
        }
        o->nresults = 1;
        o->status = WASM_OK;
        return;
    }
    if (!type || strcmp(type, "invoke") != 0) {
        snprintf(o->msg, sizeof o->msg, "unknown action type %s", type ? type : "(none)");
        return;
    }
    wasm_func_t *fn = wasm_instance_export_func(inst, field);
    if (!fn) {
        snprintf(o->msg, sizeof o->msg, "no function export \"%s\"", field);
        return;
    }
    json_t *jargs = json_object_get(action, "args");
    wasm_val_t args[MAX_VALS];
    size_t nargs = json_array_size(jargs);
    if (nargs > MAX_VALS) {
        snprintf(o->msg, sizeof o->msg, "too many arguments");
        return;
    }
    for (size_t i = 0; i < nargs; i++)
        if (!parse_value(json_array_get(jargs, i), &args[i])) {
            snprintf(o->msg, sizeof o->msg, "argument %zu not understood", i);
            return;
        }
    wasm_functype_t ft;
    wasm_func_type(fn, &ft);
    if (ft.nresults > MAX_VALS) {
        snprintf(o->msg, sizeof o->msg, "too many results");
        return;
    }
    err_t err = {{0}};
    o->nresults = ft.nresults;
    o->status = wasm_func_call(inst, fn, args, (uint32_t)nargs, o->results, ft.nresults, NULL, &o->trap, &err);
    if (o->status == WASM_BAD_CALL || o->status == WASM_INTERRUPTED)
        snprintf(o->msg, sizeof o->msg, "%s: %s", o->status == WASM_BAD_CALL ? "bad call" : "interrupted", err.msg);
}

static const char *action_name(json_t *cmd)
{
    const char *f = str(json_object_get(cmd, "action"), "field");
    return f ? f : "?";
}

static void describe_failure(const outcome_t *o, char *buf, size_t n)
{
    if (o->status == WASM_TRAPPED)
        snprintf(buf, n, "trapped: %s (%s) in %s", o->trap.message, wasm_trap_kind_message(o->trap.kind),
                 o->trap.func_name);
    else
        snprintf(buf, n, "%s", o->msg);
}

static void cmd_action(script_t *s, json_t *cmd, long line)
{
    outcome_t o;
    char buf[1024];
    run_action(s, json_object_get(cmd, "action"), &o);
    if (o.status != WASM_OK) {
        describe_failure(&o, buf, sizeof buf);
        fail(s, line, "action %s: %s", action_name(cmd), buf);
        return;
    }
    pass(s);
}

static void cmd_assert_return(script_t *s, json_t *cmd, long line)
{
    outcome_t o;
    char buf[1024];
    run_action(s, json_object_get(cmd, "action"), &o);
    if (o.status != WASM_OK) {
        describe_failure(&o, buf, sizeof buf);
        fail(s, line, "assert_return %s: %s", action_name(cmd), buf);
        return;
    }
    json_t *exp = json_object_get(cmd, "expected");
    if (json_array_size(exp) != o.nresults) {
        fail(s, line, "assert_return %s: %u results, expected %zu", action_name(cmd), o.nresults,
             json_array_size(exp));
        return;
    }
    for (uint32_t i = 0; i < o.nresults; i++)
        if (!value_matches(json_array_get(exp, i), &o.results[i], buf, sizeof buf)) {
            fail(s, line, "assert_return %s: result %u: %s", action_name(cmd), i, buf);
            return;
        }
    pass(s);
}

/* The spec's scripts match a trap's text by prefix; our kinds carry the
 * spec's text, so a match is either text being a prefix of the other (the
 * scripts sometimes append detail such as "uninitialized element 2"). */
static bool text_matches(const char *got, const char *want)
{
    size_t a = strlen(got), b = strlen(want);
    return a && strncmp(got, want, a < b ? a : b) == 0;
}

static void cmd_assert_trap(script_t *s, json_t *cmd, long line, bool exhaustion)
{
    outcome_t o;
    char buf[1024];
    const char *text = str(cmd, "text");
    const char *what = exhaustion ? "assert_exhaustion" : "assert_trap";
    run_action(s, json_object_get(cmd, "action"), &o);
    if (o.status != WASM_TRAPPED) {
        if (o.status == WASM_OK)
            snprintf(buf, sizeof buf, "returned normally");
        else
            describe_failure(&o, buf, sizeof buf);
        fail(s, line, "%s %s: expected trap \"%s\", %s", what, action_name(cmd), text ? text : "", buf);
        return;
    }
    const char *kind_text = wasm_trap_kind_message(o.trap.kind);
    if (text && !text_matches(kind_text ? kind_text : "", text) && !text_matches(o.trap.message, text)) {
        fail(s, line, "%s %s: trapped with \"%s\" (%s), expected \"%s\"", what, action_name(cmd), o.trap.message,
             kind_text ? kind_text : "?", text);
        return;
    }
    pass(s);
}

/* assert_malformed / assert_invalid: the load must fail with that reason. */
static void cmd_assert_rejected(script_t *s, json_t *cmd, long line, wasm_load_error_t want, const char *what)
{
    const char *file = str(cmd, "filename"), *mt = str(cmd, "module_type"), *text = str(cmd, "text");
    if (mt && strcmp(mt, "binary") != 0) {
        /* wast2json writes (module quote ...) cases as .wat text: they test the
         * text parser, which our binary-only engine does not have. */
        s->c.skipped++;
        s->c.skipped_text++;
        if (s->verbose)
            printf("  %s:%ld: %s skipped: text-format module (%s)\n", s->file, line, what, text ? text : "");
        return;
    }
    err_t err = {{0}};
    wasm_load_error_t why = WASM_LOAD_OK;
    wasm_module_t *m = load(s, file, &why, &err);
    if (m) {
        fail(s, line, "%s %s: module loaded, expected \"%s\"", what, file, text ? text : "");
        return;
    }
    if (why != want) {
        fail(s, line, "%s %s: rejected as %s (%s), expected %s \"%s\"", what, file,
             why == WASM_LOAD_MALFORMED ? "malformed"
             : why == WASM_LOAD_INVALID ? "invalid"
                                        : "other",
             err.msg, want == WASM_LOAD_MALFORMED ? "malformed" : "invalid", text ? text : "");
        return;
    }
    pass(s);
}

static void cmd_assert_unlinkable(script_t *s, json_t *cmd, long line)
{
    const char *file = str(cmd, "filename"), *text = str(cmd, "text");
    char msg[1024];
    wasm_instance_t *inst;
    wasm_inst_error_t iwhy;
    inst_result_t r = instantiate(s, file, &inst, &iwhy, msg, sizeof msg);
    if (r == INST_LINK_FAILED && iwhy == WASM_INST_UNLINKABLE) {
        pass(s);
        return;
    }
    fail(s, line, "assert_unlinkable %s: %s, expected \"%s\"", file, r == INST_OK ? "instantiated" : msg,
         text ? text : "");
}

/* Uninstantiable: a segment initialisation traps (wasm_instance_new says
 * WASM_INST_TRAPPED, its message containing the trap text) or the start
 * function traps. */
static void cmd_assert_uninstantiable(script_t *s, json_t *cmd, long line)
{
    const char *file = str(cmd, "filename"), *text = str(cmd, "text");
    char msg[1024];
    wasm_instance_t *inst;
    wasm_inst_error_t iwhy;
    inst_result_t r = instantiate(s, file, &inst, &iwhy, msg, sizeof msg);
    bool trapped = r == INST_START_TRAPPED || (r == INST_LINK_FAILED && iwhy == WASM_INST_TRAPPED);
    if (trapped && (!text || strstr(msg, text))) {
        pass(s);
        return;
    }
    fail(s, line, "assert_uninstantiable %s: %s, expected trap \"%s\"", file, r == INST_OK ? "instantiated" : msg,
         text ? text : "");
}

/* ---- Scripts ------------------------------------------------------------ */

/* Is this command named by a --skip option? Prints the reason if so. */
static bool skipped_by_option(script_t *s, long line)
{
    size_t flen = strlen(s->file);
    for (int i = 0; i < nskips; i++) {
        const char *o = skips[i];
        char *end;
        if (strncmp(o, s->file, flen) != 0 || o[flen] != ':' || strtol(o + flen + 1, &end, 10) != line)
            continue;
        printf("  %s:%ld: skipped: %s\n", s->file, line, *end == ':' ? end + 1 : "(no reason given)");
        return true;
    }
    return false;
}

static void run_command(script_t *s, json_t *cmd)
{
    const char *type = str(cmd, "type");
    long line = (long)json_integer_value(json_object_get(cmd, "line"));
    if (skipped_by_option(s, line)) {
        s->c.skipped++;
        if (type && strcmp(type, "module") == 0)
            s->current = NULL;
        return;
    }
    json_t *field = json_object_get(json_object_get(cmd, "action"), "field");
    if (field && strlen(json_string_value(field)) != json_string_length(field)) {
        /* wasm.h looks exports up by C string, so a name with a NUL byte in
         * it cannot be asked for. */
        s->c.skipped++;
        printf("  %s:%ld: skipped: export name contains a NUL byte (wasm.h takes C strings)\n", s->file, line);
        return;
    }
    if (!type)
        fail(s, line, "command without a type");
    else if (strcmp(type, "module") == 0)
        cmd_module(s, cmd, line);
    else if (strcmp(type, "register") == 0)
        cmd_register(s, cmd, line);
    else if (strcmp(type, "action") == 0)
        cmd_action(s, cmd, line);
    else if (strcmp(type, "assert_return") == 0)
        cmd_assert_return(s, cmd, line);
    else if (strcmp(type, "assert_trap") == 0)
        cmd_assert_trap(s, cmd, line, false);
    else if (strcmp(type, "assert_exhaustion") == 0)
        cmd_assert_trap(s, cmd, line, true);
    else if (strcmp(type, "assert_malformed") == 0)
        cmd_assert_rejected(s, cmd, line, WASM_LOAD_MALFORMED, "assert_malformed");
    else if (strcmp(type, "assert_invalid") == 0)
        cmd_assert_rejected(s, cmd, line, WASM_LOAD_INVALID, "assert_invalid");
    else if (strcmp(type, "assert_unlinkable") == 0)
        cmd_assert_unlinkable(s, cmd, line);
    else if (strcmp(type, "assert_uninstantiable") == 0)
        cmd_assert_uninstantiable(s, cmd, line);
    else
        fail(s, line, "unknown command type %s", type);
}

static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

/* Runs one JSON script in this process; prints its line; returns counts. */
static counts_t run_script(const char *path, bool verbose)
{
    script_t s;
    memset(&s, 0, sizeof s);
    s.verbose = verbose;
    char dir[4096], file[512];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");
    s.dir = dir;
    snprintf(file, sizeof file, "%s", base_name(path));
    char *dot = strrchr(file, '.');
    if (dot && strcmp(dot, ".json") == 0)
        snprintf(dot, file + sizeof file - dot, ".wast");
    s.file = file;

    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
    err_t err = {{0}};
    if (!root) {
        fail(&s, 0, "cannot read %s: %s (line %d)", path, jerr.text, jerr.line);
    } else if (!(s.linker = wasm_linker_new())) {
        fail(&s, 0, "wasm_linker_new failed");
    } else if (!define_spectest(s.linker, &err)) {
        fail(&s, 0, "defining spectest: %s", err.msg);
    } else {
        json_t *cmds = json_object_get(root, "commands");
        size_t i;
        json_t *cmd;
        json_array_foreach(cmds, i, cmd) run_command(&s, cmd);
    }
    /* Dependents first: an instance may import from any earlier one. */
    for (size_t i = s.ninsts; i-- > 0;)
        wasm_instance_free(s.insts[i]);
    for (size_t i = s.nmods; i-- > 0;)
        wasm_module_free(s.mods[i]);
    for (size_t i = 0; i < s.nnames; i++)
        free(s.names[i].name);
    free(s.insts);
    free(s.mods);
    free(s.names);
    if (s.linker)
        wasm_linker_free(s.linker);
    json_decref(root);
    printf("%s %s: %ld passed, %ld failed, %ld skipped", s.c.failed ? "FAIL" : "PASS", s.file, s.c.passed, s.c.failed,
           s.c.skipped);
    if (s.c.skipped_text)
        printf(" (%ld text-format assert_malformed)", s.c.skipped_text);
    printf("\n");
    fflush(stdout);
    return s.c;
}

/* Runs a script in a child so that a crash or hang is one script's failure. */
static counts_t run_script_isolated(const char *path, bool verbose)
{
    counts_t c = {0, 1, 0, 0};
    int fds[2];
    fflush(stdout);
    if (pipe(fds) != 0)
        return c;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return c;
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(CHILD_TIMEOUT_S);
        counts_t r = run_script(path, verbose);
        ssize_t w = write(fds[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fds[1]);
    counts_t r;
    ssize_t got = read(fds[0], &r, sizeof r);
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (got == (ssize_t)sizeof r)
        return r;
    if (WIFSIGNALED(status))
        printf("FAIL %s: CRASHED (signal %d%s)\n", base_name(path), WTERMSIG(status),
               WTERMSIG(status) == SIGALRM ? ": timed out" : "");
    else
        printf("FAIL %s: runner child failed (status %d)\n", base_name(path), status);
    return c;
}

int main(int argc, char **argv)
{
    bool verbose = false;
    const char *files[1024];
    const char *notrun[64];
    int nfiles = 0, nnotrun = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--plain") == 0)
            use_plain = true;
        else if (strncmp(argv[i], "--not-run=", 10) == 0 && nnotrun < 64)
            notrun[nnotrun++] = argv[i] + 10;
        else if (strncmp(argv[i], "--skip=", 7) == 0 && nskips < MAX_SKIPS)
            skips[nskips++] = argv[i] + 7;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [-v] [--plain] [--not-run=NAME:WHY]... [--skip=NAME:LINE:WHY]... FILE.json...\n", argv[0]);
            return 2;
        } else if (nfiles < 1024)
            files[nfiles++] = argv[i];
    }
    if (nfiles == 0) {
        fprintf(stderr, "usage: %s [-v] [--plain] [--not-run=NAME:WHY]... [--skip=NAME:LINE:WHY]... FILE.json...\n", argv[0]);
        return 2;
    }
    counts_t total = {0, 0, 0, 0};
    long files_failed = 0;
    for (int i = 0; i < nfiles; i++) {
        counts_t c = nfiles == 1 ? run_script(files[i], verbose) : run_script_isolated(files[i], verbose);
        total.passed += c.passed;
        total.failed += c.failed;
        total.skipped += c.skipped;
        total.skipped_text += c.skipped_text;
        files_failed += c.failed != 0;
    }
    for (int i = 0; i < nnotrun; i++)
        printf("NOT RUN %s\n", notrun[i]);
    printf("spec: %ld passed, %ld failed, %ld skipped (%d files, %ld failing, %d not run)\n", total.passed,
           total.failed, total.skipped, nfiles, files_failed, nnotrun);
    if (total.skipped)
        printf("skipped: %ld text-format assert_malformed modules (they test a text parser; the engine reads "
               "binary only), %ld single commands listed above\n",
               total.skipped_text, total.skipped - total.skipped_text);
    return total.failed ? 1 : 0;
}
