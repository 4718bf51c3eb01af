/*
 * err.h — the error value every fallible Flowgate function fills.
 *
 * Convention (see design/conventions.md): a function that can fail returns
 * bool (or a small enum) and takes `err_t *err` as its last argument. On
 * failure it writes one message a user can act on. Callers that pass an error
 * upward add context in front with err_prefix(), never a new message. `err`
 * may be NULL when the caller does not want the text.
 */
#ifndef FLOWGATE_UTIL_ERR_H
#define FLOWGATE_UTIL_ERR_H

#include <stdarg.h>
#include <stdbool.h>

#define ERR_MSG_MAX 512

typedef struct err {
    char msg[ERR_MSG_MAX];
} err_t;

/* Sets the message (printf format). Always returns false so that a failing
 * path can read `return err_set(err, "...")`. NULL err is allowed. */
bool err_set(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool err_vset(err_t *err, const char *fmt, va_list ap);

/* Puts "context: " in front of the current message. Returns false. */
bool err_prefix(err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the message. */
void err_clear(err_t *err);

#endif
