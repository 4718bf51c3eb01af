/*
 * difc_internal.h — helpers shared by the difc sources; not public.
 */
#ifndef FLOWGATE_DIFC_INTERNAL_H
#define FLOWGATE_DIFC_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* Messages are built in util_buf_t (latching OOM: append freely, check
 * once at util_buf_take). */
#include "util/buf.h"

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
