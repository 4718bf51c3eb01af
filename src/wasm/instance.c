/*
 * instance.c — the linker, instantiation (spec 4.5.4: import matching,
 * allocation, element then data segments in order, earlier writes persist
 * when a later segment traps), exports, calls and the memory API.
 *
 * Memories, tables and globals are refcounted objects so an instance can
 * import one from a linker (or another instance) regardless of which is
 * freed first.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/timer.h"
#include "wasm/wasm_internal.h"

/* ---- runtime objects ---- */

void wmemory_unref(wmemory_t *m) {
    if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
        free(m->data);
        free(m);
    }
}
void wtable_unref(wtable_t *t) {
    if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
        free(t->elems);
        free(t);
    }
}
void wglobal_unref(wglobal_t *g) {
    if (g && atomic_fetch_sub(&g->refs, 1) == 1)
        free(g);
}
static void func_unref(wasm_func_t *f) {
    if (f && atomic_fetch_sub(&f->refs, 1) == 1) {
        free((void *)f->own_type.params);
        free(f);
    }
}

static wmemory_t *memory_new(uint32_t pages, uint32_t decl_max, bool has_max, uint32_t cap) {
    wmemory_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    uint64_t size = (uint64_t)pages * WASM_PAGE_SIZE;
    m->data = calloc(size ? size : 1, 1);
    if (!m->data) {
        free(m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    m->size = size;
    m->pages = pages;
    m->decl_max = decl_max;
    m->has_max = has_max;
    m->max = has_max && decl_max < cap ? decl_max : cap;
    return m;
}

int32_t wmemory_grow(wmemory_t *m, uint32_t delta) {
    uint32_t old = m->pages;
    if (delta == 0)
        return (int32_t)old;
    if ((uint64_t)old + delta > m->max)
        return -1;
    uint64_t nsize = ((uint64_t)old + delta) * WASM_PAGE_SIZE;
    uint8_t *d = realloc(m->data, nsize);
    if (!d)
        return -1;
    memset(d + m->size, 0, nsize - m->size);
    m->data = d;
    m->size = nsize;
    m->pages = old + delta;
    return (int32_t)old;
}

static wtable_t *table_new(wasm_valtype_t type, uint32_t size, uint32_t decl_max, bool has_max, uint32_t cap) {
    wtable_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->elems = calloc(size ? size : 1, sizeof(wasm_ref_t));
    if (!t->elems) {
        free(t);
        return NULL;
    }
    atomic_init(&t->refs, 1);
    t->type = type;
    t->size = size;
    t->decl_max = decl_max;
    t->has_max = has_max;
    t->max = has_max && decl_max < cap ? decl_max : cap;
    return t;
}

int32_t wtable_grow(wtable_t *t, uint32_t delta, wasm_ref_t init) {
    uint32_t old = t->size;
    if ((uint64_t)old + delta > t->max)
        return -1;
    if (delta == 0)
        return (int32_t)old;
    wasm_ref_t *e = realloc(t->elems, ((size_t)old + delta) * sizeof(wasm_ref_t));
    if (!e)
        return -1;
    for (uint32_t i = 0; i < delta; i++)
        e[old + i] = init;
    t->elems = e;
    t->size = old + delta;
    return (int32_t)old;
}

/* ---- linker ---- */

typedef struct lentry {
    char *module, *name;
    wasm_externkind_t kind;
    wasm_func_t *func;
    wmemory_t *mem;
    wtable_t *table;
    wglobal_t *global;
} lentry_t;

typedef struct linst {
    char *name;
    wasm_instance_t *inst;
} linst_t;

struct wasm_linker {
    lentry_t *e;
    size_t n, cap;
    linst_t *insts;
    size_t ninsts, capinsts;
};

wasm_linker_t *wasm_linker_new(void) { return calloc(1, sizeof(wasm_linker_t)); }

void wasm_linker_free(wasm_linker_t *l) {
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->e[i].module);
        free(l->e[i].name);
        func_unref(l->e[i].func);
        wmemory_unref(l->e[i].mem);
        wtable_unref(l->e[i].table);
        wglobal_unref(l->e[i].global);
    }
    free(l->e);
    for (size_t i = 0; i < l->ninsts; i++)
        free(l->insts[i].name);
    free(l->insts);
    free(l);
}

static lentry_t *linker_add(wasm_linker_t *l, const char *module, const char *name, wasm_externkind_t kind,
                            err_t *err) {
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].module, module) == 0 && strcmp(l->e[i].name, name) == 0) {
            err_set(err, "linker: %s.%s is already defined", module, name);
            return NULL;
        }
    if (l->n == l->cap) {
        size_t c = l->cap ? l->cap * 2 : 16;
        lentry_t *e = realloc(l->e, c * sizeof *e);
        if (!e) {
            err_set(err, "out of memory");
            return NULL;
        }
        l->e = e;
        l->cap = c;
    }
    lentry_t *e = &l->e[l->n];
    memset(e, 0, sizeof *e);
    e->module = strdup(module);
    e->name = strdup(name);
    if (!e->module || !e->name) {
        free(e->module);
        free(e->name);
        err_set(err, "out of memory");
        return NULL;
    }
    e->kind = kind;
    l->n++;
    return e;
}

bool wasm_linker_define_func(wasm_linker_t *l, const char *module, const char *name, const wasm_functype_t *type,
                             wasm_host_fn_t fn, void *env, err_t *err) {
    wasm_func_t *f = calloc(1, sizeof *f);
    wasm_valtype_t *vt = malloc((type->nparams + type->nresults + 1) * sizeof *vt);
    if (!f || !vt) {
        free(f);
        free(vt);
        return err_set(err, "out of memory");
    }
    if (type->nparams)
        memcpy(vt, type->params, type->nparams * sizeof *vt);
    if (type->nresults)
        memcpy(vt + type->nparams, type->results, type->nresults * sizeof *vt);
    atomic_init(&f->refs, 1);
    f->own_type = (wasm_functype_t){vt, type->nparams, vt + type->nparams, type->nresults};
    f->type = &f->own_type;
    f->host = fn;
    f->env = env;
    lentry_t *e = linker_add(l, module, name, WASM_EXTERN_FUNC, err);
    if (!e) {
        func_unref(f);
        return false;
    }
    e->func = f;
    return true;
}

bool wasm_linker_define_memory(wasm_linker_t *l, const char *module, const char *name, uint32_t min_pages,
                               uint32_t max_pages, err_t *err) {
    if (min_pages > WASM_MAX_PAGES || (max_pages != UINT32_MAX && (max_pages > WASM_MAX_PAGES || max_pages < min_pages)))
        return err_set(err, "linker: invalid memory limits for %s.%s", module, name);
    wmemory_t *m = memory_new(min_pages, max_pages, max_pages != UINT32_MAX, WASM_MAX_PAGES);
    if (!m)
        return err_set(err, "out of memory");
    lentry_t *e = linker_add(l, module, name, WASM_EXTERN_MEMORY, err);
    if (!e) {
        wmemory_unref(m);
        return false;
    }
    e->mem = m;
    return true;
}

bool wasm_linker_define_table(wasm_linker_t *l, const char *module, const char *name, wasm_valtype_t elem,
                              uint32_t min, uint32_t max, err_t *err) {
    if (max != UINT32_MAX && max < min)
        return err_set(err, "linker: invalid table limits for %s.%s", module, name);
    wtable_t *t = table_new(elem, min, max, max != UINT32_MAX, 10000000u);
    if (!t)
        return err_set(err, "out of memory");
    lentry_t *e = linker_add(l, module, name, WASM_EXTERN_TABLE, err);
    if (!e) {
        wtable_unref(t);
        return false;
    }
    e->table = t;
    return true;
}

bool wasm_linker_define_global(wasm_linker_t *l, const char *module, const char *name, wasm_val_t value,
                               bool mutable_, err_t *err) {
    wglobal_t *g = calloc(1, sizeof *g);
    if (!g)
        return err_set(err, "out of memory");
    atomic_init(&g->refs, 1);
    g->type = value.type;
    g->mut = mutable_;
    switch (value.type) {
    case WASM_I32: g->val.u64 = value.of.f32_bits; break;
    case WASM_F32: g->val.u64 = value.of.f32_bits; break;
    case WASM_FUNCREF: case WASM_EXTERNREF: g->val.ref = value.of.ref; break;
    default: g->val.u64 = value.of.f64_bits; break;
    }
    lentry_t *e = linker_add(l, module, name, WASM_EXTERN_GLOBAL, err);
    if (!e) {
        wglobal_unref(g);
        return false;
    }
    e->global = g;
    return true;
}

bool wasm_linker_define_instance(wasm_linker_t *l, const char *module_name, wasm_instance_t *inst, err_t *err) {
    for (size_t i = 0; i < l->ninsts; i++)
        if (strcmp(l->insts[i].name, module_name) == 0) {
            l->insts[i].inst = inst;
            return true;
        }
    if (l->ninsts == l->capinsts) {
        size_t c = l->capinsts ? l->capinsts * 2 : 8;
        linst_t *n = realloc(l->insts, c * sizeof *n);
        if (!n)
            return err_set(err, "out of memory");
        l->insts = n;
        l->capinsts = c;
    }
    char *nm = strdup(module_name);
    if (!nm)
        return err_set(err, "out of memory");
    l->insts[l->ninsts++] = (linst_t){nm, inst};
    return true;
}

/* Finds module.name; fills exactly one of the out pointers per kind. */
static bool linker_lookup(const wasm_linker_t *l, const char *module, const char *name, wasm_externkind_t *kind,
                          wasm_func_t **f, wmemory_t **m, wtable_t **t, wglobal_t **g) {
    if (!l)
        return false;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->e[i].module, module) == 0 && strcmp(l->e[i].name, name) == 0) {
            *kind = l->e[i].kind;
            *f = l->e[i].func;
            *m = l->e[i].mem;
            *t = l->e[i].table;
            *g = l->e[i].global;
            return true;
        }
    for (size_t i = 0; i < l->ninsts; i++) {
        if (strcmp(l->insts[i].name, module) != 0)
            continue;
        wasm_instance_t *inst = l->insts[i].inst;
        const wasm_module_t *mod = inst->mod;
        for (uint32_t k = 0; k < mod->nexports; k++) {
            const wexport_t *e = &mod->exports[k];
            if (strcmp(e->name, name) != 0)
                continue;
            *kind = e->kind;
            *f = e->kind == WASM_EXTERN_FUNC ? inst->funcs[e->idx] : NULL;
            *m = e->kind == WASM_EXTERN_MEMORY ? inst->mem : NULL;
            *t = e->kind == WASM_EXTERN_TABLE ? inst->tables[e->idx] : NULL;
            *g = e->kind == WASM_EXTERN_GLOBAL ? inst->globals[e->idx] : NULL;
            return true;
        }
        return false;
    }
    return false;
}

/* ---- instances ---- */

static const char *kind_name(wasm_externkind_t k) {
    static const char *n[] = {"function", "table", "memory", "global"};
    return n[k & 3];
}

static slot_t const_value(const wasm_instance_t *inst, const wconst_t *c) {
    slot_t v = {0};
    switch (c->op) {
    case CE_GLOBAL: v = inst->globals[c->idx]->val; break;
    case CE_REFFUNC: v.ref = inst->funcs[c->idx]; break;
    case CE_REFNULL: v.ref = NULL; break;
    default: v.u64 = c->bits; break;
    }
    return v;
}

static bool limits_match(uint32_t have_min, bool have_has_max, uint32_t have_max, const wlimits_t *want) {
    if (have_min < want->min)
        return false;
    if (want->has_max) {
        if (!have_has_max || have_max > want->max)
            return false;
    }
    return true;
}

void wasm_instance_free(wasm_instance_t *inst) {
    if (!inst)
        return;
    const wasm_module_t *m = inst->mod;
    if (inst->funcs) {
        for (uint32_t i = 0; i < m->nfunc_imports; i++)
            if (inst->funcs[i] && inst->funcs[i]->host)
                func_unref(inst->funcs[i]);
    }
    free(inst->funcs);
    free(inst->own_funcs);
    wmemory_unref(inst->mem);
    if (inst->tables)
        for (uint32_t i = 0; i < m->ntables; i++)
            wtable_unref(inst->tables[i]);
    free(inst->tables);
    if (inst->globals)
        for (uint32_t i = 0; i < m->nglobals; i++)
            wglobal_unref(inst->globals[i]);
    free(inst->globals);
    free(inst->data_dropped);
    free(inst->elem_dropped);
    free(inst->exec.stack);
    free(inst->exec.frames);
    free(inst);
}

static wasm_instance_t *inst_fail(wasm_instance_t *inst, wasm_inst_error_t kind, wasm_inst_error_t *why) {
    if (why)
        *why = kind;
    wasm_instance_free(inst);
    return NULL;
}

/* An instantiation that traps after writing its functions into an imported
 * table must stay alive: those table entries are observable (spec 4.5.4).
 * Such instances are parked here for the life of the process. */
static pthread_mutex_t parked_mu = PTHREAD_MUTEX_INITIALIZER;
static wasm_instance_t *parked;

static wasm_instance_t *inst_trapped(wasm_instance_t *inst, wasm_inst_error_t *why) {
    if (why)
        *why = WASM_INST_TRAPPED;
    if (!inst->wrote_shared) {
        wasm_instance_free(inst);
        return NULL;
    }
    pthread_mutex_lock(&parked_mu);
    inst->parked_next = parked;
    parked = inst;
    pthread_mutex_unlock(&parked_mu);
    return NULL;
}

wasm_instance_t *wasm_instance_new(const wasm_module_t *mod, const wasm_linker_t *linker, const wasm_limits_t *limits,
                                   wasm_inst_error_t *why, err_t *err) {
    if (why)
        *why = WASM_INST_OK;
    wasm_instance_t *inst = calloc(1, sizeof *inst);
    if (!inst) {
        err_set(err, "out of memory");
        return inst_fail(NULL, WASM_INST_NOMEM, why);
    }
    inst->mod = mod;
    if (limits)
        inst->limits = *limits;
    if (!inst->limits.max_memory_pages || inst->limits.max_memory_pages > WASM_MAX_PAGES)
        inst->limits.max_memory_pages = WASM_MAX_PAGES;
    if (!inst->limits.max_table_size)
        inst->limits.max_table_size = 10000000u;
    if (!inst->limits.max_call_depth)
        inst->limits.max_call_depth = 10000;
    atomic_init(&inst->intr, 0);
    atomic_init(&inst->watching, &inst->intr);
    inst->funcs = calloc(mod->nfuncs + 1, sizeof(wasm_func_t *));
    inst->own_funcs = calloc(mod->nfuncs - mod->nfunc_imports + 1, sizeof(wasm_func_t));
    inst->tables = calloc(mod->ntables + 1, sizeof(wtable_t *));
    inst->globals = calloc(mod->nglobals + 1, sizeof(wglobal_t *));
    inst->data_dropped = calloc(mod->ndatas + 1, sizeof(bool));
    inst->elem_dropped = calloc(mod->nelems + 1, sizeof(bool));
    if (!inst->funcs || !inst->own_funcs || !inst->tables || !inst->globals || !inst->data_dropped ||
        !inst->elem_dropped) {
        err_set(err, "out of memory");
        return inst_fail(inst, WASM_INST_NOMEM, why);
    }
    /* imports */
    uint32_t fi = 0, ti = 0, gi = 0;
    for (uint32_t i = 0; i < mod->nimports; i++) {
        const wimport_t *im = &mod->imports[i];
        wasm_externkind_t kind;
        wasm_func_t *f = NULL;
        wmemory_t *m = NULL;
        wtable_t *t = NULL;
        wglobal_t *g = NULL;
        if (!linker_lookup(linker, im->module, im->name, &kind, &f, &m, &t, &g)) {
            err_set(err, "unknown import: %s.%s (%s) is not defined", im->module, im->name, kind_name(im->kind));
            return inst_fail(inst, WASM_INST_UNLINKABLE, why);
        }
        if (kind != im->kind) {
            err_set(err, "incompatible import type: %s.%s is a %s, the module imports a %s", im->module, im->name,
                    kind_name(kind), kind_name(im->kind));
            return inst_fail(inst, WASM_INST_UNLINKABLE, why);
        }
        switch (kind) {
        case WASM_EXTERN_FUNC:
            if (!wasm_functype_eq(f->type, &mod->types[im->typeidx])) {
                err_set(err, "incompatible import type: function %s.%s has another signature", im->module, im->name);
                return inst_fail(inst, WASM_INST_UNLINKABLE, why);
            }
            if (f->host)
                atomic_fetch_add(&f->refs, 1);
            inst->funcs[fi++] = f;
            break;
        case WASM_EXTERN_MEMORY:
            if (!limits_match(m->pages, m->has_max, m->decl_max, &im->lim)) {
                err_set(err, "incompatible import type: memory %s.%s limits do not match", im->module, im->name);
                return inst_fail(inst, WASM_INST_UNLINKABLE, why);
            }
            atomic_fetch_add(&m->refs, 1);
            inst->mem = m;
            break;
        case WASM_EXTERN_TABLE:
            if (t->type != im->vtype || !limits_match(t->size, t->has_max, t->decl_max, &im->lim)) {
                err_set(err, "incompatible import type: table %s.%s type or limits do not match", im->module,
                        im->name);
                return inst_fail(inst, WASM_INST_UNLINKABLE, why);
            }
            atomic_fetch_add(&t->refs, 1);
            inst->tables[ti++] = t;
            break;
        case WASM_EXTERN_GLOBAL:
            if (g->type != im->vtype || g->mut != im->mut) {
                err_set(err, "incompatible import type: global %s.%s type or mutability differ", im->module,
                        im->name);
                return inst_fail(inst, WASM_INST_UNLINKABLE, why);
            }
            atomic_fetch_add(&g->refs, 1);
            inst->globals[gi++] = g;
            break;
        }
    }
    /* functions */
    for (uint32_t i = 0; i < mod->nfuncs - mod->nfunc_imports; i++) {
        wasm_func_t *f = &inst->own_funcs[i];
        f->type = &mod->types[mod->type_canon[mod->funcs[i].typeidx]];
        f->inst = inst;
        f->code = &mod->funcs[i].code;
        inst->funcs[mod->nfunc_imports + i] = f;
    }
    /* memory */
    if (mod->nmems && !inst->mem) {
        if (mod->mem.min > inst->limits.max_memory_pages) {
            err_set(err, "memory of %u pages exceeds the limit of %u pages", mod->mem.min,
                    inst->limits.max_memory_pages);
            return inst_fail(inst, WASM_INST_LIMIT, why);
        }
        inst->mem = memory_new(mod->mem.min, mod->mem.max, mod->mem.has_max, inst->limits.max_memory_pages);
        if (!inst->mem) {
            err_set(err, "out of memory allocating %u pages", mod->mem.min);
            return inst_fail(inst, WASM_INST_NOMEM, why);
        }
    } else if (!inst->mem) {
        inst->mem = memory_new(0, 0, true, 0);
        if (!inst->mem) {
            err_set(err, "out of memory");
            return inst_fail(inst, WASM_INST_NOMEM, why);
        }
    }
    /* tables */
    for (uint32_t i = mod->ntable_imports; i < mod->ntables; i++) {
        const wtabledef_t *td = &mod->tables[i];
        if (td->lim.min > inst->limits.max_table_size) {
            err_set(err, "table of %u elements exceeds the limit of %u", td->lim.min, inst->limits.max_table_size);
            return inst_fail(inst, WASM_INST_LIMIT, why);
        }
        inst->tables[i] = table_new(td->elem, td->lim.min, td->lim.max, td->lim.has_max, inst->limits.max_table_size);
        if (!inst->tables[i]) {
            err_set(err, "out of memory");
            return inst_fail(inst, WASM_INST_NOMEM, why);
        }
    }
    /* globals */
    for (uint32_t i = mod->nglobal_imports; i < mod->nglobals; i++) {
        wglobal_t *g = calloc(1, sizeof *g);
        if (!g) {
            err_set(err, "out of memory");
            return inst_fail(inst, WASM_INST_NOMEM, why);
        }
        atomic_init(&g->refs, 1);
        g->type = mod->globals[i].type;
        g->mut = mod->globals[i].mut;
        g->val = const_value(inst, &mod->globals[i].init);
        inst->globals[i] = g;
    }
    /* element segments, then data segments, in order (spec 4.5.4) */
    for (uint32_t i = 0; i < mod->nelems; i++) {
        const welem_t *e = &mod->elems[i];
        if (e->mode == SEG_ACTIVE) {
            wtable_t *t = inst->tables[e->table];
            uint32_t off = const_value(inst, &e->offset).u32;
            if ((uint64_t)off + e->n > t->size) {
                err_set(err, "out of bounds table access: element segment %u", i);
                return inst_trapped(inst, why);
            }
            if (e->table < mod->ntable_imports && e->n)
                inst->wrote_shared = true;
            for (uint32_t k = 0; k < e->n; k++)
                t->elems[off + k] = const_value(inst, &e->items[k]).ref;
        }
        if (e->mode != SEG_PASSIVE)
            inst->elem_dropped[i] = true;
    }
    for (uint32_t i = 0; i < mod->ndatas; i++) {
        const wdata_t *d = &mod->datas[i];
        if (d->mode != SEG_ACTIVE)
            continue;
        uint32_t off = const_value(inst, &d->offset).u32;
        if ((uint64_t)off + d->len > inst->mem->size) {
            err_set(err, "out of bounds memory access: data segment %u", i);
            return inst_trapped(inst, why);
        }
        if (d->len)
            memcpy(inst->mem->data + off, d->bytes, d->len);
        inst->data_dropped[i] = true;
    }
    return inst;
}

const wasm_module_t *wasm_instance_module(const wasm_instance_t *inst) { return inst->mod; }

/* ---- exports and calls ---- */

static const wexport_t *find_export(const wasm_module_t *m, const char *name, wasm_externkind_t kind) {
    for (uint32_t i = 0; i < m->nexports; i++)
        if (m->exports[i].kind == kind && strcmp(m->exports[i].name, name) == 0)
            return &m->exports[i];
    return NULL;
}

wasm_func_t *wasm_instance_export_func(wasm_instance_t *inst, const char *name) {
    const wexport_t *e = find_export(inst->mod, name, WASM_EXTERN_FUNC);
    return e ? inst->funcs[e->idx] : NULL;
}

static void slot_to_val(wasm_valtype_t t, slot_t s, wasm_val_t *v) {
    v->type = t;
    v->of.i64 = 0;
    switch (t) {
    case WASM_I32: v->of.i32 = s.i32; break;
    case WASM_F32: v->of.f32_bits = s.u32; break;
    case WASM_FUNCREF: case WASM_EXTERNREF: v->of.ref = s.ref; break;
    default: v->of.i64 = s.i64; break;
    }
}

bool wasm_instance_export_global(wasm_instance_t *inst, const char *name, wasm_val_t *out) {
    const wexport_t *e = find_export(inst->mod, name, WASM_EXTERN_GLOBAL);
    if (!e)
        return false;
    wglobal_t *g = inst->globals[e->idx];
    slot_to_val(g->type, g->val, out);
    return true;
}

void wasm_func_type(const wasm_func_t *fn, wasm_functype_t *out) { *out = *fn->type; }

uint64_t wasm_now_ns(void) { return util_now_ns(); }

void wasm_instance_interrupt(wasm_instance_t *inst) {
    atomic_int *f = atomic_load(&inst->watching);
    atomic_store(f, 1);
}

wasm_status_t wasm_func_call(wasm_instance_t *inst, const wasm_func_t *fn, const wasm_val_t *args, uint32_t nargs,
                             wasm_val_t *results, uint32_t nresults, const wasm_call_opts_t *opts, wasm_trap_t *trap,
                             err_t *err) {
    wasm_trap_t local_trap;
    if (!trap)
        trap = &local_trap;
    memset(trap, 0, sizeof *trap);
    if (!fn) {
        err_set(err, "call: no function");
        return WASM_BAD_CALL;
    }
    const wasm_functype_t *t = fn->type;
    if (nargs != t->nparams || nresults != t->nresults) {
        err_set(err, "call: function takes %u arguments and returns %u results, got %u and room for %u", t->nparams,
                t->nresults, nargs, nresults);
        return WASM_BAD_CALL;
    }
    slot_t small[32], *slots = small;
    uint32_t n = t->nparams > t->nresults ? t->nparams : t->nresults;
    if (n > 32 && !(slots = malloc(n * sizeof(slot_t)))) {
        err_set(err, "out of memory");
        return WASM_BAD_CALL;
    }
    for (uint32_t i = 0; i < nargs; i++) {
        if (args[i].type != t->params[i]) {
            err_set(err, "call: argument %u has the wrong type", i);
            if (slots != small)
                free(slots);
            return WASM_BAD_CALL;
        }
        slots[i].u64 = 0;
        switch (args[i].type) {
        case WASM_I32: slots[i].i32 = args[i].of.i32; break;
        case WASM_F32: slots[i].u32 = args[i].of.f32_bits; break;
        case WASM_FUNCREF: case WASM_EXTERNREF: slots[i].ref = args[i].of.ref; break;
        default: slots[i].i64 = args[i].of.i64; break;
        }
    }
    atomic_int *flag = opts && opts->interrupt ? opts->interrupt : &inst->intr;
    atomic_int *prev_watch = atomic_load(&inst->watching);
    bool outer = inst->exec.active == 0;
    if (flag == &inst->intr && outer)
        atomic_store(&inst->intr, 0);
    atomic_store(&inst->watching, flag);
    uint64_t timer = 0;
    if (opts && opts->deadline_ns)
        timer = util_timer_arm(opts->deadline_ns, flag);
    wasm_status_t st = wasm_interp_call(inst, fn, slots, nargs, slots, flag, opts ? opts->fuel : 0, trap);
    util_timer_cancel(timer);
    atomic_store(&inst->watching, prev_watch);
    if (st == WASM_OK) {
        for (uint32_t i = 0; i < nresults; i++)
            slot_to_val(t->results[i], slots[i], &results[i]);
    } else if (st == WASM_TRAPPED) {
        if (trap->message[0] == 0)
            trap_set(trap, trap->kind);
        err_set(err, "wasm trap: %s%s%s", trap->message, trap->func_name[0] ? " in " : "", trap->func_name);
    } else if (st == WASM_INTERRUPTED) {
        err_set(err, "wasm call interrupted (deadline, interrupt flag or fuel)");
    }
    if (slots != small)
        free(slots);
    return st;
}

wasm_status_t wasm_instance_run_start(wasm_instance_t *inst, wasm_trap_t *trap) {
    const wasm_module_t *m = inst->mod;
    if (!m->has_start)
        return WASM_OK;
    return wasm_func_call(inst, inst->funcs[m->start], NULL, 0, NULL, 0, NULL, trap, NULL);
}

/* ---- memory ---- */

uint32_t wasm_memory_pages(const wasm_instance_t *inst) { return inst->mem ? inst->mem->pages : 0; }

int32_t wasm_memory_grow(wasm_instance_t *inst, uint32_t delta) {
    if (!inst->mem || inst->mod->nmems == 0)
        return -1;
    return wmemory_grow(inst->mem, delta);
}

bool wasm_memory_read(const wasm_instance_t *inst, uint64_t offset, void *dst, size_t len) {
    if (!inst->mem || offset > inst->mem->size || len > inst->mem->size - offset)
        return false;
    if (len)
        memcpy(dst, inst->mem->data + offset, len);
    return true;
}

bool wasm_memory_write(wasm_instance_t *inst, uint64_t offset, const void *src, size_t len) {
    if (!inst->mem || offset > inst->mem->size || len > inst->mem->size - offset)
        return false;
    if (len)
        memcpy(inst->mem->data + offset, src, len);
    return true;
}

uint8_t *wasm_memory_ptr(wasm_instance_t *inst, uint64_t offset, size_t len) {
    if (!inst->mem || offset > inst->mem->size || len > inst->mem->size - offset)
        return NULL;
    return inst->mem->data + offset;
}
