/*
 * test_tagset.c — tag sets and the flow-check primitive (spec §3.1, §3.2,
 * §5 case 33).
 */
#include "difc_test.h"

static void test_add_keeps_sorted_and_unique(void **state)
{
    (void)state;
    difc_tagset_t s = {0};
    assert_true(difc_tagset_add(&s, "b"));
    assert_true(difc_tagset_add(&s, "a"));
    assert_true(difc_tagset_add(&s, "c"));
    assert_true(difc_tagset_add(&s, "a"));
    assert_int_equal(s.len, 3);
    assert_tags(&s, "[a b c]");
    assert_true(difc_tagset_contains(&s, "b"));
    assert_false(difc_tagset_contains(&s, "d"));
    assert_true(difc_tagset_remove(&s, "b"));
    assert_false(difc_tagset_remove(&s, "b"));
    assert_tags(&s, "[a c]");
    difc_tagset_free(&s);
    assert_int_equal(s.len, 0);
    assert_tags(&s, "[]");
}

static void test_add_trimmed_drops_blanks(void **state)
{
    (void)state;
    difc_tagset_t s = {0};
    assert_true(difc_tagset_add_trimmed(&s, "  private:o/r \t"));
    assert_true(difc_tagset_add_trimmed(&s, "   "));
    assert_true(difc_tagset_add_trimmed(&s, ""));
    assert_tags(&s, "[private:o/r]");
    difc_tagset_free(&s);
}

static void test_union_intersect_subset(void **state)
{
    (void)state;
    difc_tagset_t a = {0}, b = {0}, c = {0};
    tags_of(&a, TAGS("x", "y", "z"));
    tags_of(&b, TAGS("w", "y", "zz"));
    assert_true(difc_tagset_copy(&c, &a));
    assert_true(difc_tagset_union(&c, &b));
    assert_tags(&c, "[w x y z zz]");
    assert_true(difc_tagset_is_subset(&a, &c));
    assert_true(difc_tagset_is_subset(&b, &c));
    assert_false(difc_tagset_is_subset(&c, &a));
    difc_tagset_intersect(&c, &b);
    assert_tags(&c, "[w y zz]");
    assert_true(difc_tagset_equal(&c, &b));
    difc_tagset_t empty = {0};
    difc_tagset_intersect(&c, &empty);
    assert_int_equal(c.len, 0);
    assert_true(difc_tagset_is_subset(&empty, &a));
    difc_tagset_free(&a);
    difc_tagset_free(&b);
    difc_tagset_free(&c);
}

static void test_from_json_skips_non_strings_and_does_not_trim(void **state)
{
    (void)state;
    difc_tagset_t s = {0};
    json_t *v = J("[\"b\", 1, null, \" a \", {\"x\":1}, \"b\"]");
    assert_true(difc_tagset_from_json(&s, v, false));
    assert_int_equal(s.len, 2);
    assert_true(difc_tagset_contains(&s, " a "));
    assert_true(difc_tagset_from_json(&s, v, true));
    assert_tags(&s, "[a b]");
    json_decref(v);
    v = J("\"not an array\"");
    assert_true(difc_tagset_from_json(&s, v, false));
    assert_int_equal(s.len, 0);
    json_decref(v);
    json_t *out;
    tags_of(&s, TAGS("z", "a"));
    out = difc_tagset_to_json(&s);
    assert_json_eq(out, "[\"a\",\"z\"]");
    json_decref(out);
    difc_tagset_free(&s);
}

static void test_secrecy_flow_is_subset_with_violations(void **state)
{
    (void)state;
    difc_tagset_t src = {0}, dst = {0}, v = {0};
    tags_of(&src, TAGS("a", "b", "c"));
    tags_of(&dst, TAGS("b"));
    assert_false(difc_secrecy_flows(&src, &dst, &v));
    assert_tags(&v, "[a c]");
    tags_of(&dst, TAGS("a", "b", "c", "d"));
    assert_true(difc_secrecy_flows(&src, &dst, &v));
    assert_int_equal(v.len, 0);
    difc_tagset_free(&src);
    assert_true(difc_secrecy_flows(&src, &dst, NULL)); /* empty src always flows */
    difc_tagset_free(&src);
    difc_tagset_free(&dst);
    difc_tagset_free(&v);
}

/* §5 case 33: secrecy {a,b} ⊆ {*} passes; a * in the secrecy source does
 * not help; integrity {*} ⊇ {approved:o/r, merged:o/r} passes; a * in the
 * integrity target does not help. */
static void test_wildcards_only_on_superset_side(void **state)
{
    (void)state;
    difc_tagset_t src = {0}, dst = {0}, v = {0};
    tags_of(&src, TAGS("a", "b"));
    tags_of(&dst, TAGS("*"));
    assert_true(difc_secrecy_flows(&src, &dst, &v));
    assert_int_equal(v.len, 0);

    tags_of(&src, TAGS("*", "a"));
    tags_of(&dst, TAGS("b"));
    assert_false(difc_secrecy_flows(&src, &dst, &v));
    assert_tags(&v, "[* a]");

    tags_of(&src, TAGS("*"));
    tags_of(&dst, TAGS("approved:o/r", "merged:o/r"));
    assert_true(difc_integrity_flows(&src, &dst, &v));

    tags_of(&src, TAGS("approved:o/r"));
    tags_of(&dst, TAGS("*", "merged:o/r"));
    assert_false(difc_integrity_flows(&src, &dst, &v));
    assert_tags(&v, "[* merged:o/r]");
    difc_tagset_free(&src);
    difc_tagset_free(&dst);
    difc_tagset_free(&v);
}

static void test_integrity_flow_is_superset_with_violations(void **state)
{
    (void)state;
    difc_tagset_t src = {0}, dst = {0}, v = {0};
    tags_of(&src, TAGS("none:all", "unapproved:all"));
    tags_of(&dst, TAGS("approved:all", "none:all", "unapproved:all"));
    assert_false(difc_integrity_flows(&src, &dst, &v));
    assert_tags(&v, "[approved:all]");
    assert_true(difc_integrity_flows(&dst, &src, &v));
    difc_tagset_free(&dst);
    assert_true(difc_integrity_flows(&src, &dst, &v)); /* empty target always flows */
    difc_tagset_free(&src);
    difc_tagset_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_keeps_sorted_and_unique),
        cmocka_unit_test(test_add_trimmed_drops_blanks),
        cmocka_unit_test(test_union_intersect_subset),
        cmocka_unit_test(test_from_json_skips_non_strings_and_does_not_trim),
        cmocka_unit_test(test_secrecy_flow_is_subset_with_violations),
        cmocka_unit_test(test_wildcards_only_on_superset_side),
        cmocka_unit_test(test_integrity_flow_is_superset_with_violations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
