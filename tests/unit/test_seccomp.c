/* Unit tests for vmm/seccomp_json and the built-in policy (seccomp_filters). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/sandbox.h"
#include "vmm/seccomp_policy.h"

#define EMPTY_REST \
    "\"api\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": []}," \
    "\"vcpu\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": []}," \
    "\"io\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": []}," \
    "\"aux\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": []}"

static void builtin_round_trips(void **state)
{
    (void)state;
    char *text = seccomp_json_print(seccomp_builtin());
    assert_non_null(text);
    struct seccomp_policy p;
    struct errmsg e = { "" };
    assert_int_equal(seccomp_json_parse(&p, text, "builtin", &e), 0);
    for (int c = 0; c < SANDBOX_NCLASS; c++)
        assert_int_equal(seccomp_filter_count(&p.cls[c]), seccomp_filter_count(&seccomp_builtin()->cls[c]));
    char *again = seccomp_json_print(&p);
    assert_string_equal(again, text);
    free(again);
    free(text);
    seccomp_policy_free(&p);
}

static void parses_conditions_and_actions(void **state)
{
    (void)state;
    const char *t = "{\"vmm\": {\"default_action\": {\"errno\": 1}, \"filter_action\": \"log\", \"filter\": ["
                    "{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", "
                    "\"val\": 21505, \"comment\": \"TCGETS\"}], \"comment\": \"c\"},"
                    "{\"syscall\": \"mmap\", \"args\": [{\"index\": 2, \"type\": \"qword\", \"op\": {\"masked_eq\": 4},"
                    " \"val\": 0}]}, {\"syscall\": \"read\"}]}," EMPTY_REST "}";
    struct seccomp_policy p;
    struct errmsg e = { "" };
    assert_int_equal(seccomp_json_parse(&p, t, "f", &e), 0);
    const struct seccomp_filter *f = &p.cls[SANDBOX_VMM];
    assert_int_equal(f->default_action.kind, SECCOMP_ACTION_ERRNO);
    assert_int_equal(f->default_action.value, 1);
    assert_int_equal(f->filter_action.kind, SECCOMP_ACTION_LOG);
    assert_int_equal(f->nrules, 3);
    assert_string_equal(f->rules[0].syscall, "ioctl");
    assert_string_equal(f->rules[0].comment, "c");
    assert_int_equal(f->rules[0].ncond, 1);
    assert_int_equal(f->rules[0].cond[0].val, 21505);
    assert_int_equal(f->rules[1].cond[0].op, SECCOMP_OP_MASKED_EQ);
    assert_int_equal(f->rules[1].cond[0].mask, 4);
    assert_int_equal(f->rules[1].cond[0].qword, 1);
    assert_int_equal(f->rules[2].ncond, 0);
    assert_int_equal(seccomp_filter_count(f), 3);
    seccomp_policy_free(&p);
}

static void expect_error(const char *text, const char *want)
{
    struct seccomp_policy p;
    struct errmsg e = { "" };
    assert_int_equal(seccomp_json_parse(&p, text, "f.json", &e), -EINVAL);
    if (!strstr(e.text, want))
        fail_msg("error '%s' does not contain '%s'", e.text, want);
}

static void errors_name_the_entry(void **state)
{
    (void)state;
    expect_error("[1", "f.json: line 1");
    expect_error("{\"gpu\": {}}", "unknown thread \"gpu\"");
    expect_error("{" EMPTY_REST "}", "no filter for thread \"vmm\"");
    expect_error("{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": ["
                 "{\"syscall\": \"read\"}, {\"syscall\": \"frobnicate\"}]}," EMPTY_REST "}",
                 "thread \"vmm\": filter entry 2: unknown syscall \"frobnicate\"");
    expect_error("{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": ["
                 "{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"word\", \"op\": \"eq\", \"val\": 1}]}"
                 "]}," EMPTY_REST "}",
                 "filter entry 1 (ioctl), condition 1: \"type\" must be");
    expect_error("{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": ["
                 "{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", \"op\": \"in\", \"val\": 1}]}"
                 "]}," EMPTY_REST "}",
                 "condition 1: \"op\" must be");
    expect_error("{\"vmm\": {\"default_action\": \"die\", \"filter_action\": \"allow\", \"filter\": []}," EMPTY_REST "}",
                 "thread \"vmm\": default_action: expected");
    expect_error("{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": [], \"x\": 1},"
                 EMPTY_REST "}", "unknown field \"x\"");
    expect_error("{\"vmm\": {\"default_action\": \"trap\", \"filter_action\": \"allow\", \"filter\": ["
                 "{\"syscall\": \"ioctl\", \"args\": [{\"index\": 1, \"type\": \"dword\", \"op\": \"eq\", "
                 "\"val\": 4294967296}]}]}," EMPTY_REST "}", "below 2^32 for a dword");
}

static void class_names(void **state)
{
    (void)state;
    for (int c = 0; c < SANDBOX_NCLASS; c++)
        assert_int_equal(sandbox_class_parse(sandbox_class_name((enum sandbox_class)c)), c);
    assert_int_equal(sandbox_class_parse("gpu"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(builtin_round_trips),
        cmocka_unit_test(parses_conditions_and_actions),
        cmocka_unit_test(errors_name_the_entry),
        cmocka_unit_test(class_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
