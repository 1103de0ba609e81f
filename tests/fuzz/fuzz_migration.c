/* libFuzzer harness for the migration target's stream parser: the input
 * is everything a source sends after it connects (the handshake, then
 * CONFIG, PAGES, STATE and DONE records), fed through a socket pair to
 * migration_receive_stream as a tokenless loopback target would read it.
 * The configuration it brings is parsed as minnow's own does
 * (vm_config_json_load, vm_config_build) but refused if it names a device
 * or more than 16 MiB of RAM (this harness must not open host files); the
 * pages and the machine state then go into a real VM being restored.
 * Every input must be refused with a message or arrive, never crash.
 *
 * MINNOW_FUZZ_SEED=FILE writes a valid stream (a 16 MiB VM with a few
 * pages and its machine state) to FILE and exits, to seed the corpus. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <zstd.h>

#include "api/vm_config.h"
#include "api/vm_config_json.h"
#include "machine/virt.h"
#include "machine/virt_snapshot.h"
#include "vmm/migration.h"
#include "vmm/vm.h"

struct target {
    struct vm_config cfg;
    struct vm_build build;
};

static int configure(void *opaque, const char *json, uint64_t mem_size, const struct virt_config **out,
                     struct errmsg *e)
{
    struct target *t = opaque;
    vm_config_free(&t->cfg);
    int r = vm_config_json_load(&t->cfg, json, strlen(json), e);
    if (r)
        return r;
    if (t->cfg.machine.mem_size != mem_size || mem_size > (16u << 20) || vm_config_ndevices(&t->cfg) ||
        t->cfg.serial_out_path)
        return errmsg_set(e, -EPERM, "fuzz: not a configuration this harness runs");
    if ((r = vm_config_build(&t->cfg, &t->build, e)))
        return r;
    t->build.virt.restore = 1;
    t->build.virt.restore_mem = NULL;
    *out = &t->build.virt;
    return 0;
}

struct feed {
    int fd;
    const uint8_t *data;
    size_t size;
};

/* The source: writes the input, then closes its end. */
static void *feeder(void *p)
{
    struct feed *f = p;
    size_t off = 0;
    while (off < f->size) {
        ssize_t w = send(f->fd, f->data + off, f->size - off, MSG_NOSIGNAL);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(f->fd, SHUT_WR);
    return NULL;
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static void record(FILE *f, uint32_t type, const void *a, size_t alen, const void *b, size_t blen)
{
    uint8_t h[16];
    put32(h, type);
    put32(h + 4, 0);
    put64(h + 8, alen + blen);
    fwrite(h, 1, sizeof h, f);
    fwrite(a, 1, alen, f);
    fwrite(b, 1, blen, f);
}

static const char seed_config[] =
    "{\"boot-source\": {\"kernel_image_path\": \"/nonexistent/Image\"},"
    " \"machine-config\": {\"vcpu_count\": 1, \"mem_size_mib\": 16}}";

/* A valid stream for the configuration above. */
static void write_seed(const char *path)
{
    struct target t;
    vm_config_init(&t.cfg);
    const struct virt_config *cfg;
    struct errmsg e = { "" };
    struct virt *board;
    if (configure(&t, seed_config, 16u << 20, &cfg, &e) || virt_create(&board, cfg, &e)) {
        fprintf(stderr, "fuzz_migration: seed board: %s\n", e.text);
        exit(2);
    }
    struct snap_writer w;
    snapw_init(&w);
    if (virt_save(board, &w, &e)) {
        fprintf(stderr, "fuzz_migration: virt_save: %s\n", e.text);
        exit(2);
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(2);
    uint8_t hello[12 + 32] = { 'M', 'I', 'N', 'N', 'O', 'W', 'M', 'G' }, proof[32] = { 0 };
    put32(hello + 8, 2);
    fwrite(hello, 1, sizeof hello, f);
    fwrite(proof, 1, sizeof proof, f);
    uint8_t size[8];
    put64(size, 16u << 20);
    record(f, 1, size, sizeof size, seed_config, strlen(seed_config));
    static uint8_t raw[4 * 4096], z[8192];
    for (size_t i = 0; i < sizeof raw; i++)
        raw[i] = (uint8_t)(i * 7 + i / 4096);
    size_t zl = ZSTD_compress(z, sizeof z, raw, sizeof raw, 1);
    uint8_t head[8 + 4 * 8];
    put32(head, 4);
    put32(head + 4, (uint32_t)zl);
    for (unsigned i = 0; i < 4; i++)
        put64(head + 8 + 8 * i, 3 * i + 1);
    record(f, 2, head, sizeof head, z, zl);
    record(f, 3, w.buf, w.len, NULL, 0);
    record(f, 4, NULL, 0, NULL, 0);
    if (fclose(f))
        exit(2);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *seed = getenv("MINNOW_FUZZ_SEED");
    if (seed)
        write_seed(seed);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
        abort();
    struct feed f = { .fd = sv[0], .data = data, .size = size };
    pthread_t th;
    if (pthread_create(&th, NULL, feeder, &f))
        abort();
    struct target t;
    vm_config_init(&t.cfg);
    struct migration_target mt = { .token = NULL, .idle_s = 5, .stop_fd = -1 };
    struct vm *vm = NULL;
    struct errmsg e = { "" };
    int r = migration_receive_stream(sv[1], &mt, configure, &t, NULL, &vm, &e);
    /* Close ours first: a feeder still writing gets EPIPE and ends. */
    close(sv[1]);
    pthread_join(th, NULL);
    close(sv[0]);
    if (r && !e.text[0])
        abort(); /* a refusal always says why */
    if (getenv("MINNOW_FUZZ_VERBOSE"))
        fprintf(stderr, "fuzz_migration: %s\n", r ? e.text : "the VM arrived");
    if (!r)
        vm_destroy(vm);
    vm_config_free(&t.cfg);
    return 0;
}
