/*
 * harness.c — see harness.h.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FG_FLOWGATE_BIN
#error "FG_FLOWGATE_BIN must be defined by the build"
#endif

static pid_t live[256];
static int nlive;
static char *tmpdirs[64];
static int ntmp;

static void cleanup_all(void)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] > 0)
            kill(-live[i], SIGKILL);
    for (int i = 0; i < ntmp; i++) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdirs[i]);
        if (system(cmd) != 0) { /* best effort */ }
        free(tmpdirs[i]);
    }
    ntmp = 0;
}

static void ensure_atexit(void)
{
    static bool done;
    if (!done) {
        atexit(cleanup_all);
        signal(SIGPIPE, SIG_IGN);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        done = true;
    }
}

static void track(pid_t p)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == 0) {
            live[i] = p;
            return;
        }
    if (nlive < 256)
        live[nlive++] = p;
}

static void untrack(pid_t p)
{
    for (int i = 0; i < nlive; i++)
        if (live[i] == p)
            live[i] = 0;
}

const char *fg_flowgate_bin(void) { return FG_FLOWGATE_BIN; }
const char *fg_node_bin(void) { return FG_NODE_BIN; }
const char *fg_tests_dir(void) { return FG_TESTS_DIR; }
const char *fg_everything_js(void)
{
    return FG_TESTS_DIR "/node_modules/@modelcontextprotocol/server-everything/dist/index.js";
}
const char *fg_memory_js(void)
{
    return FG_TESTS_DIR "/node_modules/@modelcontextprotocol/server-memory/dist/index.js";
}

char *fg_tempdir(const char *tag)
{
    ensure_atexit();
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "/tmp/fg-%s-XXXXXX", tag);
    char *d = mkdtemp(tmpl);
    if (!d)
        return NULL;
    char *r = strdup(d);
    if (ntmp < 64)
        tmpdirs[ntmp++] = strdup(d);
    return r;
}

bool fg_spawn(fg_proc_t *p, char *const argv[], char *const env_add[], const char *input, bool capture_out)
{
    ensure_atexit();
    memset(p, 0, sizeof *p);
    p->out_fd = -1;
    snprintf(p->err_path, sizeof p->err_path, "/tmp/fg-stderr-XXXXXX");
    int efd = mkstemp(p->err_path);
    if (efd < 0)
        return false;
    int in[2], out[2] = {-1, -1};
    if (pipe(in) != 0)
        return false;
    if (capture_out && pipe(out) != 0)
        return false;
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        setpgid(0, 0);
        dup2(in[0], 0);
        if (capture_out)
            dup2(out[1], 1);
        else {
            int dn = open("/dev/null", O_WRONLY);
            dup2(dn, 1);
        }
        dup2(efd, 2);
        for (int fd = 3; fd < 1024; fd++)
            close(fd);
        for (char *const *e = env_add; e && *e; e++)
            putenv(*e);
        execvp(argv[0], argv);
        _exit(127);
    }
    setpgid(pid, pid);
    track(pid);
    close(efd);
    close(in[0]);
    if (input) {
        size_t len = strlen(input), off = 0;
        while (off < len) {
            ssize_t w = write(in[1], input + off, len - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    close(in[1]);
    if (capture_out) {
        close(out[1]);
        p->out_fd = out[0];
    }
    p->pid = pid;
    return true;
}

int fg_proc_wait(fg_proc_t *p, int ms)
{
    if (p->pid <= 0)
        return -1;
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            untrack(p->pid);
            /* Whatever the process left in its group goes too. */
            kill(-p->pid, SIGKILL);
            p->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (waited >= ms)
            return -1;
        usleep(10000);
    }
}

int fg_proc_stop(fg_proc_t *p, int grace_ms)
{
    if (p->pid <= 0)
        return -1;
    kill(p->pid, SIGTERM);
    int st = fg_proc_wait(p, grace_ms);
    if (st < 0) {
        kill(-p->pid, SIGKILL);
        st = fg_proc_wait(p, 5000);
    }
    if (p->out_fd >= 0) {
        close(p->out_fd);
        p->out_fd = -1;
    }
    return st;
}

char *fg_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    size_t n;
    while (b && (n = fread(b + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            char *nb = realloc(b, cap);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    if (b)
        b[len] = 0;
    fclose(f);
    return b;
}

char *fg_proc_stderr(fg_proc_t *p)
{
    char *text = fg_read_file(p->err_path);
    return text ? text : strdup("");
}

/* Reads from fd until `done` says the buffer is complete, EOF, or timeout. */
static char *read_until(int fd, int timeout_ms, bool (*done)(const char *))
{
    size_t cap = 4096, len = 0;
    char *b = malloc(cap);
    b[0] = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (done && done(b))
            break;
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (el >= timeout_ms)
            break;
        struct pollfd pfd = {fd, POLLIN, 0};
        if (poll(&pfd, 1, (int)(timeout_ms - el)) <= 0)
            break;
        if (cap - len < 1024) {
            cap *= 2;
            b = realloc(b, cap);
        }
        ssize_t r = read(fd, b + len, cap - len - 1);
        if (r <= 0)
            break;
        len += (size_t)r;
        b[len] = 0;
    }
    return b;
}

static bool doc_complete(const char *b)
{
    return strstr(b, "\n}\n") != NULL;
}

bool fg_gateway_start(fg_gateway_t *g, const char *config, const char *const extra[], int timeout_ms)
{
    memset(g, 0, sizeof *g);
    char *ld = fg_tempdir("logs"), *pd = fg_tempdir("payloads");
    snprintf(g->log_dir, sizeof g->log_dir, "%s", ld);
    snprintf(g->payload_dir, sizeof g->payload_dir, "%s", pd);
    free(ld);
    free(pd);
    const char *argv[64];
    int n = 0;
    argv[n++] = fg_flowgate_bin();
    if (config)
        argv[n++] = "--config-stdin";
    argv[n++] = "--listen";
    argv[n++] = "127.0.0.1:0";
    argv[n++] = "--log-dir";
    argv[n++] = g->log_dir;
    argv[n++] = "--payload-dir";
    argv[n++] = g->payload_dir;
    for (int i = 0; extra && extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    if (!fg_spawn(&g->proc, (char *const *)argv, NULL, config, true))
        return false;
    char *out = read_until(g->proc.out_fd, timeout_ms, doc_complete);
    json_error_t je;
    g->doc = json_loads(out, JSON_DISABLE_EOF_CHECK, &je);
    free(out);
    if (!g->doc) {
        char *e = fg_proc_stderr(&g->proc);
        fprintf(stderr, "flowgate did not print its config document; stderr:\n%s\n", e);
        free(e);
        fg_proc_stop(&g->proc, 2000);
        return false;
    }
    const char *key;
    json_t *srv;
    json_object_foreach(json_object_get(g->doc, "mcpServers"), key, srv) {
        const char *url = json_string_value(json_object_get(srv, "url"));
        const char *a = json_string_value(json_object_get(json_object_get(srv, "headers"), "Authorization"));
        const char *at = url ? strstr(url, "://127.0.0.1:") : NULL;
        if (at)
            g->port = atoi(at + 13);
        if (a)
            snprintf(g->auth, sizeof g->auth, "%s", a);
        break;
    }
    const char *scheme = "http";
    json_object_foreach(json_object_get(g->doc, "mcpServers"), key, srv) {
        const char *url = json_string_value(json_object_get(srv, "url"));
        if (url && !strncmp(url, "https:", 6))
            scheme = "https";
        break;
    }
    snprintf(g->url_base, sizeof g->url_base, "%s://127.0.0.1:%d", scheme, g->port);
    return g->port > 0;
}

int fg_gateway_stop(fg_gateway_t *g)
{
    kill(g->proc.pid, SIGTERM);
    int st = fg_proc_wait(&g->proc, 15000);
    if (st < 0)
        st = fg_proc_stop(&g->proc, 1000);
    if (g->proc.out_fd >= 0) {
        char *rest = read_until(g->proc.out_fd, 1000, NULL);
        snprintf(g->extra_stdout, sizeof g->extra_stdout, "%s", rest);
        free(rest);
        close(g->proc.out_fd);
        g->proc.out_fd = -1;
    }
    json_decref(g->doc);
    g->doc = NULL;
    return st;
}

int fg_run_flowgate(const char *const args[], const char *input, char **out, char **err, int timeout_ms)
{
    const char *argv[64];
    int n = 0;
    argv[n++] = fg_flowgate_bin();
    for (int i = 0; args && args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fg_proc_t p;
    if (!fg_spawn(&p, (char *const *)argv, NULL, input, true))
        return -1;
    char *o = read_until(p.out_fd, timeout_ms, NULL);
    int st = fg_proc_wait(&p, timeout_ms);
    if (st < 0)
        st = fg_proc_stop(&p, 1000);
    close(p.out_fd);
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = fg_proc_stderr(&p);
    unlink(p.err_path);
    return st;
}

/* ---- HTTP ---- */

const char *fg_http_cainfo;

typedef struct {
    char *b;
    size_t len;
} sbuf_t;

static size_t sink(char *ptr, size_t size, size_t nmemb, void *ud)
{
    sbuf_t *s = ud;
    size_t n = size * nmemb;
    char *nb = realloc(s->b, s->len + n + 1);
    if (!nb)
        return 0;
    s->b = nb;
    memcpy(s->b + s->len, ptr, n);
    s->len += n;
    s->b[s->len] = 0;
    return n;
}

bool fg_http(const char *method, const char *url, const char *const headers[], const char *body, fg_resp_t *r)
{
    return fg_http_ex(method, url, headers, body, 60000, r);
}

bool fg_http_ex(const char *method, const char *url, const char *const headers[], const char *body, long timeout_ms,
                fg_resp_t *r)
{
    ensure_atexit();
    memset(r, 0, sizeof *r);
    CURL *c = curl_easy_init();
    if (!c)
        return false;
    sbuf_t b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (int i = 0; headers && headers[i]; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (!strcmp(method, "HEAD"))
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (fg_http_cainfo)
        curl_easy_setopt(c, CURLOPT_CAINFO, fg_http_cainfo);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    r->body = b.b ? b.b : strdup("");
    r->headers = h.b ? h.b : strdup("");
    return rc == CURLE_OK;
}

bool fg_http_raw(int port, const char *req, size_t len, fg_resp_t *r)
{
    ensure_atexit();
    memset(r, 0, sizeof *r);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            close(fd);
            return false;
        }
        off += (size_t)n;
    }
    sbuf_t b = {0};
    char chunk[4096];
    ssize_t n;
    while ((n = recv(fd, chunk, sizeof chunk, 0)) > 0)
        if (sink(chunk, 1, (size_t)n, &b) != (size_t)n)
            break;
    close(fd);
    char *text = b.b ? b.b : strdup("");
    char *split = strstr(text, "\r\n\r\n");
    if (sscanf(text, "HTTP/1.%*d %ld", &r->status) != 1 || !split) {
        free(text);
        return false;
    }
    r->headers = strndup(text, (size_t)(split - text) + 2);
    r->body = strdup(split + 4);
    free(text);
    return true;
}

void fg_resp_free(fg_resp_t *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

char *fg_resp_header(const fg_resp_t *r, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *e = strstr(p, "\r\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len > nl && !strncasecmp(p, name, nl) && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            return strndup(v, len - (size_t)(v - p));
        }
        p = e ? e + 2 : p + len;
    }
    return NULL;
}

json_t *fg_sse_first(const char *body)
{
    const char *d = strstr(body, "data: ");
    if (!d)
        return NULL;
    d += 6;
    const char *e = strchr(d, '\n');
    size_t n = e ? (size_t)(e - d) : strlen(d);
    return json_loadb(d, n, 0, NULL);
}

/* ---- MCP over raw HTTP ---- */

bool fg_mcp_post(const char *url, const char *auth, const char *sid, const char *body, fg_resp_t *r)
{
    char ah[512], sh[160];
    const char *h[6];
    int n = 0;
    if (auth) {
        snprintf(ah, sizeof ah, "Authorization: %s", auth);
        h[n++] = ah;
    }
    h[n++] = "Content-Type: application/json";
    h[n++] = "Accept: application/json, text/event-stream";
    if (sid && *sid) {
        snprintf(sh, sizeof sh, "Mcp-Session-Id: %s", sid);
        h[n++] = sh;
    }
    h[n] = NULL;
    return fg_http("POST", url, h, body, r);
}

bool fg_mcp_open(const char *url, const char *auth, char *sid, size_t n)
{
    fg_resp_t r;
    bool ok = fg_mcp_post(url, auth, NULL,
                          "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
                          "\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"harness\",\"version\":\"1\"}}}",
                          &r) && r.status == 200;
    char *id = ok ? fg_resp_header(&r, "Mcp-Session-Id") : NULL;
    if (!id)
        fprintf(stderr, "initialize on %s: HTTP %ld, no session: %s\n", url, r.status, r.body ? r.body : "");
    fg_resp_free(&r);
    if (!id)
        return false;
    snprintf(sid, n, "%s", id);
    free(id);
    ok = fg_mcp_post(url, auth, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &r) &&
         r.status == 202;
    if (!ok)
        fprintf(stderr, "notifications/initialized on %s: HTTP %ld: %s\n", url, r.status, r.body ? r.body : "");
    fg_resp_free(&r);
    return ok;
}

json_t *fg_mcp_rpc(const char *url, const char *auth, const char *sid, const char *body)
{
    fg_resp_t r;
    bool sent = fg_mcp_post(url, auth, sid, body, &r);
    json_t *v = sent && r.status == 200 ? fg_sse_first(r.body) : NULL;
    if (!v)
        fprintf(stderr, "%s <- %s: HTTP %ld: %s\n", url, body, r.status, r.body ? r.body : "");
    fg_resp_free(&r);
    return v;
}

json_t *fg_mcp_tool(const char *url, const char *auth, const char *sid, const char *name, const char *args)
{
    json_t *a = json_loads(args, JSON_DECODE_ANY, NULL);
    json_t *req = json_pack("{s:s,s:i,s:s,s:{s:s,s:o}}", "jsonrpc", "2.0", "id", 2, "method", "tools/call", "params",
                            "name", name, "arguments", a ? a : json_null());
    char *body = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    json_t *v = body ? fg_mcp_rpc(url, auth, sid, body) : NULL;
    free(body);
    return v;
}

int fg_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

bool fg_wait_port(int port, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        close(fd);
        if (ok)
            return true;
        usleep(50000);
    }
    return false;
}

json_t *fg_sdk(const char *scenario, const char *url, const char *auth, const char *const args[], int timeout_ms)
{
    char script[512];
    snprintf(script, sizeof script, "%s/integration/sdk_client.mjs", fg_tests_dir());
    const char *argv[32];
    int n = 0;
    argv[n++] = fg_node_bin();
    argv[n++] = script;
    argv[n++] = scenario;
    argv[n++] = url;
    argv[n++] = auth;
    for (int i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fg_proc_t p;
    if (!fg_spawn(&p, (char *const *)argv, NULL, NULL, true))
        return NULL;
    char *o = read_until(p.out_fd, timeout_ms, NULL);
    int st = fg_proc_wait(&p, 5000);
    if (st < 0)
        fg_proc_stop(&p, 1000);
    close(p.out_fd);
    json_t *v = json_loads(o, JSON_DISABLE_EOF_CHECK, NULL);
    if (!v) {
        char *e = fg_proc_stderr(&p);
        fprintf(stderr, "sdk_client %s: no JSON output\nstdout: %s\nstderr: %s\n", scenario, o, e);
        free(e);
    } else if (json_object_get(v, "scriptError")) {
        fprintf(stderr, "sdk_client %s: %s\n", scenario, json_string_value(json_object_get(v, "scriptError")));
    }
    unlink(p.err_path);
    free(o);
    return v;
}
