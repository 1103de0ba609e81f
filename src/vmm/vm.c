/* A VM's threads and lifetime (see vm.h). */
#include "vmm/vm.h"
#include "vmm/vm_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backends/term.h"
#include "devices/clint.h"
#include "machine/ram.h"
#include "vmm/event_loop.h"
#include "vmm/vcpu.h"
#include "util/file_open.h"
#include "vmm/sandbox.h"

static void console_out(void *opaque, const uint8_t *buf, size_t n)
{
    struct vm *vm = opaque;
    if (vm->console_fd >= 0) {
        while (n) {
            ssize_t w = write(vm->console_fd, buf, n);
            if (w <= 0)
                return; /* a full disk loses console output, never the VM */
            buf += w;
            n -= (size_t)w;
        }
    } else if (vm->term) {
        term_write(vm->term, buf, n);
    } else {
        ssize_t w = write(STDOUT_FILENO, buf, n);
        (void)w;
    }
}

static size_t console_in(void *opaque, const uint8_t *buf, size_t n)
{
    struct vm *vm = opaque;
    return virt_console_input(vm->board, buf, n);
}

static void quit(void *opaque)
{
    struct vm *vm = opaque;
    virt_finish(vm->board, VIRT_STOPPED, 0);
}

/* ---- hart threads ---- */

/* Waits while the VM is paused; 0 when the run has ended instead. */
static int enter_guest(struct vm *vm, struct gdb_target **gdb)
{
    pthread_mutex_lock(&vm->lock);
    while (vm->paused && virt_end_reason(vm->board) == VIRT_RUNNING)
        pthread_cond_wait(&vm->cond, &vm->lock);
    int go = virt_end_reason(vm->board) == VIRT_RUNNING;
    if (go)
        vm->in_guest++;
    *gdb = vm->gdb;
    pthread_mutex_unlock(&vm->lock);
    return go;
}

static void leave_guest(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    vm->in_guest--;
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
}

static void record_crash(struct vm *vm, unsigned id, struct hart *h)
{
    pthread_mutex_lock(&vm->lock);
    if (!vm->crash_report[0]) {
        int n = snprintf(vm->crash_report, sizeof vm->crash_report, "hart %u: %s\n", id, hart_crash_reason(h));
        if (n > 0 && (size_t)n < sizeof vm->crash_report)
            hart_dump(h, vm->crash_report + n, sizeof vm->crash_report - (size_t)n);
    }
    pthread_mutex_unlock(&vm->lock);
    virt_finish(vm->board, VIRT_CRASH, id);
}

static void *hart_thread(void *p)
{
    struct hart_thread *t = p;
    sandbox_thread_start(SANDBOX_VCPU, "vcpu");
    struct vm *vm = t->vm;
    struct virt *v = vm->board;
    struct hart *h = v->harts[t->id].hart;
    struct vcpu_opts o = { .gdb_index = t->id };
    /* Outer loop: each SBI HSM start; inner: runs between pauses. */
    while (virt_hart_wait_start(v, t->id) == 0) {
        for (;;) {
            /* A debugger may have attached while the hart was parked. */
            if (!enter_guest(vm, &o.gdb))
                return NULL;
            virt_hart_begin(v, t->id);
            enum vcpu_end end = vcpu_run(h, &o);
            leave_guest(vm);
            if (end == VCPU_END_CRASH) {
                record_crash(vm, t->id, h);
                return NULL;
            }
            if (virt_end_reason(v) != VIRT_RUNNING)
                return NULL;
            if (virt_hart_stopped_itself(v, t->id))
                break;
            /* otherwise a pause stopped it: enter_guest parks it */
        }
    }
    return NULL;
}

/* ---- signals ---- */

static void *signal_thread(void *p)
{
    struct vm *vm = p;
    sandbox_thread_start(SANDBOX_VMM, "signals");
    for (;;) {
        siginfo_t si;
        if (sigwaitinfo(&vm->sigs, &si) < 0)
            continue;
        if (atomic_load(&vm->sig_quit))
            return NULL;
        /* The first signal is the one the run ended on. */
        int none = 0;
        if (si.si_signo != SIGUSR1 && atomic_compare_exchange_strong(&vm->stop_signal, &none, si.si_signo))
            atomic_store(&vm->stop_signal_code, si.si_code);
        vm_stop(vm); /* a paused VM must be able to end too */
    }
}

static void stop_signal_thread(struct vm *vm)
{
    if (!vm->sig_started)
        return;
    atomic_store(&vm->sig_quit, 1);
    pthread_kill(vm->sig_thread, SIGUSR1);
    pthread_join(vm->sig_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &vm->old_sigs, NULL);
    vm->sig_started = 0;
}

/* ---- lifetime ---- */

int vm_create(struct vm **out, const struct virt_config *cfg, struct errmsg *e)
{
    struct vm *vm = calloc(1, sizeof *vm);
    if (!vm)
        return errmsg_set(e, -ENOMEM, "out of memory for the VM");
    pthread_mutex_init(&vm->lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    pthread_mutex_init(&vm->ctl, NULL);
    vm->console_fd = -1;
    struct virt_config bc = *cfg;
    bc.console_out = console_out;
    bc.console_opaque = vm;
    int r = virt_create(&vm->board, &bc, e);
    for (unsigned i = 0; !r && i < vm->board->nharts; i++)
        vm->gdb_harts[i] = vm->board->harts[i].hart;
    if (!r)
        r = event_loop_create(&vm->io, e);
    for (unsigned i = 0; !r && i < vm->board->n_io_fds; i++) {
        const struct virt_io_fd *f = &vm->board->io_fds[i];
        r = event_loop_add_fd(vm->io, f->fd, f->fn, f->opaque, e);
    }
    if (r) {
        vm_destroy(vm);
        return r;
    }
    *out = vm;
    return 0;
}

int vm_set_console_file(struct vm *vm, const char *path, struct errmsg *e)
{
    /* A FIFO is refused: the harts write the console, and a reader that
     * stops reading would stall them. */
    int fd = file_open_kind("serial_out_path", path, O_WRONLY | O_CREAT | O_APPEND, 0600,
                            FILE_OPEN_REG | FILE_OPEN_CHR, e);
    if (fd < 0)
        return fd;
    if (vm->console_fd >= 0)
        close(vm->console_fd);
    vm->console_fd = fd;
    return 0;
}

struct virt *vm_board(struct vm *vm)
{
    return vm->board;
}

int vm_dump_dtb(struct vm *vm, const char *path, struct errmsg *e)
{
    return virt_dump_dtb(vm->board, path, e);
}

/* The console reader's first call (term.c knows no sandbox). */
static void term_thread_start(void *opaque)
{
    (void)opaque;
    sandbox_thread_start(SANDBOX_AUX, "console");
}

int vm_start(struct vm *vm, struct errmsg *e)
{
    int r;
    /* Every thread from here on inherits the blocked set; only the
     * signal thread takes these signals. */
    sigemptyset(&vm->sigs);
    sigaddset(&vm->sigs, SIGINT);
    sigaddset(&vm->sigs, SIGTERM);
    sigaddset(&vm->sigs, SIGHUP);
    sigaddset(&vm->sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &vm->sigs, &vm->old_sigs);
    if (sandbox_thread_create(&vm->sig_thread, NULL, signal_thread, vm)) {
        pthread_sigmask(SIG_SETMASK, &vm->old_sigs, NULL);
        return errmsg_set(e, -EAGAIN, "cannot create a thread");
    }
    vm->sig_started = 1;
    if ((r = event_loop_start(vm->io, e)))
        goto fail;
    struct term_ops tops = { .input = console_in, .quit = quit, .opaque = vm,
                              .thread_create = sandbox_thread_create, .thread_start = term_thread_start };
    if ((r = term_open(&vm->term, STDIN_FILENO, STDOUT_FILENO, &tops, e)))
        goto fail;
    vm->running = 1;
    for (unsigned i = 0; i < vm->board->nharts; i++) {
        vm->harts[i] = (struct hart_thread){ vm, i, 0 };
        if (sandbox_thread_create(&vm->harts[i].thread, NULL, hart_thread, &vm->harts[i])) {
            /* The harts already started are ended by vm_wait. */
            virt_finish(vm->board, VIRT_STOPPED, 0);
            return errmsg_set(e, -EAGAIN, "cannot create the thread for hart %u", i);
        }
        vm->started++;
    }
    return 0;
fail:
    stop_signal_thread(vm);
    return r;
}

/* ---- pause: who holds the VM parked ---- */

/* Under ctl: parks every hart (once: a VM already parked stays so) and
 * stops the guest clock. Returns once no hart is inside the guest, or a
 * debugger holds those that are (they leave when it lets them go, before
 * they run an instruction: vm_gdb.c); that always comes, since every wait
 * a hart can be in gives way to a stop request (hart_wait, SBI remote
 * fences and suspend). */
static void park_locked(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    int was = vm->paused;
    vm->paused = 1;
    pthread_mutex_unlock(&vm->lock);
    if (was)
        return;
    clint_freeze(vm->board->clint);
    for (unsigned i = 0; i < vm->board->nharts; i++)
        hart_request_stop(vm->board->harts[i].hart);
    /* Harts a debugger holds stay in the guest, but stand still. */
    pthread_mutex_lock(&vm->lock);
    while (vm->in_guest && !vm->gdb_holding)
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
}

/* Under ctl: lets the harts run again when nobody holds them parked. */
static void unpark_locked(struct vm *vm)
{
    if (vm->user_paused || vm->holds)
        return;
    pthread_mutex_lock(&vm->lock);
    int was = vm->paused, held = vm->gdb_holding;
    vm->paused = 0;
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    /* Held by gdb, the harts still stand still: gdb's own thaw runs the
     * clock on when it lets them go (vm_gdb.c). */
    if (was && !held)
        clint_thaw(vm->board->clint);
}

/* Under ctl; readers take either lock. */
static void set_user_paused(struct vm *vm, int p)
{
    pthread_mutex_lock(&vm->lock);
    vm->user_paused = p;
    pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm)
{
    pthread_mutex_lock(&vm->ctl);
    set_user_paused(vm, 1);
    park_locked(vm);
    pthread_mutex_unlock(&vm->ctl);
}

int vm_resume(struct vm *vm, struct errmsg *e)
{
    pthread_mutex_lock(&vm->ctl);
    char dest[256];
    if (vm_migration_active(vm, dest, sizeof dest)) {
        pthread_mutex_unlock(&vm->ctl);
        return errmsg_set(e, -EBUSY, "a migration to %s is under way: the microVM stays as it is until the "
                          "migration ends (GET /migrate); resume it then if it failed", dest);
    }
    set_user_paused(vm, 0);
    unpark_locked(vm);
    pthread_mutex_unlock(&vm->ctl);
    return 0;
}

void vm_hold(struct vm *vm)
{
    pthread_mutex_lock(&vm->ctl);
    vm->holds++;
    park_locked(vm);
    pthread_mutex_unlock(&vm->ctl);
}

void vm_release(struct vm *vm)
{
    pthread_mutex_lock(&vm->ctl);
    if (vm->holds)
        vm->holds--;
    unpark_locked(vm);
    pthread_mutex_unlock(&vm->ctl);
}

int vm_is_paused(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    int p = vm->user_paused;
    pthread_mutex_unlock(&vm->lock);
    return p;
}

void vm_stop(struct vm *vm)
{
    virt_finish(vm->board, VIRT_STOPPED, 0);
    /* Parked harts look at the end as soon as they wake. */
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
}

void vm_wait(struct vm *vm, struct vm_result *res)
{
    memset(res, 0, sizeof *res);
    while (vm->running && virt_end_reason(vm->board) == VIRT_RUNNING) {
        virt_wait(vm->board, virt_next_timer(vm->board));
        virt_poll_timers(vm->board);
    }
    /* Parked harts must see the end too. */
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    vm_gdb_end(vm);
    for (unsigned i = 0; i < vm->started; i++)
        pthread_join(vm->harts[i].thread, NULL);
    vm->started = 0;
    vm->running = 0;
    term_close(vm->term);
    vm->term = NULL;
    stop_signal_thread(vm);
    res->end = virt_end_reason(vm->board);
    res->code = vm->board->end_code;
    if (res->end == VIRT_STOPPED) {
        res->signal = atomic_load(&vm->stop_signal);
        res->signal_code = atomic_load(&vm->stop_signal_code);
    }
    memcpy(res->report, vm->crash_report, sizeof res->report);
    uint64_t off = 0;
    const char *lost = ram_lost(&vm->board->ram, &off);
    if (res->end == VIRT_MEM_LOST && lost && off != UINT64_MAX)
        snprintf(res->report, sizeof res->report, "the memory file '%s' was truncated or changed under the running "
                 "VM: guest RAM at %#llx could not be read from it any more, so the VM is stopped (a memory file "
                 "must not be modified while VMs run from it)\n", lost,
                 (unsigned long long)(vm->board->ram.base + off));
    else if (res->end == VIRT_MEM_LOST && lost)
        snprintf(res->report, sizeof res->report, "the memory file '%s' was written to (or truncated) under the "
                 "running VM, whose RAM pages it has not written itself come from that file: the VM is stopped "
                 "(a memory file must not be modified while VMs run from it)\n", lost);
}

void vm_destroy(struct vm *vm)
{
    if (!vm)
        return;
    vm_migration_free(vm);
    if (vm->running) {
        struct vm_result res;
        vm_stop(vm);
        vm_wait(vm, &res);
    }
    stop_signal_thread(vm);
    vm_gdb_free(vm);
    event_loop_destroy(vm->io); /* before the devices its callbacks use */
    virt_destroy(vm->board);
    if (vm->console_fd >= 0)
        close(vm->console_fd);
    pthread_cond_destroy(&vm->cond);
    pthread_mutex_destroy(&vm->lock);
    pthread_mutex_destroy(&vm->ctl);
    free(vm);
}

int vm_run(const struct virt_config *cfg, const char *dump_dtb, struct vm_result *res, struct errmsg *e)
{
    struct vm *vm;
    memset(res, 0, sizeof *res);
    int r = vm_create(&vm, cfg, e);
    if (r)
        return r;
    if (dump_dtb)
        r = vm_dump_dtb(vm, dump_dtb, e);
    else if (!(r = vm_start(vm, e)))
        vm_wait(vm, res);
    vm_destroy(vm);
    return r;
}
