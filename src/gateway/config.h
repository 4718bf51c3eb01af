/*
 * config.h — the gateway's configuration: loading, validating, and the typed
 * result every other part of the gateway reads.
 *
 * Two sources feed one structure (spec: gateway.md §2):
 *   - JSON on stdin (`--config-stdin`): `type:"local"` is normalised to
 *     stdio, `${VAR}` is expanded (an undefined variable is fatal), the
 *     document is checked against the rules of upstream's embedded JSON
 *     Schema, then the per-server and gateway rules (§2.7), then each server
 *     is converted: a `container` server becomes `docker run ...` with the
 *     exact argv of §2.4.
 *   - a TOML file (`--config FILE.toml`), parsed by util/toml.h: unknown keys
 *     are rejected, `${VAR}` is expanded only in [gateway.opentelemetry].
 * Both produce a gw_config_t, or fail with one message in upstream's style
 * ("Configuration error at <path>: ..." / "Configuration validation error
 * ...", §2.8). A bad config never yields a partial result.
 *
 * Flowgate extension (documented departure): a stdio server may be given as
 * a plain command, `"command": "node", "args": [...], "env": {...}`, in JSON
 * as well as TOML (upstream's schema rejects `command` in JSON, and its TOML
 * loader requires command == "docker"). Set
 * gw_config_options_t.containerized_only to get upstream's behaviour back.
 *
 * Ownership: gw_config_load_* return a gw_config_t the caller frees with
 * gw_config_free(); everything reachable from it (strings, arrays, json_t
 * references) is owned by it and lives until then. The structure is
 * read-only after loading, so any thread may read it without locks.
 */
#ifndef FLOWGATE_GATEWAY_CONFIG_H
#define FLOWGATE_GATEWAY_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

/* Defaults (gateway.md §2.3, §2.5). */
#define GW_CONFIG_DEFAULT_PORT 3000
#define GW_CONFIG_DEFAULT_STARTUP_TIMEOUT 30        /* seconds */
#define GW_CONFIG_DEFAULT_TOOL_TIMEOUT 60           /* seconds */
#define GW_CONFIG_DEFAULT_CONNECT_TIMEOUT 30        /* seconds, http servers */
#define GW_CONFIG_DEFAULT_KEEPALIVE_INTERVAL 1500   /* seconds; -1 disables */
#define GW_CONFIG_DEFAULT_PAYLOAD_DIR "/tmp/jq-payloads"
#define GW_CONFIG_DEFAULT_PAYLOAD_SIZE_THRESHOLD 524288
#define GW_CONFIG_DEFAULT_RATE_LIMIT_THRESHOLD 3
#define GW_CONFIG_DEFAULT_RATE_LIMIT_COOLDOWN 60    /* seconds */

/* A list of owned strings. */
typedef struct gw_strlist {
    char **items;
    size_t count;
} gw_strlist_t;

/* A string map, sorted by key (strcmp), keys unique. */
typedef struct gw_strpair {
    char *key;
    char *value;
} gw_strpair_t;

typedef struct gw_strmap {
    gw_strpair_t *items;
    size_t count;
} gw_strmap_t;

typedef enum gw_server_kind {
    GW_SERVER_STDIO,  /* a child process: `command` + `args` (+ `env`) */
    GW_SERVER_HTTP,   /* a streamable-HTTP MCP server at `url` */
} gw_server_kind_t;

typedef enum gw_config_source {
    GW_CONFIG_SOURCE_JSON,  /* --config-stdin */
    GW_CONFIG_SOURCE_TOML,  /* --config FILE */
} gw_config_source_t;

typedef struct gw_server_config {
    char *id;               /* the key under mcpServers / servers */
    gw_server_kind_t kind;
    char *type;             /* as written after normalisation: "stdio", "http"
                               ("local" becomes "stdio") */

    /* stdio. For a JSON `container` server: command = "docker" and args is
     * the full `run --rm -i ...` list of §2.4 (env keys sorted); env is
     * empty. For a command server (TOML, or the Flowgate JSON extension):
     * command/args as written, env = the server's env map. At launch the
     * child's environment is the gateway's plus `env`; see
     * gw_server_launch_argv() for the `-e NAME` rewriting. */
    char *command;
    gw_strlist_t args;
    gw_strmap_t env;
    char *container;          /* JSON only: the image; NULL otherwise */
    char *working_directory;  /* TOML only; parsed, unused upstream */

    /* http */
    char *url;
    gw_strmap_t headers;      /* ${VAR}-expanded (JSON) */
    char *auth_type;          /* "github-oidc" or NULL */
    char *auth_audience;      /* defaults to url when auth is set */
    int connect_timeout;      /* seconds, default 30 */

    /* common */
    bool has_tools;           /* false: no `tools` key (all tools allowed) */
    gw_strlist_t tools;       /* allowed tool names; ["*"] means all */
    int tool_timeout;         /* seconds; 0 = use the gateway's */
    char *registry;           /* informational, may be NULL */
    char *guard;              /* name of an entry in gw_config_t.guards, or NULL */
    json_t *guard_policies;   /* the raw `guard-policies` / `guard_policies`
                                 object (owned reference), or NULL; validated
                                 at load with difc_policy_parse_server */
    json_t *tool_response_filters; /* object tool -> jq text, or NULL */
    struct gw_jq_set *jq_filters; /* the same, compiled at load (jq_filter.h) */
    int rate_limit_threshold; /* TOML only upstream; default 3 */
    int rate_limit_cooldown;  /* seconds, default 60 */
} gw_server_config_t;

/* guards.<name> = {type, path, config, policy} */
typedef struct gw_guard_config {
    char *name;
    char *type;               /* "wasm", "noop", "" (noop), other: registry */
    char *path;               /* wasm file, may be NULL */
    json_t *config;           /* free-form, owned, may be NULL */
    json_t *policy;           /* owned, may be NULL; validated at load with
                                 difc_policy_parse */
} gw_guard_config_t;

typedef struct gw_otel_config {
    bool present;             /* opentelemetry (or legacy TOML tracing) given */
    char *endpoint;
    gw_strmap_t headers;      /* TOML only */
    char *trace_id;           /* 32 lowercase hex or NULL */
    char *span_id;            /* 16 lowercase hex or NULL */
    char *service_name;       /* NULL: use the CLI default */
    bool has_sample_rate;
    double sample_rate;
    char *signal_path;        /* TOML only */
} gw_otel_config_t;

typedef struct gw_gateway_config {
    int port;                 /* metadata only (§2.3); default 3000 */
    char *domain;             /* may be NULL (TOML) */
    char *agent_id;           /* agentId, else apiKey (deprecated alias);
                                 NULL when neither: the caller generates one */
    bool agent_id_from_api_key; /* true when it came from apiKey/api_key */
    int startup_timeout;      /* seconds, default 30 */
    int tool_timeout;         /* seconds: JSON toolTimeout, else
                                 MCP_GATEWAY_TOOL_TIMEOUT (int >= 10), else 60;
                                 TOML tool_timeout, else 60 */
    int keepalive_interval;   /* seconds; -1 = disabled (JSON 0 also -1) */
    char *payload_dir;        /* default /tmp/jq-payloads */
    char *payload_path_prefix;/* "" = paths unchanged */
    int64_t payload_size_threshold; /* default 524288 */
    bool has_trusted_bots;
    gw_strlist_t trusted_bots;
    bool force_public_repos;  /* default true */
    gw_strlist_t sink_visibility_exempt_servers;
    gw_otel_config_t otel;
} gw_gateway_config_t;

typedef struct gw_config {
    gw_config_source_t source;
    gw_server_config_t *servers;  /* in document order */
    size_t server_count;
    gw_gateway_config_t gateway;
    gw_guard_config_t *guards;    /* top-level guards, document order */
    size_t guard_count;
    char *guards_mode;            /* TOML guards_mode, or NULL */
    bool sequential_launch;       /* TOML sequential_launch */
    json_t *custom_schemas;       /* JSON customSchemas object, or NULL */
} gw_config_t;

/* Looks up an environment variable; returns NULL when undefined. */
typedef const char *(*gw_config_getenv_fn)(const char *name, void *ud);

typedef struct gw_config_options {
    const char *version;          /* shown in schema errors; NULL: "dev" */
    gw_config_getenv_fn getenv;   /* NULL: getenv(3) */
    void *getenv_ud;
    bool containerized_only;      /* upstream rule: JSON stdio needs
                                     `container`, TOML command must be docker */
} gw_config_options_t;

/* Loads a JSON config from text (§2.1). opts may be NULL (defaults). On
 * success *out is a new config. On failure returns false, *out untouched,
 * err holds the message. */
bool gw_config_load_json(const char *text, size_t len, const gw_config_options_t *opts,
                         gw_config_t **out, err_t *err);

/* Reads all of `in` (stdin) then gw_config_load_json. A read error gives
 * "failed to read stdin: ...". */
bool gw_config_load_json_stream(FILE *in, const gw_config_options_t *opts, gw_config_t **out,
                                err_t *err);

/* Loads a TOML config from text (§2.5). Parse errors read
 * "failed to parse TOML: line L, column C: ...". */
bool gw_config_load_toml(const char *text, size_t len, const gw_config_options_t *opts,
                         gw_config_t **out, err_t *err);

/* Reads the file then gw_config_load_toml. */
bool gw_config_load_toml_file(const char *path, const gw_config_options_t *opts,
                              gw_config_t **out, err_t *err);

/* Frees everything; NULL is fine. */
void gw_config_free(gw_config_t *cfg);

/* The server with this id, or NULL. */
const gw_server_config_t *gw_config_find_server(const gw_config_t *cfg, const char *id);

/* The guard entry with this name, or NULL. */
const gw_guard_config_t *gw_config_find_guard(const gw_config_t *cfg, const char *name);

/* The server's GuardPolicy, in canonical form ({"allow-only":{...}} or
 * {"write-sink":{...}}), found in its guard_policies by upstream's forms
 * (guard-abi-and-difc.md §3.10; difc_policy_parse_server does the work):
 * the map itself holds allow-only/allowonly/write-sink/writesink; the legacy
 * flat {repos, min-integrity|integrity}; the policy nested under the
 * server's own id; a map with exactly one key whose value is a policy map.
 * *policy gets a new reference, or NULL when the server has no policy (not
 * an error). Returns false on an invalid policy. Loading already validated
 * every server's policy, so this only fails on configs built by hand. */
bool gw_config_server_policy(const gw_server_config_t *srv, json_t **policy, err_t *err);

/* The value for key in a sorted map, or NULL. */
const char *gw_strmap_get(const gw_strmap_t *map, const char *key);

/* The argv to exec for a stdio server at launch time (§2.4): command, args,
 * NULL-terminated, with every `-e NAME` pair (no '=') rewritten to
 * `-e NAME=<value>` when NAME is defined in the environment given by
 * getenv (NULL: getenv(3)); undefined names stay as they are. Returns a
 * malloc'd array of malloc'd strings (free with gw_argv_free), or NULL on
 * allocation failure / non-stdio server. */
char **gw_server_launch_argv(const gw_server_config_t *srv, gw_config_getenv_fn getenv_fn,
                             void *ud, err_t *err);
void gw_argv_free(char **argv);

#endif
