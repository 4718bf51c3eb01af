#include "err.h"

#include <stdio.h>
#include <string.h>

bool err_vset(err_t *err, const char *fmt, va_list ap)
{
    if (err)
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return false;
}

bool err_set(err_t *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(err, fmt, ap);
    va_end(ap);
    return false;
}

bool err_prefix(err_t *err, const char *fmt, ...)
{
    if (!err)
        return false;
    char prefix[ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    /* Build "prefix: old" in place: shift the old text right, then copy the
     * prefix in front; whatever does not fit is cut at the end. */
    size_t plen = strlen(prefix), olen = strlen(err->msg);
    if (plen + 2 >= sizeof err->msg)
        plen = sizeof err->msg - 3;
    size_t room = sizeof err->msg - 1 - plen - 2;
    if (olen > room)
        olen = room;
    memmove(err->msg + plen + 2, err->msg, olen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen] = ':';
    err->msg[plen + 1] = ' ';
    err->msg[plen + 2 + olen] = '\0';
    return false;
}

void err_clear(err_t *err)
{
    if (err)
        err->msg[0] = '\0';
}
