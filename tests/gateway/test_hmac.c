/* HMAC request signing (spec: gateway §4.4, §8 case 33). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/gateway_internal.h"

static const char body[] = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}";
static const char good_sig[] = "b895d3bed1f99999150c85d77270831f95531f439659e25b8e06d8b0f2bcc2b5";

static void test_reference_vector(void **state)
{
    (void)state;
    char h[65];
    gw_sha256_hex(body, strlen(body), h);
    assert_string_equal(h, "98e0961a7c1232f08d2f2187d13c4a1a22a0641e00e5dec0eca645d646077fab");
    gw_sha256_hex("", 0, h);
    assert_string_equal(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    char msg[256];
    snprintf(msg, sizeof msg, "1700000000\nfixed-nonce\n/mcp\n98e0961a7c1232f08d2f2187d13c4a1a22a0641e00e5dec0eca645d646077fab");
    gw_hmac_sha256_hex("test-secret", 11, msg, strlen(msg), h);
    assert_string_equal(h, good_sig);
}

static void test_valid_signature_passes_once(void **state)
{
    (void)state;
    gw_hmac_t *v = gw_hmac_new("test-secret");
    assert_null(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, strlen(body), 1700000010));
    assert_string_equal(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, strlen(body), 1700000011),
                        "HMAC nonce already used (replay detected)");
    /* Forgotten after 60 s: the window check then rejects it anyway. */
    assert_string_equal(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, strlen(body), 1700000100),
                        "HMAC timestamp out of acceptable window");
    gw_hmac_free(v);
}

static void test_each_failure_is_named(void **state)
{
    (void)state;
    gw_hmac_t *v = gw_hmac_new("test-secret");
    size_t n = strlen(body);
    assert_string_equal(gw_hmac_check(v, NULL, "n", good_sig, "/mcp", body, n, 1700000000), "missing HMAC signature headers");
    assert_string_equal(gw_hmac_check(v, "17x", "n", good_sig, "/mcp", body, n, 1700000000), "invalid HMAC timestamp");
    assert_string_equal(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, n, 1700000031),
                        "HMAC timestamp out of acceptable window");
    assert_string_equal(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, n, 1699999969),
                        "HMAC timestamp out of acceptable window");
    assert_string_equal(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp/x", body, n, 1700000000),
                        "invalid HMAC signature");
    /* A bad signature did not use up the nonce. */
    assert_null(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, n, 1700000000));
    gw_hmac_free(v);
    v = gw_hmac_new("other-secret");
    assert_string_equal(gw_hmac_check(v, "1700000000", "fixed-nonce", good_sig, "/mcp", body, n, 1700000000),
                        "invalid HMAC signature");
    gw_hmac_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vector),
        cmocka_unit_test(test_valid_signature_passes_once),
        cmocka_unit_test(test_each_failure_is_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
