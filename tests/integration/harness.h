/*
 * harness.h — starting real processes for the integration tests: the
 * flowgate binary (config on stdin, --listen 127.0.0.1:0 so the kernel picks
 * the port, which the stdout document then reports), npm MCP servers, and
 * the SDK client script; plus raw HTTP with libcurl.
 *
 * Every process started here is in its own process group and is killed by
 * fg_proc_kill / at exit (atexit handler), so a failing assertion never
 * leaves a server running.
 */
#ifndef FLOWGATE_TESTS_HARNESS_H
#define FLOWGATE_TESTS_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

typedef struct fg_proc {
    pid_t pid;
    int out_fd;     /* child's stdout (read end), -1 if not captured */
    char err_path[256]; /* child's stderr goes here */
} fg_proc_t;

/* Spawns argv with env additions ("K=V", NULL-terminated, may be NULL);
 * stdin from `input` (may be NULL: /dev/null). */
bool fg_spawn(fg_proc_t *p, char *const argv[], char *const env_add[], const char *input, bool capture_out);
/* SIGTERM, then SIGKILL after grace_ms; reaps. Returns the exit status
 * (128+sig if killed by a signal), or -1. */
int fg_proc_stop(fg_proc_t *p, int grace_ms);
/* Waits up to ms for exit; returns status or -1 on timeout. */
int fg_proc_wait(fg_proc_t *p, int ms);
/* Contents of the child's stderr file (malloc'd). */
char *fg_proc_stderr(fg_proc_t *p);

typedef struct fg_gateway {
    fg_proc_t proc;
    int port;
    char auth[256];
    char url_base[128];     /* http://127.0.0.1:<port> */
    char log_dir[256];
    char payload_dir[256];
    json_t *doc;            /* the stdout document */
    char extra_stdout[4096]; /* anything printed after the document */
} fg_gateway_t;

/* Starts flowgate with `config` on stdin (NULL: use args only) and extra
 * args (NULL-terminated). Waits for the stdout document (<= timeout_ms).
 * Returns false (after killing it) if the document never came. */
bool fg_gateway_start(fg_gateway_t *g, const char *config, const char *const extra[], int timeout_ms);
/* SIGTERM and wait; returns the exit status. extra_stdout then holds what
 * the gateway printed after its document (should be nothing). */
int fg_gateway_stop(fg_gateway_t *g);

/* Runs flowgate to completion; returns exit status, stdout and stderr. */
int fg_run_flowgate(const char *const args[], const char *input, char **out, char **err, int timeout_ms);

typedef struct fg_resp {
    long status;
    char *body;
    char *headers; /* raw header block */
} fg_resp_t;

/* CA bundle for https requests (NULL: the system's). */
extern const char *fg_http_cainfo;

/* One HTTP request. headers: NULL-terminated "Name: value". */
bool fg_http(const char *method, const char *url, const char *const headers[], const char *body, fg_resp_t *r);
bool fg_http_ex(const char *method, const char *url, const char *const headers[], const char *body, long timeout_ms,
                fg_resp_t *r);
/* Sends `len` raw bytes (a whole HTTP/1.1 request, which should ask for
 * Connection: close) to 127.0.0.1:port and reads the answer to EOF: for
 * bytes curl will not send, such as a NUL inside a header value. */
bool fg_http_raw(int port, const char *req, size_t len, fg_resp_t *r);
void fg_resp_free(fg_resp_t *r);
/* Value of a response header (case-insensitive), malloc'd, or NULL. */
char *fg_resp_header(const fg_resp_t *r, const char *name);
/* JSON of the first "data: " line of an SSE body (new ref) or NULL. */
json_t *fg_sse_first(const char *body);

/* A minimal MCP client over fg_http, for tests that probe the front end
 * directly. `auth` is the Authorization value (NULL: none); `sid` the
 * Mcp-Session-Id (NULL or "": none). Every POST carries JSON Content-Type
 * and both Accept values. */
bool fg_mcp_post(const char *url, const char *auth, const char *sid, const char *body, fg_resp_t *r);
/* initialize (2025-11-25) + notifications/initialized; the session id goes
 * to sid[n]. False, with a message on stderr, on any unexpected answer. */
bool fg_mcp_open(const char *url, const char *auth, char *sid, size_t n);
/* One request in a session: the first SSE data JSON of a 200 reply (new
 * ref), or NULL (printing the status and body) otherwise. */
json_t *fg_mcp_rpc(const char *url, const char *auth, const char *sid, const char *body);
/* tools/call `name` with `args` (JSON text), id 2; as fg_mcp_rpc. */
json_t *fg_mcp_tool(const char *url, const char *auth, const char *sid, const char *name, const char *args);

/* A TCP port that was free a moment ago. */
int fg_free_port(void);
/* Waits until 127.0.0.1:port accepts connections. */
bool fg_wait_port(int port, int timeout_ms);

/* Paths (from the build). */
const char *fg_flowgate_bin(void);
const char *fg_node_bin(void);
const char *fg_tests_dir(void);   /* .../tests */
/* node .../server-everything/dist/index.js, .../server-memory/dist/index.js */
const char *fg_everything_js(void);
const char *fg_memory_js(void);

/* The whole file, NUL-terminated (malloc'd), or NULL if it cannot be read. */
char *fg_read_file(const char *path);

/* mkdtemp under /tmp; the directory is removed at exit. */
char *fg_tempdir(const char *tag);

/* Runs the SDK client script; returns its parsed output (new ref) or NULL. */
json_t *fg_sdk(const char *scenario, const char *url, const char *auth, const char *const args[], int timeout_ms);

#endif
