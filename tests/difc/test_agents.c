/*
 * test_agents.c — the agent registry and /reflect (spec §3.5; §5 cases 43,
 * 46 for the registry side).
 */
#include "difc_test.h"

static void test_new_agent_starts_empty(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    assert_non_null(reg);
    difc_labels_t l;
    assert_true(difc_agents_snapshot(reg, "sess-1", &l, NULL));
    assert_int_equal(l.secrecy.len, 0);
    assert_int_equal(l.integrity.len, 0);
    assert_int_equal(difc_agents_count(reg), 1);
    difc_labels_free(&l);
    difc_agents_free(reg);
}

/* §5 case 46: label_agent results union into existing tags. */
static void test_add_unions_into_existing_labels(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    difc_labels_t a = {0}, b = {0}, got;
    labels_of(&a, TAGS("private:o/r"), TAGS("none:all"));
    labels_of(&b, TAGS("private:x"), TAGS("approved:all", "none:all"));
    assert_true(difc_agents_add(reg, "s", &a, NULL));
    assert_true(difc_agents_add(reg, "s", &b, NULL));
    assert_true(difc_agents_snapshot(reg, "s", &got, NULL));
    assert_tags(&got.secrecy, "[private:o/r private:x]");
    assert_tags(&got.integrity, "[approved:all none:all]");
    /* The snapshot is a copy: changing it does not touch the registry. */
    assert_true(difc_tagset_add(&got.secrecy, "private:zzz"));
    difc_labels_free(&got);
    assert_true(difc_agents_snapshot(reg, "s", &got, NULL));
    assert_false(difc_tagset_contains(&got.secrecy, "private:zzz"));
    /* Other agents are separate. */
    difc_labels_free(&got);
    assert_true(difc_agents_snapshot(reg, "other", &got, NULL));
    assert_int_equal(got.secrecy.len, 0);
    difc_labels_free(&got);
    difc_labels_free(&a);
    difc_labels_free(&b);
    difc_agents_free(reg);
}

/* §3.5 AccumulateFromRead, §6.7, §5 case 43 (registry side). */
static void test_accumulate_read_unions_secrecy_and_intersects_integrity(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    difc_labels_t start = {0}, read = {0}, got;
    labels_of(&start, TAGS("private:a"), TAGS("approved:all", "none:all", "unapproved:all"));
    assert_true(difc_agents_add(reg, "s", &start, NULL));

    labels_of(&read, TAGS("private:org/repo"), TAGS("none:all", "unapproved:all"));
    assert_true(difc_agents_accumulate_read(reg, "s", &read, NULL));
    assert_true(difc_agents_snapshot(reg, "s", &got, NULL));
    assert_tags(&got.secrecy, "[private:a private:org/repo]");
    assert_tags(&got.integrity, "[none:all unapproved:all]");
    difc_labels_free(&got);

    /* Empty secrecy adds nothing; empty integrity clears the agent's. */
    labels_of(&read, NOTAGS, NOTAGS);
    assert_true(difc_agents_accumulate_read(reg, "s", &read, NULL));
    assert_true(difc_agents_snapshot(reg, "s", &got, NULL));
    assert_tags(&got.secrecy, "[private:a private:org/repo]");
    assert_tags(&got.integrity, "[]");
    difc_labels_free(&got);
    difc_labels_free(&start);
    difc_labels_free(&read);
    difc_agents_free(reg);
}

/* §5 case 46: a label_agent result with an invalid difc_mode applies no
 * tags — parsing fails and yields nothing to union. */
static void test_invalid_mode_applies_no_tags(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    difc_labels_t before = {0}, got;
    labels_of(&before, TAGS("private:o/r"), TAGS("none:all"));
    assert_true(difc_agents_add(reg, "s", &before, NULL));
    const char *out = "{\"agent\":{\"secrecy\":[\"private:new\"],\"integrity\":[\"merged:all\"]},"
                      "\"difc_mode\":\"invalid-mode\"}";
    difc_agent_result_t r;
    err_t err = {0};
    assert_false(difc_agent_result_parse(out, strlen(out), &r, &err));
    assert_starts_with(err.msg, "invalid difc_mode from label_agent");
    assert_int_equal(r.labels.secrecy.len + r.labels.integrity.len, 0);
    assert_true(difc_agents_add(reg, "s", &r.labels, NULL)); /* even if applied: nothing */
    assert_true(difc_agents_snapshot(reg, "s", &got, NULL));
    assert_true(difc_labels_equal(&got, &before));
    difc_labels_free(&got);
    difc_labels_free(&before);
    difc_agents_free(reg);
}

static void test_reflect_shape_sorted(void **state)
{
    (void)state;
    difc_agents_t *reg = difc_agents_new();
    difc_labels_t a = {0};
    labels_of(&a, TAGS("private:z", "private:a"), TAGS("none:all"));
    assert_true(difc_agents_add(reg, "beta", &a, NULL));
    difc_labels_free(&a);
    assert_true(difc_agents_snapshot(reg, "alpha", &a, NULL));
    json_t *doc = difc_agents_reflect(reg, DIFC_MODE_FILTER, "2026-01-02T03:04:05Z");
    assert_json_eq(doc, "{\"agents\":{\"alpha\":{\"secrecy\":[],\"integrity\":[]},"
                        "\"beta\":{\"secrecy\":[\"private:a\",\"private:z\"],\"integrity\":[\"none:all\"]}},"
                        "\"mode\":\"filter\",\"timestamp\":\"2026-01-02T03:04:05Z\"}");
    char *text = json_dumps(doc, JSON_COMPACT);
    /* Tag order in the serialised document is sorted. */
    assert_contains(text, "[\"private:a\",\"private:z\"]");
    free(text);
    json_decref(doc);

    doc = difc_agents_reflect(reg, DIFC_MODE_STRICT, NULL);
    const char *ts = json_string_value(json_object_get(doc, "timestamp"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 20); /* 2006-01-02T15:04:05Z */
    assert_int_equal(ts[19], 'Z');
    assert_string_equal(json_string_value(json_object_get(doc, "mode")), "strict");
    json_decref(doc);
    difc_labels_free(&a);
    difc_agents_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_agent_starts_empty),
        cmocka_unit_test(test_add_unions_into_existing_labels),
        cmocka_unit_test(test_accumulate_read_unions_secrecy_and_intersects_integrity),
        cmocka_unit_test(test_invalid_mode_applies_no_tags),
        cmocka_unit_test(test_reflect_shape_sorted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
