/* The REST API's MMDS resources (see api_mmds.h). */
#include "api/api_mmds.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json_fields.h"
#include "api/mmds_http.h"
#include "api/vm_config_json.h"

int api_mmds_put(struct mmds_store *s, const json_t *body, struct errmsg *e)
{
    return mmds_store_put(s, body, e);
}

int api_mmds_patch(struct mmds_store *s, const json_t *body, struct errmsg *e)
{
    return mmds_store_patch(s, body, e);
}

json_t *api_mmds_get(struct mmds_store *s)
{
    return mmds_store_get(s);
}

int api_mmds_config(struct vm_config *c, struct mmds_store *s, const json_t *body, struct errmsg *e)
{
    int r = vm_config_json_mmds(c, body, e);
    if (!r)
        mmds_store_configure(s, c->mmds.version == VM_CONFIG_MMDS_V2, c->mmds.imds_compat);
    return r;
}

int api_mmds_load_file(struct mmds_store *s, const char *path, struct errmsg *e)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return errmsg_set(e, -errno, "--metadata %s: %s", path, strerror(errno));
    /* Anything larger than the limit is refused anyway; read a little past
     * it so whitespace does not count against the file. */
    size_t limit = mmds_store_limit(s), cap = limit * 4 + 4096, len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return errmsg_set(e, -ENOMEM, "--metadata %s: out of memory", path);
    }
    size_t got;
    while (len < cap && (got = fread(buf + len, 1, cap - len, f)) > 0)
        len += got;
    bool more = len == cap && fgetc(f) != EOF;
    bool bad = ferror(f);
    fclose(f);
    int r = 0;
    if (bad) {
        r = errmsg_set(e, -EIO, "--metadata %s: read error", path);
    } else if (more) {
        r = errmsg_set(e, -EFBIG, "--metadata %s: larger than %zu bytes, far over the MMDS limit of %zu bytes "
                       "(--mmds-size-limit)", path, cap, limit);
    } else {
        struct errmsg why = { "" };
        json_t *j = json_fields_parse(buf, len, &why);
        if (!j)
            r = errmsg_set(e, -EINVAL, "--metadata %s: not valid JSON: %s", path, why.text);
        else if ((r = mmds_store_put(s, j, &why)))
            errmsg_set(e, r, "--metadata %s: %s", path, why.text);
        json_decref(j);
    }
    free(buf);
    return r;
}

void api_mmds_attach(const struct vm_config *c, struct vm_build *build, struct mmds_store *s)
{
    for (unsigned i = 0; i < c->nnets; i++) {
        unsigned slot = vm_config_net_slot(c, i);
        if (!vm_config_net_has_mmds(c, i) || slot >= build->virt.ndevices ||
            build->devices[slot].kind != VIRT_DEV_NET)
            continue;
        build->devices[slot].mmds = (struct mmds_net_options){
            .ipv4 = c->mmds.ipv4, .handler = { .request = mmds_http_request, .opaque = s } };
    }
}
