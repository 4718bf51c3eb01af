/*
 * proxy_route.c — the request mapper of proxy_route.h (spec: gateway §6).
 *
 * REST reads go through a table of path patterns, tried in upstream's order
 * by a small segment matcher. GraphQL queries go through a hand-written
 * scanner for upstream's query patterns. The tables are facts from
 * gh-aw-mcpg internal/proxy/router.go and graphql.go; the code is our own.
 *
 * Nothing here has state: each call works on its own stack and allocates
 * only the args object it returns, so any number of HTTP threads may call
 * in at once.
 */
#include "gateway/proxy_route.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A run of bytes that need not be NUL-terminated: a path segment, a pattern
 * token, a query text, a value found in one. */
typedef struct span {
    const char *p;
    size_t n;
} span_t;

void gw_route_match_free(gw_route_match_t *m)
{
    if (!m)
        return;
    json_decref(m->args);
    m->args = NULL;
    m->tool = NULL;
}

/* ---- argument values -------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 when the
 * byte there starts none. Validity is Go's: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : lo;
        hi = c == 0xED ? 0x9F : hi;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : lo;
        hi = c == 0xF4 ? 0x8F : hi;
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

/* A JSON string of v, each byte that is not part of valid UTF-8 replaced by
 * U+FFFD. A decoded path may hold any byte, jansson takes only UTF-8, and
 * this is what upstream's Go JSON encoder hands the guard for such a path.
 * NULL on OOM. */
static json_t *json_string_lossy(span_t v)
{
    const unsigned char *s = (const unsigned char *)v.p;
    size_t bad = 0;
    for (size_t i = 0; i < v.n;) {
        size_t k = utf8_seq_len(s + i, v.n - i);
        bad += !k;
        i += k ? k : 1;
    }
    if (!bad)
        return json_stringn(v.p, v.n);
    if (bad > (SIZE_MAX - v.n) / 2)
        return NULL;
    char *buf = malloc(v.n + 2 * bad), *o = buf;
    if (!buf)
        return NULL;
    for (size_t i = 0; i < v.n;) {
        size_t k = utf8_seq_len(s + i, v.n - i);
        if (k) {
            memcpy(o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    json_t *j = json_stringn(buf, (size_t)(o - buf));
    free(buf);
    return j;
}

/* args[key] = value (a string). False on OOM. */
static bool set_arg(json_t *args, span_t key, span_t value)
{
    json_t *s = json_string_lossy(value);
    return s && json_object_setn_new(args, key.p, key.n, s) == 0;
}

static span_t span_of(const char *s)
{
    return (span_t){s, strlen(s)};
}

/* ---- REST ------------------------------------------------------------- */

/*
 * One row of the route table: a path pattern, the guard tool it stands for,
 * and the fixed "method" argument some tools take (NULL: none).
 *
 * A pattern is a path whose segments are:
 *   word      that segment; "a|b" is either one
 *   {name}    any one non-empty segment                  (upstream [^/]+)
 *   {name#}   one segment of ASCII digits                (\d+)
 *   {name?}   last only: an optional non-empty segment   ((?:/[^/]+)?)
 *   {name*}   last only: the rest of the path, slashes included, not
 *             starting with '/' (an empty segment never
 *             fills a placeholder)                       (.+)
 *   *         last only: the rest of the path, possibly empty, unnamed (.*)
 * Each placeholder's text becomes args[name], as a string; a name starting
 * with '_' is matched but not passed on, where upstream drops the group.
 * The rest of a path never holds '\n', which Go's '.' does not match.
 */
typedef struct route {
    const char *pattern;
    const char *tool;
    const char *method;
} route_t;

/* spec: upstream router.go, in its order; first match wins. */
static const route_t routes[] = {
    /* Issues */
    {"/repos/{owner}/{repo}/issues/{issue_number#}/comments", "issue_read", "get_comments"},
    {"/repos/{owner}/{repo}/issues/{issue_number#}/labels", "issue_read", "get_labels"},
    {"/repos/{owner}/{repo}/issues/{issue_number#}", "issue_read", NULL},
    {"/repos/{owner}/{repo}/issues", "list_issues", NULL},
    /* Pull requests */
    {"/repos/{owner}/{repo}/pulls/{pullNumber#}/files", "pull_request_read", "get_files"},
    {"/repos/{owner}/{repo}/pulls/{pullNumber#}/reviews", "pull_request_read", "get_reviews"},
    {"/repos/{owner}/{repo}/pulls/{pullNumber#}/comments", "pull_request_read", "get_review_comments"},
    {"/repos/{owner}/{repo}/pulls/{pullNumber#}", "pull_request_read", "get"},
    {"/repos/{owner}/{repo}/pulls", "list_pull_requests", NULL},
    /* Commits */
    {"/repos/{owner}/{repo}/commits/{sha}", "get_commit", NULL},
    {"/repos/{owner}/{repo}/commits", "list_commits", NULL},
    /* Branches and tags */
    {"/repos/{owner}/{repo}/branches", "list_branches", NULL},
    {"/repos/{owner}/{repo}/git/ref/tags/{tag*}", "get_tag", NULL},
    {"/repos/{owner}/{repo}/tags", "list_tags", NULL},
    /* Releases */
    {"/repos/{owner}/{repo}/releases/latest", "get_latest_release", NULL},
    {"/repos/{owner}/{repo}/releases/tags/{tag*}", "get_release_by_tag", NULL},
    {"/repos/{owner}/{repo}/releases", "list_releases", NULL},
    /* Contents */
    {"/repos/{owner}/{repo}/contents/{path*}", "get_file_contents", NULL},
    {"/repos/{owner}/{repo}/git/trees/{path*}", "get_file_contents", NULL},
    /* Labels ("list_label" is the GitHub MCP server's tool name) */
    {"/repos/{owner}/{repo}/labels/{name*}", "get_label", NULL},
    {"/repos/{owner}/{repo}/labels", "list_label", NULL},
    /* Actions: workflows, runs, jobs, artifacts, caches */
    {"/repos/{owner}/{repo}/actions/workflows", "actions_list", "list_workflows"},
    {"/repos/{owner}/{repo}/actions/workflows/{resource_id}/runs", "actions_list", "list_workflow_runs"},
    {"/repos/{owner}/{repo}/actions/workflows/{resource_id}", "actions_get", "get_workflow"},
    {"/repos/{owner}/{repo}/actions/runs/{resource_id#}/attempts/{_attempt#}/jobs", "actions_list",
     "list_workflow_jobs"},
    {"/repos/{owner}/{repo}/actions/runs/{run_id#}/attempts/{_attempt#}/logs", "get_job_logs", NULL},
    {"/repos/{owner}/{repo}/actions/runs/{run_id#}/logs", "get_job_logs", NULL},
    {"/repos/{owner}/{repo}/actions/runs/{resource_id#}/artifacts", "actions_list", "list_workflow_run_artifacts"},
    {"/repos/{owner}/{repo}/actions/runs/{resource_id#}", "actions_get", "get_workflow_run"},
    {"/repos/{owner}/{repo}/actions/runs", "actions_list", "list_workflow_runs"},
    {"/repos/{owner}/{repo}/actions/jobs/{resource_id#}", "actions_get", "get_workflow_job"},
    {"/repos/{owner}/{repo}/actions/artifacts", "actions_list", "list_workflow_run_artifacts"},
    {"/repos/{owner}/{repo}/actions/caches", "actions_list", "list_caches"},
    /* Actions secrets and variables: names only, never values. Upstream
     * lets one variable's name through here too, as a listing. */
    {"/repos/{owner}/{repo}/actions/secrets", "actions_list", "list_secrets"},
    {"/repos/{owner}/{repo}/actions/variables/{_name?}", "actions_list", "list_variables"},
    {"/repos/{owner}/{repo}/environments/{_environment}/secrets|variables", "actions_list",
     "list_environment_config"},
    /* Notifications and the user */
    {"/notifications", "list_notifications", NULL},
    {"/user", "get_me", NULL},
    {"/user/keys|ssh_signing_keys|gpg_keys", "get_me", NULL},
    /* Org-scoped Actions secrets and variables: the org is the owner */
    {"/orgs/{owner}/actions/secrets|variables/{_name?}", "actions_list", "list_org_config"},
    /* Discussions */
    {"/repos/{owner}/{repo}/discussions", "list_discussions", NULL},
    {"/repos/{owner}/{repo}/discussions/{discussion_number#}/comments", "get_discussion_comments", NULL},
    {"/repos/{owner}/{repo}/discussions/{discussion_number#}", "list_discussions", NULL},
    /* Check runs and suites (gh pr checks) */
    {"/repos/{owner}/{repo}/commits/{sha}/check-runs|check-suites", "pull_request_read", "get_check_runs"},
    /* Search */
    {"/search/code", "search_code", NULL},
    {"/search/issues", "search_issues", NULL},
    {"/search/repositories", "search_repositories", NULL},
    /* Generic repository fallbacks: these must stay last */
    {"/repos/{owner}/{repo}", "get_repository", NULL},
    {"/repos/{owner}/{repo}/*", "get_file_contents", NULL},
};

typedef enum {
    TOK_WORD,     /* word or word|word */
    TOK_ONE,      /* {name} */
    TOK_DIGITS,   /* {name#} */
    TOK_OPTIONAL, /* {name?} */
    TOK_REST,     /* {name*} */
    TOK_ANY,      /* * */
} tok_kind_t;

typedef struct token {
    tok_kind_t kind;
    span_t text; /* the words, or the placeholder's name */
} token_t;

static token_t parse_token(span_t s)
{
    if (s.n == 1 && s.p[0] == '*')
        return (token_t){TOK_ANY, {s.p, 0}};
    if (s.n < 2 || s.p[0] != '{' || s.p[s.n - 1] != '}')
        return (token_t){TOK_WORD, s};
    span_t name = {s.p + 1, s.n - 2};
    tok_kind_t kind = TOK_ONE;
    switch (name.n ? name.p[name.n - 1] : '\0') {
    case '#': kind = TOK_DIGITS; break;
    case '?': kind = TOK_OPTIONAL; break;
    case '*': kind = TOK_REST; break;
    default: return (token_t){TOK_ONE, name};
    }
    name.n--;
    return (token_t){kind, name};
}

/* Whether seg is one of the '|'-separated words. */
static bool is_one_of(span_t words, span_t seg)
{
    for (const char *w = words.p, *end = words.p + words.n; w <= end;) {
        const char *bar = memchr(w, '|', (size_t)(end - w));
        size_t n = (size_t)((bar ? bar : end) - w);
        if (n == seg.n && !memcmp(w, seg.p, n))
            return true;
        w += n + 1;
    }
    return false;
}

static bool is_digits(span_t seg)
{
    for (size_t i = 0; i < seg.n; i++)
        if (seg.p[i] < '0' || seg.p[i] > '9')
            return false;
    return seg.n > 0;
}

#define MAX_CAPTURES 4

/* What a pattern's named placeholders matched. */
typedef struct captures {
    span_t name[MAX_CAPTURES];
    span_t value[MAX_CAPTURES];
    size_t n;
} captures_t;

static bool capture(captures_t *c, span_t name, span_t value)
{
    if (name.n && name.p[0] == '_')
        return true;
    if (c->n == MAX_CAPTURES)
        return false; /* a table error; the tests go through every row */
    c->name[c->n] = name;
    c->value[c->n++] = value;
    return true;
}

/* Whether one token accepts the path text at `seg`, where `rest` is all of
 * the path from `seg` on; *used is how much of `rest` it takes. */
static bool token_accepts(token_t tok, span_t seg, span_t rest, size_t *used, captures_t *caps)
{
    *used = seg.n;
    switch (tok.kind) {
    case TOK_WORD:
        return is_one_of(tok.text, seg);
    case TOK_ONE:
    case TOK_OPTIONAL: /* present here, so it must be a real segment */
        return seg.n > 0 && capture(caps, tok.text, seg);
    case TOK_DIGITS:
        return is_digits(seg) && capture(caps, tok.text, seg);
    case TOK_REST:
    case TOK_ANY:
        *used = rest.n;
        if (memchr(rest.p, '\n', rest.n))
            return false;
        if (tok.kind == TOK_ANY)
            return true;
        return seg.n > 0 && capture(caps, tok.text, rest);
    }
    return false;
}

/* Matches a whole path (up to `end`) against one pattern. Both are walked a
 * segment at a time; every segment of each starts after a '/'. */
static bool route_matches(const char *pattern, const char *path, const char *end, captures_t *caps)
{
    caps->n = 0;
    while (*pattern == '/') {
        span_t tok_text = {pattern + 1, strcspn(pattern + 1, "/")};
        token_t tok = parse_token(tok_text);
        pattern = tok_text.p + tok_text.n;
        if (path == end) /* the path is used up: only an absent optional end is fine */
            return tok.kind == TOK_OPTIONAL && !*pattern;
        if (*path != '/')
            return false;
        span_t rest = {path + 1, (size_t)(end - path - 1)};
        const char *slash = memchr(rest.p, '/', rest.n);
        span_t seg = {rest.p, slash ? (size_t)(slash - rest.p) : rest.n};
        size_t used;
        if (!token_accepts(tok, seg, rest, &used, caps))
            return false;
        path = rest.p + used;
    }
    return path == end;
}

/* Fills *out from a matched row. False (with *out zeroed) on OOM. */
static bool route_fill(const route_t *r, const captures_t *caps, gw_route_match_t *out)
{
    json_t *args = json_object();
    bool ok = args != NULL;
    for (size_t i = 0; ok && i < caps->n; i++)
        ok = set_arg(args, caps->name[i], caps->value[i]);
    if (ok && r->method)
        ok = set_arg(args, span_of("method"), span_of(r->method));
    if (!ok) {
        json_decref(args);
        return false;
    }
    out->tool = r->tool;
    out->args = args;
    return true;
}

bool gw_proxy_match_rest(const char *path, gw_route_match_t *out)
{
    if (!out)
        return false;
    *out = (gw_route_match_t){0};
    if (!path)
        return false;
    const char *end = path + strcspn(path, "?");
    for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
        captures_t caps;
        if (route_matches(routes[i].pattern, path, end, &caps))
            return route_fill(&routes[i], &caps, out);
    }
    return false;
}

/* ---- paths ------------------------------------------------------------ */

#define GH_HOST_PREFIX "/api/v3" /* what gh puts before every path with GH_HOST */

const char *gw_proxy_strip_prefix(const char *path)
{
    size_t n = sizeof GH_HOST_PREFIX - 1;
    if (!path || strncmp(path, GH_HOST_PREFIX, n) != 0)
        return path;
    if (path[n] == '/')
        return path + n;
    return path[n] == '\0' ? "/" : path; /* "/api/v3x" is not under the prefix */
}

/* Whether path, less one trailing '/', is one of `forms`. */
static bool path_is_one_of(const char *path, const char *const *forms, size_t nforms, bool trailing_slash)
{
    if (!path)
        return false;
    size_t n = strlen(path);
    if (trailing_slash && n > 1 && path[n - 1] == '/')
        n--;
    for (size_t i = 0; i < nforms; i++)
        if (strlen(forms[i]) == n && !memcmp(forms[i], path, n))
            return true;
    return false;
}

bool gw_proxy_is_graphql_path(const char *path)
{
    static const char *const forms[] = {"/graphql", "/api/graphql", "/api/v3/graphql"};
    return path_is_one_of(path, forms, ARRAY_LEN(forms), true);
}

bool gw_proxy_is_metadata_path(const char *path)
{
    static const char *const forms[] = {"/meta", "/rate_limit", "/octocat", "/zen", "/versions"};
    return path_is_one_of(path, forms, ARRAY_LEN(forms), false);
}

/* ---- GraphQL: scanning ------------------------------------------------ */

/*
 * Upstream writes its GraphQL patterns as Go regexes over the query text.
 * They are matched here by a scanner rather than <regex.h>: the body may be
 * tens of MiB, glibc's regexec is superlinear on spans like [^)]* retried
 * from every start, and its \s and \b depend on the locale. Go's RE2 is
 * linear, with \s = [\t\n\f\r ] and \b between ASCII word characters and
 * anything else; the scanner keeps both, and stays linear.
 *
 * Case is folded in ASCII only. Go's (?i) also lets U+017F (long s) stand
 * for 's'; no GraphQL name contains it, so such a query could not run at
 * GitHub anyway, and here it simply matches nothing (and is refused).
 */

static bool is_word(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static size_t skip_space(span_t t, size_t i)
{
    while (i < t.n && is_space((unsigned char)t.p[i]))
        i++;
    return i;
}

static bool char_at(span_t t, size_t i, char c)
{
    return i < t.n && t.p[i] == c;
}

/* Whether `word` (lower case) is at t[i], in any case; *end is just after. */
static bool word_at(span_t t, size_t i, const char *word, size_t *end)
{
    size_t n = strlen(word);
    if (i > t.n || t.n - i < n)
        return false;
    for (size_t k = 0; k < n; k++)
        if (lower((unsigned char)t.p[i + k]) != (unsigned char)word[k])
            return false;
    *end = i + n;
    return true;
}

/* "([^"]+)" at t[i]: *value is the text inside, *end just after it. */
static bool quoted_at(span_t t, size_t i, span_t *value, size_t *end)
{
    if (!char_at(t, i, '"'))
        return false;
    const char *close = memchr(t.p + i + 1, '"', t.n - i - 1);
    if (!close || close == t.p + i + 1)
        return false;
    *value = (span_t){t.p + i + 1, (size_t)(close - t.p - i - 1)};
    *end = (size_t)(close - t.p) + 1;
    return true;
}

/*
 * One query pattern: `word` (with \b before it when `bounded`), then either
 * \b (`word_end`), or optional space and one of the `opener` characters, or
 * nothing more. IN_REPOSITORY patterns must find it inside the first
 * block after a repository(...) head:
 *     repository\s*\([^)]*\)\s*\{[^}]*<term>
 */
typedef enum { ANYWHERE, IN_REPOSITORY } gql_scope_t;

typedef struct gql_pattern {
    const char *tool;
    gql_scope_t scope;
    bool bounded;
    const char *word; /* lower case */
    const char *opener;
    bool word_end;
} gql_pattern_t;

/* spec: upstream graphql.go, in its order (singular before plural); first
 * match wins. */
static const gql_pattern_t gql_patterns[] = {
    /* schema introspection: metadata, no repository data */
    {"graphql_introspection", ANYWHERE, false, "__type", "(", false},
    {"graphql_introspection", ANYWHERE, false, "__schema", NULL, true},
    {"issue_read", IN_REPOSITORY, true, "issue", "(", false},
    {"list_issues", IN_REPOSITORY, true, "issues", "({", false},
    {"pull_request_read", IN_REPOSITORY, true, "pullrequest", "(", false},
    {"list_pull_requests", IN_REPOSITORY, true, "pullrequests", "({", false},
    {"list_discussions", IN_REPOSITORY, true, "discussion", "(", false},
    {"list_discussions", IN_REPOSITORY, true, "discussions", "({", false},
    {"list_discussion_categories", IN_REPOSITORY, true, "discussioncategories", "({", false},
    {"search_issues", ANYWHERE, true, "search", "(", false},
    {"list_projects", ANYWHERE, false, "projectv2", NULL, false},
    {"get_me", ANYWHERE, true, "viewer", "{", false},
    {"search_orgs", ANYWHERE, true, "organization", "(", false},
    /* any other repository query */
    {"get_file_contents", ANYWHERE, true, "repository", "(", false},
};

/* Whether the pattern's term (word and what follows it) starts at t[i]. */
static bool term_at(span_t t, size_t i, const gql_pattern_t *g)
{
    size_t end;
    if (g->bounded && i > 0 && is_word((unsigned char)t.p[i - 1]))
        return false;
    if (!word_at(t, i, g->word, &end))
        return false;
    if (g->word_end)
        return end == t.n || !is_word((unsigned char)t.p[end]);
    if (!g->opener)
        return true;
    end = skip_space(t, end);
    return end < t.n && t.p[end] != '\0' && strchr(g->opener, t.p[end]);
}

/* The first `c` at or after a position. Callers ask with positions that
 * never decrease, so a remembered answer at or past the new position is
 * still the first one, and no byte is searched twice. */
typedef struct finder {
    char c;
    bool known;
    size_t at; /* t.n: none */
} finder_t;

static size_t find_char(finder_t *f, span_t t, size_t from)
{
    if (!f->known || f->at < from) {
        const char *hit = from < t.n ? memchr(t.p + from, f->c, t.n - from) : NULL;
        f->at = hit ? (size_t)(hit - t.p) : t.n;
        f->known = true;
    }
    return f->at;
}

/* The same for the first place a pattern's term starts. */
static size_t find_term(finder_t *f, span_t t, size_t from, const gql_pattern_t *g)
{
    if (!f->known || f->at < from) {
        size_t i = from;
        while (i < t.n && !term_at(t, i, g))
            i++;
        f->at = i;
        f->known = true;
    }
    return f->at;
}

/*
 * repository\s*\([^)]*\)\s*\{[^}]*<term>. A head's ')' is the first one after
 * its '(', and its block runs from the '{' to the first '}' after it, so
 * the term must start inside that span. Heads are visited left to right;
 * the positions asked of each finder then never decrease (two heads with
 * the same ')' share a block, which is judged once), which keeps this
 * linear in the query's length.
 */
static bool in_repository_block(span_t t, const gql_pattern_t *g)
{
    finder_t paren = {.c = ')'}, brace = {.c = '}'}, term = {0};
    size_t last_close = SIZE_MAX;
    for (size_t i = 0; i < t.n; i++) {
        size_t j;
        if (lower((unsigned char)t.p[i]) != 'r' || !word_at(t, i, "repository", &j))
            continue;
        j = skip_space(t, j);
        if (!char_at(t, j, '('))
            continue;
        size_t close = find_char(&paren, t, j + 1);
        if (close == t.n)
            return false; /* no ')' left for this head or any later one */
        if (close == last_close)
            continue;
        last_close = close;
        size_t open = skip_space(t, close + 1);
        if (!char_at(t, open, '{'))
            continue;
        size_t block_end = find_char(&brace, t, open + 1);
        if (find_term(&term, t, open + 1, g) < block_end)
            return true;
    }
    return false;
}

static bool anywhere(span_t t, const gql_pattern_t *g)
{
    for (size_t i = 0; i < t.n; i++)
        if (lower((unsigned char)t.p[i]) == (unsigned char)g->word[0] && term_at(t, i, g))
            return true;
    return false;
}

static const char *gql_tool(span_t query)
{
    for (size_t i = 0; i < ARRAY_LEN(gql_patterns); i++) {
        const gql_pattern_t *g = &gql_patterns[i];
        if (g->scope == IN_REPOSITORY ? in_repository_block(query, g) : anywhere(query, g))
            return g->tool;
    }
    return NULL;
}

/* ---- GraphQL: owner and repository ------------------------------------ */

/* \s*:\s*(?:"([^"]+)"|\$\w+) at t[i]; *value is the quoted text, or empty
 * for a $variable. */
static bool arg_value_at(span_t t, size_t i, span_t *value)
{
    size_t end;
    i = skip_space(t, i);
    if (!char_at(t, i, ':'))
        return false;
    i = skip_space(t, i + 1);
    *value = (span_t){0};
    if (quoted_at(t, i, value, &end))
        return true;
    return char_at(t, i, '$') && i + 1 < t.n && is_word((unsigned char)t.p[i + 1]);
}

/* \s*,?\s*name<arg value> at t[i]. */
static bool name_arg_at(span_t t, size_t i, span_t *name)
{
    i = skip_space(t, i);
    if (char_at(t, i, ','))
        i = skip_space(t, i + 1);
    return word_at(t, i, "name", &i) && arg_value_at(t, i, name);
}

/*
 * \s*\(\s*owner<arg value>\s*,?\s*name<arg value>, just after "repository".
 * After owner: $var, \w+ is greedy but gives back: the whole word run is
 * tried first, then the run less a trailing "name" (`$ownername: "x"`), the
 * only other split that can go on to match.
 */
static bool repository_args_at(span_t t, size_t i, span_t *owner, span_t *name)
{
    i = skip_space(t, i);
    if (!char_at(t, i, '('))
        return false;
    i = skip_space(t, i + 1);
    if (!word_at(t, i, "owner", &i))
        return false;
    i = skip_space(t, i);
    if (!char_at(t, i, ':'))
        return false;
    i = skip_space(t, i + 1);
    size_t end;
    *owner = (span_t){0};
    if (quoted_at(t, i, owner, &end))
        return name_arg_at(t, end, name);
    if (!char_at(t, i, '$'))
        return false;
    size_t run = i + 1;
    end = run;
    while (end < t.n && is_word((unsigned char)t.p[end]))
        end++;
    if (end == run)
        return false;
    if (name_arg_at(t, end, name))
        return true;
    size_t k;
    return end - run >= 5 && word_at(t, end - 4, "name", &k) && arg_value_at(t, end, name);
}

/* The leftmost repository(owner: ..., name: ...) in the query. Its quoted
 * values count; $variables leave them empty, and later heads are not
 * consulted even then. */
static bool repository_literals(span_t q, span_t *owner, span_t *name)
{
    for (size_t i = 0; i < q.n; i++) {
        size_t j;
        if (lower((unsigned char)q.p[i]) == 'r' && word_at(q, i, "repository", &j) &&
            repository_args_at(q, j, owner, name))
            return true;
    }
    return false;
}

/* The leftmost "<key>"\s*:\s*"([^"]+)" in the query, key being one of `keys`
 * in any case: variables some gh commands inline as raw JSON. */
static span_t raw_json_value(span_t q, const char *const *keys, size_t nkeys)
{
    for (size_t i = 0; i < q.n; i++) {
        const char *quote = memchr(q.p + i, '"', q.n - i);
        if (!quote)
            break;
        i = (size_t)(quote - q.p);
        for (size_t k = 0; k < nkeys; k++) {
            size_t j, end;
            span_t v;
            if (!word_at(q, i + 1, keys[k], &j) || !char_at(q, j, '"'))
                continue;
            j = skip_space(q, j + 1);
            if (!char_at(q, j, ':'))
                continue;
            if (quoted_at(q, skip_space(q, j + 1), &v, &end))
                return v;
        }
    }
    return (span_t){0};
}

static span_t string_span(json_t *v)
{
    return json_is_string(v) ? (span_t){json_string_value(v), json_string_length(v)} : (span_t){0};
}

/* spec: upstream graphql.go extractOwnerRepo. Variables owner, name, repo;
 * then the query's repository(...) literals for what is still missing;
 * then raw JSON in the query. Empty: not found. */
static void owner_repo(json_t *vars, span_t q, span_t *owner, span_t *repo)
{
    static const char *const owner_keys[] = {"owner"}, *const repo_keys[] = {"name", "repo"};
    *owner = string_span(json_object_get(vars, "owner"));
    *repo = string_span(json_object_get(vars, "name"));
    if (!repo->n)
        *repo = string_span(json_object_get(vars, "repo"));
    span_t o = {0}, r = {0};
    if ((!owner->n || !repo->n) && repository_literals(q, &o, &r)) {
        if (!owner->n)
            *owner = o;
        if (!repo->n)
            *repo = r;
    }
    if (!owner->n)
        *owner = raw_json_value(q, owner_keys, ARRAY_LEN(owner_keys));
    if (!repo->n)
        *repo = raw_json_value(q, repo_keys, ARRAY_LEN(repo_keys));
}

/* The query text and variables of a request, as upstream's JSON decoding
 * takes them: "query" a string, "variables" an object (or null, or absent);
 * any other type fails the whole request. Keys are matched exactly, as
 * GitHub reads them; Go's decoder would also take "Query", so a body could
 * be judged by one text and run as another. */
static bool request_parts(json_t *root, span_t *query, json_t **vars)
{
    json_t *q = json_object_get(root, "query");
    *vars = json_object_get(root, "variables");
    if (*vars && !json_is_object(*vars) && !json_is_null(*vars))
        return false;
    *query = string_span(q);
    return query->n > 0;
}

bool gw_proxy_match_graphql(const char *body, size_t len, gw_route_match_t *out)
{
    if (!out)
        return false;
    *out = (gw_route_match_t){0};
    if (!body)
        return false;
    json_t *root = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
    span_t query, owner, repo;
    json_t *vars, *args = NULL;
    const char *tool = NULL;
    bool ok = json_is_object(root) && request_parts(root, &query, &vars) && (tool = gql_tool(query));
    if (ok) {
        owner_repo(vars, query, &owner, &repo);
        ok = (args = json_object()) != NULL;
        ok = ok && (!owner.n || set_arg(args, span_of("owner"), owner));
        ok = ok && (!repo.n || set_arg(args, span_of("repo"), repo));
    }
    json_decref(root);
    if (!ok) {
        json_decref(args);
        return false;
    }
    out->tool = tool;
    out->args = args;
    return true;
}
