/* The gdb stub's hold on the harts (see gdb_target.h). */
#include "vmm/gdb_target.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
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
    /* Break- and watchpoints (execute triggers are breakpoints), and
     * their generation: each hart installs them on its own thread when
     * the generation it has is older (gdb_target_run). */
    struct trigger_watch w[GDB_TARGET_MAX_BREAKPOINTS + GDB_TARGET_MAX_WATCHPOINTS];
    unsigned nw, nbp;
    uint64_t wgen, applied[32];
    uint64_t skip_pc[32];      /* a hart resumed at a breakpoint runs it once */
    uint8_t skip[32];
    uint8_t step_in[32];       /* its first instruction runs as a step */
    int has_hit;               /* the reported stop was a trigger's */
    struct trigger_hit hit;
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
    /* Held from the start: a pause, snapshot or inspection meanwhile must
     * not wait for harts that wait for gdb (vm_gdb.c: freeze). */
    if (cfg->start_halted && cfg->freeze) {
        cfg->freeze(cfg->opaque);
        t->frozen = 1;
    }
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

/* A hart's trigger stopped it: report it as the stop, if it is the first. */
static void report_hit(struct gdb_target *t, unsigned i, const struct trigger_hit *hit)
{
    if (t->state == RUNNING || t->state == STEPPING) {
        t->has_hit = 1;
        t->hit = *hit;
    }
    report_stop(t, i);
}

enum hart_exit gdb_target_run(struct gdb_target *t, unsigned i, uint64_t budget)
{
    struct hart *h = t->cfg.harts[i];
    pthread_mutex_lock(&t->lock);
    t->active++;
    int waited = park(t, i);
    int stepping = t->state == STEPPING;
    /* The hart's own thread changes its triggers: nothing else touches
     * its TLBs and decoded code. */
    if (t->applied[i] != t->wgen) {
        trigger_debug_set(h, t->w, t->nw);
        t->applied[i] = t->wgen;
    }
    if (t->skip[i]) {
        trigger_debug_skip(h, t->skip_pc[i]);
        t->skip[i] = 0;
    }
    pthread_mutex_unlock(&t->lock);
    enum hart_exit r = HART_EXIT_BUDGET;
    if (waited && t->cfg.halt_returns_stop) {
        /* Back through the vm's loop first: a pause may wait there. */
        r = HART_EXIT_STOP;
        goto out;
    }
    struct trigger_hit hit;
    pthread_mutex_lock(&t->lock);
    int step_in = t->step_in[i];
    t->step_in[i] = 0;
    pthread_mutex_unlock(&t->lock);
    if (step_in && !stepping) {
        /* gdb's own single step (a breakpoint after the instruction):
         * if the instruction traps, stop at the handler, as a step of the
         * hart would. */
        hart_debug_arm(h, 1, 1);
        r = hart_run(h, 1);
        int trapped = hart_debug_trapped(h) && r == HART_EXIT_STOP;
        hart_debug_arm(h, 0, 0);
        if (trapped) {
            pthread_mutex_lock(&t->lock);
            report_stop(t, i);
            pthread_mutex_unlock(&t->lock);
            r = HART_EXIT_BUDGET;
        }
    } else if (!stepping) {
        r = hart_run(h, budget);
    } else {
        hart_debug_arm(h, 1, 1);
        r = hart_run(h, 1);
        if (hart_debug_trapped(h) && r == HART_EXIT_STOP)
            r = HART_EXIT_BUDGET; /* our own stop, at a trap handler */
        hart_debug_arm(h, 0, 0);
        if (r != HART_EXIT_CRASH && !h->trig.stopped) {
            pthread_mutex_lock(&t->lock);
            report_stop(t, i);
            pthread_mutex_unlock(&t->lock);
            r = HART_EXIT_BUDGET;
        }
    }
    if (trigger_debug_hit(h, &hit)) {
        pthread_mutex_lock(&t->lock);
        report_hit(t, i, &hit);
        pthread_mutex_unlock(&t->lock);
        r = HART_EXIT_BUDGET;
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

/* Under lock: whether a breakpoint waits just after the instruction at
 * pc, as gdb puts one to step (RISC-V has it step by breakpoints). */
static int breakpoint_follows(const struct gdb_target *t, const struct hart *h, uint64_t pc)
{
    uint8_t b[2];
    if (hart_debug_read(h, pc, b, 1) != 1)
        return 0;
    uint64_t next = pc + ((b[0] & 3) == 3 ? 4 : 2);
    for (unsigned k = 0; k < t->nw; k++)
        if (t->w[k].kinds == TRIGGER_EXEC && t->w[k].lo == next)
            return 1;
    return 0;
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
        t->step_in[k] = step < 0 && breakpoint_follows(t, t->cfg.harts[k], t->skip_pc[k]);
    }
    t->has_hit = 0;
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

/* Under lock: the index of the entry (lo, hi, kinds), or nw. */
static unsigned find_watch(const struct gdb_target *t, uint64_t lo, uint64_t hi, unsigned kinds)
{
    unsigned k;
    for (k = 0; k < t->nw; k++)
        if (t->w[k].lo == lo && t->w[k].hi == hi && t->w[k].kinds == kinds)
            break;
    return k;
}

/* Adds (lo, hi, kinds) unless it is there; max: how many entries of its
 * sort (breakpoints: exec; watchpoints) may be set. */
static int add_watch(struct gdb_target *t, uint64_t lo, uint64_t hi, unsigned kinds, unsigned max)
{
    pthread_mutex_lock(&t->lock);
    int r = 0;
    if (find_watch(t, lo, hi, kinds) == t->nw) {
        unsigned n = kinds == TRIGGER_EXEC ? t->nbp : t->nw - t->nbp;
        if (n >= max) {
            r = -ENOSPC;
        } else {
            t->w[t->nw++] = (struct trigger_watch){ .lo = lo, .hi = hi, .kinds = kinds };
            t->nbp += kinds == TRIGGER_EXEC;
            t->wgen++;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return r;
}

static void remove_watch(struct gdb_target *t, uint64_t lo, uint64_t hi, unsigned kinds)
{
    pthread_mutex_lock(&t->lock);
    unsigned k = find_watch(t, lo, hi, kinds);
    if (k < t->nw) {
        t->w[k] = t->w[--t->nw];
        t->nbp -= kinds == TRIGGER_EXEC;
        t->wgen++;
    }
    pthread_mutex_unlock(&t->lock);
}

int gdb_target_add_breakpoint(struct gdb_target *t, uint64_t pc)
{
    if (pc == UINT64_MAX)
        return -EINVAL;
    return add_watch(t, pc, pc + 1, TRIGGER_EXEC, GDB_TARGET_MAX_BREAKPOINTS);
}

void gdb_target_remove_breakpoint(struct gdb_target *t, uint64_t pc)
{
    remove_watch(t, pc, pc + 1, TRIGGER_EXEC);
}

int gdb_target_add_watchpoint(struct gdb_target *t, uint64_t addr, uint64_t len, unsigned kinds)
{
    if (!len || addr + len < addr || !kinds || (kinds & ~(TRIGGER_LOAD | TRIGGER_STORE)))
        return -EINVAL;
    return add_watch(t, addr, addr + len, kinds, GDB_TARGET_MAX_WATCHPOINTS);
}

void gdb_target_remove_watchpoint(struct gdb_target *t, uint64_t addr, uint64_t len, unsigned kinds)
{
    remove_watch(t, addr, addr + len, kinds);
}

/* Under lock. */
static void clear_watches(struct gdb_target *t)
{
    if (t->nw) {
        t->nw = t->nbp = 0;
        t->wgen++;
    }
}

void gdb_target_clear_breakpoints(struct gdb_target *t)
{
    pthread_mutex_lock(&t->lock);
    clear_watches(t);
    pthread_mutex_unlock(&t->lock);
}

int gdb_target_stop_hit(struct gdb_target *t, struct trigger_hit *hit)
{
    pthread_mutex_lock(&t->lock);
    int r = t->has_hit;
    if (r)
        *hit = t->hit;
    pthread_mutex_unlock(&t->lock);
    return r;
}

void gdb_target_shutdown(struct gdb_target *t, unsigned exit_code)
{
    pthread_mutex_lock(&t->lock);
    t->dead = 1;
    t->exit_code = exit_code;
    clear_watches(t);
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
