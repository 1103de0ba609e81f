/* The gdb stub's hold on the harts (see gdb_target.h). */
#include "vmm/gdb_target.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "cpu/hart_debug.h"

enum run_state { RUNNING, STEPPING, HALTING, HALTED };

struct gdb_target {
    struct gdb_target_config cfg;
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* state, active and parked changed */
    enum run_state state;
    int step_hart;             /* STEPPING: the one hart that runs */
    unsigned active;           /* harts inside gdb_target_run */
    unsigned parked;           /* of those, waiting while held */
    unsigned stop_hart;        /* the hart whose stop was reported */
    int frozen;
    /* Read by the harts without the lock while they run: only changed
     * while every hart is held. */
    _Atomic int slow;          /* breakpoints set or a step pending */
    uint64_t bp[GDB_TARGET_MAX_BREAKPOINTS];
    unsigned nbp;
    uint64_t skip_pc[32];      /* a hart resumed at a breakpoint runs it once */
    uint8_t skip[32];
    int efd;
    int dead;                  /* gdb_target_shutdown */
    unsigned exit_code;
};

int gdb_target_create(struct gdb_target **out, const struct gdb_target_config *cfg, struct errmsg *e)
{
    if (cfg->nharts > 32)
        return errmsg_set(e, -EINVAL, "the gdb stub handles up to 32 harts, not %u", cfg->nharts);
    struct gdb_target *t = calloc(1, sizeof *t);
    if (!t)
        return errmsg_set(e, -ENOMEM, "out of memory for the gdb stub");
    t->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t->efd < 0) {
        int err = errno;
        free(t);
        return errmsg_set(e, -err, "gdb stub: cannot create an eventfd");
    }
    t->cfg = *cfg;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->cond, NULL);
    t->state = cfg->start_halted ? HALTED : RUNNING;
    *out = t;
    return 0;
}

void gdb_target_destroy(struct gdb_target *t)
{
    if (!t)
        return;
    close(t->efd);
    pthread_cond_destroy(&t->cond);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

unsigned gdb_target_nharts(const struct gdb_target *t)
{
    return t->cfg.nharts;
}

struct hart *gdb_target_hart(const struct gdb_target *t, unsigned i)
{
    return i < t->cfg.nharts ? t->cfg.harts[i] : NULL;
}

int gdb_target_event_fd(const struct gdb_target *t)
{
    return t->efd;
}

static int may_run(const struct gdb_target *t, unsigned i)
{
    return t->dead || t->state == RUNNING || (t->state == STEPPING && t->step_hart == (int)i);
}

/* Under lock: every hart that is in gdb_target_run waits. */
static int all_parked(const struct gdb_target *t)
{
    return t->parked == t->active;
}

/* Under lock: begins a halt all harts obey soon. */
static void begin_halt(struct gdb_target *t)
{
    t->state = HALTING;
    for (unsigned k = 0; k < t->cfg.nharts; k++)
        hart_request_stop(t->cfg.harts[k]);
    pthread_cond_broadcast(&t->cond);
}

/* Under lock: the hart waits while it may not run. Returns 1 if it waited. */
static int park(struct gdb_target *t, unsigned i)
{
    if (may_run(t, i))
        return 0;
    t->parked++;
    pthread_cond_broadcast(&t->cond);
    while (!may_run(t, i))
        pthread_cond_wait(&t->cond, &t->lock);
    t->parked--;
    return 1;
}

/* A hart reports its stop (breakpoint reached, step done): the first
 * report of a run wins, the others find the halt under way. */
static void report_stop(struct gdb_target *t, unsigned i)
{
    if (t->state == RUNNING || t->state == STEPPING) {
        t->stop_hart = i;
        begin_halt(t);
        uint64_t one = 1;
        ssize_t w = write(t->efd, &one, sizeof one);
        (void)w;
    }
}

static int at_breakpoint(struct gdb_target *t, unsigned i, uint64_t pc)
{
    if (t->skip[i] && t->skip_pc[i] == pc)
        return 0;
    for (unsigned k = 0; k < t->nbp; k++)
        if (t->bp[k] == pc)
            return 1;
    return 0;
}

enum hart_exit gdb_target_run(struct gdb_target *t, unsigned i, uint64_t budget)
{
    struct hart *h = t->cfg.harts[i];
    pthread_mutex_lock(&t->lock);
    t->active++;
    int waited = park(t, i);
    int stepping = t->state == STEPPING;
    pthread_mutex_unlock(&t->lock);
    enum hart_exit r = HART_EXIT_BUDGET;
    if (waited && t->cfg.halt_returns_stop) {
        /* Back through the vm's loop first: a pause may wait there. */
        r = HART_EXIT_STOP;
        goto out;
    }
    if (!atomic_load_explicit(&t->slow, memory_order_acquire)) {
        r = hart_run(h, budget);
    } else {
        hart_debug_arm(h, 1, stepping);
        for (uint64_t n = 0; n < budget; n++) {
            if (at_breakpoint(t, i, hart_debug_pc(h))) {
                pthread_mutex_lock(&t->lock);
                report_stop(t, i);
                pthread_mutex_unlock(&t->lock);
                r = HART_EXIT_BUDGET;
                break;
            }
            r = hart_run(h, 1);
            if (hart_debug_trapped(h) && r == HART_EXIT_STOP)
                r = HART_EXIT_BUDGET; /* our own stop, at a trap handler */
            t->skip[i] = 0;
            if (stepping && r != HART_EXIT_CRASH) {
                hart_debug_arm(h, 0, 0);
                pthread_mutex_lock(&t->lock);
                report_stop(t, i);
                pthread_mutex_unlock(&t->lock);
                r = HART_EXIT_BUDGET;
                break;
            }
            if (r != HART_EXIT_BUDGET)
                break;
        }
        hart_debug_arm(h, 0, 0);
    }
    if (r == HART_EXIT_STOP || r == HART_EXIT_BUDGET) {
        pthread_mutex_lock(&t->lock);
        if (t->state == HALTING || t->state == HALTED) {
            /* Our own halt: wait here, so the registers the debugger sees
             * are the ones the hart runs on with. */
            if (!t->cfg.halt_returns_stop)
                atomic_store(&h->stop_requested, 0);
            park(t, i);
            r = t->cfg.halt_returns_stop ? HART_EXIT_STOP : HART_EXIT_BUDGET;
        }
        pthread_mutex_unlock(&t->lock);
    }
out:
    pthread_mutex_lock(&t->lock);
    t->active--;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return r;
}

/* Under lock: waits for the halt to hold every hart. */
static void finish_halt(struct gdb_target *t)
{
    while (!t->dead && !all_parked(t))
        pthread_cond_wait(&t->cond, &t->lock);
    t->state = HALTED;
    if (!t->frozen && t->cfg.freeze) {
        t->cfg.freeze(t->cfg.opaque);
        t->frozen = 1;
    }
}

void gdb_target_halt(struct gdb_target *t)
{
    pthread_mutex_lock(&t->lock);
    if (t->state == RUNNING || t->state == STEPPING)
        begin_halt(t);
    if (t->state == HALTING)
        finish_halt(t);
    pthread_mutex_unlock(&t->lock);
}

unsigned gdb_target_stopped(struct gdb_target *t)
{
    uint64_t v;
    ssize_t rd = read(t->efd, &v, sizeof v);
    (void)rd;
    pthread_mutex_lock(&t->lock);
    if (t->state == HALTING)
        finish_halt(t);
    unsigned s = t->stop_hart;
    pthread_mutex_unlock(&t->lock);
    return s;
}

void gdb_target_resume(struct gdb_target *t, int step)
{
    pthread_mutex_lock(&t->lock);
    if (t->state == HALTING)
        finish_halt(t);
    for (unsigned k = 0; k < t->cfg.nharts; k++) {
        /* Whatever asked the hart to stop has been seen. */
        atomic_store(&t->cfg.harts[k]->stop_requested, 0);
        t->skip_pc[k] = hart_debug_pc(t->cfg.harts[k]);
        t->skip[k] = 1;
    }
    atomic_store(&t->slow, t->nbp > 0 || step >= 0);
    if (t->frozen && t->cfg.thaw) {
        t->cfg.thaw(t->cfg.opaque);
        t->frozen = 0;
    }
    t->step_hart = step;
    t->state = step >= 0 ? STEPPING : RUNNING;
    if (step >= 0)
        t->stop_hart = (unsigned)step;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
}

int gdb_target_add_breakpoint(struct gdb_target *t, uint64_t pc)
{
    pthread_mutex_lock(&t->lock);
    int r = 0;
    unsigned k;
    for (k = 0; k < t->nbp && t->bp[k] != pc; k++)
        ;
    if (k == t->nbp) {
        if (t->nbp == GDB_TARGET_MAX_BREAKPOINTS)
            r = -ENOSPC;
        else
            t->bp[t->nbp++] = pc;
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

void gdb_target_remove_breakpoint(struct gdb_target *t, uint64_t pc)
{
    pthread_mutex_lock(&t->lock);
    for (unsigned k = 0; k < t->nbp; k++)
        if (t->bp[k] == pc) {
            t->bp[k] = t->bp[--t->nbp];
            break;
        }
    pthread_mutex_unlock(&t->lock);
}

void gdb_target_clear_breakpoints(struct gdb_target *t)
{
    pthread_mutex_lock(&t->lock);
    t->nbp = 0;
    pthread_mutex_unlock(&t->lock);
}

void gdb_target_shutdown(struct gdb_target *t, unsigned exit_code)
{
    pthread_mutex_lock(&t->lock);
    t->dead = 1;
    t->exit_code = exit_code;
    t->nbp = 0;
    atomic_store(&t->slow, 0);
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    uint64_t one = 1;
    ssize_t w = write(t->efd, &one, sizeof one);
    (void)w;
}

int gdb_target_ended(struct gdb_target *t, unsigned *exit_code)
{
    pthread_mutex_lock(&t->lock);
    int d = t->dead;
    *exit_code = t->exit_code;
    pthread_mutex_unlock(&t->lock);
    return d;
}
