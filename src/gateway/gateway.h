/*
 * gateway.h — Flowgate's gateway: the CLI options, the HTTP front end that
 * MCP clients talk to, and the run loop that ties config, backends and logs
 * together. Drop-in for awmg (spec: gateway.md).
 *
 * How the pieces relate:
 *   gw_cli_parse      argv + environment -> gw_options_t (spec §1.2, §1.3)
 *   gw_run            the whole life of a gateway process (spec §1.4): logs,
 *                     config, backends, HTTP listener, the config JSON on
 *                     stdout, serving, and shutdown on SIGTERM/SIGINT or
 *                     POST /close. Returns the process exit status.
 * The running gateway itself (gw_server_t) is private to src/gateway
 * (gateway_internal.h); tests drive it as a process (tests/integration).
 * Internals: http.c (libmicrohttpd, routes, status codes), session.c (MCP
 * sessions), dispatch.c (JSON-RPC methods), pipeline.c (the tools/call steps),
 * pipeline_guard.c (the DIFC rows of those steps and guard selection),
 * backends.c (registry of backend connections and their tools), payload.c
 * (large results), hmac.c (request signing), log*.c (files of spec §5).
 * Private declarations are in gateway_internal.h.
 *
 * Nothing here calls exit(); gw_run returns the status for main() to return.
 */
#ifndef FLOWGATE_GATEWAY_H
#define FLOWGATE_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

#define GW_SPEC_VERSION "1.14.0"
#define GW_DEFAULT_LISTEN "127.0.0.1:3000"
#define GW_DEFAULT_LOG_DIR "/tmp/gh-aw/mcp-logs"
#define GW_DEFAULT_PAYLOAD_DIR "/tmp/jq-payloads"
#define GW_DEFAULT_PAYLOAD_THRESHOLD 524288
#define GW_DEFAULT_TOOL_TIMEOUT_S 60

typedef enum { GW_MODE_ROUTED, GW_MODE_UNIFIED } gw_mode_t;

/* Everything the command line and its environment defaults decide. Strings
 * point into argv or the environment or are static defaults: borrowed, valid
 * for the life of the process. `*_set` records whether the flag itself was
 * given, which the precedence rules of spec §1.3 need. */
typedef struct gw_options {
    const char *config_file;
    bool config_stdin;
    const char *listen;
    gw_mode_t mode;
    bool routed, unified;
    const char *env_file;
    bool validate_env;
    int verbose;
    bool sequential_launch;
    const char *log_dir;
    const char *payload_dir;
    bool payload_dir_set;
    const char *payload_path_prefix;
    bool payload_path_prefix_set;
    long payload_size_threshold;
    bool payload_size_threshold_set;
    bool url_domain_audit;
    bool url_domain_audit_set;
    const char *wasm_cache_dir; /* NULL: <dirname(log-dir)>/wazero-cache */
    long shutdown_timeout_ms;
    const char *tls_cert, *tls_key, *tls_ca;
    const char *hmac_secret;
    const char *guards_mode;
    bool guards_mode_set; /* flag given or MCP_GATEWAY_GUARDS_MODE set */
    const char *guards_sink_server_ids;
    const char *guard_policy_json;
    bool allowonly_scope_public;
    const char *allowonly_scope_owner, *allowonly_scope_repo, *allowonly_min_integrity;
    const char *otlp_endpoint, *otlp_service_name;
    double otlp_sample_rate;
} gw_options_t;

typedef enum {
    GW_CLI_RUN,      /* start the gateway with the parsed options */
    GW_CLI_HELP,     /* --help / help: usage was requested */
    GW_CLI_VERSION,  /* --version */
    GW_CLI_ERROR,    /* err says why; exit status 1 */
} gw_cli_result_t;

/* Parses argv[1..] (the root command's flags; subcommands are dispatched by
 * main.c before this). Fills `o` from flags, then environment defaults.
 * Error texts are cobra's, so scripts matching them keep working. */
gw_cli_result_t gw_cli_parse(int argc, char **argv, gw_options_t *o, err_t *err);

/* The root command's usage text. */
void gw_cli_usage(FILE *out);

/* "v0.1.0, commit: <c>, built: <date>" (spec §1.1). Static storage. */
const char *gw_version_string(void);
/* Just the version ("v0.1.0"), used in serverInfo and /health. */
const char *gw_version(void);

/* ---- `flowgate proxy` (spec §6): the GitHub API DIFC forward proxy ---- */

#define GW_PROXY_DEFAULT_LISTEN "127.0.0.1:8080"

/* The proxy command's flags and their environment defaults; strings are
 * borrowed like gw_options_t's. The comma lists (--trusted-bots,
 * --trusted-users) are kept as given; every occurrence of the flag is
 * appended, as pflag's StringSlice does, into a list owned by the struct
 * (freed by gw_proxy_options_free). */
typedef struct gw_proxy_options {
    const char *guard_wasm;     /* NULL: none found and none given */
    const char *policy;         /* "" = no policy */
    const char *github_token;   /* NULL: from the environment (spec §1.7) */
    const char *listen;
    const char *log_dir;
    const char *wasm_cache_dir; /* accepted; Flowgate compiles guards in memory */
    const char *guards_mode;
    const char *github_api_url; /* NULL: derived (spec §1.7) */
    bool force_public_repos;
    bool tls;
    const char *tls_dir;        /* NULL: <log-dir>/proxy-tls */
    char *trusted_bots;         /* owned, comma-joined occurrences, or NULL */
    char *trusted_users;        /* ditto */
    char *guard_wasm_found;     /* owned: the discovered default guard */
    const char *otlp_endpoint, *otlp_service_name;
    double otlp_sample_rate;
} gw_proxy_options_t;

/* Parses argv[1..] of `flowgate proxy ...` (argv[0] is "proxy"). */
gw_cli_result_t gw_proxy_cli_parse(int argc, char **argv, gw_proxy_options_t *o, err_t *err);
void gw_proxy_options_free(gw_proxy_options_t *o);
void gw_proxy_usage(FILE *out);
/* Runs the proxy until SIGTERM/SIGINT; returns the exit status. */
int gw_proxy_run(const gw_proxy_options_t *o);

/* ---- `flowgate completion <shell>` (spec §1.1) ---- */

/* In the order of cobra's ValidArgs. */
typedef enum { GW_SHELL_BASH, GW_SHELL_ZSH, GW_SHELL_FISH, GW_SHELL_POWERSHELL } gw_shell_t;

/* Parses argv[1..] of `flowgate completion ...` (argv[0] is "completion"):
 * exactly one argument, a shell name. GW_CLI_RUN sets *shell; GW_CLI_HELP
 * for -h/--help; GW_CLI_ERROR with cobra's text ("accepts 1 arg(s),
 * received N", "invalid argument \"x\" for \"flowgate completion\"",
 * "unknown flag: --x" plus the See line). Never GW_CLI_VERSION. */
gw_cli_result_t gw_completion_cli_parse(int argc, char **argv, gw_shell_t *shell, err_t *err);
void gw_completion_usage(FILE *out);
/* Writes the completion script for the `flowgate` command, generated from
 * the same flag tables the parsers use. False if writing to out failed. */
bool gw_completion_write(gw_shell_t shell, FILE *out);

/* Loads a .env file into the environment (spec §1.4 step 2). */
bool gw_env_load_file(const char *path, err_t *err);

/* The --validate-env checks (spec §1.5). */
bool gw_validate_env(err_t *err);

/* Whether this process runs inside a container, by upstream's rules
 * (spec §1.5): /.dockerenv exists, /proc/1/cgroup or /proc/self/cgroup
 * names docker, containerd, kubepods or lxc, or RUNNING_IN_CONTAINER=true. */
bool gw_running_in_container(void);
/* The cgroup part of that test on one file's text. */
bool gw_cgroup_text_is_container(const char *text);

/* Runs the gateway until shutdown; returns the process exit status
 * (0 after a clean shutdown, 1 on a startup error, whose text is printed to
 * stderr unprefixed). */
int gw_run(const gw_options_t *o);

#endif
