/*
 * fuzz_difc_filter.c — Phase 5 on arbitrary input: a guard's label_response
 * output and a backend result, judged for a small random agent in every
 * operation and mode (src/difc filter.c, collection.c).
 *
 * Input: byte 0 = agent secrecy bits, byte 1 = agent integrity bits, then
 * a JSON object {"labels": <label_response output>, "result": <tool
 * result>, "resource": <Phase 1 labels>?}; when the rest is not such an
 * object it is used as the label_response bytes against a fixed result.
 * Invariants checked (abort on violation): the backend result is never
 * modified; counts add up; strict blocks exactly when something was
 * filtered; nothing filtered means the backend result is handed back
 * unchanged (unless nothing of it was labelled); the notice, strict block,
 * single-item text and difc_filtered record can always be built.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "difc/difc.h"

static const char *const SECRECY[8] = {"private:a", "private:a/b", "private", "private:c",
                                       "*", "s", "", "private:"};
static const char *const INTEGRITY[8] = {"none:all", "unapproved:all", "approved:all", "merged:all",
                                         "*", "blocked:x", "", "none:a"};

static json_t *fixed_result;

static void check(bool cond)
{
    if (!cond)
        abort();
}

static void run_all(const difc_labels_t *agent, const difc_resource_t *res,
                    const difc_response_labels_t *rl, const json_t *result)
{
    json_t *before = json_deep_copy(result);
    for (int op = DIFC_OP_READ; op <= DIFC_OP_READ_WRITE; op++) {
        for (int m = DIFC_MODE_STRICT; m <= DIFC_MODE_PROPAGATE; m++) {
            difc_filter_outcome_t o;
            err_t err;
            if (!difc_filter_response(agent, (difc_op_t)op, (difc_mode_t)m, res, rl, result, &o, &err)) {
                check(o.result == NULL && o.n_filtered == 0);
                continue;
            }
            check(o.result != NULL);
            check(o.accessible + o.n_filtered == o.total);
            check(o.blocked == (m == DIFC_MODE_STRICT && o.n_filtered > 0));
            bool nothing_labelled = rl && rl->kind == DIFC_RESPONSE_ITEMS && o.total == 0;
            if (o.n_filtered == 0 && !nothing_labelled)
                check(json_equal(o.result, (json_t *)result));
            char *s = difc_format_filter_notice(&o);
            check((s != NULL) == (o.n_filtered > 0));
            free(s);
            s = difc_format_strict_block(&o, "agent");
            check(s != NULL);
            free(s);
            s = difc_format_filtered_single(&o);
            free(s);
            for (size_t i = 0; i < o.n_filtered; i++) {
                json_t *rec = difc_filtered_record(&o.filtered[i], "srv", "tool", "ts");
                check(rec != NULL);
                json_decref(rec);
            }
            difc_filter_outcome_free(&o);
        }
    }
    check(json_equal(before, (json_t *)result));
    json_decref(before);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fixed_result)
        fixed_result = json_loads("{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"items\\\":[{\\\"id\\\":1},"
                                  "{\\\"id\\\":2}],\\\"n\\\":[0.1,2]}\"},{\"type\":\"image\",\"data\":\"A\"}],"
                                  "\"isError\":false,\"structuredContent\":{\"x\":1}}", 0, NULL);
    if (size < 2)
        return 0;
    difc_labels_t agent = {0};
    for (int k = 0; k < 8; k++) {
        if (data[0] & (1u << k))
            difc_tagset_add(&agent.secrecy, SECRECY[k]);
        if (data[1] & (1u << k))
            difc_tagset_add(&agent.integrity, INTEGRITY[k]);
    }
    const char *rest = (const char *)data + 2;
    size_t n = size - 2;
    err_t err;
    difc_resource_t res = {0};
    difc_response_labels_t rl = {0};
    json_t *doc = json_loadb(rest, n, 0, NULL);
    const json_t *result = fixed_result;
    bool have_rl;
    if (json_is_object(doc) && json_object_get(doc, "result")) {
        result = json_object_get(doc, "result");
        const json_t *r = json_object_get(doc, "resource");
        if (json_is_object(r))
            difc_resource_from_json(&res, r, &err);
        have_rl = difc_response_labels_from_json(json_object_get(doc, "labels"), &rl, &err);
        if (!json_object_get(doc, "labels"))
            have_rl = false;
    } else {
        have_rl = difc_response_labels_parse(rest, n, &rl, &err);
    }
    run_all(&agent, &res, have_rl ? &rl : NULL, result);
    /* Phase 6 into a registry, and /reflect, never fail on such input. */
    difc_agents_t *reg = difc_agents_new();
    difc_filter_outcome_t o;
    if (difc_filter_response(&agent, DIFC_OP_READ, DIFC_MODE_PROPAGATE, &res, have_rl ? &rl : NULL, result,
                             &o, &err)) {
        check(difc_agents_add(reg, "a", &agent, &err));
        check(difc_agents_accumulate_read(reg, "a", &o.read_labels, &err));
        json_t *doc2 = difc_agents_reflect(reg, DIFC_MODE_PROPAGATE, "t");
        check(doc2 != NULL);
        json_decref(doc2);
        difc_filter_outcome_free(&o);
    }
    difc_agents_free(reg);
    difc_response_labels_free(&rl);
    difc_resource_free(&res);
    difc_labels_free(&agent);
    json_decref(doc);
    return 0;
}
