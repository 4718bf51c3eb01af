/*
 * test_fuzz_regress — replays every saved fuzz input in fuzz/regress/wasm/
 * (and the API fixtures, as known-good inputs) through both fuzz harnesses
 * (fuzz_wasm and the differential fuzz_wasm_diff), so a bug the fuzzers
 * once found stays fixed in every build, sanitized or not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/wasm_harness.h"

#ifndef FUZZ_REGRESS_DIR
#error "FUZZ_REGRESS_DIR must name fuzz/regress/wasm"
#endif
#ifndef FIXTURE_DIR
#error "FIXTURE_DIR must name the directory of the built fixtures"
#endif

/* Replays the files of dir whose names end in `suffix` ("" = all but
 * README.md and dot files); returns how many. */
static int replay_dir(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name), slen = strlen(suffix);
        if (e->d_name[0] == '.' || strcmp(e->d_name, "README.md") == 0)
            continue;
        if (len < slen || strcmp(e->d_name + len - slen, suffix) != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        assert_non_null(f);
        uint8_t *buf = NULL;
        size_t cap = 0, size = 0, got;
        do {
            if (size == cap) {
                cap = cap ? cap * 2 : 4096;
                buf = realloc(buf, cap);
                assert_non_null(buf);
            }
            got = fread(buf + size, 1, cap - size, f);
            size += got;
        } while (got > 0);
        fclose(f);
        print_message("replay %s (%zu bytes)\n", e->d_name, size);
        fuzz_wasm_one(buf, size);
        fuzz_wasm_diff_one(buf, size);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void test_saved_fuzz_inputs_replay_without_crashing(void **state)
{
    (void)state;
    replay_dir(FUZZ_REGRESS_DIR, "");
}

static void test_fixtures_run_through_the_fuzz_harness(void **state)
{
    (void)state;
    assert_true(replay_dir(FIXTURE_DIR, ".wasm") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_saved_fuzz_inputs_replay_without_crashing),
        cmocka_unit_test(test_fixtures_run_through_the_fuzz_harness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
