/* The REST API's MMDS resources (Firecracker's): PUT /mmds replaces the
 * data store, PATCH /mmds merges a JSON merge patch (RFC 7396) into it,
 * GET /mmds returns it ({} before the first PUT), PUT /mmds/config sets
 * the version, the network interfaces that answer the guest, the address
 * and imds_compat (pre-boot only). api_vmm routes the requests here; a
 * store over its limit is -EFBIG, which the API answers with 413 as
 * Firecracker does. Also the command line's --metadata FILE. */
#ifndef MINNOW_API_API_MMDS_H
#define MINNOW_API_API_MMDS_H

#include <jansson.h>

#include "api/mmds_store.h"
#include "api/vm_config.h"
#include "util/errmsg.h"

int api_mmds_put(struct mmds_store *s, const json_t *body, struct errmsg *e);
int api_mmds_patch(struct mmds_store *s, const json_t *body, struct errmsg *e);
json_t *api_mmds_get(struct mmds_store *s);
/* Into c (checked against its network interfaces) and the store's settings. */
int api_mmds_config(struct vm_config *c, struct mmds_store *s, const json_t *body, struct errmsg *e);
/* Gives the network interfaces of build (made from c by vm_config_build)
 * that mmds-config names the metadata service, answered from s (which
 * must outlive the VM). */
void api_mmds_attach(const struct vm_config *c, struct vm_build *build, struct mmds_store *s);
/* --metadata FILE: the store's initial contents (JSON), as a PUT. */
int api_mmds_load_file(struct mmds_store *s, const char *path, struct errmsg *e);

#endif
