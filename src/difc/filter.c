/* filter.c — placeholder, replaced by the full implementation. */
#include "difc/difc.h"

#include <stdlib.h>
#include <string.h>

void difc_filter_outcome_free(difc_filter_outcome_t *o)
{
    json_decref(o->result);
    free(o->filtered);
    difc_labels_free(&o->read_labels);
    memset(o, 0, sizeof *o);
}

bool difc_filter_response(const difc_labels_t *agent, difc_op_t op, difc_mode_t mode,
                          const difc_resource_t *resource, const difc_response_labels_t *rl,
                          const json_t *tool_result, difc_filter_outcome_t *out, err_t *err)
{
    (void)agent; (void)op; (void)mode; (void)resource; (void)rl; (void)tool_result;
    memset(out, 0, sizeof *out);
    return err_set(err, "not implemented");
}

const char *difc_filter_policy_name(const difc_filter_outcome_t *o) { (void)o; return "access policy"; }
char *difc_format_strict_block(const difc_filter_outcome_t *o, const char *agent_id) { (void)o; (void)agent_id; return NULL; }
char *difc_format_filter_notice(const difc_filter_outcome_t *o) { (void)o; return NULL; }
bool difc_is_singular_read_tool(const char *t) { return strncmp(t, "list_", 5) && strncmp(t, "search_", 7); }
char *difc_format_filtered_single(const difc_filter_outcome_t *o) { (void)o; return NULL; }
json_t *difc_filtered_record(const difc_filtered_item_t *it, const char *s, const char *t, const char *ts) { (void)it; (void)s; (void)t; (void)ts; return NULL; }
