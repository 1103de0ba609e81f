/* libFuzzer harness for loading a snapshot's machine state (the part of a
 * state file that its CRC does not make trustworthy: whoever writes the
 * file writes the CRC too). The input is given to virt_load on a board
 * restored into anonymous RAM with two harts, a drive on a scratch file,
 * user-mode networking, an entropy device and a balloon, plus the
 * keyboard: every hart, CLINT, PLIC, UART, RTC, virtio transport and
 * device model reads its part and must refuse what it cannot have saved,
 * never crash or touch memory outside its structs.
 *
 * MINNOW_FUZZ_SEED=FILE writes a valid state of that board (as virt_save
 * writes it) to FILE and exits, to seed the corpus (see fuzz.sh). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/virt.h"
#include "machine/virt_snapshot.h"

static struct virt *board;

static void die(const char *what, const struct errmsg *e)
{
    fprintf(stderr, "fuzz_snapshot: %s: %s\n", what, e->text);
    exit(2);
}

static void console_out(void *opaque, const uint8_t *buf, size_t n)
{
    (void)opaque, (void)buf, (void)n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    static char disk[] = "/tmp/minnow-fuzz-disk-XXXXXX";
    int fd = mkstemp(disk);
    if (fd < 0 || ftruncate(fd, 1 << 20))
        exit(2);
    close(fd);
    static struct virt_device_config devs[4];
    devs[0].kind = VIRT_DEV_BLK;
    devs[0].blk = (struct virtio_blk_options){ .path = disk };
    devs[1].kind = VIRT_DEV_NET;
    struct errmsg e = { "" };
    if (net_spec_parse(&devs[1].net, "user", &e))
        die("net", &e);
    devs[1].net.in_process = true;   /* a helper process per iteration would only slow it */
    devs[2].kind = VIRT_DEV_RNG;
    devs[3].kind = VIRT_DEV_BALLOON;
    devs[3].balloon = (struct virtio_balloon_options){ .stats = true, .deflate_on_oom = true };
    struct virt_config cfg = {
        .nharts = 2, .mem_size = 16 << 20, .restore = 1, .devices = devs, .ndevices = 4,
        .console_out = console_out,
    };
    if (virt_create(&board, &cfg, &e))
        die("virt_create", &e);
    unlink(disk); /* the open drive keeps it */
    const char *seed = getenv("MINNOW_FUZZ_SEED");
    if (seed) {
        struct snap_writer w;
        snapw_init(&w);
        if (virt_save(board, &w, &e))
            die("virt_save", &e);
        FILE *f = fopen(seed, "wb");
        if (!f || fwrite(w.buf, 1, w.len, f) != w.len || fclose(f))
            exit(2);
        exit(0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct snap_reader r;
    snapr_init(&r, data, size);
    struct errmsg e = { "" };
    if (virt_load(board, &r, &e) && !e.text[0])
        abort(); /* a refusal always says why */
    return 0;
}
