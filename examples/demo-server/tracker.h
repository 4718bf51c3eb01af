/*
 * tracker.h — the demo server's one concern besides the wire: a tiny issue
 * tracker ("demo/tracker") with public and private issues, and the MCP tools
 * that read and write it.
 *
 * The data is what the demo guard (examples/demo-guard) labels: every issue
 * carries `visibility` ("public" or "private") and `author_association`
 * (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE), which the guard turns
 * into secrecy and integrity tags. Tools:
 *   list_issues        read: all issues, public and private
 *   get_issue          read: one issue by number
 *   create_issue       write: appends an issue
 *   list_public_notes  read: data with no private part
 *   sleep              read: waits `ms` milliseconds (for timeout tests)
 *
 * Every tools/call the server receives is appended, before anything else is
 * done with it, as one JSON line {"tool":..,"arguments":..} to the call log
 * (when one is configured), so a test can prove which calls reached it.
 *
 * Ownership (jansson): functions returning json_t * return a new reference.
 * Single-threaded: the server handles one message at a time.
 */
#ifndef DEMO_TRACKER_H
#define DEMO_TRACKER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

typedef struct tracker tracker_t;

/* A tracker holding the built-in issues. `call_log` may be NULL (no log);
 * it is borrowed and must outlive the tracker. NULL on allocation failure. */
tracker_t *tracker_new(FILE *call_log);
void tracker_free(tracker_t *t);

/* The tool descriptions for tools/list, as an array (new reference). */
json_t *tracker_tool_list(void);

/* Outcome of a tools/call: either a CallToolResult (*result, which may have
 * isError set for a tool execution error) or a JSON-RPC protocol error
 * (unknown tool, malformed params: *code and *message). */
typedef struct tracker_outcome {
    json_t *result;        /* new reference, or NULL on a protocol error */
    int code;              /* JSON-RPC error code when result is NULL */
    char message[160];     /* JSON-RPC error message when result is NULL */
} tracker_outcome_t;

/* Runs tools/call with the request's `params` (borrowed, may be NULL). */
tracker_outcome_t tracker_call(tracker_t *t, const json_t *params);

#endif
