/*
 * test_completion.c — `flowgate completion <shell>` from the real binary
 * (spec: gateway §1.1), loaded into real shells: bash (the completion
 * function driven through COMP_WORDS), zsh (an interactive zsh on a pty,
 * <Tab> pressed by zpty) and fish (`complete -C`). PowerShell is not in
 * Debian; its script is checked for structure by the unit test
 * (tests/gateway/test_completion.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

static char *dir;

/* The script `flowgate completion <shell>` prints, saved as dir/<shell>. */
static const char *save_script(const char *shell)
{
    static char path[300];
    const char *args[] = {"completion", shell, NULL};
    char *out = NULL, *err = NULL;
    int st = fg_run_flowgate(args, NULL, &out, &err, 20000);
    assert_int_equal(st, 0);
    assert_string_equal(err, "");
    assert_non_null(out);
    assert_true(strlen(out) > 1000);
    snprintf(path, sizeof path, "%s/%s", dir, shell);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(out, f);
    fclose(f);
    free(out);
    free(err);
    return path;
}

static char *write_file(const char *name, const char *text)
{
    char *path = malloc(300);
    snprintf(path, 300, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* stdout of a shell command line (malloc'd); fails the test on a non-zero
 * exit. */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, p)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    int st = pclose(p);
    if (st != 0)
        fail_msg("'%s' exited with %d; output:\n%s", cmd, st, buf);
    return buf;
}

static void require_shell(const char *bin, const char *name)
{
    if (strstr(bin, "NOTFOUND"))
        fail_msg("%s is not installed: run scripts/install-deps.sh", name);
}

static int setup(void **state)
{
    (void)state;
    dir = fg_tempdir("completion");
    return dir ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(dir);
    return 0;
}

/* Each line: the words on the command line (the last is being completed),
 * then " -> " and the replies. The function is the one `complete -p`
 * reports, so the registration itself is under test. */
static const char bash_driver[] =
    "source \"$1\" || exit 1\n"
    "spec=$(complete -p flowgate) || exit 1\n"
    "echo \"$spec\"\n"
    "fn=${spec#*-F }; fn=${fn%% *}\n"
    "c() {\n"
    "    COMP_WORDS=(\"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))\n"
    "    COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()\n"
    "    \"$fn\" flowgate \"${COMP_WORDS[COMP_CWORD]}\" \"${COMP_WORDS[COMP_CWORD-1]}\"\n"
    "    echo \"$* -> ${COMPREPLY[*]}\"\n"
    "}\n"
    "c flowgate --log\n"
    "c flowgate ''\n"
    "c flowgate --config x.toml --url\n"
    "c flowgate --guards-mode ''\n"
    "c flowgate --guards-mode = pro\n"
    "c flowgate proxy --guard\n"
    "c flowgate proxy --log-dir /tmp --tl\n"
    "c flowgate completion ''\n"
    "c flowgate help pr\n"
    "c flowgate --listen ''\n";

static void test_bash_script_registers_and_completes_flags(void **state)
{
    (void)state;
    const char *script = save_script("bash");
    char *driver = write_file("drive.bash", bash_driver);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "timeout 60 bash --norc --noprofile %s %s", driver, script);
    char *out = run(cmd);
    const char *want[] = {
        "complete -o default -F __flowgate_complete flowgate\n",
        "flowgate --log -> --log-dir\n",
        "flowgate  -> completion guard help proxy\n",
        "flowgate --config x.toml --url -> --url-domain-audit\n",
        "flowgate --guards-mode  -> strict filter propagate\n",
        "flowgate --guards-mode = pro -> propagate\n",
        "flowgate proxy --guard -> --guard-wasm --guards-mode\n",
        "flowgate proxy --log-dir /tmp --tl -> --tls --tls-dir\n",
        "flowgate completion  -> bash zsh fish powershell\n",
        "flowgate help pr -> proxy\n",
        "flowgate --listen  -> \n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(out, want[i]))
            fail_msg("bash: expected \"%s\" in:\n%s", want[i], out);
    free(out);
    free(driver);
}

/* $1 the script; each further argument is typed into an interactive zsh,
 * completed with <Tab> and run; there `flowgate` is a function printing
 * its arguments after "ARGS:" (spelt in two halves so that the echo of
 * the definition never matches). */
static const char zsh_driver[] =
    "zmodload zsh/zpty || exit 2\n"
    "zpty z 'zsh -f -i'\n"
    "zpty -w z \"PROMPT='> '; autoload -U compinit; compinit -u -D; source ${(q)1}; "
    "flowgate() { print -r -- \\\"AR\\\"\\\"GS:\\$*\\\"; }\"\n"
    "for line in \"${@[2,-1]}\"; do\n"
    "  zpty -w -n z \"$line\"$'\\t'\n"
    "  zpty -w -n z $'\\n'\n"
    "  zpty -r z out \"*ARGS:*\"$'\\n' || exit 3\n"
    "  out=${out##*ARGS:}\n"
    "  print -r -- \"${out//[$'\\r\\n']/}\"\n"
    "done\n"
    "zpty -d z\n";

static void test_zsh_script_completes_at_a_real_prompt(void **state)
{
    (void)state;
    require_shell(FG_ZSH_BIN, "zsh");
    const char *script = save_script("zsh");
    char *driver = write_file("drive.zsh", zsh_driver);
    char *target = write_file("config-target.toml", "");
    char cmd[1400];
    /* A unique prefix of the temp file shows path completion for -c. */
    snprintf(cmd, sizeof cmd,
             "timeout 60 %s -f %s %s 'flowgate --log' 'flowgate proxy --guard-w' 'flowgate --guards-mode pro' "
             "'flowgate completion fi' 'flowgate pro' 'flowgate -c %s/config-tar'",
             FG_ZSH_BIN, driver, script, dir);
    char *out = run(cmd);
    char want[600];
    snprintf(want, sizeof want,
             "--log-dir\nproxy --guard-wasm\n--guards-mode propagate\ncompletion fish\nproxy\n-c %s\n", target);
    assert_string_equal(out, want);
    free(out);
    free(driver);
    free(target);
}

static void test_fish_script_completes_flags_and_values(void **state)
{
    (void)state;
    require_shell(FG_FISH_BIN, "fish");
    const char *script = save_script("fish");
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "timeout 60 %s --no-config -c 'source %s; complete -C \"flowgate --log\"; echo ---; "
             "complete -C \"flowgate --config x.toml proxy --guard\"; echo ---; "
             "complete -C \"flowgate --guards-mode \"; echo ---; complete -C \"flowgate completion \"'",
             FG_FISH_BIN, script);
    char *out = run(cmd);
    assert_string_equal(out, "--log-dir\tLog directory (env MCP_GATEWAY_LOG_DIR)\n---\n"
                             "--guards-mode\tDIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)\n"
                             "--guard-wasm\tPath to the guard WASM module\n---\n"
                             "filter\tDIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)\n"
                             "propagate\tDIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)\n"
                             "strict\tDIFC mode: strict, filter or propagate (env MCP_GATEWAY_GUARDS_MODE)\n---\n"
                             "bash\nfish\npowershell\nzsh\n");
    free(out);
}

static void test_argument_errors_exit_1_with_cobras_text_on_stderr(void **state)
{
    (void)state;
    struct {
        const char *args[4];
        const char *stderr_text;
    } cases[] = {
        {{"completion", NULL}, "accepts 1 arg(s), received 0\n"},
        {{"completion", "bash", "zsh", NULL}, "accepts 1 arg(s), received 2\n"},
        {{"completion", "tcsh", NULL}, "invalid argument \"tcsh\" for \"flowgate completion\"\n"},
        {{"completion", "--all", NULL}, "unknown flag: --all\nSee 'flowgate completion --help' for usage\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *out = NULL, *err = NULL;
        assert_int_equal(fg_run_flowgate(cases[i].args, NULL, &out, &err, 20000), 1);
        assert_string_equal(out, "");
        assert_string_equal(err, cases[i].stderr_text);
        free(out);
        free(err);
    }
}

static void test_help_lists_the_completion_command(void **state)
{
    (void)state;
    const char *help[] = {"--help", NULL};
    const char *chelp[] = {"completion", "--help", NULL};
    char *out = NULL;
    assert_int_equal(fg_run_flowgate(help, NULL, &out, NULL, 20000), 0);
    assert_non_null(strstr(out, "\n  completion  Generate completion script\n"));
    free(out);
    assert_int_equal(fg_run_flowgate(chelp, NULL, &out, NULL, 20000), 0);
    assert_non_null(strstr(out, "flowgate completion [bash|zsh|fish|powershell]"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bash_script_registers_and_completes_flags),
        cmocka_unit_test(test_zsh_script_completes_at_a_real_prompt),
        cmocka_unit_test(test_fish_script_completes_flags_and_values),
        cmocka_unit_test(test_argument_errors_exit_1_with_cobras_text_on_stderr),
        cmocka_unit_test(test_help_lists_the_completion_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
