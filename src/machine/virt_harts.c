/* The virt board's harts and the board side of the SBI (see virt_harts.h).
 *
 * HSM: each hart's state lives in struct virt_hart under virt.lock. A
 * stopped hart's thread sleeps in virt_hart_wait_start; hart_start marks
 * the target START_PENDING and wakes it; it resets itself to the start
 * address and runs. hart_stop marks the caller STOPPED and asks it to
 * leave its run loop, which brings its thread back to the wait.
 *
 * Remote fences: the caller hands each running target a ticket
 * (hart_request_flush) and waits until all are honoured, answering
 * requests aimed at itself meanwhile, so harts fencing each other cannot
 * deadlock; a target that stops in the meantime needs nothing (it is
 * reset before it runs again), and one that a pause parked honours its
 * ticket before it runs again. The caller itself gives way to a stop
 * request while it waits (the call is retried after the pause), so no
 * cross-hart wait can hold up a pause, a snapshot or a migration.
 *
 * A started hart's reset happens on its thread once it is let into the
 * guest (virt_hart_begin), not while it waits: a pause or snapshot then
 * never races with a reset, and a snapshot taken before it sees the hart
 * START_PENDING, which a restore starts again from its start address. */
#include "machine/virt_harts.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "cpu/csr.h"
#include "devices/clint.h"

/* ---- the start state: what firmware would have set up ---- */

/* Exceptions S-mode handles itself: misaligned fetch, access faults,
 * illegal instruction, breakpoint, misaligned load/store, ecall from U,
 * page faults. */
#define DIRECT_MEDELEG ((1u << 0) | (1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | \
                        (1u << 6) | (1u << 7) | (1u << 8) | (1u << 12) | (1u << 13) | (1u << 15))

static void reset_for_direct_boot(struct virt_hart *vh)
{
    struct hart *h = vh->hart;
    hart_reset(h, vh->start_addr, PRIV_S, vh->id, vh->start_arg);
    /* One PMP entry: all of memory, RWX, for S and U. */
    hart_write_csr(h, CSR_PMPADDR0, ~0ull);
    hart_write_csr(h, CSR_PMPCFG0, (3u << 3) | 7u);
    hart_write_csr(h, CSR_MEDELEG, DIRECT_MEDELEG);
    hart_write_csr(h, CSR_MIDELEG, MIP_SSIP | MIP_STIP | MIP_SEIP);
    hart_write_csr(h, CSR_MCOUNTEREN, 7);  /* cycle, time, instret */
    /* And for U-mode too, as OpenSBI leaves it: Linux 6.1 never sets
     * scounteren, and its vDSO reads the time with rdtime. */
    hart_write_csr(h, CSR_SCOUNTEREN, 7);
    hart_write_csr(h, CSR_MENVCFG, MENVCFG_STCE | MENVCFG_PBMTE | MENVCFG_CBZE | MENVCFG_CBCFE | MENVCFG_CBIE);
}

int virt_hart_wait_start(struct virt *v, unsigned i)
{
    struct virt_hart *vh = &v->harts[i];
    pthread_mutex_lock(&v->lock);
    while (vh->state != SBI_HART_START_PENDING && !vh->restored && atomic_load(&v->end) == VIRT_RUNNING)
        pthread_cond_wait(&v->cond, &v->lock);
    int r = atomic_load(&v->end) == VIRT_RUNNING ? 0 : -1;
    pthread_mutex_unlock(&v->lock);
    return r;
}

void virt_hart_begin(struct virt *v, unsigned i)
{
    struct virt_hart *vh = &v->harts[i];
    pthread_mutex_lock(&v->lock);
    if (vh->restored) {
        /* Runs on from the state a snapshot gave it. */
        vh->restored = 0;
        pthread_mutex_unlock(&v->lock);
        return;
    }
    if (vh->state != SBI_HART_START_PENDING) {
        pthread_mutex_unlock(&v->lock);
        return;  /* runs on after a pause */
    }
    vh->state = SBI_HART_STARTED;
    pthread_mutex_unlock(&v->lock);
    if (v->cfg.firmware)
        hart_reset(vh->hart, vh->start_addr, PRIV_M, 0, 0);
    else
        reset_for_direct_boot(vh);
}

int virt_hart_stopped_itself(struct virt *v, unsigned i)
{
    pthread_mutex_lock(&v->lock);
    int r = v->harts[i].state == SBI_HART_STOPPED && atomic_load(&v->end) == VIRT_RUNNING;
    pthread_mutex_unlock(&v->lock);
    return r;
}

/* ---- SBI operations ---- */

static void sbi_set_timer(void *opaque, unsigned hart, uint64_t when)
{
    struct virt *v = opaque;
    hart_write_csr(v->harts[hart].hart, CSR_STIMECMP, when);
}

static void sbi_send_ipi(void *opaque, uint64_t targets)
{
    struct virt *v = opaque;
    for (unsigned i = 0; i < v->nharts; i++)
        if (targets & (1ull << i))
            hart_set_irq(v->harts[i].hart, MIP_SSIP, 1);
}

static int hart_running(struct virt *v, unsigned i)
{
    pthread_mutex_lock(&v->lock);
    int s = v->harts[i].state;
    pthread_mutex_unlock(&v->lock);
    return (s == SBI_HART_STARTED || s == SBI_HART_SUSPENDED) && atomic_load(&v->end) == VIRT_RUNNING;
}

/* Waits for every target while honouring its own stop requests: a hart
 * that a pause asks to stop gives way at once (the ecall is retried when
 * it runs again), and a target that is parked or stopped counts as done
 * (hart_flush_complete), so a pause never waits on a fence nor a fence on
 * a pause. */
static int sbi_remote_fence(void *opaque, unsigned self, uint64_t targets, enum sbi_fence kind,
                            uint64_t start, uint64_t size, uint64_t asid)
{
    struct virt *v = opaque;
    struct hart *me = v->harts[self].hart;
    /* An sfence.vma drops every translation, or for one ASID all but the
     * global ones, whatever the range. */
    (void)start, (void)size, (void)asid;
    unsigned kinds = kind == SBI_FENCE_I ? HART_FLUSH_CODE : kind == SBI_FENCE_VMA_ASID ? HART_FLUSH_LOCAL
                                                                                         : HART_FLUSH_TLB;
    uint64_t tickets[VIRT_MAX_HARTS] = { 0 };
    for (unsigned i = 0; i < v->nharts; i++) {
        if (!(targets & (1ull << i)))
            continue;
        if (i == self) {
            /* Honour it here and now, as a remote hart would. */
            hart_request_flush(me, kinds);
            hart_service_flush(me);
        } else if (hart_running(v, i))
            tickets[i] = hart_request_flush(v->harts[i].hart, kinds);
    }
    for (unsigned i = 0; i < v->nharts; i++) {
        while (tickets[i] && !hart_flush_complete(v->harts[i].hart, tickets[i]) && hart_running(v, i)) {
            if (hart_stop_pending(me))
                return SBI_RETRY;
            hart_service_flush(me);
            sched_yield();
        }
    }
    return SBI_SUCCESS;
}

static int sbi_hart_start(void *opaque, unsigned target, uint64_t addr, uint64_t arg)
{
    struct virt *v = opaque;
    if (!guest_mem_ptr(&v->ram, addr, 4))
        return SBI_ERR_INVALID_ADDRESS;
    int r = SBI_SUCCESS;
    pthread_mutex_lock(&v->lock);
    struct virt_hart *vh = &v->harts[target];
    if (vh->state != SBI_HART_STOPPED) {
        r = SBI_ERR_ALREADY_AVAILABLE;
    } else {
        vh->state = SBI_HART_START_PENDING;
        vh->start_addr = addr;
        vh->start_arg = arg;
        pthread_cond_broadcast(&v->cond);
    }
    pthread_mutex_unlock(&v->lock);
    return r;
}

static int sbi_hart_stop(void *opaque, unsigned hart)
{
    struct virt *v = opaque;
    pthread_mutex_lock(&v->lock);
    v->harts[hart].state = SBI_HART_STOPPED;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->lock);
    hart_request_stop(v->harts[hart].hart);
    return SBI_SUCCESS;
}

static enum sbi_hart_state sbi_hart_status(void *opaque, unsigned target)
{
    struct virt *v = opaque;
    pthread_mutex_lock(&v->lock);
    enum sbi_hart_state s = (enum sbi_hart_state)v->harts[target].state;
    pthread_mutex_unlock(&v->lock);
    return s;
}

static int sbi_hart_suspend(void *opaque, unsigned hart)
{
    struct virt *v = opaque;
    struct virt_hart *vh = &v->harts[hart];
    pthread_mutex_lock(&v->lock);
    vh->state = SBI_HART_SUSPENDED;
    pthread_mutex_unlock(&v->lock);
    hart_wait(vh->hart, 0);
    pthread_mutex_lock(&v->lock);
    if (vh->state == SBI_HART_SUSPENDED)
        vh->state = SBI_HART_STARTED;
    pthread_mutex_unlock(&v->lock);
    return SBI_SUCCESS;
}

static void sbi_system_reset(void *opaque, enum sbi_reset type, uint32_t reason)
{
    struct virt *v = opaque;
    if (type == SBI_RESET_SHUTDOWN)
        virt_finish(v, reason == 1 ? VIRT_FAIL : VIRT_POWEROFF, reason == 1 ? 1 : 0);
    else
        virt_finish(v, VIRT_REBOOT, 0);
}

static size_t sbi_console_write(void *opaque, const uint8_t *buf, size_t n)
{
    virt_console_write(opaque, buf, n);
    return n;
}

/* Host input goes to the UART; the SBI console has none to give. */
static size_t sbi_console_read(void *opaque, uint8_t *buf, size_t n)
{
    (void)opaque, (void)buf, (void)n;
    return 0;
}

static uint8_t *sbi_guest_ram(void *opaque, uint64_t paddr, uint64_t len)
{
    struct virt *v = opaque;
    return guest_mem_ptr(&v->ram, paddr, len);
}

/* The hart's ecall hook: a0-a5 arguments, a6 function, a7 extension. */
static int sbi_ecall(void *opaque, struct hart *h)
{
    struct virt_hart *vh = opaque;
    uint64_t a[6];
    for (unsigned i = 0; i < 6; i++)
        a[i] = hart_reg(h, 10 + i);
    struct sbi_ret r = sbi_call(&vh->v->sbi, vh->id, hart_reg(h, 17), hart_reg(h, 16), a);
    if (r.retry)
        return HART_ECALL_RETRY;
    hart_set_reg(h, 10, (uint64_t)r.error);
    if (!r.legacy)
        hart_set_reg(h, 11, r.value);
    return 0;
}

/* ---- creation ---- */

int virt_harts_create(struct virt *v, struct errmsg *e)
{
    const struct sbi_ops ops = {
        .set_timer = sbi_set_timer,
        .send_ipi = sbi_send_ipi,
        .remote_fence = sbi_remote_fence,
        .hart_start = sbi_hart_start,
        .hart_stop = sbi_hart_stop,
        .hart_status = sbi_hart_status,
        .hart_suspend = sbi_hart_suspend,
        .system_reset = sbi_system_reset,
        .console_write = sbi_console_write,
        .console_read = sbi_console_read,
        .guest_ram = sbi_guest_ram,
        .opaque = v,
    };
    sbi_init(&v->sbi, &ops, v->nharts);
    int direct = v->cfg.firmware == NULL;
    for (unsigned i = 0; i < v->nharts; i++) {
        struct virt_hart *vh = &v->harts[i];
        vh->v = v;
        vh->id = i;
        struct hart_config hc = {
            .hartid = i,
            .engine = v->cfg.engine,
            .mem = { .host = v->ram.host, .base = v->ram.base, .size = v->ram.size, .dirty = v->ram.dirty,
                     .written = v->ram.written },
            .alone = v->nharts == 1,
            .bus = { .load = bus_load, .store = bus_store, .opaque = &v->bus },
            .clock = { .read = clint_time_read, .opaque = v->clint, .freq_hz = CLINT_FREQ_HZ },
            /* Without firmware nothing runs in M-mode: a trap that reaches
             * it is the guest's end, reported rather than looped on. */
            .crash_detect = direct,
        };
        if (direct)
            hc.ecall = (struct hart_ecall){ .call = sbi_ecall, .opaque = vh };
        int r = hart_create(&vh->hart, &hc, e);
        if (r)
            return r;
        if (direct) {
            vh->state = i == 0 ? SBI_HART_START_PENDING : SBI_HART_STOPPED;
            vh->start_addr = v->kernel_entry;
            vh->start_arg = v->fdt_addr;
        } else {
            vh->state = SBI_HART_START_PENDING;
            vh->start_addr = VIRT_ROM_BASE;
        }
    }
    return 0;
}

void virt_harts_destroy(struct virt *v)
{
    for (unsigned i = 0; i < v->nharts; i++) {
        hart_destroy(v->harts[i].hart);
        v->harts[i].hart = NULL;
    }
}
