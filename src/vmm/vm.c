/* A VM's threads and lifetime (see vm.h). */
#include "vmm/vm.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "backends/term.h"
#include "vmm/event_loop.h"
#include "vmm/vcpu.h"

struct vm {
    struct virt *board;
    struct event_loop *io;    /* the I/O thread: device work */
    struct term *term;
    pthread_t hart_threads[VIRT_MAX_HARTS];
    unsigned started;
    struct vm_result *res;
    pthread_mutex_t report_lock;
    /* The signal thread (sigwait on the set blocked in every thread). */
    pthread_t sig_thread;
    sigset_t sigs;
    _Atomic int sig_quit;
};

static void console_out(void *opaque, const uint8_t *buf, size_t n)
{
    struct vm *vm = opaque;
    if (vm->term) {
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

struct hart_thread_arg {
    struct vm *vm;
    unsigned id;
};

static void *hart_thread(void *p)
{
    struct hart_thread_arg *a = p;
    struct vm *vm = a->vm;
    unsigned id = a->id;
    struct virt *v = vm->board;
    struct hart *h = v->harts[id].hart;
    struct vcpu_opts o = { 0 };
    while (virt_hart_wait_start(v, id) == 0) {
        enum vcpu_end end = vcpu_run(h, &o);
        if (end == VCPU_END_STOP && virt_hart_stopped_itself(v, id))
            continue;
        if (end == VCPU_END_CRASH) {
            pthread_mutex_lock(&vm->report_lock);
            if (!vm->res->report[0]) {
                int n = snprintf(vm->res->report, sizeof vm->res->report, "hart %u: %s\n", id,
                                 hart_crash_reason(h));
                if (n > 0 && (size_t)n < sizeof vm->res->report)
                    hart_dump(h, vm->res->report + n, sizeof vm->res->report - (size_t)n);
            }
            pthread_mutex_unlock(&vm->report_lock);
            virt_finish(v, VIRT_CRASH, id);
        }
        break;
    }
    return NULL;
}

static void *signal_thread(void *p)
{
    struct vm *vm = p;
    for (;;) {
        int sig;
        if (sigwait(&vm->sigs, &sig))
            continue;
        if (atomic_load(&vm->sig_quit))
            return NULL;
        virt_finish(vm->board, VIRT_STOPPED, 0);
    }
}

int vm_run(const struct virt_config *cfg, const char *dump_dtb, struct vm_result *res, struct errmsg *e)
{
    struct vm vm;
    sigset_t old;
    memset(&vm, 0, sizeof vm);
    memset(res, 0, sizeof *res);
    vm.res = res;
    pthread_mutex_init(&vm.report_lock, NULL);
    struct virt_config bc = *cfg;
    bc.console_out = console_out;
    bc.console_opaque = &vm;
    int r = virt_create(&vm.board, &bc, e);
    if (r)
        goto out;
    if (dump_dtb) {
        r = virt_dump_dtb(vm.board, dump_dtb, e);
        goto out;
    }
    if ((r = event_loop_create(&vm.io, e)))
        goto out;
    for (unsigned i = 0; i < vm.board->n_io_fds; i++) {
        const struct virt_io_fd *f = &vm.board->io_fds[i];
        if ((r = event_loop_add_fd(vm.io, f->fd, f->fn, f->opaque, e)))
            goto out;
    }

    /* Every thread from here on inherits the blocked set; only the
     * signal thread takes these signals. */
    sigemptyset(&vm.sigs);
    sigaddset(&vm.sigs, SIGINT);
    sigaddset(&vm.sigs, SIGTERM);
    sigaddset(&vm.sigs, SIGHUP);
    sigaddset(&vm.sigs, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &vm.sigs, &old);
    if (pthread_create(&vm.sig_thread, NULL, signal_thread, &vm)) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        r = errmsg_set(e, -EAGAIN, "cannot create a thread");
        goto out;
    }

    if ((r = event_loop_start(vm.io, e)))
        goto stop_signals;
    struct term_ops tops = { .input = console_in, .quit = quit, .opaque = &vm };
    r = term_open(&vm.term, STDIN_FILENO, STDOUT_FILENO, &tops, e);
    if (r)
        goto stop_signals;

    struct hart_thread_arg args[VIRT_MAX_HARTS];
    for (unsigned i = 0; i < vm.board->nharts; i++) {
        args[i] = (struct hart_thread_arg){ &vm, i };
        if (pthread_create(&vm.hart_threads[i], NULL, hart_thread, &args[i])) {
            r = errmsg_set(e, -EAGAIN, "cannot create the thread for hart %u", i);
            virt_finish(vm.board, VIRT_STOPPED, 0);
            break;
        }
        vm.started++;
    }
    while (virt_end_reason(vm.board) == VIRT_RUNNING) {
        virt_wait(vm.board, virt_next_timer(vm.board));
        virt_poll_timers(vm.board);
    }
    for (unsigned i = 0; i < vm.started; i++)
        pthread_join(vm.hart_threads[i], NULL);
    term_close(vm.term);
    vm.term = NULL;
    res->end = virt_end_reason(vm.board);
    res->code = vm.board->end_code;

stop_signals:
    atomic_store(&vm.sig_quit, 1);
    pthread_kill(vm.sig_thread, SIGUSR1);
    pthread_join(vm.sig_thread, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
    event_loop_destroy(vm.io); /* before the devices its callbacks use */
    virt_destroy(vm.board);
    pthread_mutex_destroy(&vm.report_lock);
    return r;
}
