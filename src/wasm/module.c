/*
 * module.c — wasm_module_t lifetime and queries (load, free, imports,
 * exports, names). Decoding and compiling live in decode.c / compile.c.
 */
#include <stdio.h>
#include <stdlib.h>

#include "wasm/wasm_internal.h"

bool wasm_functype_eq(const wasm_functype_t *a, const wasm_functype_t *b) {
    if (a == b)
        return true;
    if (a->nparams != b->nparams || a->nresults != b->nresults)
        return false;
    for (uint32_t i = 0; i < a->nparams; i++)
        if (a->params[i] != b->params[i])
            return false;
    for (uint32_t i = 0; i < a->nresults; i++)
        if (a->results[i] != b->results[i])
            return false;
    return true;
}

const char *wasm_func_name(const wasm_module_t *m, uint32_t funcidx, char *buf, size_t n) {
    if (m && m->func_names && funcidx < m->nfuncs && m->func_names[funcidx])
        return m->func_names[funcidx];
    snprintf(buf, n, "func[%u]", funcidx);
    return buf;
}

const char *wasm_trap_kind_message(wasm_trap_kind_t kind) {
    switch (kind) {
    case WASM_TRAP_NONE: return "";
    case WASM_TRAP_UNREACHABLE: return "unreachable";
    case WASM_TRAP_MEMORY_OOB: return "out of bounds memory access";
    case WASM_TRAP_TABLE_OOB: return "out of bounds table access";
    case WASM_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_TRAP_UNDEFINED_ELEMENT: return "undefined element";
    case WASM_TRAP_UNINITIALIZED_ELEMENT: return "uninitialized element";
    case WASM_TRAP_INDIRECT_CALL_MISMATCH: return "indirect call type mismatch";
    case WASM_TRAP_NULL_REFERENCE: return "null reference";
    case WASM_TRAP_STACK_EXHAUSTED: return "call stack exhausted";
    case WASM_TRAP_HOST: return "host function failed";
    case WASM_TRAP_EXIT: return "exit";
    }
    return "trap";
}

void wasm_module_free(wasm_module_t *m) {
    if (!m)
        return;
    for (uint32_t i = 0; i < m->ntypes; i++)
        free((void *)m->types[i].params);
    free(m->types);
    free(m->type_canon);
    for (uint32_t i = 0; i < m->nimports; i++) {
        free(m->imports[i].module);
        free(m->imports[i].name);
    }
    free(m->imports);
    free(m->func_types);
    if (m->funcs) {
        for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++) {
            free(m->funcs[i].code.code);
            free(m->funcs[i].code.consts);
            free(m->funcs[i].code.init);
        }
    }
    free(m->funcs);
    free(m->tables);
    free(m->globals);
    for (uint32_t i = 0; i < m->nexports; i++)
        free(m->exports[i].name);
    free(m->exports);
    for (uint32_t i = 0; i < m->nelems; i++)
        free(m->elems[i].items);
    free(m->elems);
    free(m->datas);
    free(m->declared_funcs);
    if (m->func_names) {
        for (uint32_t i = 0; i < m->nfuncs; i++)
            free(m->func_names[i]);
        free(m->func_names);
    }
    free(m->bytes);
    free(m);
}

static wasm_module_t *load(const uint8_t *bytes, size_t len, bool plain, wasm_load_error_t *why, err_t *err);

wasm_module_t *wasm_module_load(const uint8_t *bytes, size_t len, wasm_load_error_t *why, err_t *err) {
    return load(bytes, len, false, why, err);
}

wasm_module_t *wasm_module_load_plain(const uint8_t *bytes, size_t len, wasm_load_error_t *why, err_t *err) {
    return load(bytes, len, true, why, err);
}

static wasm_module_t *load(const uint8_t *bytes, size_t len, bool plain, wasm_load_error_t *why, err_t *err) {
    wasm_load_error_t w = WASM_LOAD_OK;
    if (why)
        *why = WASM_LOAD_OK;
    wasm_module_t *m = calloc(1, sizeof *m);
    if (!m || len > UINT32_MAX) {
        free(m);
        if (why)
            *why = m ? WASM_LOAD_TOO_LARGE : WASM_LOAD_NOMEM;
        err_set(err, m ? "module larger than 4 GiB" : "out of memory");
        return NULL;
    }
    m->bytes = malloc(len ? len : 1);
    if (!m->bytes) {
        free(m);
        if (why)
            *why = WASM_LOAD_NOMEM;
        err_set(err, "out of memory");
        return NULL;
    }
    if (len)
        memcpy(m->bytes, bytes, len);
    m->len = len;
    m->plain = plain;
    if (!wasm_decode(m, &w, err)) {
        if (w == WASM_LOAD_OK)
            w = WASM_LOAD_MALFORMED;
        if (why)
            *why = w;
        wasm_module_free(m);
        return NULL;
    }
    return m;
}

static void fill_functype(const wasm_module_t *m, uint32_t typeidx, wasm_functype_t *out) {
    if (typeidx < m->ntypes)
        *out = m->types[typeidx];
    else
        memset(out, 0, sizeof *out);
}

uint32_t wasm_module_import_count(const wasm_module_t *mod) { return mod->nimports; }

void wasm_module_import(const wasm_module_t *mod, uint32_t i, wasm_import_info_t *out) {
    memset(out, 0, sizeof *out);
    if (i >= mod->nimports)
        return;
    const wimport_t *im = &mod->imports[i];
    out->module = im->module;
    out->name = im->name;
    out->kind = im->kind;
    if (im->kind == WASM_EXTERN_FUNC)
        fill_functype(mod, im->typeidx, &out->func);
}

uint32_t wasm_module_export_count(const wasm_module_t *mod) { return mod->nexports; }

void wasm_module_export(const wasm_module_t *mod, uint32_t i, wasm_export_info_t *out) {
    memset(out, 0, sizeof *out);
    if (i >= mod->nexports)
        return;
    const wexport_t *e = &mod->exports[i];
    out->name = e->name;
    out->kind = e->kind;
    if (e->kind == WASM_EXTERN_FUNC)
        fill_functype(mod, mod->func_types[e->idx], &out->func);
}

bool wasm_module_find_export(const wasm_module_t *mod, const char *name, wasm_export_info_t *out) {
    for (uint32_t i = 0; i < mod->nexports; i++)
        if (strcmp(mod->exports[i].name, name) == 0) {
            if (out)
                wasm_module_export(mod, i, out);
            return true;
        }
    return false;
}

size_t wasm_module_code_size(const wasm_module_t *mod) { return mod->code_size; }
