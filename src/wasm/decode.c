/*
 * decode.c — the binary format (spec chapter 5) into wasm_module_t, plus the
 * module-level validation rules (spec 3.4) that need no function bodies.
 *
 * Malformedness wins over invalidity, as in the spec where decoding precedes
 * validation: an invalid construct is remembered (first one only) and
 * decoding continues, so a later malformed byte is still reported as such.
 * Function bodies are only delimited here; compile.c decodes them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "wasm/reader.h"
#include "wasm/wasm_internal.h"

typedef struct dec {
    reader_t r;
    wasm_module_t *m;
    bool invalid;
    err_t inv;
    uint32_t nfunc_decls; /* function section count */
    bool saw_func_section, saw_code;
} dec_t;

/* Records the first validation error; decoding goes on. */
static void invalid(dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void invalid(dec_t *d, const char *fmt, ...) {
    if (d->invalid)
        return;
    d->invalid = true;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    err_set(&d->inv, "%s at byte offset %zu", msg, rd_off(&d->r));
}

static bool too_large(dec_t *d, const char *what, uint32_t n, uint32_t lim) {
    return rd_fail(&d->r, WASM_LOAD_TOO_LARGE, "%s count %u exceeds the engine limit %u", what, n, lim);
}

static void *zalloc(dec_t *d, size_t n, size_t size, bool *ok) {
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        rd_fail(&d->r, WASM_LOAD_NOMEM, "out of memory");
        *ok = false;
    }
    return p;
}

static char *dupname(const uint8_t *s, uint32_t n) {
    char *c = malloc((size_t)n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = 0;
    }
    return c;
}

static bool read_limits(dec_t *d, wlimits_t *l, bool is_mem) {
    uint8_t flag;
    if (!rd_u8(&d->r, &flag))
        return false;
    if (flag > 1) {
        d->r.p--;
        return rd_fail(&d->r, WASM_LOAD_MALFORMED, "integer too large (limits flag 0x%02x)", flag);
    }
    if (!rd_u32(&d->r, &l->min))
        return false;
    l->has_max = flag == 1;
    l->max = UINT32_MAX;
    if (l->has_max && !rd_u32(&d->r, &l->max))
        return false;
    if (is_mem) {
        if (l->min > WASM_MAX_PAGES || (l->has_max && l->max > WASM_MAX_PAGES))
            invalid(d, "memory size must be at most 65536 pages (4GiB)");
    }
    if (l->has_max && l->min > l->max)
        invalid(d, "size minimum must not be greater than maximum");
    return true;
}

static bool read_tabletype(dec_t *d, wtabledef_t *t) {
    return rd_reftype(&d->r, &t->elem) && read_limits(d, &t->lim, false);
}

static bool read_globaltype(dec_t *d, wasm_valtype_t *t, bool *mut) {
    uint8_t b;
    if (!rd_valtype(&d->r, t) || !rd_u8(&d->r, &b))
        return false;
    if (b > 1) {
        d->r.p--;
        return rd_fail(&d->r, WASM_LOAD_MALFORMED, "malformed mutability");
    }
    *mut = b == 1;
    return true;
}


/* Whether a byte starts an instruction of the 2.0 (non-SIMD) set. */
static bool known_opcode(uint8_t op) {
    return op <= 0x05 || (op >= 0x0b && op <= 0x11) || (op >= 0x1a && op <= 0x1c) || (op >= 0x20 && op <= 0x26) ||
           (op >= 0x28 && op <= 0xc4) || (op >= 0xd0 && op <= 0xd2) || op == 0xfc;
}

/* Constant expressions (spec 3.3.10): one constant instruction then end;
 * global.get only of imported immutable globals (2.0 rules). */
static bool read_const(dec_t *d, wasm_valtype_t want, wconst_t *c) {
    wasm_module_t *m = d->m;
    wasm_valtype_t stack[4];
    int n = 0;
    bool bad = false;
    for (;;) {
        uint8_t op;
        if (!rd_u8(&d->r, &op))
            return false;
        if (op == 0x0b)
            break;
        wasm_valtype_t t;
        switch (op) {
        case 0x41: {
            int32_t v;
            if (!rd_s32(&d->r, &v))
                return false;
            c->op = CE_I32;
            c->bits = (uint32_t)v;
            t = WASM_I32;
            break;
        }
        case 0x42: {
            int64_t v;
            if (!rd_s64(&d->r, &v))
                return false;
            c->op = CE_I64;
            c->bits = (uint64_t)v;
            t = WASM_I64;
            break;
        }
        case 0x43: {
            const uint8_t *b;
            if (!rd_bytes(&d->r, 4, &b))
                return false;
            uint32_t v;
            memcpy(&v, b, 4);
            c->op = CE_F32;
            c->bits = v;
            t = WASM_F32;
            break;
        }
        case 0x44: {
            const uint8_t *b;
            if (!rd_bytes(&d->r, 8, &b))
                return false;
            memcpy(&c->bits, b, 8);
            c->op = CE_F64;
            t = WASM_F64;
            break;
        }
        case 0x23: {
            uint32_t g;
            if (!rd_u32(&d->r, &g))
                return false;
            c->op = CE_GLOBAL;
            c->idx = g;
            t = VT_ANY;
            if (g >= m->nglobal_imports) {
                invalid(d, "unknown global %u", g);
                bad = true;
            } else {
                t = m->globals[g].type;
                if (m->globals[g].mut) {
                    invalid(d, "constant expression required");
                    bad = true;
                }
            }
            break;
        }
        case 0xd0: {
            if (!rd_reftype(&d->r, &t))
                return false;
            c->op = CE_REFNULL;
            c->bits = 0;
            break;
        }
        case 0xd2: {
            uint32_t f;
            if (!rd_u32(&d->r, &f))
                return false;
            c->op = CE_REFFUNC;
            c->idx = f;
            t = WASM_FUNCREF;
            if (f >= m->nfuncs) {
                invalid(d, "unknown function %u", f);
                bad = true;
            } else {
                m->declared_funcs[f] = true;
            }
            break;
        }
        default:
            if (!known_opcode(op)) {
                d->r.p--;
                return rd_fail(&d->r, WASM_LOAD_MALFORMED, "illegal opcode 0x%02x", op);
            }
            invalid(d, "constant expression required");
            /* Cannot know the immediate's length: treat as malformed if we
             * run off the section later; skip to the end byte. */
            while (d->r.p < d->r.end && *d->r.p != 0x0b)
                d->r.p++;
            continue;
        }
        if (n < 4)
            stack[n] = t;
        n++;
    }
    if (bad)
        return true;
    if (n != 1 || (stack[0] != want && stack[0] != VT_ANY))
        invalid(d, "type mismatch in constant expression");
    return true;
}

static bool sec_type(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    bool ok = true;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_TYPES)
        return too_large(d, "type", n, LIM_TYPES);
    m->types = zalloc(d, n, sizeof *m->types, &ok);
    m->type_canon = zalloc(d, n, sizeof *m->type_canon, &ok);
    if (!ok)
        return false;
    m->ntypes = n;
    for (uint32_t i = 0; i < n; i++) {
        uint8_t form;
        if (!rd_u8(&d->r, &form))
            return false;
        if (form != 0x60) {
            d->r.p--;
            return rd_fail(&d->r, WASM_LOAD_MALFORMED, "integer representation too long (function type form 0x%02x)",
                           form);
        }
        uint32_t np, nr;
        if (!rd_u32(&d->r, &np))
            return false;
        if (np > LIM_PARAMS)
            return too_large(d, "parameter", np, LIM_PARAMS);
        wasm_valtype_t *vt = zalloc(d, (size_t)np + LIM_PARAMS + 1, sizeof *vt, &ok);
        if (!ok)
            return false;
        m->types[i].params = vt;
        m->types[i].nparams = np;
        for (uint32_t k = 0; k < np; k++)
            if (!rd_valtype(&d->r, &vt[k]))
                return false;
        if (!rd_u32(&d->r, &nr))
            return false;
        if (nr > LIM_PARAMS)
            return too_large(d, "result", nr, LIM_PARAMS);
        m->types[i].results = vt + np;
        m->types[i].nresults = nr;
        for (uint32_t k = 0; k < nr; k++)
            if (!rd_valtype(&d->r, &vt[np + k]))
                return false;
        m->type_canon[i] = i;
        for (uint32_t j = 0; j < i; j++)
            if (m->type_canon[j] == j && wasm_functype_eq(&m->types[i], &m->types[j])) {
                m->type_canon[i] = j;
                break;
            }
    }
    return true;
}

static bool grow_globals(dec_t *d, uint32_t extra) {
    wasm_module_t *m = d->m;
    wglobaldef_t *g = realloc(m->globals, ((size_t)m->nglobals + extra + 1) * sizeof *g);
    if (!g)
        return rd_fail(&d->r, WASM_LOAD_NOMEM, "out of memory");
    m->globals = g;
    return true;
}

static bool grow_tables(dec_t *d, uint32_t extra) {
    wasm_module_t *m = d->m;
    wtabledef_t *t = realloc(m->tables, ((size_t)m->ntables + extra + 1) * sizeof *t);
    if (!t)
        return rd_fail(&d->r, WASM_LOAD_NOMEM, "out of memory");
    m->tables = t;
    return true;
}

static bool sec_import(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    bool ok = true;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_IMPORTS)
        return too_large(d, "import", n, LIM_IMPORTS);
    m->imports = zalloc(d, n, sizeof *m->imports, &ok);
    m->func_types = zalloc(d, n, sizeof *m->func_types, &ok);
    if (!ok || !grow_globals(d, n) || !grow_tables(d, n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        wimport_t *im = &m->imports[i];
        const uint8_t *s1, *s2;
        uint32_t l1, l2;
        uint8_t kind;
        if (!rd_name(&d->r, &s1, &l1) || !rd_name(&d->r, &s2, &l2))
            return false;
        im->module = dupname(s1, l1);
        im->name = dupname(s2, l2);
        m->nimports = i + 1;
        if (!im->module || !im->name)
            return rd_fail(&d->r, WASM_LOAD_NOMEM, "out of memory");
        if (!rd_u8(&d->r, &kind))
            return false;
        switch (kind) {
        case 0:
            im->kind = WASM_EXTERN_FUNC;
            if (!rd_u32(&d->r, &im->typeidx))
                return false;
            if (im->typeidx >= m->ntypes) {
                invalid(d, "unknown type %u", im->typeidx);
                im->typeidx = 0;
                if (m->ntypes == 0)
                    im->typeidx = UINT32_MAX;
            }
            m->func_types[m->nfunc_imports++] = im->typeidx;
            break;
        case 1: {
            im->kind = WASM_EXTERN_TABLE;
            wtabledef_t t;
            if (!read_tabletype(d, &t))
                return false;
            im->vtype = t.elem;
            im->lim = t.lim;
            m->tables[m->ntables++] = t;
            m->ntable_imports++;
            break;
        }
        case 2:
            im->kind = WASM_EXTERN_MEMORY;
            if (!read_limits(d, &im->lim, true))
                return false;
            m->mem = im->lim;
            m->nmems++;
            m->nmem_imports++;
            break;
        case 3:
            im->kind = WASM_EXTERN_GLOBAL;
            if (!read_globaltype(d, &im->vtype, &im->mut))
                return false;
            m->globals[m->nglobals].type = im->vtype;
            m->globals[m->nglobals].mut = im->mut;
            memset(&m->globals[m->nglobals].init, 0, sizeof(wconst_t));
            m->nglobals++;
            m->nglobal_imports++;
            break;
        default:
            d->r.p--;
            return rd_fail(&d->r, WASM_LOAD_MALFORMED, "malformed import kind %u", kind);
        }
    }
    m->nfuncs = m->nfunc_imports;
    return true;
}

static bool sec_function(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_FUNCS)
        return too_large(d, "function", n, LIM_FUNCS);
    uint32_t *ft = realloc(m->func_types, ((size_t)m->nfunc_imports + n + 1) * sizeof *ft);
    if (!ft)
        return rd_fail(&d->r, WASM_LOAD_NOMEM, "out of memory");
    m->func_types = ft;
    bool ok = true;
    m->funcs = zalloc(d, n, sizeof *m->funcs, &ok);
    if (!ok)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t t;
        if (!rd_u32(&d->r, &t))
            return false;
        if (t >= m->ntypes) {
            invalid(d, "unknown type %u", t);
            t = m->ntypes ? 0 : UINT32_MAX;
        }
        ft[m->nfunc_imports + i] = t;
        m->funcs[i].typeidx = t;
    }
    d->nfunc_decls = n;
    m->nfuncs = m->nfunc_imports + n;
    d->saw_func_section = true;
    return true;
}

static bool sec_table(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_TABLES)
        return too_large(d, "table", n, LIM_TABLES);
    if (!grow_tables(d, n))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_tabletype(d, &m->tables[m->ntables++]))
            return false;
    return true;
}

static bool sec_memory(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_TABLES)
        return too_large(d, "memory", n, LIM_TABLES);
    for (uint32_t i = 0; i < n; i++) {
        wlimits_t l;
        if (!read_limits(d, &l, true))
            return false;
        if (m->nmems == 0)
            m->mem = l;
        m->nmems++;
    }
    return true;
}

static bool sec_global(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_GLOBALS)
        return too_large(d, "global", n, LIM_GLOBALS);
    if (!grow_globals(d, n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        wglobaldef_t *g = &m->globals[m->nglobals];
        memset(g, 0, sizeof *g);
        if (!read_globaltype(d, &g->type, &g->mut) || !read_const(d, g->type, &g->init))
            return false;
        m->nglobals++;
    }
    return true;
}

static bool sec_export(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    bool ok = true;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_EXPORTS)
        return too_large(d, "export", n, LIM_EXPORTS);
    m->exports = zalloc(d, n, sizeof *m->exports, &ok);
    if (!ok)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        wexport_t *e = &m->exports[i];
        const uint8_t *s;
        uint32_t l;
        uint8_t kind;
        if (!rd_name(&d->r, &s, &l))
            return false;
        e->name = dupname(s, l);
        m->nexports = i + 1;
        if (!e->name)
            return rd_fail(&d->r, WASM_LOAD_NOMEM, "out of memory");
        if (!rd_u8(&d->r, &kind))
            return false;
        if (kind > 3) {
            d->r.p--;
            return rd_fail(&d->r, WASM_LOAD_MALFORMED, "malformed export kind %u", kind);
        }
        e->kind = (wasm_externkind_t)kind;
        if (!rd_u32(&d->r, &e->idx))
            return false;
        switch (e->kind) {
        case WASM_EXTERN_FUNC:
            if (e->idx >= m->nfuncs)
                invalid(d, "unknown function %u", e->idx);
            else
                m->declared_funcs[e->idx] = true;
            break;
        case WASM_EXTERN_TABLE:
            if (e->idx >= m->ntables)
                invalid(d, "unknown table %u", e->idx);
            break;
        case WASM_EXTERN_MEMORY:
            if (e->idx >= m->nmems)
                invalid(d, "unknown memory %u", e->idx);
            break;
        case WASM_EXTERN_GLOBAL:
            if (e->idx >= m->nglobals)
                invalid(d, "unknown global %u", e->idx);
            break;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(m->exports[j].name, e->name) == 0 && strlen(e->name) == l) {
                invalid(d, "duplicate export name");
                break;
            }
    }
    return true;
}

static bool sec_start(dec_t *d) {
    wasm_module_t *m = d->m;
    if (!rd_u32(&d->r, &m->start))
        return false;
    m->has_start = true;
    if (m->start >= m->nfuncs) {
        invalid(d, "unknown function %u", m->start);
        return true;
    }
    uint32_t t = m->func_types[m->start];
    if (t < m->ntypes && (m->types[t].nparams || m->types[t].nresults))
        invalid(d, "start function must have type [] -> []");
    return true;
}

static bool sec_elem(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    bool ok = true;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_ELEMS)
        return too_large(d, "element segment", n, LIM_ELEMS);
    m->elems = zalloc(d, n, sizeof *m->elems, &ok);
    if (!ok)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        welem_t *e = &m->elems[i];
        m->nelems = i + 1;
        uint32_t flags;
        if (!rd_u32(&d->r, &flags))
            return false;
        if (flags > 7) {
            return rd_fail(&d->r, WASM_LOAD_MALFORMED, "malformed elements segment kind %u", flags);
        }
        e->mode = (flags & 1) ? ((flags & 2) ? SEG_DECLARED : SEG_PASSIVE) : SEG_ACTIVE;
        e->type = WASM_FUNCREF;
        e->table = 0;
        if (e->mode == SEG_ACTIVE) {
            if ((flags & 2) && !rd_u32(&d->r, &e->table))
                return false;
            if (e->table >= m->ntables)
                invalid(d, "unknown table %u", e->table);
            if (!read_const(d, WASM_I32, &e->offset))
                return false;
        }
        bool exprs = flags & 4;
        if (flags & 3) {
            if (exprs) {
                if (!rd_reftype(&d->r, &e->type))
                    return false;
            } else {
                uint8_t kind;
                if (!rd_u8(&d->r, &kind))
                    return false;
                if (kind != 0) {
                    d->r.p--;
                    return rd_fail(&d->r, WASM_LOAD_MALFORMED, "malformed element kind 0x%02x", kind);
                }
            }
        }
        uint32_t cnt;
        if (!rd_u32(&d->r, &cnt))
            return false;
        if (cnt > LIM_ELEM_ITEMS)
            return too_large(d, "element item", cnt, LIM_ELEM_ITEMS);
        if (cnt > (size_t)(d->r.end - d->r.p))
            return rd_fail(&d->r, WASM_LOAD_MALFORMED, "unexpected end: element count %u too large", cnt);
        e->items = zalloc(d, cnt, sizeof *e->items, &ok);
        if (!ok)
            return false;
        e->n = cnt;
        for (uint32_t k = 0; k < cnt; k++) {
            if (exprs) {
                if (!read_const(d, e->type, &e->items[k]))
                    return false;
            } else {
                uint32_t f;
                if (!rd_u32(&d->r, &f))
                    return false;
                e->items[k].op = CE_REFFUNC;
                e->items[k].idx = f;
                if (f >= m->nfuncs)
                    invalid(d, "unknown function %u", f);
                else
                    m->declared_funcs[f] = true;
            }
        }
        if (e->mode == SEG_ACTIVE && e->table < m->ntables && m->tables[e->table].elem != e->type)
            invalid(d, "type mismatch: element segment type differs from table type");
    }
    return true;
}

static bool sec_code(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n != d->nfunc_decls)
        return rd_fail(&d->r, WASM_LOAD_MALFORMED, "function and code section have inconsistent lengths");
    d->saw_code = true;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t size;
        const uint8_t *b;
        if (!rd_u32(&d->r, &size))
            return false;
        uint32_t off = (uint32_t)rd_off(&d->r);
        if (!rd_bytes(&d->r, size, &b))
            return false;
        m->funcs[i].body = b;
        m->funcs[i].body_len = size;
        m->funcs[i].body_off = off;
        m->code_size += size;
    }
    return true;
}

static bool sec_data(dec_t *d) {
    wasm_module_t *m = d->m;
    uint32_t n;
    bool ok = true;
    if (!rd_u32(&d->r, &n))
        return false;
    if (n > LIM_DATAS)
        return too_large(d, "data segment", n, LIM_DATAS);
    if (m->has_datacount && n != m->datacount)
        return rd_fail(&d->r, WASM_LOAD_MALFORMED, "data count and data section have inconsistent lengths");
    m->datas = zalloc(d, n, sizeof *m->datas, &ok);
    if (!ok)
        return false;
    for (uint32_t i = 0; i < n; i++) {
        wdata_t *s = &m->datas[i];
        m->ndatas = i + 1;
        uint32_t flags;
        if (!rd_u32(&d->r, &flags))
            return false;
        if (flags > 2)
            return rd_fail(&d->r, WASM_LOAD_MALFORMED, "malformed data segment kind %u", flags);
        s->mode = flags == 1 ? SEG_PASSIVE : SEG_ACTIVE;
        if (flags == 2 && !rd_u32(&d->r, &s->mem))
            return false;
        if (s->mode == SEG_ACTIVE) {
            if (s->mem >= m->nmems)
                invalid(d, "unknown memory %u", s->mem);
            if (!read_const(d, WASM_I32, &s->offset))
                return false;
        }
        if (!rd_u32(&d->r, &s->len) || !rd_bytes(&d->r, s->len, &s->bytes))
            return false;
    }
    return true;
}

static void parse_names(wasm_module_t *m, const uint8_t *p, const uint8_t *end) {
    reader_t r = {.base = m->bytes, .p = p, .end = end};
    err_t e;
    wasm_load_error_t w = WASM_LOAD_OK;
    r.err = &e;
    r.why = &w;
    while (r.p < r.end) {
        uint8_t id;
        uint32_t size;
        const uint8_t *sub;
        if (!rd_u8(&r, &id) || !rd_u32(&r, &size) || !rd_bytes(&r, size, &sub))
            return;
        if (id != 1)
            continue;
        reader_t s = {.base = m->bytes, .p = sub, .end = sub + size, .err = &e, .why = &w};
        uint32_t n;
        if (!rd_u32(&s, &n))
            return;
        if (!m->func_names && m->nfuncs)
            m->func_names = calloc(m->nfuncs, sizeof(char *));
        if (!m->func_names)
            return;
        for (uint32_t i = 0; i < n; i++) {
            uint32_t idx, l;
            const uint8_t *nm;
            if (!rd_u32(&s, &idx) || !rd_name(&s, &nm, &l))
                return;
            if (idx < m->nfuncs && !m->func_names[idx])
                m->func_names[idx] = dupname(nm, l);
        }
    }
}

/* Section order rank (spec 5.5.2; datacount sits between element and code). */
static int rank(uint8_t id) {
    static const int r[13] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 10};
    return r[id];
}

bool wasm_decode(wasm_module_t *m, wasm_load_error_t *why, err_t *err) {
    dec_t d = {.m = m};
    d.r = (reader_t){.base = m->bytes, .p = m->bytes, .end = m->bytes + m->len, .why = why, .err = err};
    reader_t *r = &d.r;
    const uint8_t *b;
    if (!rd_bytes(r, 4, &b))
        return false;
    if (memcmp(b, "\0asm", 4) != 0) {
        r->p = m->bytes;
        return rd_fail(r, WASM_LOAD_MALFORMED, "magic header not detected");
    }
    if (!rd_bytes(r, 4, &b))
        return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end (version)");
    if (memcmp(b, "\1\0\0\0", 4) != 0) {
        r->p -= 4;
        return rd_fail(r, WASM_LOAD_MALFORMED, "unknown binary version");
    }
    int last = 0;
    bool declared_alloced = false;
    while (r->p < r->end) {
        uint8_t id;
        uint32_t size;
        if (!rd_u8(r, &id))
            return false;
        if (id > 12) {
            r->p--;
            return rd_fail(r, WASM_LOAD_MALFORMED, "malformed section id %u", id);
        }
        if (!rd_u32(r, &size))
            return false;
        if (size > (size_t)(r->end - r->p))
            return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected end: section size %u runs past the end", size);
        const uint8_t *send = r->p + size;
        if (id != 0) {
            if (rank(id) <= last) {
                r->p -= 1;
                return rd_fail(r, WASM_LOAD_MALFORMED, "unexpected content after last section (section %u out of order)", id);
            }
            last = rank(id);
        }
        /* declared_funcs is needed from the global section on. */
        if (id >= 6 && !declared_alloced) {
            m->declared_funcs = calloc(m->nfuncs + 1, sizeof(bool));
            if (!m->declared_funcs)
                return rd_fail(r, WASM_LOAD_NOMEM, "out of memory");
            declared_alloced = true;
        }
        const uint8_t *saved_end = r->end;
        r->end = send;
        bool ok = true;
        switch (id) {
        case 0: {
            const uint8_t *nm;
            uint32_t l;
            if (!rd_name(r, &nm, &l))
                return false;
            if (l == 4 && memcmp(nm, "name", 4) == 0 && declared_alloced)
                parse_names(m, r->p, send);
            r->p = send;
            break;
        }
        case 1: ok = sec_type(&d); break;
        case 2: ok = sec_import(&d); break;
        case 3: ok = sec_function(&d); break;
        case 4: ok = sec_table(&d); break;
        case 5: ok = sec_memory(&d); break;
        case 6: ok = sec_global(&d); break;
        case 7: ok = sec_export(&d); break;
        case 8: ok = sec_start(&d); break;
        case 9: ok = sec_elem(&d); break;
        case 10: ok = sec_code(&d); break;
        case 11: ok = sec_data(&d); break;
        case 12:
            ok = rd_u32(r, &m->datacount);
            m->has_datacount = true;
            break;
        }
        if (!ok)
            return false;
        if (r->p != send)
            return rd_fail(r, WASM_LOAD_MALFORMED, "section size mismatch (section %u)", id);
        r->end = saved_end;
    }
    if (!declared_alloced) {
        m->declared_funcs = calloc(m->nfuncs + 1, sizeof(bool));
        if (!m->declared_funcs)
            return rd_fail(r, WASM_LOAD_NOMEM, "out of memory");
    }
    if (m->nmems > 1)
        invalid(&d, "multiple memories");
    if (d.nfunc_decls && !d.saw_code)
        return rd_fail(r, WASM_LOAD_MALFORMED, "function and code section have inconsistent lengths");
    if (m->has_datacount && m->datacount != m->ndatas)
        return rd_fail(r, WASM_LOAD_MALFORMED, "data count and data section have inconsistent lengths");
    /* Compile function bodies: malformed bodies beat earlier invalidity. */
    wasm_load_error_t fwhy = WASM_LOAD_OK;
    err_t ferr;
    bool finvalid = false;
    for (uint32_t i = 0; i < m->nfuncs - m->nfunc_imports; i++) {
        wasm_load_error_t w = WASM_LOAD_OK;
        err_t e;
        if (m->funcs[i].typeidx >= m->ntypes)
            continue; /* already invalid */
        if (!wasm_compile_func(m, i, &w, &e)) {
            if (w != WASM_LOAD_INVALID) {
                if (why)
                    *why = w;
                if (err)
                    *err = e;
                return false;
            }
            if (!finvalid) {
                finvalid = true;
                fwhy = w;
                ferr = e;
            }
        }
    }
    if (d.invalid) {
        if (why)
            *why = WASM_LOAD_INVALID;
        if (err)
            *err = d.inv;
        return false;
    }
    if (finvalid) {
        if (why)
            *why = fwhy;
        if (err)
            *err = ferr;
        return false;
    }
    return true;
}
