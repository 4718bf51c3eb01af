/*
 * difc.h — the reference monitor: tags, labels, flow rules, agents, labelled
 * responses and guard policies. Pure logic, no I/O; jansson is used only for
 * JSON values (guard outputs, tool results, /reflect, log records).
 *
 * How the pieces relate (spec: guard-abi-and-difc.md §3, §4):
 *   - A tag is an opaque string. A difc_tagset_t is a set of tags, kept
 *     sorted (strcmp) and unique, so every list printed or logged is sorted
 *     (departure 9). difc_labels_t pairs a secrecy set and an integrity set.
 *   - A difc_resource_t is a description plus labels: what label_resource
 *     says about a tool call, or what label_response says about one item.
 *   - difc_evaluate() applies the flow rules (integrity first, then secrecy)
 *     for a read, write or read-write under an enforcement mode and returns a
 *     difc_eval_t: the decision, the tags to add / drop, and upstream's
 *     reason text. difc_format_violation() builds the §3.8 coarse-deny text.
 *   - difc_agents_t is the process-wide registry of agent labels keyed by
 *     agent id (= session id). It is thread-safe; the pipeline evaluates on
 *     a snapshot and writes back with the union / accumulate calls.
 *   - The guard outputs are parsed here into C structures:
 *     difc_agent_result_parse (label_agent, §2.2),
 *     difc_resource_result_parse (label_resource, §2.3),
 *     difc_response_labels_parse (label_response, §2.4).
 *   - difc_filter_response() is Phase 5 (+ the data for Phase 6): it resolves
 *     the response labels against the backend result, evaluates every item,
 *     removes denied items in place (keeping the backend's shape and isError,
 *     departure 8), and reports what was filtered for the difc_filtered
 *     record (§4.1). It fails closed: an item without labels is denied
 *     (departure 2), and a response without labels is judged as one item
 *     carrying the Phase 1 resource labels, so a denied read never passes
 *     through (departure 1).
 *   - difc_policy_t is a parsed, validated guard policy (allow-only or
 *     write-sink, §3.10), with the allow-only -> write-sink accept mapping.
 *
 * Conventions: fallible functions return bool and take `err_t *err` last.
 * Every struct that owns memory has an _init (or is zero-initialisable:
 * `= {0}` is a valid empty value for every struct here) and a _free that
 * releases what it owns and leaves it empty again. Strings returned as
 * `char *` are malloc'd and owned by the caller (free()). json_t results are
 * new references unless said otherwise. Only difc_agents_t is shared between
 * threads; every other value is owned by one thread at a time.
 */
#ifndef FLOWGATE_DIFC_H
#define FLOWGATE_DIFC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/err.h"

/* ---------------------------------------------------------------- tags -- */

/* The wildcard tag. It has meaning only on the superset side of a check
 * (the target of a secrecy check, the source of an integrity check, §3.2);
 * anywhere else it is an ordinary tag. */
#define DIFC_WILDCARD "*"

/* A set of tags: sorted ascending by strcmp, no duplicates; each string is
 * owned by the set. {0} is the empty set. */
typedef struct difc_tagset {
    char **tags;
    size_t len;
    size_t cap;
} difc_tagset_t;

void difc_tagset_init(difc_tagset_t *s);
void difc_tagset_free(difc_tagset_t *s);          /* leaves s empty */
/* Adds one tag (copied). Adding a present tag is a no-op. False on OOM. */
bool difc_tagset_add(difc_tagset_t *s, const char *tag);
/* Adds `tag` trimmed of ASCII white space; blank tags are dropped
 * (upstream StringsToTags, used for label_agent output). */
bool difc_tagset_add_trimmed(difc_tagset_t *s, const char *tag);
bool difc_tagset_contains(const difc_tagset_t *s, const char *tag);
bool difc_tagset_remove(difc_tagset_t *s, const char *tag); /* true if it was there */
/* dst := copy of src (dst's old contents are freed). False on OOM, dst
 * then empty. */
bool difc_tagset_copy(difc_tagset_t *dst, const difc_tagset_t *src);
/* dst := dst ∪ src. False on OOM (dst unchanged). */
bool difc_tagset_union(difc_tagset_t *dst, const difc_tagset_t *src);
/* dst := dst ∩ src. Never allocates. */
void difc_tagset_intersect(difc_tagset_t *dst, const difc_tagset_t *src);
/* a ⊆ b by exact tags; the wildcard is not interpreted here. */
bool difc_tagset_is_subset(const difc_tagset_t *a, const difc_tagset_t *b);
bool difc_tagset_equal(const difc_tagset_t *a, const difc_tagset_t *b);
/* Replaces s with the strings of a JSON array. Non-string elements are
 * skipped; a NULL or non-array value gives the empty set (§2.3). With
 * `trim`, entries are trimmed and blanks dropped (§2.2). False on OOM. */
bool difc_tagset_from_json(difc_tagset_t *s, const json_t *array, bool trim);
/* A new JSON array of the tags, sorted. NULL on OOM. */
json_t *difc_tagset_to_json(const difc_tagset_t *s);
/* "[a b c]", Go's %v of a tag slice, sorted. NULL on OOM. */
char *difc_tagset_format(const difc_tagset_t *s);

/* ---------------------------------------------------------- flow check -- */

/* Secrecy kind (§3.2): src ⊆ target, passes when target holds "*".
 * Integrity kind: src ⊇ target, passes when src holds "*".
 * Return true when the flow is allowed. `violations` (may be NULL) is
 * replaced by the offending tags: the src tags missing from target
 * (secrecy), the target tags missing from src (integrity). False is also
 * returned, with an empty `violations`, only if recording them ran out of
 * memory — callers treat that as a deny, which is the safe side. */
bool difc_secrecy_flows(const difc_tagset_t *src, const difc_tagset_t *target,
                        difc_tagset_t *violations);
bool difc_integrity_flows(const difc_tagset_t *src, const difc_tagset_t *target,
                          difc_tagset_t *violations);

/* -------------------------------------------------------------- labels -- */

typedef struct difc_labels {
    difc_tagset_t secrecy;    /* empty = public */
    difc_tagset_t integrity;  /* empty = untrusted */
} difc_labels_t;

void difc_labels_init(difc_labels_t *l);
void difc_labels_free(difc_labels_t *l);
bool difc_labels_copy(difc_labels_t *dst, const difc_labels_t *src);
/* Both sets unioned (how label_agent results are applied, §2.2). */
bool difc_labels_union(difc_labels_t *dst, const difc_labels_t *src);
bool difc_labels_equal(const difc_labels_t *a, const difc_labels_t *b);
/* {"secrecy":[sorted],"integrity":[sorted]}. NULL on OOM. */
json_t *difc_labels_to_json(const difc_labels_t *l);

/* A labelled resource: what label_resource returns, or one item's labels. */
typedef struct difc_resource {
    char *description;        /* owned; NULL reads as "" */
    difc_labels_t labels;
} difc_resource_t;

void difc_resource_init(difc_resource_t *r);
void difc_resource_free(difc_resource_t *r);
bool difc_resource_set_description(difc_resource_t *r, const char *desc);
bool difc_resource_copy(difc_resource_t *dst, const difc_resource_t *src);
static inline const char *difc_resource_description(const difc_resource_t *r)
{
    return r->description ? r->description : "";
}
/* Fills r from a guard labels object {"description","secrecy","integrity"}
 * the lenient way of §2.3: a non-string description is "", non-array tag
 * lists are empty, non-string tags are skipped; tags are NOT trimmed.
 * `obj` must be an object (the caller decides what a non-object means).
 * False only on OOM. */
bool difc_resource_from_json(difc_resource_t *r, const json_t *obj, err_t *err);

/* ------------------------------------------------------ modes and ops -- */

typedef enum difc_op {
    DIFC_OP_READ = 0,
    DIFC_OP_WRITE = 1,
    DIFC_OP_READ_WRITE = 2,
} difc_op_t;

typedef enum difc_mode {
    DIFC_MODE_STRICT = 0,     /* the default */
    DIFC_MODE_FILTER = 1,
    DIFC_MODE_PROPAGATE = 2,
} difc_mode_t;

/* Case-insensitive, not trimmed; "" is strict (§3.4). Error:
 * "unknown enforcement mode: <s> (valid modes: strict, filter, propagate)". */
bool difc_mode_parse(const char *s, difc_mode_t *out, err_t *err);
const char *difc_mode_name(difc_mode_t m);   /* "strict" ... */
const char *difc_op_name(difc_op_t op);      /* "read", "write", "read-write" */
/* A guard's operation string, matched exactly: "read", "write",
 * "read-write"; anything else (NULL, "", "READ") is write (§2.3). */
difc_op_t difc_op_from_guard(const char *s);

/* ---------------------------------------------------------- evaluator -- */

typedef enum difc_decision {
    DIFC_ALLOW = 0,
    DIFC_DENY = 1,
    DIFC_ALLOW_PROPAGATE = 2,  /* a read in propagate mode that taints */
} difc_decision_t;

typedef struct difc_eval {
    difc_decision_t decision;
    difc_tagset_t secrecy_to_add;     /* the secrecy tags that failed */
    difc_tagset_t integrity_to_drop;  /* the integrity tags that failed */
    char *reason;                     /* owned; NULL when plainly allowed */
} difc_eval_t;

void difc_eval_free(difc_eval_t *ev);
static inline bool difc_eval_allowed(const difc_eval_t *ev)
{
    return ev->decision != DIFC_DENY;
}

/* The flow rules of §3.3 for `agent` doing `op` on `res` under `mode`:
 * read = R.integrity ⊇ A.integrity, then R.secrecy ⊆ A.secrecy;
 * write = A.integrity ⊇ R.integrity, then A.secrecy ⊆ R.secrecy;
 * read-write = read, then write. Integrity is checked first; when it fails
 * (outside propagate mode) secrecy is not looked at. Propagate mode turns a
 * failing read into DIFC_ALLOW_PROPAGATE; writes are denied in every mode.
 * `out` is overwritten (call difc_eval_free after). On OOM returns false
 * and sets out->decision = DIFC_DENY, so ignoring the bool stays safe. */
bool difc_evaluate(const difc_labels_t *agent, const difc_resource_t *res,
                   difc_op_t op, difc_mode_t mode, difc_eval_t *out, err_t *err);

/* The MCP error text for a coarse deny (§3.8), exact upstream wording with
 * tag lists sorted. NULL on OOM. */
char *difc_format_violation(const difc_eval_t *ev, const difc_labels_t *agent,
                            const difc_resource_t *res);
/* The <LEVEL> and <SCOPE> renderings of §3.3 (tags in set order). */
char *difc_format_integrity_level(const difc_tagset_t *tags);
char *difc_format_secrecy_level(const difc_tagset_t *tags);

/* Pipeline decision table (§3.4). */
/* A coarse deny at Phase 2 stops the call (false only for pure reads). */
bool difc_coarse_deny_is_final(difc_op_t op);
/* Phase 4 runs: read always; read-write in filter/propagate; never write. */
bool difc_should_label_response(difc_op_t op, difc_mode_t mode);
/* Phase 6 runs: not a write, and propagate mode. */
bool difc_should_accumulate(difc_op_t op, difc_mode_t mode);

/* ------------------------------------------------------------- agents -- */

/* The process-wide registry agent id -> labels. Every function is safe to
 * call from any thread concurrently; each one is atomic with respect to the
 * others. New agents start with empty labels. Agent ids are non-NULL
 * strings (the gateway uses "default" when a request names none). */
typedef struct difc_agents difc_agents_t;

difc_agents_t *difc_agents_new(void);                 /* NULL on OOM */
void difc_agents_free(difc_agents_t *reg);            /* no other users left */
/* Copies the agent's current labels into `out` (initialised by this call),
 * creating the agent with empty labels if unknown. False on OOM. */
bool difc_agents_snapshot(difc_agents_t *reg, const char *agent_id,
                          difc_labels_t *out, err_t *err);
/* Unions `add` into the agent (creating it): how a label_agent result is
 * applied (§2.2, §5 case 46). */
bool difc_agents_add(difc_agents_t *reg, const char *agent_id,
                     const difc_labels_t *add, err_t *err);
/* Phase 6 accumulation (§3.5 AccumulateFromRead): secrecy ∪= read.secrecy
 * when that is non-empty; integrity ∩= read.integrity always (an empty
 * read integrity clears the agent's). */
bool difc_agents_accumulate_read(difc_agents_t *reg, const char *agent_id,
                                 const difc_labels_t *read, err_t *err);
size_t difc_agents_count(difc_agents_t *reg);
/* The /reflect document (§3.5):
 * {"agents":{"<id>":{"secrecy":[sorted],"integrity":[sorted]}},
 *  "mode":"<mode>","timestamp":"<RFC3339 UTC>"}.
 * `timestamp` NULL means now, formatted 2006-01-02T15:04:05Z. NULL on OOM. */
json_t *difc_agents_reflect(difc_agents_t *reg, difc_mode_t mode,
                            const char *timestamp);

/* ---------------------------------------------------- guard outputs -- */

/* label_agent output (§2.2). */
typedef struct difc_agent_result {
    difc_labels_t labels;       /* trimmed, blanks dropped */
    difc_mode_t mode;
    json_t *normalized_policy;  /* owned reference or NULL; for logging */
} difc_agent_result_t;

void difc_agent_result_free(difc_agent_result_t *r);
/* Parses the bytes a guard's label_agent wrote, with the checks and error
 * texts of §2.2 in order ("failed to unmarshal label_agent response: ...",
 * "label_agent rejected policy: ...", "label_agent returned non-success
 * status", "label_agent returned error: ...", "failed to decode label_agent
 * response: ...", "label_agent response missing difc_mode", "invalid
 * difc_mode from label_agent: unknown enforcement mode: ..."). len == 0
 * gives "label_agent returned empty response". */
bool difc_agent_result_parse(const char *bytes, size_t len,
                             difc_agent_result_t *out, err_t *err);

/* label_resource output (§2.3): {"resource":{...},"operation":"..."}.
 * Errors: "failed to unmarshal label_resource WASM response: <e>",
 * "invalid resource format in guard response". On error *op is set to
 * DIFC_OP_WRITE. */
bool difc_resource_result_parse(const char *bytes, size_t len,
                                difc_resource_t *res, difc_op_t *op, err_t *err);

/* label_response output (§2.4). */
typedef enum difc_response_kind {
    DIFC_RESPONSE_NONE = 0,   /* no fine-grained labels */
    DIFC_RESPONSE_ITEMS,      /* legacy {"items":[{"data","labels"}]} */
    DIFC_RESPONSE_PATHS,      /* {"labeled_paths":[...],...} */
} difc_response_kind_t;

typedef struct difc_item {
    json_t *data;             /* owned reference (json_null() if absent) */
    bool has_labels;          /* false: the guard gave none -> denied */
    difc_resource_t labels;
} difc_item_t;

typedef struct difc_path_label {
    char *path;               /* owned JSON pointer as the guard sent it */
    difc_resource_t labels;
} difc_path_label_t;

typedef struct difc_response_labels {
    difc_response_kind_t kind;
    /* DIFC_RESPONSE_ITEMS */
    difc_item_t *items;
    size_t n_items;
    /* DIFC_RESPONSE_PATHS */
    difc_path_label_t *paths;
    size_t n_paths;
    bool has_default;
    difc_resource_t default_labels;
    char *items_path;         /* owned; NULL or "" = root / single object */
} difc_response_labels_t;

void difc_response_labels_free(difc_response_labels_t *rl);
/* Parses label_response output bytes (§2.4 order): len 0 -> NONE;
 * not an object -> "failed to unmarshal label_response WASM response: <e>";
 * "labeled_paths" present -> PATHS (shape errors: "failed to parse path
 * labels: failed to parse path labels: <e>"); non-empty "items" array ->
 * ITEMS (non-object elements dropped; missing/non-object labels ->
 * has_labels false); anything else -> NONE. */
bool difc_response_labels_parse(const char *bytes, size_t len,
                                difc_response_labels_t *out, err_t *err);
bool difc_response_labels_from_json(const json_t *v, difc_response_labels_t *out,
                                    err_t *err);

/* ----------------------------------------------- labelled collections -- */

/* The items of a response resolved against the backend result. Items point
 * into `root`, a private deep copy of the tool result that filtering edits
 * in place. */
typedef struct difc_collection {
    json_t *root;             /* owned: deep copy of the tool result */
    json_t *text_holder;      /* borrowed into root: the content item whose
                                 text was unwrapped, or NULL */
    json_t *unwrapped;        /* owned: parsed inner JSON when MCP-wrapped,
                                 else NULL (items then live in root) */
    json_t *array;            /* borrowed: the items array, or NULL when the
                                 collection is not backed by an array */
    bool whole;               /* one item that is the whole result */
    bool from_items;          /* built from the legacy items format */
    difc_item_t *items;       /* n_items entries; data = borrowed-as-owned refs */
    size_t n_items;
} difc_collection_t;

void difc_collection_free(difc_collection_t *c);
/* Resolves `rl` (PATHS or ITEMS) against `tool_result` (§2.4 path rules,
 * §5 cases 26–29). Path errors keep upstream's inner text (e.g.
 * `path "/missing" not found in response`), prefixed
 * "failed to resolve path labels: ". */
bool difc_collection_resolve(const difc_response_labels_t *rl,
                             const json_t *tool_result, difc_collection_t *out,
                             err_t *err);

/* One denied item, for the notice and the difc_filtered record (§4.1). */
typedef struct difc_filtered_item {
    char *description;        /* owned, the item label's description */
    char *reason;             /* owned, the evaluator's reason */
    bool secrecy_violation;   /* secrecy_to_add was non-empty */
    difc_labels_t labels;     /* the item's labels */
    json_t *data;             /* owned reference to the item data */
} difc_filtered_item_t;

typedef struct difc_filter_outcome {
    json_t *result;           /* owned: what the client gets, backend shape
                                 kept (departure 8); shares nothing with the
                                 backend result or `filtered`, so the caller
                                 may edit it (append the notice) */
    size_t total;             /* items judged */
    bool whole;               /* the result was judged as one item (no
                                 collection: a single object or no labels) */
    size_t accessible;
    difc_filtered_item_t *filtered;
    size_t n_filtered;
    /* strict mode and something was filtered: the whole response must be
     * replaced by difc_format_strict_block() (§4 step 13). */
    bool blocked;
    /* The labels Phase 6 accumulates (when difc_should_accumulate): see
     * the collection rule in filter.c. */
    difc_labels_t read_labels;
} difc_filter_outcome_t;

void difc_filter_outcome_free(difc_filter_outcome_t *o);
/* Phase 5: judges the backend result for `agent` doing `op` in `mode`.
 * `rl` NULL or NONE: the whole result is one item labelled with the Phase 1
 * `resource` (so a read denied at Phase 2 is filtered, never passed
 * through, departure 1; a NULL `resource` is judged unlabelled, i.e.
 * denied). Otherwise the items resolved from `rl`.
 * `tool_result` is borrowed and not modified. Errors: resolution errors
 * ("failed to apply path labels: " + difc_collection_resolve's) and OOM. */
bool difc_filter_response(const difc_labels_t *agent, difc_op_t op,
                          difc_mode_t mode, const difc_resource_t *resource,
                          const difc_response_labels_t *rl,
                          const json_t *tool_result,
                          difc_filter_outcome_t *out, err_t *err);

/* "secrecy policy" / "integrity policy" / "access policy" (§4 step 17). */
const char *difc_filter_policy_name(const difc_filter_outcome_t *o);
/* "DIFC policy violation: <F> of <T> items in response are not accessible
 * to agent <id>". */
char *difc_format_strict_block(const difc_filter_outcome_t *o, const char *agent_id);
/* The "[Filtered] <F> item(s) in this response were removed by <P> ..."
 * notice (§4 step 17). NULL when nothing was filtered or on OOM. */
char *difc_format_filter_notice(const difc_filter_outcome_t *o);
/* Tools whose name does not start with list_ or search_ (§4 step 13). */
bool difc_is_singular_read_tool(const char *tool_name);
/* "[Filtered] <desc> exists but is not accessible — filtered by <P>
 * (<reason>)" for the single filtered item. */
char *difc_format_filtered_single(const difc_filter_outcome_t *o);
/* The difc_filtered JSONL event for one filtered item (§4.1). */
json_t *difc_filtered_record(const difc_filtered_item_t *it, const char *server_id,
                             const char *tool_name, const char *timestamp);

/* ------------------------------------------------------------ policy -- */

typedef enum difc_policy_kind {
    DIFC_POLICY_ALLOW_ONLY = 0,
    DIFC_POLICY_WRITE_SINK = 1,
} difc_policy_kind_t;

typedef enum difc_repos_kind {
    DIFC_REPOS_ALL = 0,
    DIFC_REPOS_PUBLIC = 1,
    DIFC_REPOS_SCOPES = 2,
} difc_repos_kind_t;

typedef struct difc_tool_limit {
    char *tool;               /* owned */
    long long max;            /* 0 = unlimited */
} difc_tool_limit_t;

typedef struct difc_strlist {
    char **items;             /* owned strings */
    size_t len;
} difc_strlist_t;

typedef struct difc_allow_only {
    difc_repos_kind_t repos_kind;
    difc_strlist_t scopes;            /* DIFC_REPOS_SCOPES, sorted: owner wildcards
                                         (owner + "/" + star), owner/repo, owner/prefix + star */
    char *min_integrity;              /* lower-cased level */
    difc_tool_limit_t *limits;        /* tool-call-limits */
    size_t n_limits;
    difc_strlist_t blocked_users, approval_labels, trusted_users, refusal_labels;
    difc_strlist_t endorsement_reactions, disapproval_reactions;
    char *disapproval_integrity, *endorser_min_integrity;   /* NULL = absent */
    char *promotion_label, *demotion_label;                 /* NULL = absent */
} difc_allow_only_t;

typedef struct difc_write_sink {
    difc_strlist_t accept;
    char *sink_visibility;            /* lower-cased, NULL = unset */
} difc_write_sink_t;

typedef struct difc_policy {
    difc_policy_kind_t kind;
    difc_allow_only_t allow_only;
    difc_write_sink_t write_sink;
} difc_policy_t;

void difc_policy_free(difc_policy_t *p);
/* Parses and validates a GuardPolicy object ({"allow-only":{...}} or
 * {"write-sink":{...}}, keys case-insensitive) with upstream's messages
 * (§3.10). */
bool difc_policy_parse(const json_t *obj, difc_policy_t *out, err_t *err);
/* A server's `guard-policies` value (§3.10 "Per-server forms", tried in
 * order: the map itself holds allow-only/allowonly/write-sink/writesink;
 * the legacy flat {repos, min-integrity|integrity}; the policy nested under
 * `server_id`; a map with exactly one key whose value is a policy map).
 * *found false (and true returned) means no policy. Errors carry upstream's
 * "invalid server guard policy: " prefix. */
bool difc_policy_parse_server(const char *server_id, const json_t *raw, difc_policy_t *out,
                              bool *found, err_t *err);
/* Canonical JSON ({"allow-only":{...}} / {"write-sink":{...}}). */
json_t *difc_policy_to_json(const difc_policy_t *p);
/* The accept entries an allow-only policy requires of a write-sink
 * (§3.9 table): all/public -> ["*"], O/R -> private:O/R, an owner wildcard -> private:O,
 * O/P* -> private:O/P*. */
bool difc_allow_only_accept_rules(const difc_allow_only_t *ao, difc_strlist_t *out,
                                  err_t *err);
/* True when `ws` accepts everything `ao` requires (a superset is fine). */
bool difc_write_sink_covers(const difc_write_sink_t *ws, const difc_allow_only_t *ao);

void difc_strlist_free(difc_strlist_t *l);

#endif
