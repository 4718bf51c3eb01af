/*
 * file.h — reading a whole file into memory, as the guard loader and the
 * `flowgate guard` CLI do with WASM modules.
 */
#ifndef FLOWGATE_UTIL_FILE_H
#define FLOWGATE_UTIL_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* Returns the bytes of the file at path (caller frees) and their count in
 * *len; a NUL follows the last byte (not counted) so text can be used as a
 * C string. NULL on failure, with "open PATH: <reason>", "read PATH: I/O
 * error" or "PATH: out of memory" in err (callers prefix what they read). */
uint8_t *util_read_file(const char *path, size_t *len, err_t *err);

#endif
