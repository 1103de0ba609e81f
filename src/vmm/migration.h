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
 * The handshake: the source sends "MINNOWMG", u32 version and a 32-byte
 * nonce Ns; the target answers "MINNOWMT", u32 auth (1: it has a token),
 * its nonce Nt and, with a token, HMAC(token, "target" Ns Nt); the source
 * checks that and answers HMAC(token, "source" Ns Nt) (zeros without a
 * token), which the target checks (migration_auth.h). A peer that fails
 * is logged and refused, and the target waits for the next. Without a
 * token the target listens only on loopback or a Unix socket.
 *
 * Then records {u32 type, u32 zero,
 * u64 length, payload}: CONFIG (u64 RAM bytes, the configuration JSON),
 * PAGES (u32 count, u32 zstd length, count u64 page numbers, the zstd
 * frame of their contents), STATE (the machine state), DONE. The target
 * answers DONE with a u32 status (0: running). The target checks every
 * length, page number and decompressed size, and
 * gives up on a source that stalls: each part of the stream must come
 * within idle_s (default MIGRATION_IDLE_S) plus what 1 MiB/s needs for it.
 * A stop request (the target's signalfd) ends it at any stage. */
#ifndef MINNOW_VMM_MIGRATION_H
#define MINNOW_VMM_MIGRATION_H

#include <stdbool.h>
#include <stdint.h>

#include "machine/virt.h"
#include "util/errmsg.h"
#include "util/log.h"
#include "vmm/migration_auth.h"

struct vm;

#define MIGRATION_MAX_ROUNDS 30u
/* Stop and copy once a round leaves at most this many dirty pages. */
#define MIGRATION_STOP_PAGES 512u
/* The target's default allowance for a stalled source, in seconds. */
#define MIGRATION_IDLE_S 20u

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
 * thread of its own, which resolves, connects (within 10 s) and
 * authenticates with the token in token_path (NULL: none); config_json is
 * the configuration the target builds the VM from (copied). Progress and
 * failures go to log and migration_get. Refused while one runs. */
int migration_start(struct vm *vm, const char *dest, const char *token_path, const char *config_json,
                    struct logger *log, struct errmsg *e);
/* The current (or last) migration's progress. */
void migration_get(struct vm *vm, struct migration_progress *out);

/* Target side. Listens on `spec` and returns the listening fd; without a
 * token only on loopback or a Unix socket (made 0600). */
int migration_listen(const char *spec, bool have_token, struct errmsg *e);

/* What the target accepts. */
struct migration_target {
    const struct migration_token *token;  /* NULL or empty: none */
    unsigned idle_s;                      /* 0: MIGRATION_IDLE_S */
    int stop_fd;                          /* readable: give up (-EINTR); -1: none */
};
/* What the target's owner does with the configuration: build the board
 * configuration (with restore set and no restore_mem) into *out, valid
 * until the VM is destroyed. */
typedef int migration_configure_fn(void *opaque, const char *config_json, uint64_t mem_size,
                                   const struct virt_config **out, struct errmsg *e);
/* Accepts sources on listen_fd until one authenticates (then closes it),
 * receives the VM and returns it started and paused (vm_resume runs it).
 * -EINTR: stopped through stop_fd. */
int migration_receive(int listen_fd, const struct migration_target *t, migration_configure_fn *configure,
                      void *opaque, struct logger *log, struct vm **out, struct errmsg *e);
/* One connected source (fd stays the caller's): the handshake and the
 * stream. -EACCES: the peer failed the handshake. For migration_receive
 * and the fuzzer. */
int migration_receive_stream(int fd, const struct migration_target *t, migration_configure_fn *configure,
                             void *opaque, struct logger *log, struct vm **out, struct errmsg *e);

#endif
