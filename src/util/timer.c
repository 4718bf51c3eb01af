/* timer.c — the deadline thread behind timer.h: a binary min-heap of
 * (deadline, id, flag) guarded by one mutex; the thread waits on a condition
 * variable bound to CLOCK_MONOTONIC until the earliest deadline or a change. */
#include "util/timer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

typedef struct entry {
    uint64_t deadline, id;
    atomic_int *flag;
} entry_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool started;
static entry_t *heap;
static size_t nheap, capheap;
static uint64_t next_id = 1;

uint64_t util_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void swap(size_t a, size_t b) {
    entry_t t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
}

static void sift_up(size_t i) {
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (heap[p].deadline <= heap[i].deadline)
            break;
        swap(i, p);
        i = p;
    }
}

static void sift_down(size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < nheap && heap[l].deadline < heap[m].deadline)
            m = l;
        if (r < nheap && heap[r].deadline < heap[m].deadline)
            m = r;
        if (m == i)
            return;
        swap(i, m);
        i = m;
    }
}

static void remove_at(size_t i) {
    heap[i] = heap[--nheap];
    if (i < nheap) {
        sift_down(i);
        sift_up(i);
    }
}

static void *timer_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&mu);
    for (;;) {
        if (nheap == 0) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        uint64_t now = util_now_ns();
        if (heap[0].deadline <= now) {
            atomic_store(heap[0].flag, 1);
            remove_at(0);
            continue;
        }
        struct timespec ts = {.tv_sec = (time_t)(heap[0].deadline / 1000000000ull),
                              .tv_nsec = (long)(heap[0].deadline % 1000000000ull)};
        pthread_cond_timedwait(&cv, &mu, &ts);
    }
    return NULL;
}

static void start(void) {
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    started = pthread_create(&t, &a, timer_main, NULL) == 0;
    pthread_attr_destroy(&a);
}

uint64_t util_timer_arm(uint64_t deadline_ns, atomic_int *flag) {
    pthread_once(&once, start);
    pthread_mutex_lock(&mu);
    if (!started || (nheap == capheap && capheap > SIZE_MAX / 2)) {
        pthread_mutex_unlock(&mu);
        atomic_store(flag, 1);
        return 0;
    }
    if (nheap == capheap) {
        size_t n = capheap ? capheap * 2 : 16;
        entry_t *h = realloc(heap, n * sizeof *h);
        if (!h) {
            pthread_mutex_unlock(&mu);
            atomic_store(flag, 1);
            return 0;
        }
        heap = h;
        capheap = n;
    }
    uint64_t id = next_id++;
    heap[nheap] = (entry_t){deadline_ns, id, flag};
    sift_up(nheap++);
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    return id;
}

void util_timer_cancel(uint64_t id) {
    if (id == 0)
        return;
    pthread_mutex_lock(&mu);
    for (size_t i = 0; i < nheap; i++)
        if (heap[i].id == id) {
            remove_at(i);
            break;
        }
    pthread_mutex_unlock(&mu);
}
