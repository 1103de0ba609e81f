/* Live migration over a stream socket (TCP or Unix), pre-copy.
 *
 * The source (migration_start, on a running VM) sends the configuration,
 * then every page of guest RAM that is not all zeros while the guest runs
 * on, then, round after round, the pages the guest dirtied meanwhile (the
 * dirty bitmap, util/dirty_bitmap.h), each batch compressed with zstd.
 * Once a round leaves few dirty pages (or after MIGRATION_MAX_ROUNDS), it
 * pauses the VM, sends the last dirty pages and the machine state
 * (machine/virt_snapshot.h), and waits for the target to say it runs the
 * VM; then the source's run ends with VIRT_MIGRATED. If anything fails (no
 * connection, the connection breaks, the target dies or refuses), the
 * source resumes the VM, which keeps running, and the error says why.
 * Disks are shared by path: both sides must see the same files.
 *
 * The stream: "MINNOWMG", u32 version, then records {u32 type, u32 zero,
 * u64 length, payload}: CONFIG (u64 RAM bytes, the configuration JSON),
 * PAGES (u32 count, u32 zstd length, count u64 page numbers, the zstd
 * frame of their contents), STATE (the machine state), DONE. The target
 * answers DONE with a u32 status (0: running). The target checks every
 * length, page number and decompressed size. */
#ifndef MINNOW_VMM_MIGRATION_H
#define MINNOW_VMM_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/virt.h"
#include "util/errmsg.h"
#include "util/log.h"

struct vm;

#define MIGRATION_MAX_ROUNDS 30u
/* Stop and copy once a round leaves at most this many dirty pages. */
#define MIGRATION_STOP_PAGES 512u

enum migration_state { MIGRATION_NONE, MIGRATION_ACTIVE, MIGRATION_COMPLETED, MIGRATION_FAILED };

struct migration_progress {
    enum migration_state state;
    char destination[256];
    unsigned round;           /* 0: the first full pass */
    uint64_t pages_sent, bytes_sent;  /* bytes on the wire (compressed) */
    uint64_t last_dirty_pages;        /* pages the last round found dirty */
    double dirty_rate;                /* pages per second, last round */
    double total_ms, downtime_ms;     /* when completed */
    char error[512];                  /* when failed */
};

/* Starts migrating vm to `dest` ("tcp:HOST:PORT" or "unix:PATH") on a
 * thread of its own; config_json is the configuration the target builds
 * the VM from (copied). Progress goes to log. Refused while one runs. */
int migration_start(struct vm *vm, const char *dest, const char *config_json, struct logger *log,
                    struct errmsg *e);
/* The current (or last) migration's progress. */
void migration_get(struct vm *vm, struct migration_progress *out);

/* Target side. Listens on `spec` and returns the listening fd. */
int migration_listen(const char *spec, struct errmsg *e);
/* What the target's owner does with the configuration: build the board
 * configuration (with restore set and no restore_mem) into *out, valid
 * until the VM is destroyed. */
typedef int migration_configure_fn(void *opaque, const char *config_json, uint64_t mem_size,
                                   const struct virt_config **out, struct errmsg *e);
/* Accepts one source on listen_fd (then closes it), receives the VM and
 * returns it started and paused (vm_resume runs it). */
int migration_receive(int listen_fd, migration_configure_fn *configure, void *opaque, struct logger *log,
                      struct vm **out, struct errmsg *e);

#endif
