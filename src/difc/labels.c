/*
 * labels.c — label pairs (secrecy + integrity) and labelled resources
 * (spec §3.1, §2.3).
 */
#include "difc/difc.h"

#include <stdlib.h>
#include <string.h>

void difc_labels_init(difc_labels_t *l)
{
    difc_tagset_init(&l->secrecy);
    difc_tagset_init(&l->integrity);
}

void difc_labels_free(difc_labels_t *l)
{
    difc_tagset_free(&l->secrecy);
    difc_tagset_free(&l->integrity);
}

bool difc_labels_copy(difc_labels_t *dst, const difc_labels_t *src)
{
    if (!difc_tagset_copy(&dst->secrecy, &src->secrecy) ||
        !difc_tagset_copy(&dst->integrity, &src->integrity)) {
        difc_labels_free(dst);
        return false;
    }
    return true;
}

bool difc_labels_union(difc_labels_t *dst, const difc_labels_t *src)
{
    /* Build the result aside so that OOM leaves dst unchanged. */
    difc_labels_t tmp = {0};
    if (!difc_labels_copy(&tmp, dst) || !difc_tagset_union(&tmp.secrecy, &src->secrecy) ||
        !difc_tagset_union(&tmp.integrity, &src->integrity)) {
        difc_labels_free(&tmp);
        return false;
    }
    difc_labels_free(dst);
    *dst = tmp;
    return true;
}

bool difc_labels_equal(const difc_labels_t *a, const difc_labels_t *b)
{
    return difc_tagset_equal(&a->secrecy, &b->secrecy) &&
           difc_tagset_equal(&a->integrity, &b->integrity);
}

json_t *difc_labels_to_json(const difc_labels_t *l)
{
    json_t *o = json_object();
    json_t *s = difc_tagset_to_json(&l->secrecy);
    json_t *i = difc_tagset_to_json(&l->integrity);
    if (!o || !s || !i || json_object_set_new(o, "secrecy", s) != 0) {
        json_decref(o);
        json_decref(s);
        json_decref(i);
        return NULL;
    }
    if (json_object_set_new(o, "integrity", i) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

void difc_resource_init(difc_resource_t *r)
{
    r->description = NULL;
    difc_labels_init(&r->labels);
}

void difc_resource_free(difc_resource_t *r)
{
    free(r->description);
    r->description = NULL;
    difc_labels_free(&r->labels);
}

bool difc_resource_set_description(difc_resource_t *r, const char *desc)
{
    char *d = strdup(desc ? desc : "");
    if (!d)
        return false;
    free(r->description);
    r->description = d;
    return true;
}

bool difc_resource_copy(difc_resource_t *dst, const difc_resource_t *src)
{
    if (dst == src)
        return true;
    if (!difc_resource_set_description(dst, difc_resource_description(src)) ||
        !difc_labels_copy(&dst->labels, &src->labels)) {
        difc_resource_free(dst);
        return false;
    }
    return true;
}

bool difc_resource_from_json(difc_resource_t *r, const json_t *obj, err_t *err)
{
    const json_t *d = json_object_get(obj, "description");
    if (!difc_resource_set_description(r, json_is_string(d) ? json_string_value(d) : "") ||
        !difc_tagset_from_json(&r->labels.secrecy, json_object_get(obj, "secrecy"), false) ||
        !difc_tagset_from_json(&r->labels.integrity, json_object_get(obj, "integrity"), false)) {
        difc_resource_free(r);
        return err_set(err, "out of memory");
    }
    return true;
}
