/* GDB remote serial protocol (see gdbstub.h): framing ($data#cc, acks,
 * no-ack mode, escapes), the packets gdb-multiarch needs for `target
 * remote` on RISC-V, and the target description. Harts are threads
 * 1..n (hart index + 1). Registers in the description's numbering:
 * x0-x31 0-31, pc 32, f0-f31 33-64, fflags 66, frm 67, fcsr 68, priv 69,
 * CSR n at GDB_CSR_REGNUM0 + n (csr.xml, included: vmm/gdb_csr.h). */
#include "vmm/gdbstub.h"

#include <errno.h>
#include <inttypes.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cpu/hart_debug.h"
#include "util/unix_bind.h"
#include "vmm/gdb_csr.h"
#include "vmm/gdb_monitor.h"
#include "vmm/sandbox.h"

/* Largest packet body accepted and advertised (PacketSize); longer ones
 * are refused with a NAK and dropped. */
#define PKT_MAX 4096
/* Memory a single m/M/X packet may move. */
#define MEM_MAX ((PKT_MAX - 32) / 2)

struct gdbstub {
    struct gdbstub_config cfg;
    struct gdb_target *t;
    int lfd, quit_fd;
    char unix_path[108];
    pthread_t thread;
    /* The connection being served. */
    int fd;
    int no_ack;
    int g_thread, c_thread;   /* Hg, Hc: hart index; -1 any */
    int phys;                 /* monitor phys on: m/M/X by physical address */
    /* The CSR feature, made when gdb first asks (the harts are held). */
    char csr_xml[32768];
    size_t csr_xml_len;
    char in[PKT_MAX + 8];
    size_t in_len;
    char out[2 * PKT_MAX + 8];
    size_t out_len;           /* the last packet sent, for a NAK's resend */
    uint8_t rbuf[4096];
    size_t rpos, rend;
};

static const char target_xml[] =
    "<?xml version=\"1.0\"?>\n"
    "<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
    "<target version=\"1.0\">\n"
    "<architecture>riscv:rv64</architecture>\n"
    "<feature name=\"org.gnu.gdb.riscv.cpu\">\n"
    "<reg name=\"zero\" bitsize=\"64\" type=\"int\" regnum=\"0\"/>\n"
    "<reg name=\"ra\" bitsize=\"64\" type=\"code_ptr\"/>\n"
    "<reg name=\"sp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
    "<reg name=\"gp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
    "<reg name=\"tp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
    "<reg name=\"t0\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"t1\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"t2\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"fp\" bitsize=\"64\" type=\"data_ptr\"/>\n"
    "<reg name=\"s1\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a0\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a1\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a2\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a3\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a4\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a5\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a6\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"a7\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s2\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s3\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s4\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s5\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s6\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s7\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s8\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s9\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s10\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"s11\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"t3\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"t4\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"t5\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"t6\" bitsize=\"64\" type=\"int\"/>\n"
    "<reg name=\"pc\" bitsize=\"64\" type=\"code_ptr\"/>\n"
    "</feature>\n"
    "<feature name=\"org.gnu.gdb.riscv.fpu\">\n"
    "<union id=\"riscv_double\"><field name=\"float\" type=\"ieee_single\"/>"
    "<field name=\"double\" type=\"ieee_double\"/></union>\n"
    "<reg name=\"ft0\" bitsize=\"64\" type=\"riscv_double\" regnum=\"33\"/>\n"
    "<reg name=\"ft1\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft2\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft3\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft4\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft5\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft6\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft7\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs0\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs1\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa0\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa1\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa2\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa3\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa4\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa5\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa6\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fa7\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs2\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs3\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs4\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs5\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs6\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs7\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs8\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs9\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs10\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fs11\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft8\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft9\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft10\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"ft11\" bitsize=\"64\" type=\"riscv_double\"/>\n"
    "<reg name=\"fflags\" bitsize=\"32\" type=\"int\" regnum=\"66\"/>\n"
    "<reg name=\"frm\" bitsize=\"32\" type=\"int\" regnum=\"67\"/>\n"
    "<reg name=\"fcsr\" bitsize=\"32\" type=\"int\" regnum=\"68\"/>\n"
    "</feature>\n"
    "<xi:include href=\"csr.xml\"/>\n"
    "<feature name=\"org.gnu.gdb.riscv.virtual\">\n"
    "<reg name=\"priv\" bitsize=\"64\" type=\"int\" regnum=\"69\"/>\n"
    "</feature>\n"
    "</target>\n";

enum { REG_PC = 32, REG_F0 = 33, REG_FFLAGS = 66, REG_FRM = 67, REG_FCSR = 68, REG_PRIV = 69 };

/* ---- addresses ---- */

static int parse_spec(const char *spec, struct sockaddr_storage *ss, socklen_t *len, char *path, size_t plen,
                      struct errmsg *e)
{
    memset(ss, 0, sizeof *ss);
    path[0] = 0;
    if (!strncmp(spec, "unix:", 5)) {
        const char *p = spec + 5;
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (!*p || strlen(p) >= sizeof un->sun_path || strlen(p) >= plen)
            return errmsg_set(e, -EINVAL, "--gdb '%s': a Unix socket path of 1 to %zu bytes was expected", spec,
                              sizeof un->sun_path - 1);
        un->sun_family = AF_UNIX;
        strcpy(un->sun_path, p);
        strcpy(path, p);
        *len = sizeof *un;
        return 0;
    }
    if (!strncmp(spec, "tcp:", 4)) {
        char host[256];
        const char *hp = spec + 4, *colon = strrchr(hp, ':');
        if (!colon || colon == hp || (size_t)(colon - hp) >= sizeof host || !colon[1])
            return errmsg_set(e, -EINVAL, "--gdb '%s': tcp:HOST:PORT was expected (e.g. tcp:127.0.0.1:1234)", spec);
        memcpy(host, hp, (size_t)(colon - hp));
        host[colon - hp] = 0;
        char *end;
        unsigned long port = strtoul(colon + 1, &end, 10);
        if (*end || port > 65535)
            return errmsg_set(e, -EINVAL, "--gdb '%s': the port must be a number from 0 to 65535", spec);
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV }, *ai;
        int r = getaddrinfo(host, colon + 1, &hints, &ai);
        if (r)
            return errmsg_set(e, -EINVAL, "--gdb '%s': '%s' is not a numeric IP address: %s", spec, host,
                              gai_strerror(r));
        memcpy(ss, ai->ai_addr, ai->ai_addrlen);
        *len = ai->ai_addrlen;
        freeaddrinfo(ai);
        return 0;
    }
    return errmsg_set(e, -EINVAL, "--gdb '%s': expected tcp:HOST:PORT or unix:PATH", spec);
}

static int is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

int gdbstub_check_spec(const char *spec, int allow_remote, struct errmsg *e)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    char path[108];
    int r = parse_spec(spec, &ss, &len, path, sizeof path, e);
    /* The protocol has no authentication: whoever reaches the port owns
     * the guest (its memory, its registers) and can end the VM. */
    if (!r && !path[0] && !allow_remote && !is_loopback(&ss))
        r = errmsg_set(e, -EPERM, "--gdb '%s': the address is not a loopback one (127.0.0.0/8, ::1): the gdb "
                       "stub has no authentication, so anyone who reaches it owns the guest; allow it explicitly "
                       "(--gdb-allow-remote, or \"allow_remote\": true in PUT /gdb)", spec);
    return r;
}

/* ---- framing ---- */

static int send_all(struct gdbstub *s, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = send(s->fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

static const char hexd[] = "0123456789abcdef";

/* Sends body as a packet; characters the protocol reserves are escaped. */
static int send_packet_n(struct gdbstub *s, const char *body, size_t n)
{
    size_t o = 0;
    uint8_t sum = 0;
    s->out[o++] = '$';
    for (size_t i = 0; i < n && o < sizeof s->out - 4; i++) {
        char c = body[i];
        if (c == '$' || c == '#' || c == '}' || c == '*') {
            s->out[o++] = '}';
            sum += '}';
            c ^= 0x20;
        }
        s->out[o++] = c;
        sum += (uint8_t)c;
    }
    s->out[o++] = '#';
    s->out[o++] = hexd[sum >> 4];
    s->out[o++] = hexd[sum & 15];
    s->out_len = o;
    return send_all(s, s->out, o);
}

static int send_packet(struct gdbstub *s, const char *body)
{
    return send_packet_n(s, body, strlen(body));
}

/* One byte from the client; -1 at EOF or error. */
static int get_byte(struct gdbstub *s)
{
    if (s->rpos == s->rend) {
        /* The VM's end (gdbstub_stop) must not wait for a silent client. */
        struct pollfd p[2] = { { s->fd, POLLIN, 0 }, { s->quit_fd, POLLIN, 0 } };
        while (poll(p, 2, -1) < 0)
            if (errno != EINTR)
                return -1;
        if (p[1].revents)
            return -1;
        ssize_t r;
        do
            r = recv(s->fd, s->rbuf, sizeof s->rbuf, 0);
        while (r < 0 && errno == EINTR);
        if (r <= 0)
            return -1;
        s->rpos = 0;
        s->rend = (size_t)r;
    }
    return s->rbuf[s->rpos++];
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

enum got { GOT_PACKET, GOT_INTERRUPT, GOT_EOF };

/* Reads until a whole valid packet (into s->in, NUL-terminated) or a
 * Ctrl-C. Garbage between packets is skipped; a bad checksum or an
 * over-long packet is answered with '-' and dropped. */
static enum got read_packet(struct gdbstub *s)
{
    for (;;) {
        int c = get_byte(s);
        if (c < 0)
            return GOT_EOF;
        if (c == 0x03)
            return GOT_INTERRUPT;
        if (c == '-' && !s->no_ack && s->out_len) {
            if (send_all(s, s->out, s->out_len))
                return GOT_EOF;
            continue;
        }
        if (c != '$')
            continue; /* '+' and noise */
        size_t n = 0;
        int too_long = 0;
        uint8_t sum = 0;
        while ((c = get_byte(s)) >= 0 && c != '#') {
            if (c == '$') { /* a new start: the old one was cut */
                n = 0, sum = 0, too_long = 0;
                continue;
            }
            sum += (uint8_t)c;
            if (n < PKT_MAX)
                s->in[n++] = (char)c;
            else
                too_long = 1;
        }
        if (c < 0)
            return GOT_EOF;
        int h1 = get_byte(s), h2 = h1 < 0 ? -1 : get_byte(s);
        if (h2 < 0)
            return GOT_EOF;
        int ok = hexval(h1) >= 0 && hexval(h2) >= 0 && (uint8_t)(hexval(h1) << 4 | hexval(h2)) == sum;
        if (too_long || (!ok && !s->no_ack)) {
            if (send_all(s, "-", 1))
                return GOT_EOF;
            continue;
        }
        if (!ok)
            continue; /* no-ack mode: nothing to ask again */
        if (!s->no_ack && send_all(s, "+", 1))
            return GOT_EOF;
        s->in[n] = 0;
        s->in_len = n;
        return GOT_PACKET;
    }
}

/* ---- encoding helpers ---- */

static void put_le(char *o, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++) {
        o[2 * i] = hexd[(v >> (8 * i + 4)) & 15];
        o[2 * i + 1] = hexd[(v >> (8 * i)) & 15];
    }
    o[2 * bytes] = 0;
}

static int get_le(const char *p, unsigned bytes, uint64_t *v)
{
    *v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        int a = hexval(p[2 * i]), b = a < 0 ? -1 : hexval(p[2 * i + 1]);
        if (b < 0)
            return -1;
        *v |= (uint64_t)(a << 4 | b) << (8 * i);
    }
    return 0;
}

/* A hex number at *p, advancing; -1 if there is none. */
static int get_hex(const char **p, uint64_t *v)
{
    const char *q = *p;
    uint64_t x = 0;
    int n = 0;
    while (hexval(*q) >= 0 && n < 17) {
        x = x << 4 | (uint64_t)hexval(*q++);
        n++;
    }
    if (!n || n > 16)
        return -1;
    *v = x;
    *p = q;
    return 0;
}

/* ---- registers ---- */

static struct hart *cur_hart(struct gdbstub *s)
{
    return gdb_target_hart(s->t, s->g_thread < 0 ? 0 : (unsigned)s->g_thread);
}

static int reg_get(struct hart *h, unsigned n, uint64_t *v, unsigned *bytes)
{
    *bytes = 8;
    if (n >= GDB_CSR_REGNUM0) {
        return hart_debug_csr_read(h, n - GDB_CSR_REGNUM0, v);
    } else if (n < 32) {
        *v = n ? hart_reg(h, n) : 0;
    } else if (n == REG_PC) {
        *v = hart_debug_pc(h);
    } else if (n >= REG_F0 && n < REG_F0 + 32) {
        *v = hart_debug_freg(h, n - REG_F0);
    } else if (n >= REG_FFLAGS && n <= REG_FCSR) {
        *bytes = 4;
        hart_debug_fcsr(h, n - REG_FFLAGS + 1, v);
    } else if (n == REG_PRIV) {
        *v = hart_debug_priv(h);
    } else {
        return -1;
    }
    return 0;
}

static int reg_set(struct hart *h, unsigned n, uint64_t v)
{
    if (n >= GDB_CSR_REGNUM0) {
        return hart_debug_csr_write(h, n - GDB_CSR_REGNUM0, v);
    } else if (n < 32) {
        if (n)
            hart_set_reg(h, n, v);
    } else if (n == REG_PC) {
        hart_debug_set_pc(h, v);
    } else if (n >= REG_F0 && n < REG_F0 + 32) {
        hart_debug_set_freg(h, n - REG_F0, v);
    } else if (n >= REG_FFLAGS && n <= REG_FCSR) {
        hart_debug_set_fcsr(h, n - REG_FFLAGS + 1, v);
    } else if (n == REG_PRIV) {
        return hart_debug_set_priv(h, (unsigned)v);
    } else {
        return -1;
    }
    return 0;
}

/* ---- packets ---- */

static int send_stop(struct gdbstub *s, unsigned sig, unsigned hart)
{
    char b[96];
    snprintf(b, sizeof b, "T%02xthread:%x;", sig, hart + 1);
    s->g_thread = (int)hart;
    return send_packet(s, b);
}

/* A stop at a watchpoint, before the access (gdb's RISC-V target
 * expects that: it steps over the instruction with the watchpoints
 * removed, then compares the value): watch (write), rwatch (read) or
 * awatch (access), with the watched address the access touched. */
static int send_watch_stop(struct gdbstub *s, unsigned hart, const struct trigger_hit *hit)
{
    const char *what = hit->kinds == (TRIGGER_LOAD | TRIGGER_STORE) ? "awatch"
                     : hit->kinds == TRIGGER_LOAD ? "rwatch" : "watch";
    char b[96];
    snprintf(b, sizeof b, "T05%s:%" PRIx64 ";thread:%x;", what, hit->addr, hart + 1);
    s->g_thread = (int)hart;
    return send_packet(s, b);
}

/* A thread id in a packet: -1 all, 0 any, else hart id+1. */
static int parse_thread(struct gdbstub *s, const char *p, int *hart)
{
    if (!strcmp(p, "-1") || !strcmp(p, "0")) {
        *hart = -1;
        return 0;
    }
    uint64_t v;
    if (get_hex(&p, &v) || *p || v < 1 || v > gdb_target_nharts(s->t))
        return -1;
    *hart = (int)v - 1;
    return 0;
}

static int do_memory_read(struct gdbstub *s, const char *p)
{
    uint64_t addr, len;
    if (get_hex(&p, &addr) || *p++ != ',' || get_hex(&p, &len) || *p)
        return send_packet(s, "E01");
    if (len > MEM_MAX)
        len = MEM_MAX;
    uint8_t buf[MEM_MAX];
    size_t n = s->phys ? hart_debug_read_phys(cur_hart(s), addr, buf, len)
                       : hart_debug_read(cur_hart(s), addr, buf, len);
    if (!n && len)
        return send_packet(s, "E14");
    char o[2 * MEM_MAX + 1];
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hexd[buf[i] >> 4];
        o[2 * i + 1] = hexd[buf[i] & 15];
    }
    o[2 * n] = 0;
    return send_packet(s, o);
}

static int write_mem(struct gdbstub *s, uint64_t addr, const uint8_t *buf, size_t n)
{
    struct hart *harts[32];
    unsigned nh = gdb_target_nharts(s->t);
    for (unsigned i = 0; i < nh; i++)
        harts[i] = gdb_target_hart(s->t, i);
    size_t done = s->phys ? hart_debug_write_phys(cur_hart(s), addr, buf, n, harts, nh)
                          : hart_debug_write(cur_hart(s), addr, buf, n, harts, nh);
    return done == n ? 0 : -1;
}

/* M addr,len:hex  or  X addr,len:binary (escaped). */
static int do_memory_write(struct gdbstub *s, const char *p, int binary)
{
    uint64_t addr, len;
    if (get_hex(&p, &addr) || *p++ != ',' || get_hex(&p, &len) || *p++ != ':' || len > MEM_MAX)
        return send_packet(s, "E01");
    uint8_t buf[MEM_MAX];
    const char *end = s->in + s->in_len;
    size_t n = 0;
    if (binary) {
        while (p < end && n < len) {
            char c = *p++;
            if (c == '}') {
                if (p == end)
                    return send_packet(s, "E01");
                c = (char)(*p++ ^ 0x20);
            }
            buf[n++] = (uint8_t)c;
        }
    } else {
        for (; n < len && p + 1 < end; n++, p += 2) {
            int a = hexval(p[0]), b = hexval(p[1]);
            if (a < 0 || b < 0)
                return send_packet(s, "E01");
            buf[n] = (uint8_t)(a << 4 | b);
        }
    }
    if (n != len || p != end)
        return send_packet(s, "E01");
    if (n && write_mem(s, addr, buf, n))
        return send_packet(s, "E14");
    return send_packet(s, "OK");
}

static int do_xfer(struct gdbstub *s, const char *p)
{
    const char *pre = "qXfer:features:read:", *doc;
    size_t total;
    if (strncmp(p, pre, strlen(pre)))
        return send_packet(s, "E00");
    p += strlen(pre);
    if (!strncmp(p, "target.xml:", 11)) {
        doc = target_xml;
        total = sizeof target_xml - 1;
        p += 11;
    } else if (!strncmp(p, "csr.xml:", 8)) {
        if (!s->csr_xml_len)
            s->csr_xml_len = gdb_csr_feature(cur_hart(s), s->csr_xml, sizeof s->csr_xml);
        if (!s->csr_xml_len)
            return send_packet(s, "E0e");
        doc = s->csr_xml;
        total = s->csr_xml_len;
        p += 8;
    } else {
        return send_packet(s, "E00");
    }
    uint64_t off, len;
    if (get_hex(&p, &off) || *p++ != ',' || get_hex(&p, &len) || *p)
        return send_packet(s, "E01");
    if (off > total)
        return send_packet(s, "E01");
    if (len > PKT_MAX - 8)
        len = PKT_MAX - 8;
    size_t n = total - off < len ? total - off : len;
    char o[PKT_MAX];
    o[0] = off + n < total ? 'm' : 'l';
    memcpy(o + 1, doc + off, n);
    return send_packet_n(s, o, n + 1);
}

/* qRcmd,hex: the command's output in O packets (hex), then OK. */
static int do_monitor(struct gdbstub *s, const char *p)
{
    size_t n = strlen(p);
    char cmd[512];
    if (n % 2 || n / 2 >= sizeof cmd)
        return send_packet(s, "E01");
    for (size_t i = 0; i < n / 2; i++) {
        int a = hexval(p[2 * i]), b = a < 0 ? -1 : hexval(p[2 * i + 1]);
        if (b < 0 || !(a << 4 | b))
            return send_packet(s, "E01");
        cmd[i] = (char)(a << 4 | b);
    }
    cmd[n / 2] = 0;
    struct gdb_monitor_ctx c = { .t = s->t, .hart = s->g_thread < 0 ? 0 : (unsigned)s->g_thread, .phys = &s->phys };
    char *out = gdb_monitor_run(&c, cmd);
    if (!out)
        return send_packet(s, "E0c");
    int r = 0;
    size_t len = strlen(out);
    char o[PKT_MAX];
    for (size_t off = 0; !r && off < len;) {
        size_t k = len - off < (PKT_MAX - 2) / 2 ? len - off : (PKT_MAX - 2) / 2;
        o[0] = 'O';
        for (size_t i = 0; i < k; i++) {
            o[1 + 2 * i] = hexd[(uint8_t)out[off + i] >> 4];
            o[2 + 2 * i] = hexd[out[off + i] & 15];
        }
        r = send_packet_n(s, o, 1 + 2 * k);
        off += k;
    }
    free(out);
    return r ? r : send_packet(s, "OK");
}

enum action { ACT_NONE, ACT_CONTINUE, ACT_STEP, ACT_DETACH, ACT_KILL };

/* vCont;a[:tid](;a[:tid])*: a step for one hart steps it (the others
 * stay held); otherwise all continue. */
static enum action do_vcont(struct gdbstub *s, const char *p, int *step)
{
    *step = -1;
    int any = 0;
    while (*p == ';') {
        p++;
        char a = *p++;
        if (a == 'C' || a == 'S') { /* the signal is dropped: harts have none */
            uint64_t sig;
            if (get_hex(&p, &sig))
                return ACT_NONE;
        } else if (a != 'c' && a != 's') {
            return ACT_NONE;
        }
        int h = -1;
        if (*p == ':') {
            char tid[24];
            size_t n = strcspn(++p, ";");
            if (n >= sizeof tid)
                return ACT_NONE;
            memcpy(tid, p, n);
            tid[n] = 0;
            p += n;
            if (parse_thread(s, tid, &h))
                return ACT_NONE;
        }
        if ((a == 's' || a == 'S') && *step < 0)
            *step = h >= 0 ? h : (s->g_thread < 0 ? 0 : s->g_thread);
        any = 1;
    }
    if (*p || !any)
        return ACT_NONE;
    return *step >= 0 ? ACT_STEP : ACT_CONTINUE;
}

/* One packet while the harts are held. Returns what to do next, ACT_NONE
 * to stay; -1 when the connection failed. */
static int handle(struct gdbstub *s, int *step)
{
    char *p = s->in;
    char o[1024];
    *step = -1;
    switch (p[0]) {
    case '?':
        return send_stop(s, 5, s->g_thread < 0 ? 0 : (unsigned)s->g_thread);
    case 'g': {
        char b[33 * 16 + 1];
        for (unsigned i = 0; i <= REG_PC; i++) {
            uint64_t v;
            unsigned bytes;
            reg_get(cur_hart(s), i, &v, &bytes);
            put_le(b + 16 * i, v, 8);
        }
        return send_packet(s, b);
    }
    case 'G': {
        size_t n = strlen(p + 1);
        if (n % 16 || n / 16 > REG_PC + 1)
            return send_packet(s, "E01");
        for (unsigned i = 0; i < n / 16; i++) {
            uint64_t v;
            if (get_le(p + 1 + 16 * i, 8, &v))
                return send_packet(s, "E01");
            reg_set(cur_hart(s), i, v);
        }
        return send_packet(s, "OK");
    }
    case 'p': {
        const char *q = p + 1;
        uint64_t n, v;
        unsigned bytes;
        if (get_hex(&q, &n) || *q || n > 0xffff || reg_get(cur_hart(s), (unsigned)n, &v, &bytes))
            return send_packet(s, "E01");
        put_le(o, v, bytes);
        return send_packet(s, o);
    }
    case 'P': {
        const char *q = p + 1;
        uint64_t n, v;
        unsigned bytes;
        if (get_hex(&q, &n) || *q++ != '=' || n > 0xffff || reg_get(cur_hart(s), (unsigned)n, &v, &bytes))
            return send_packet(s, "E01");
        if (strlen(q) != 2 * bytes || get_le(q, bytes, &v) || reg_set(cur_hart(s), (unsigned)n, v))
            return send_packet(s, "E01");
        return send_packet(s, "OK");
    }
    case 'm':
        return do_memory_read(s, p + 1);
    case 'M':
        return do_memory_write(s, p + 1, 0);
    case 'X':
        return do_memory_write(s, p + 1, 1);
    case 'H': {
        int h;
        if ((p[1] != 'g' && p[1] != 'c') || parse_thread(s, p + 2, &h))
            return send_packet(s, "E01");
        if (p[1] == 'g')
            s->g_thread = h < 0 ? (s->g_thread < 0 ? 0 : s->g_thread) : h;
        else
            s->c_thread = h;
        return send_packet(s, "OK");
    }
    case 'T': {
        int h;
        return send_packet(s, parse_thread(s, p + 1, &h) || h < 0 ? "E01" : "OK");
    }
    case 'c':
    case 's': {
        if (p[1]) {
            const char *q = p + 1;
            uint64_t a;
            if (get_hex(&q, &a) || *q)
                return send_packet(s, "E01");
            hart_debug_set_pc(cur_hart(s), a);
        }
        if (p[0] == 'c')
            return ACT_CONTINUE;
        *step = s->c_thread >= 0 ? s->c_thread : (s->g_thread < 0 ? 0 : s->g_thread);
        return ACT_STEP;
    }
    case 'D':
        send_packet(s, "OK");
        return ACT_DETACH;
    case 'k':
        return ACT_KILL;
    case 'Z':
    case 'z': {
        const char *q = p + 2;
        uint64_t addr, kind;
        if (p[1] < '0' || p[1] > '4')
            return send_packet(s, "");
        if (*q++ != ',' || get_hex(&q, &addr) || *q++ != ',' || get_hex(&q, &kind))
            return send_packet(s, "E01");
        if (p[1] >= '2') {
            /* Watchpoints: Z2 write, Z3 read, Z4 access; kind is the
             * length in bytes. */
            static const unsigned kinds[3] = { TRIGGER_STORE, TRIGGER_LOAD, TRIGGER_LOAD | TRIGGER_STORE };
            unsigned k = kinds[p[1] - '2'];
            if (p[0] == 'z') {
                gdb_target_remove_watchpoint(s->t, addr, kind, k);
                return send_packet(s, "OK");
            }
            int r = gdb_target_add_watchpoint(s->t, addr, kind, k);
            return send_packet(s, r == -ENOSPC ? "E0e" : r ? "E01" : "OK");
        }
        if (p[0] == 'z') {
            gdb_target_remove_breakpoint(s->t, addr);
            return send_packet(s, "OK");
        }
        return send_packet(s, gdb_target_add_breakpoint(s->t, addr) ? "E0e" : "OK");
    }
    case 'v':
        if (!strcmp(p, "vCont?"))
            return send_packet(s, "vCont;c;C;s;S");
        if (!strncmp(p, "vCont;", 6)) {
            enum action a = do_vcont(s, p + 5, step);
            return a == ACT_NONE ? send_packet(s, "E01") : (int)a;
        }
        if (!strncmp(p, "vKill", 5))
            return ACT_KILL;
        return send_packet(s, "");
    case 'q':
        if (!strncmp(p, "qSupported", 10)) {
            snprintf(o, sizeof o, "PacketSize=%x;qXfer:features:read+;QStartNoAckMode+;vContSupported+", PKT_MAX);
            return send_packet(s, o);
        }
        if (!strncmp(p, "qXfer:", 6))
            return do_xfer(s, p);
        if (!strcmp(p, "qfThreadInfo")) {
            size_t n = 0;
            o[n++] = 'm';
            for (unsigned i = 0; i < gdb_target_nharts(s->t); i++)
                n += (size_t)snprintf(o + n, sizeof o - n, "%s%x", i ? "," : "", i + 1);
            return send_packet(s, o);
        }
        if (!strcmp(p, "qsThreadInfo"))
            return send_packet(s, "l");
        if (!strcmp(p, "qC")) {
            snprintf(o, sizeof o, "QC%x", (s->g_thread < 0 ? 0 : s->g_thread) + 1);
            return send_packet(s, o);
        }
        if (!strcmp(p, "qAttached"))
            return send_packet(s, "1");
        if (!strncmp(p, "qThreadExtraInfo,", 17)) {
            int h;
            if (parse_thread(s, p + 17, &h) || h < 0)
                return send_packet(s, "E01");
            char txt[32];
            int n = snprintf(txt, sizeof txt, "hart %d", h);
            for (int i = 0; i < n; i++) {
                o[2 * i] = hexd[(uint8_t)txt[i] >> 4];
                o[2 * i + 1] = hexd[txt[i] & 15];
            }
            o[2 * n] = 0;
            return send_packet(s, o);
        }
        if (!strncmp(p, "qRcmd,", 6))
            return do_monitor(s, p + 6);
        if (!strcmp(p, "qSymbol::"))
            return send_packet(s, "OK");
        return send_packet(s, "");
    case 'Q':
        if (!strcmp(p, "QStartNoAckMode")) {
            int r = send_packet(s, "OK");
            s->no_ack = 1;
            return r;
        }
        return send_packet(s, "");
    default:
        return send_packet(s, "");
    }
}

/* While the harts run: a stop, Ctrl-C, or the client going. Returns 0
 * after the stop was reported, 1 when the connection ended (the harts run
 * on), 2 when the VM ended. */
static int wait_running(struct gdbstub *s)
{
    for (;;) {
        struct pollfd p[3] = { { s->fd, POLLIN, 0 }, { gdb_target_event_fd(s->t), POLLIN, 0 },
                               { s->quit_fd, POLLIN, 0 } };
        int has_buf = s->rpos < s->rend;
        if (!has_buf && poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        unsigned code;
        if (p[2].revents || gdb_target_ended(s->t, &code))
            return 2;
        if (p[1].revents) {
            unsigned h = gdb_target_stopped(s->t);
            struct trigger_hit hit;
            if (gdb_target_stop_hit(s->t, &hit) && hit.kind != TRIGGER_EXEC)
                return send_watch_stop(s, h, &hit) ? 1 : 0;
            return send_stop(s, 5, h) ? 1 : 0;
        }
        if (has_buf || p[0].revents) {
            int c = get_byte(s);
            if (c < 0)
                return 1;
            if (c == 0x03) {
                gdb_target_halt(s->t);
                /* A stop the harts reported meanwhile is this stop. */
                uint64_t v;
                ssize_t rd = read(gdb_target_event_fd(s->t), &v, sizeof v);
                (void)rd;
                return send_stop(s, 2, s->g_thread < 0 ? 0 : (unsigned)s->g_thread) ? 1 : 0;
            }
            /* Anything else while running (acks, stray bytes) is dropped. */
        }
    }
}

static void serve(struct gdbstub *s)
{
    s->no_ack = 0;
    s->g_thread = 0;
    s->c_thread = -1;
    s->phys = 0;
    s->out_len = 0;
    s->rpos = s->rend = 0;
    gdb_target_halt(s->t);
    for (;;) {
        enum got g = read_packet(s);
        if (g == GOT_EOF)
            break;
        if (g == GOT_INTERRUPT)
            continue; /* already held */
        int step;
        int a = handle(s, &step);
        if (a < 0)
            break;
        if (a == ACT_DETACH)
            break;
        if (a == ACT_KILL) {
            gdb_target_clear_breakpoints(s->t);
            gdb_target_resume(s->t, -1);
            if (s->cfg.kill)
                s->cfg.kill(s->cfg.opaque);
            return;
        }
        if (a == ACT_CONTINUE || a == ACT_STEP) {
            gdb_target_resume(s->t, a == ACT_STEP ? step : -1);
            int w = wait_running(s);
            if (w == 1)
                break;
            if (w == 2) {
                unsigned code = 0;
                gdb_target_ended(s->t, &code);
                char b[8];
                snprintf(b, sizeof b, "W%02x", code & 0xff);
                send_packet(s, b);
                return;
            }
        }
    }
    /* Detach, or the client went: the guest runs on without breakpoints. */
    gdb_target_clear_breakpoints(s->t);
    gdb_target_resume(s->t, -1);
}

static void *stub_thread(void *p)
{
    struct gdbstub *s = p;
    sandbox_thread_start(SANDBOX_AUX, "gdb");
    for (;;) {
        struct pollfd fds[2] = { { s->lfd, POLLIN, 0 }, { s->quit_fd, POLLIN, 0 } };
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        if (fds[1].revents)
            return NULL;
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        s->fd = fd;
        serve(s);
        close(fd);
        s->fd = -1;
    }
}

int gdbstub_start(struct gdbstub **out, const struct gdbstub_config *cfg, struct errmsg *e)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;
    struct gdbstub *s = calloc(1, sizeof *s);
    if (!s)
        return errmsg_set(e, -ENOMEM, "out of memory for the gdb stub");
    s->cfg = *cfg;
    s->t = cfg->target;
    s->fd = -1;
    s->quit_fd = -1;
    int r = parse_spec(cfg->spec, &ss, &len, s->unix_path, sizeof s->unix_path, e);
    if (r) {
        free(s);
        return r;
    }
    s->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0) {
        r = errmsg_set(e, -errno, "--gdb '%s': cannot create a socket: %s", cfg->spec, strerror(errno));
        free(s);
        return r;
    }
    int one = 1;
    if (ss.ss_family != AF_UNIX)
        setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    /* A Unix socket is born 0600, as the API's: gdb can read and write
     * guest memory, so nobody else may connect. */
    r = ss.ss_family == AF_UNIX ? unix_bind_private(s->lfd, (struct sockaddr *)&ss, len)
                                : bind(s->lfd, (struct sockaddr *)&ss, len) ? -errno : 0;
    if (r || listen(s->lfd, 1)) {
        r = r ? r : -errno;
        r = errmsg_set(e, r, "--gdb '%s': cannot listen there: %s", cfg->spec, strerror(-r));
        close(s->lfd);
        free(s);
        return r;
    }
    s->quit_fd = eventfd(0, EFD_CLOEXEC);
    if (s->quit_fd < 0 || sandbox_thread_create(&s->thread, NULL, stub_thread, s)) {
        r = errmsg_set(e, -EAGAIN, "gdb stub: cannot create its thread");
        if (s->quit_fd >= 0)
            close(s->quit_fd);
        close(s->lfd);
        if (s->unix_path[0])
            unlink(s->unix_path);
        free(s);
        return r;
    }
    *out = s;
    return 0;
}

void gdbstub_stop(struct gdbstub *s)
{
    if (!s)
        return;
    uint64_t one = 1;
    ssize_t w = write(s->quit_fd, &one, sizeof one);
    (void)w;
    pthread_join(s->thread, NULL);
    close(s->quit_fd);
    close(s->lfd);
    if (s->unix_path[0])
        unlink(s->unix_path);
    free(s);
}
