/*
 * payload.c — large tool results saved to disk (spec: gateway §4.11).
 *
 * A result whose compact JSON is longer than the threshold is written to
 * <payloadDir>/<session>/<queryID>/payload.json (dirs 0755, file 0600) and
 * replaced by one text item describing it: path, a preview of at most 500
 * bytes cut at a UTF-8 boundary, a type schema, the original size.
 */
#include "gateway/gateway_internal.h"
#include "gateway/log_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PREVIEW_MAX 500
#define FAST_PATH_MARGIN 4096

static const char instructions[] =
    "The payload was too large for an MCP response. The complete original response data is saved as a "
    "JSON file at payloadPath. The file contains valid JSON that can be parsed directly. The payloadSchema "
    "shows the structure and types of fields in the full response, but not the actual values. To access "
    "the full data with all values, read and parse the JSON file at payloadPath.";

json_t *gw_payload_schema(json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) json_object_set_new(o, k, gw_payload_schema(x));
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        if (json_array_size(v) > 0)
            json_array_append_new(a, gw_payload_schema(json_array_get(v, 0)));
        return a;
    }
    case JSON_STRING: return json_string("string");
    case JSON_INTEGER:
    case JSON_REAL: return json_string("number");
    case JSON_TRUE:
    case JSON_FALSE: return json_string("boolean");
    default: return json_string("null");
    }
}

/* The fast path of upstream: one text item well under the threshold. */
static bool obviously_small(json_t *r, long threshold)
{
    if (threshold <= FAST_PATH_MARGIN)
        return false;
    json_t *content = json_object_get(r, "content");
    size_t nkeys = json_object_size(r);
    if (!json_is_array(content) || json_array_size(content) != 1)
        return false;
    if (nkeys != 1 && !(nkeys == 2 && json_object_get(r, "isError")))
        return false;
    json_t *item = json_array_get(content, 0);
    const char *type = json_string_value(json_object_get(item, "type"));
    json_t *text = json_object_get(item, "text");
    return type && !strcmp(type, "text") && json_is_string(text) &&
           (long)json_string_length(text) <= threshold - FAST_PATH_MARGIN;
}

static bool write_file(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return false;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return false;
        }
        off += (size_t)w;
    }
    fchmod(fd, 0600);
    return close(fd) == 0;
}

json_t *gw_payload_spill(const char *dir, const char *prefix, long threshold, const char *gsid, json_t *result)
{
    if (!result || obviously_small(result, threshold))
        return NULL;
    size_t len = 0;
    char *payload = json_dumps(result, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!payload)
        return NULL;
    len = strlen(payload);
    if ((long)len <= threshold) {
        free(payload);
        return NULL;
    }
    if (!gsid || !*gsid)
        gsid = "default";
    char qid[65];
    if (!gw_random_hex(qid, 16)) {
        free(payload);
        return NULL;
    }
    char qdir[4096], path[4200];
    snprintf(qdir, sizeof qdir, "%s/%s/%s", dir, gsid, qid);
    snprintf(path, sizeof path, "%s/payload.json", qdir);
    const char *shown = path;
    if (!gw_mkdir_p(qdir, 0755) || !write_file(path, payload, len)) {
        gw_log(GW_LOG_ERROR, "payload", "failed to save payload to %s: %s", path, strerror(errno));
        shown = "";
    } else {
        gw_log(GW_LOG_INFO, "payload", "Saved large payload (%zu bytes) to %s", len, path);
    }
    char shown_buf[4400];
    if (*shown && prefix && *prefix) {
        snprintf(shown_buf, sizeof shown_buf, "%s/%s/%s/payload.json", prefix, gsid, qid);
        shown = shown_buf;
    }
    /* Preview: 500 bytes, cut back to the start of a UTF-8 sequence. */
    size_t plen = len;
    bool cut = false;
    if (plen > PREVIEW_MAX) {
        plen = PREVIEW_MAX;
        while (plen > 0 && ((unsigned char)payload[plen] & 0xC0) == 0x80)
            plen--;
        cut = true;
    }
    char *preview = malloc(plen + 4);
    if (!preview) {
        free(payload);
        return NULL;
    }
    memcpy(preview, payload, plen);
    memcpy(preview + plen, cut ? "..." : "", cut ? 4 : 1);
    json_t *meta = json_object();
    json_object_set_new(meta, "agentInstructions", json_string(instructions));
    json_object_set_new(meta, "payloadPath", json_string(shown));
    json_object_set_new(meta, "payloadPreview", json_string(preview));
    json_object_set_new(meta, "payloadSchema", gw_payload_schema(result));
    json_object_set_new(meta, "originalSize", json_integer((json_int_t)len));
    char *text = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(meta);
    free(preview);
    free(payload);
    if (!text)
        return NULL;
    json_t *out = json_pack("{s:[{s:s,s:s}]}", "content", "type", "text", "text", text);
    free(text);
    json_t *ie = json_object_get(result, "isError");
    if (ie)
        json_object_set(out, "isError", ie);
    json_t *m = json_object_get(result, "_meta");
    if (m)
        json_object_set(out, "_meta", m);
    return out;
}
