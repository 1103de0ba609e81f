/* Which execution engine runs a hart: hart_run dispatches to the
 * interpreter (hart.c) or the JIT (jit.c), and the engines' names for
 * the command line, the config file and the API. */
#include <string.h>

#include "cpu/hart.h"
#include "cpu/jit.h"

enum hart_exit hart_run(struct hart *h, uint64_t budget)
{
    /* in_run tells remote fences whether to wait for this hart: set before
     * the engine looks for pending flushes (seq_cst, against the store of
     * a request in hart_request_flush), cleared once it has left. */
    atomic_store(&h->in_run, 1);
    atomic_thread_fence(memory_order_seq_cst);
    enum hart_exit r = h->jit ? jit_run(h, budget) : hart_interp_run(h, budget);
    atomic_store_explicit(&h->in_run, 0, memory_order_release);
    return r;
}

int hart_engine_parse(const char *name, enum hart_engine *out)
{
    if (!strcmp(name, "interp"))
        *out = HART_ENGINE_INTERP;
    else if (!strcmp(name, "jit"))
        *out = HART_ENGINE_JIT;
    else
        return -1;
    return 0;
}

const char *hart_engine_name(enum hart_engine e)
{
    return e == HART_ENGINE_JIT ? "jit" : "interp";
}
