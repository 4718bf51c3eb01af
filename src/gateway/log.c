/*
 * log.c — mcp-gateway.log, <server>.log, debug lines, tools.json and
 * observed-url-domains.json (spec: gateway §5.1, §5.2). gateway.md and rpc-messages.jsonl live in
 * log_md.c and log_rpc.c; they share the lock and the directory declared in
 * log_internal.h.
 */
#include "gateway/log.h"
#include "gateway/log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct gw_logstate gw_logstate = {.lock = PTHREAD_MUTEX_INITIALIZER};

static const char *level_name(gw_level_t l)
{
    switch (l) {
    case GW_LOG_INFO: return "INFO";
    case GW_LOG_WARN: return "WARN";
    case GW_LOG_ERROR: return "ERROR";
    default: return "DEBUG";
    }
}

void gw_log_timestamp(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, n, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

bool gw_mkdir_p(const char *path, mode_t mode)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof tmp)
        return false;
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, mode) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    if (mkdir(tmp, mode) != 0 && errno != EEXIST)
        return false;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode);
}

FILE *gw_log_fopen(const char *name, const char *mode)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%.900s", gw_logstate.dir, name);
    FILE *f = fopen(path, mode);
    if (f)
        fchmod(fileno(f), 0644);
    return f;
}

/* Writes one finished line and flushes it to the kernel, so a crash of the
 * gateway never loses a line it logged. Upstream also fsyncs every line; we
 * do not: that only guards against an OS crash, and it serialised every
 * tools/call behind a disk flush under this lock. Caller holds the lock. */
static void put_line(FILE *f, const char *line)
{
    if (!f)
        return;
    fputs(line, f);
    fputc('\n', f);
    fflush(f);
}

static void url_domains_write_locked(void);

bool gw_log_open(const char *dir, err_t *err)
{
    return gw_log_open_set(dir, GW_LOGS_GATEWAY, err);
}

bool gw_log_open_set(const char *dir, gw_log_set_t set, err_t *err)
{
    gw_log_close();
    if (!gw_mkdir_p(dir, 0755))
        return err_set(err, "failed to create log directory %s: %s", dir, strerror(errno));
    pthread_mutex_lock(&gw_logstate.lock);
    snprintf(gw_logstate.dir, sizeof gw_logstate.dir, "%s", dir);
    gw_logstate.open = true;
    gw_logstate.main = gw_log_fopen(set == GW_LOGS_PROXY ? "proxy.log" : "mcp-gateway.log", "a");
    gw_logstate.md = gw_log_fopen("gateway.md", "w");
    gw_logstate.md_started = false;
    gw_logstate.jsonl = gw_log_fopen("rpc-messages.jsonl", "a");
    gw_logstate.tools = set == GW_LOGS_PROXY ? NULL : json_object();
    /* observed-url-domains.json exists ({}) from the start even when the
     * audit is off, so a reader can always open it (spec §5.1). */
    gw_logstate.url_domains = set == GW_LOGS_PROXY ? NULL : json_object();
    if (gw_logstate.url_domains)
        url_domains_write_locked();
    pthread_mutex_unlock(&gw_logstate.lock);
    if (set == GW_LOGS_GATEWAY)
        gw_log_tools_write();
    return true;
}

void gw_log_close(void)
{
    pthread_mutex_lock(&gw_logstate.lock);
    if (gw_logstate.open) {
        gw_md_finish_locked();
        if (gw_logstate.main)
            fclose(gw_logstate.main);
        if (gw_logstate.md)
            fclose(gw_logstate.md);
        if (gw_logstate.jsonl)
            fclose(gw_logstate.jsonl);
        for (int i = 0; i < gw_logstate.nservers; i++) {
            if (gw_logstate.servers[i].f)
                fclose(gw_logstate.servers[i].f);
            free(gw_logstate.servers[i].name);
        }
        json_decref(gw_logstate.tools);
        json_decref(gw_logstate.url_domains);
    }
    gw_logstate.main = gw_logstate.md = gw_logstate.jsonl = NULL;
    gw_logstate.nservers = 0;
    gw_logstate.tools = NULL;
    gw_logstate.url_domains = NULL;
    gw_logstate.open = false;
    gw_logstate.dir[0] = 0;
    pthread_mutex_unlock(&gw_logstate.lock);
}

const char *gw_log_dir(void)
{
    return gw_logstate.open ? gw_logstate.dir : NULL;
}

/* Formats "[ts] [LEVEL] [category] " + message into a malloc'd string. */
static char *format_line(gw_level_t level, const char *category, const char *prefix,
                         const char *fmt, va_list ap)
{
    char ts[40];
    gw_log_timestamp(ts, sizeof ts);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap) < 0)
        return NULL;
    char *line = NULL;
    int r = asprintf(&line, "[%s] [%s] [%s] %s%s", ts, level_name(level), category,
                     prefix ? prefix : "", msg);
    free(msg);
    return r < 0 ? NULL : line;
}

static void emit_main(const char *line)
{
    if (gw_logstate.main)
        put_line(gw_logstate.main, line);
    else
        fprintf(stderr, "%s\n", line);
}

void gw_logv(gw_level_t level, const char *category, const char *fmt, va_list ap)
{
    char *line = format_line(level, category, NULL, fmt, ap);
    if (!line)
        return;
    pthread_mutex_lock(&gw_logstate.lock);
    emit_main(line);
    pthread_mutex_unlock(&gw_logstate.lock);
    free(line);
}

void gw_log(gw_level_t level, const char *category, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    gw_logv(level, category, fmt, ap);
    va_end(ap);
}

void gw_log_md(gw_level_t level, const char *category, const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    gw_logv(level, category, fmt, ap);
    char *msg = NULL;
    if (vasprintf(&msg, fmt, ap2) >= 0) {
        gw_md_entry(level, category, msg);
        free(msg);
    }
    va_end(ap2);
    va_end(ap);
}

static FILE *server_file_locked(const char *server)
{
    for (int i = 0; i < gw_logstate.nservers; i++)
        if (strcmp(gw_logstate.servers[i].name, server) == 0)
            return gw_logstate.servers[i].f;
    if (!gw_logstate.open || gw_logstate.nservers >= GW_LOG_MAX_SERVERS)
        return NULL;
    /* Server ids come from the config; refuse anything that would escape
     * the log directory. */
    if (strchr(server, '/') || strcmp(server, "..") == 0 || strcmp(server, ".") == 0)
        return NULL;
    char name[300];
    snprintf(name, sizeof name, "%s.log", server);
    char *dup = strdup(server);
    if (!dup)
        return NULL;
    FILE *f = gw_log_fopen(name, "a");
    gw_logstate.servers[gw_logstate.nservers].name = dup;
    gw_logstate.servers[gw_logstate.nservers].f = f;
    gw_logstate.nservers++;
    return f;
}

void gw_log_server(const char *server, gw_level_t level, const char *category,
                   const char *fmt, ...)
{
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    char *line = format_line(level, category, NULL, fmt, ap);
    char prefix[300];
    snprintf(prefix, sizeof prefix, "[%s] ", server);
    char *mline = format_line(level, category, prefix, fmt, ap2);
    va_end(ap2);
    va_end(ap);
    pthread_mutex_lock(&gw_logstate.lock);
    FILE *f = server_file_locked(server);
    if (f && line)
        put_line(f, line);
    if (mline)
        emit_main(mline);
    pthread_mutex_unlock(&gw_logstate.lock);
    free(line);
    free(mline);
}

/* ---- debug namespaces ---------------------------------------------------- */

static char *debug_patterns;
static pthread_mutex_t debug_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char ns[48];
    struct timespec last;
} debug_last[64];

/* Glob with '*' only, as the debug library does. */
static bool glob_match(const char *p, const char *s)
{
    if (*p == 0)
        return *s == 0;
    if (*p == '*') {
        for (const char *t = s;; t++) {
            if (glob_match(p + 1, t))
                return true;
            if (*t == 0)
                return false;
        }
    }
    return *s == *p && glob_match(p + 1, s + 1);
}

bool gw_debug_pattern_match(const char *patterns, const char *ns)
{
    if (!patterns || !*patterns)
        return false;
    bool included = false;
    const char *p = patterns;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char pat[128];
        while (len > 0 && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len > 0 && len < sizeof pat) {
            memcpy(pat, p, len);
            pat[len] = 0;
            if (pat[0] == '-') {
                if (glob_match(pat + 1, ns))
                    return false; /* exclusions take precedence */
            } else if (glob_match(pat, ns)) {
                included = true;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    return included;
}

void gw_debug_set_patterns(const char *patterns)
{
    if (!patterns)
        patterns = getenv("DEBUG");
    pthread_mutex_lock(&debug_lock);
    free(debug_patterns);
    debug_patterns = patterns && *patterns ? strdup(patterns) : NULL;
    pthread_mutex_unlock(&debug_lock);
}

bool gw_debug_enabled(const char *ns)
{
    pthread_mutex_lock(&debug_lock);
    bool on = gw_debug_pattern_match(debug_patterns, ns);
    pthread_mutex_unlock(&debug_lock);
    return on;
}

void gw_debug(const char *ns, const char *fmt, ...)
{
    if (!gw_debug_enabled(ns))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *msg = NULL;
    int r = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (r < 0)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long delta_ms = 0;
    pthread_mutex_lock(&debug_lock);
    for (size_t i = 0; i < sizeof debug_last / sizeof debug_last[0]; i++) {
        if (debug_last[i].ns[0] == 0 || strcmp(debug_last[i].ns, ns) == 0) {
            if (debug_last[i].ns[0])
                delta_ms = (now.tv_sec - debug_last[i].last.tv_sec) * 1000 +
                           (now.tv_nsec - debug_last[i].last.tv_nsec) / 1000000;
            snprintf(debug_last[i].ns, sizeof debug_last[i].ns, "%s", ns);
            debug_last[i].last = now;
            break;
        }
    }
    fprintf(stderr, "%s %s +%ldms\n", ns, msg, delta_ms);
    pthread_mutex_unlock(&debug_lock);
    gw_log(GW_LOG_DEBUG, ns, "%s", msg);
    free(msg);
}

/* ---- JSON documents rewritten whole -------------------------------------- */

static bool write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        data += w;
        len -= (size_t)w;
    }
    return true;
}

bool gw_log_write_json_locked(const char *name, json_t *doc, bool newline, mode_t mode)
{
    if (!gw_logstate.open || !doc)
        return false;
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (!text)
        return false;
    char tmp[4200], path[4200];
    snprintf(tmp, sizeof tmp, "%s/%.200s.tmp", gw_logstate.dir, name);
    snprintf(path, sizeof path, "%s/%.200s", gw_logstate.dir, name);
    /* tmp file + rename so a reader never sees half a document; fchmod
     * because the umask (or a tmp file left by a crash) must not decide
     * the mode. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    bool ok = fd >= 0 && fchmod(fd, mode) == 0 && write_all(fd, text, strlen(text)) &&
              (!newline || write_all(fd, "\n", 1));
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (fd >= 0 && (!ok || rename(tmp, path) != 0)) {
        unlink(tmp);
        ok = false;
    }
    free(text);
    return ok;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *gw_json_sorted_keys(json_t *set)
{
    size_t n = json_object_size(set);
    const char **keys = malloc((n ? n : 1) * sizeof *keys);
    json_t *out = json_array();
    if (!keys || !out) {
        free(keys);
        json_decref(out);
        return NULL;
    }
    size_t i = 0;
    const char *k;
    json_t *x;
    json_object_foreach(set, k, x) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 0; i < n; i++)
        json_array_append_new(out, json_string(keys[i]));
    free(keys);
    return out;
}

/* ---- tools.json ---------------------------------------------------------- */

void gw_log_tools_write(void)
{
    pthread_mutex_lock(&gw_logstate.lock);
    if (gw_logstate.open && gw_logstate.tools) {
        json_t *doc = json_pack("{s:O}", "servers", gw_logstate.tools);
        gw_log_write_json_locked("tools.json", doc, true, 0644);
        json_decref(doc);
    }
    pthread_mutex_unlock(&gw_logstate.lock);
}

/* ---- observed-url-domains.json ------------------------------------------- */

/* {"<server>":["sorted","hosts"]}, mode 0600 and no trailing newline, as
 * upstream's logger writes it (spec §5.1). Caller holds the lock. */
static void url_domains_write_locked(void)
{
    json_t *doc = json_object();
    const char *server;
    json_t *set;
    json_object_foreach(gw_logstate.url_domains, server, set) {
        json_t *list = gw_json_sorted_keys(set);
        if (list)
            json_object_set_new(doc, server, list);
    }
    if (!gw_log_write_json_locked(GW_OBSERVED_URL_DOMAINS_FILE, doc, false, 0600))
        fprintf(stderr, "WARNING: Failed to write %s in %s\n", GW_OBSERVED_URL_DOMAINS_FILE, gw_logstate.dir);
    json_decref(doc);
}

void gw_log_url_domains(const char *server, json_t *domains)
{
    if (!server || !*server || json_array_size(domains) == 0)
        return;
    pthread_mutex_lock(&gw_logstate.lock);
    json_t *all = gw_logstate.url_domains;
    json_t *set = all ? json_object_get(all, server) : NULL;
    if (all && !set) {
        set = json_object();
        json_object_set_new(all, server, set);
    }
    bool changed = false;
    size_t i;
    json_t *d;
    json_array_foreach(domains, i, d) {
        const char *host = json_string_value(d);
        if (set && host && *host && !json_object_get(set, host)) {
            json_object_set_new(set, host, json_true());
            changed = true;
        }
    }
    /* Rewrite only when a host is new: the file then changes at most once
     * per distinct host, not once per call. */
    if (changed)
        url_domains_write_locked();
    pthread_mutex_unlock(&gw_logstate.lock);
}

void gw_log_tools(const char *server, json_t *tools)
{
    json_t *list = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        json_t *name = json_object_get(t, "name");
        json_t *desc = json_object_get(t, "description");
        json_array_append_new(list, json_pack("{s:O,s:s}", "name", name ? name : json_null(),
                                              "description",
                                              json_is_string(desc) ? json_string_value(desc) : ""));
    }
    pthread_mutex_lock(&gw_logstate.lock);
    if (gw_logstate.tools)
        json_object_set(gw_logstate.tools, server, list);
    pthread_mutex_unlock(&gw_logstate.lock);
    json_decref(list);
    gw_log_tools_write();
}
