/* Unit tests for devices/virtio_blk with its block_file backend: a guest
 * driver (tests/unit/virtio_test_driver.h) talks to the device through the
 * virtio-mmio registers and a fake guest RAM, the device runs on a real I/O
 * thread (vmm/event_loop) against a temporary image file, and the tests
 * check what the guest sees and what is on disk. Every test runs with the
 * io_uring engine and with the sync engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/virtio_blk.h"
#include "vmm/event_loop.h"
#include "virtio_test_driver.h"

#define IMG_SECTORS 2048u
#define IMG_SIZE (IMG_SECTORS * 512u)
#define SERIAL "minnow-disk-0001"
#define AREA(k) (DATA_GPA + 0x20000ull * (k))

#define BLK_FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_INDIRECT_DESC) | \
                      VIRTIO_BIT(VIRTIO_F_EVENT_IDX) | VIRTIO_BIT(VIRTIO_BLK_F_FLUSH) | \
                      VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX) | VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE))
#define DWZ_FEATURES (VIRTIO_BIT(VIRTIO_BLK_F_DISCARD) | VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES))

struct bfx {
    struct tdrv d;
    struct event_loop *loop;
    struct virtio_blk *blk;
    char path[64];
    int fd;                     /* the test's own view of the image */
    uint8_t original[IMG_SIZE];
};

static int setup_engine(void **state, enum block_file_engine engine, bool ro)
{
    struct bfx *f = calloc(1, sizeof *f);
    tdrv_init_ram(&f->d);
    strcpy(f->path, "/tmp/minnow-blk-XXXXXX");
    f->fd = mkstemp(f->path);
    assert_true(f->fd >= 0);
    for (unsigned i = 0; i < IMG_SIZE; i++)
        f->original[i] = (uint8_t)(i % 251 + 1);
    assert_int_equal(pwrite(f->fd, f->original, IMG_SIZE, 0), IMG_SIZE);
    struct errmsg e = {{0}};
    struct virtio_blk_options o = {.path = f->path, .read_only = ro, .serial = SERIAL, .engine = engine};
    struct irq_line irq = tdrv_irq_line(&f->d);
    if (virtio_blk_create(&f->blk, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_blk_create: %s", e.text);
    if (engine != BLOCK_FILE_ENGINE_AUTO)
        assert_int_equal(virtio_blk_engine(f->blk), engine);
    f->d.t = virtio_blk_mmio(f->blk);
    assert_int_equal(event_loop_create(&f->loop, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_mmio_kick_fd(f->d.t), virtio_mmio_on_kick, f->d.t, &e), 0);
    assert_int_equal(event_loop_start(f->loop, &e), 0);
    *state = f;
    return 0;
}

static int setup_uring(void **state) { return setup_engine(state, BLOCK_FILE_ENGINE_URING, false); }
static int setup_sync(void **state) { return setup_engine(state, BLOCK_FILE_ENGINE_SYNC, false); }
static int setup_uring_ro(void **state) { return setup_engine(state, BLOCK_FILE_ENGINE_URING, true); }
static int setup_sync_ro(void **state) { return setup_engine(state, BLOCK_FILE_ENGINE_SYNC, true); }

static int teardown(void **state)
{
    struct bfx *f = *state;
    event_loop_destroy(f->loop);
    virtio_blk_destroy(f->blk);
    close(f->fd);
    unlink(f->path);
    tdrv_free(&f->d);
    free(f);
    return 0;
}

static void bringup(struct bfx *f, uint64_t features)
{
    uint32_t s = tdrv_bringup(&f->d, features, 64);
    assert_int_equal(s, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                        VIRTIO_STATUS_DRIVER_OK);
}

/* One request in area k: header at +0, status at +16, data at +0x1000
 * (split over `pieces` descriptors), descriptors from `head` on, or in an
 * indirect table at +0x800 when indirect. Does not kick. */
struct breq {
    uint32_t type;
    uint64_t sector;
    uint32_t len;
    bool device_writes;     /* data is device-writable (IN, GET_ID) */
    unsigned pieces;
    bool indirect;
};

static uint8_t *area_data(struct bfx *f, unsigned k) { return tdrv_host(&f->d, AREA(k) + 0x1000); }
static uint8_t *area_status(struct bfx *f, unsigned k) { return tdrv_host(&f->d, AREA(k) + 16); }

static void post(struct bfx *f, unsigned k, uint16_t head, const struct breq *r)
{
    uint64_t a = AREA(k);
    uint8_t hdr[16] = {0};
    uint32_t t = htole32(r->type);
    uint64_t s = htole64(r->sector);
    memcpy(hdr, &t, 4);
    memcpy(hdr + 8, &s, 8);
    memcpy(tdrv_host(&f->d, a), hdr, 16);
    *area_status(f, k) = 0xee;
    uint64_t table = r->indirect ? a + 0x800 : DESC_GPA;
    unsigned i = r->indirect ? 0 : head;
    unsigned pieces = r->len ? (r->pieces ? r->pieces : 1) : 0;
    tdrv_desc_in(&f->d, table, i, a, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
    i++;
    uint32_t off = 0;
    for (unsigned p = 0; p < pieces; p++) {
        uint32_t n = p + 1 < pieces ? r->len / pieces : r->len - off;
        tdrv_desc_in(&f->d, table, i, a + 0x1000 + off, n,
                     VIRTQ_DESC_F_NEXT | (r->device_writes ? VIRTQ_DESC_F_WRITE : 0), (uint16_t)(i + 1));
        off += n;
        i++;
    }
    tdrv_desc_in(&f->d, table, i, a + 16, 1, VIRTQ_DESC_F_WRITE, 0);
    if (r->indirect)
        tdrv_desc(&f->d, head, table, 16 * (i + 1), VIRTQ_DESC_F_INDIRECT, 0);
    tdrv_avail(&f->d, head);
}

/* Posts one request in area 0, kicks, waits; returns the status byte. */
static uint8_t run(struct bfx *f, const struct breq *r, uint32_t *used_len)
{
    uint16_t target = (uint16_t)(tdrv_used_idx(&f->d) + 1);
    post(f, 0, 0, r);
    tdrv_kick(&f->d, 0);
    assert_true(tdrv_wait_used(&f->d, target));
    uint32_t id, len;
    tdrv_used_elem(&f->d, (uint16_t)(target - 1), &id, &len);
    assert_int_equal(id, 0);
    if (used_len)
        *used_len = len;
    return *area_status(f, 0);
}

static void file_bytes(struct bfx *f, uint64_t off, void *buf, size_t len)
{
    assert_int_equal(pread(f->fd, buf, len, (off_t)off), (ssize_t)len);
}

static void test_config(void **state)
{
    struct bfx *f = *state;
    struct virtio_mmio *t = f->d.t;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
    uint64_t feat = tdrv_device_features(&f->d);
    assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
    assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_WRITE_ZEROES));
    assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_SEG_MAX));
    assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_BLK_SIZE));
    assert_false(feat & VIRTIO_BIT(VIRTIO_BLK_F_RO));
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_CAPACITY, 4), IMG_SECTORS);
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_CAPACITY + 4, 4), 0);
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_SEG_MAX, 4), VIRTQ_CHAIN_MAX - 2);
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_BLK_SIZE, 4), 512);
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_MAX_DISCARD_SEG, 4), VIRTIO_BLK_MAX_DWZ_SEG);
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_MAX_WZ_SECTORS, 4), VIRTIO_BLK_MAX_DWZ_SECTORS);
    assert_int_equal(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_WZ_MAY_UNMAP, 1), 1);
    assert_true(virtio_mmio_ops.read(t, 0x100 + VIRTIO_BLK_CFG_DISCARD_ALIGN, 4) >= 1);
    tdrv_w32(&f->d, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_BLK_QUEUE_SIZE);
}

static void test_write_read_roundtrip(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    uint8_t pattern[8192];
    for (size_t i = 0; i < sizeof pattern; i++)
        pattern[i] = (uint8_t)(i * 7 + 3);
    memcpy(area_data(f, 0), pattern, sizeof pattern);
    uint32_t used;
    struct breq w = {.type = VIRTIO_BLK_T_OUT, .sector = 10, .len = sizeof pattern, .pieces = 3};
    assert_int_equal(run(f, &w, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    uint8_t disk[8192];
    file_bytes(f, 10 * 512, disk, sizeof disk);
    assert_memory_equal(disk, pattern, sizeof pattern);
    /* neighbours untouched */
    file_bytes(f, 9 * 512, disk, 512);
    assert_memory_equal(disk, f->original + 9 * 512, 512);
    file_bytes(f, 26 * 512, disk, 512);
    assert_memory_equal(disk, f->original + 26 * 512, 512);

    memset(area_data(f, 0), 0, sizeof pattern);
    struct breq r = {.type = VIRTIO_BLK_T_IN, .sector = 10, .len = sizeof pattern, .device_writes = true,
                     .pieces = 5, .indirect = true};
    assert_int_equal(run(f, &r, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, sizeof pattern + 1);
    assert_memory_equal(area_data(f, 0), pattern, sizeof pattern);
    assert_true(atomic_load(&f->d.irq_raises) >= 1);
    /* the original content elsewhere reads back too */
    struct breq r2 = {.type = VIRTIO_BLK_T_IN, .sector = 1000, .len = 1024, .device_writes = true};
    assert_int_equal(run(f, &r2, NULL), VIRTIO_BLK_S_OK);
    assert_memory_equal(area_data(f, 0), f->original + 1000 * 512, 1024);
}

static void test_flush(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    memset(area_data(f, 0), 0x5a, 512);
    struct breq w = {.type = VIRTIO_BLK_T_OUT, .sector = 0, .len = 512};
    assert_int_equal(run(f, &w, NULL), VIRTIO_BLK_S_OK);
    struct breq fl = {.type = VIRTIO_BLK_T_FLUSH};
    uint32_t used;
    assert_int_equal(run(f, &fl, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    uint8_t b[512];
    file_bytes(f, 0, b, 512);
    for (int i = 0; i < 512; i++)
        assert_int_equal(b[i], 0x5a);
}

static void test_write_without_flush_feature(void **state)
{
    /* Without VIRTIO_BLK_F_FLUSH negotiated writes are write-through. */
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES & ~VIRTIO_BIT(VIRTIO_BLK_F_FLUSH));
    memset(area_data(f, 0), 0x6b, 1024);
    struct breq w = {.type = VIRTIO_BLK_T_OUT, .sector = 4, .len = 1024};
    assert_int_equal(run(f, &w, NULL), VIRTIO_BLK_S_OK);
    uint8_t b[1024];
    file_bytes(f, 4 * 512, b, sizeof b);
    for (size_t i = 0; i < sizeof b; i++)
        assert_int_equal(b[i], 0x6b);
}

static void test_read_only(void **state)
{
    struct bfx *f = *state;
    uint64_t feat = tdrv_device_features(&f->d);
    assert_true(feat & VIRTIO_BIT(VIRTIO_BLK_F_RO));
    assert_false(feat & VIRTIO_BIT(VIRTIO_BLK_F_DISCARD));
    bringup(f, BLK_FEATURES | VIRTIO_BIT(VIRTIO_BLK_F_RO));
    memset(area_data(f, 0), 0x77, 4096);
    struct breq w = {.type = VIRTIO_BLK_T_OUT, .sector = 0, .len = 4096};
    assert_int_equal(run(f, &w, NULL), VIRTIO_BLK_S_IOERR);
    /* a discard, not negotiable here, is unsupported */
    struct breq d = {.type = VIRTIO_BLK_T_DISCARD, .len = 16};
    memset(area_data(f, 0), 0, 16);
    assert_int_equal(run(f, &d, NULL), VIRTIO_BLK_S_UNSUPP);
    static uint8_t disk[IMG_SIZE];
    file_bytes(f, 0, disk, IMG_SIZE);
    assert_memory_equal(disk, f->original, IMG_SIZE);
    struct breq r = {.type = VIRTIO_BLK_T_IN, .sector = 3, .len = 512, .device_writes = true};
    assert_int_equal(run(f, &r, NULL), VIRTIO_BLK_S_OK);
    assert_memory_equal(area_data(f, 0), f->original + 3 * 512, 512);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

static void test_out_of_range_fails_only_that_request(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    struct breq rq[5] = {
        {.type = VIRTIO_BLK_T_IN, .sector = IMG_SECTORS - 1, .len = 512, .device_writes = true},  /* last sector: ok */
        {.type = VIRTIO_BLK_T_IN, .sector = IMG_SECTORS - 1, .len = 1024, .device_writes = true}, /* crosses the end */
        {.type = VIRTIO_BLK_T_IN, .sector = UINT64_MAX - 1, .len = 1024, .device_writes = true},  /* sector*512 wraps */
        {.type = VIRTIO_BLK_T_OUT, .sector = IMG_SECTORS, .len = 512},                            /* just past */
        {.type = VIRTIO_BLK_T_IN, .sector = 0, .len = 100, .device_writes = true},                /* not whole sectors */
    };
    static const uint8_t expect[5] = {VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR,
                                      VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_IOERR};
    for (unsigned k = 0; k < 5; k++)
        post(f, k, (uint16_t)(k * 4), &rq[k]);
    tdrv_kick(&f->d, 0);
    assert_true(tdrv_wait_used(&f->d, 5));
    for (unsigned k = 0; k < 5; k++)
        assert_int_equal(*area_status(f, k), expect[k]);
    assert_memory_equal(area_data(f, 0), f->original + (IMG_SECTORS - 1) * 512, 512);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    static uint8_t disk[IMG_SIZE];
    file_bytes(f, 0, disk, IMG_SIZE);
    assert_memory_equal(disk, f->original, IMG_SIZE);
}

static void put_seg(uint8_t *p, uint64_t sector, uint32_t num, uint32_t flags)
{
    sector = htole64(sector);
    num = htole32(num);
    flags = htole32(flags);
    memcpy(p, &sector, 8);
    memcpy(p + 8, &num, 4);
    memcpy(p + 12, &flags, 4);
}

static void test_discard_punches_hole(void **state)
{
    struct bfx *f = *state;
    assert_int_equal(fsync(f->fd), 0);
    struct stat before, after;
    assert_int_equal(fstat(f->fd, &before), 0);
    /* 256 KiB hole, aligned to any file system block size */
    bringup(f, BLK_FEATURES | DWZ_FEATURES);
    put_seg(area_data(f, 0), 256, 512, 0);
    struct breq d = {.type = VIRTIO_BLK_T_DISCARD, .len = 16};
    assert_int_equal(run(f, &d, NULL), VIRTIO_BLK_S_OK);
    assert_int_equal(fstat(f->fd, &after), 0);
    assert_int_equal(after.st_size, IMG_SIZE);
    assert_true(after.st_blocks < before.st_blocks);
    assert_int_equal(lseek(f->fd, 0, SEEK_HOLE), 256 * 512);
    struct breq r = {.type = VIRTIO_BLK_T_IN, .sector = 255, .len = 514 * 512, .device_writes = true};
    assert_int_equal(run(f, &r, NULL), VIRTIO_BLK_S_OK);
    uint8_t *data = area_data(f, 0);
    assert_memory_equal(data, f->original + 255 * 512, 512);
    for (unsigned i = 512; i < 513 * 512; i++)
        if (data[i])
            fail_msg("byte %u of the discarded range is %u", i, data[i]);
    assert_memory_equal(data + 513 * 512, f->original + 768 * 512, 512);
}

static void test_write_zeroes(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES | DWZ_FEATURES);
    /* two segments: one may unmap, one may not */
    put_seg(area_data(f, 0), 3, 5, 0);
    put_seg(area_data(f, 0) + 16, 100, 8, VIRTIO_BLK_DWZ_F_UNMAP);
    struct breq z = {.type = VIRTIO_BLK_T_WRITE_ZEROES, .len = 32, .pieces = 2};
    assert_int_equal(run(f, &z, NULL), VIRTIO_BLK_S_OK);
    static uint8_t disk[IMG_SIZE];
    static uint8_t expect[IMG_SIZE];
    memcpy(expect, f->original, IMG_SIZE);
    memset(expect + 3 * 512, 0, 5 * 512);
    memset(expect + 100 * 512, 0, 8 * 512);
    file_bytes(f, 0, disk, IMG_SIZE);
    assert_memory_equal(disk, expect, IMG_SIZE);
}

static void test_discard_write_zeroes_bad(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES | DWZ_FEATURES);
    struct breq d = {.type = VIRTIO_BLK_T_DISCARD, .len = 16};
    put_seg(area_data(f, 0), 0, 8, VIRTIO_BLK_DWZ_F_UNMAP);    /* unmap on discard */
    assert_int_equal(run(f, &d, NULL), VIRTIO_BLK_S_UNSUPP);
    put_seg(area_data(f, 0), 0, 8, 2);                          /* unknown flag */
    struct breq z = {.type = VIRTIO_BLK_T_WRITE_ZEROES, .len = 16};
    assert_int_equal(run(f, &z, NULL), VIRTIO_BLK_S_UNSUPP);
    put_seg(area_data(f, 0), IMG_SECTORS - 4, 8, 0);            /* past the end */
    assert_int_equal(run(f, &z, NULL), VIRTIO_BLK_S_IOERR);
    put_seg(area_data(f, 0), UINT64_MAX - 2, 8, 0);             /* wraps */
    assert_int_equal(run(f, &d, NULL), VIRTIO_BLK_S_IOERR);
    struct breq odd = {.type = VIRTIO_BLK_T_DISCARD, .len = 24}; /* not whole segments */
    assert_int_equal(run(f, &odd, NULL), VIRTIO_BLK_S_IOERR);
    struct breq many = {.type = VIRTIO_BLK_T_DISCARD, .len = 16 * (VIRTIO_BLK_MAX_DWZ_SEG + 1)};
    memset(area_data(f, 0), 0, many.len);
    assert_int_equal(run(f, &many, NULL), VIRTIO_BLK_S_IOERR);
    static uint8_t disk[IMG_SIZE];
    file_bytes(f, 0, disk, IMG_SIZE);
    assert_memory_equal(disk, f->original, IMG_SIZE);
    /* not negotiated: unsupported */
    bringup(f, BLK_FEATURES);
    put_seg(area_data(f, 0), 0, 8, 0);
    assert_int_equal(run(f, &d, NULL), VIRTIO_BLK_S_UNSUPP);
}

static void test_get_id(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    memset(area_data(f, 0), 0xcc, 32);
    struct breq g = {.type = VIRTIO_BLK_T_GET_ID, .len = VIRTIO_BLK_ID_BYTES, .device_writes = true};
    uint32_t used;
    assert_int_equal(run(f, &g, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, VIRTIO_BLK_ID_BYTES + 1);
    char expect[VIRTIO_BLK_ID_BYTES] = SERIAL;   /* NUL-padded */
    assert_memory_equal(area_data(f, 0), expect, VIRTIO_BLK_ID_BYTES);
    assert_int_equal(area_data(f, 0)[VIRTIO_BLK_ID_BYTES], 0xcc);
}

static void test_unsupported_type(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    struct breq u = {.type = 99};
    assert_int_equal(run(f, &u, NULL), VIRTIO_BLK_S_UNSUPP);
    struct breq lt = {.type = 10, .len = 8, .device_writes = true};   /* GET_LIFETIME, not offered */
    assert_int_equal(run(f, &lt, NULL), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
}

static void test_header_in_writable_buffer(void **state)
{
    /* The header must be device-readable. Written as device-writable, the
     * request fails alone and nothing is written to the disk. */
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    uint8_t hdr[16] = {VIRTIO_BLK_T_OUT};
    memcpy(tdrv_host(&f->d, AREA(0)), hdr, 16);
    memset(area_data(f, 0), 0x99, 512);
    *area_status(f, 0) = 0xee;
    tdrv_desc(&f->d, 0, AREA(0), 16, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, AREA(0) + 0x1000, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    tdrv_desc(&f->d, 2, AREA(0) + 16, 1, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    assert_true(tdrv_wait_used(&f->d, 1));
    assert_int_equal(*area_status(f, 0), VIRTIO_BLK_S_IOERR);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    uint8_t b[512];
    file_bytes(f, 0, b, 512);
    assert_memory_equal(b, f->original, 512);
    /* the device goes on */
    struct breq r = {.type = VIRTIO_BLK_T_IN, .sector = 0, .len = 512, .device_writes = true};
    assert_int_equal(run(f, &r, NULL), VIRTIO_BLK_S_OK);
}

static bool wait_needs_reset(struct bfx *f)
{
    for (int i = 0; i < 5000; i++) {
        if (tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
            return true;
        usleep(1000);
    }
    return false;
}

static void test_no_status_byte_needs_reset(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    uint8_t hdr[16] = {VIRTIO_BLK_T_IN};
    memcpy(tdrv_host(&f->d, AREA(0)), hdr, 16);
    tdrv_desc(&f->d, 0, AREA(0), 16, 0, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    assert_true(wait_needs_reset(f));
    assert_int_equal(tdrv_used_idx(&f->d), 0);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG_CHANGE);
    char err[256];
    virtio_mmio_last_error(f->d.t, err, sizeof err);
    assert_non_null(strstr(err, "status byte"));
}

static void test_data_outside_ram_needs_reset(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    uint8_t hdr[16] = {VIRTIO_BLK_T_IN};
    memcpy(tdrv_host(&f->d, AREA(0)), hdr, 16);
    tdrv_desc(&f->d, 0, AREA(0), 16, VIRTQ_DESC_F_NEXT, 1);
    /* 4 KiB read whose buffer runs 512 bytes past the end of RAM */
    tdrv_desc(&f->d, 1, RAM_BASE + RAM_SIZE - 3584, 4096, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2);
    tdrv_desc(&f->d, 2, AREA(0) + 16, 1, VIRTQ_DESC_F_WRITE, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    assert_true(wait_needs_reset(f));
    assert_int_equal(tdrv_used_idx(&f->d), 0);
    /* a writable descriptor before the readable header: NEEDS_RESET too */
    bringup(f, BLK_FEATURES);
    tdrv_desc(&f->d, 0, AREA(0) + 16, 1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    tdrv_desc(&f->d, 1, AREA(0), 16, 0, 0);
    tdrv_avail(&f->d, 0);
    tdrv_kick(&f->d, 0);
    assert_true(wait_needs_reset(f));
}

static void test_reset_during_io(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    for (unsigned k = 0; k < 6; k++) {
        struct breq r = {.type = k % 2 ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT, .sector = 64ull * k,
                         .len = 64 * 1024, .device_writes = k % 2, .pieces = 4};
        post(f, k, (uint16_t)(k * 8), &r);
    }
    tdrv_kick(&f->d, 0);
    tdrv_w32(&f->d, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS), 0);
    uint16_t seen = tdrv_used_idx(&f->d);
    usleep(20000);
    /* nothing is completed into the old rings after the reset */
    assert_int_equal(tdrv_used_idx(&f->d), seen);
    bringup(f, BLK_FEATURES);
    struct breq r = {.type = VIRTIO_BLK_T_IN, .sector = 0, .len = 512, .device_writes = true};
    assert_int_equal(run(f, &r, NULL), VIRTIO_BLK_S_OK);
}

static int load_state(struct virtio_blk *b, const uint8_t *buf, size_t len, struct errmsg *e)
{
    struct snap_reader r;
    snapr_init(&r, buf, len);
    return virtio_mmio_load(virtio_blk_mmio(b), &r, e);
}

/* A request held back by the rate limiter is finished by the save (the
 * used ring is final when it returns); a device created again from the
 * same image and loaded from it goes on at the next used index. */
static void test_snapshot_drains_and_resumes(void **state)
{
    struct bfx *f = *state;
    bringup(f, BLK_FEATURES);
    struct rate_limiter_config rl = {.ops = {.present = true, .cfg = {.size = 1, .refill_time_ms = 3600000}}};
    virtio_blk_set_rate_limiter(f->blk, &rl);
    memset(area_data(f, 0), 0x11, 1024);
    memset(area_data(f, 1), 0x22, 1024);
    struct breq w0 = {.type = VIRTIO_BLK_T_OUT, .sector = 100, .len = 1024};
    struct breq w1 = {.type = VIRTIO_BLK_T_OUT, .sector = 200, .len = 1024};
    post(f, 0, 0, &w0);
    post(f, 1, 8, &w1);
    tdrv_kick(&f->d, 0);
    assert_true(tdrv_wait_used(&f->d, 1));
    usleep(20000);
    assert_int_equal(tdrv_used_idx(&f->d), 1);   /* the second waits for a token */

    /* What the VM does for a snapshot: the I/O thread stays out. */
    struct errmsg e = {{0}};
    assert_int_equal(event_loop_remove_fd(f->loop, virtio_mmio_kick_fd(f->d.t), &e), 0);
    struct snap_writer w;
    snapw_init(&w);
    assert_int_equal(virtio_mmio_save(f->d.t, &w), 0);
    assert_int_equal(tdrv_used_idx(&f->d), 2);
    uint32_t id, len;
    tdrv_used_elem(&f->d, 1, &id, &len);
    assert_int_equal(id, 8);
    assert_int_equal(*area_status(f, 1), VIRTIO_BLK_S_OK);
    uint8_t disk[1024];
    file_bytes(f, 200 * 512, disk, sizeof disk);
    assert_memory_equal(disk, area_data(f, 1), sizeof disk);

    /* The image is locked: the old device goes first, as in a restore. */
    enum block_file_engine engine = virtio_blk_engine(f->blk);
    virtio_blk_destroy(f->blk);
    struct virtio_blk_options o = {.path = f->path, .serial = SERIAL, .engine = engine};
    struct irq_line irq = tdrv_irq_line(&f->d);
    atomic_store(&f->d.irq_level, 0);
    if (virtio_blk_create(&f->blk, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_blk_create: %s", e.text);
    f->d.t = virtio_blk_mmio(f->blk);

    /* Hostile variants first: each refused, the device stays usable. */
    for (size_t n = 0; n < w.len; n++)
        assert_int_equal(load_state(f->blk, w.buf, n, &e), -EINVAL);
    uint8_t *bad = malloc(w.len);
    memcpy(bad, w.buf, w.len);
    memcpy(bad + 48, "\x2c\x01\x00\x00", 4);   /* queue 0's size: 300 */
    assert_int_equal(load_state(f->blk, bad, w.len, &e), -EINVAL);
    assert_string_equal(e.text, "virtio-mmio: queue 0: size 300 is not a power of two up to 256");
    memcpy(bad, w.buf, w.len);
    bad[w.len - 4] = 2;                         /* the device's own version */
    assert_int_equal(load_state(f->blk, bad, w.len, &e), -EINVAL);
    assert_non_null(strstr(e.text, "virtio-blk: state version 2"));
    free(bad);

    if (load_state(f->blk, w.buf, w.len, &e) < 0)
        fail_msg("virtio_mmio_load: %s", e.text);
    assert_int_equal(atomic_load(&f->d.irq_level), 1);   /* the used-buffer interrupt was pending */
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                     VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_mmio_kick_fd(f->d.t), virtio_mmio_on_kick, f->d.t, &e), 0);
    /* The restored limiter starts unlimited (it is configuration): a read
     * of what the drained write put on disk lands in used slot 2. */
    memset(area_data(f, 2), 0, 1024);
    struct breq r = {.type = VIRTIO_BLK_T_IN, .sector = 200, .len = 1024, .device_writes = true};
    post(f, 2, 16, &r);
    tdrv_kick(&f->d, 0);
    assert_true(tdrv_wait_used(&f->d, 3));
    tdrv_used_elem(&f->d, 2, &id, &len);
    assert_int_equal(id, 16);
    assert_int_equal(len, 1025);
    assert_int_equal(*area_status(f, 2), VIRTIO_BLK_S_OK);
    assert_memory_equal(area_data(f, 2), area_data(f, 1), 1024);
    snapw_free(&w);
}

#define BOTH(fn) cmocka_unit_test_setup_teardown(fn, setup_uring, teardown), \
                 cmocka_unit_test_setup_teardown(fn, setup_sync, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_config),
        BOTH(test_write_read_roundtrip),
        BOTH(test_flush),
        BOTH(test_write_without_flush_feature),
        cmocka_unit_test_setup_teardown(test_read_only, setup_uring_ro, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup_sync_ro, teardown),
        BOTH(test_out_of_range_fails_only_that_request),
        BOTH(test_discard_punches_hole),
        BOTH(test_write_zeroes),
        BOTH(test_discard_write_zeroes_bad),
        BOTH(test_get_id),
        BOTH(test_unsupported_type),
        BOTH(test_header_in_writable_buffer),
        BOTH(test_no_status_byte_needs_reset),
        BOTH(test_data_outside_ram_needs_reset),
        BOTH(test_reset_during_io),
        BOTH(test_snapshot_drains_and_resumes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
