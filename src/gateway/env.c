/*
 * env.c — the --env file, --validate-env and container detection (spec:
 * gateway §1.4 step 2, §1.5).
 */
#include "gateway/gateway.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* Shell-style $VAR and ${VAR}; a missing variable expands to "". */
static char *expand(const char *v)
{
    size_t cap = strlen(v) * 2 + 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    for (const char *p = v; *p;) {
        const char *val = NULL;
        size_t vl = 0;
        if (*p == '$' && (p[1] == '{' || isalpha((unsigned char)p[1]) || p[1] == '_')) {
            char name[256];
            size_t nl = 0;
            const char *q = p + 1;
            bool brace = *q == '{';
            if (brace)
                q++;
            while ((isalnum((unsigned char)*q) || *q == '_') && nl < sizeof name - 1)
                name[nl++] = *q++;
            name[nl] = 0;
            if (brace && *q == '}')
                q++;
            val = getenv(name);
            vl = val ? strlen(val) : 0;
            p = q;
        } else {
            val = p;
            vl = 1;
            p++;
        }
        if (len + vl + 1 > cap) {
            cap = (len + vl + 1) * 2;
            char *n = realloc(out, cap);
            if (!n) {
                free(out);
                return NULL;
            }
            out = n;
        }
        if (vl)
            memcpy(out + len, val, vl);
        len += vl;
    }
    out[len] = 0;
    return out;
}

bool gw_env_load_file(const char *path, err_t *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return err_set(err, "open %s: %s", path, strerror(errno));
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        char *l = trim(line);
        if (!*l || *l == '#')
            continue;
        char *eq = strchr(l, '=');
        if (!eq)
            continue;
        *eq = 0;
        char *k = trim(l), *v = trim(eq + 1);
        char *x = expand(v);
        if (!x) {
            fclose(f);
            return err_set(err, "out of memory");
        }
        if (*k)
            setenv(k, x, 1);
        free(x);
    }
    fclose(f);
    return true;
}

bool gw_validate_env(err_t *err)
{
    char problems[1024] = "";
    size_t len = 0;
    const char *dh = getenv("DOCKER_HOST");
    const char *sock = "/var/run/docker.sock";
    if (dh && *dh)
        sock = strncmp(dh, "unix://", 7) == 0 ? dh + 7 : dh;
    struct stat st;
    int rc = -1;
    if (stat(sock, &st) == 0)
        rc = system("docker info >/dev/null 2>&1");
    if (rc != 0)
        len += (size_t)snprintf(problems + len, sizeof problems - len, "\n  - %s",
                                "Docker daemon is not accessible. Ensure the Docker socket is mounted or Docker is running.");
    char missing[256] = "";
    size_t ml = 0;
    const char *need[] = {"MCP_GATEWAY_PORT", "MCP_GATEWAY_DOMAIN"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(need[i]);
        if (!v || !*v)
            ml += (size_t)snprintf(missing + ml, sizeof missing - ml, "%s%s", ml ? ", " : "", need[i]);
    }
    const char *a = getenv("MCP_GATEWAY_AGENT_ID"), *k = getenv("MCP_GATEWAY_API_KEY");
    if (!(a && *a) && !(k && *k))
        ml += (size_t)snprintf(missing + ml, sizeof missing - ml, "%s%s", ml ? ", " : "", "MCP_GATEWAY_AGENT_ID");
    if (ml && len < sizeof problems)
        len += (size_t)snprintf(problems + len, sizeof problems - len,
                                "\n  - Required environment variables not set: %s", missing);
    if (len)
        return err_set(err, "Environment validation failed:%s", problems);
    return true;
}

bool gw_cgroup_text_is_container(const char *text)
{
    static const char *const markers[] = {"docker", "containerd", "kubepods", "lxc"};
    for (size_t i = 0; text && i < sizeof markers / sizeof *markers; i++)
        if (strstr(text, markers[i]))
            return true;
    return false;
}

static bool cgroup_file_is_container(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return gw_cgroup_text_is_container(buf);
}

bool gw_running_in_container(void)
{
    const char *env = getenv("RUNNING_IN_CONTAINER");
    if (env && strcmp(env, "true") == 0)
        return true;
    return access("/.dockerenv", F_OK) == 0 || cgroup_file_is_container("/proc/1/cgroup") ||
           cgroup_file_is_container("/proc/self/cgroup");
}
