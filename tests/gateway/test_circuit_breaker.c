/*
 * test_circuit_breaker.c — the rate-limit circuit breaker's state machine
 * and the rate-limit detection of backend results (spec §3.7), with time
 * passed in explicitly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "gateway/resilience.h"

#define T0 1700000000000LL /* 2023-11-14T22:13:20Z */

static char msg[512];

static bool allow(gw_breaker_t *b, int64_t now)
{
    msg[0] = '\0';
    return gw_breaker_allow(b, now, msg, sizeof msg);
}

static void open_it(gw_breaker_t *b, int64_t now, int64_t reset)
{
    for (int i = 0; i < b->threshold; i++) {
        assert_true(allow(b, now));
        gw_breaker_record_rate_limit(b, now, reset);
    }
    assert_int_equal(gw_breaker_state(b), GW_BREAKER_OPEN);
}

static void test_closed_breaker_lets_calls_through(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    for (int i = 0; i < 10; i++)
        assert_true(allow(&b, T0 + i));
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_CLOSED);
    gw_breaker_destroy(&b);
}

static void test_threshold_consecutive_rate_limits_open_it(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    gw_breaker_record_rate_limit(&b, T0, 0);
    gw_breaker_record_rate_limit(&b, T0, 0);
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_CLOSED);
    gw_breaker_record_rate_limit(&b, T0, 0);
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_OPEN);
    assert_false(allow(&b, T0 + 1000));
    assert_string_equal(msg, "rate limit circuit breaker is OPEN for server \"gh\" — requests temporarily rejected");
    gw_breaker_destroy(&b);
}

static void test_success_resets_the_consecutive_count(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    gw_breaker_record_rate_limit(&b, T0, 0);
    gw_breaker_record_rate_limit(&b, T0, 0);
    gw_breaker_record_success(&b);
    gw_breaker_record_rate_limit(&b, T0, 0);
    gw_breaker_record_rate_limit(&b, T0, 0);
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_CLOSED);
    gw_breaker_destroy(&b);
}

static void test_after_cooldown_one_probe_passes_and_its_success_closes(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    open_it(&b, T0, 0);
    assert_false(allow(&b, T0 + 59999));
    assert_true(allow(&b, T0 + 60000)); /* the probe */
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_HALF_OPEN);
    assert_false(allow(&b, T0 + 60001)); /* while the probe is in flight */
    assert_non_null(strstr(msg, "is OPEN for server \"gh\""));
    gw_breaker_record_success(&b);
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_CLOSED);
    assert_true(allow(&b, T0 + 60002));
    assert_true(allow(&b, T0 + 60003));
    gw_breaker_destroy(&b);
}

static void test_rate_limited_probe_reopens_with_a_fresh_cooldown(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    open_it(&b, T0, 0);
    assert_true(allow(&b, T0 + 60000));
    gw_breaker_record_rate_limit(&b, T0 + 60000, 0);
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_OPEN);
    assert_false(allow(&b, T0 + 119999));
    assert_true(allow(&b, T0 + 120000));
    gw_breaker_destroy(&b);
}

static void test_announced_reset_shortens_the_wait_and_is_shown(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    open_it(&b, T0, T0 + 30000);
    assert_false(allow(&b, T0));
    assert_string_equal(msg, "rate limit circuit breaker is OPEN for server \"gh\" — rate limit resets at "
                             "2023-11-14T22:13:50Z (retry after 30s)");
    assert_true(allow(&b, T0 + 30000)); /* before the 60 s cooldown */
    gw_breaker_destroy(&b);
}

static void test_retry_after_uses_go_duration_text(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 1, 600);
    open_it(&b, T0, T0 + 90000);
    assert_false(allow(&b, T0));
    assert_non_null(strstr(msg, "(retry after 1m30s)"));
    gw_breaker_destroy(&b);
}

static void test_release_frees_the_probe_slot_without_changing_state(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 3, 60);
    open_it(&b, T0, 0);
    assert_true(allow(&b, T0 + 60000));
    gw_breaker_release(&b); /* the probe hit a transport error */
    assert_int_equal(gw_breaker_state(&b), GW_BREAKER_HALF_OPEN);
    assert_true(allow(&b, T0 + 60001)); /* the next call probes */
    assert_false(allow(&b, T0 + 60002));
    gw_breaker_destroy(&b);
}

static void test_zero_parameters_take_the_defaults(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "gh", 0, 0);
    assert_int_equal(b.threshold, 3);
    assert_int_equal(b.cooldown_ms, 60000);
    gw_breaker_destroy(&b);
}

static bool limited(const char *json, int64_t *reset)
{
    json_t *r = json_loads(json, 0, NULL);
    assert_non_null(r);
    int64_t dummy;
    bool hit = gw_result_is_rate_limited(r, T0, reset ? reset : &dummy);
    json_decref(r);
    return hit;
}

#define ERR_TEXT(t) "{\"isError\":true,\"content\":[{\"type\":\"text\",\"text\":\"" t "\"}]}"

static void test_rate_limit_texts_are_detected_case_insensitively(void **state)
{
    (void)state;
    assert_true(limited(ERR_TEXT("403 API rate limit exceeded"), NULL));
    assert_true(limited(ERR_TEXT("Rate Limit Exceeded for user"), NULL));
    assert_true(limited(ERR_TEXT("HTTP 403: rate limit hit"), NULL));
    assert_true(limited(ERR_TEXT("You have exceeded a secondary rate limit"), NULL));
    assert_true(limited(ERR_TEXT("API rate limit for installation"), NULL));
    assert_true(limited(ERR_TEXT("429 Too Many Requests"), NULL));
    /* Split over two text items still counts; other item types are ignored. */
    assert_true(limited("{\"isError\":true,\"content\":[{\"type\":\"image\",\"data\":\"x\"},"
                        "{\"type\":\"text\",\"text\":\"secondary\"},{\"type\":\"text\",\"text\":\"too many requests\"}]}",
                        NULL));
}

static void test_non_rate_limit_results_are_not_detected(void **state)
{
    (void)state;
    assert_false(limited("{\"content\":[{\"type\":\"text\",\"text\":\"403 API rate limit exceeded\"}]}", NULL));
    assert_false(limited("{\"isError\":false,\"content\":[{\"type\":\"text\",\"text\":\"too many requests\"}]}", NULL));
    assert_false(limited(ERR_TEXT("rate limit is fine"), NULL));
    assert_false(limited(ERR_TEXT("404 not found"), NULL));
    assert_false(limited("{\"isError\":true,\"content\":[]}", NULL));
    assert_false(limited("{\"isError\":true}", NULL));
}

static void test_rate_reset_in_seconds_sets_the_reset_time(void **state)
{
    (void)state;
    int64_t reset = -1;
    assert_true(limited(ERR_TEXT("API rate limit exceeded; rate reset in 42s"), &reset));
    assert_int_equal(reset, T0 + 42000);
    assert_true(limited(ERR_TEXT("API rate limit exceeded; rate reset in soon"), &reset));
    assert_int_equal(reset, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_breaker_lets_calls_through),
        cmocka_unit_test(test_threshold_consecutive_rate_limits_open_it),
        cmocka_unit_test(test_success_resets_the_consecutive_count),
        cmocka_unit_test(test_after_cooldown_one_probe_passes_and_its_success_closes),
        cmocka_unit_test(test_rate_limited_probe_reopens_with_a_fresh_cooldown),
        cmocka_unit_test(test_announced_reset_shortens_the_wait_and_is_shown),
        cmocka_unit_test(test_retry_after_uses_go_duration_text),
        cmocka_unit_test(test_release_frees_the_probe_slot_without_changing_state),
        cmocka_unit_test(test_zero_parameters_take_the_defaults),
        cmocka_unit_test(test_rate_limit_texts_are_detected_case_insensitively),
        cmocka_unit_test(test_non_rate_limit_results_are_not_detected),
        cmocka_unit_test(test_rate_reset_in_seconds_sets_the_reset_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
