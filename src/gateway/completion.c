/*
 * completion.c — `flowgate completion [bash|zsh|fish|powershell]` (spec:
 * gateway §1.1): a shell completion script for the flowgate binary on stdout.
 *
 * Every flag, its shorthand, whether it takes a value, which values it
 * accepts and its help line come from the tables the parser itself uses
 * (cli_internal.h), so a script can never offer a flag that does not exist.
 * The scripts are self-contained: unlike cobra's, they do not call back into
 * the binary (`flowgate __complete`) on every <Tab>, because the tables are
 * static and the binary need not be on PATH for the script to work.
 *
 * What each script completes: the subcommands; the root flags before a
 * subcommand; proxy's flags after `proxy`; the shell names after
 * `completion`; the subcommands after `help`; file names for path flags;
 * the fixed values of --guards-mode. `guard` has its own command line
 * (src/guard) and gets file names only.
 */
#include "gateway/cli_internal.h"
#include "gateway/gateway.h"

#include <stdio.h>
#include <string.h>

static const char *const shells[] = {"bash", "zsh", "fish", "powershell"};
#define NSHELLS (sizeof shells / sizeof shells[0])

static const gw_flag_t completion_help = {"help", 'h', GW_FLAG_BOOL, "help for completion", NULL};

/* ---- command line --------------------------------------------------------- */

void gw_completion_usage(FILE *out)
{
    fprintf(out, "Generate a shell completion script for flowgate.\n\n"
                 "To load completions:\n\n"
                 "Bash:\n  $ source <(flowgate completion bash)\n\n"
                 "Zsh:\n  $ flowgate completion zsh > \"${fpath[1]}/_flowgate\"\n\n"
                 "Fish:\n  $ flowgate completion fish | source\n\n"
                 "PowerShell:\n  PS> flowgate completion powershell | Out-String | Invoke-Expression\n\n"
                 "Usage:\n  flowgate completion [bash|zsh|fish|powershell]\n\n"
                 "Flags:\n  -h, --help   help for completion\n");
}

/* cobra's order: flags first (an unknown one is a flag error with the
 * "See ... --help" line), then --help, then ExactArgs(1), then
 * OnlyValidArgs. */
gw_cli_result_t gw_completion_cli_parse(int argc, char **argv, gw_shell_t *shell, err_t *err)
{
    const char *args[2] = {NULL, NULL};
    int nargs = 0;
    bool help = false, dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (!dashdash && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            help = true;
        } else if (!dashdash && a[0] == '-' && a[1]) {
            if (a[1] == '-')
                err_set(err, "unknown flag: %.*s", (int)strcspn(a, "="), a);
            else
                err_set(err, "unknown shorthand flag: '%c' in %.200s", a[1], a);
            char msg[ERR_MSG_MAX];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            err_set(err, "%.400s\nSee 'flowgate completion --help' for usage", msg);
            return GW_CLI_ERROR;
        } else {
            if (nargs < 2)
                args[nargs] = a;
            nargs++;
        }
    }
    if (help)
        return GW_CLI_HELP;
    if (nargs != 1) {
        err_set(err, "accepts 1 arg(s), received %d", nargs);
        return GW_CLI_ERROR;
    }
    for (size_t i = 0; i < NSHELLS; i++) {
        if (strcmp(args[0], shells[i]) == 0) {
            *shell = (gw_shell_t)i;
            return GW_CLI_RUN;
        }
    }
    err_set(err, "invalid argument \"%.200s\" for \"flowgate completion\"", args[0]);
    return GW_CLI_ERROR;
}

/* ---- quoting -------------------------------------------------------------- */

/* POSIX single quotes, for bash and zsh: ' becomes '\''. */
static void put_sh_quoted(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else
            fputc(*s, out);
    }
    fputc('\'', out);
}

/* The text of a zsh _arguments description, already inside single quotes:
 * brackets and backslashes would end or escape the [description]. */
static void put_zsh_description(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", out);
        else if (*s == '[' || *s == ']' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else
            fputc(*s, out);
    }
}

/* fish single quotes: only \ and ' are special. */
static void put_fish_quoted(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            fputc('\\', out);
        fputc(*s, out);
    }
    fputc('\'', out);
}

/* PowerShell single quotes: ' is doubled. */
static void put_ps_quoted(FILE *out, const char *s)
{
    fputc('\'', out);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', out);
        fputc(*s, out);
    }
    fputc('\'', out);
}

/* ---- word lists shared by the generators ---------------------------------- */

/* "--name -s ..." for the flags of a table; only those taking a value when
 * values_only. */
static void put_flag_words(FILE *out, const gw_flag_t *t, size_t n, bool values_only)
{
    const char *sep = "";
    for (size_t i = 0; i < n; i++) {
        if (values_only && !gw_flag_takes_value(&t[i]))
            continue;
        fprintf(out, "%s--%s", sep, t[i].name);
        if (t[i].shorthand)
            fprintf(out, " -%c", t[i].shorthand);
        sep = " ";
    }
}

static void put_command_words(FILE *out)
{
    for (size_t i = 0; i < gw_cli_ncommands; i++)
        fprintf(out, "%s%s", i ? " " : "", gw_cli_commands[i].name);
}

static void put_shell_words(FILE *out)
{
    for (size_t i = 0; i < NSHELLS; i++)
        fprintf(out, "%s%s", i ? " " : "", shells[i]);
}

/* ---- bash ------------------------------------------------------------------ */

/* One `case` arm per flag of `cmd` whose value completion is not the
 * default: fixed values are printed, paths return 1. */
static void bash_value_arms(FILE *out, const char *cmd, const gw_flag_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const gw_flag_t *f = &t[i];
        if (!f->choices && f->type != GW_FLAG_PATH)
            continue;
        fprintf(out, "    '%s --%s'", cmd, f->name);
        if (f->shorthand)
            fprintf(out, "|'%s -%c'", cmd, f->shorthand);
        if (f->choices) {
            fputs(") echo ", out);
            put_sh_quoted(out, f->choices);
            fputs(" ;;\n", out);
        } else {
            fputs(") return 1 ;;\n", out);
        }
    }
}

static void bash_list(FILE *out, const char *var, const gw_flag_t *t, size_t n, bool values_only)
{
    fprintf(out, "__flowgate_%s='", var);
    put_flag_words(out, t, n, values_only);
    fputs("'\n", out);
}

static const char bash_body[] =
    "\n"
    "# Is word $1 one of the space-separated words of $2?\n"
    "__flowgate_in()\n"
    "{\n"
    "    [[ \" $2 \" == *\" $1 \"* ]]\n"
    "}\n"
    "\n"
    "__flowgate_complete()\n"
    "{\n"
    "    local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev cmd=root at=0 i w values\n"
    "    local flags=\"$__flowgate_root_flags\" vflags=\"$__flowgate_root_value_flags\"\n"
    "    COMPREPLY=()\n"
    "    # The subcommand is the first word that is neither a flag nor the value\n"
    "    # of one (\"--log-dir x\", or \"--log-dir = x\" as bash splits at '=').\n"
    "    for (( i = 1; i < COMP_CWORD; i++ )); do\n"
    "        w=\"${COMP_WORDS[i]}\"\n"
    "        if __flowgate_in \"$w\" \"$vflags\"; then\n"
    "            [[ \"${COMP_WORDS[i+1]}\" == \"=\" ]] && i=$(( i + 1 ))\n"
    "            i=$(( i + 1 ))\n"
    "            continue\n"
    "        fi\n"
    "        if [[ \"$w\" == \"=\" ]]; then\n"
    "            i=$(( i + 1 ))\n"
    "            continue\n"
    "        fi\n"
    "        [[ \"$w\" == -* ]] && continue\n"
    "        cmd=\"$w\"\n"
    "        at=$i\n"
    "        break\n"
    "    done\n"
    "    case \"$cmd\" in\n"
    "    root) ;;\n"
    "    proxy)\n"
    "        flags=\"$__flowgate_proxy_flags\"\n"
    "        vflags=\"$__flowgate_proxy_value_flags\" ;;\n"
    "    completion)\n"
    "        # One shell name, then nothing more.\n"
    "        for (( i = at + 1; i < COMP_CWORD; i++ )); do\n"
    "            [[ \"${COMP_WORDS[i]}\" == -* ]] || return 0\n"
    "        done\n"
    "        if [[ \"$cur\" == -* ]]; then\n"
    "            COMPREPLY=( $(compgen -W \"$__flowgate_completion_flags\" -- \"$cur\") )\n"
    "        else\n"
    "            COMPREPLY=( $(compgen -W \"$__flowgate_shells\" -- \"$cur\") )\n"
    "        fi\n"
    "        return 0 ;;\n"
    "    help)\n"
    "        COMPREPLY=( $(compgen -W \"$__flowgate_commands\" -- \"$cur\") )\n"
    "        return 0 ;;\n"
    "    *)\n"
    "        # guard has its own command line: file names (complete -o default).\n"
    "        return 0 ;;\n"
    "    esac\n"
    "    # The flag whose value is being typed: \"--flag <cur>\", \"--flag=\" or\n"
    "    # \"--flag=<cur>\".\n"
    "    prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    "    if [[ \"$cur\" == \"=\" ]]; then\n"
    "        cur=\"\"\n"
    "    elif [[ \"$prev\" == \"=\" ]] && (( COMP_CWORD >= 2 )); then\n"
    "        prev=\"${COMP_WORDS[COMP_CWORD-2]}\"\n"
    "    fi\n"
    "    if __flowgate_in \"$prev\" \"$vflags\"; then\n"
    "        # A path: no reply, so complete -o default offers file names.\n"
    "        values=\"$(__flowgate_flag_values \"$cmd\" \"$prev\")\" || return 0\n"
    "        compopt +o default 2>/dev/null\n"
    "        COMPREPLY=( $(compgen -W \"$values\" -- \"$cur\") )\n"
    "        return 0\n"
    "    fi\n"
    "    if [[ \"$cur\" == -* ]]; then\n"
    "        COMPREPLY=( $(compgen -W \"$flags\" -- \"$cur\") )\n"
    "    elif [[ \"$cmd\" == root ]]; then\n"
    "        COMPREPLY=( $(compgen -W \"$__flowgate_commands\" -- \"$cur\") )\n"
    "    fi\n"
    "    return 0\n"
    "}\n"
    "\n"
    "complete -o default -F __flowgate_complete flowgate\n";

static void write_bash(FILE *out)
{
    fputs("# bash completion for flowgate                            -*- shell-script -*-\n"
          "#\n"
          "# Generated by `flowgate completion bash` from flowgate's own flag tables.\n"
          "# Load it in this shell:  source <(flowgate completion bash)\n"
          "# or for every shell:     flowgate completion bash > /etc/bash_completion.d/flowgate\n\n",
          out);
    fputs("__flowgate_commands='", out);
    put_command_words(out);
    fputs("'\n__flowgate_shells='", out);
    put_shell_words(out);
    fputs("'\n", out);
    bash_list(out, "root_flags", gw_cli_root_flags, gw_cli_root_nflags, false);
    bash_list(out, "root_value_flags", gw_cli_root_flags, gw_cli_root_nflags, true);
    bash_list(out, "proxy_flags", gw_cli_proxy_flags, gw_cli_proxy_nflags, false);
    bash_list(out, "proxy_value_flags", gw_cli_proxy_flags, gw_cli_proxy_nflags, true);
    bash_list(out, "completion_flags", &completion_help, 1, false);
    fputs("\n# The values flag $2 of command $1 (root or proxy) accepts, one word each;\n"
          "# returns 1 when the value is a path. Anything else: no suggestions.\n"
          "__flowgate_flag_values()\n{\n    case \"$1 $2\" in\n",
          out);
    bash_value_arms(out, "root", gw_cli_root_flags, gw_cli_root_nflags);
    bash_value_arms(out, "proxy", gw_cli_proxy_flags, gw_cli_proxy_nflags);
    fputs("    esac\n    return 0\n}\n", out);
    fputs(bash_body, out);
}

/* ---- zsh ------------------------------------------------------------------- */

/* One _arguments spec per flag, continued with " \\\n". */
static void zsh_flag_specs(FILE *out, const gw_flag_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const gw_flag_t *f = &t[i];
        bool repeats = f->type == GW_FLAG_COUNT;
        fputs("    ", out);
        /* A repeatable flag (-vvv) must not exclude itself. */
        if (f->shorthand && repeats)
            fprintf(out, "'*'{-%c,--%s}'[", f->shorthand, f->name);
        else if (f->shorthand)
            fprintf(out, "'(-%c --%s)'{-%c,--%s}'[", f->shorthand, f->name, f->shorthand, f->name);
        else
            fprintf(out, "'%s--%s[", repeats ? "*" : "", f->name);
        put_zsh_description(out, f->usage);
        fputc(']', out);
        if (f->choices)
            fprintf(out, ":value:(%s)", f->choices);
        else if (f->type == GW_FLAG_PATH)
            fputs(":path:_files", out);
        else if (gw_flag_takes_value(f))
            fputs(":value: ", out);
        fputs("' \\\n", out);
    }
}

static void write_zsh(FILE *out)
{
    fputs("#compdef flowgate\n"
          "# zsh completion for flowgate, generated by `flowgate completion zsh` from\n"
          "# flowgate's own flag tables.\n"
          "# Load it in this shell:  source <(flowgate completion zsh)\n"
          "# or for every shell:     flowgate completion zsh > \"${fpath[1]}/_flowgate\"\n\n"
          "_flowgate_commands() {\n  local -a commands\n  commands=(\n",
          out);
    for (size_t i = 0; i < gw_cli_ncommands; i++) {
        char item[256];
        snprintf(item, sizeof item, "%s:%s", gw_cli_commands[i].name, gw_cli_commands[i].summary);
        fputs("    ", out);
        put_sh_quoted(out, item);
        fputc('\n', out);
    }
    fputs("  )\n  _describe -t commands 'flowgate command' commands\n}\n\n", out);
    fputs("_flowgate_proxy() {\n  _arguments \\\n", out);
    zsh_flag_specs(out, gw_cli_proxy_flags, gw_cli_proxy_nflags);
    fputs("    '*:file:_files'\n}\n\n", out);
    fputs("_flowgate_completion() {\n  _arguments \\\n", out);
    zsh_flag_specs(out, &completion_help, 1);
    fputs("    '1:shell:(", out);
    put_shell_words(out);
    fputs(")'\n}\n\n", out);
    fputs("_flowgate() {\n  local curcontext=\"$curcontext\" state line\n  typeset -A opt_args\n"
          "  _arguments -C \\\n",
          out);
    zsh_flag_specs(out, gw_cli_root_flags, gw_cli_root_nflags);
    fputs("    '1: :->command' \\\n"
          "    '*:: :->args'\n"
          "  case $state in\n"
          "    command) _flowgate_commands ;;\n"
          "    args)\n"
          "      case $line[1] in\n"
          "        proxy) _flowgate_proxy ;;\n"
          "        completion) _flowgate_completion ;;\n"
          "        help) _flowgate_commands ;;\n"
          "        *) _files ;;\n"
          "      esac ;;\n"
          "  esac\n"
          "}\n\n"
          "# Autoloaded from $fpath the file is the function body; sourced, it\n"
          "# registers the function.\n"
          "if [ \"$funcstack[1]\" = \"_flowgate\" ]; then\n"
          "  _flowgate \"$@\"\n"
          "else\n"
          "  compdef _flowgate flowgate\n"
          "fi\n",
          out);
}

/* ---- fish ------------------------------------------------------------------ */

static void fish_flags(FILE *out, const char *cmd, const gw_flag_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const gw_flag_t *f = &t[i];
        fprintf(out, "complete -c flowgate -n '__flowgate_using %s' -l %s", cmd, f->name);
        if (f->shorthand)
            fprintf(out, " -s %c", f->shorthand);
        if (f->choices) {
            fputs(" -x -a ", out);
            put_fish_quoted(out, f->choices);
        } else if (f->type == GW_FLAG_PATH) {
            fputs(" -r -F", out);
        } else if (gw_flag_takes_value(f)) {
            fputs(" -x", out);
        }
        fputs(" -d ", out);
        put_fish_quoted(out, f->usage);
        fputc('\n', out);
    }
}

static void write_fish(FILE *out)
{
    fputs("# fish completion for flowgate, generated by `flowgate completion fish` from\n"
          "# flowgate's own flag tables.\n"
          "# Load it in this shell:  flowgate completion fish | source\n"
          "# or for every shell:     flowgate completion fish > ~/.config/fish/completions/flowgate.fish\n\n"
          "# The subcommand on the command line (\"root\" when there is none): the\n"
          "# first word that is neither a flag nor the value of the flag before it.\n"
          "function __flowgate_command\n"
          "    set -l skip 0\n"
          "    for w in (commandline -opc)[2..-1]\n"
          "        if test $skip = 1\n"
          "            set skip 0\n"
          "            continue\n"
          "        end\n"
          "        switch $w\n"
          "            case ",
          out);
    put_flag_words(out, gw_cli_root_flags, gw_cli_root_nflags, true);
    fputs("\n                set skip 1\n"
          "            case '-*'\n"
          "            case '*'\n"
          "                echo $w\n"
          "                return\n"
          "        end\n"
          "    end\n"
          "    echo root\n"
          "end\n\n"
          "function __flowgate_using\n"
          "    test (__flowgate_command) = $argv[1]\n"
          "end\n\n"
          "# File names only where a flag asks for a path.\n"
          "complete -c flowgate -f\n",
          out);
    for (size_t i = 0; i < gw_cli_ncommands; i++) {
        fprintf(out, "complete -c flowgate -n '__flowgate_using root' -a %s -d ", gw_cli_commands[i].name);
        put_fish_quoted(out, gw_cli_commands[i].summary);
        fputc('\n', out);
    }
    fish_flags(out, "root", gw_cli_root_flags, gw_cli_root_nflags);
    fish_flags(out, "proxy", gw_cli_proxy_flags, gw_cli_proxy_nflags);
    fish_flags(out, "completion", &completion_help, 1);
    fputs("complete -c flowgate -n '__flowgate_using completion; and test (count (commandline -opc)) -le 2' -a '", out);
    put_shell_words(out);
    fputs("'\ncomplete -c flowgate -n '__flowgate_using help' -a '", out);
    put_command_words(out);
    fputs("'\ncomplete -c flowgate -n '__flowgate_using guard' -F\n", out);
}

/* ---- PowerShell ------------------------------------------------------------ */

/* One hashtable per flag: n (--name), s (-x or ''), v ('' no value, 'path',
 * 'text'), c (fixed values, space-separated, or ''), h (help). */
static void ps_flags(FILE *out, const char *cmd, const gw_flag_t *t, size_t n)
{
    fprintf(out, "        '%s' = @(\n", cmd);
    for (size_t i = 0; i < n; i++) {
        const gw_flag_t *f = &t[i];
        char s[4] = "";
        if (f->shorthand)
            snprintf(s, sizeof s, "-%c", f->shorthand);
        const char *v = !gw_flag_takes_value(f) ? "" : f->type == GW_FLAG_PATH ? "path" : "text";
        fprintf(out, "            @{ n = '--%s'; s = '%s'; v = '%s'; c = ", f->name, s, v);
        put_ps_quoted(out, f->choices ? f->choices : "");
        fputs("; h = ", out);
        put_ps_quoted(out, f->usage);
        fputs(" }\n", out);
    }
    fputs("        )\n", out);
}

static const char ps_body[] =
    "    # The words before the one being completed.\n"
    "    $words = @($CommandAst.CommandElements |\n"
    "        Where-Object { $_.Extent.EndOffset -lt $CursorPosition } |\n"
    "        ForEach-Object { $_.Extent.Text })\n"
    "    # The subcommand is the first word that is neither a flag nor the value of\n"
    "    # one; valueOf is the flag whose value is being typed.\n"
    "    $cmd = 'root'; $valueOf = $null; $positional = 0\n"
    "    foreach ($w in ($words | Select-Object -Skip 1)) {\n"
    "        if ($valueOf) { $valueOf = $null; continue }\n"
    "        if ($w -like '-*') {\n"
    "            $valueOf = $flags[$cmd] | Where-Object { ($_.n -eq $w -or $_.s -eq $w) -and $_.v -ne '' } |\n"
    "                Select-Object -First 1\n"
    "            continue\n"
    "        }\n"
    "        if ($cmd -eq 'root') { $cmd = $w } else { $positional++ }\n"
    "    }\n"
    "    $found = @()\n"
    "    if ($valueOf) {\n"
    "        # A path or free text: let PowerShell offer file names.\n"
    "        if ($valueOf.c -eq '') { return }\n"
    "        $found = @($valueOf.c -split ' ' | ForEach-Object { ,@($_, $_) })\n"
    "    } elseif ($WordToComplete -like '-*') {\n"
    "        $found = @($flags[$cmd] | ForEach-Object { ,@($_.n, $_.h); if ($_.s) { ,@($_.s, $_.h) } })\n"
    "    } elseif ($cmd -eq 'root' -or $cmd -eq 'help') {\n"
    "        $found = $commands\n"
    "    } elseif ($cmd -eq 'completion' -and $positional -eq 0) {\n"
    "        $found = @($shells | ForEach-Object { ,@($_, $_) })\n"
    "    }\n"
    "    $found | Where-Object { $_[0] -like \"$WordToComplete*\" } | ForEach-Object {\n"
    "        [System.Management.Automation.CompletionResult]::new($_[0], $_[0], 'ParameterValue', $_[1])\n"
    "    }\n"
    "}\n";

static void write_powershell(FILE *out)
{
    fputs("# powershell completion for flowgate, generated by `flowgate completion powershell`\n"
          "# from flowgate's own flag tables.\n"
          "# Load it in this shell:  flowgate completion powershell | Out-String | Invoke-Expression\n\n"
          "Register-ArgumentCompleter -Native -CommandName 'flowgate' -ScriptBlock {\n"
          "    param($WordToComplete, $CommandAst, $CursorPosition)\n"
          "    $flags = @{\n",
          out);
    ps_flags(out, "root", gw_cli_root_flags, gw_cli_root_nflags);
    ps_flags(out, "proxy", gw_cli_proxy_flags, gw_cli_proxy_nflags);
    ps_flags(out, "completion", &completion_help, 1);
    fputs("    }\n    $commands = @(\n", out);
    for (size_t i = 0; i < gw_cli_ncommands; i++) {
        fputs("        ,@(", out);
        put_ps_quoted(out, gw_cli_commands[i].name);
        fputs(", ", out);
        put_ps_quoted(out, gw_cli_commands[i].summary);
        fputs(")\n", out);
    }
    fputs("    )\n    $shells = @(", out);
    for (size_t i = 0; i < NSHELLS; i++)
        fprintf(out, "%s'%s'", i ? ", " : "", shells[i]);
    fputs(")\n", out);
    fputs(ps_body, out);
}

bool gw_completion_write(gw_shell_t shell, FILE *out)
{
    switch (shell) {
    case GW_SHELL_BASH: write_bash(out); break;
    case GW_SHELL_ZSH: write_zsh(out); break;
    case GW_SHELL_FISH: write_fish(out); break;
    case GW_SHELL_POWERSHELL: write_powershell(out); break;
    }
    return fflush(out) == 0 && !ferror(out);
}
