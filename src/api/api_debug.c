/* PUT /gdb and PUT /inspect (see api_debug.h). */
#include "api/api_debug.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_fields.h"
#include "cpu/hart_debug.h"
#include "vmm/gdbstub.h"
#include "vmm/guest_inspect.h"

int api_debug_gdb(struct vm *vm, const json_t *b, struct errmsg *e)
{
    const char *w = "gdb", *path = NULL, *tcp = NULL;
    bool has_path = false, has_tcp = false, allow_remote = false;
    const char *const fields[] = { "socket_path", "tcp_address", "allow_remote", NULL };
    int r = json_fields_check(w, b, fields, e);
    if (!r)
        r = json_fields_string(w, b, "socket_path", false, &path, &has_path, e);
    if (!r)
        r = json_fields_string(w, b, "tcp_address", false, &tcp, &has_tcp, e);
    if (!r)
        r = json_fields_bool(w, b, "allow_remote", false, &allow_remote, NULL, e);
    if (r)
        return r;
    if (has_path == has_tcp)
        return errmsg_set(e, -EINVAL, "gdb: give one of socket_path (a Unix socket to create) or tcp_address "
                          "(HOST:PORT, a numeric address)");
    if (!vm)
        return errmsg_set(e, -EINVAL, "gdb: the microVM is not started yet (before InstanceStart, set "
                          "machine-config gdb_socket_path: the harts then wait at reset for gdb)");
    char spec[300];
    if (snprintf(spec, sizeof spec, "%s:%s", has_path ? "unix" : "tcp", has_path ? path : tcp) >= (int)sizeof spec)
        return errmsg_set(e, -EINVAL, "gdb: %s is too long", has_path ? "socket_path" : "tcp_address");
    struct errmsg why = { "" };
    if (gdbstub_check_spec(spec, allow_remote, &why))
        return errmsg_set(e, -EINVAL, "gdb: %s '%s' is not valid: %s", has_path ? "socket_path" : "tcp_address",
                          has_path ? path : tcp, why.text);
    if ((r = vm_enable_gdb(vm, spec, 0, &why)))
        return errmsg_set(e, r, "gdb: %s", why.text);
    return 0;
}

/* ---- inspect ---- */

enum request { REQ_REGS, REQ_STACK, REQ_TRANSLATE, REQ_MEM, REQ_MAPPINGS };

/* Ranges a mappings answer lists (the CLI reads up to 64 KiB of reply). */
#define MAPPINGS_MAX 512u

struct inspect {
    enum request req;
    unsigned hart;
    uint64_t addr, len;
    bool phys;
    /* results */
    char *text;
    size_t text_len;
    int failed;
    uint64_t pc, priv, satp, pa;
    int mapped;
};

static int address(const json_t *b, const char *name, bool required, uint64_t *v, struct errmsg *e)
{
    json_t *j = json_object_get(b, name);
    if (!j || json_is_null(j)) {
        if (required)
            return errmsg_set(e, -EINVAL, "inspect: %s is required", name);
        return 0;
    }
    if (json_is_integer(j) && json_integer_value(j) >= 0) {
        *v = (uint64_t)json_integer_value(j);
        return 0;
    }
    const char *s = json_string_value(j);
    char *end;
    if (s && *s && *s != '-' && *s != ' ') {
        errno = 0;
        *v = strtoull(s, &end, 0);
        if (!*end && !errno)
            return 0;
    }
    return errmsg_set(e, -EINVAL, "inspect: %s: expected an address (a non-negative integer, or a string such as "
                      "\"0xffffffff80000000\")", name);
}

static void run_inspect(void *opaque, struct hart *const *harts, unsigned n)
{
    struct inspect *q = opaque;
    (void)n;
    struct hart *h = harts[q->hart];
    FILE *f = open_memstream(&q->text, &q->text_len);
    if (!f)
        return;
    q->pc = hart_debug_pc(h);
    q->priv = hart_debug_priv(h);
    hart_debug_csr_read(h, 0x180, &q->satp);
    switch (q->req) {
    case REQ_REGS:
        guest_inspect_regs(f, h);
        break;
    case REQ_STACK:
        guest_inspect_stack(f, h);
        break;
    case REQ_TRANSLATE: {
        q->failed = guest_inspect_translate(f, h, q->addr);
        q->mapped = !q->failed;
        if (q->mapped)
            hart_debug_translate(h, q->addr, &q->pa);
        break;
    }
    case REQ_MEM:
        q->failed = guest_inspect_mem(f, h, q->addr, q->len, q->phys);
        break;
    case REQ_MAPPINGS:
        guest_inspect_mappings(f, h, MAPPINGS_MAX);
        break;
    }
    fclose(f);
}

int api_debug_inspect(struct vm *vm, const json_t *b, json_t **reply, struct errmsg *e)
{
    const char *w = "inspect", *req = NULL;
    const char *const fields[] = { "request", "hart", "address", "length", "physical", NULL };
    struct inspect q = { 0 };
    uint64_t hart = 0, len = 0;
    int r = json_fields_check(w, b, fields, e);
    if (!r)
        r = json_fields_string(w, b, "request", true, &req, NULL, e);
    if (r)
        return r;
    if (!strcmp(req, "regs"))
        q.req = REQ_REGS;
    else if (!strcmp(req, "stack"))
        q.req = REQ_STACK;
    else if (!strcmp(req, "translate"))
        q.req = REQ_TRANSLATE;
    else if (!strcmp(req, "mem"))
        q.req = REQ_MEM;
    else if (!strcmp(req, "mappings"))
        q.req = REQ_MAPPINGS;
    else
        return errmsg_set(e, -EINVAL, "inspect: request: expected \"regs\", \"stack\", \"translate\", \"mem\" or "
                          "\"mappings\", got '%s'", req);
    if (!vm)
        return errmsg_set(e, -EINVAL, "inspect: the microVM is not started yet (PUT /actions InstanceStart "
                          "first)");
    unsigned nharts = vm_board(vm)->nharts;
    r = json_fields_uint(w, b, "hart", false, 0, nharts - 1, &hart, NULL, e);
    if (!r && (q.req == REQ_TRANSLATE || q.req == REQ_MEM))
        r = address(b, "address", true, &q.addr, e);
    if (!r && q.req == REQ_MEM)
        r = json_fields_uint(w, b, "length", true, 1, GUEST_INSPECT_MEM_MAX, &len, NULL, e);
    if (!r && q.req == REQ_MEM)
        r = json_fields_bool(w, b, "physical", false, &q.phys, NULL, e);
    if (!r && q.req != REQ_MEM && json_object_get(b, "length"))
        r = errmsg_set(e, -EINVAL, "inspect: length applies to request \"mem\" only");
    if (!r && q.req != REQ_MEM && q.req != REQ_TRANSLATE && json_object_get(b, "address"))
        r = errmsg_set(e, -EINVAL, "inspect: address applies to requests \"mem\" and \"translate\" only");
    if (r)
        return r;
    if (virt_end_reason(vm_board(vm)) != VIRT_RUNNING)
        return errmsg_set(e, -EINVAL, "inspect: the microVM's run has ended");
    q.hart = (unsigned)hart;
    q.len = len;
    vm_inspect(vm, run_inspect, &q);
    if (!q.text)
        return errmsg_set(e, -ENOMEM, "inspect: out of memory");
    if (q.failed) {
        /* The report says why (not mapped, not RAM): that is the message. */
        size_t n = strlen(q.text);
        while (n && q.text[n - 1] == '\n')
            q.text[--n] = 0;
        const char *last = strrchr(q.text, '\n');
        if (q.req == REQ_MEM)
            r = errmsg_set(e, -EINVAL, "inspect: nothing at %#" PRIx64 " can be read: %s", q.addr,
                           q.phys ? "it is not RAM" : "it is not mapped (or not RAM) for this hart");
        else
            r = errmsg_set(e, -EINVAL, "inspect: %s", last ? last + 1 : q.text);
        free(q.text);
        return r;
    }
    char buf[24];
    snprintf(buf, sizeof buf, "%#" PRIx64, q.pc);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s}", "request", req, "text", q.text, "hart", (json_int_t)q.hart,
                          "pc", buf, "priv", (json_int_t)q.priv, "satp_mode",
                          guest_inspect_satp_mode((unsigned)(q.satp >> 60)));
    free(q.text);
    if (!j)
        return errmsg_set(e, -ENOMEM, "inspect: out of memory");
    if (q.req == REQ_TRANSLATE) {
        snprintf(buf, sizeof buf, "%#" PRIx64, q.pa);
        json_object_set_new(j, "physical_address", json_string(buf));
    }
    *reply = j;
    return 0;
}
