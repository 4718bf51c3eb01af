/*
 * helpers.h — shared pieces of the MCP tests: where node and the npm servers
 * live (configured by CMake), spawning helper servers on ports picked at run
 * time, a thread-safe recorder for backend hooks, and the tools/call
 * shorthands the stdio and HTTP suites both use.
 */
#ifndef FLOWGATE_TESTS_MCP_HELPERS_H
#define FLOWGATE_TESTS_MCP_HELPERS_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "mcp/mcp.h"

/* Fails the test (not skip) when tests/node_modules is missing: CI installs
 * it with scripts/install-test-tools.sh. Returns the node_modules path. */
const char *th_node_modules(void);
const char *th_node(void);
/* <node_modules>/@modelcontextprotocol/<pkg>/dist/index.js */
const char *th_npm_server(const char *pkg);
/* <source>/tests/mcp/fixtures/<name> */
const char *th_fixture(const char *name);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int th_free_port(void);
/* Spawns argv (argv[0] PATH-searched) in its own process group with extra
 * environment entries; stdout/stderr go to /dev/null unless quiet=false. */
pid_t th_spawn(char *const argv[], char *const extra_env[]);
/* Waits until 127.0.0.1:port accepts connections or the process exited. */
bool th_wait_port(int port, pid_t pid, int timeout_ms);
/* SIGKILLs the process group and reaps it. */
void th_kill(pid_t pid);
/* Starts `node args...` as an HTTP MCP server on a port picked at run time,
 * trying up to three ports (a picked port can be taken before the server
 * binds it). Every "$PORT" in args becomes the port, which the server also
 * finds in $PORT. On success writes "http://127.0.0.1:<port>/mcp" to url and
 * returns the pid (th_kill it); -1 when no attempt came up. */
pid_t th_start_http_server(const char *const args[], char *url, size_t url_size);

/* Records hook calls. */
typedef struct th_rec {
    pthread_mutex_t mu;
    int rpc_out, rpc_in, rpc_errors;
    int stderr_lines;
    int notifications;
    int server_requests;
    char last_server_request[64];
    char notes[8192];      /* methods (and logging data) of notifications, ';'-separated */
    char log[8192];        /* on_log lines */
} th_rec_t;

void th_rec_init(th_rec_t *r);
void th_rec_hooks(th_rec_t *r, mcp_hooks_t *hooks);
/* Copies a field under the lock. */
int th_rec_get(th_rec_t *r, const int *field);
bool th_rec_contains(th_rec_t *r, const char *which, const char *needle);

/* mcp_backend_new(cfg), with r (re-initialised) recording its hooks when r
 * is not NULL; fails the test when the backend cannot be created. */
mcp_backend_t *th_backend_new(mcp_backend_config_t *cfg, th_rec_t *r);

/* tools/call `tool` with args (stolen; NULL sends null, which the backend
 * turns into {}) under o (NULL: a 30 s deadline). */
mcp_call_status_t th_call_tool(mcp_backend_t *b, const char *tool, json_t *args, const mcp_call_opts_t *o,
                               json_t **res, err_t *e);
/* th_call_tool that fails the test unless the call succeeds; returns the
 * result (caller decrefs). */
json_t *th_call_tool_ok(mcp_backend_t *b, const char *tool, json_t *args);
/* Runs `threads` threads that each make `calls` echo calls with their own
 * messages ("<who> thread T call I"); returns how many answers were missing
 * or were not that call's own echo. */
long th_echo_from_threads(mcp_backend_t *b, const char *who, int threads, int calls);

/* notifications/progress seen by one call's callback. */
typedef struct th_progress {
    pthread_mutex_t mu;
    int n;
    double last;          /* progress value of the last one */
    char token[32];       /* its progressToken, as text */
} th_progress_t;

/* server-everything's trigger-long-running-operation (0.3 s, 3 steps) with
 * _meta.progressToken `token` (stolen), recording progress into *p. Fails
 * the test unless the call completes and leaves the caller's params (and so
 * its token) untouched. */
void th_long_operation(mcp_backend_t *b, json_t *token, th_progress_t *p);

/* A request for an unknown method ("foo/bar") must come back as the
 * backend's JSON-RPC error -32601, named in err too. */
void th_expect_method_not_found(mcp_backend_t *b);
/* Stops b, checks it is STOPPED, then makes an echo call that must start it
 * again: RUNNING, one more start than before. */
void th_stop_then_echo_restarts(mcp_backend_t *b);

/* Text of result.content[0].text, or "" */
const char *th_text(const json_t *result);

#endif
