/*
 * cli.c — the root command's flags, their environment defaults and cobra's
 * validation messages (spec: gateway §1.2, §1.3).
 *
 * Parsing follows pflag: "--name value", "--name=value", "-c value",
 * "-cvalue", bool flags take an optional "=true|false", "-v" is a counter
 * that may repeat ("-vvv"). Environment defaults are applied for every flag
 * that was not given, as upstream's flag registration does.
 */
#include "gateway/cli_internal.h"
#include "gateway/gateway.h"
#include "guard/guard.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifndef FLOWGATE_VERSION
#define FLOWGATE_VERSION "0.1.0"
#endif
#ifndef FLOWGATE_COMMIT
#define FLOWGATE_COMMIT "unknown"
#endif

const char *gw_version(void)
{
    return "v" FLOWGATE_VERSION;
}

const char *gw_version_string(void)
{
    return "v" FLOWGATE_VERSION ", commit: " FLOWGATE_COMMIT ", built: " __DATE__;
}

typedef gw_flag_t flag_t;

#define MODES "strict filter propagate"

const gw_flag_t gw_cli_root_flags[] = {
    {"config", 'c', GW_FLAG_PATH, "Path to the TOML configuration file", NULL},
    {"config-stdin", 0, GW_FLAG_BOOL, "Read the JSON configuration from stdin", NULL},
    {"listen", 'l', GW_FLAG_STRING, "HTTP listen address (default \"127.0.0.1:3000\")", NULL},
    {"routed", 0, GW_FLAG_BOOL, "Routed mode: /mcp/{server} per backend (default)", NULL},
    {"unified", 0, GW_FLAG_BOOL, "Unified mode: one /mcp endpoint, tools named server___tool", NULL},
    {"env", 0, GW_FLAG_PATH, "Path to a .env file to load before starting", NULL},
    {"validate-env", 0, GW_FLAG_BOOL, "Check the execution environment (docker, required variables)", NULL},
    {"verbose", 'v', GW_FLAG_COUNT, "Verbosity (-v, -vv, -vvv); sets DEBUG when unset", NULL},
    {"sequential-launch", 0, GW_FLAG_BOOL, "Launch backends one at a time", NULL},
    {"log-dir", 0, GW_FLAG_PATH, "Log directory (env MCP_GATEWAY_LOG_DIR)", NULL},
    {"payload-dir", 0, GW_FLAG_PATH, "Directory for large payloads (env MCP_GATEWAY_PAYLOAD_DIR)", NULL},
    {"payload-path-prefix", 0, GW_FLAG_STRING, "Path prefix returned for payloads (env MCP_GATEWAY_PAYLOAD_PATH_PREFIX)", NULL},
    {"payload-size-threshold", 0, GW_FLAG_LONG, "Size above which results are saved to a file (env MCP_GATEWAY_PAYLOAD_SIZE_THRESHOLD)", NULL},
    {"url-domain-audit", 0, GW_FLAG_BOOL, "Record URL domains seen in results (env MCP_GATEWAY_URL_DOMAIN_AUDIT)", NULL},
    {"wasm-cache-dir", 0, GW_FLAG_PATH, "Guard compilation cache (env MCP_GATEWAY_WASM_CACHE_DIR)", NULL},
    {"shutdown-timeout", 0, GW_FLAG_DURATION, "Graceful drain time on shutdown (env MCP_GATEWAY_SHUTDOWN_TIMEOUT)", NULL},
    {"tls-cert", 0, GW_FLAG_PATH, "TLS certificate (env MCP_GATEWAY_TLS_CERT)", NULL},
    {"tls-key", 0, GW_FLAG_PATH, "TLS key (env MCP_GATEWAY_TLS_KEY)", NULL},
    {"tls-ca", 0, GW_FLAG_PATH, "CA for client certificates, enables mTLS (env MCP_GATEWAY_CA_CERT)", NULL},
    {"hmac-secret", 0, GW_FLAG_STRING, "HMAC request-signing secret (env MCP_GATEWAY_HMAC_SECRET)", NULL},
    {"guards-mode", 0, GW_FLAG_STRING, "DIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)", MODES},
    {"guards-sink-server-ids", 0, GW_FLAG_STRING, "Comma list of sink servers (env MCP_GATEWAY_GUARDS_SINK_SERVER_IDS)", NULL},
    {"guard-policy-json", 0, GW_FLAG_STRING, "Global guard policy override (env MCP_GATEWAY_GUARD_POLICY_JSON)", NULL},
    {"allowonly-scope-public", 0, GW_FLAG_BOOL, "Allow-only: public repositories", NULL},
    {"allowonly-scope-owner", 0, GW_FLAG_STRING, "Allow-only: owner", NULL},
    {"allowonly-scope-repo", 0, GW_FLAG_STRING, "Allow-only: repository", NULL},
    {"allowonly-min-integrity", 0, GW_FLAG_STRING, "Allow-only: minimum integrity", NULL},
    {"otlp-endpoint", 0, GW_FLAG_STRING, "OTLP endpoint (env OTEL_EXPORTER_OTLP_ENDPOINT)", NULL},
    {"otlp-service-name", 0, GW_FLAG_STRING, "OTLP service name (env OTEL_SERVICE_NAME)", NULL},
    {"otlp-sample-rate", 0, GW_FLAG_DOUBLE, "OTLP sample rate (default 1.0)", NULL},
    {"help", 'h', GW_FLAG_BOOL, "help for flowgate", NULL},
    {"version", 0, GW_FLAG_BOOL, "version for flowgate", NULL},
};
#define NFLAGS (sizeof gw_cli_root_flags / sizeof gw_cli_root_flags[0])
const size_t gw_cli_root_nflags = NFLAGS;

/* Alphabetical, as cobra lists them. */
const gw_subcommand_t gw_cli_commands[] = {
    {"completion", "Generate completion script"},
    {"guard", "Run and inspect guard modules"},
    {"help", "Help about any command"},
    {"proxy", "Run as a GitHub API filtering proxy"},
};
const size_t gw_cli_ncommands = sizeof gw_cli_commands / sizeof gw_cli_commands[0];

void gw_cli_usage(FILE *out)
{
    fprintf(out, "MCPG MCP proxy server\n\nUsage:\n  flowgate [flags]\n  flowgate [command]\n\n"
                 "Available Commands:\n");
    for (size_t i = 0; i < gw_cli_ncommands; i++)
        fprintf(out, "  %-11s %s\n", gw_cli_commands[i].name, gw_cli_commands[i].summary);
    fprintf(out, "\nFlags:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        char left[64];
        if (gw_cli_root_flags[i].shorthand)
            snprintf(left, sizeof left, "-%c, --%s", gw_cli_root_flags[i].shorthand, gw_cli_root_flags[i].name);
        else
            snprintf(left, sizeof left, "    --%s", gw_cli_root_flags[i].name);
        fprintf(out, "  %-34s %s\n", left, gw_cli_root_flags[i].usage);
    }
}

/* Go's time.ParseDuration subset: sequences of <number><unit>, units
 * ns us ms s m h. Returns milliseconds; false on syntax error. */
static bool parse_duration_ms(const char *s, long *out)
{
    if (!s || !*s)
        return false;
    double total = 0;
    const char *p = s;
    if (strcmp(s, "0") == 0) {
        *out = 0;
        return true;
    }
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p)
            return false;
        p = end;
        double mul;
        if (strncmp(p, "ns", 2) == 0) { mul = 1e-6; p += 2; }
        else if (strncmp(p, "us", 2) == 0) { mul = 1e-3; p += 2; }
        else if (strncmp(p, "ms", 2) == 0) { mul = 1; p += 2; }
        else if (*p == 's') { mul = 1000; p++; }
        else if (*p == 'm') { mul = 60000; p++; }
        else if (*p == 'h') { mul = 3600000; p++; }
        else return false;
        total += v * mul;
    }
    *out = (long)total;
    return true;
}

bool gw_parse_duration_ms(const char *s, long *out);
bool gw_parse_duration_ms(const char *s, long *out)
{
    return parse_duration_ms(s, out);
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "1") || !strcasecmp(v, "t") || !strcasecmp(v, "true")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(v, "0") || !strcasecmp(v, "f") || !strcasecmp(v, "false")) {
        *out = false;
        return true;
    }
    return false;
}

/* The env bool form of spec §1.2: 1/true/yes/on, 0/false/no/off. */
static bool env_bool(const char *name, bool def)
{
    const char *v = getenv(name);
    if (!v)
        return def;
    if (!strcasecmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"))
        return true;
    if (!strcasecmp(v, "0") || !strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off"))
        return false;
    return def;
}

static const char *env_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v && *v ? v : def;
}

static bool set_value(gw_options_t *o, const flag_t *f, const char *v, bool *seen, err_t *err)
{
    const char *n = f->name;
    char *end;
    switch (f->type) {
    case GW_FLAG_BOOL: {
        bool b;
        if (!parse_bool(v, &b))
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax", v, n, v);
        if (!strcmp(n, "config-stdin")) o->config_stdin = b;
        else if (!strcmp(n, "routed")) o->routed = b;
        else if (!strcmp(n, "unified")) o->unified = b;
        else if (!strcmp(n, "validate-env")) o->validate_env = b;
        else if (!strcmp(n, "sequential-launch")) o->sequential_launch = b;
        else if (!strcmp(n, "url-domain-audit")) { o->url_domain_audit = b; o->url_domain_audit_set = true; }
        else if (!strcmp(n, "allowonly-scope-public")) o->allowonly_scope_public = b;
        else if (!strcmp(n, "help")) seen[0] = b;
        else if (!strcmp(n, "version")) seen[1] = b;
        return true;
    }
    case GW_FLAG_COUNT:
        o->verbose = (int)strtol(v, &end, 10);
        if (*end)
            return err_set(err, "invalid argument \"%s\" for \"-v, --verbose\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax", v, v);
        return true;
    case GW_FLAG_LONG: {
        long x = strtol(v, &end, 10);
        if (!*v || *end)
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax", v, n, v);
        o->payload_size_threshold = x;
        o->payload_size_threshold_set = true;
        return true;
    }
    case GW_FLAG_DOUBLE: {
        double d = strtod(v, &end);
        if (!*v || *end)
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseFloat: parsing \"%s\": invalid syntax", v, n, v);
        o->otlp_sample_rate = d;
        return true;
    }
    case GW_FLAG_DURATION: {
        long ms;
        if (!parse_duration_ms(v, &ms))
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: time: invalid duration \"%s\"", v, n, v);
        o->shutdown_timeout_ms = ms;
        return true;
    }
    case GW_FLAG_STRING:
    case GW_FLAG_PATH:
        if (!strcmp(n, "config")) o->config_file = v;
        else if (!strcmp(n, "listen")) o->listen = v;
        else if (!strcmp(n, "env")) o->env_file = v;
        else if (!strcmp(n, "log-dir")) o->log_dir = v;
        else if (!strcmp(n, "payload-dir")) { o->payload_dir = v; o->payload_dir_set = true; }
        else if (!strcmp(n, "payload-path-prefix")) { o->payload_path_prefix = v; o->payload_path_prefix_set = true; }
        else if (!strcmp(n, "wasm-cache-dir")) o->wasm_cache_dir = v;
        else if (!strcmp(n, "tls-cert")) o->tls_cert = v;
        else if (!strcmp(n, "tls-key")) o->tls_key = v;
        else if (!strcmp(n, "tls-ca")) o->tls_ca = v;
        else if (!strcmp(n, "hmac-secret")) o->hmac_secret = v;
        else if (!strcmp(n, "guards-mode")) { o->guards_mode = v; o->guards_mode_set = true; }
        else if (!strcmp(n, "guards-sink-server-ids")) o->guards_sink_server_ids = v;
        else if (!strcmp(n, "guard-policy-json")) o->guard_policy_json = v;
        else if (!strcmp(n, "allowonly-scope-owner")) o->allowonly_scope_owner = v;
        else if (!strcmp(n, "allowonly-scope-repo")) o->allowonly_scope_repo = v;
        else if (!strcmp(n, "allowonly-min-integrity")) o->allowonly_min_integrity = v;
        else if (!strcmp(n, "otlp-endpoint")) o->otlp_endpoint = v;
        else if (!strcmp(n, "otlp-service-name")) o->otlp_service_name = v;
        return true;
    }
    return true;
}

static void apply_env_defaults(gw_options_t *o)
{
    if (!o->log_dir)
        o->log_dir = env_str("MCP_GATEWAY_LOG_DIR", GW_DEFAULT_LOG_DIR);
    if (!o->payload_dir_set)
        o->payload_dir = env_str("MCP_GATEWAY_PAYLOAD_DIR", GW_DEFAULT_PAYLOAD_DIR);
    if (!o->payload_path_prefix_set)
        o->payload_path_prefix = env_str("MCP_GATEWAY_PAYLOAD_PATH_PREFIX", "");
    if (!o->payload_size_threshold_set) {
        const char *v = getenv("MCP_GATEWAY_PAYLOAD_SIZE_THRESHOLD");
        char *end;
        long x = v ? strtol(v, &end, 10) : 0;
        o->payload_size_threshold = (v && *v && !*end && x > 0) ? x : GW_DEFAULT_PAYLOAD_THRESHOLD;
    }
    if (!o->url_domain_audit_set)
        o->url_domain_audit = env_bool("MCP_GATEWAY_URL_DOMAIN_AUDIT", false);
    if (!o->wasm_cache_dir)
        o->wasm_cache_dir = env_str("MCP_GATEWAY_WASM_CACHE_DIR", NULL);
    if (o->shutdown_timeout_ms < 0) {
        long ms;
        const char *v = getenv("MCP_GATEWAY_SHUTDOWN_TIMEOUT");
        o->shutdown_timeout_ms = (v && parse_duration_ms(v, &ms) && ms > 0) ? ms : 5000;
    }
    if (!o->tls_cert) o->tls_cert = env_str("MCP_GATEWAY_TLS_CERT", NULL);
    if (!o->tls_key) o->tls_key = env_str("MCP_GATEWAY_TLS_KEY", NULL);
    if (!o->tls_ca) o->tls_ca = env_str("MCP_GATEWAY_CA_CERT", NULL);
    if (!o->hmac_secret) o->hmac_secret = env_str("MCP_GATEWAY_HMAC_SECRET", NULL);
    if (!o->guards_mode) {
        const char *v = getenv("MCP_GATEWAY_GUARDS_MODE");
        o->guards_mode = v && *v ? v : "strict";
        o->guards_mode_set = v && *v;
    }
    if (!o->guards_sink_server_ids) o->guards_sink_server_ids = env_str("MCP_GATEWAY_GUARDS_SINK_SERVER_IDS", "");
    if (!o->guard_policy_json) o->guard_policy_json = env_str("MCP_GATEWAY_GUARD_POLICY_JSON", "");
    if (!o->allowonly_scope_owner) o->allowonly_scope_owner = env_str("MCP_GATEWAY_ALLOWONLY_SCOPE_OWNER", "");
    if (!o->allowonly_scope_repo) o->allowonly_scope_repo = env_str("MCP_GATEWAY_ALLOWONLY_SCOPE_REPO", "");
    if (!o->allowonly_min_integrity) o->allowonly_min_integrity = env_str("MCP_GATEWAY_ALLOWONLY_MIN_INTEGRITY", "");
    if (!o->allowonly_scope_public) o->allowonly_scope_public = env_bool("MCP_GATEWAY_ALLOWONLY_SCOPE_PUBLIC", false);
    if (!o->otlp_endpoint) o->otlp_endpoint = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "");
    if (!o->otlp_service_name) o->otlp_service_name = env_str("OTEL_SERVICE_NAME", "mcp-gateway");
}

/* The pflag command line shared by every command: "--name value",
 * "--name=value", "-c value", "-cvalue", "-c=value", bool flags with an
 * optional "=true|false", counters that repeat ("-vvv"). Each flag found is
 * handed to `set` with its text value (a bool flag without one gets "true";
 * a counter occurrence gets NULL). On failure err carries cobra's text plus
 * the "See '<cmd> --help'" line. */
typedef bool (*flag_set_fn)(void *ctx, const flag_t *f, const char *value, err_t *err);

static const flag_t *find_long(const flag_t *tab, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(tab[i].name) == len && strncmp(tab[i].name, name, len) == 0)
            return &tab[i];
    return NULL;
}

static const flag_t *find_short(const flag_t *tab, size_t n, char c)
{
    for (size_t i = 0; i < n; i++)
        if (tab[i].shorthand == c)
            return &tab[i];
    return NULL;
}

static bool parse_long_flag(const flag_t *tab, size_t n, int argc, char **argv, int *i, flag_set_fn set, void *ctx,
                            err_t *err)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const flag_t *f = find_long(tab, n, name, len);
    if (!f)
        return err_set(err, "unknown flag: --%.*s", (int)len, name);
    const char *val = eq ? eq + 1 : NULL;
    if (f->type == GW_FLAG_BOOL)
        return set(ctx, f, val ? val : "true", err);
    if (f->type == GW_FLAG_COUNT)
        return set(ctx, f, val, err);
    if (!val) {
        if (*i + 1 >= argc)
            return err_set(err, "flag needs an argument: --%s", f->name);
        val = argv[++*i];
    }
    return set(ctx, f, val, err);
}

/* A cluster of short flags: -vvv, -cfile, -c file, -c=file. */
static bool parse_short_flags(const flag_t *tab, size_t n, int argc, char **argv, int *i, flag_set_fn set, void *ctx,
                              err_t *err)
{
    const char *a = argv[*i];
    for (const char *p = a + 1; *p; p++) {
        const flag_t *f = find_short(tab, n, *p);
        if (!f)
            return err_set(err, "unknown shorthand flag: '%c' in %s", *p, a);
        if (f->type == GW_FLAG_COUNT || f->type == GW_FLAG_BOOL) {
            if (!set(ctx, f, f->type == GW_FLAG_BOOL ? "true" : NULL, err))
                return false;
            continue;
        }
        const char *val = p + 1;
        if (*val == '=')
            val++;
        if (!*val) {
            if (*i + 1 >= argc)
                return err_set(err, "flag needs an argument: '%c' in -%c", *p, *p);
            val = argv[++*i];
        }
        return set(ctx, f, val, err);
    }
    return true;
}

static bool parse_flags(const char *cmd, const flag_t *tab, size_t n, int argc, char **argv, flag_set_fn set,
                        void *ctx, err_t *err)
{
    bool ok = true;
    for (int i = 1; ok && i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc)
                ok = err_set(err, "unknown command \"%s\" for \"%s\"", argv[i + 1], cmd);
            break;
        }
        if (strncmp(a, "--", 2) == 0)
            ok = parse_long_flag(tab, n, argc, argv, &i, set, ctx, err);
        else if (a[0] == '-' && a[1])
            ok = parse_short_flags(tab, n, argc, argv, &i, set, ctx, err);
        else
            ok = err_set(err, "unknown command \"%s\" for \"%s\"", a, cmd);
    }
    if (!ok && err) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        err_set(err, "%.400s\nSee '%s --help' for usage", msg, cmd);
    }
    return ok;
}

typedef struct root_ctx {
    gw_options_t *o;
    bool seen[2]; /* help, version */
} root_ctx_t;

static bool root_set(void *ctx, const flag_t *f, const char *value, err_t *err)
{
    root_ctx_t *rc = ctx;
    if (f->type == GW_FLAG_COUNT && !value) {
        rc->o->verbose++;
        return true;
    }
    return set_value(rc->o, f, value, rc->seen, err);
}

gw_cli_result_t gw_cli_parse(int argc, char **argv, gw_options_t *o, err_t *err)
{
    memset(o, 0, sizeof *o);
    o->listen = GW_DEFAULT_LISTEN;
    o->shutdown_timeout_ms = -1;
    o->otlp_sample_rate = 1.0;
    root_ctx_t rc = {o, {false, false}};
    if (!parse_flags("flowgate", gw_cli_root_flags, NFLAGS, argc, argv, root_set, &rc, err))
        return GW_CLI_ERROR;
    bool *seen = rc.seen;
    if (seen[0])
        return GW_CLI_HELP;
    if (seen[1])
        return GW_CLI_VERSION;

    apply_env_defaults(o);

    if (!o->config_file && !o->config_stdin) {
        err_set(err, "at least one of the flags in the group [config config-stdin] is required");
        return GW_CLI_ERROR;
    }
    if (o->routed && o->unified) {
        err_set(err, "if any flags in the group [routed unified] are set none of the others can be; [routed unified] were all set");
        return GW_CLI_ERROR;
    }
    o->mode = o->unified ? GW_MODE_UNIFIED : GW_MODE_ROUTED;
    if ((o->tls_cert != NULL) != (o->tls_key != NULL)) {
        err_set(err, "--tls-cert and --tls-key must both be provided together");
        return GW_CLI_ERROR;
    }
    if (o->tls_ca && !(o->tls_cert && o->tls_key)) {
        err_set(err, "--tls-ca requires --tls-cert and --tls-key to also be set");
        return GW_CLI_ERROR;
    }
    if (strcmp(o->guards_mode, "strict") && strcmp(o->guards_mode, "filter") &&
        strcmp(o->guards_mode, "propagate")) {
        err_set(err, "invalid --guards-mode flag: invalid guards mode \"%s\" (must be strict, filter or propagate)",
                o->guards_mode);
        return GW_CLI_ERROR;
    }
    /* -v alone changes nothing; -vv and -vvv set DEBUG when it is unset. */
    if (o->verbose >= 2 && !getenv("DEBUG"))
        setenv("DEBUG", o->verbose >= 3 ? "*" : "cmd:*,server:*,launcher:*", 1);
    return GW_CLI_RUN;
}

/* ---- flowgate proxy ------------------------------------------------------ */

const gw_flag_t gw_cli_proxy_flags[] = {
    {"guard-wasm", 0, GW_FLAG_PATH, "Path to the guard WASM module", NULL},
    {"policy", 0, GW_FLAG_STRING, "Guard policy JSON (env MCP_GATEWAY_GUARD_POLICY_JSON)", NULL},
    {"github-token", 0, GW_FLAG_STRING, "Fallback GitHub API token (default: forwards client Authorization header)", NULL},
    {"listen", 'l', GW_FLAG_STRING, "Proxy listen address (default \"127.0.0.1:8080\")", NULL},
    {"log-dir", 0, GW_FLAG_PATH, "Log file directory (env MCP_GATEWAY_LOG_DIR)", NULL},
    {"wasm-cache-dir", 0, GW_FLAG_PATH, "Guard compilation cache directory (accepted; guards compile in memory)", NULL},
    {"guards-mode", 0, GW_FLAG_STRING, "DIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)", MODES},
    {"github-api-url", 0, GW_FLAG_STRING, "Upstream GitHub API URL (default: from GITHUB_API_URL or GITHUB_SERVER_URL, else https://api.github.com)", NULL},
    {"force-public-repos", 0, GW_FLAG_BOOL, "Force repos=\"public\" when GITHUB_REPOSITORY is public (default true, env MCP_GATEWAY_FORCE_PUBLIC_REPOS)", NULL},
    {"tls", 0, GW_FLAG_BOOL, "Enable HTTPS with auto-generated self-signed certificates", NULL},
    {"tls-dir", 0, GW_FLAG_PATH, "Directory for TLS certificates (default: <log-dir>/proxy-tls)", NULL},
    {"trusted-bots", 0, GW_FLAG_STRING, "Additional trusted bot usernames (comma-separated, extends built-in list)", NULL},
    {"trusted-users", 0, GW_FLAG_STRING, "User logins that receive approved integrity (comma-separated)", NULL},
    {"otlp-endpoint", 0, GW_FLAG_STRING, "OTLP HTTP endpoint for trace export", NULL},
    {"otlp-service-name", 0, GW_FLAG_STRING, "Service name reported in traces", NULL},
    {"otlp-sample-rate", 0, GW_FLAG_DOUBLE, "Fraction of traces to sample and export (0.0-1.0)", NULL},
    {"help", 'h', GW_FLAG_BOOL, "help for proxy", NULL},
    {"version", 0, GW_FLAG_BOOL, "version for flowgate", NULL},
};
#define NPROXY_FLAGS (sizeof gw_cli_proxy_flags / sizeof gw_cli_proxy_flags[0])
const size_t gw_cli_proxy_nflags = NPROXY_FLAGS;

void gw_proxy_usage(FILE *out)
{
    fprintf(out, "Run the gateway in proxy mode: an HTTP(S) forward proxy for the GitHub REST and\n"
                 "GraphQL APIs that applies DIFC filtering with a guard WASM module.\n\n"
                 "Usage:\n  flowgate proxy [flags]\n\nExample:\n"
                 "  flowgate proxy --guard-wasm github_guard.wasm \\\n"
                 "    --policy '{\"allow-only\":{\"repos\":[\"org/repo\"],\"min-integrity\":\"approved\"}}' \\\n"
                 "    --listen localhost:8443 --tls\n\nFlags:\n");
    for (size_t i = 0; i < NPROXY_FLAGS; i++) {
        char left[64];
        if (gw_cli_proxy_flags[i].shorthand)
            snprintf(left, sizeof left, "-%c, --%s", gw_cli_proxy_flags[i].shorthand, gw_cli_proxy_flags[i].name);
        else
            snprintf(left, sizeof left, "    --%s", gw_cli_proxy_flags[i].name);
        fprintf(out, "  %-34s %s\n", left, gw_cli_proxy_flags[i].usage);
    }
}

/* pflag's StringSlice: every occurrence appends its comma list. */
static bool append_list(char **dst, const char *v, err_t *err)
{
    size_t old = *dst ? strlen(*dst) : 0;
    char *n = realloc(*dst, old + strlen(v) + 2);
    if (!n)
        return err_set(err, "out of memory");
    if (old)
        n[old++] = ',';
    strcpy(n + old, v);
    *dst = n;
    return true;
}

typedef struct proxy_ctx {
    gw_proxy_options_t *o;
    bool seen[2];           /* help, version */
    bool force_public_set;
} proxy_ctx_t;

static bool proxy_set(void *ctx, const flag_t *f, const char *v, err_t *err)
{
    proxy_ctx_t *pc = ctx;
    gw_proxy_options_t *o = pc->o;
    const char *n = f->name;
    if (f->type == GW_FLAG_BOOL) {
        bool b;
        if (!parse_bool(v, &b))
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseBool: parsing \"%s\": invalid syntax", v, n, v);
        if (!strcmp(n, "tls")) o->tls = b;
        else if (!strcmp(n, "force-public-repos")) { o->force_public_repos = b; pc->force_public_set = true; }
        else if (!strcmp(n, "help")) pc->seen[0] = b;
        else if (!strcmp(n, "version")) pc->seen[1] = b;
        return true;
    }
    if (f->type == GW_FLAG_DOUBLE) {
        char *end;
        double d = strtod(v, &end);
        if (!*v || *end)
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseFloat: parsing \"%s\": invalid syntax", v, n, v);
        o->otlp_sample_rate = d;
        return true;
    }
    if (!strcmp(n, "guard-wasm")) o->guard_wasm = v;
    else if (!strcmp(n, "policy")) o->policy = v;
    else if (!strcmp(n, "github-token")) o->github_token = v;
    else if (!strcmp(n, "listen")) o->listen = v;
    else if (!strcmp(n, "log-dir")) o->log_dir = v;
    else if (!strcmp(n, "wasm-cache-dir")) o->wasm_cache_dir = v;
    else if (!strcmp(n, "guards-mode")) o->guards_mode = v;
    else if (!strcmp(n, "github-api-url")) o->github_api_url = v;
    else if (!strcmp(n, "tls-dir")) o->tls_dir = v;
    else if (!strcmp(n, "trusted-bots")) return append_list(&o->trusted_bots, v, err);
    else if (!strcmp(n, "trusted-users")) return append_list(&o->trusted_users, v, err);
    else if (!strcmp(n, "otlp-endpoint")) o->otlp_endpoint = v;
    else if (!strcmp(n, "otlp-service-name")) o->otlp_service_name = v;
    return true;
}

void gw_proxy_options_free(gw_proxy_options_t *o)
{
    free(o->trusted_bots);
    free(o->trusted_users);
    free(o->guard_wasm_found);
    o->trusted_bots = o->trusted_users = o->guard_wasm_found = NULL;
}

gw_cli_result_t gw_proxy_cli_parse(int argc, char **argv, gw_proxy_options_t *o, err_t *err)
{
    memset(o, 0, sizeof *o);
    o->listen = GW_PROXY_DEFAULT_LISTEN;
    o->otlp_sample_rate = 1.0;
    proxy_ctx_t pc = {o, {false, false}, false};
    if (!parse_flags("flowgate proxy", gw_cli_proxy_flags, NPROXY_FLAGS, argc, argv, proxy_set, &pc, err))
        return GW_CLI_ERROR;
    if (pc.seen[0])
        return GW_CLI_HELP;
    if (pc.seen[1])
        return GW_CLI_VERSION;

    if (!o->policy) o->policy = env_str("MCP_GATEWAY_GUARD_POLICY_JSON", "");
    if (!o->log_dir) o->log_dir = env_str("MCP_GATEWAY_LOG_DIR", GW_DEFAULT_LOG_DIR);
    if (!o->guards_mode) o->guards_mode = env_str("MCP_GATEWAY_GUARDS_MODE", "strict");
    if (!pc.force_public_set) o->force_public_repos = env_bool("MCP_GATEWAY_FORCE_PUBLIC_REPOS", true);
    if (!o->otlp_endpoint) o->otlp_endpoint = env_str("OTEL_EXPORTER_OTLP_ENDPOINT", "");
    if (!o->otlp_service_name) o->otlp_service_name = env_str("OTEL_SERVICE_NAME", "mcp-gateway");
    if (!o->guard_wasm) {
        /* Upstream's default: the container's baked-in guard, else the
         * first .wasm in $MCP_GATEWAY_WASM_GUARDS_DIR/github/. */
        if (!guard_discover_wasm("github", getenv("MCP_GATEWAY_WASM_GUARDS_DIR"), NULL, &o->guard_wasm_found, err))
            return GW_CLI_ERROR;
        o->guard_wasm = o->guard_wasm_found;
        if (!o->guard_wasm) {
            err_set(err, "required flag(s) \"guard-wasm\" not set");
            return GW_CLI_ERROR;
        }
    }
    difc_mode_t mode;
    if (!difc_mode_parse(o->guards_mode, &mode, err)) {
        err_prefix(err, "invalid --guards-mode flag");
        return GW_CLI_ERROR;
    }
    return GW_CLI_RUN;
}
