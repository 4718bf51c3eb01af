/*
 * demo_guard.c — the DIFC guard for examples/demo-server (the "demo/tracker"
 * issue tracker), compiled to wasm32 with no libc. It implements the guard
 * ABI (spec: guard-abi §1–§2): exports memory, alloc, dealloc (guard_rt.c),
 * label_agent, label_resource and label_response, each
 * (i32 in_ptr, i32 in_len, i32 out_ptr, i32 out_size) -> i32 returning the
 * output length, -1 on bad input, or -2 (needed size at out_ptr) when the
 * output buffer is too small. It imports nothing.
 *
 * Tag vocabulary (examples/README.md), all scoped to the tracker:
 *   secrecy    private:demo/tracker   on private issues
 *   integrity  none:demo/tracker < unapproved:demo/tracker <
 *              approved:demo/tracker < merged:demo/tracker, cumulative
 *              (a level's label holds every lower level too)
 *   integrity  blocked:demo/tracker   required by unknown tools; no agent
 *                                     ever holds it
 *
 * Build-time switches (used by tests/integration/fixtures/guards):
 *   GUARD_MODE "strict"|"filter"|"propagate"   difc_mode (default "filter")
 *   GUARD_TRAP_MARKER "s"   any call whose input contains s traps
 *   GUARD_LOOP_MARKER "s"   any call whose input contains s never returns
 *   GUARD_FAIL_MARKER "s"   any call whose input contains s returns -1
 */
#include "guard_rt.h"

#ifndef GUARD_MODE
#define GUARD_MODE "filter"
#endif

#define SCOPE "demo/tracker"
#define SCOPE_OWNER "demo"
#define SCOPE_REPO "tracker"

enum { LVL_NONE, LVL_UNAPPROVED, LVL_APPROVED, LVL_MERGED, LVL_COUNT };
static const char *const level_names[LVL_COUNT] = {"none", "unapproved", "approved", "merged"};

/* The labels this guard gives a resource or an item. */
typedef struct labels {
    bool secret;    /* private:demo/tracker */
    int integrity;  /* cumulative up to this level; -1: none at all */
    bool blocked;   /* blocked:demo/tracker */
} labels_t;

/* Server-generated text (notes, errors, acknowledgements): public, and as
 * trustworthy as the tracker itself. */
static const labels_t LABELS_SERVER = {false, LVL_MERGED, false};
/* Anything the guard cannot recognise: private, untrusted. */
static const labels_t LABELS_UNKNOWN = {true, -1, false};

/* ---- test hooks ---------------------------------------------------------- */

#ifdef GUARD_LOOP_MARKER
static volatile uint32_t spin; /* volatile: the loop must not be optimised away */
#endif

/* Returns true when the call must fail with -1. Traps and loops do not return. */
static bool test_hooks(const char *in, int32_t len)
{
    (void)in, (void)len;
#ifdef GUARD_TRAP_MARKER
    if (rt_contains(in, (size_t)len, GUARD_TRAP_MARKER))
        __builtin_trap();
#endif
#ifdef GUARD_LOOP_MARKER
    if (rt_contains(in, (size_t)len, GUARD_LOOP_MARKER))
        for (;;)
            spin++;
#endif
#ifdef GUARD_FAIL_MARKER
    if (rt_contains(in, (size_t)len, GUARD_FAIL_MARKER))
        return true;
#endif
    return false;
}

/* ---- small helpers ------------------------------------------------------- */

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Decodes a short string, trimmed and lower-cased; false if not a string or
 * too long. */
static bool short_lower(js_t s, char *buf, size_t cap, size_t *len)
{
    long n = js_str_decode(s, buf, cap);
    if (n < 0)
        return false;
    size_t a = 0, b = (size_t)n;
    while (a < b && (buf[a] == ' ' || buf[a] == '\t' || buf[a] == '\n' || buf[a] == '\r'))
        a++;
    while (b > a && (buf[b - 1] == ' ' || buf[b - 1] == '\t' || buf[b - 1] == '\n' || buf[b - 1] == '\r'))
        b--;
    for (size_t i = a; i < b; i++)
        buf[i - a] = lower(buf[i]);
    *len = b - a;
    return true;
}

static bool bytes_eq(const char *a, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n; i++)
        if (lit[i] == '\0' || a[i] != lit[i])
            return false;
    return lit[i] == '\0';
}

static int parse_level(js_t v)
{
    char buf[32];
    size_t n;
    if (!short_lower(v, buf, sizeof buf, &n))
        return -1;
    for (int i = 0; i < LVL_COUNT; i++)
        if (bytes_eq(buf, n, level_names[i]))
            return i;
    return -1;
}

/* Who wrote an issue decides how far it can be trusted (the github-guard
 * reading of author_association, simplified). */
static int level_of_association(js_t v)
{
    if (js_str_eq(v, "OWNER") || js_str_eq(v, "MEMBER") || js_str_eq(v, "COLLABORATOR"))
        return LVL_APPROVED;
    if (js_str_eq(v, "CONTRIBUTOR"))
        return LVL_UNAPPROVED;
    return LVL_NONE;
}

/* ---- writing labels ------------------------------------------------------- */

static void write_integrity(jw_t *w, int upto, bool blocked)
{
    jw_lit(w, "[");
    for (int i = 0; i <= upto && i < LVL_COUNT; i++) {
        if (i)
            jw_lit(w, ",");
        jw_lit(w, "\"");
        jw_lit(w, level_names[i]);
        jw_lit(w, ":" SCOPE "\"");
    }
    if (blocked)
        jw_lit(w, upto >= 0 ? ",\"blocked:" SCOPE "\"" : "\"blocked:" SCOPE "\"");
    jw_lit(w, "]");
}

static void write_secrecy(jw_t *w, bool secret) { jw_lit(w, secret ? "[\"private:" SCOPE "\"]" : "[]"); }

/* {"description":<prefix><number>,"secrecy":[..],"integrity":[..]}; number
 * may be an empty js_t. */
static void write_labels(jw_t *w, const char *desc, js_t number, labels_t l)
{
    jw_lit(w, "{\"description\":\"");
    jw_lit(w, desc);
    if (number.n)
        jw_js(w, number);
    jw_lit(w, "\",\"secrecy\":");
    write_secrecy(w, l.secret);
    jw_lit(w, ",\"integrity\":");
    write_integrity(w, l.integrity, l.blocked);
    jw_lit(w, "}");
}

/* The issue number as text for a description, when it is a plain integer. */
static js_t issue_number(js_t obj)
{
    js_t num = {0, 0};
    if (!js_get(obj, "number", &num) || !js_is_plain_integer(num))
        num.n = 0;
    return num;
}

/* ---- label_agent --------------------------------------------------------- */

/* Does one `repos` entry cover demo/tracker? The exact repo, the owner
 * wildcard (owner, slash, star) or a prefix such as "demo/tr*". */
static bool entry_covers(const char *e, size_t n)
{
    size_t owner = sizeof SCOPE_OWNER - 1;
    if (n < owner + 2 || !bytes_eq(e, owner, SCOPE_OWNER) || e[owner] != '/')
        return false;
    const char *repo = e + owner + 1;
    size_t rn = n - owner - 1;
    if (repo[rn - 1] != '*')
        return bytes_eq(repo, rn, SCOPE_REPO);
    rn--; /* a prefix: "tracker" must start with it */
    if (rn > sizeof SCOPE_REPO - 1)
        return false;
    for (size_t i = 0; i < rn; i++)
        if (repo[i] != SCOPE_REPO[i])
            return false;
    return true;
}

/* Reads allow-only.repos. *covers: the policy admits demo/tracker's private
 * data; *kind: the scope kind reported in normalized_policy. */
static bool read_repos(js_t repos, bool *covers, const char **kind)
{
    char buf[256];
    size_t n;
    *covers = false;
    if (js_is_string(repos)) {
        if (!short_lower(repos, buf, sizeof buf, &n))
            return false;
        if (bytes_eq(buf, n, "all")) {
            *covers = true;
            *kind = "all";
            return true;
        }
        *kind = "public";
        return bytes_eq(buf, n, "public");
    }
    js_iter_t it;
    js_t e;
    size_t count = 0;
    if (!js_is_array(repos) || !js_iter_begin(repos, &it))
        return false;
    while (js_iter_next(&it, &e)) {
        long len = js_str_decode(e, buf, sizeof buf);
        if (len <= 0)
            return false;
        if (entry_covers(buf, (size_t)len))
            *covers = true;
        count++;
        *kind = buf[len - 1] != '*' ? "repo" : (len >= 2 && buf[len - 2] == '/') ? "owner" : "repoprefix";
    }
    if (count == 0)
        return false;
    if (count > 1)
        *kind = "composite";
    return true;
}

/* spec: guard-abi §2.1 (input), §2.2 (output). */
GUARD_EXPORT("label_agent") int32_t label_agent(const char *in, int32_t in_len, char *out,
                                                                 int32_t out_size)
{
    js_t doc, policy, repos, level_v;
    if (in_len < 0 || out_size < 0 || test_hooks(in, in_len) || !js_parse(in, (size_t)in_len, &doc))
        return -1;
    if (!js_get(doc, "allow-only", &policy) && !js_get(doc, "allowonly", &policy))
        return -1;
    if (!js_get(policy, "repos", &repos) ||
        (!js_get(policy, "min-integrity", &level_v) && !js_get(policy, "integrity", &level_v)))
        return -1;
    int level = parse_level(level_v);
    bool covers;
    const char *kind = "public";
    if (level < 0 || !read_repos(repos, &covers, &kind))
        return -1;

    jw_t w = {out, (size_t)out_size, 0};
    jw_lit(&w, "{\"agent\":{\"secrecy\":");
    write_secrecy(&w, covers);
    jw_lit(&w, ",\"integrity\":");
    write_integrity(&w, level, false);
    jw_lit(&w, "},\"difc_mode\":\"" GUARD_MODE "\",\"normalized_policy\":{\"scope_kind\":\"");
    jw_lit(&w, kind);
    jw_lit(&w, "\",\"min-integrity\":\"");
    jw_lit(&w, level_names[level]);
    jw_lit(&w, "\"}}");
    return rt_finish(&w);
}

/* ---- label_resource ------------------------------------------------------ */

/* spec: guard-abi §2.3. Reads of issues are labelled fail-secure (private,
 * lowest integrity) because visibility is only known per item, which
 * label_response reports. */
GUARD_EXPORT("label_resource") int32_t label_resource(const char *in, int32_t in_len, char *out,
                                                                       int32_t out_size)
{
    js_t doc, name, args = {0, 0};
    if (in_len < 0 || out_size < 0 || test_hooks(in, in_len) || !js_parse(in, (size_t)in_len, &doc) ||
        !js_get(doc, "tool_name", &name) || !js_is_string(name))
        return -1;
    js_get(doc, "tool_args", &args);

    js_t none = {0, 0};
    const char *op = "read";
    jw_t w = {out, (size_t)out_size, 0};
    jw_lit(&w, "{\"resource\":");
    if (js_str_eq(name, "list_issues")) {
        write_labels(&w, SCOPE " issues", none, (labels_t){true, LVL_NONE, false});
    } else if (js_str_eq(name, "get_issue")) {
        write_labels(&w, "issue:" SCOPE "#", issue_number(args), (labels_t){true, LVL_NONE, false});
    } else if (js_str_eq(name, "create_issue")) {
        /* A write needs writer-level integrity; its secrecy is where the data
         * goes, so a public issue cannot receive private data. */
        js_t vis;
        bool secret = !(js_get(args, "visibility", &vis) && js_str_eq(vis, "public"));
        write_labels(&w, secret ? "new private issue in " SCOPE : "new public issue in " SCOPE, none,
                     (labels_t){secret, LVL_APPROVED, false});
        op = "write";
    } else if (js_str_eq(name, "list_public_notes") || js_str_eq(name, "sleep")) {
        write_labels(&w, SCOPE " server data", none, LABELS_SERVER);
    } else {
        /* An unknown tool may do anything: a write nobody may make. */
        write_labels(&w, SCOPE " unknown tool", none, (labels_t){false, -1, true});
        op = "write";
    }
    jw_lit(&w, ",\"operation\":\"");
    jw_lit(&w, op);
    jw_lit(&w, "\"}");
    return rt_finish(&w);
}

/* ---- label_response ------------------------------------------------------ */

static labels_t issue_labels(js_t issue)
{
    js_t vis, assoc = {0, 0};
    if (!js_is_object(issue))
        return LABELS_UNKNOWN;
    labels_t l = {true, LVL_NONE, false};
    /* Anything but an explicit "public" is private: fail-secure. */
    if (js_get(issue, "visibility", &vis) && js_str_eq(vis, "public"))
        l.secret = false;
    if (js_get(issue, "author_association", &assoc))
        l.integrity = level_of_association(assoc);
    return l;
}

/* The host unwraps an MCP result by concatenating the text of every content
 * item that is not an image, audio or resource (spec: guard-abi §2.4 step 1);
 * labelling the same text keeps paths and host in agreement. */
static bool text_item(js_t item, js_t *text)
{
    js_t type;
    if (!js_get(item, "text", text) || !js_is_string(*text))
        return false;
    return !(js_get(item, "type", &type) &&
             (js_str_eq(type, "image") || js_str_eq(type, "audio") || js_str_eq(type, "resource")));
}

static bool unwrap_result(js_t result, js_t *data)
{
    js_t content, item, text;
    js_iter_t it;
    size_t total = 0, len = 0;
    if (!js_get(result, "content", &content) || !js_is_array(content) || !js_iter_begin(content, &it))
        return false;
    while (js_iter_next(&it, &item))
        if (text_item(item, &text))
            total += text.n;
    char *buf = rt_alloc(total + 1);
    if (!buf || !js_iter_begin(content, &it))
        return false;
    while (js_iter_next(&it, &item)) {
        if (!text_item(item, &text))
            continue;
        long n = js_str_decode(text, buf + len, total - len);
        if (n < 0)
            return false;
        len += (size_t)n;
    }
    return js_parse(buf, len, data);
}

/* spec: guard-abi §2.4. list_issues gets one label per issue in path form
 * (the text is a root array, so paths are "/<index>"); get_issue gets the
 * whole result labelled as its issue (path form, no paths, default labels).
 * Other tools return 0: no fine-grained labels, label_resource said it all. */
GUARD_EXPORT("label_response") int32_t label_response(const char *in, int32_t in_len, char *out,
                                                                       int32_t out_size)
{
    js_t doc, name, result, is_error, data;
    js_t none = {0, 0};
    if (in_len < 0 || out_size < 0 || test_hooks(in, in_len) || !js_parse(in, (size_t)in_len, &doc) ||
        !js_get(doc, "tool_name", &name) || !js_is_string(name))
        return -1;
    bool list = js_str_eq(name, "list_issues");
    if (!list && !js_str_eq(name, "get_issue"))
        return 0;

    jw_t w = {out, (size_t)out_size, 0};
    jw_lit(&w, "{\"labeled_paths\":[");
    labels_t whole = LABELS_UNKNOWN; /* labels of the result as one item */
    js_t whole_number = none;
    if (!js_get(doc, "tool_result", &result) || !js_is_object(result)) {
        /* nothing recognisable: fail-secure */
    } else if (js_get(result, "isError", &is_error) && js_is_true(is_error)) {
        whole = LABELS_SERVER; /* the server's own error text */
    } else if (unwrap_result(result, &data)) {
        if (list && js_is_array(data)) {
            js_iter_t it;
            js_t item;
            uint32_t i = 0;
            js_iter_begin(data, &it);
            while (js_iter_next(&it, &item)) {
                jw_lit(&w, i ? ",{\"path\":\"/" : "{\"path\":\"/");
                jw_uint(&w, i++);
                jw_lit(&w, "\",\"labels\":");
                write_labels(&w, "issue:" SCOPE "#", issue_number(item), issue_labels(item));
                jw_lit(&w, "}");
            }
        } else if (!list && js_is_object(data)) {
            whole = issue_labels(data);
            whole_number = issue_number(data);
        }
    }
    jw_lit(&w, "],\"default_labels\":");
    write_labels(&w, whole_number.n ? "issue:" SCOPE "#" : SCOPE " response", whole_number, whole);
    jw_lit(&w, "}");
    return rt_finish(&w);
}
