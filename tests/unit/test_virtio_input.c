/* Unit tests for devices/virtio_input: a guest driver reads the keyboard's
 * config space and posts event and status buffers through the virtio-mmio
 * registers; the host types with virtio_input_send_keys. Device work runs
 * inline on the test thread (the kick the host side makes is taken with
 * virtio_mmio_on_kick). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "devices/virtio_input.h"
#include "virtio_test_driver.h"

#define FEATURES VIRTIO_BIT(VIRTIO_F_VERSION_1)
#define QSIZE 16u
#define EV_GPA (RAM_BASE + 0x20000)    /* event buffer i at EV_GPA + 16 * i */
#define STS_GPA (RAM_BASE + 0x30000)

static const uint16_t cad[] = { VIRTIO_INPUT_KEY_LEFTCTRL, VIRTIO_INPUT_KEY_LEFTALT, VIRTIO_INPUT_KEY_DELETE };

struct ifx {
    struct tdrv d;
    struct virtio_input *in;
    struct tdrv_q q[2];
};

static struct virtio_input *make(struct tdrv *d)
{
    struct irq_line irq = tdrv_irq_line(d);
    struct errmsg e = {{0}};
    struct virtio_input *in;
    if (virtio_input_create(&in, &d->mem, &irq, &e) < 0)
        fail_msg("virtio_input_create: %s", e.text);
    return in;
}

static int setup(void **state)
{
    struct ifx *f = calloc(1, sizeof *f);
    tdrv_init_ram(&f->d);
    f->d.inline_io = true;
    f->in = make(&f->d);
    f->d.t = virtio_input_mmio(f->in);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct ifx *f = *state;
    virtio_input_destroy(f->in);
    tdrv_free(&f->d);
    free(f);
    return 0;
}

/* ---- a driver with both queues ---- */

static void bringup(struct ifx *f)
{
    assert_int_equal(tdrv_negotiate(&f->d, FEATURES) & VIRTIO_STATUS_FEATURES_OK, VIRTIO_STATUS_FEATURES_OK);
    for (unsigned q = 0; q < 2; q++)
        tdrv_q_setup(&f->d, &f->q[q], q, QSIZE);
    tdrv_driver_ok(&f->d);
    virtio_mmio_on_kick(f->d.t);   /* DRIVER_OK looks at the ready queues */
}

/* Posts event buffers first..first+n-1 (8 bytes each, device-writable). */
static void post_events(struct ifx *f, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n; i++) {
        memset(tdrv_host(&f->d, EV_GPA + 16u * i), 0xee, 8);
        tdrv_q_post(&f->d, &f->q[0], (uint16_t)i, EV_GPA + 16u * i, 8, VIRTQ_DESC_F_WRITE);
    }
}

/* What the device wrote into the buffer the used ring's entry k names. */
static void used_event(struct ifx *f, uint16_t k, uint16_t *type, uint16_t *code, uint32_t *value)
{
    uint32_t id, len;
    tdrv_q_used_elem(&f->d, &f->q[0], k, &id, &len);
    assert_int_equal(len, 8);
    const uint8_t *p = tdrv_host(&f->d, EV_GPA + 16u * id);
    uint16_t t, c;
    uint32_t v;
    memcpy(&t, p, 2);
    memcpy(&c, p + 2, 2);
    memcpy(&v, p + 4, 4);
    *type = le16toh(t);
    *code = le16toh(c);
    *value = le32toh(v);
}

/* The used ring's entries from..from+8 are Ctrl+Alt+Del pressed and
 * released. */
static void assert_cad_at(struct ifx *f, uint16_t from)
{
    static const uint16_t want[8][3] = {
        { 1, 29, 1 }, { 1, 56, 1 }, { 1, 111, 1 }, { 0, 0, 0 },
        { 1, 111, 0 }, { 1, 56, 0 }, { 1, 29, 0 }, { 0, 0, 0 },
    };
    for (uint16_t k = 0; k < 8; k++) {
        uint16_t type, code;
        uint32_t value;
        used_event(f, (uint16_t)(from + k), &type, &code, &value);
        assert_int_equal(type, want[k][0]);
        assert_int_equal(code, want[k][1]);
        assert_int_equal(value, want[k][2]);
    }
}

static unsigned pending(struct ifx *f)
{
    struct virtio_input_info info;
    virtio_input_info(f->in, &info);
    return info.pending;
}

/* ---- config space ---- */

static uint8_t cfg8(struct ifx *f, uint32_t off)
{
    return (uint8_t)virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + off, 1);
}

/* Selects and returns the size field, as Linux's virtinput_cfg_select. */
static uint8_t cfg_select(struct ifx *f, uint8_t select, uint8_t subsel)
{
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_SELECT, select, 1);
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_SUBSEL, subsel, 1);
    return cfg8(f, VIRTIO_INPUT_CFG_SIZE_FIELD);
}

static bool key_bit(struct ifx *f, unsigned code)
{
    return cfg8(f, VIRTIO_INPUT_CFG_UNION + code / 8) & (1u << (code % 8));
}

static void test_identity_and_config(void **state)
{
    struct ifx *f = *state;
    assert_int_equal(tdrv_r32(&f->d, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_INPUT);

    uint8_t n = cfg_select(f, VIRTIO_INPUT_CFG_ID_NAME, 0);
    assert_int_equal(n, strlen("minnow keyboard"));
    char name[129] = {0};
    for (unsigned i = 0; i < n; i++)
        name[i] = (char)cfg8(f, VIRTIO_INPUT_CFG_UNION + i);
    assert_string_equal(name, "minnow keyboard");
    /* a byte past the string reads 0; a wide read gets several bytes */
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_UNION + n), 0);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_UNION, 4), 0x6e6e696d);
    /* select and subsel read back */
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SELECT), VIRTIO_INPUT_CFG_ID_NAME);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SUBSEL), 0);
    /* the ID selects exist only for subsel 0 */
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_ID_NAME, 1), 0);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_UNION), 0);

    n = cfg_select(f, VIRTIO_INPUT_CFG_ID_SERIAL, 0);
    assert_true(n > 0);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_UNION), 'm');

    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_ID_DEVIDS, 0), 8);
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_UNION, 2), 0x06);

    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_PROP_BITS, 0), 0);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_ABS_INFO, 0), 0);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_UNSET, 0), 0);
    assert_int_equal(cfg_select(f, 0x7f, 3), 0);

    n = cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_KEY);
    assert_true(n >= 111 / 8 + 1 && n <= 128);
    assert_true(key_bit(f, 29));
    assert_true(key_bit(f, 56));
    assert_true(key_bit(f, 111));
    assert_true(key_bit(f, 1));     /* KEY_ESC: a whole keyboard */
    assert_true(key_bit(f, 30));    /* KEY_A */
    assert_false(key_bit(f, 0));    /* KEY_RESERVED */
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_SYN), 1);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_UNION), 1);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_LED), 1);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, 0x02 /* EV_REL */), 0);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, 0x03 /* EV_ABS */), 0);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, 0x14 /* EV_REP */), 0);

    /* one 16-bit write sets select and subsel; the rest is read-only */
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG, VIRTIO_INPUT_CFG_ID_NAME, 2);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SIZE_FIELD), strlen("minnow keyboard"));
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_SIZE_FIELD, 99, 1);
    virtio_mmio_ops.write(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_UNION, 0x41414141, 4);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SIZE_FIELD), strlen("minnow keyboard"));
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_UNION), 'm');
    /* past the config space: nothing */
    assert_int_equal(virtio_mmio_ops.read(f->d.t, VIRTIO_MMIO_CONFIG + VIRTIO_INPUT_CFG_SIZE, 1), 0);
}

/* ---- events ---- */

static void test_events_in_order(void **state)
{
    struct ifx *f = *state;
    bringup(f);
    post_events(f, 0, 10);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 0);   /* nothing to say yet */
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    virtio_mmio_on_kick(f->d.t);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 8);
    assert_cad_at(f, 0);
    assert_int_equal(atomic_load(&f->d.irq_level), 1);
    assert_int_equal(pending(f), 0);
    struct virtio_input_info info;
    virtio_input_info(f->in, &info);
    assert_int_equal(info.events_delivered, 8);
    /* the two buffers left take the start of the next chord */
    uint16_t a = 30;   /* KEY_A */
    assert_int_equal(virtio_input_send_keys(f->in, &a, 1), 0);
    virtio_mmio_on_kick(f->d.t);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 10);
    assert_int_equal(pending(f), 2);
    uint16_t type, code;
    uint32_t value;
    used_event(f, 8, &type, &code, &value);
    assert_true(type == 1 && code == 30 && value == 1);
    used_event(f, 9, &type, &code, &value);
    assert_true(type == 0 && code == 0 && value == 0);
}

static void test_events_wait_for_buffers(void **state)
{
    struct ifx *f = *state;
    /* Keys typed before the driver is there wait for it. */
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    virtio_mmio_on_kick(f->d.t);
    assert_int_equal(pending(f), 8);
    bringup(f);
    assert_int_equal(pending(f), 8);
    post_events(f, 0, 3);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 3);
    assert_int_equal(pending(f), 5);
    post_events(f, 3, 5);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 8);
    assert_int_equal(pending(f), 0);
    assert_cad_at(f, 0);
}

static void test_reset_keeps_events(void **state)
{
    struct ifx *f = *state;
    bringup(f);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_ID_NAME, 0), strlen("minnow keyboard"));
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    /* the driver resets the device (a probe does) before taking them */
    tdrv_w32(&f->d, VIRTIO_MMIO_STATUS, 0);
    virtio_mmio_on_kick(f->d.t);
    assert_int_equal(pending(f), 8);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SELECT), 0);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SIZE_FIELD), 0);
    bringup(f);
    post_events(f, 0, 8);
    assert_cad_at(f, 0);
}

static void test_short_event_buffer_fails_device(void **state)
{
    struct ifx *f = *state;
    bringup(f);
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    tdrv_q_post(&f->d, &f->q[0], 0, EV_GPA, 7, VIRTQ_DESC_F_WRITE);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 0);
    char why[256];
    virtio_mmio_last_error(f->d.t, why, sizeof why);
    assert_non_null(strstr(why, "event buffer"));
    /* nothing more is delivered until a reset */
    post_events(f, 1, 1);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 0);
    assert_int_equal(pending(f), 8);
}

static void test_readable_event_buffer_fails_device(void **state)
{
    struct ifx *f = *state;
    bringup(f);
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    tdrv_q_post(&f->d, &f->q[0], 0, EV_GPA, 8, 0);   /* device-readable: no room to write */
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 0);
}

static void test_status_queue(void **state)
{
    struct ifx *f = *state;
    bringup(f);
    /* an LED update (EV_LED, LED_CAPSL, on) is taken and returned */
    uint8_t led[8] = { 0x11, 0, 1, 0, 1, 0, 0, 0 };
    memcpy(tdrv_host(&f->d, STS_GPA), led, 8);
    tdrv_q_post(&f->d, &f->q[1], 0, STS_GPA, 8, 0);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[1]), 1);
    uint32_t id, len;
    tdrv_q_used_elem(&f->d, &f->q[1], 0, &id, &len);
    assert_int_equal(id, 0);
    assert_int_equal(len, 0);
    struct virtio_input_info info;
    virtio_input_info(f->in, &info);
    assert_int_equal(info.status_updates, 1);
    assert_false(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    /* one shorter than an event is a broken driver */
    tdrv_q_post(&f->d, &f->q[1], 1, STS_GPA, 4, 0);
    assert_true(tdrv_r32(&f->d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[1]), 1);
}

static void test_queue_full_and_bad_keys(void **state)
{
    struct ifx *f = *state;
    /* eight Ctrl+Alt+Del chords fill the 64 events; the ninth waits for
     * room and is refused whole */
    for (int i = 0; i < 8; i++)
        assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    assert_int_equal(pending(f), VIRTIO_INPUT_PENDING_MAX);
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), -EBUSY);
    uint16_t a = 30;
    assert_int_equal(virtio_input_send_keys(f->in, &a, 1), -EBUSY);
    assert_int_equal(pending(f), VIRTIO_INPUT_PENDING_MAX);
    /* once the guest takes some, there is room again */
    bringup(f);
    post_events(f, 0, 8);
    assert_int_equal(pending(f), VIRTIO_INPUT_PENDING_MAX - 8);
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);

    uint16_t zero = 0, big = VIRTIO_INPUT_KEY_MAX + 1, many[32];
    for (unsigned i = 0; i < 32; i++)
        many[i] = (uint16_t)(1 + i);
    assert_int_equal(virtio_input_send_keys(f->in, cad, 0), -EINVAL);
    assert_int_equal(virtio_input_send_keys(f->in, &zero, 1), -EINVAL);
    assert_int_equal(virtio_input_send_keys(f->in, &big, 1), -EINVAL);
    assert_int_equal(virtio_input_send_keys(f->in, many, 32), -EINVAL);   /* 66 events never fit */
}

static void test_largest_chord_fits_empty_queue(void **state)
{
    struct ifx *f = *state;
    uint16_t many[31];
    for (unsigned i = 0; i < 31; i++)
        many[i] = (uint16_t)(2 + i);
    assert_int_equal(virtio_input_send_keys(f->in, many, 31), 0);
    assert_int_equal(pending(f), 64);
}

/* ---- snapshots ---- */

static void test_save_load_round_trip(void **state)
{
    struct ifx *f = *state;
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    assert_int_equal(cfg_select(f, VIRTIO_INPUT_CFG_EV_BITS, VIRTIO_INPUT_EV_KEY), VIRTIO_INPUT_KEY_MAX / 8 + 1);
    struct snap_writer w;
    snapw_init(&w);
    assert_int_equal(virtio_input_save(f->in, &w), 0);

    /* a new device from the same configuration */
    virtio_input_destroy(f->in);
    memset(f->d.mem.host, 0, RAM_SIZE);
    f->in = make(&f->d);
    f->d.t = virtio_input_mmio(f->in);
    assert_int_equal(pending(f), 0);
    struct snap_reader r;
    snapr_init(&r, w.buf, w.len);
    struct errmsg e = {{0}};
    assert_int_equal(virtio_input_load(f->in, &r, &e), 0);
    assert_int_equal(pending(f), 8);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SELECT), VIRTIO_INPUT_CFG_EV_BITS);
    assert_int_equal(cfg8(f, VIRTIO_INPUT_CFG_SUBSEL), VIRTIO_INPUT_EV_KEY);
    bringup(f);
    post_events(f, 0, 8);
    assert_cad_at(f, 0);

    /* and a second save of what is left is the same as an empty device's */
    struct snap_writer w2;
    snapw_init(&w2);
    assert_int_equal(virtio_input_save(f->in, &w2), 0);
    assert_int_equal(w2.len, 4 + 1 + 1 + 4);
    snapw_free(&w2);
    snapw_free(&w);
}

/* Through the transport, as a VM snapshot takes it: a driver that took
 * three of the eight events gets the other five from the restored device. */
static void test_transport_snapshot_keeps_events(void **state)
{
    struct ifx *f = *state;
    bringup(f);
    post_events(f, 0, 3);
    assert_int_equal(virtio_input_send_keys(f->in, cad, 3), 0);
    virtio_mmio_on_kick(f->d.t);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 3);
    struct snap_writer w;
    snapw_init(&w);
    assert_int_equal(virtio_mmio_save(f->d.t, &w), 0);

    virtio_input_destroy(f->in);   /* guest RAM stays: it is in the memory file */
    f->in = make(&f->d);
    f->d.t = virtio_input_mmio(f->in);
    struct snap_reader r;
    snapr_init(&r, w.buf, w.len);
    struct errmsg e = {{0}};
    if (virtio_mmio_load(f->d.t, &r, &e) < 0)
        fail_msg("virtio_mmio_load: %s", e.text);
    virtio_mmio_on_kick(f->d.t);
    assert_int_equal(pending(f), 5);
    post_events(f, 3, 5);
    assert_int_equal(tdrv_q_used_idx(&f->d, &f->q[0]), 8);
    assert_cad_at(f, 0);
    snapw_free(&w);
}

/* A blob: version, select, subsel, count, then (type, code, value)s. */
static void blob(struct snap_writer *w, uint32_t version, uint32_t count, const uint16_t (*ev)[3], unsigned n)
{
    snapw_init(w);
    snapw_u32(w, version);
    snapw_u8(w, VIRTIO_INPUT_CFG_ID_NAME);
    snapw_u8(w, 0);
    snapw_u32(w, count);
    for (unsigned i = 0; i < n; i++) {
        snapw_u16(w, ev[i][0]);
        snapw_u16(w, ev[i][1]);
        snapw_u32(w, ev[i][2]);
    }
}

static void expect_refused(struct ifx *f, struct snap_writer *w, size_t len, const char *why)
{
    struct snap_reader r;
    snapr_init(&r, w->buf, len);
    struct errmsg e = {{0}};
    assert_int_equal(virtio_input_load(f->in, &r, &e), -EINVAL);
    if (!strstr(e.text, why))
        fail_msg("expected \"%s\" in \"%s\"", why, e.text);
    assert_int_equal(pending(f), 0);   /* nothing of a refused blob is taken */
    snapw_free(w);
}

static void test_bad_snapshot_refused(void **state)
{
    struct ifx *f = *state;
    static const uint16_t good[2][3] = { { 1, 29, 1 }, { 0, 0, 0 } };
    struct snap_writer w;

    blob(&w, 1, 2, good, 2);
    struct snap_reader r;
    snapr_init(&r, w.buf, w.len);
    struct errmsg e = {{0}};
    assert_int_equal(virtio_input_load(f->in, &r, &e), 0);   /* the well-formed one loads */
    assert_int_equal(pending(f), 2);
    snapw_free(&w);
    virtio_input_destroy(f->in);
    f->in = make(&f->d);
    f->d.t = virtio_input_mmio(f->in);

    blob(&w, 2, 2, good, 2);
    expect_refused(f, &w, w.len, "version 2");
    blob(&w, 1, 65, good, 2);
    expect_refused(f, &w, w.len, "65 waiting events");
    blob(&w, 1, 3, good, 2);
    expect_refused(f, &w, w.len, "truncated");
    blob(&w, 1, 2, good, 2);
    expect_refused(f, &w, w.len - 1, "truncated");
    blob(&w, 1, 1, good, 2);   /* trailing bytes */
    expect_refused(f, &w, w.len, "malformed");
    static const uint16_t rel[1][3] = { { 2, 0, 5 } };        /* EV_REL */
    blob(&w, 1, 1, rel, 1);
    expect_refused(f, &w, w.len, "waiting event 0");
    static const uint16_t key0[1][3] = { { 1, 0, 1 } };
    blob(&w, 1, 1, key0, 1);
    expect_refused(f, &w, w.len, "waiting event 0");
    static const uint16_t keybig[2][3] = { { 0, 0, 0 }, { 1, VIRTIO_INPUT_KEY_MAX + 1, 1 } };
    blob(&w, 1, 2, keybig, 2);
    expect_refused(f, &w, w.len, "waiting event 1");
    static const uint16_t val2[1][3] = { { 1, 30, 2 } };      /* autorepeat: never queued */
    blob(&w, 1, 1, val2, 1);
    expect_refused(f, &w, w.len, "waiting event 0");
    static const uint16_t syn1[1][3] = { { 0, 1, 0 } };       /* SYN_CONFIG */
    blob(&w, 1, 1, syn1, 1);
    expect_refused(f, &w, w.len, "waiting event 0");
    blob(&w, 1, 0, good, 0);
    expect_refused(f, &w, 3, "truncated");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_and_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_wait_for_buffers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_keeps_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_short_event_buffer_fails_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_readable_event_buffer_fails_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_full_and_bad_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_largest_chord_fits_empty_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_load_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transport_snapshot_keeps_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_snapshot_refused, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
