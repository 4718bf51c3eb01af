/*
 * cli.c — the root command's flags, their environment defaults and cobra's
 * validation messages (spec: gateway §1.2, §1.3).
 *
 * Parsing follows pflag: "--name value", "--name=value", "-c value",
 * "-cvalue", bool flags take an optional "=true|false", "-v" is a counter
 * that may repeat ("-vvv"). Environment defaults are applied for every flag
 * that was not given, as upstream's flag registration does.
 */
#include "gateway/gateway.h"

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

typedef enum { F_STRING, F_BOOL, F_COUNT, F_LONG, F_DOUBLE, F_DURATION } ftype_t;

typedef struct {
    const char *name;
    char shorthand;
    ftype_t type;
    const char *usage;
} flag_t;

static const flag_t flags[] = {
    {"config", 'c', F_STRING, "Path to the TOML configuration file"},
    {"config-stdin", 0, F_BOOL, "Read the JSON configuration from stdin"},
    {"listen", 'l', F_STRING, "HTTP listen address (default \"127.0.0.1:3000\")"},
    {"routed", 0, F_BOOL, "Routed mode: /mcp/{server} per backend (default)"},
    {"unified", 0, F_BOOL, "Unified mode: one /mcp endpoint, tools named server___tool"},
    {"env", 0, F_STRING, "Path to a .env file to load before starting"},
    {"validate-env", 0, F_BOOL, "Check the execution environment (docker, required variables)"},
    {"verbose", 'v', F_COUNT, "Verbosity (-v, -vv, -vvv); sets DEBUG when unset"},
    {"sequential-launch", 0, F_BOOL, "Launch backends one at a time"},
    {"log-dir", 0, F_STRING, "Log directory (env MCP_GATEWAY_LOG_DIR)"},
    {"payload-dir", 0, F_STRING, "Directory for large payloads (env MCP_GATEWAY_PAYLOAD_DIR)"},
    {"payload-path-prefix", 0, F_STRING, "Path prefix returned for payloads (env MCP_GATEWAY_PAYLOAD_PATH_PREFIX)"},
    {"payload-size-threshold", 0, F_LONG, "Size above which results are saved to a file (env MCP_GATEWAY_PAYLOAD_SIZE_THRESHOLD)"},
    {"url-domain-audit", 0, F_BOOL, "Record URL domains seen in results (env MCP_GATEWAY_URL_DOMAIN_AUDIT)"},
    {"wasm-cache-dir", 0, F_STRING, "Guard compilation cache (env MCP_GATEWAY_WASM_CACHE_DIR)"},
    {"shutdown-timeout", 0, F_DURATION, "Graceful drain time on shutdown (env MCP_GATEWAY_SHUTDOWN_TIMEOUT)"},
    {"tls-cert", 0, F_STRING, "TLS certificate (env MCP_GATEWAY_TLS_CERT)"},
    {"tls-key", 0, F_STRING, "TLS key (env MCP_GATEWAY_TLS_KEY)"},
    {"tls-ca", 0, F_STRING, "CA for client certificates, enables mTLS (env MCP_GATEWAY_CA_CERT)"},
    {"hmac-secret", 0, F_STRING, "HMAC request-signing secret (env MCP_GATEWAY_HMAC_SECRET)"},
    {"guards-mode", 0, F_STRING, "DIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)"},
    {"guards-sink-server-ids", 0, F_STRING, "Comma list of sink servers (env MCP_GATEWAY_GUARDS_SINK_SERVER_IDS)"},
    {"guard-policy-json", 0, F_STRING, "Global guard policy override (env MCP_GATEWAY_GUARD_POLICY_JSON)"},
    {"allowonly-scope-public", 0, F_BOOL, "Allow-only: public repositories"},
    {"allowonly-scope-owner", 0, F_STRING, "Allow-only: owner"},
    {"allowonly-scope-repo", 0, F_STRING, "Allow-only: repository"},
    {"allowonly-min-integrity", 0, F_STRING, "Allow-only: minimum integrity"},
    {"otlp-endpoint", 0, F_STRING, "OTLP endpoint (env OTEL_EXPORTER_OTLP_ENDPOINT)"},
    {"otlp-service-name", 0, F_STRING, "OTLP service name (env OTEL_SERVICE_NAME)"},
    {"otlp-sample-rate", 0, F_DOUBLE, "OTLP sample rate (default 1.0)"},
    {"help", 'h', F_BOOL, "help for flowgate"},
    {"version", 0, F_BOOL, "version for flowgate"},
};
#define NFLAGS (sizeof flags / sizeof flags[0])

void gw_cli_usage(FILE *out)
{
    fprintf(out, "MCPG MCP proxy server\n\nUsage:\n  flowgate [flags]\n  flowgate [command]\n\n"
                 "Available Commands:\n  guard       Run and inspect guard modules\n"
                 "  help        Help about any command\n\nFlags:\n");
    for (size_t i = 0; i < NFLAGS; i++) {
        char left[64];
        if (flags[i].shorthand)
            snprintf(left, sizeof left, "-%c, --%s", flags[i].shorthand, flags[i].name);
        else
            snprintf(left, sizeof left, "    --%s", flags[i].name);
        fprintf(out, "  %-34s %s\n", left, flags[i].usage);
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
    case F_BOOL: {
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
    case F_COUNT:
        o->verbose = (int)strtol(v, &end, 10);
        if (*end)
            return err_set(err, "invalid argument \"%s\" for \"-v, --verbose\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax", v, v);
        return true;
    case F_LONG: {
        long x = strtol(v, &end, 10);
        if (!*v || *end)
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseInt: parsing \"%s\": invalid syntax", v, n, v);
        o->payload_size_threshold = x;
        o->payload_size_threshold_set = true;
        return true;
    }
    case F_DOUBLE: {
        double d = strtod(v, &end);
        if (!*v || *end)
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: strconv.ParseFloat: parsing \"%s\": invalid syntax", v, n, v);
        o->otlp_sample_rate = d;
        return true;
    }
    case F_DURATION: {
        long ms;
        if (!parse_duration_ms(v, &ms))
            return err_set(err, "invalid argument \"%s\" for \"--%s\" flag: time: invalid duration \"%s\"", v, n, v);
        o->shutdown_timeout_ms = ms;
        return true;
    }
    case F_STRING:
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

static const flag_t *find_long(const char *name, size_t len)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (strlen(flags[i].name) == len && strncmp(flags[i].name, name, len) == 0)
            return &flags[i];
    return NULL;
}

static const flag_t *find_short(char c)
{
    for (size_t i = 0; i < NFLAGS; i++)
        if (flags[i].shorthand == c)
            return &flags[i];
    return NULL;
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

gw_cli_result_t gw_cli_parse(int argc, char **argv, gw_options_t *o, err_t *err)
{
    memset(o, 0, sizeof *o);
    o->listen = GW_DEFAULT_LISTEN;
    o->shutdown_timeout_ms = -1;
    o->otlp_sample_rate = 1.0;
    bool seen[2] = {false, false}; /* help, version */
    bool verbose_flag = false;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            if (i + 1 < argc) {
                err_set(err, "unknown command \"%s\" for \"flowgate\"", argv[i + 1]);
                goto flag_error;
            }
            break;
        }
        if (strncmp(a, "--", 2) == 0) {
            const char *name = a + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const flag_t *f = find_long(name, len);
            if (!f) {
                err_set(err, "unknown flag: --%.*s", (int)len, name);
                goto flag_error;
            }
            const char *val = eq ? eq + 1 : NULL;
            if (f->type == F_BOOL) {
                if (!set_value(o, f, val ? val : "true", seen, err))
                    goto flag_error;
            } else if (f->type == F_COUNT) {
                if (val) {
                    if (!set_value(o, f, val, seen, err))
                        goto flag_error;
                } else {
                    o->verbose++;
                }
                verbose_flag = true;
            } else {
                if (!val) {
                    if (i + 1 >= argc) {
                        err_set(err, "flag needs an argument: --%s", f->name);
                        goto flag_error;
                    }
                    val = argv[++i];
                }
                if (!set_value(o, f, val, seen, err))
                    goto flag_error;
            }
            continue;
        }
        if (a[0] == '-' && a[1]) {
            /* A cluster of short flags: -vvv, -cfile, -c file, -c=file. */
            for (const char *p = a + 1; *p; p++) {
                const flag_t *f = find_short(*p);
                if (!f) {
                    err_set(err, "unknown shorthand flag: '%c' in %s", *p, a);
                    goto flag_error;
                }
                if (f->type == F_COUNT) {
                    o->verbose++;
                    verbose_flag = true;
                    continue;
                }
                if (f->type == F_BOOL) {
                    if (!set_value(o, f, "true", seen, err))
                        goto flag_error;
                    continue;
                }
                const char *val = p + 1;
                if (*val == '=')
                    val++;
                if (!*val) {
                    if (i + 1 >= argc) {
                        err_set(err, "flag needs an argument: '%c' in -%c", *p, *p);
                        goto flag_error;
                    }
                    val = argv[++i];
                }
                if (!set_value(o, f, val, seen, err))
                    goto flag_error;
                break;
            }
            continue;
        }
        err_set(err, "unknown command \"%s\" for \"flowgate\"", a);
        goto flag_error;
    }
    (void)verbose_flag;
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

flag_error:
    if (err) {
        char msg[ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err->msg);
        err_set(err, "%.400s\nSee 'flowgate --help' for usage", msg);
    }
    return GW_CLI_ERROR;
}
