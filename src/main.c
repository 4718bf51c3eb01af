/*
 * main.c — the `flowgate` executable: a drop-in for awmg's command line
 * (spec: gateway §1). Subcommands are dispatched here; the root command's
 * flags are parsed by gw_cli_parse and the gateway runs in gw_run.
 *
 * Exit status: 0 after a clean shutdown or --help/--version, 1 on any error,
 * whose text goes to stderr unprefixed. stdout carries only the gateway
 * configuration document (and --help / --version output when asked).
 */
#include <stdio.h>
#include <string.h>

#include "gateway/gateway.h"
#ifdef FLOWGATE_HAVE_GUARD_CLI
#include "guard/guard.h"
#endif

static int proxy_main(int argc, char **argv)
{
    gw_proxy_options_t opts;
    err_t err = {{0}};
    int status = 0;
    switch (gw_proxy_cli_parse(argc, argv, &opts, &err)) {
    case GW_CLI_HELP:
        gw_proxy_usage(stdout);
        break;
    case GW_CLI_VERSION:
        printf("MCPG Gateway %s\n", gw_version_string());
        break;
    case GW_CLI_ERROR:
        fprintf(stderr, "%s\n", err.msg);
        status = 1;
        break;
    case GW_CLI_RUN:
        status = gw_proxy_run(&opts);
        break;
    }
    gw_proxy_options_free(&opts);
    return status;
}

/* Exit status 1 also when stdout cannot take the script (a closed pipe). */
static int completion_main(int argc, char **argv)
{
    gw_shell_t shell;
    err_t err = {{0}};
    switch (gw_completion_cli_parse(argc, argv, &shell, &err)) {
    case GW_CLI_HELP:
    case GW_CLI_VERSION:
        gw_completion_usage(stdout);
        return 0;
    case GW_CLI_ERROR:
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    case GW_CLI_RUN:
        break;
    }
    if (!gw_completion_write(shell, stdout)) {
        fprintf(stderr, "failed to write the completion script to stdout\n");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
#ifdef FLOWGATE_HAVE_GUARD_CLI
    if (argc > 1 && strcmp(argv[1], "guard") == 0)
        return guard_cli_main(argc - 1, argv + 1);
#endif
    if (argc > 1 && strcmp(argv[1], "proxy") == 0)
        return proxy_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "completion") == 0)
        return completion_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "help") == 0) {
        gw_cli_usage(stdout);
        return 0;
    }
    gw_options_t opts;
    err_t err = {{0}};
    switch (gw_cli_parse(argc, argv, &opts, &err)) {
    case GW_CLI_HELP:
        gw_cli_usage(stdout);
        return 0;
    case GW_CLI_VERSION:
        printf("MCPG Gateway %s\n", gw_version_string());
        return 0;
    case GW_CLI_ERROR:
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    case GW_CLI_RUN:
        break;
    }
    return gw_run(&opts);
}
