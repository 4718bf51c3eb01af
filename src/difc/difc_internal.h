/*
 * difc_internal.h — helpers shared by the difc sources; not public.
 */
#ifndef FLOWGATE_DIFC_INTERNAL_H
#define FLOWGATE_DIFC_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* A growable string. `oom` latches: after one failed append every later
 * append is a no-op and sbuf_take() returns NULL, so builders can append
 * freely and check once at the end. */
typedef struct sbuf {
    char *buf;
    size_t len, cap;
    bool oom;
} sbuf_t;

void sbuf_puts(sbuf_t *b, const char *s);
void sbuf_putn(sbuf_t *b, const char *s, size_t n);
void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the string (caller frees) or NULL after OOM; resets b. */
char *sbuf_take(sbuf_t *b);
void sbuf_free(sbuf_t *b);

#include <jansson.h>

/* collection.c: whether an MCP content item's text takes part in the
 * unwrap (type absent, "", "text" or unknown; not image/audio/resource). */
bool difc_content_item_is_text(const json_t *item);
/* collection.c: the item index a labelled path names under items_path, or
 * -1 when it names none. */
long difc_path_item_index(const char *path, const char *items_path);

/* text.c: s without leading and trailing ASCII white space (Go's
 * strings.TrimSpace): returns where the trimmed text starts, its length in
 * *len. */
const char *difc_trim_space(const char *s, size_t *len);
/* text.c: v's JSON type as decode errors name it ("number" for integers and
 * reals, "bool", "nothing" for NULL). */
const char *difc_json_type_name(const json_t *v);

/* filter.c: compact JSON with the shortest round-tripping reals. */
char *difc_json_dump_compact(const json_t *v);

#endif
