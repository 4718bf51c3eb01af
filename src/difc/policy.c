/* policy.c — placeholder, replaced by the full implementation. */
#include "difc/difc.h"

#include <stdlib.h>
#include <string.h>

void difc_strlist_free(difc_strlist_t *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->len = 0;
}

void difc_policy_free(difc_policy_t *p) { memset(p, 0, sizeof *p); }
bool difc_policy_parse(const json_t *obj, difc_policy_t *out, err_t *err) { (void)obj; memset(out, 0, sizeof *out); return err_set(err, "not implemented"); }
json_t *difc_policy_to_json(const difc_policy_t *p) { (void)p; return NULL; }
bool difc_allow_only_accept_rules(const difc_allow_only_t *ao, difc_strlist_t *out, err_t *err) { (void)ao; memset(out, 0, sizeof *out); return err_set(err, "not implemented"); }
bool difc_write_sink_covers(const difc_write_sink_t *ws, const difc_allow_only_t *ao) { (void)ws; (void)ao; return false; }
