/* collection.c — placeholder, replaced by the full implementation. */
#include "difc/difc.h"

#include <stdlib.h>
#include <string.h>

void difc_collection_free(difc_collection_t *c)
{
    json_decref(c->root);
    json_decref(c->unwrapped);
    free(c->items);
    memset(c, 0, sizeof *c);
}

bool difc_collection_resolve(const difc_response_labels_t *rl, const json_t *tool_result,
                             difc_collection_t *out, err_t *err)
{
    (void)rl;
    (void)tool_result;
    memset(out, 0, sizeof *out);
    return err_set(err, "not implemented");
}
