/* minnow's SBI: the hypercall interface a guest kernel in S-mode reaches with
 * ecall. This module decodes a call (extension, function, arguments),
 * validates it and asks the board to act through struct sbi_ops; it knows
 * nothing of harts or devices itself. Implemented: BASE, TIME, IPI, RFENCE,
 * HSM, SRST, DBCN and the legacy set_timer/putchar/getchar/shutdown calls;
 * everything else answers SBI_ERR_NOT_SUPPORTED. Calls are counted per
 * extension. */
#ifndef MINNOW_MACHINE_SBI_H
#define MINNOW_MACHINE_SBI_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SBI_MAX_HARTS 64

enum sbi_error {
    SBI_SUCCESS = 0,
    SBI_ERR_FAILED = -1,
    SBI_ERR_NOT_SUPPORTED = -2,
    SBI_ERR_INVALID_PARAM = -3,
    SBI_ERR_DENIED = -4,
    SBI_ERR_INVALID_ADDRESS = -5,
    SBI_ERR_ALREADY_AVAILABLE = -6,
    SBI_ERR_ALREADY_STARTED = -7,
    SBI_ERR_ALREADY_STOPPED = -8,
    /* Not an SBI code and never seen by the guest: the board asks for the
     * call to be made again (struct sbi_ret.retry). */
    SBI_RETRY = 1,
};

enum sbi_ext_id {
    SBI_EXT_LEGACY_SET_TIMER = 0x0,
    SBI_EXT_LEGACY_PUTCHAR = 0x1,
    SBI_EXT_LEGACY_GETCHAR = 0x2,
    SBI_EXT_LEGACY_SHUTDOWN = 0x8,
    SBI_EXT_BASE = 0x10,
    SBI_EXT_TIME = 0x54494d45,
    SBI_EXT_IPI = 0x735049,
    SBI_EXT_RFENCE = 0x52464e43,
    SBI_EXT_HSM = 0x48534d,
    SBI_EXT_SRST = 0x53525354,
    SBI_EXT_DBCN = 0x4442434e,
};

/* HSM hart states, as the spec numbers them. */
enum sbi_hart_state {
    SBI_HART_STARTED = 0,
    SBI_HART_STOPPED = 1,
    SBI_HART_START_PENDING = 2,
    SBI_HART_STOP_PENDING = 3,
    SBI_HART_SUSPENDED = 4,
};

enum sbi_fence {
    SBI_FENCE_I,          /* remote fence.i */
    SBI_FENCE_VMA,        /* remote sfence.vma over [start, start+size) */
    SBI_FENCE_VMA_ASID,   /* the same, for one ASID */
};

enum sbi_reset { SBI_RESET_SHUTDOWN = 0, SBI_RESET_COLD = 1, SBI_RESET_WARM = 2 };

/* Per-extension call counters (metrics are read from here). */
enum sbi_counter {
    SBI_COUNT_BASE, SBI_COUNT_TIME, SBI_COUNT_IPI, SBI_COUNT_RFENCE, SBI_COUNT_HSM,
    SBI_COUNT_SRST, SBI_COUNT_DBCN, SBI_COUNT_LEGACY, SBI_COUNT_UNSUPPORTED,
    SBI_COUNT_MAX
};

/* What the board does on the SBI's behalf. `hart` is the calling hart;
 * `targets` is a bitmap of hart ids already checked against the hart count.
 * Functions returning int return an enum sbi_error. */
struct sbi_ops {
    void (*set_timer)(void *opaque, unsigned hart, uint64_t stime_value);
    void (*send_ipi)(void *opaque, uint64_t targets);
    /* SBI_SUCCESS once every target has honoured the fence, or SBI_RETRY
     * when the calling hart must stop first (a pause): the call then has
     * no effect on the guest and is made again later. */
    int (*remote_fence)(void *opaque, unsigned hart, uint64_t targets, enum sbi_fence kind,
                        uint64_t start, uint64_t size, uint64_t asid);
    int (*hart_start)(void *opaque, unsigned target, uint64_t start_addr, uint64_t arg);
    int (*hart_stop)(void *opaque, unsigned hart);
    enum sbi_hart_state (*hart_status)(void *opaque, unsigned target);
    /* Retentive suspend: return once an interrupt is pending (like wfi). */
    int (*hart_suspend)(void *opaque, unsigned hart);
    void (*system_reset)(void *opaque, enum sbi_reset type, uint32_t reason);
    /* Console: write whole bytes / read what is available without waiting;
     * getchar returns a byte or -1 when nothing is waiting. */
    size_t (*console_write)(void *opaque, const uint8_t *buf, size_t n);
    size_t (*console_read)(void *opaque, uint8_t *buf, size_t n);
    /* Guest physical memory for DBCN buffers: returns a host pointer to
     * [paddr, paddr+len) if that range is entirely RAM, else NULL. */
    uint8_t *(*guest_ram)(void *opaque, uint64_t paddr, uint64_t len);
    void *opaque;
};

struct sbi {
    struct sbi_ops ops;
    unsigned nharts;
    _Atomic uint64_t calls[SBI_COUNT_MAX];
};

/* a0 and a1 after the call. A legacy call sets only a0 (to `error`).
 * retry: the call did not happen (the hart must stop first); leave a0 and
 * a1 alone and make the same call again when the hart runs again. */
struct sbi_ret {
    int64_t error;
    uint64_t value;
    int legacy;
    int retry;
};

void sbi_init(struct sbi *sbi, const struct sbi_ops *ops, unsigned nharts);

/* Handles one ecall from S-mode: a[0..5] are a0-a5, ext is a7, fid is a6. */
struct sbi_ret sbi_call(struct sbi *sbi, unsigned hart, uint64_t ext, uint64_t fid,
                        const uint64_t a[6]);

/* The SBI implementation ID minnow reports (not registered with RISC-V
 * International; chosen outside the range of the registered ones). */
#define SBI_IMPL_ID_MINNOW 0x6d6e
#define SBI_SPEC_VERSION ((2u << 24) | 0u) /* SBI 2.0 */

#endif
