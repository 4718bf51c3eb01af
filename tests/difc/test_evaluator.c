/*
 * test_evaluator.c — flow rules, modes, reasons and the coarse-deny text
 * (spec §3.3, §3.4, §3.8; §5 cases 20, 30–32, 35–37).
 */
#include "difc_test.h"

typedef struct fx {
    difc_labels_t agent;
    difc_resource_t res;
    difc_eval_t ev;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof *f);
    *state = f;
    return f ? 0 : -1;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    difc_labels_free(&f->agent);
    difc_resource_free(&f->res);
    difc_eval_free(&f->ev);
    free(f);
    return 0;
}

static void eval(fx_t *f, difc_op_t op, difc_mode_t mode)
{
    difc_eval_free(&f->ev);
    assert_true(difc_evaluate(&f->agent, &f->res, op, mode, &f->ev, NULL));
}

/* §5 case 30 */
static void test_read_secrecy_denied_in_strict_and_filter(void **state)
{
    fx_t *f = *state;
    resource_of(&f->res, "repo o/r", TAGS("private:o/r"), NOTAGS);
    difc_mode_t modes[2] = {DIFC_MODE_STRICT, DIFC_MODE_FILTER};
    for (int i = 0; i < 2; i++) {
        eval(f, DIFC_OP_READ, modes[i]);
        assert_int_equal(f->ev.decision, DIFC_DENY);
        assert_tags(&f->ev.secrecy_to_add, "[private:o/r]");
        assert_int_equal(f->ev.integrity_to_drop.len, 0);
        assert_string_equal(f->ev.reason,
                            "Resource 'repo o/r' has secrecy requirements that agent doesn't meet. "
                            "The agent is not authorized to access private (o/r)-scoped data.");
    }
}

/* §5 case 30, propagate */
static void test_read_secrecy_propagates_in_propagate_mode(void **state)
{
    fx_t *f = *state;
    resource_of(&f->res, "repo o/r", TAGS("private:o/r"), NOTAGS);
    eval(f, DIFC_OP_READ, DIFC_MODE_PROPAGATE);
    assert_int_equal(f->ev.decision, DIFC_ALLOW_PROPAGATE);
    assert_true(difc_eval_allowed(&f->ev));
    assert_tags(&f->ev.secrecy_to_add, "[private:o/r]");
    assert_string_equal(f->ev.reason,
                        "Read allowed with label propagation: adding secrecy tags [private:o/r]");
}

static void test_propagate_reason_names_both_clauses(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, NOTAGS, TAGS("approved:all", "none:all"));
    resource_of(&f->res, "x", TAGS("private:b", "private:a"), TAGS("none:all"));
    eval(f, DIFC_OP_READ, DIFC_MODE_PROPAGATE);
    assert_int_equal(f->ev.decision, DIFC_ALLOW_PROPAGATE);
    assert_string_equal(f->ev.reason, "Read allowed with label propagation: adding secrecy tags "
                                      "[private:a private:b] and dropping integrity tags [approved:all]");
    labels_of(&f->agent, TAGS("private:a", "private:b"), NOTAGS);
    eval(f, DIFC_OP_READ, DIFC_MODE_PROPAGATE);
    assert_int_equal(f->ev.decision, DIFC_ALLOW);
    assert_null(f->ev.reason);
}

/* §5 case 31 */
static void test_read_integrity_denied_checked_first(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, NOTAGS, TAGS("none:all", "unapproved:all", "approved:all"));
    /* Secrecy fails too: only the integrity violation is reported (§6.5). */
    resource_of(&f->res, "issue #1", TAGS("private:o/r"), TAGS("none:all", "unapproved:all"));
    eval(f, DIFC_OP_READ, DIFC_MODE_FILTER);
    assert_int_equal(f->ev.decision, DIFC_DENY);
    assert_tags(&f->ev.integrity_to_drop, "[approved:all]");
    assert_int_equal(f->ev.secrecy_to_add.len, 0);
    assert_string_equal(f->ev.reason, "Resource 'issue #1' has lower integrity than agent requires. "
                                      "The agent cannot read data with integrity below \"approved\".");
}

/* §5 case 32: denied in every mode, propagate included. */
static void test_write_secrecy_denied_in_every_mode(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, TAGS("private:o/r"), NOTAGS);
    resource_of(&f->res, "public sink", NOTAGS, NOTAGS);
    for (int m = DIFC_MODE_STRICT; m <= DIFC_MODE_PROPAGATE; m++) {
        eval(f, DIFC_OP_WRITE, (difc_mode_t)m);
        assert_int_equal(f->ev.decision, DIFC_DENY);
        assert_starts_with(f->ev.reason, "Agent carries private (o/r)-scoped data that cannot be written to");
        assert_string_equal(f->ev.reason,
                            "Agent carries private (o/r)-scoped data that cannot be written to 'public "
                            "sink' due to secrecy constraints. The target resource is not authorized to "
                            "receive this sensitive data.");
        assert_tags(&f->ev.secrecy_to_add, "[private:o/r]");
    }
}

static void test_write_integrity_denied_before_secrecy(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, TAGS("private:o/r"), NOTAGS);
    resource_of(&f->res, "create_issue", NOTAGS, TAGS("approved:some/repo"));
    eval(f, DIFC_OP_WRITE, DIFC_MODE_PROPAGATE);
    assert_int_equal(f->ev.decision, DIFC_DENY);
    assert_tags(&f->ev.integrity_to_drop, "[approved:some/repo]");
    assert_int_equal(f->ev.secrecy_to_add.len, 0);
    assert_string_equal(f->ev.reason, "Agent lacks required integrity to write to 'create_issue'. The "
                                      "agent's integrity level is insufficient; it needs \"approved\" "
                                      "integrity.");
}

static void test_read_write_checks_read_then_write(void **state)
{
    fx_t *f = *state;
    /* noop resource: empty labels. A tainted agent fails the write half. */
    resource_of(&f->res, "noop resource (no restrictions)", NOTAGS, NOTAGS);
    labels_of(&f->agent, TAGS("private:x"), NOTAGS);
    eval(f, DIFC_OP_READ_WRITE, DIFC_MODE_STRICT);
    assert_int_equal(f->ev.decision, DIFC_DENY);
    assert_contains(f->ev.reason, "Agent carries private (x)-scoped data");
    /* With integrity the read half fails first. */
    labels_of(&f->agent, TAGS("private:x"), TAGS("approved:all"));
    eval(f, DIFC_OP_READ_WRITE, DIFC_MODE_FILTER);
    assert_int_equal(f->ev.decision, DIFC_DENY);
    assert_contains(f->ev.reason, "lower integrity");
    /* An empty agent passes both. */
    labels_of(&f->agent, NOTAGS, NOTAGS);
    eval(f, DIFC_OP_READ_WRITE, DIFC_MODE_STRICT);
    assert_int_equal(f->ev.decision, DIFC_ALLOW);
}

static void test_read_write_in_propagate_still_denies_the_write_half(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, NOTAGS, NOTAGS);
    resource_of(&f->res, "r", TAGS("private:o/r"), NOTAGS);
    /* Read half propagates (agent would gain private:o/r) but the write half
     * passes since A.secrecy {} ⊆ R.secrecy: allowed with propagation. */
    eval(f, DIFC_OP_READ_WRITE, DIFC_MODE_PROPAGATE);
    assert_true(difc_eval_allowed(&f->ev));
    /* Resource integrity above the agent's: the write half denies. */
    resource_of(&f->res, "r", NOTAGS, TAGS("approved:o/r"));
    eval(f, DIFC_OP_READ_WRITE, DIFC_MODE_PROPAGATE);
    assert_int_equal(f->ev.decision, DIFC_DENY);
    assert_contains(f->ev.reason, "lacks required integrity");
}

/* §5 case 35 */
static void test_format_integrity_and_secrecy_levels(void **state)
{
    (void)state;
    difc_tagset_t t = {0};
    char *s;
    struct { const char *const *tags; const char *want; } integ[] = {
        {TAGS("approved:x", "merged:x"), "\"merged\""},
        {TAGS("approved:x", "unapproved:x"), "\"approved\""},
        {TAGS("unapproved:x", "none:x"), "\"unapproved\""},
        {TAGS("custom-tag"), "[custom-tag]"},
        {TAGS(":merged"), "[:merged]"},
        {NOTAGS, "none"},
    };
    for (size_t i = 0; i < sizeof integ / sizeof *integ; i++) {
        tags_of(&t, integ[i].tags);
        s = difc_format_integrity_level(&t);
        assert_string_equal(s, integ[i].want);
        free(s);
    }
    struct { const char *const *tags; const char *want; } secr[] = {
        {TAGS("private:org", "private:org/repo"), "private (org/repo)"},
        {NOTAGS, "public"},
        {TAGS("private:"), "[private:]"},
        {TAGS("private", "other"), "private"},
        {TAGS("b", "a"), "[a b]"},
    };
    for (size_t i = 0; i < sizeof secr / sizeof *secr; i++) {
        tags_of(&t, secr[i].tags);
        s = difc_format_secrecy_level(&t);
        assert_string_equal(s, secr[i].want);
        free(s);
    }
    difc_tagset_free(&t);
}

/* §3.8 exact text, §5 case 37 ("DIFC Violation:"). */
static void test_violation_text_secrecy(void **state)
{
    fx_t *f = *state;
    labels_of(&f->agent, TAGS("private:b", "private:a"), TAGS("none:all"));
    resource_of(&f->res, "sink", NOTAGS, NOTAGS);
    eval(f, DIFC_OP_WRITE, DIFC_MODE_STRICT);
    char *msg = difc_format_violation(&f->ev, &f->agent, &f->res);
    assert_string_equal(msg,
        "DIFC Violation: Agent carries private (a)-scoped data that cannot be written to 'sink' "
        "due to secrecy constraints. The target resource is not authorized to receive this sensitive "
        "data.\n\n"
        "Required Action: Add secrecy tags [private:a private:b]\n"
        "\nImplications of adding secrecy tags:\n"
        "  - Agent will be restricted from writing to resources that lack these tags\n"
        "  - This includes public resources (e.g., public repositories, public internet)\n"
        "  - Agent will be marked as handling sensitive information\n"
        "  - Future writes must target resources with tags: [private:a private:b]\n"
        "\nCurrent Agent Labels:\n"
        "  Secrecy: [private:a private:b]\n"
        "  Integrity: [none:all]\n"
        "\nResource Requirements:\n"
        "  Secrecy: []\n"
        "  Integrity: []\n");
    free(msg);
}

static void test_violation_text_integrity(void **state)
{
    fx_t *f = *state;
    resource_of(&f->res, "create_issue", NOTAGS, TAGS("approved:some/repo"));
    eval(f, DIFC_OP_WRITE, DIFC_MODE_FILTER);
    char *msg = difc_format_violation(&f->ev, &f->agent, &f->res);
    assert_string_equal(msg,
        "DIFC Violation: Agent lacks required integrity to write to 'create_issue'. The agent's "
        "integrity level is insufficient; it needs \"approved\" integrity.\n\n"
        "\nRequired Action: Drop integrity tags [approved:some/repo]\n"
        "\nImplications of dropping integrity tags:\n"
        "  - Agent will no longer be able to write to high-integrity resources\n"
        "  - Specifically, agent cannot write to resources requiring tags: [approved:some/repo]\n"
        "  - This action acknowledges that agent has been influenced by lower-integrity data\n"
        "  - Agent's outputs will be considered less trustworthy\n"
        "\nCurrent Agent Labels:\n"
        "  Secrecy: []\n"
        "  Integrity: []\n"
        "\nResource Requirements:\n"
        "  Secrecy: []\n"
        "  Integrity: [approved:some/repo]\n");
    free(msg);
}

/* §3.4, §5 case 20 ("STRICT" accepted). */
static void test_mode_parse(void **state)
{
    (void)state;
    difc_mode_t m = DIFC_MODE_PROPAGATE;
    err_t err = {0};
    assert_true(difc_mode_parse("", &m, &err));
    assert_int_equal(m, DIFC_MODE_STRICT);
    assert_true(difc_mode_parse("STRICT", &m, &err));
    assert_int_equal(m, DIFC_MODE_STRICT);
    assert_true(difc_mode_parse("Filter", &m, &err));
    assert_int_equal(m, DIFC_MODE_FILTER);
    assert_true(difc_mode_parse("propagate", &m, &err));
    assert_int_equal(m, DIFC_MODE_PROPAGATE);
    assert_false(difc_mode_parse(" strict ", &m, &err));
    assert_string_equal(err.msg,
                        "unknown enforcement mode:  strict  (valid modes: strict, filter, propagate)");
    assert_false(difc_mode_parse("invalid-mode", &m, &err));
    assert_string_equal(difc_mode_name(DIFC_MODE_FILTER), "filter");
}

/* §2.3, §5 case 24 */
static void test_operation_from_guard_defaults_to_write(void **state)
{
    (void)state;
    assert_int_equal(difc_op_from_guard("read"), DIFC_OP_READ);
    assert_int_equal(difc_op_from_guard("read-write"), DIFC_OP_READ_WRITE);
    assert_int_equal(difc_op_from_guard("write"), DIFC_OP_WRITE);
    assert_int_equal(difc_op_from_guard("READ"), DIFC_OP_WRITE);
    assert_int_equal(difc_op_from_guard(""), DIFC_OP_WRITE);
    assert_int_equal(difc_op_from_guard(NULL), DIFC_OP_WRITE);
    assert_string_equal(difc_op_name(DIFC_OP_READ_WRITE), "read-write");
}

/* §5 case 36 and the other §3.4 helpers. */
static void test_pipeline_decision_table(void **state)
{
    (void)state;
    for (int m = DIFC_MODE_STRICT; m <= DIFC_MODE_PROPAGATE; m++) {
        assert_true(difc_should_label_response(DIFC_OP_READ, (difc_mode_t)m));
        assert_false(difc_should_label_response(DIFC_OP_WRITE, (difc_mode_t)m));
        assert_int_equal(difc_should_label_response(DIFC_OP_READ_WRITE, (difc_mode_t)m),
                         m != DIFC_MODE_STRICT);
        assert_int_equal(difc_should_accumulate(DIFC_OP_READ, (difc_mode_t)m), m == DIFC_MODE_PROPAGATE);
        assert_int_equal(difc_should_accumulate(DIFC_OP_READ_WRITE, (difc_mode_t)m),
                         m == DIFC_MODE_PROPAGATE);
        assert_false(difc_should_accumulate(DIFC_OP_WRITE, (difc_mode_t)m));
    }
    assert_false(difc_coarse_deny_is_final(DIFC_OP_READ));
    assert_true(difc_coarse_deny_is_final(DIFC_OP_WRITE));
    assert_true(difc_coarse_deny_is_final(DIFC_OP_READ_WRITE));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_read_secrecy_denied_in_strict_and_filter),
        T(test_read_secrecy_propagates_in_propagate_mode),
        T(test_propagate_reason_names_both_clauses),
        T(test_read_integrity_denied_checked_first),
        T(test_write_secrecy_denied_in_every_mode),
        T(test_write_integrity_denied_before_secrecy),
        T(test_read_write_checks_read_then_write),
        T(test_read_write_in_propagate_still_denies_the_write_half),
        T(test_format_integrity_and_secrecy_levels),
        T(test_violation_text_secrecy),
        T(test_violation_text_integrity),
        T(test_mode_parse),
        T(test_operation_from_guard_defaults_to_write),
        T(test_pipeline_decision_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
