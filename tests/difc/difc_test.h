/*
 * difc_test.h — small helpers shared by the difc tests.
 */
#ifndef FLOWGATE_TESTS_DIFC_TEST_H
#define FLOWGATE_TESTS_DIFC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "difc/difc.h"

/* Fills a tag set from a NULL-terminated list. */
static inline void tags_of(difc_tagset_t *s, const char *const *list)
{
    difc_tagset_free(s);
    for (size_t i = 0; list && list[i]; i++)
        assert_true(difc_tagset_add(s, list[i]));
}

#define TAGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define NOTAGS ((const char *const *)NULL)

static inline void labels_of(difc_labels_t *l, const char *const *secrecy,
                             const char *const *integrity)
{
    tags_of(&l->secrecy, secrecy);
    tags_of(&l->integrity, integrity);
}

static inline void resource_of(difc_resource_t *r, const char *desc, const char *const *secrecy,
                               const char *const *integrity)
{
    assert_true(difc_resource_set_description(r, desc));
    labels_of(&r->labels, secrecy, integrity);
}

/* The tag set as "[a b]" compared with `want`. */
static inline void assert_tags(const difc_tagset_t *s, const char *want)
{
    char *got = difc_tagset_format(s);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static inline void assert_contains(const char *hay, const char *needle)
{
    if (!hay || !strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay ? hay : "(null)", needle);
}

static inline void assert_starts_with(const char *s, const char *prefix)
{
    if (!s || strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("\"%s\" does not start with \"%s\"", s ? s : "(null)", prefix);
}

/* Parses JSON text or fails the test. New reference. */
static inline json_t *J(const char *text)
{
    json_error_t e;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &e);
    if (!v)
        fail_msg("bad test JSON: %s: %s", text, e.text);
    return v;
}

static inline void assert_json_eq(const json_t *got, const char *want_text)
{
    json_t *want = J(want_text);
    if (!json_equal((json_t *)got, want)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        char *w = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
        fprintf(stderr, "got:  %s\nwant: %s\n", g, w);
        free(g);
        free(w);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

#endif
