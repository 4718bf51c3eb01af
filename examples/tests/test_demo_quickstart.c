/*
 * test_demo_quickstart.c — the README's quick start, as written: the
 * flowgate binary started with scripts/run.sh's own arguments (its
 * configuration, examples/demo.toml, with its relative paths), then the
 * README's "Try it" calls, whose answers must match the output the README
 * shows (its text up to each `…`), the /reflect line and the demo server's
 * call log; SIGINT then stops the gateway with status 0. Nothing about the
 * example is restated here: when run.sh, demo.toml or the README changes,
 * this test follows them or fails.
 *
 * run.sh runs from the repository root with `build/` as the build tree;
 * here the gateway runs in a temporary directory laid out the same way
 * (examples/ -> the sources, build/examples -> this build tree), so the
 * server's call log and the logs land in that directory.
 */
#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "harness.h"

#define MAX_ITEMS 16

static char *slurp(const char *path)
{
    char *text = fg_read_file(path);
    if (!text)
        fail_msg("cannot read %s", path);
    return text;
}

/* ---- what scripts/run.sh runs ---- */

typedef struct {
    char build_dir[64];    /* cmake -B <dir> */
    char config[256];      /* --config <file> */
    char listen[64];       /* --listen <addr> */
    char log_dir[256];     /* --log-dir <dir> */
} run_sh_t;

/* The value after `flag ` in line, up to a blank, into out. */
static bool word_after(const char *line, const char *flag, char *out, size_t n)
{
    const char *p = strstr(line, flag);
    if (!p)
        return false;
    p += strlen(flag);
    size_t len = strcspn(p, " \t\n\"");
    if (!len || len >= n)
        return false;
    memcpy(out, p, len);
    out[len] = 0;
    return true;
}

static void parse_run_sh(run_sh_t *r)
{
    char *text = slurp(SOURCE_DIR "/scripts/run.sh");
    const char *cm = strstr(text, "cmake -S . -B ");
    const char *ex = strstr(text, "\nexec ");
    assert_non_null(cm);
    assert_non_null(ex);
    assert_true(word_after(cm, "-B ", r->build_dir, sizeof r->build_dir));
    char *eol = strchr(ex + 1, '\n');
    if (eol)
        *eol = 0;
    char bin[128];
    snprintf(bin, sizeof bin, "exec %s/src/flowgate ", r->build_dir);
    if (!strstr(ex, bin))
        fail_msg("run.sh does not exec the flowgate of its build tree: %s", ex + 1);
    assert_true(word_after(ex, "--config ", r->config, sizeof r->config));
    assert_true(word_after(ex, "--listen ", r->listen, sizeof r->listen));
    assert_true(word_after(ex, "--log-dir ", r->log_dir, sizeof r->log_dir));
    free(text);
}

/* ---- what the README says ---- */

static bool starts_with(const char *s, const char *prefix)
{
    return !strncmp(s, prefix, strlen(prefix));
}

typedef struct {
    char auth[128];                 /* -H 'Authorization: ...' */
    char url[256];                  /* URL=... */
    char *calls[MAX_ITEMS][2];      /* call <tool> '<args>' */
    int ncalls;
    char *replies[MAX_ITEMS];       /* the output shown for each call */
    int nreplies;
    char *reflect;                  /* the /reflect line */
    char *call_log;                 /* the demo server's log, lines joined */
} readme_t;

static void parse_readme(readme_t *m)
{
    memset(m, 0, sizeof *m);
    char *text = slurp(SOURCE_DIR "/README.md");
    const char *try_it = strstr(text, "\n## Try it");
    assert_non_null(try_it);
    const char *shown = strstr(try_it, "What comes back");
    assert_non_null(shown);
    const char *shown_end = strstr(shown, "(`mode` in `/reflect`");
    assert_non_null(shown_end);
    assert_true(word_after(try_it, "-H 'Authorization: ", m->auth, sizeof m->auth));
    m->auth[strcspn(m->auth, "'")] = 0;
    assert_true(word_after(try_it, "\n    URL=", m->url, sizeof m->url));
    size_t log_len = 0;
    for (const char *line = try_it; line && line < shown_end; line = strchr(line, '\n')) {
        line++;
        size_t len = strcspn(line, "\n");
        char *l = strndup(line, len);
        char tool[64], args[256];
        if (line < shown && sscanf(l, "    call %63s '%255[^']'", tool, args) == 2) {
            assert_true(m->ncalls < MAX_ITEMS);
            m->calls[m->ncalls][0] = strdup(tool);
            m->calls[m->ncalls][1] = strdup(args);
            m->ncalls++;
        } else if (line > shown && starts_with(l, "    {\"jsonrpc\"")) {
            assert_true(m->nreplies < MAX_ITEMS);
            m->replies[m->nreplies++] = strdup(l + 4);
        } else if (line > shown && starts_with(l, "     {") && m->nreplies) {
            /* A reply the README wrapped: the rest is another fragment. */
            char **r = &m->replies[m->nreplies - 1];
            size_t old = strlen(*r);
            *r = realloc(*r, old + len + 8);
            snprintf(*r + old, len + 8, "…%s", l + 5);
        } else if (line > shown && starts_with(l, "    {\"agents\"")) {
            m->reflect = strdup(l + 4);
        } else if (line > shown && starts_with(l, "    {\"tool\"")) {
            m->call_log = realloc(m->call_log, log_len + len + 2);
            snprintf(m->call_log + log_len, len + 2, "%s\n", l + 4);
            log_len += len - 4 + 1;
        }
        free(l);
    }
    free(text);
    if (!m->ncalls || m->ncalls != m->nreplies || !m->reflect || !m->call_log)
        fail_msg("README: %d calls, %d replies shown, reflect %s, call log %s", m->ncalls, m->nreplies,
                 m->reflect ? "shown" : "missing", m->call_log ? "shown" : "missing");
}

static void readme_free(readme_t *m)
{
    for (int i = 0; i < m->ncalls; i++) {
        free(m->calls[i][0]);
        free(m->calls[i][1]);
    }
    for (int i = 0; i < m->nreplies; i++)
        free(m->replies[i]);
    free(m->reflect);
    free(m->call_log);
}

/* Every `…`-separated fragment of `shown` occurs in `actual`, in order. */
static void assert_matches_shown(const char *actual, const char *shown, const char *what)
{
    char *copy = strdup(shown);
    const char *at = actual;
    for (char *frag = copy; frag;) {
        char *next = strstr(frag, "…");
        if (next) {
            *next = 0;
            next += strlen("…");
        }
        const char *found = *frag ? strstr(at, frag) : at;
        if (!found)
            fail_msg("%s: the README shows\n  %s\nbut the part\n  %s\nis not in what came back:\n  %s", what,
                     shown, frag, actual);
        at = found + strlen(frag);
        frag = next;
    }
    free(copy);
}

/* ---- the run ---- */

static char *data_line(const char *body)
{
    const char *d = strstr(body, "data: ");
    assert_non_null(d);
    d += 6;
    return strndup(d, strcspn(d, "\n"));
}

static char *post(const char *url, const char *auth, const char *sid, const char *body)
{
    fg_resp_t r;
    assert_true(fg_mcp_post(url, auth, sid, body, &r));
    assert_int_equal(r.status, 200);
    char *line = data_line(r.body);
    fg_resp_free(&r);
    return line;
}

static void test_readme_quick_start_on_run_sh_config(void **state)
{
    (void)state;
    run_sh_t run;
    parse_run_sh(&run);
    readme_t readme;
    parse_readme(&readme);
    /* The README's URL is run.sh's listen address. */
    char want_url_prefix[128];
    snprintf(want_url_prefix, sizeof want_url_prefix, "http://%s/mcp/", run.listen);
    if (strncmp(readme.url, want_url_prefix, strlen(want_url_prefix)) != 0)
        fail_msg("README URL %s is not under run.sh's --listen %s", readme.url, run.listen);
    const char *route = readme.url + strlen(want_url_prefix) - 5; /* "/mcp/<server>" */

    /* The repository root as run.sh sees it. */
    char *root = fg_tempdir("quickstart");
    char path[1024], target[1024];
    snprintf(path, sizeof path, "%s/examples", root);
    assert_int_equal(symlink(SOURCE_DIR "/examples", path), 0);
    snprintf(path, sizeof path, "%s/%s", root, run.build_dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/%s/examples", root, run.build_dir);
    snprintf(target, sizeof target, "%s/examples", BUILD_DIR);
    assert_int_equal(symlink(target, path), 0);

    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(root), 0);
    fg_gateway_t g;
    /* run.sh's flags but --listen (the harness picks a free port). */
    const char *extra[] = {"--config", run.config, "--log-dir", run.log_dir, NULL};
    bool started = fg_gateway_start(&g, NULL, extra, 30000);
    assert_int_equal(chdir(cwd), 0);
    assert_true(started);
    assert_string_equal(g.auth, readme.auth);

    char url[300];
    snprintf(url, sizeof url, "%s%s", g.url_base, route);
    char sid[128];
    assert_true(fg_mcp_open(url, readme.auth, sid, sizeof sid));
    for (int i = 0; i < readme.ncalls; i++) {
        char body[1024], what[128];
        snprintf(body, sizeof body,
                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"%s\",\"arguments\":%s}}",
                 readme.calls[i][0], readme.calls[i][1]);
        char *reply = post(url, readme.auth, sid, body);
        snprintf(what, sizeof what, "call %s '%s'", readme.calls[i][0], readme.calls[i][1]);
        assert_matches_shown(reply, readme.replies[i], what);
        free(reply);
    }

    /* /reflect, but for its timestamp. */
    snprintf(path, sizeof path, "%s/reflect", g.url_base);
    char ah[200];
    snprintf(ah, sizeof ah, "Authorization: %s", readme.auth);
    const char *h[] = {ah, NULL};
    fg_resp_t r;
    assert_true(fg_http("GET", path, h, NULL, &r));
    assert_int_equal(r.status, 200);
    char *ts = strstr(readme.reflect, "\"timestamp\":\"");
    assert_non_null(ts);
    ts += strlen("\"timestamp\":\"");
    char shown[1024];
    snprintf(shown, sizeof shown, "%.*s…%s", (int)(ts - readme.reflect), readme.reflect, ts + strcspn(ts, "\""));
    assert_matches_shown(r.body, shown, "/reflect");
    fg_resp_free(&r);

    /* The server's own log: the denied write never reached it. */
    snprintf(path, sizeof path, "%s/%s/demo-server-calls.log", root, run.build_dir);
    char *log = slurp(path);
    assert_string_equal(log, readme.call_log);
    free(log);

    /* Filtered items are difc_filtered events in the log directory. */
    snprintf(path, sizeof path, "%s/%s/rpc-messages.jsonl", root, run.log_dir);
    char *rpc = slurp(path);
    assert_non_null(strstr(rpc, "difc_filtered"));
    free(rpc);

    /* Ctrl-C: exit status 0. */
    kill(g.proc.pid, SIGINT);
    assert_int_equal(fg_proc_wait(&g.proc, 15000), 0);
    close(g.proc.out_fd);
    json_decref(g.doc);
    readme_free(&readme);
    free(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_quick_start_on_run_sh_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
