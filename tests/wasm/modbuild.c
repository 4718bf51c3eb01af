/* modbuild.c — see modbuild.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "modbuild.h"
#include "wasm/wasm_internal.h"

void mb_put(bytes_t *b, uint8_t v)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    b->p[b->n++] = v;
}

void mb_put_u32(bytes_t *b, uint32_t v)
{
    do {
        uint8_t byte = v & 0x7f;
        v >>= 7;
        mb_put(b, byte | (v ? 0x80 : 0));
    } while (v);
}

void mb_put_s32(bytes_t *b, int32_t v)
{
    int64_t x = v;
    for (;;) {
        uint8_t byte = x & 0x7f;
        x >>= 7;
        bool done = (x == 0 && !(byte & 0x40)) || (x == -1 && (byte & 0x40));
        mb_put(b, byte | (done ? 0 : 0x80));
        if (done)
            return;
    }
}

void mb_put_ops(bytes_t *b, const uint8_t *ops, size_t n)
{
    for (size_t i = 0; i < n; i++)
        mb_put(b, ops[i]);
}

void mb_put_bytes(bytes_t *b, const bytes_t *src) { mb_put_ops(b, src->p, src->n); }

void mb_put_section(bytes_t *mod, uint8_t id, bytes_t *body)
{
    mb_put(mod, id);
    mb_put_u32(mod, (uint32_t)body->n);
    mb_put_bytes(mod, body);
    body->n = 0;
}

void mb_put_header(bytes_t *mod)
{
    static const uint8_t header[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
    mb_put_ops(mod, header, sizeof header);
}

void mb_put_func_section(bytes_t *mod, bytes_t *sec, uint32_t n, uint32_t (*type_of)(uint32_t))
{
    mb_put_u32(sec, n);
    for (uint32_t i = 0; i < n; i++)
        mb_put_u32(sec, type_of ? type_of(i) : 0);
    mb_put_section(mod, 3, sec);
}

void mb_put_export_section(bytes_t *mod, bytes_t *sec, uint32_t n)
{
    mb_put_u32(sec, n);
    for (uint32_t i = 0; i < n; i++) {
        char name[16];
        int len = snprintf(name, sizeof name, "f%u", i);
        mb_put_u32(sec, (uint32_t)len);
        mb_put_ops(sec, (const uint8_t *)name, (size_t)len);
        mb_put(sec, 0x00), mb_put_u32(sec, i);
    }
    mb_put_section(mod, 7, sec);
}

mb_pair_t *mb_pair_load(bytes_t bin)
{
    mb_pair_t *p = calloc(1, sizeof *p);
    assert_non_null(p);
    p->bin = bin;
    err_t err = {{0}};
    wasm_load_error_t why;
    p->opt = wasm_module_load(bin.p, bin.n, &why, &err);
    if (!p->opt)
        fail_msg("load: %s", err.msg);
    p->plain = wasm_module_load_plain(bin.p, bin.n, &why, &err);
    if (!p->plain)
        fail_msg("load (plain): %s", err.msg);
    p->linker = wasm_linker_new();
    assert_non_null(p->linker);
    return p;
}

void mb_pair_free(mb_pair_t *p)
{
    wasm_linker_free(p->linker);
    wasm_module_free(p->opt);
    wasm_module_free(p->plain);
    free(p->bin.p);
    free(p);
}

wasm_instance_t *mb_instantiate(const mb_pair_t *p, const wasm_module_t *m, const wasm_limits_t *limits)
{
    err_t err = {{0}};
    wasm_inst_error_t iwhy;
    wasm_instance_t *inst = wasm_instance_new(m, p->linker, limits, &iwhy, &err);
    if (!inst)
        fail_msg("instantiate: %s", err.msg);
    return inst;
}

wasm_func_t *mb_export(wasm_instance_t *inst, uint32_t idx)
{
    char name[16];
    snprintf(name, sizeof name, "f%u", idx);
    wasm_func_t *fn = wasm_instance_export_func(inst, name);
    assert_non_null(fn);
    return fn;
}
