/*
 * test_agents_concurrent.c — concurrent label updates of one agent from
 * several threads (spec §3.5: the registry is shared by every request).
 * Registered with the `tsan` label: ThreadSanitizer checks the locking, and
 * the assertions check that no update is lost.
 */
#include "difc_test.h"

#include <pthread.h>
#include <stdio.h>

#define THREADS 6
#define ROUNDS 300

typedef struct worker {
    difc_agents_t *reg;
    int id;
    bool ok;
} worker_t;

/* Each thread adds its own secrecy tags to the SAME agent, interleaved with
 * snapshots, reflect documents and accumulations that only ever add
 * secrecy. At the end every tag of every thread must be there. */
static void *adder(void *arg)
{
    worker_t *w = arg;
    w->ok = true;
    for (int i = 0; i < ROUNDS; i++) {
        char tag[64];
        difc_labels_t l = {0};
        snprintf(tag, sizeof tag, "private:t%d/%d", w->id, i);
        w->ok &= difc_tagset_add(&l.secrecy, tag);
        w->ok &= difc_tagset_add(&l.integrity, "none:all");
        if (i % 2)
            w->ok &= difc_agents_add(w->reg, "shared", &l, NULL);
        else
            w->ok &= difc_agents_accumulate_read(w->reg, "shared", &l, NULL);
        difc_labels_free(&l);

        difc_labels_t snap;
        w->ok &= difc_agents_snapshot(w->reg, "shared", &snap, NULL);
        w->ok &= difc_tagset_contains(&snap.secrecy, tag);
        difc_labels_free(&snap);

        /* Fresh agents created concurrently as well. */
        char other[32];
        snprintf(other, sizeof other, "agent-%d-%d", w->id, i % 7);
        w->ok &= difc_agents_snapshot(w->reg, other, &snap, NULL);
        difc_labels_free(&snap);
        if (i % 50 == 0) {
            json_t *doc = difc_agents_reflect(w->reg, DIFC_MODE_PROPAGATE, "t");
            w->ok &= doc != NULL;
            json_decref(doc);
        }
    }
    return NULL;
}

static void test_concurrent_updates_of_one_agent_lose_nothing(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    assert_non_null(reg);
    pthread_t th[THREADS];
    worker_t w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker_t){.reg = reg, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, adder, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(w[i].ok);
    }
    difc_labels_t got;
    assert_true(difc_agents_snapshot(reg, "shared", &got, NULL));
    assert_int_equal(got.secrecy.len, THREADS * ROUNDS);
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < ROUNDS; i++) {
            char tag[64];
            snprintf(tag, sizeof tag, "private:t%d/%d", t, i);
            assert_true(difc_tagset_contains(&got.secrecy, tag));
        }
    difc_labels_free(&got);
    assert_int_equal(difc_agents_count(reg), 1 + THREADS * 7);
    difc_agents_free(reg);
}

/* Integrity only shrinks under concurrent accumulation: intersections
 * commute, so whatever the interleaving the result is the intersection of
 * everything read. */
typedef struct shrinker {
    difc_agents_t *reg;
    int id;
    bool ok;
} shrinker_t;

static void *shrinker(void *arg)
{
    shrinker_t *s = arg;
    s->ok = true;
    for (int i = 0; i < ROUNDS; i++) {
        difc_labels_t l = {0};
        /* Every read keeps all tags except this thread's "drop" tag. */
        for (int t = 0; t < THREADS; t++) {
            char tag[32];
            snprintf(tag, sizeof tag, "keep:%d", t);
            s->ok &= difc_tagset_add(&l.integrity, tag);
            if (t != s->id) {
                snprintf(tag, sizeof tag, "drop:%d", t);
                s->ok &= difc_tagset_add(&l.integrity, tag);
            }
        }
        s->ok &= difc_agents_accumulate_read(s->reg, "victim", &l, NULL);
        difc_labels_free(&l);
    }
    return NULL;
}

static void test_concurrent_accumulation_intersects_integrity(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    difc_labels_t start = {0};
    for (int t = 0; t < THREADS; t++) {
        char tag[32];
        snprintf(tag, sizeof tag, "keep:%d", t);
        assert_true(difc_tagset_add(&start.integrity, tag));
        snprintf(tag, sizeof tag, "drop:%d", t);
        assert_true(difc_tagset_add(&start.integrity, tag));
    }
    assert_true(difc_agents_add(reg, "victim", &start, NULL));
    difc_labels_free(&start);
    pthread_t th[THREADS];
    shrinker_t s[THREADS];
    for (int i = 0; i < THREADS; i++) {
        s[i] = (shrinker_t){.reg = reg, .id = i};
        assert_int_equal(pthread_create(&th[i], NULL, shrinker, &s[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(s[i].ok);
    }
    difc_labels_t got;
    assert_true(difc_agents_snapshot(reg, "victim", &got, NULL));
    assert_tags(&got.integrity, "[keep:0 keep:1 keep:2 keep:3 keep:4 keep:5]");
    difc_labels_free(&got);
    difc_agents_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_updates_of_one_agent_lose_nothing),
        cmocka_unit_test(test_concurrent_accumulation_intersects_integrity),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
