/* minnow's debugging resources (not Firecracker's):
 *   PUT /gdb      {"socket_path": P} or {"tcp_address": "HOST:PORT"}: a gdb
 *                 stub on a started VM (running, paused or restored), which
 *                 runs on until a debugger attaches;
 *   PUT /inspect  {"request": "regs"|"stack"|"translate"|"mem"|"mappings", "hart": N,
 *                 "address": A, "length": L, "physical": B}: a read-only
 *                 look at the guest (the harts held for its length):
 *                 200 with the report as "text" and its values as fields.
 * Addresses are JSON integers or strings ("0xffffffff80000000"), since a
 * JSON integer stops at 2^63. */
#ifndef MINNOW_API_API_DEBUG_H
#define MINNOW_API_API_DEBUG_H

#include <jansson.h>

#include "util/errmsg.h"
#include "vmm/vm.h"

int api_debug_gdb(struct vm *vm, const json_t *b, struct errmsg *e);
/* *reply: the answer's JSON (the caller owns it). */
int api_debug_inspect(struct vm *vm, const json_t *b, json_t **reply, struct errmsg *e);

#endif
