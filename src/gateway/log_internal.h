/*
 * log_internal.h — state shared by log.c, log_md.c and log_rpc.c. Private to
 * src/gateway. Everything in gw_logstate is guarded by gw_logstate.lock.
 */
#ifndef FLOWGATE_GATEWAY_LOG_INTERNAL_H
#define FLOWGATE_GATEWAY_LOG_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>
#include <jansson.h>

#include "gateway/log.h"

#define GW_LOG_MAX_SERVERS 256

struct gw_logstate {
    pthread_mutex_t lock;
    bool open;
    char dir[3072];
    FILE *main, *md, *jsonl;
    bool md_started;
    struct {
        char *name;
        FILE *f;
    } servers[GW_LOG_MAX_SERVERS];
    int nservers;
    json_t *tools; /* {"<server>":[{name,description}]} */
    json_t *url_domains; /* {"<server>":{"<host>":true}}: sets, sorted when written */
};
extern struct gw_logstate gw_logstate;

/* Opens <dir>/<name> with fopen `mode` and mode 0644. Caller holds lock. */
FILE *gw_log_fopen(const char *name, const char *mode);
/* mkdir -p. */
bool gw_mkdir_p(const char *path, mode_t mode);
/* gateway.md: one entry (takes the lock), and the closing tag (lock held). */
void gw_md_entry(gw_level_t level, const char *category, const char *msg);
void gw_md_raw(const char *text);
void gw_md_finish_locked(void);
void gw_log_tools_write(void);
/* Writes `doc` (borrowed) as 2-space-indented JSON with sorted keys to
 * <dir>/<name> through <name>.tmp + rename, the file having `mode`
 * whatever the umask. False (nothing replaced) on any failure. Caller holds
 * the lock. */
bool gw_log_write_json_locked(const char *name, json_t *doc, bool newline, mode_t mode);
/* A new array of the keys of object `set`, sorted bytewise (strcmp); NULL
 * when out of memory. Borrows set. */
json_t *gw_json_sorted_keys(json_t *set);

#endif
