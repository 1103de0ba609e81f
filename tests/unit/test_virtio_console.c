/* Unit tests for devices/virtio_console with its chardev backend: a guest
 * driver talks to the device through the virtio-mmio registers and a fake
 * guest RAM, the device runs on a real I/O thread (vmm/event_loop), and the
 * host side is a real Unix-socket client or the pty's slave end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "devices/virtio_console.h"
#include "vmm/event_loop.h"
#include "virtio_test_driver.h"

#define FEATURES (VIRTIO_BIT(VIRTIO_F_VERSION_1) | VIRTIO_BIT(VIRTIO_F_EVENT_IDX))
#define QSIZE 32u
#define SLOT 0x1000u

/* A queue of the fake driver: rings at ring_gpa, descriptor i always uses
 * data slot i, one buffer per chain. */
struct tq {
    unsigned q;
    uint64_t desc, avail, used, data;
    uint16_t avail_idx, used_seen, next;
};

static void tq_setup(struct tdrv *d, struct tq *t, unsigned q)
{
    memset(t, 0, sizeof *t);
    t->q = q;
    t->desc = RAM_BASE + 0x4000ull * q;
    t->avail = t->desc + 0x1000;
    t->used = t->desc + 0x2000;
    t->data = DATA_GPA + 0x40000ull * q;
    memset(tdrv_host(d, t->desc), 0, 0x3000);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_SEL, q);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)t->desc);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(t->desc >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)t->avail);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(t->avail >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)t->used);
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(t->used >> 32));
    tdrv_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
}

static uint8_t *tq_slot(struct tdrv *d, struct tq *t, unsigned i)
{
    return tdrv_host(d, t->data + (uint64_t)SLOT * i);
}

/* Makes descriptor i (at addr, len, flags) available and kicks. */
static void tq_post_at(struct tdrv *d, struct tq *t, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags)
{
    tdrv_desc_in(d, t->desc, i, addr, len, flags, 0);
    *(uint16_t *)tdrv_host(d, t->avail + 4 + 2u * (t->avail_idx % QSIZE)) = htole16(i);
    t->avail_idx++;
    atomic_store_explicit((_Atomic uint16_t *)tdrv_host(d, t->avail + 2), htole16(t->avail_idx),
                          memory_order_release);
    tdrv_kick(d, t->q);
}

/* Posts the next slot with len bytes (device-writable if w); returns its index. */
static uint16_t tq_post(struct tdrv *d, struct tq *t, uint32_t len, bool w)
{
    uint16_t i = (uint16_t)(t->next++ % QSIZE);
    tq_post_at(d, t, i, t->data + (uint64_t)SLOT * i, len, w ? VIRTQ_DESC_F_WRITE : 0);
    return i;
}

static uint16_t tq_used_idx(struct tdrv *d, struct tq *t)
{
    return le16toh(atomic_load_explicit((_Atomic uint16_t *)tdrv_host(d, t->used + 2), memory_order_acquire));
}

/* Waits up to ms for the next used element; false on timeout. */
static bool tq_next_used(struct tdrv *d, struct tq *t, uint32_t *id, uint32_t *len, int ms)
{
    for (int k = 0; k < ms; k++) {
        if (tq_used_idx(d, t) != t->used_seen) {
            uint8_t *p = tdrv_host(d, t->used + 4 + 8u * (t->used_seen % QSIZE));
            uint32_t a, b;
            memcpy(&a, p, 4);
            memcpy(&b, p + 4, 4);
            *id = le32toh(a);
            *len = le32toh(b);
            t->used_seen++;
            return true;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

struct cfx {
    struct tdrv d;
    struct event_loop *loop;
    struct virtio_console *con;
    struct tq rx, tx;
    char path[64];
};

static void start(struct cfx *f, enum chardev_kind kind)
{
    tdrv_init_ram(&f->d);
    snprintf(f->path, sizeof f->path, "/tmp/minnow-con-%d.sock", (int)getpid());
    unlink(f->path);
    struct virtio_console_options o = {.chardev = {.kind = kind, .path = f->path}};
    struct irq_line irq = tdrv_irq_line(&f->d);
    struct errmsg e = {{0}};
    if (virtio_console_create(&f->con, &o, &f->d.mem, &irq, &e) < 0)
        fail_msg("virtio_console_create: %s", e.text);
    f->d.t = virtio_console_mmio(f->con);
    assert_int_equal(event_loop_create(&f->loop, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_mmio_kick_fd(f->d.t), virtio_mmio_on_kick, f->d.t, &e), 0);
    assert_int_equal(event_loop_add_fd(f->loop, virtio_console_host_fd(f->con), virtio_console_on_host, f->con, &e), 0);
    assert_int_equal(event_loop_start(f->loop, &e), 0);
    assert_int_equal(tdrv_negotiate(&f->d, FEATURES) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    tq_setup(&f->d, &f->rx, VIRTIO_CONSOLE_RX);
    tq_setup(&f->d, &f->tx, VIRTIO_CONSOLE_TX);
    tdrv_driver_ok(&f->d);
}

static int setup_socket(void **state)
{
    struct cfx *f = calloc(1, sizeof *f);
    start(f, CHARDEV_SOCKET);
    *state = f;
    return 0;
}

static int setup_pty(void **state)
{
    struct cfx *f = calloc(1, sizeof *f);
    start(f, CHARDEV_PTY);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct cfx *f = *state;
    event_loop_destroy(f->loop);
    virtio_console_destroy(f->con);
    tdrv_free(&f->d);
    free(f);
    return 0;
}

/* Reads exactly n bytes within 5 s. */
static void read_exact(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t r = read(fd, (uint8_t *)buf + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

static bool readable_within(int fd, int ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, ms) == 1;
}

/* The guest transmits n bytes of s and waits until the device took them. */
static void guest_send_ready(struct cfx *f, const void *s, size_t n)
{
    uint16_t i = (uint16_t)(f->tx.next++ % QSIZE);
    memcpy(tq_slot(&f->d, &f->tx, i), s, n);
    tq_post_at(&f->d, &f->tx, i, f->tx.data + (uint64_t)SLOT * i, (uint32_t)n, 0);
    uint32_t id, len;
    assert_true(tq_next_used(&f->d, &f->tx, &id, &len, 5000));
    assert_int_equal(id, i);
    assert_int_equal(len, 0);
}

/* Waits for the next receive buffer the device filled; returns its bytes. */
static size_t guest_recv(struct cfx *f, char *out, size_t max)
{
    uint32_t id = 0, len = 0;
    assert_true(tq_next_used(&f->d, &f->rx, &id, &len, 5000));
    assert_true(len <= max);
    memcpy(out, tq_slot(&f->d, &f->rx, (uint16_t)id), len);
    return len;
}

static int client(struct cfx *f)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strcpy(sa.sun_path, f->path);
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0)
        fail_msg("connect %s: %s", f->path, strerror(errno));
    return s;
}

/* A client the device has accepted: output goes to nobody until the I/O
 * thread takes the connection, so prove it with one byte of input. */
static int synced_client(struct cfx *f)
{
    int s = client(f);
    tq_post(&f->d, &f->rx, 64, true);
    assert_int_equal(write(s, "!", 1), 1);
    char in[64];
    assert_int_equal(guest_recv(f, in, sizeof in), 1);
    assert_int_equal(in[0], '!');
    return s;
}

static void test_identity(void **state)
{
    struct cfx *f = *state;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
    uint64_t feat = tdrv_device_features(&f->d);
    assert_false(feat & 0xffffffull);   /* no device bits: no SIZE, MULTIPORT, EMERG_WRITE */
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG, 4), 0);
    assert_string_equal(virtio_console_name(f->con), f->path);
}

static void test_socket_both_ways(void **state)
{
    struct cfx *f = *state;
    int s = synced_client(f);
    guest_send_ready(f, "hello host", 10);
    char buf[64];
    read_exact(s, buf, 10);
    assert_memory_equal(buf, "hello host", 10);

    tq_post(&f->d, &f->rx, 64, true);
    assert_int_equal(write(s, "typed", 5), 5);
    char in[64];
    size_t n = guest_recv(f, in, sizeof in);
    assert_int_equal(n, 5);
    assert_memory_equal(in, "typed", 5);
    assert_true(atomic_load(&f->d.irq_raises) > 0);
    close(s);
}

static void test_input_waits_for_a_buffer(void **state)
{
    struct cfx *f = *state;
    int s = synced_client(f);
    /* Input with no receive buffer stays in the socket... */
    assert_int_equal(write(s, "early", 5), 5);
    guest_send_ready(f, "x", 1);   /* a round trip through the I/O thread */
    char b;
    read_exact(s, &b, 1);
    assert_int_equal(tq_used_idx(&f->d, &f->rx), f->rx.used_seen);
    /* ...and is delivered once the guest offers one, split over small ones. */
    tq_post(&f->d, &f->rx, 3, true);
    tq_post(&f->d, &f->rx, 3, true);
    char in[8];
    size_t n = guest_recv(f, in, sizeof in);
    assert_int_equal(n, 3);
    assert_memory_equal(in, "ear", 3);
    n = guest_recv(f, in, sizeof in);
    assert_int_equal(n, 2);
    assert_memory_equal(in, "ly", 2);
    close(s);
}

static void test_no_client_drops_output(void **state)
{
    struct cfx *f = *state;
    /* Nobody connected: the chain is completed and the bytes are gone. */
    guest_send_ready(f, "lost", 4);
    int s = client(f);
    /* The client's connection is accepted on the I/O thread: send until
     * something arrives (the first sends may still go to nobody). */
    char buf[16];
    bool got = false;
    for (int k = 0; k < 100 && !got; k++) {
        guest_send_ready(f, "seen", 4);
        got = readable_within(s, 20);
    }
    assert_true(got);
    read_exact(s, buf, 4);
    assert_memory_equal(buf, "seen", 4);
    close(s);
}

static void test_reconnect(void **state)
{
    struct cfx *f = *state;
    int s1 = synced_client(f);
    guest_send_ready(f, "one", 3);
    char buf[16];
    read_exact(s1, buf, 3);
    assert_memory_equal(buf, "one", 3);
    close(s1);

    int s2 = client(f);
    bool got = false;
    for (int k = 0; k < 100 && !got; k++) {
        guest_send_ready(f, "two", 3);
        got = readable_within(s2, 20);
    }
    assert_true(got);
    read_exact(s2, buf, 3);
    assert_memory_equal(buf, "two", 3);
    tq_post(&f->d, &f->rx, 64, true);
    assert_int_equal(write(s2, "back", 4), 4);
    char in[64];
    assert_int_equal(guest_recv(f, in, sizeof in), 4);
    assert_memory_equal(in, "back", 4);
    close(s2);
}

static void test_slow_client_backpressure(void **state)
{
    struct cfx *f = *state;
    int s = synced_client(f);
    guest_send_ready(f, "x", 1);
    char b;
    read_exact(s, &b, 1);
    /* Far more than a Unix socket buffers (every chain points at the same
     * 32 KiB region) while the client is not reading: the device must hold
     * chains rather than drop bytes of a connected client. */
    enum { REGION = 32768, CHAINS = 28 };
    uint8_t *region = tdrv_host(&f->d, f->tx.data);
    for (unsigned i = 0; i < REGION; i++)
        region[i] = (uint8_t)(i * 13 + 1);
    for (unsigned c = 0; c < CHAINS; c++) {
        uint16_t i = (uint16_t)(f->tx.next++ % QSIZE);
        tq_post_at(&f->d, &f->tx, i, f->tx.data, REGION, 0);
    }
    usleep(100000);
    /* Not all taken yet: the socket is full. */
    assert_true((uint16_t)(tq_used_idx(&f->d, &f->tx) - f->tx.used_seen) < CHAINS);
    uint8_t *got = malloc(REGION);
    for (unsigned c = 0; c < CHAINS; c++) {
        read_exact(s, got, REGION);
        assert_memory_equal(got, region, REGION);
    }
    uint32_t id, len;
    for (unsigned c = 0; c < CHAINS; c++)
        assert_true(tq_next_used(&f->d, &f->tx, &id, &len, 5000));
    free(got);
    close(s);
}

static void test_pty(void **state)
{
    struct cfx *f = *state;
    const char *name = virtio_console_name(f->con);
    assert_true(strncmp(name, "/dev/pts/", 9) == 0);
    int p = open(name, O_RDWR | O_NOCTTY);
    assert_true(p >= 0);
    guest_send_ready(f, "to pty\n", 7);
    char buf[16];
    read_exact(p, buf, 7);
    assert_memory_equal(buf, "to pty\n", 7);
    tq_post(&f->d, &f->rx, 64, true);
    assert_int_equal(write(p, "keys", 4), 4);
    char in[64];
    assert_int_equal(guest_recv(f, in, sizeof in), 4);
    assert_memory_equal(in, "keys", 4);
    close(p);
}

static void test_path_exists_is_an_error(void **state)
{
    struct cfx *f = *state;
    struct virtio_console *c2 = NULL;
    struct virtio_console_options o = {.chardev = {.kind = CHARDEV_SOCKET, .path = f->path}};
    struct errmsg e = {{0}};
    assert_int_equal(virtio_console_create(&c2, &o, &f->d.mem, NULL, &e), -EEXIST);
    assert_null(c2);
    assert_non_null(strstr(e.text, f->path));
    /* and the first device's socket is still there and serving */
    int s = synced_client(f);
    guest_send_ready(f, "ok", 2);
    char buf[2];
    read_exact(s, buf, 2);
    close(s);
}

static void test_hostile_chains(void **state)
{
    struct cfx *f = *state;
    int s = synced_client(f);
    /* A receive buffer with no writable byte comes back empty. */
    uint16_t i = (uint16_t)(f->rx.next++ % QSIZE);
    tq_post_at(&f->d, &f->rx, i, f->rx.data + (uint64_t)SLOT * i, 16, 0);
    uint32_t id, len;
    assert_true(tq_next_used(&f->d, &f->rx, &id, &len, 5000));
    assert_int_equal(id, i);
    assert_int_equal(len, 0);
    /* A transmit chain that is only device-writable sends nothing. */
    i = (uint16_t)(f->tx.next++ % QSIZE);
    memset(tq_slot(&f->d, &f->tx, i), 'Z', 16);
    tq_post_at(&f->d, &f->tx, i, f->tx.data + (uint64_t)SLOT * i, 16, VIRTQ_DESC_F_WRITE);
    assert_true(tq_next_used(&f->d, &f->tx, &id, &len, 5000));
    assert_false(readable_within(s, 50));
    /* A transmit buffer running past the end of RAM: NEEDS_RESET, and no
     * byte read from outside RAM (ASan would see it). */
    i = (uint16_t)(f->tx.next++ % QSIZE);
    tq_post_at(&f->d, &f->tx, i, RAM_BASE + RAM_SIZE - 8, 64, 0);
    for (int k = 0; k < 5000 && !(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET); k++)
        usleep(1000);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_false(readable_within(s, 50));
    /* After a reset the device works again. */
    assert_int_equal(tdrv_negotiate(&f->d, FEATURES) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    tq_setup(&f->d, &f->rx, VIRTIO_CONSOLE_RX);
    tq_setup(&f->d, &f->tx, VIRTIO_CONSOLE_TX);
    tdrv_driver_ok(&f->d);
    guest_send_ready(f, "again", 5);
    char buf[5];
    read_exact(s, buf, 5);
    assert_memory_equal(buf, "again", 5);
    close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_socket_both_ways, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_input_waits_for_a_buffer, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_no_client_drops_output, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_slow_client_backpressure, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_pty, setup_pty, teardown),
        cmocka_unit_test_setup_teardown(test_path_exists_is_an_error, setup_socket, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_chains, setup_socket, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
