/*
 * cli_internal.h — the flag and subcommand tables of the command line
 * (cli.c), shared with the shell-completion generator (completion.c) so that
 * a completion script is always built from the same table the parser uses
 * and can never offer a flag that does not exist or miss one that does.
 * Private to src/gateway.
 *
 * The tables are static, read-only data: borrowed by every caller, valid for
 * the life of the process, safe to read from any thread.
 */
#ifndef FLOWGATE_GATEWAY_CLI_INTERNAL_H
#define FLOWGATE_GATEWAY_CLI_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* How pflag reads a flag's value. */
typedef enum {
    GW_FLAG_STRING,
    GW_FLAG_PATH,     /* a string naming a local file or directory */
    GW_FLAG_BOOL,     /* no value; optional "=true|false" */
    GW_FLAG_COUNT,    /* no value; repeats ("-vvv") */
    GW_FLAG_LONG,
    GW_FLAG_DOUBLE,
    GW_FLAG_DURATION,
} gw_flag_type_t;

typedef struct gw_flag {
    const char *name;      /* long name without "--" */
    char shorthand;        /* 0: none */
    gw_flag_type_t type;
    const char *usage;     /* one line of help text */
    const char *choices;   /* space-separated fixed values, or NULL (any text) */
} gw_flag_t;

/* True when the flag consumes a value ("--name value" / "--name=value"). */
static inline bool gw_flag_takes_value(const gw_flag_t *f)
{
    return f->type != GW_FLAG_BOOL && f->type != GW_FLAG_COUNT;
}

/* The root command's flags and `flowgate proxy`'s (spec §1.2, §6). */
extern const gw_flag_t gw_cli_root_flags[];
extern const size_t gw_cli_root_nflags;
extern const gw_flag_t gw_cli_proxy_flags[];
extern const size_t gw_cli_proxy_nflags;

/* The subcommands (spec §1.1), in the order help shows them. */
typedef struct gw_subcommand {
    const char *name;
    const char *summary;
} gw_subcommand_t;
extern const gw_subcommand_t gw_cli_commands[];
extern const size_t gw_cli_ncommands;

#endif
