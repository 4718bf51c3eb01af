/*
 * guard_cli.c — `flowgate guard`, the guard author's tool: load a guard,
 * list what it exports and imports, and run label_agent / label_resource /
 * label_response on JSON from arguments or files, with a mock backend that
 * answers call_backend from a JSON file. Results and timings are printed as
 * JSON on stdout; the guard's own output and logs go to stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard/guard.h"
#include "guard/wasm_guard_internal.h"
#include "util/file.h"
#include "wasm/wasm.h"

static const char usage[] =
    "usage: flowgate guard <command> [options] GUARD.wasm [JSON...]\n"
    "\n"
    "commands:\n"
    "  info GUARD.wasm                       exports, imports, sizes, load time\n"
    "  label-agent GUARD.wasm POLICY         run label_agent on a policy\n"
    "  label-resource GUARD.wasm TOOL [ARGS] run label_resource\n"
    "  label-response GUARD.wasm TOOL ARGS RESULT\n"
    "                                        run label_response on a backend result\n"
    "\n"
    "JSON values are given inline or as @FILE. Options:\n"
    "  --policy JSON       run label_agent with this policy first (label-resource/-response)\n"
    "  --trusted-bots JSON array added to the label_agent payload\n"
    "  --backend JSON      mock backend for call_backend: {\"<tool>\": <result>, ...}\n"
    "  --timeout MS        deadline for each guard call (default 30000)\n"
    "  --name NAME         guard name used in log lines (default: guard)\n"
    "  --repeat N          run the call N times and report timings (default 1)\n"
    "  --raw               also print the guard's raw output\n";

typedef struct cli {
    const char *policy, *bots, *backend_json, *name;
    unsigned timeout_ms, repeat;
    bool raw;
} cli_t;

/* ---- JSON arguments ---------------------------------------------------- */

static json_t *load_json_arg(const char *arg, const char *what)
{
    json_error_t je;
    json_t *v;
    if (arg[0] == '@')
        v = json_load_file(arg + 1, JSON_DECODE_ANY, &je);
    else
        v = json_loads(arg, JSON_DECODE_ANY, &je);
    if (!v)
        fprintf(stderr, "flowgate guard: %s: invalid JSON (%s) at line %d column %d\n", what, je.text, je.line,
                je.column);
    return v;
}

/* ---- mock backend ------------------------------------------------------ */

static bool mock_call(void *self, guard_ctx_t *ctx, const char *tool, const json_t *args, json_t **result, err_t *err)
{
    (void)ctx;
    json_t *answers = self;
    char *a = args ? json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    fprintf(stderr, "[mock-backend] call_backend %s %s\n", tool, a ? a : "null");
    free(a);
    json_t *r = json_object_get(answers, tool);
    if (!r)
        return err_set(err, "mock backend has no answer for tool %s", tool);
    *result = json_incref(r);
    return true;
}

/* ---- rendering --------------------------------------------------------- */

static json_t *resource_json(const difc_resource_t *r)
{
    return json_pack("{s:s,s:o,s:o}", "description", difc_resource_description(r), "secrecy",
                     difc_tagset_to_json(&r->labels.secrecy), "integrity", difc_tagset_to_json(&r->labels.integrity));
}

static json_t *response_json(const difc_response_labels_t *rl)
{
    if (rl->kind == DIFC_RESPONSE_NONE)
        return json_null();
    json_t *o = json_object();
    if (rl->kind == DIFC_RESPONSE_ITEMS) {
        json_t *items = json_array();
        for (size_t i = 0; i < rl->n_items; i++) {
            const difc_item_t *it = &rl->items[i];
            json_array_append_new(items, json_pack("{s:O,s:o}", "data", it->data ? it->data : json_null(), "labels",
                                                   it->has_labels ? resource_json(&it->labels) : json_null()));
        }
        json_object_set_new(o, "items", items);
        return o;
    }
    json_t *paths = json_array();
    for (size_t i = 0; i < rl->n_paths; i++)
        json_array_append_new(paths, json_pack("{s:s,s:o}", "path", rl->paths[i].path, "labels",
                                               resource_json(&rl->paths[i].labels)));
    json_object_set_new(o, "labeled_paths", paths);
    json_object_set_new(o, "items_path", json_string(rl->items_path ? rl->items_path : ""));
    if (rl->has_default)
        json_object_set_new(o, "default_labels", resource_json(&rl->default_labels));
    return o;
}

static void print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s)
        printf("%s\n", s);
    free(s);
}

/* ---- commands ---------------------------------------------------------- */

static const char *valtype_name(wasm_valtype_t t)
{
    switch (t) {
    case WASM_I32:
        return "i32";
    case WASM_I64:
        return "i64";
    case WASM_F32:
        return "f32";
    case WASM_F64:
        return "f64";
    case WASM_FUNCREF:
        return "funcref";
    default:
        return "externref";
    }
}

/* "(i32,i32)->i32", the form the load errors use. */
static json_t *functype_json(const wasm_functype_t *f)
{
    char buf[512];
    size_t off = 0;
    off += (size_t)snprintf(buf + off, sizeof buf - off, "(");
    for (uint32_t i = 0; i < f->nparams && off < sizeof buf; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? "," : "", valtype_name(f->params[i]));
    if (off < sizeof buf)
        off += (size_t)snprintf(buf + off, sizeof buf - off, ")->%s", f->nresults == 1 ? "" : "(");
    for (uint32_t i = 0; i < f->nresults && off < sizeof buf; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s", i ? "," : "", valtype_name(f->results[i]));
    if (f->nresults != 1 && off < sizeof buf)
        snprintf(buf + off, sizeof buf - off, ")");
    return json_string(buf);
}

static const char *kind_name(wasm_externkind_t k)
{
    static const char *const names[] = {"func", "table", "memory", "global"};
    return k <= WASM_EXTERN_GLOBAL ? names[k] : "?";
}

static int cmd_info(const char *path, const cli_t *o)
{
    size_t len = 0;
    err_t err = {{0}};
    uint8_t *bytes = util_read_file(path, &len, &err);
    if (!bytes) {
        fprintf(stderr, "flowgate guard: failed to read WASM file: %s\n", err.msg);
        return 1;
    }
    uint64_t t0 = wasm_now_ns();
    wasm_load_error_t why;
    wasm_module_t *mod = wasm_module_load(bytes, len, &why, &err);
    uint64_t t1 = wasm_now_ns();
    if (!mod) {
        fprintf(stderr, "flowgate guard: failed to instantiate WASM module: %s\n", err.msg);
        free(bytes);
        return 1;
    }
    json_t *imports = json_array(), *exports = json_array();
    for (uint32_t i = 0; i < wasm_module_import_count(mod); i++) {
        wasm_import_info_t im;
        wasm_module_import(mod, i, &im);
        json_t *e = json_pack("{s:s,s:s,s:s}", "module", im.module, "name", im.name, "kind", kind_name(im.kind));
        if (im.kind == WASM_EXTERN_FUNC)
            json_object_set_new(e, "type", functype_json(&im.func));
        json_array_append_new(imports, e);
    }
    for (uint32_t i = 0; i < wasm_module_export_count(mod); i++) {
        wasm_export_info_t ex;
        wasm_module_export(mod, i, &ex);
        json_t *e = json_pack("{s:s,s:s}", "name", ex.name, "kind", kind_name(ex.kind));
        if (ex.kind == WASM_EXTERN_FUNC)
            json_object_set_new(e, "type", functype_json(&ex.func));
        json_array_append_new(exports, e);
    }
    /* Then the full guard load: export checks and a first instance. */
    guard_wasm_opts_t go = {.name = o->name, .max_instances = 1};
    uint64_t t2 = wasm_now_ns();
    guard_t *g = guard_wasm_load_bytes(bytes, len, &go, &err);
    uint64_t t3 = wasm_now_ns();
    json_t *out = json_pack("{s:s,s:I,s:I,s:o,s:o,s:f,s:f,s:b}", "file", path, "bytes", (json_int_t)len, "code_bytes",
                            (json_int_t)wasm_module_code_size(mod), "imports", imports, "exports", exports,
                            "compile_ms", (double)(t1 - t0) / 1e6, "guard_load_ms", (double)(t3 - t2) / 1e6,
                            "valid_guard", g != NULL);
    if (!g)
        json_object_set_new(out, "error", json_string(err.msg));
    /* What the host will do differently from what an author might expect. */
    json_t *notes = json_array();
    wasm_export_info_t ex;
    if (wasm_module_find_export(mod, "_initialize", &ex) || wasm_module_find_export(mod, "_start", &ex))
        json_array_append_new(notes, json_string("_initialize/_start is never called: the guard must work without "
                                                 "an init call"));
    if (!wasm_module_find_export(mod, "alloc", &ex) || !wasm_module_find_export(mod, "dealloc", &ex))
        json_array_append_new(notes, json_string("no alloc/dealloc: the host puts buffers in pages it grows above "
                                                 "the guard's memory"));
    json_object_set_new(out, "notes", notes);
    print_json(out);
    json_decref(out);
    guard_close(g);
    wasm_module_free(mod);
    free(bytes);
    return g ? 0 : 1;
}

static bool run_agent(guard_t *g, guard_ctx_t *ctx, const cli_t *o, json_t *policy, json_t **result, double *ms,
                      err_t *err)
{
    json_t *bots = o->bots ? load_json_arg(o->bots, "--trusted-bots") : NULL;
    json_t *payload = NULL;
    bool ok = guard_label_agent_payload(policy, bots, NULL, &payload, err);
    json_decref(bots);
    if (!ok)
        return err_prefix(err, "label_agent payload");
    difc_agent_result_t ar = {0};
    uint64_t t0 = wasm_now_ns();
    ok = guard_label_agent(g, ctx, payload, &ar, err);
    *ms = (double)(wasm_now_ns() - t0) / 1e6;
    if (ok && result) {
        *result = json_pack("{s:{s:o,s:o},s:s,s:O}", "agent", "secrecy", difc_tagset_to_json(&ar.labels.secrecy),
                            "integrity", difc_tagset_to_json(&ar.labels.integrity), "difc_mode",
                            difc_mode_name(ar.mode), "normalized_policy",
                            ar.normalized_policy ? ar.normalized_policy : json_null());
        json_object_set_new(*result, "payload", json_incref(payload));
    }
    difc_agent_result_free(&ar);
    json_decref(payload);
    return ok;
}

static int cmd_label(const char *cmd, const char *path, int nargs, char **args, const cli_t *o)
{
    json_t *backend = o->backend_json ? load_json_arg(o->backend_json, "--backend") : json_object();
    if (!backend)
        return 2;
    guard_backend_t be = {.call_tool = mock_call, .self = backend};
    err_t err = {{0}};
    guard_wasm_opts_t go = {.name = o->name, .max_instances = 1};
    uint64_t t0 = wasm_now_ns();
    guard_t *g = guard_wasm_load_file(path, &go, &err);
    double load_ms = (double)(wasm_now_ns() - t0) / 1e6;
    if (!g) {
        fprintf(stderr, "flowgate guard: %s\n", err.msg);
        json_decref(backend);
        return 1;
    }
    int rc = 1;
    json_t *out = json_pack("{s:s,s:f}", "command", cmd, "load_ms", load_ms);
    json_t *jargs = NULL, *jresult = NULL, *policy = NULL;
    const char *tool = nargs > 0 ? args[0] : NULL;
    guard_ctx_t ctx;

    if (strcmp(cmd, "label-agent") == 0) {
        if (nargs != 1 || !(policy = load_json_arg(args[0], "POLICY")))
            goto usage;
    } else {
        if (nargs < 1 || (strcmp(cmd, "label-response") == 0 && nargs != 3) || nargs > 3)
            goto usage;
        if (nargs >= 2 && !(jargs = load_json_arg(args[1], "ARGS")))
            goto done;
        if (nargs == 3 && !(jresult = load_json_arg(args[2], "RESULT")))
            goto done;
        if (!jargs)
            jargs = json_object();
        if (o->policy) {
            if (!(policy = load_json_arg(o->policy, "--policy")))
                goto done;
            json_t *ar = NULL;
            double ms;
            guard_ctx_init(&ctx, o->timeout_ms, &be);
            if (!run_agent(g, &ctx, o, policy, &ar, &ms, &err)) {
                fprintf(stderr, "flowgate guard: label_agent: %s\n", err.msg);
                goto done;
            }
            json_object_set_new(out, "label_agent", ar);
            json_object_set_new(out, "label_agent_ms", json_real(ms));
        }
    }

    double total = 0, best = 0;
    for (unsigned i = 0; i < (o->repeat ? o->repeat : 1); i++) {
        guard_ctx_init(&ctx, o->timeout_ms, &be);
        json_t *res = NULL;
        double ms = 0;
        bool ok;
        if (strcmp(cmd, "label-agent") == 0) {
            ok = run_agent(g, &ctx, o, policy, &res, &ms, &err);
        } else if (strcmp(cmd, "label-resource") == 0) {
            difc_resource_t r = {0};
            difc_op_t op;
            uint64_t s = wasm_now_ns();
            ok = guard_label_resource(g, &ctx, tool, jargs, &r, &op, &err);
            ms = (double)(wasm_now_ns() - s) / 1e6;
            if (ok)
                res = json_pack("{s:o,s:s}", "resource", resource_json(&r), "operation", difc_op_name(op));
            difc_resource_free(&r);
        } else {
            difc_response_labels_t rl = {0};
            uint64_t s = wasm_now_ns();
            ok = guard_label_response(g, &ctx, tool, jargs, jresult, &rl, &err);
            ms = (double)(wasm_now_ns() - s) / 1e6;
            if (ok)
                res = response_json(&rl);
            difc_response_labels_free(&rl);
        }
        if (!ok) {
            fprintf(stderr, "flowgate guard: %s: %s\n", cmd, err.msg);
            json_object_set_new(out, "error", json_string(err.msg));
            print_json(out);
            goto done;
        }
        total += ms;
        if (i == 0 || ms < best)
            best = ms;
        json_object_set_new(out, "result", res);
    }
    if (o->raw && strcmp(cmd, "label-agent") != 0) {
        /* The same call once more, unparsed: the very input the host sent. */
        bool response = strcmp(cmd, "label-response") == 0;
        char *s = guard_wasm_tool_input(tool, jargs, jresult, response);
        uint8_t *raw = NULL;
        size_t rn = 0;
        guard_ctx_init(&ctx, o->timeout_ms, &be);
        if (s && guard_wasm_call_raw(g, &ctx, response ? "label_response" : "label_resource", (const uint8_t *)s,
                                     strlen(s), &raw, &rn, &err))
            json_object_set_new(out, "raw", json_stringn(raw ? (const char *)raw : "", rn));
        free(raw);
        free(s);
    }
    unsigned n = o->repeat ? o->repeat : 1;
    json_object_set_new(out, "calls", json_integer(n));
    json_object_set_new(out, "call_ms_mean", json_real(total / n));
    json_object_set_new(out, "call_ms_best", json_real(best));
    print_json(out);
    rc = 0;
    goto done;
usage:
    fputs(usage, stderr);
    rc = 2;
done:
    json_decref(out);
    json_decref(jargs);
    json_decref(jresult);
    json_decref(policy);
    guard_close(g);
    json_decref(backend);
    return rc;
}

int guard_cli_main(int argc, char **argv)
{
    cli_t o = {.timeout_ms = 30000, .repeat = 1};
    static const struct option opts[] = {
        {"policy", required_argument, NULL, 'p'},  {"trusted-bots", required_argument, NULL, 'b'},
        {"backend", required_argument, NULL, 'B'}, {"timeout", required_argument, NULL, 't'},
        {"name", required_argument, NULL, 'n'},    {"repeat", required_argument, NULL, 'r'},
        {"raw", no_argument, NULL, 'R'},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    /* Options may come anywhere after the command: scan argv from the
     * command on (it stands in for the program name), with getopt's state
     * fully reset (optind 0) since this may run more than once. */
    int ac = argc - 1;
    char **av = argv + 1;
    optind = 0;
    int c;
    while ((c = getopt_long(ac, av, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o.policy = optarg;
            break;
        case 'b':
            o.bots = optarg;
            break;
        case 'B':
            o.backend_json = optarg;
            break;
        case 't':
            o.timeout_ms = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            o.name = optarg;
            break;
        case 'r':
            o.repeat = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'R':
            o.raw = true;
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind >= ac) {
        fputs(usage, stderr);
        return 2;
    }
    const char *path = av[optind];
    if (strcmp(cmd, "info") == 0)
        return optind + 1 == ac ? cmd_info(path, &o) : (fputs(usage, stderr), 2);
    if (strcmp(cmd, "label-agent") == 0 || strcmp(cmd, "label-resource") == 0 || strcmp(cmd, "label-response") == 0)
        return cmd_label(cmd, path, ac - optind - 1, av + optind + 1, &o);
    fprintf(stderr, "flowgate guard: unknown command %s\n", cmd);
    fputs(usage, stderr);
    return 2;
}
