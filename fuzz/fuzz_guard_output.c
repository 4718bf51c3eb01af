/*
 * fuzz_guard_output.c — arbitrary bytes as a guard's output: every parser a
 * guard's bytes reach (label_agent, label_resource, label_response, and the
 * resolution of response labels against a tool result), plus the
 * label_agent payload checks on the same bytes read as a policy. None may
 * crash, leak or accept garbage silently into a half-built structure.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "difc/difc.h"
#include "guard/guard.h"

static json_t *tool_result;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!tool_result) {
        const char *r = "{\"content\":[{\"type\":\"text\",\"text\":\"{\\\"items\\\":[{\\\"id\\\":1},{\\\"id\\\":2},"
                        "{\\\"id\\\":3}],\\\"data\\\":{\\\"search\\\":{\\\"nodes\\\":[1,2]}}}\"}],\"isError\":false}";
        tool_result = json_loads(r, 0, NULL);
    }
    const char *s = (const char *)data;
    err_t err;

    difc_agent_result_t ar = {0};
    difc_agent_result_parse(s, size, &ar, &err);
    difc_agent_result_free(&ar);

    difc_resource_t res = {0};
    difc_op_t op;
    if (!difc_resource_result_parse(s, size, &res, &op, &err) && op != DIFC_OP_WRITE)
        abort(); /* an error must report write, the most restrictive op */
    difc_resource_free(&res);

    difc_response_labels_t rl = {0};
    if (difc_response_labels_parse(s, size, &rl, &err) && rl.kind != DIFC_RESPONSE_NONE) {
        difc_collection_t c = {0};
        difc_collection_resolve(&rl, tool_result, &c, &err);
        difc_collection_free(&c);
    }
    difc_response_labels_free(&rl);

    json_t *v = json_loadb(s, size, JSON_DECODE_ANY, NULL);
    if (v) {
        json_t *payload = NULL;
        if (guard_label_agent_payload(v, NULL, NULL, &payload, &err) && !guard_label_agent_payload_check(payload, &err))
            abort(); /* a built payload always passes its own check */
        json_decref(payload);
        json_decref(v);
    }
    return 0;
}
