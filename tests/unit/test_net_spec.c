/* Unit tests for backends/net_spec: the --net grammar, good specs parsed
 * into the right struct and bad ones refused with a message that names the
 * bad part (asserted word for word). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "backends/net_spec.h"

static uint32_t ip(const char *s)
{
    struct in_addr a;
    assert_int_equal(inet_pton(AF_INET, s, &a), 1);
    return a.s_addr;
}

static void test_user_plain(void **state)
{
    (void)state;
    struct net_spec s;
    struct errmsg e = {{0}};
    assert_int_equal(net_spec_parse(&s, "user", &e), 0);
    assert_int_equal(s.kind, NET_SPEC_USER);
    assert_int_equal(s.n_hostfwd, 0);
    assert_false(s.has_mac);
}

static void test_user_hostfwd(void **state)
{
    (void)state;
    struct net_spec s;
    struct errmsg e = {{0}};
    assert_int_equal(net_spec_parse(&s, "user,hostfwd=tcp:127.0.0.1:2222-:22", &e), 0);
    assert_int_equal(s.n_hostfwd, 1);
    assert_false(s.hostfwd[0].udp);
    assert_int_equal(s.hostfwd[0].host_addr.s_addr, ip("127.0.0.1"));
    assert_int_equal(s.hostfwd[0].host_port, 2222);
    assert_int_equal(s.hostfwd[0].guest_addr.s_addr, ip("10.0.2.15"));
    assert_int_equal(s.hostfwd[0].guest_port, 22);

    assert_int_equal(net_spec_parse(&s, "user,hostfwd=udp::5353-10.0.2.20:53,hostfwd=:0.0.0.0:8080-:80,"
                                        "mac=52:54:00:ab:CD:ef", &e), 0);
    assert_int_equal(s.n_hostfwd, 2);
    assert_true(s.hostfwd[0].udp);
    assert_int_equal(s.hostfwd[0].host_addr.s_addr, ip("127.0.0.1"));   /* empty: loopback */
    assert_int_equal(s.hostfwd[0].host_port, 5353);
    assert_int_equal(s.hostfwd[0].guest_addr.s_addr, ip("10.0.2.20"));
    assert_int_equal(s.hostfwd[0].guest_port, 53);
    assert_false(s.hostfwd[1].udp);                                    /* empty: tcp */
    assert_int_equal(s.hostfwd[1].host_addr.s_addr, ip("0.0.0.0"));
    assert_int_equal(s.hostfwd[1].host_port, 8080);
    assert_int_equal(s.hostfwd[1].guest_port, 80);
    assert_true(s.has_mac);
    static const uint8_t mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
    assert_memory_equal(s.mac, mac, 6);
    /* the same port on another protocol or address is a different forward */
    assert_int_equal(net_spec_parse(&s, "user,hostfwd=tcp::80-:80,hostfwd=udp::80-:80,hostfwd=tcp:127.0.0.2:80-:80",
                                    &e), 0);
    assert_int_equal(s.n_hostfwd, 3);
}

static void test_tap(void **state)
{
    (void)state;
    struct net_spec s;
    struct errmsg e = {{0}};
    assert_int_equal(net_spec_parse(&s, "tap=tap0", &e), 0);
    assert_int_equal(s.kind, NET_SPEC_TAP);
    assert_string_equal(s.tap_name, "tap0");
    assert_false(s.has_mac);
    assert_int_equal(net_spec_parse(&s, "tap=mnw-0123456789a,mac=02:00:00:00:00:01", &e), 0);
    assert_string_equal(s.tap_name, "mnw-0123456789a");   /* 15 characters */
    assert_true(s.has_mac);
    assert_int_equal(s.mac[0], 2);
    assert_int_equal(s.mac[5], 1);
}

/* The MTU offered: user networking's large default, none for a TAP
 * unless given, and what mtu= says for either. */
static void test_mtu(void **state)
{
    (void)state;
    struct net_spec s;
    struct errmsg e = {{0}};
    assert_int_equal(net_spec_parse(&s, "user", &e), 0);
    assert_int_equal(s.mtu, 0);
    assert_int_equal(net_spec_mtu(&s), NET_SPEC_USER_MTU);
    assert_int_equal(net_spec_parse(&s, "user,mtu=1500", &e), 0);
    assert_int_equal(net_spec_mtu(&s), 1500);
    assert_int_equal(net_spec_parse(&s, "tap=t0", &e), 0);
    assert_int_equal(net_spec_mtu(&s), 0);
    assert_int_equal(net_spec_parse(&s, "tap=t0,mtu=9000,mac=02:00:00:00:00:01", &e), 0);
    assert_int_equal(net_spec_mtu(&s), 9000);
    assert_int_equal(net_spec_parse(&s, "user,mtu=68", &e), 0);
    assert_int_equal(net_spec_parse(&s, "user,mtu=65520", &e), 0);
}

static void bad(const char *spec, const char *expect)
{
    struct net_spec s;
    struct errmsg e = {{0}};
    int rc = net_spec_parse(&s, spec, &e);
    if (rc != -EINVAL || strcmp(e.text, expect))
        fail_msg("spec '%s': got %d '%s'\n  expected -EINVAL '%s'", spec, rc, e.text, expect);
}

static void test_bad_specs(void **state)
{
    (void)state;
    bad("", "network spec is empty: expected 'user[,hostfwd=...][,mac=...][,mtu=...]' or 'tap=NAME[,mac=...][,mtu=...]'");
    bad("vde", "network spec 'vde': unknown backend 'vde' (expected 'user[,hostfwd=...][,mac=...][,mtu=...]' or 'tap=NAME[,mac=...][,mtu=...]')");
    bad("user=1", "network spec 'user=1': 'user' takes no value");
    bad("mac=52:54:00:12:34:56,user",
        "network spec 'mac=52:54:00:12:34:56,user': unknown backend 'mac' (expected 'user[,hostfwd=...][,mac=...][,mtu=...]' or 'tap=NAME[,mac=...][,mtu=...]')");
    bad("user,foo=1", "network spec 'user,foo=1': unknown key 'foo' (expected hostfwd, mac or mtu)");
    bad("user,mtu=67", "network spec 'user,mtu=67': bad mtu '67' (expected 68..65520 in decimal)");
    bad("user,mtu=65521", "network spec 'user,mtu=65521': bad mtu '65521' (expected 68..65520 in decimal)");
    bad("user,mtu=99999999999999999999", "network spec 'user,mtu=99999999999999999999': bad mtu "
        "'99999999999999999999' (expected 68..65520 in decimal)");
    bad("user,mtu=", "network spec 'user,mtu=': bad mtu '' (expected 68..65520 in decimal)");
    bad("user,mtu=0x600", "network spec 'user,mtu=0x600': bad mtu '0x600' (expected 68..65520 in decimal)");
    bad("user,mtu=-1500", "network spec 'user,mtu=-1500': bad mtu '-1500' (expected 68..65520 in decimal)");
    bad("user,mtu=1500,mtu=9000", "network spec 'user,mtu=1500,mtu=9000': mtu given twice");
    bad("tap=t0,bar=1", "network spec 'tap=t0,bar=1': unknown key 'bar' (expected mac or mtu)");
    bad("tap=t0,hostfwd=tcp::1-:2", "network spec 'tap=t0,hostfwd=tcp::1-:2': hostfwd is only for user networking");
    bad("user,,mac=52:54:00:12:34:56", "network spec 'user,,mac=52:54:00:12:34:56': empty item between commas");
    bad("user,", "network spec 'user,': empty item between commas");
    bad("user,hostfwd", "network spec 'user,hostfwd': 'hostfwd' is not KEY=VALUE");
    /* MAC */
    bad("user,mac=52:54:00:12:34",
        "network spec 'user,mac=52:54:00:12:34': bad MAC address '52:54:00:12:34' (expected six hex bytes like 52:54:00:12:34:56)");
    bad("user,mac=52-54-00-12-34-56",
        "network spec 'user,mac=52-54-00-12-34-56': bad MAC address '52-54-00-12-34-56' (expected six hex bytes like 52:54:00:12:34:56)");
    bad("user,mac=52:54:00:12:34:5g",
        "network spec 'user,mac=52:54:00:12:34:5g': bad MAC address '52:54:00:12:34:5g' (expected six hex bytes like 52:54:00:12:34:56)");
    bad("user,mac=01:00:5e:00:00:01",
        "network spec 'user,mac=01:00:5e:00:00:01': MAC address '01:00:5e:00:00:01' is a multicast address (the first byte must be even)");
    bad("user,mac=00:00:00:00:00:00", "network spec 'user,mac=00:00:00:00:00:00': MAC address '00:00:00:00:00:00' is all zeros");
    bad("user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57",
        "network spec 'user,mac=52:54:00:12:34:56,mac=52:54:00:12:34:57': mac given twice");
    /* hostfwd */
    bad("user,hostfwd=tcp:127.0.0.1:70000-:22",
        "network spec 'user,hostfwd=tcp:127.0.0.1:70000-:22': hostfwd 'tcp:127.0.0.1:70000-:22': bad host port '70000' (expected 1..65535)");
    bad("user,hostfwd=tcp:127.0.0.1:+22-:22",
        "network spec 'user,hostfwd=tcp:127.0.0.1:+22-:22': hostfwd 'tcp:127.0.0.1:+22-:22': bad host port '+22' (expected 1..65535)");
    bad("user,hostfwd=tcp:127.0.0.1:-:22",
        "network spec 'user,hostfwd=tcp:127.0.0.1:-:22': hostfwd 'tcp:127.0.0.1:-:22': bad host port '' (expected 1..65535)");
    bad("user,hostfwd=tcp:127.0.0.1:2222-:0",
        "network spec 'user,hostfwd=tcp:127.0.0.1:2222-:0': hostfwd 'tcp:127.0.0.1:2222-:0': bad guest port '0' (expected 1..65535)");
    bad("user,hostfwd=sctp:127.0.0.1:1-:2",
        "network spec 'user,hostfwd=sctp:127.0.0.1:1-:2': hostfwd 'sctp:127.0.0.1:1-:2': bad protocol 'sctp' (expected tcp or udp)");
    bad("user,hostfwd=tcp:localhost:2222-:22",
        "network spec 'user,hostfwd=tcp:localhost:2222-:22': hostfwd 'tcp:localhost:2222-:22': bad host address 'localhost' (expected an IPv4 address such as 127.0.0.1)");
    bad("user,hostfwd=tcp:127.0.0.1:2222:22",
        "network spec 'user,hostfwd=tcp:127.0.0.1:2222:22': hostfwd 'tcp:127.0.0.1:2222:22': expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
    bad("user,hostfwd=tcp:127.0.0.1:2222-:22:1",
        "network spec 'user,hostfwd=tcp:127.0.0.1:2222-:22:1': hostfwd 'tcp:127.0.0.1:2222-:22:1': expected [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT");
    bad("user,hostfwd=tcp:127.0.0.1:2222-10.0.2:22",
        "network spec 'user,hostfwd=tcp:127.0.0.1:2222-10.0.2:22': hostfwd 'tcp:127.0.0.1:2222-10.0.2:22': bad guest address '10.0.2' (expected an IPv4 address in 10.0.2.0/24)");
    bad("user,hostfwd=tcp:127.0.0.1:2222-192.168.1.5:22",
        "network spec 'user,hostfwd=tcp:127.0.0.1:2222-192.168.1.5:22': hostfwd 'tcp:127.0.0.1:2222-192.168.1.5:22': guest address '192.168.1.5' is not a host address in the user network 10.0.2.0/24");
    bad("user,hostfwd=tcp::2222-10.0.2.255:22",
        "network spec 'user,hostfwd=tcp::2222-10.0.2.255:22': hostfwd 'tcp::2222-10.0.2.255:22': guest address '10.0.2.255' is not a host address in the user network 10.0.2.0/24");
    bad("user,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:2222-:23",
        "network spec 'user,hostfwd=tcp::2222-:22,hostfwd=tcp:127.0.0.1:2222-:23': hostfwd 'tcp:127.0.0.1:2222-:23': tcp 127.0.0.1:2222 is forwarded twice");
    /* tap names */
    bad("tap", "network spec 'tap': tap needs a device name: tap=NAME");
    bad("tap=", "network spec 'tap=': tap needs a device name: tap=NAME");
    bad("tap=averyveryverylongname", "network spec 'tap=averyveryverylongname': tap name 'averyveryverylongname' is longer than 15 characters");
    bad("tap=a/b", "network spec 'tap=a/b': 'a/b' is not a valid interface name (no '/', ':' or spaces, not '.' or '..')");
    bad("tap=..", "network spec 'tap=..': '..' is not a valid interface name (no '/', ':' or spaces, not '.' or '..')");
    bad("tap=a b", "network spec 'tap=a b': 'a b' is not a valid interface name (no '/', ':' or spaces, not '.' or '..')");
}

static void test_too_many_hostfwd(void **state)
{
    (void)state;
    char spec[2048] = "user";
    for (unsigned i = 0; i <= NET_SLIRP_MAX_HOSTFWD; i++) {
        char f[64];
        snprintf(f, sizeof f, ",hostfwd=tcp::%u-:22", 10000 + i);
        strcat(spec, f);
    }
    char expect[2300];
    snprintf(expect, sizeof expect, "network spec '%s': more than 16 hostfwd", spec);
    bad(spec, expect);
    /* exactly the limit is fine */
    *strrchr(spec, ',') = 0;
    struct net_spec s;
    struct errmsg e = {{0}};
    assert_int_equal(net_spec_parse(&s, spec, &e), 0);
    assert_int_equal(s.n_hostfwd, NET_SLIRP_MAX_HOSTFWD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_user_plain),
        cmocka_unit_test(test_user_hostfwd),
        cmocka_unit_test(test_tap),
        cmocka_unit_test(test_mtu),
        cmocka_unit_test(test_bad_specs),
        cmocka_unit_test(test_too_many_hostfwd),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
