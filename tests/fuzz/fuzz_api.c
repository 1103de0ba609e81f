/* libFuzzer harness for the REST API without HTTP: the router, the JSON
 * readers behind every resource and the --config-file loader.
 *
 * An input is one or more records separated by a NUL byte. A record is
 * "METHOD PATH\n" and the body (the rest); "LOAD\n" + text loads text as
 * a --config-file document instead. Every input gets a fresh api_vmm, so
 * an input's outcome never depends on the ones before it.
 *
 * What must not touch the host is kept away from it: PUT /logger and PUT
 * /metrics bodies are only read and checked (applying them would create
 * files at fuzzed paths), and once a record has set a boot source no
 * further /actions record runs (InstanceStart would boot whatever the
 * fuzzed path names). Any crash, sanitizer report or reply that is not a
 * well-formed status aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_vmm.h"
#include "api/json_fields.h"
#include "api/vm_config_json.h"

#define MAX_RECORDS 16

static void check_reply(const struct api_reply *r)
{
    if (r->status < 200 || r->status > 599)
        abort();
    if (r->body) {
        json_error_t err;
        json_t *j = json_loads(r->body, 0, &err);
        if (!j)
            abort();
        /* Every error carries its reason. */
        if (r->status >= 400 && !json_is_string(json_object_get(j, "fault_message")))
            abort();
        json_decref(j);
    }
}

/* PUT /logger and PUT /metrics: read and check only. */
static void observe_only(bool logger, const char *body, size_t len)
{
    struct errmsg e = { "" };
    json_t *j = json_fields_parse(body, len, &e);
    if (!j)
        return;
    if (logger) {
        struct vm_config_logger l;
        vm_config_json_logger_read(j, &l, &e);
    } else {
        struct vm_config_metrics m;
        vm_config_json_metrics_read(j, &m, &e);
    }
    json_decref(j);
}

static void one_record(struct api_vmm *a, const char *rec, size_t n, bool *booted)
{
    const char *nl = memchr(rec, '\n', n);
    size_t head = nl ? (size_t)(nl - rec) : n;
    const char *body = nl ? nl + 1 : rec + n;
    size_t blen = n - (size_t)(body - rec);
    if (head == 4 && !memcmp(rec, "LOAD", 4)) {
        struct vm_config c;
        struct errmsg e = { "" };
        if (!vm_config_json_load(&c, body, blen, &e)) {
            json_t *j = vm_config_json_dump(&c);
            json_decref(j);
            vm_config_free(&c);
        }
        return;
    }
    char line[256];
    if (head >= sizeof line)
        return;
    memcpy(line, rec, head);
    line[head] = '\0';
    if (strlen(line) != head)   /* a NUL in the request line */
        return;
    char *sp = strchr(line, ' ');
    if (!sp)
        return;
    *sp = '\0';
    const char *method = line, *path = sp + 1;
    if (!strcmp(path, "/logger") || !strcmp(path, "/metrics")) {
        if (!strcmp(method, "PUT")) {
            observe_only(path[1] == 'l', body, blen);
            return;
        }
    }
    if (!strcmp(path, "/actions") && *booted)
        return;
    struct api_reply r;
    api_vmm_handle(a, method, path, blen ? body : NULL, blen, &r);
    check_reply(&r);
    if (!strcmp(method, "PUT") && !strcmp(path, "/boot-source") && r.status < 300)
        *booted = true;
    free(r.body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct api_vmm *a;
    struct errmsg e = { "" };
    if (api_vmm_create(&a, "fuzz", &e))
        abort();
    const char *p = (const char *)data, *end = p + size;
    bool booted = false;
    for (unsigned k = 0; k < MAX_RECORDS && p < end; k++) {
        const char *z = memchr(p, '\0', (size_t)(end - p));
        size_t n = z ? (size_t)(z - p) : (size_t)(end - p);
        one_record(a, p, n, &booted);
        p += n + (z ? 1 : 0);
    }
    api_vmm_destroy(a);
    return 0;
}
