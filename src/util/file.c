/*
 * file.c — whole-file reads (file.h).
 */
#include "util/file.h"
#include "util/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

uint8_t *util_read_file(const char *path, size_t *len, err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(err, "open %s: %s", path, strerror(errno)), NULL;
    util_buf_t b = {0};
    char chunk[16384];
    size_t r;
    bool ok = util_buf_append(&b, "", 0); /* an empty file is an empty buffer, not NULL */
    while (ok && (r = fread(chunk, 1, sizeof chunk, f)) > 0)
        ok = util_buf_append(&b, chunk, r);
    bool rerr = ferror(f);
    fclose(f);
    if (!ok || rerr) {
        util_buf_free(&b);
        if (rerr)
            return err_set(err, "read %s: I/O error", path), NULL;
        return err_set(err, "%s: out of memory", path), NULL;
    }
    *len = b.len;
    return (uint8_t *)util_buf_take(&b);
}
