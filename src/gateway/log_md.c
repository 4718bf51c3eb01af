/*
 * log_md.c — gateway.md, the markdown preview gh-aw shows in a run summary
 * (spec: gateway §5.4). Header on the first entry, footer on close.
 */
#include "gateway/log_internal.h"

#include <string.h>
#include <unistd.h>

static const char *emoji(gw_level_t l)
{
    switch (l) {
    case GW_LOG_INFO: return "\xe2\x9c\x93";                    /* ✓ */
    case GW_LOG_WARN: return "\xe2\x9a\xa0\xef\xb8\x8f";        /* ⚠️ */
    case GW_LOG_ERROR: return "\xe2\x9c\x97";                   /* ✗ */
    default: return "\xf0\x9f\x94\x8d";                         /* 🔍 */
    }
}

static void start_locked(void)
{
    if (!gw_logstate.md_started && gw_logstate.md) {
        fputs("<details>\n<summary>MCP Gateway</summary>\n\n", gw_logstate.md);
        gw_logstate.md_started = true;
    }
}

void gw_md_raw(const char *text)
{
    pthread_mutex_lock(&gw_logstate.lock);
    if (gw_logstate.md) {
        start_locked();
        fputs(text, gw_logstate.md);
        fflush(gw_logstate.md);
    }
    pthread_mutex_unlock(&gw_logstate.lock);
}

void gw_md_entry(gw_level_t level, const char *category, const char *msg)
{
    pthread_mutex_lock(&gw_logstate.lock);
    FILE *f = gw_logstate.md;
    if (f) {
        start_locked();
        bool block = strchr(msg, '\n') || strstr(msg, "command=") || strstr(msg, "args=");
        if (block) {
            /* Multi-line and command lines go in a fence so markdown keeps
             * them verbatim; each line indented under the list item. */
            fprintf(f, "- %s **%s**\n  ```\n  ", emoji(level), category);
            for (const char *p = msg; *p; p++) {
                fputc(*p, f);
                if (*p == '\n')
                    fputs("  ", f);
            }
            fputs("\n  ```\n", f);
        } else {
            fprintf(f, "- %s **%s** %s\n", emoji(level), category, msg);
        }
        fflush(f);
    }
    pthread_mutex_unlock(&gw_logstate.lock);
}

void gw_md_finish_locked(void)
{
    if (gw_logstate.md && gw_logstate.md_started) {
        fputs("\n</details>\n", gw_logstate.md);
        fflush(gw_logstate.md);
    }
}
