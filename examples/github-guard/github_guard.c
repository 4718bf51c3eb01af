/*
 * github_guard.c — a sample DIFC guard for the GitHub MCP server (and the
 * gateway's proxy mode, which hands it raw GitHub REST/GraphQL bodies): a
 * simplified C counterpart of upstream's Rust github-guard, compiled to
 * wasm32 with no libc on the runtime in ../demo-guard/guard_rt.c.
 *
 * Exports (spec: guard-abi §1.2-§1.3): memory, alloc, dealloc (guard_rt),
 * label_agent, label_resource, label_response. Imports env.call_backend (to
 * learn a repository's visibility) and env.host_log (spec: guard-abi §1.4).
 *
 * Tag vocabulary (spec: guard-abi §2.2, §3.11):
 *   scope token   the policy's scope labels ("all", "public", "owner",
 *                 "owner/repo", "owner/prefix*") joined by " | ", for repos
 *                 inside the policy; a repo outside it uses its own "o/r"
 *   integrity     cumulative none < unapproved < approved < merged, as
 *                 "<level>:<token>", or "integrity=<level>;scopes=a,b" for a
 *                 policy of several scopes; "blocked:<token>" (no agent ever
 *                 holds it) for unknown and permanently blocked tools
 *   secrecy       a private repo: nothing under "all", "private" under
 *                 "public", "private:<owner>" under an owner wildcard,
 *                 "private:<scope label>" under a repo or prefix scope,
 *                 "private:<o>/<r>" outside the policy; public repos none.
 *                 Unknown visibility counts as private (fail secure).
 *
 * State that outlives a call (static, never scratch memory): the policy
 * from the last accepted label_agent (the host replays it on every pooled
 * instance), the trusted bots and users, and a bounded cache of repository
 * visibility.
 */
#include "guard_rt.h"

enum { LVL_NONE, LVL_UNAPPROVED, LVL_APPROVED, LVL_MERGED, LVL_COUNT };
#define LVL_EMPTY (-1)  /* no integrity tags at all */
#define LVL_BLOCKED 100 /* the single blocked tag */
static const char *const level_names[LVL_COUNT] = {"none", "unapproved", "approved", "merged"};

enum { SK_ALL, SK_PUBLIC, SK_OWNER, SK_REPO, SK_PREFIX };
static const char *const kind_names[] = {"All", "Public", "Owner", "Repo", "RepoPrefix"};

#define MAX_SCOPES 64
#define OWNER_MAX 64                      /* GitHub allows 39 */
#define REPO_MAX 128                      /* GitHub allows 100 */
#define ID_MAX (OWNER_MAX + REPO_MAX + 2) /* "owner/repo*" */
#define TOKEN_MAX (MAX_SCOPES * (ID_MAX + 3))
#define MAX_TRUSTED 128
#define LOGIN_MAX 128
#define VIS_CACHE 64
#define BACKEND_BUF (64u << 10) /* first buffer for a call_backend result */

typedef struct scope {
    int kind;
    char owner[OWNER_MAX];
    size_t owner_n;
    char repo[REPO_MAX]; /* the repo, or a prefix without its '*' */
    size_t repo_n;
    char label[ID_MAX]; /* "owner", "owner/repo", "owner/prefix*", "all", "public" */
    size_t label_n;
} scope_t;

typedef struct policy {
    size_t n_scopes;
    scope_t scopes[MAX_SCOPES];
    int min_level;
    bool broad;            /* repos "all" or "public": every repo is in scope */
    char token[TOKEN_MAX]; /* labels joined " | " */
    size_t token_n;
    char csv[TOKEN_MAX]; /* labels joined "," (the composite form) */
    size_t csv_n;
    size_t n_trusted;
    char trusted[MAX_TRUSTED][LOGIN_MAX];
    size_t trusted_n[MAX_TRUSTED];
} policy_t;

static policy_t policy;  /* from the last accepted label_agent */
static policy_t staging; /* label_agent parses here, so a rejected input changes nothing */

/* First-party bots whose content is trusted like a writer's. */
static const char *const builtin_bots[] = {"dependabot[bot]", "github-actions[bot]", "copilot"};

/* ---- small helpers ------------------------------------------------------- */

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }
static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t cstrlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static bool bytes_eq(const char *a, size_t n, const char *b, size_t m)
{
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static bool bytes_eq_ci(const char *a, size_t n, const char *b, size_t m)
{
    if (n != m)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static bool lit_eq_ci(const char *a, size_t n, const char *lit) { return bytes_eq_ci(a, n, lit, cstrlen(lit)); }

static bool starts_with(const char *s, size_t n, const char *lit)
{
    size_t m = cstrlen(lit);
    return n >= m && bytes_eq(s, m, lit, m);
}

static void copy_bytes(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* Decodes string `s` into buf, trimmed; false when s is not a string or
 * does not fit. */
static bool decode_trimmed(js_t s, char *buf, size_t cap, size_t *len)
{
    long n = js_str_decode(s, buf, cap);
    if (n < 0)
        return false;
    size_t a = 0, b = (size_t)n;
    while (a < b && is_space(buf[a]))
        a++;
    while (b > a && is_space(buf[b - 1]))
        b--;
    for (size_t i = a; i < b; i++)
        buf[i - a] = buf[i];
    *len = b - a;
    return true;
}

/* The member of obj whose key equals `key` ignoring ASCII case. */
static bool get_ci(js_t obj, const char *key, js_t *out)
{
    js_iter_t it;
    js_t k, v;
    char buf[64];
    if (!js_is_object(obj) || !js_iter_begin(obj, &it))
        return false;
    while (js_iter_next_member(&it, &k, &v)) {
        long n = js_str_decode(k, buf, sizeof buf);
        if (n >= 0 && lit_eq_ci(buf, (size_t)n, key)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* The inside of a JSON string token (still escaped: valid inside another
 * JSON string as is). */
static void jw_inner(jw_t *w, js_t s)
{
    if (js_is_string(s) && s.n >= 2)
        jw_raw(w, s.p + 1, s.n - 2);
}

static bool js_bool(js_t v, bool *out)
{
    if (v.n == 4 && v.p[0] == 't') {
        *out = true;
        return true;
    }
    if (v.n == 5 && v.p[0] == 'f') {
        *out = false;
        return true;
    }
    return false;
}

/* ---- repositories ---------------------------------------------------------- */

typedef struct repo {
    char owner[OWNER_MAX];
    size_t owner_n;
    char name[REPO_MAX];
    size_t name_n;
    char id[ID_MAX]; /* "owner/name" */
    size_t id_n;
} repo_t;

static bool repo_set(repo_t *r, const char *owner, size_t on, const char *name, size_t nn)
{
    if (on == 0 || nn == 0 || on >= OWNER_MAX || nn >= REPO_MAX)
        return false;
    copy_bytes(r->owner, owner, on);
    r->owner_n = on;
    copy_bytes(r->name, name, nn);
    r->name_n = nn;
    copy_bytes(r->id, owner, on);
    r->id[on] = '/';
    copy_bytes(r->id + on + 1, name, nn);
    r->id_n = on + 1 + nn;
    return true;
}

/* "owner/name" with both parts non-empty and no further '/'. */
static bool repo_from_full_name(repo_t *r, const char *s, size_t n)
{
    size_t slash = 0;
    while (slash < n && s[slash] != '/')
        slash++;
    if (slash >= n)
        return false;
    for (size_t i = slash + 1; i < n; i++)
        if (s[i] == '/')
            return false;
    return repo_set(r, s, slash, s + slash + 1, n - slash - 1);
}

static bool repo_from_js(repo_t *r, js_t full_name)
{
    char buf[ID_MAX];
    long n = js_str_decode(full_name, buf, sizeof buf);
    return n > 0 && repo_from_full_name(r, buf, (size_t)n);
}

/* owner/repo from the tool arguments: 1 found, 0 absent, -1 unusable (too
 * long for any GitHub name). */
static int repo_from_args(js_t args, repo_t *r)
{
    js_t o, n;
    char ob[OWNER_MAX], nb[REPO_MAX];
    if (!js_get(args, "owner", &o) || !js_get(args, "repo", &n) || !js_is_string(o) || !js_is_string(n))
        return 0;
    long on = js_str_decode(o, ob, sizeof ob), nn = js_str_decode(n, nb, sizeof nb);
    if (on == 0 || nn == 0)
        return 0;
    if (on < 0 || nn < 0 || !repo_set(r, ob, (size_t)on, nb, (size_t)nn))
        return -1;
    return 1;
}

/* "https://api.github.com/repos/o/r[/...]" or "https://github.com/o/r[/...]". */
static bool repo_from_url(repo_t *r, js_t url)
{
    static const char *const prefixes[] = {"https://api.github.com/repos/", "http://api.github.com/repos/",
                                           "https://github.com/", "http://github.com/"};
    char buf[512];
    long n = js_str_decode(url, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        if (!starts_with(buf, (size_t)n, prefixes[i]))
            continue;
        size_t a = cstrlen(prefixes[i]), b = a;
        while (b < (size_t)n && buf[b] != '/')
            b++;
        size_t c = b + 1, d = c;
        while (d < (size_t)n && buf[d] != '/')
            d++;
        return b < (size_t)n && repo_set(r, buf + a, b - a, buf + c, d - c);
    }
    return false;
}

/* ---- the policy's scopes ---------------------------------------------------- */

static bool scope_matches(const scope_t *s, const repo_t *r)
{
    switch (s->kind) {
    case SK_ALL:
    case SK_PUBLIC:
        return true;
    case SK_OWNER:
        return bytes_eq_ci(r->owner, r->owner_n, s->owner, s->owner_n);
    case SK_REPO:
        return bytes_eq_ci(r->owner, r->owner_n, s->owner, s->owner_n) &&
               bytes_eq_ci(r->name, r->name_n, s->repo, s->repo_n);
    default: /* a prefix: owner ignoring case, prefix exactly (as upstream) */
        return bytes_eq_ci(r->owner, r->owner_n, s->owner, s->owner_n) && r->name_n >= s->repo_n &&
               bytes_eq(r->name, s->repo_n, s->repo, s->repo_n);
    }
}

static const scope_t *first_match(const repo_t *r)
{
    for (size_t i = 0; i < policy.n_scopes; i++)
        if (scope_matches(&policy.scopes[i], r))
            return &policy.scopes[i];
    return NULL;
}

/* What integrity tags are scoped to. */
typedef struct token {
    const char *p;
    size_t n;
    bool composite; /* p is the "a,b" list of the composite form */
} token_t;

static token_t policy_token(void)
{
    if (policy.n_scopes > 1)
        return (token_t){policy.csv, policy.csv_n, true};
    return (token_t){policy.token, policy.token_n, false};
}

/* In scope: the policy's token, so in-scope data can meet the agent's floor;
 * outside: the repo's own id, which no agent holds (spec: guard-abi §3.11). */
static token_t repo_token(const repo_t *r)
{
    if (policy.n_scopes > 0 && (policy.broad || first_match(r)))
        return policy_token();
    return (token_t){r->id, r->id_n, false};
}

typedef enum { SEC_PUBLIC, SEC_PRIVATE, SEC_SCOPED } sec_kind_t;
typedef struct secrecy {
    sec_kind_t kind;
    const char *p; /* SEC_SCOPED: the x of "private:x" */
    size_t n;
} secrecy_t;

static const secrecy_t SECRECY_PUBLIC = {SEC_PUBLIC, 0, 0};

/* The secrecy of a private repo (spec: guard-abi §3.11). */
static secrecy_t private_secrecy(const repo_t *r)
{
    const scope_t *s = first_match(r);
    if (!s)
        return (secrecy_t){SEC_SCOPED, r->id, r->id_n};
    switch (s->kind) {
    case SK_ALL:
        return SECRECY_PUBLIC;
    case SK_PUBLIC:
        return (secrecy_t){SEC_PRIVATE, 0, 0};
    case SK_OWNER:
        return (secrecy_t){SEC_SCOPED, s->owner, s->owner_n};
    default:
        return (secrecy_t){SEC_SCOPED, s->label, s->label_n};
    }
}

/* ---- writing labels --------------------------------------------------------- */

static void write_tag(jw_t *w, const char *level, token_t t)
{
    jw_lit(w, "\"");
    if (t.composite) {
        jw_lit(w, "integrity=");
        jw_lit(w, level);
        jw_lit(w, ";scopes=");
        jw_esc(w, t.p, t.n);
    } else {
        jw_lit(w, level);
        if (t.n) {
            jw_lit(w, ":");
            jw_esc(w, t.p, t.n);
        }
    }
    jw_lit(w, "\"");
}

static void write_integrity(jw_t *w, token_t t, int level)
{
    jw_lit(w, "[");
    if (level == LVL_BLOCKED) {
        write_tag(w, "blocked", t);
    } else {
        for (int i = 0; i <= level && i < LVL_COUNT; i++) {
            if (i)
                jw_lit(w, ",");
            write_tag(w, level_names[i], t);
        }
    }
    jw_lit(w, "]");
}

static void write_secrecy(jw_t *w, secrecy_t s)
{
    if (s.kind == SEC_PUBLIC) {
        jw_lit(w, "[]");
    } else if (s.kind == SEC_PRIVATE) {
        jw_lit(w, "[\"private\"]");
    } else {
        jw_lit(w, "[\"private:");
        jw_esc(w, s.p, s.n);
        jw_lit(w, "\"]");
    }
}

/* A description "<prefix><tool>[:<repo>][#<number>]". */
typedef struct desc {
    const char *prefix;
    js_t tool;          /* the tool_name string token */
    const repo_t *repo; /* may be NULL */
    js_t number;        /* a plain integer token, or {0, 0} */
} desc_t;

static void write_labels(jw_t *w, desc_t d, secrecy_t s, token_t t, int level)
{
    jw_lit(w, "{\"description\":\"");
    jw_lit(w, d.prefix);
    jw_inner(w, d.tool);
    if (d.repo) {
        jw_lit(w, ":");
        jw_esc(w, d.repo->id, d.repo->id_n);
    }
    if (d.number.n) {
        jw_lit(w, "#");
        jw_js(w, d.number);
    }
    jw_lit(w, "\",\"secrecy\":");
    write_secrecy(w, s);
    jw_lit(w, ",\"integrity\":");
    write_integrity(w, t, level);
    jw_lit(w, "}");
}

/* ---- MCP results ------------------------------------------------------------ */

/* Content items whose text the host unwraps: a string "text", and a type
 * that is not image, audio or resource (spec: guard-abi §2.4 step 1). */
static bool text_item(js_t item, js_t *text)
{
    js_t type;
    if (!js_get(item, "text", text) || !js_is_string(*text))
        return false;
    return !(js_get(item, "type", &type) &&
             (js_str_eq(type, "image") || js_str_eq(type, "audio") || js_str_eq(type, "resource")));
}

/* Unwraps an MCP CallToolResult the way the host does (the text of every
 * text item, concatenated, parsed as JSON) so that paths resolve against
 * the same data. Returns 1 with *data the inner JSON, 0 when v is not a
 * wrapper (*data = v), -1 for a wrapper whose text is not JSON. */
static int unwrap_mcp(js_t v, js_t *data)
{
    js_t content, item, text;
    js_iter_t it;
    size_t total = 0, len = 0;
    bool any = false;
    *data = v;
    if (!js_get(v, "content", &content) || !js_is_array(content) || !js_iter_begin(content, &it))
        return 0;
    while (js_iter_next(&it, &item))
        if (text_item(item, &text)) {
            total += text.n;
            any = true;
        }
    if (!any)
        return 0;
    char *buf = rt_alloc(total + 1);
    if (!buf || !js_iter_begin(content, &it))
        return -1;
    while (js_iter_next(&it, &item)) {
        if (!text_item(item, &text))
            continue;
        long n = js_str_decode(text, buf + len, total - len);
        if (n < 0)
            return -1;
        len += (size_t)n;
    }
    return js_parse(buf, len, data) ? 1 : -1;
}

/* ---- repository visibility -------------------------------------------------- */

typedef struct vis_entry {
    char id[ID_MAX]; /* lower-cased "owner/name" */
    size_t n;
    bool private_;
} vis_entry_t;

static vis_entry_t vis_cache[VIS_CACHE];
static size_t vis_used, vis_next; /* entries in use; the next one to replace */

static int vis_lookup(const repo_t *r)
{
    for (size_t i = 0; i < vis_used; i++)
        if (bytes_eq_ci(vis_cache[i].id, vis_cache[i].n, r->id, r->id_n))
            return vis_cache[i].private_ ? 1 : 0;
    return -1;
}

static void vis_store(const repo_t *r, bool private_)
{
    vis_entry_t *e = &vis_cache[vis_next];
    for (size_t i = 0; i < r->id_n; i++)
        e->id[i] = lower(r->id[i]);
    e->n = r->id_n;
    e->private_ = private_;
    vis_next = (vis_next + 1) % VIS_CACHE;
    if (vis_used < VIS_CACHE)
        vis_used++;
}

/* The private flag of a repository object: "private" / "isPrivate" (bool)
 * or "visibility" ("public"; "private" and "internal" count as private). */
static int private_flag(js_t obj)
{
    js_t v;
    bool b;
    if ((js_get(obj, "private", &v) || js_get(obj, "isPrivate", &v) || js_get(obj, "is_private", &v)) &&
        js_bool(v, &b))
        return b ? 1 : 0;
    if (js_get(obj, "visibility", &v)) {
        if (js_str_eq(v, "public"))
            return 0;
        if (js_str_eq(v, "private") || js_str_eq(v, "internal"))
            return 1;
    }
    return -1;
}

/* The flag of the repository object for r in a search_repositories answer
 * ({"items":[...]}, a bare array, or one object); -1 when r is not there. */
static int find_private_flag(js_t data, const repo_t *r)
{
    js_t items, obj, name;
    js_iter_t it;
    if (js_get(data, "items", &items) && js_is_array(items))
        data = items;
    if (!js_is_array(data)) {
        if ((js_get(data, "full_name", &name) || js_get(data, "fullName", &name)) && js_is_string(name)) {
            repo_t got;
            if (repo_from_js(&got, name) && bytes_eq_ci(got.id, got.id_n, r->id, r->id_n))
                return private_flag(data);
        }
        return -1;
    }
    js_iter_begin(data, &it);
    while (js_iter_next(&it, &obj)) {
        repo_t got;
        if ((js_get(obj, "full_name", &name) || js_get(obj, "fullName", &name)) && repo_from_js(&got, name) &&
            bytes_eq_ci(got.id, got.id_n, r->id, r->id_n))
            return private_flag(obj);
    }
    return -1;
}

static void log_repo(int32_t level, const char *what, const repo_t *r)
{
    char msg[ID_MAX + 128];
    jw_t w = {msg, sizeof msg, 0};
    jw_lit(&w, "repo visibility ");
    jw_raw(&w, r->id, r->id_n);
    jw_lit(&w, ": ");
    jw_lit(&w, what);
    rt_log(level, msg, w.len <= w.cap ? w.len : w.cap);
}

/* 1 private, 0 public, -1 unknown. Asks the backend with the reference
 * guard's query (spec: guard-abi §2.5) and caches determined answers only,
 * so a failed lookup is retried next time. */
static int repo_visibility(const repo_t *r)
{
    int v = vis_lookup(r);
    if (v >= 0)
        return v;
    size_t cap = 64 + 6 * r->id_n;
    char *args = rt_alloc(cap);
    if (!args)
        return -1;
    jw_t w = {args, cap, 0};
    jw_lit(&w, "{\"query\":\"repo:");
    jw_esc(&w, r->id, r->id_n);
    jw_lit(&w, "\",\"perPage\":10}");
    const char *res;
    size_t res_n;
    js_t doc, data;
    if (w.len > w.cap ||
        !rt_call_backend_alloc("search_repositories", 19, args, w.len, BACKEND_BUF, &res, &res_n)) {
        log_repo(2, "unknown (backend call failed), labelled private", r);
        return -1;
    }
    if (!js_parse(res, res_n, &doc) || unwrap_mcp(doc, &data) < 0 || (v = find_private_flag(data, r)) < 0) {
        log_repo(2, "unknown (not in the search answer), labelled private", r);
        return -1;
    }
    vis_store(r, v == 1);
    log_repo(0, v ? "private" : "public", r);
    return v;
}

/* The secrecy of data from repo r: public, or private in r's scope form;
 * unknown visibility is private (fail secure). known_flag: the repo's own
 * private flag when the data carries one (-1: ask). */
static secrecy_t repo_secrecy(const repo_t *r, int known_flag)
{
    int v = known_flag >= 0 ? known_flag : repo_visibility(r);
    return v == 0 ? SECRECY_PUBLIC : private_secrecy(r);
}

/* ---- tool classes ------------------------------------------------------------ */

static bool name_in(js_t name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (js_str_eq(name, list[i]))
            return true;
    return false;
}

#define IN(name, list) name_in(name, list, sizeof list / sizeof list[0])

static const char *const read_tools[] = {
    "list_issues", "issue_read", "list_pull_requests", "pull_request_read",
    "get_commit", "list_commits", "list_branches", "get_tag", "list_tags",
    "get_latest_release", "get_release_by_tag", "list_releases", "get_file_contents",
    "get_label", "list_label", "actions_list", "actions_get", "get_job_logs",
    "list_notifications", "get_me", "list_discussions", "get_discussion_comments",
    "list_discussion_categories", "search_code", "search_issues", "search_repositories",
    "list_projects", "search_orgs", "get_repository",
};

/* Reads whose items carry no author: repository content maintained by the
 * repo's writers and reviewed on the way in, so merged. */
static const char *const content_tools[] = {
    "get_file_contents", "list_commits", "get_commit",         "list_branches",      "list_tags",
    "get_repository",    "get_tag",      "get_latest_release", "get_release_by_tag", "list_releases",
};

/* Permanently blocked (spec: guard-abi §3.11). */
static const char *const blocked_tools[] = {
    "archive_repository", "create_agent_task", "rename_repository", "transfer_repository", "unarchive_repository",
};

/* The reference guard's write and read-write tools (both are writes here). */
static const char *const write_tools[] = {
    "create_repository", "create_branch", "create_or_update_file", "push_files", "delete_file",
    "fork_repository", "create_pull_request", "add_comment_to_pending_review",
    "add_reply_to_pull_request_comment", "request_copilot_review", "add_issue_comment",
    "assign_copilot_to_issue", "run_workflow", "rerun_workflow_run", "rerun_failed_jobs",
    "cancel_workflow_run", "delete_workflow_run_logs", "actions_run_trigger", "create_gist",
    "dismiss_notification", "mark_all_notifications_read", "manage_notification_subscription",
    "manage_repository_notification_subscription", "add_project_item", "delete_project_item",
    "projects_write", "star_repository", "unstar_repository", "label_write", "create_issue",
    "enable_toolset", "transfer_issue", "enable_workflow", "disable_workflow", "set_secret",
};

/* These need a writer: merges, deletes and the read-write tools. */
static const char *const writer_tools[] = {
    "merge_pull_request", "update_pull_request", "update_pull_request_branch", "pull_request_review_write",
    "issue_write", "sub_issue_write", "update_gist", "update_project_item", "create_pull_request_with_copilot",
    "update_issue",
};

static bool name_has_prefix(js_t name, const char *prefix)
{
    return js_is_string(name) && starts_with(name.p + 1, name.n - 1, prefix);
}

/* The integrity level a write requires, or LVL_BLOCKED for tools no agent
 * may use (the blocked ones, and any tool this guard does not know). */
static int write_level(js_t name)
{
    if (IN(name, blocked_tools))
        return LVL_BLOCKED;
    if (IN(name, writer_tools) || name_has_prefix(name, "merge_") || name_has_prefix(name, "delete_"))
        return LVL_APPROVED;
    if (IN(name, write_tools) || name_has_prefix(name, "create_") || name_has_prefix(name, "update_") ||
        name_has_prefix(name, "lock_") || name_has_prefix(name, "unlock_"))
        return LVL_UNAPPROVED;
    return LVL_BLOCKED;
}

/* ---- label_agent --------------------------------------------------------------- */

static bool append(char *buf, size_t *len, size_t cap, const char *s, size_t n)
{
    if (n > cap - *len)
        return false;
    copy_bytes(buf + *len, s, n);
    *len += n;
    return true;
}

/* One `repos` entry: "owner/" + "*", owner/repo or owner/prefix* (the reference
 * guard's rules: one '/', non-empty owner, at most one '*' and only last). */
static bool parse_entry(js_t v, scope_t *s)
{
    char buf[ID_MAX + 8];
    size_t n;
    if (!decode_trimmed(v, buf, sizeof buf, &n) || n == 0)
        return false;
    size_t slash = 0;
    while (slash < n && buf[slash] != '/')
        slash++;
    if (slash == 0 || slash >= n || slash >= OWNER_MAX)
        return false;
    const char *rp = buf + slash + 1;
    size_t rn = n - slash - 1, stars = 0;
    for (size_t i = 0; i < rn; i++) {
        if (rp[i] == '/')
            return false;
        stars += rp[i] == '*';
    }
    if (stars > 1 || (stars == 1 && rp[rn - 1] != '*') || rn == 0)
        return false;
    copy_bytes(s->owner, buf, slash);
    s->owner_n = slash;
    if (rn == 1 && rp[0] == '*') {
        s->kind = SK_OWNER;
        s->repo_n = 0;
        copy_bytes(s->label, buf, slash);
        s->label_n = slash;
        return true;
    }
    s->kind = stars ? SK_PREFIX : SK_REPO;
    s->repo_n = stars ? rn - 1 : rn;
    if (s->repo_n == 0 || s->repo_n >= REPO_MAX || n >= ID_MAX)
        return false;
    copy_bytes(s->repo, rp, s->repo_n);
    copy_bytes(s->label, buf, n);
    s->label_n = n;
    return true;
}

static bool parse_repos(js_t repos, policy_t *p)
{
    char buf[32];
    size_t n;
    p->n_scopes = 0;
    if (js_is_string(repos)) {
        scope_t *s = &p->scopes[0];
        if (!decode_trimmed(repos, buf, sizeof buf, &n))
            return false;
        if (lit_eq_ci(buf, n, "all"))
            s->kind = SK_ALL;
        else if (lit_eq_ci(buf, n, "public"))
            s->kind = SK_PUBLIC;
        else
            return false;
        const char *label = s->kind == SK_ALL ? "all" : "public";
        s->owner_n = s->repo_n = 0;
        s->label_n = cstrlen(label);
        copy_bytes(s->label, label, s->label_n);
        p->n_scopes = 1;
        p->broad = true;
    } else {
        js_iter_t it;
        js_t e;
        if (!js_is_array(repos) || !js_iter_begin(repos, &it))
            return false;
        while (js_iter_next(&it, &e))
            if (p->n_scopes >= MAX_SCOPES || !parse_entry(e, &p->scopes[p->n_scopes++]))
                return false;
        if (p->n_scopes == 0)
            return false;
        p->broad = false;
    }
    p->token_n = p->csv_n = 0;
    for (size_t i = 0; i < p->n_scopes; i++) {
        const scope_t *s = &p->scopes[i];
        if (i && (!append(p->token, &p->token_n, TOKEN_MAX, " | ", 3) || !append(p->csv, &p->csv_n, TOKEN_MAX, ",", 1)))
            return false;
        if (!append(p->token, &p->token_n, TOKEN_MAX, s->label, s->label_n) ||
            !append(p->csv, &p->csv_n, TOKEN_MAX, s->label, s->label_n))
            return false;
    }
    return true;
}

static int parse_level(js_t v)
{
    char buf[32];
    size_t n;
    if (!decode_trimmed(v, buf, sizeof buf, &n))
        return -1;
    for (int i = 0; i < LVL_COUNT; i++)
        if (lit_eq_ci(buf, n, level_names[i]))
            return i;
    return -1;
}

/* Adds a list of logins (absent is fine; anything but an array of strings
 * is rejected). */
static bool add_trusted(policy_t *p, js_t obj, const char *key)
{
    js_t list, e;
    js_iter_t it;
    if (!get_ci(obj, key, &list))
        return true;
    if (!js_is_array(list) || !js_iter_begin(list, &it))
        return false;
    while (js_iter_next(&it, &e)) {
        size_t n;
        if (p->n_trusted >= MAX_TRUSTED || !decode_trimmed(e, p->trusted[p->n_trusted], LOGIN_MAX, &n))
            return false;
        if (n)
            p->trusted_n[p->n_trusted++] = n;
    }
    return true;
}

/* spec: guard-abi §2.1 (input), §2.2 (the reference guard's output). Keys
 * are matched ignoring case; allow-only may be spelt allowonly and
 * min-integrity integrity; trusted-users may sit inside allow-only or at the
 * top level. */
GUARD_EXPORT("label_agent") int32_t label_agent(const char *in, int32_t in_len, char *out, int32_t out_size)
{
    js_t doc, ao, repos, level_v;
    policy_t *p = &staging;
    if (in_len < 0 || out_size < 0 || !js_parse(in, (size_t)in_len, &doc) || !js_is_object(doc))
        return -1;
    if ((!get_ci(doc, "allow-only", &ao) && !get_ci(doc, "allowonly", &ao)) || !js_is_object(ao))
        return -1;
    if (!get_ci(ao, "repos", &repos) ||
        (!get_ci(ao, "min-integrity", &level_v) && !get_ci(ao, "integrity", &level_v)))
        return -1;
    p->min_level = parse_level(level_v);
    p->n_trusted = 0;
    if (p->min_level < 0 || !parse_repos(repos, p) || !add_trusted(p, doc, "trusted-bots") ||
        !add_trusted(p, ao, "trusted-users") || !add_trusted(p, doc, "trusted-users"))
        return -1;
    policy = *p;

    jw_t w = {out, (size_t)out_size, 0};
    jw_lit(&w, "{\"agent\":{\"secrecy\":[");
    bool first = true;
    for (size_t i = 0; i < policy.n_scopes; i++) {
        const scope_t *s = &policy.scopes[i];
        if (s->kind == SK_ALL || s->kind == SK_PUBLIC)
            continue;
        jw_lit(&w, first ? "\"private:" : ",\"private:");
        jw_esc(&w, s->label, s->label_n);
        jw_lit(&w, "\"");
        first = false;
    }
    jw_lit(&w, "],\"integrity\":");
    write_integrity(&w, policy_token(), policy.min_level);
    jw_lit(&w, "},\"difc_mode\":\"filter\",\"normalized_policy\":{\"scope_kind\":\"");
    jw_lit(&w, policy.n_scopes == 1 ? kind_names[policy.scopes[0].kind] : "Composite");
    jw_lit(&w, "\",\"min-integrity\":\"");
    jw_lit(&w, level_names[policy.min_level]);
    jw_lit(&w, "\"}}");
    return rt_finish(&w);
}

/* ---- label_resource ------------------------------------------------------------ */

/* spec: guard-abi §2.3. Reads are labelled as a whole with the full
 * integrity of their scope (items are judged one by one in
 * label_response) and the secrecy of the repo they read; writes carry no
 * secrecy and require the integrity their kind needs. */
GUARD_EXPORT("label_resource") int32_t label_resource(const char *in, int32_t in_len, char *out, int32_t out_size)
{
    js_t doc, name, args = {0, 0};
    repo_t repo;
    js_t none = {0, 0};
    if (in_len < 0 || out_size < 0 || !js_parse(in, (size_t)in_len, &doc) || !js_get(doc, "tool_name", &name) ||
        !js_is_string(name))
        return -1;
    js_get(doc, "tool_args", &args);
    int has_repo = repo_from_args(args, &repo);
    if (has_repo < 0)
        return -1;
    const repo_t *rp = has_repo ? &repo : NULL;
    token_t tok = rp ? repo_token(rp) : policy_token();
    bool read = IN(name, read_tools);

    jw_t w = {out, (size_t)out_size, 0};
    jw_lit(&w, "{\"resource\":");
    desc_t d = {"resource:", name, rp, none};
    if (read)
        write_labels(&w, d, rp ? repo_secrecy(rp, -1) : SECRECY_PUBLIC, tok, LVL_MERGED);
    else
        write_labels(&w, d, SECRECY_PUBLIC, tok, write_level(name));
    jw_lit(&w, read ? ",\"operation\":\"read\"}" : ",\"operation\":\"write\"}");
    return rt_finish(&w);
}

/* ---- label_response ------------------------------------------------------------ */

typedef struct call {
    js_t tool;
    const repo_t *args_repo; /* from tool_args, or NULL */
    bool content;            /* a content tool: authorless items are merged */
    bool repos;              /* search_repositories: each item is a repository */
} call_t;

static bool login_of(js_t item, const char *who, js_t *login)
{
    js_t u;
    return js_get(item, who, &u) && js_get(u, "login", login) && js_is_string(*login);
}

static bool is_trusted(js_t login)
{
    char buf[LOGIN_MAX];
    long n = js_str_decode(login, buf, sizeof buf);
    if (n <= 0)
        return false;
    for (size_t i = 0; i < sizeof builtin_bots / sizeof builtin_bots[0]; i++)
        if (lit_eq_ci(buf, (size_t)n, builtin_bots[i]))
            return true;
    for (size_t i = 0; i < policy.n_trusted; i++)
        if (bytes_eq_ci(buf, (size_t)n, policy.trusted[i], policy.trusted_n[i]))
            return true;
    return false;
}

/* An item's integrity level from who wrote it (the reference guard's
 * author_association floor, simplified). */
static int item_level(const call_t *c, js_t item)
{
    js_t assoc, login, tmp;
    bool has_assoc = (js_get(item, "author_association", &assoc) || js_get(item, "authorAssociation", &assoc)) &&
                     js_is_string(assoc);
    int level;
    if (has_assoc) {
        char buf[32];
        size_t n;
        if (!decode_trimmed(assoc, buf, sizeof buf, &n))
            n = 0;
        if (lit_eq_ci(buf, n, "OWNER") || lit_eq_ci(buf, n, "MEMBER") || lit_eq_ci(buf, n, "COLLABORATOR"))
            level = LVL_APPROVED;
        else if (lit_eq_ci(buf, n, "CONTRIBUTOR"))
            level = LVL_UNAPPROVED;
        else
            level = LVL_NONE; /* FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, NONE, MANNEQUIN, ... */
    } else if (c->content) {
        level = LVL_MERGED;
    } else if (js_get(item, "user", &tmp) || js_get(item, "author", &tmp)) {
        level = LVL_NONE; /* written by someone, association unknown */
    } else {
        level = LVL_APPROVED; /* no author: metadata the repo's maintainers keep */
    }
    if (level < LVL_APPROVED && (login_of(item, "user", &login) || login_of(item, "author", &login)) &&
        is_trusted(login))
        level = LVL_APPROVED;
    return level;
}

/* Writes one item's labels. Its repo: the item itself for
 * search_repositories, else its "repository" object or "repository_url",
 * else the call's owner/repo; a repo reference that cannot be read makes
 * the item private and untrusted (fail secure). */
static void write_item_labels(jw_t *w, const call_t *c, js_t item)
{
    js_t number = {0, 0}, ref, name;
    repo_t own;
    const repo_t *r = c->args_repo;
    int flag = -1;
    bool bad = false;
    if (js_get(item, "number", &number) && !js_is_plain_integer(number))
        number.n = 0;
    if (c->repos) {
        if ((js_get(item, "full_name", &name) || js_get(item, "nameWithOwner", &name)) && repo_from_js(&own, name)) {
            r = &own;
            flag = private_flag(item);
        } else {
            bad = true;
        }
    } else if (js_get(item, "repository", &ref) && js_is_object(ref)) {
        if ((js_get(ref, "full_name", &name) || js_get(ref, "nameWithOwner", &name)) && repo_from_js(&own, name)) {
            r = &own;
            flag = private_flag(ref);
        } else {
            bad = true;
        }
    } else if (js_get(item, "repository_url", &ref)) {
        if (repo_from_url(&own, ref))
            r = &own;
        else
            bad = true;
    }
    desc_t d = {"", c->tool, bad ? NULL : r, number};
    if (bad)
        write_labels(w, d, (secrecy_t){SEC_PRIVATE, 0, 0}, policy_token(), LVL_EMPTY);
    else
        write_labels(w, d, r ? repo_secrecy(r, flag) : SECRECY_PUBLIC, r ? repo_token(r) : policy_token(),
                     item_level(c, item));
}

/* A collection inside the (unwrapped) result: the array and its JSON
 * pointer ("" for a top-level array). */
static bool find_collection(js_t data, js_t *arr, const char **path)
{
    static const char *const rest[][2] = {{"items", "/items"}, {"issues", "/issues"},
                                          {"pull_requests", "/pull_requests"}};
    static const char *const gql[][2] = {{"issues", "/data/repository/issues/nodes"},
                                         {"pullRequests", "/data/repository/pullRequests/nodes"},
                                         {"discussions", "/data/repository/discussions/nodes"},
                                         {"discussionCategories", "/data/repository/discussionCategories/nodes"}};
    js_t gdata, repo, field, search;
    if (js_is_array(data)) {
        *arr = data;
        *path = "";
        return true;
    }
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        if (js_get(data, rest[i][0], arr) && js_is_array(*arr)) {
            *path = rest[i][1];
            return true;
        }
    if (!js_get(data, "data", &gdata))
        return false;
    if (js_get(gdata, "repository", &repo))
        for (size_t i = 0; i < sizeof gql / sizeof gql[0]; i++)
            if (js_get(repo, gql[i][0], &field) && js_get(field, "nodes", arr) && js_is_array(*arr)) {
                *path = gql[i][1];
                return true;
            }
    if (js_get(gdata, "search", &search) && js_get(search, "nodes", arr) && js_is_array(*arr)) {
        *path = "/data/search/nodes";
        return true;
    }
    return false;
}

/* spec: guard-abi §2.4, path format. A collection gets one labelled path
 * per item ("<items_path>/<i>"; items_path is left out for a top-level
 * array). A single object (issue_read, get_repository, ...) is one item:
 * no paths, its labels as default_labels, which the host applies to the
 * whole result. GraphQL single objects (data.repository.issue, ...) are
 * labelled from the inner object. Anything else gets no labels (0), and the
 * host judges the result with the label_resource labels. */
GUARD_EXPORT("label_response") int32_t label_response(const char *in, int32_t in_len, char *out, int32_t out_size)
{
    js_t doc, args = {0, 0}, result, data, arr;
    repo_t args_repo;
    const char *items_path;
    call_t c;
    if (in_len < 0 || out_size < 0 || !js_parse(in, (size_t)in_len, &doc) || !js_get(doc, "tool_name", &c.tool) ||
        !js_is_string(c.tool))
        return -1;
    js_get(doc, "tool_args", &args);
    int has_repo = repo_from_args(args, &args_repo);
    if (has_repo < 0)
        return -1;
    c.args_repo = has_repo ? &args_repo : NULL;
    c.content = IN(c.tool, content_tools);
    c.repos = js_str_eq(c.tool, "search_repositories");
    if (!js_get(doc, "tool_result", &result) || unwrap_mcp(result, &data) < 0)
        return 0;

    jw_t w = {out, (size_t)out_size, 0};
    if (find_collection(data, &arr, &items_path)) {
        js_iter_t it;
        js_t item;
        uint32_t i = 0;
        jw_lit(&w, "{\"labeled_paths\":[");
        js_iter_begin(arr, &it);
        while (js_iter_next(&it, &item)) {
            jw_lit(&w, i ? ",{\"path\":\"" : "{\"path\":\"");
            jw_lit(&w, items_path);
            jw_lit(&w, "/");
            jw_uint(&w, i++);
            jw_lit(&w, "\",\"labels\":");
            write_item_labels(&w, &c, item);
            jw_lit(&w, "}");
        }
        jw_lit(&w, "]");
        if (items_path[0]) {
            jw_lit(&w, ",\"items_path\":\"");
            jw_lit(&w, items_path);
            jw_lit(&w, "\"");
        }
        jw_lit(&w, "}");
        return rt_finish(&w);
    }
    js_t gdata, repo, obj = data;
    if (js_get(data, "data", &gdata)) {
        /* A GraphQL answer is never labelled as its own envelope. */
        if (!js_get(gdata, "repository", &repo) ||
            !((js_get(repo, "issue", &obj) && js_is_object(obj)) ||
              (js_get(repo, "pullRequest", &obj) && js_is_object(obj)) ||
              (js_get(repo, "discussion", &obj) && js_is_object(obj))))
            return 0;
    }
    if (!js_is_object(obj))
        return 0;
    jw_lit(&w, "{\"labeled_paths\":[],\"default_labels\":");
    write_item_labels(&w, &c, obj);
    jw_lit(&w, "}");
    return rt_finish(&w);
}
