/* `flowgate completion <shell>` (spec: gateway §1.1): cobra's argument
 * errors, and scripts that carry every flag of the parser's own tables.
 * tests/integration/test_completion.c runs the scripts in real shells. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/cli_internal.h"
#include "gateway/gateway.h"

static gw_cli_result_t parse(gw_shell_t *shell, err_t *err, ...)
{
    char *argv[16] = {"completion"};
    int argc = 1;
    va_list ap;
    va_start(ap, err);
    for (char *a; (a = va_arg(ap, char *)) != NULL && argc < 15;)
        argv[argc++] = a;
    va_end(ap);
    memset(err, 0, sizeof *err);
    return gw_completion_cli_parse(argc, argv, shell, err);
}

/* The script for `shell` (malloc'd). */
static char *script(gw_shell_t shell)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_true(gw_completion_write(shell, f));
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* The text after `name='` up to the closing quote (malloc'd). */
static char *bash_var(const char *text, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, "\n%s='", name);
    const char *p = strstr(text, key);
    assert_non_null(p);
    p += strlen(key);
    const char *end = strchr(p, '\'');
    assert_non_null(end);
    return strndup(p, (size_t)(end - p));
}

/* Is `word` one of the space-separated words of `list`? */
static bool has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return true;
    return false;
}

static size_t count_words(const char *list)
{
    size_t n = 0;
    for (const char *p = list; *p;) {
        p += strspn(p, " ");
        if (!*p)
            break;
        n++;
        p += strcspn(p, " ");
    }
    return n;
}

static size_t flag_word_count(const gw_flag_t *t, size_t n, bool values_only)
{
    size_t words = 0;
    for (size_t i = 0; i < n; i++)
        if (!values_only || gw_flag_takes_value(&t[i]))
            words += t[i].shorthand ? 2 : 1;
    return words;
}

static void test_each_shell_name_selects_its_script(void **state)
{
    (void)state;
    const char *names[] = {"bash", "zsh", "fish", "powershell"};
    const gw_shell_t want[] = {GW_SHELL_BASH, GW_SHELL_ZSH, GW_SHELL_FISH, GW_SHELL_POWERSHELL};
    for (size_t i = 0; i < 4; i++) {
        gw_shell_t shell = (gw_shell_t)-1;
        err_t err;
        assert_int_equal(parse(&shell, &err, names[i], NULL), GW_CLI_RUN);
        assert_int_equal(shell, want[i]);
    }
}

static void test_no_argument_is_cobras_exact_args_error(void **state)
{
    (void)state;
    gw_shell_t shell;
    err_t err;
    assert_int_equal(parse(&shell, &err, NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "accepts 1 arg(s), received 0");
    assert_int_equal(parse(&shell, &err, "bash", "zsh", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "accepts 1 arg(s), received 2");
}

static void test_unknown_shell_is_cobras_invalid_argument_error(void **state)
{
    (void)state;
    gw_shell_t shell;
    err_t err;
    assert_int_equal(parse(&shell, &err, "tcsh", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "invalid argument \"tcsh\" for \"flowgate completion\"");
    /* Case matters, as in cobra's ValidArgs. */
    assert_int_equal(parse(&shell, &err, "Bash", NULL), GW_CLI_ERROR);
}

static void test_unknown_flag_is_a_flag_error_with_the_see_line(void **state)
{
    (void)state;
    gw_shell_t shell;
    err_t err;
    assert_int_equal(parse(&shell, &err, "--shell=bash", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "unknown flag: --shell\nSee 'flowgate completion --help' for usage");
    assert_int_equal(parse(&shell, &err, "-x", "bash", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "unknown shorthand flag: 'x' in -x\nSee 'flowgate completion --help' for usage");
}

static void test_help_wins_over_argument_errors(void **state)
{
    (void)state;
    gw_shell_t shell;
    err_t err;
    assert_int_equal(parse(&shell, &err, "--help", NULL), GW_CLI_HELP);
    assert_int_equal(parse(&shell, &err, "tcsh", "-h", NULL), GW_CLI_HELP);
    /* After "--" a word is an argument even if it looks like a flag. */
    assert_int_equal(parse(&shell, &err, "--", "--help", NULL), GW_CLI_ERROR);
    assert_string_equal(err.msg, "invalid argument \"--help\" for \"flowgate completion\"");
}

/* Every flag of both tables, long and short, and nothing else: the lists
 * are generated, so their sizes match the tables exactly. */
static void test_bash_lists_are_exactly_the_flag_tables(void **state)
{
    (void)state;
    char *s = script(GW_SHELL_BASH);
    char *root = bash_var(s, "__flowgate_root_flags");
    char *root_v = bash_var(s, "__flowgate_root_value_flags");
    char *proxy = bash_var(s, "__flowgate_proxy_flags");
    char *proxy_v = bash_var(s, "__flowgate_proxy_value_flags");
    char *cmds = bash_var(s, "__flowgate_commands");
    for (size_t i = 0; i < gw_cli_root_nflags; i++) {
        char w[64];
        snprintf(w, sizeof w, "--%s", gw_cli_root_flags[i].name);
        assert_true(has_word(root, w));
        assert_int_equal(has_word(root_v, w), gw_flag_takes_value(&gw_cli_root_flags[i]));
    }
    for (size_t i = 0; i < gw_cli_proxy_nflags; i++) {
        char w[64];
        snprintf(w, sizeof w, "--%s", gw_cli_proxy_flags[i].name);
        assert_true(has_word(proxy, w));
        assert_int_equal(has_word(proxy_v, w), gw_flag_takes_value(&gw_cli_proxy_flags[i]));
    }
    assert_true(has_word(root, "-c") && has_word(root_v, "-c") && has_word(root, "-v") && !has_word(root_v, "-v"));
    assert_int_equal(count_words(root), flag_word_count(gw_cli_root_flags, gw_cli_root_nflags, false));
    assert_int_equal(count_words(root_v), flag_word_count(gw_cli_root_flags, gw_cli_root_nflags, true));
    assert_int_equal(count_words(proxy), flag_word_count(gw_cli_proxy_flags, gw_cli_proxy_nflags, false));
    assert_int_equal(count_words(proxy_v), flag_word_count(gw_cli_proxy_flags, gw_cli_proxy_nflags, true));
    assert_string_equal(cmds, "completion guard help proxy");
    assert_non_null(strstr(s, "'root --guards-mode') echo 'strict filter propagate' ;;"));
    assert_non_null(strstr(s, "'root --config'|'root -c') return 1 ;;"));
    assert_non_null(strstr(s, "\ncomplete -o default -F __flowgate_complete flowgate\n"));
    free(root);
    free(root_v);
    free(proxy);
    free(proxy_v);
    free(cmds);
    free(s);
}

static void test_zsh_has_a_spec_per_flag_and_registers_flowgate(void **state)
{
    (void)state;
    char *s = script(GW_SHELL_ZSH);
    assert_memory_equal(s, "#compdef flowgate\n", 18);
    for (size_t i = 0; i < gw_cli_root_nflags; i++) {
        const gw_flag_t *f = &gw_cli_root_flags[i];
        char spec[96];
        if (f->shorthand)
            snprintf(spec, sizeof spec, "{-%c,--%s}'[", f->shorthand, f->name);
        else
            snprintf(spec, sizeof spec, "'--%s[", f->name);
        assert_non_null(strstr(s, spec));
    }
    assert_non_null(strstr(s, "'--log-dir[Log directory (env MCP_GATEWAY_LOG_DIR)]:path:_files'"));
    assert_non_null(strstr(s, ":value:(strict filter propagate)'"));
    /* A counter repeats and so must not exclude itself. */
    assert_non_null(strstr(s, "'*'{-v,--verbose}'["));
    assert_non_null(strstr(s, "'1:shell:(bash zsh fish powershell)'"));
    assert_non_null(strstr(s, "compdef _flowgate flowgate"));
    free(s);
}

static void test_fish_has_a_complete_line_per_flag(void **state)
{
    (void)state;
    char *s = script(GW_SHELL_FISH);
    for (size_t i = 0; i < gw_cli_proxy_nflags; i++) {
        char line[128];
        snprintf(line, sizeof line, "complete -c flowgate -n '__flowgate_using proxy' -l %s ",
                 gw_cli_proxy_flags[i].name);
        assert_non_null(strstr(s, line));
    }
    assert_non_null(strstr(s, "-l config -s c -r -F -d 'Path to the TOML configuration file'\n"));
    assert_non_null(strstr(s, "-l guards-mode -x -a 'strict filter propagate' -d "));
    assert_non_null(strstr(s, "-l listen -s l -x -d 'HTTP listen address (default \"127.0.0.1:3000\")'\n"));
    assert_non_null(strstr(s, "\ncomplete -c flowgate -f\n"));
    free(s);
}

/* Brackets balance outside quoted strings: a cheap check that the script
 * PowerShell (not installed here) would parse is at least well nested. */
static void test_powershell_registers_a_native_completer_with_every_flag(void **state)
{
    (void)state;
    char *s = script(GW_SHELL_POWERSHELL);
    assert_non_null(strstr(s, "Register-ArgumentCompleter -Native -CommandName 'flowgate' -ScriptBlock {"));
    for (size_t i = 0; i < gw_cli_root_nflags; i++) {
        char item[96];
        snprintf(item, sizeof item, "@{ n = '--%s'; s = '", gw_cli_root_flags[i].name);
        assert_non_null(strstr(s, item));
    }
    int depth[2] = {0, 0}; /* {} and () (which @() also closes) */
    char quote = 0;
    for (const char *p = s; *p; p++) {
        if (quote) {
            if (*p == quote && !(quote == '\'' && p[1] == '\''))
                quote = 0;
            else if (quote == '\'' && *p == '\'' && p[1] == '\'')
                p++;
            continue;
        }
        if (*p == '#') { /* comment to end of line */
            p += strcspn(p, "\n");
            if (!*p)
                break;
            continue;
        }
        if (*p == '\'' || *p == '"')
            quote = *p;
        else if (*p == '{')
            depth[0]++;
        else if (*p == '}')
            depth[0]--;
        else if (*p == '(')
            depth[1]++;
        else if (*p == ')')
            depth[1]--;
        assert_true(depth[0] >= 0 && depth[1] >= 0);
    }
    assert_int_equal(quote, 0);
    assert_int_equal(depth[0], 0);
    assert_int_equal(depth[1], 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_shell_name_selects_its_script),
        cmocka_unit_test(test_no_argument_is_cobras_exact_args_error),
        cmocka_unit_test(test_unknown_shell_is_cobras_invalid_argument_error),
        cmocka_unit_test(test_unknown_flag_is_a_flag_error_with_the_see_line),
        cmocka_unit_test(test_help_wins_over_argument_errors),
        cmocka_unit_test(test_bash_lists_are_exactly_the_flag_tables),
        cmocka_unit_test(test_zsh_has_a_spec_per_flag_and_registers_flowgate),
        cmocka_unit_test(test_fish_has_a_complete_line_per_flag),
        cmocka_unit_test(test_powershell_registers_a_native_completer_with_every_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
