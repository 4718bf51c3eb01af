/*
 * timer.h — one lazily started thread that turns deadlines into flags.
 *
 * util_timer_arm registers "at time T (CLOCK_MONOTONIC ns), store 1 into
 * *flag"; the thread keeps registrations in a min-heap and sleeps until the
 * earliest. This lets hot loops (the wasm interpreter) poll a flag instead of
 * reading the clock. Thread-safe. Once util_timer_cancel returns, the flag of
 * that registration will not be written any more.
 */
#ifndef FLOWGATE_UTIL_TIMER_H
#define FLOWGATE_UTIL_TIMER_H

#include <stdatomic.h>
#include <stdint.h>

/* Current CLOCK_MONOTONIC time in nanoseconds. */
uint64_t util_now_ns(void);

/* Arms a one-shot timer; returns its id (never 0), or 0 if the timer thread
 * could not be started (then the flag is set at once, failing closed). */
uint64_t util_timer_arm(uint64_t deadline_ns, atomic_int *flag);

/* Cancels a registration (no-op if it already fired or id is 0). */
void util_timer_cancel(uint64_t id);

#endif
