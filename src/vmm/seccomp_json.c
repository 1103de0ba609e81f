/* Firecracker's seccompiler JSON format for the seccomp policy: an object
 * of thread names ("vmm", "api", "vcpu", "io", "aux"), each with
 * "default_action", "filter_action" and "filter", a list of
 * {"syscall", "args": [{"index", "type": "dword"|"qword", "op", "val",
 * "comment"}], "comment"}; an op is "eq", "ne", "lt", "le", "gt", "ge" or
 * {"masked_eq": MASK}; an action "allow", "trap", "kill_thread",
 * "kill_process", "log", {"errno": N} or {"trace": N}. */
#include "vmm/seccomp_policy.h"

#include <errno.h>
#include <jansson.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct owned {
    json_t *root;  /* the strings of the rules point into it */
    struct seccomp_rule *rules[SANDBOX_NCLASS];
};

static const char *const op_names[] = { "eq", "ne", "lt", "le", "gt", "ge" };

static const char *const action_names[] = {
    [SECCOMP_ACTION_ALLOW] = "allow", [SECCOMP_ACTION_TRAP] = "trap",
    [SECCOMP_ACTION_KILL_THREAD] = "kill_thread", [SECCOMP_ACTION_KILL_PROCESS] = "kill_process",
    [SECCOMP_ACTION_LOG] = "log",
};

static int parse_action(const json_t *j, struct seccomp_action *a, const char *where, struct errmsg *e)
{
    if (json_is_string(j)) {
        for (unsigned i = 0; i < sizeof action_names / sizeof action_names[0]; i++)
            if (action_names[i] && !strcmp(json_string_value(j), action_names[i])) {
                *a = (struct seccomp_action){ (enum seccomp_action_kind)i, 0 };
                return 0;
            }
    } else if (json_is_object(j) && json_object_size(j) == 1) {
        const json_t *v;
        int errno_form = (v = json_object_get(j, "errno")) != NULL;
        if (!v)
            v = json_object_get(j, "trace");
        if (v && json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 0xffff) {
            *a = (struct seccomp_action){ errno_form ? SECCOMP_ACTION_ERRNO : SECCOMP_ACTION_TRACE,
                                          (uint32_t)json_integer_value(v) };
            return 0;
        }
    }
    return errmsg_set(e, -EINVAL, "%s: expected \"allow\", \"trap\", \"kill_thread\", \"kill_process\", \"log\", "
                      "{\"errno\": N} or {\"trace\": N} (N 0 to 65535)", where);
}

static int parse_cond(const json_t *j, struct seccomp_cond *c, const char *where, struct errmsg *e)
{
    const char *key;
    json_t *v;
    if (!json_is_object(j))
        return errmsg_set(e, -EINVAL, "%s: expected an object {\"index\", \"type\", \"op\", \"val\"}", where);
    json_object_foreach((json_t *)j, key, v)
        if (strcmp(key, "index") && strcmp(key, "type") && strcmp(key, "op") && strcmp(key, "val") &&
            strcmp(key, "comment"))
            return errmsg_set(e, -EINVAL, "%s: unknown field \"%s\"", where, key);
    const json_t *idx = json_object_get(j, "index"), *type = json_object_get(j, "type"),
                 *op = json_object_get(j, "op"), *val = json_object_get(j, "val");
    if (!json_is_integer(idx) || json_integer_value(idx) < 0 || json_integer_value(idx) > 5)
        return errmsg_set(e, -EINVAL, "%s: \"index\" must be an argument number 0 to 5", where);
    c->index = (uint8_t)json_integer_value(idx);
    if (!json_is_string(type) || (strcmp(json_string_value(type), "dword") && strcmp(json_string_value(type), "qword")))
        return errmsg_set(e, -EINVAL, "%s: \"type\" must be \"dword\" or \"qword\"", where);
    c->qword = !strcmp(json_string_value(type), "qword");
    if (!json_is_integer(val) || json_integer_value(val) < 0 ||
        (!c->qword && json_integer_value(val) > 0xffffffffll))
        return errmsg_set(e, -EINVAL, "%s: \"val\" must be a non-negative integer (below 2^32 for a dword)", where);
    c->val = (uint64_t)json_integer_value(val);
    c->mask = 0;
    if (json_is_string(op)) {
        for (unsigned i = 0; i < sizeof op_names / sizeof op_names[0]; i++)
            if (!strcmp(json_string_value(op), op_names[i])) {
                c->op = (uint8_t)i;
                return 0;
            }
    } else if (json_is_object(op) && json_object_size(op) == 1) {
        const json_t *m = json_object_get(op, "masked_eq");
        if (json_is_integer(m) && json_integer_value(m) >= 0) {
            c->op = SECCOMP_OP_MASKED_EQ;
            c->mask = (uint64_t)json_integer_value(m);
            return 0;
        }
    }
    return errmsg_set(e, -EINVAL, "%s: \"op\" must be \"eq\", \"ne\", \"lt\", \"le\", \"gt\", \"ge\" or "
                      "{\"masked_eq\": MASK}", where);
}

static int parse_rule(const json_t *j, struct seccomp_rule *r, const char *where, struct errmsg *e)
{
    const char *key;
    json_t *v;
    if (!json_is_object(j))
        return errmsg_set(e, -EINVAL, "%s: expected an object {\"syscall\", \"args\", \"comment\"}", where);
    json_object_foreach((json_t *)j, key, v)
        if (strcmp(key, "syscall") && strcmp(key, "args") && strcmp(key, "comment"))
            return errmsg_set(e, -EINVAL, "%s: unknown field \"%s\"", where, key);
    const json_t *sc = json_object_get(j, "syscall"), *args = json_object_get(j, "args"),
                 *comment = json_object_get(j, "comment");
    if (!json_is_string(sc))
        return errmsg_set(e, -EINVAL, "%s: \"syscall\" must be a syscall name", where);
    r->syscall = json_string_value(sc);
    if (seccomp_syscall_resolve_name(r->syscall) == __NR_SCMP_ERROR)
        return errmsg_set(e, -EINVAL, "%s: unknown syscall \"%s\"", where, r->syscall);
    if (comment && !json_is_string(comment))
        return errmsg_set(e, -EINVAL, "%s (%s): \"comment\" must be a string", where, r->syscall);
    r->comment = comment ? json_string_value(comment) : NULL;
    r->ncond = 0;
    if (!args)
        return 0;
    if (!json_is_array(args) || json_array_size(args) > SECCOMP_COND_MAX)
        return errmsg_set(e, -EINVAL, "%s (%s): \"args\" must be a list of at most %u conditions", where, r->syscall,
                          SECCOMP_COND_MAX);
    for (size_t i = 0; i < json_array_size(args); i++) {
        char w[200];
        snprintf(w, sizeof w, "%s (%s), condition %zu", where, r->syscall, i + 1);
        int rc = parse_cond(json_array_get(args, i), &r->cond[i], w, e);
        if (rc)
            return rc;
        r->ncond++;
    }
    return 0;
}

/* Fills p from root, which it takes. */
static int parse_root(struct seccomp_policy *p, json_t *root, const char *what, struct errmsg *e)
{
    struct owned *o = calloc(1, sizeof *o);
    if (!o) {
        json_decref(root);
        return errmsg_set(e, -ENOMEM, "%s: out of memory", what);
    }
    o->root = root;
    p->owned = o;
    int rc = 0;
    if (!json_is_object(root)) {
        rc = errmsg_set(e, -EINVAL, "%s: expected an object of thread names (vmm, api, vcpu, io, aux)", what);
        goto fail;
    }
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (sandbox_class_parse(key) < 0) {
            rc = errmsg_set(e, -EINVAL, "%s: unknown thread \"%s\" (expected vmm, api, vcpu, io or aux)", what, key);
            goto fail;
        }
    }
    for (int c = 0; c < SANDBOX_NCLASS; c++) {
        const char *name = sandbox_class_name((enum sandbox_class)c);
        json_t *f = json_object_get(root, name);
        char w[160];
        if (!f) {
            rc = errmsg_set(e, -EINVAL, "%s: no filter for thread \"%s\"", what, name);
            goto fail;
        }
        if (!json_is_object(f)) {
            rc = errmsg_set(e, -EINVAL, "%s: thread \"%s\": expected an object", what, name);
            goto fail;
        }
        json_object_foreach(f, key, v) {
            if (strcmp(key, "default_action") && strcmp(key, "filter_action") && strcmp(key, "filter")) {
                rc = errmsg_set(e, -EINVAL, "%s: thread \"%s\": unknown field \"%s\"", what, name, key);
                goto fail;
            }
        }
        struct seccomp_filter *pf = &p->cls[c];
        snprintf(w, sizeof w, "%s: thread \"%s\": default_action", what, name);
        if ((rc = parse_action(json_object_get(f, "default_action"), &pf->default_action, w, e)))
            goto fail;
        snprintf(w, sizeof w, "%s: thread \"%s\": filter_action", what, name);
        if ((rc = parse_action(json_object_get(f, "filter_action"), &pf->filter_action, w, e)))
            goto fail;
        json_t *list = json_object_get(f, "filter");
        if (!json_is_array(list)) {
            rc = errmsg_set(e, -EINVAL, "%s: thread \"%s\": \"filter\" must be a list of rules", what, name);
            goto fail;
        }
        size_t n = json_array_size(list);
        o->rules[c] = calloc(n ? n : 1, sizeof *o->rules[c]);
        if (!o->rules[c]) {
            rc = errmsg_set(e, -ENOMEM, "%s: out of memory", what);
            goto fail;
        }
        for (size_t i = 0; i < n; i++) {
            snprintf(w, sizeof w, "%s: thread \"%s\": filter entry %zu", what, name, i + 1);
            if ((rc = parse_rule(json_array_get(list, i), &o->rules[c][i], w, e)))
                goto fail;
        }
        pf->rules = o->rules[c];
        pf->nrules = (unsigned)n;
    }
    return 0;
fail:
    seccomp_policy_free(p);
    return rc;
}

int seccomp_json_parse(struct seccomp_policy *p, const char *text, const char *what, struct errmsg *e)
{
    memset(p, 0, sizeof *p);
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return errmsg_set(e, -EINVAL, "%s: line %d: %s", what, je.line, je.text);
    return parse_root(p, root, what, e);
}

int seccomp_json_load(struct seccomp_policy *p, const char *path, struct errmsg *e)
{
    memset(p, 0, sizeof *p);
    char what[300];
    snprintf(what, sizeof what, "seccomp filter '%s'", path);
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return je.line < 0 ? errmsg_set(e, -EINVAL, "%s: %s", what, je.text)
                           : errmsg_set(e, -EINVAL, "%s: line %d: %s", what, je.line, je.text);
    return parse_root(p, root, what, e);
}

void seccomp_policy_free(struct seccomp_policy *p)
{
    struct owned *o = p->owned;
    if (o) {
        for (int c = 0; c < SANDBOX_NCLASS; c++)
            free(o->rules[c]);
        json_decref(o->root);
        free(o);
    }
    memset(p, 0, sizeof *p);
}

static json_t *action_json(const struct seccomp_action *a)
{
    if (a->kind == SECCOMP_ACTION_ERRNO)
        return json_pack("{s:I}", "errno", (json_int_t)a->value);
    if (a->kind == SECCOMP_ACTION_TRACE)
        return json_pack("{s:I}", "trace", (json_int_t)a->value);
    return json_string(action_names[a->kind]);
}

char *seccomp_json_print(const struct seccomp_policy *p)
{
    json_t *root = json_object();
    for (int c = 0; root && c < SANDBOX_NCLASS; c++) {
        const struct seccomp_filter *f = &p->cls[c];
        json_t *list = json_array();
        for (unsigned i = 0; list && i < f->nrules; i++) {
            const struct seccomp_rule *r = &f->rules[i];
            json_t *o = json_pack("{s:s}", "syscall", r->syscall);
            if (r->ncond) {
                json_t *args = json_array();
                for (unsigned k = 0; k < r->ncond; k++) {
                    const struct seccomp_cond *q = &r->cond[k];
                    json_t *op = q->op == SECCOMP_OP_MASKED_EQ ? json_pack("{s:I}", "masked_eq", (json_int_t)q->mask)
                                                             : json_string(op_names[q->op]);
                    json_array_append_new(args, json_pack("{s:i,s:s,s:o,s:I}", "index", (int)q->index, "type",
                                                          q->qword ? "qword" : "dword", "op", op, "val",
                                                          (json_int_t)q->val));
                }
                json_object_set_new(o, "args", args);
            }
            if (r->comment)
                json_object_set_new(o, "comment", json_string(r->comment));
            json_array_append_new(list, o);
        }
        json_object_set_new(root, sandbox_class_name((enum sandbox_class)c),
                            json_pack("{s:o,s:o,s:o}", "default_action", action_json(&f->default_action),
                                      "filter_action", action_json(&f->filter_action), "filter", list));
    }
    char *s = root ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(root);
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return NULL;
    }
    t[n] = '\n';
    t[n + 1] = 0;
    return t;
}
