/*
 * helpers.h — shared pieces of the MCP tests: where node and the npm servers
 * live (configured by CMake), spawning helper servers on ports picked at run
 * time, and a thread-safe recorder for backend hooks.
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

/* Text of result.content[0].text, or "" */
const char *th_text(const json_t *result);

#endif
