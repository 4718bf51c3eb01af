/*
 * coremark — a CoreMark-like mix (our own code, same idea as EEMBC's):
 * a linked list (find, reverse, merge sort), 16-bit matrix arithmetic, a
 * number-recognising state machine over a text buffer, each result folded
 * into a CRC-16. Exercises pointer chasing, small-integer arithmetic and
 * unpredictable branches in one run.
 *
 * Built to wasm32 (export `run`) and natively (-DBENCH_ENTRY=...).
 */
#include <stddef.h>
#include <stdint.h>

#ifndef BENCH_ENTRY
#define BENCH_ENTRY run
#endif

#define ITERATIONS 300
#define LIST_N 400
#define MAT_N 24
#define TEXT_LEN 2000

typedef struct node {
    struct node *next;
    int16_t value;
    int16_t index;
} node_t;

static node_t cm_nodes[LIST_N];
static int16_t cm_ma[MAT_N * MAT_N], cm_mb[MAT_N * MAT_N];
static int32_t cm_mc[MAT_N * MAT_N];
static char cm_text[TEXT_LEN + 1];

static uint16_t crc16(uint16_t crc, uint16_t data)
{
    for (int i = 0; i < 16; i++) {
        uint16_t bit = (uint16_t)((crc ^ data) & 1);
        data >>= 1;
        crc >>= 1;
        if (bit)
            crc ^= 0xa001;
    }
    return crc;
}

/* ---- list ---- */

static node_t *list_build(uint32_t seed)
{
    for (int i = 0; i < LIST_N; i++) {
        seed = seed * 1103515245u + 12345u;
        cm_nodes[i].value = (int16_t)(seed >> 16);
        cm_nodes[i].index = (int16_t)i;
        cm_nodes[i].next = i + 1 < LIST_N ? &cm_nodes[i + 1] : NULL;
    }
    return &cm_nodes[0];
}

static node_t *list_reverse(node_t *l)
{
    node_t *prev = NULL;
    while (l) {
        node_t *next = l->next;
        l->next = prev;
        prev = l;
        l = next;
    }
    return prev;
}

static node_t *list_find(node_t *l, int16_t value)
{
    while (l && l->value != value)
        l = l->next;
    return l;
}

static int cmp_value(const node_t *a, const node_t *b)
{
    return (a->value > b->value) - (a->value < b->value);
}

static int cmp_index(const node_t *a, const node_t *b)
{
    return a->index - b->index;
}

/* Bottom-up merge sort of a singly linked list (no recursion). */
static node_t *list_sort(node_t *list, int (*cmp)(const node_t *, const node_t *))
{
    for (int insize = 1;; insize *= 2) {
        node_t *p = list, *tail = NULL;
        list = NULL;
        int merges = 0;
        while (p) {
            merges++;
            node_t *q = p;
            int psize = 0;
            for (int i = 0; i < insize && q; i++, q = q->next)
                psize++;
            int qsize = insize;
            while (psize > 0 || (qsize > 0 && q)) {
                node_t *e;
                if (psize == 0)
                    e = q, q = q->next, qsize--;
                else if (qsize == 0 || !q || cmp(p, q) <= 0)
                    e = p, p = p->next, psize--;
                else
                    e = q, q = q->next, qsize--;
                if (tail)
                    tail->next = e;
                else
                    list = e;
                tail = e;
            }
            p = q;
        }
        tail->next = NULL;
        if (merges <= 1)
            return list;
    }
}

static uint16_t bench_list(uint32_t seed, uint16_t crc)
{
    node_t *l = list_build(seed);
    for (int i = 0; i < 8; i++) {
        node_t *f = list_find(l, cm_nodes[(seed + (uint32_t)i * 37) % LIST_N].value);
        crc = crc16(crc, f ? (uint16_t)f->index : 0xffff);
        l = list_reverse(l);
    }
    l = list_sort(l, cmp_value);
    crc = crc16(crc, (uint16_t)l->value);
    for (node_t *n = l; n; n = n->next)
        crc = crc16(crc, (uint16_t)n->index);
    l = list_sort(l, cmp_index);
    crc = crc16(crc, (uint16_t)l->next->index);
    return crc;
}

/* ---- matrix ---- */

static uint16_t bench_matrix(uint32_t seed, uint16_t crc)
{
    for (int i = 0; i < MAT_N * MAT_N; i++) {
        seed = seed * 1664525u + 1013904223u;
        cm_ma[i] = (int16_t)((seed >> 20) & 0xff) - 128;
        cm_mb[i] = (int16_t)((seed >> 8) & 0x7f);
    }
    int16_t k = (int16_t)(seed & 0xf);
    for (int i = 0; i < MAT_N * MAT_N; i++)
        cm_ma[i] = (int16_t)(cm_ma[i] + k);
    for (int i = 0; i < MAT_N; i++)
        for (int j = 0; j < MAT_N; j++) {
            int32_t s = 0;
            for (int x = 0; x < MAT_N; x++)
                s += (int32_t)cm_ma[i * MAT_N + x] * cm_mb[x * MAT_N + j];
            cm_mc[i * MAT_N + j] = s;
        }
    int32_t acc = 0;
    for (int i = 0; i < MAT_N * MAT_N; i++) {
        int32_t bits = (cm_mc[i] >> 2) & 0xf;
        acc += bits > 7 ? cm_mc[i] : -bits;
    }
    crc = crc16(crc, (uint16_t)acc);
    return crc16(crc, (uint16_t)(acc >> 16));
}

/* ---- state machine ---- */

enum { S_START, S_INT, S_FRAC, S_EXP_SIGN, S_EXP, S_INVALID, S_COUNT };

static void text_build(uint32_t seed)
{
    static const char *const words[] = {"5012", "1234", "-874", "+122", "35.54400", ".1234500", "-110.700",
                                        "+0.64400", "5.500e+3", "-.123e-2", "-87e+832", "+0.6e-12",
                                        "T0.3e-1F", "-T.T++Tq", "1T3.4e4z", "34.0e-T^"};
    size_t n = 0;
    while (n + 10 < TEXT_LEN) {
        seed = seed * 69069u + 1u;
        const char *w = words[(seed >> 16) & 15];
        while (*w)
            cm_text[n++] = *w++;
        cm_text[n++] = ',';
    }
    cm_text[n] = '\0';
}

static uint16_t bench_state(uint16_t crc)
{
    uint32_t finals[S_COUNT] = {0}, transitions = 0;
    const char *p = cm_text;
    while (*p) {
        int state = S_START;
        for (; *p && *p != ','; p++) {
            char c = *p;
            int digit = c >= '0' && c <= '9';
            int next = state;
            switch (state) {
            case S_START:
                next = digit || c == '+' || c == '-' ? S_INT : c == '.' ? S_FRAC : S_INVALID;
                break;
            case S_INT:
                next = digit ? S_INT : c == '.' ? S_FRAC : c == 'e' || c == 'E' ? S_EXP_SIGN : S_INVALID;
                break;
            case S_FRAC:
                next = digit ? S_FRAC : c == 'e' || c == 'E' ? S_EXP_SIGN : S_INVALID;
                break;
            case S_EXP_SIGN:
                next = c == '+' || c == '-' || digit ? S_EXP : S_INVALID;
                break;
            case S_EXP:
                next = digit ? S_EXP : S_INVALID;
                break;
            default:
                break;
            }
            transitions += next != state;
            state = next;
        }
        finals[state]++;
        if (*p == ',')
            p++;
    }
    for (int i = 0; i < S_COUNT; i++)
        crc = crc16(crc, (uint16_t)finals[i]);
    return crc16(crc, (uint16_t)transitions);
}

uint64_t BENCH_ENTRY(void)
{
    uint16_t crc = 0;
    uint64_t mix = 0;
    for (uint32_t it = 0; it < ITERATIONS; it++) {
        text_build(it * 7919u + 1);
        crc = bench_list(it * 2654435761u, crc);
        crc = bench_matrix(it * 40503u + 3, crc);
        crc = bench_state(crc);
        mix = mix * 31 + crc;
    }
    return mix;
}
