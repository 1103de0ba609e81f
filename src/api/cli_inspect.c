/* `minnow inspect` and `minnow gdb`: the guest of a running minnow seen
 * through its API socket (PUT /inspect, PUT /gdb; api_debug.h), without a
 * debugger, or with one attached to it there and then. */
#include "api/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_client.h"

static const char inspect_usage[] =
    "usage: minnow inspect --api-sock PATH [--hart N] regs|stack|mappings\n"
    "       minnow inspect --api-sock PATH [--hart N] translate VADDR\n"
    "       minnow inspect --api-sock PATH [--hart N] [--phys] mem ADDR LEN\n"
    "\n"
    "A read-only look at the guest of a minnow serving --api-sock, running or\n"
    "paused (its harts are held for the moment it takes; PUT /inspect):\n"
    "  regs       pc, privilege mode, x1-x31 and the trap CSRs and satp\n"
    "  stack      pc, ra, sp, the frame-pointer chain and the words at sp\n"
    "  mappings   every mapped range of the hart's address space (virtual,\n"
    "             physical, size, rwxug; the first 512)\n"
    "  translate  the page walk of VADDR through the hart's satp: each\n"
    "             level's PTE, and the physical address\n"
    "  mem        a hexdump of LEN bytes (1 to 4096) at ADDR, a virtual\n"
    "             address through the hart's MMU, or physical with --phys\n"
    "Addresses and lengths are numbers (0x for hex). --hart N: hart N's view\n"
    "(default 0).\n";

static const char gdb_usage[] =
    "usage: minnow gdb --api-sock PATH [--allow-remote] unix:SOCKET|tcp:HOST:PORT\n"
    "\n"
    "Starts a gdb stub in a minnow serving --api-sock, whose VM runs (or\n"
    "stays paused) until gdb attaches there (PUT /gdb): gdb-multiarch, then\n"
    "'target remote SOCKET' (or HOST:PORT). One stub per VM.\n"
    "A TCP address that is not loopback is refused unless --allow-remote:\n"
    "the stub has no authentication, whoever reaches it owns the guest.\n";

/* One call; the reply's JSON, or NULL (the refusal printed). */
static json_t *call(const char *sock, const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        fprintf(stderr, "minnow: out of memory\n");
        return NULL;
    }
    struct errmsg e = { "" };
    int status;
    size_t cap = 64 * 1024;
    char *reply = malloc(cap);
    if (!reply || api_client_request(sock, "PUT", path, text, &status, reply, cap, &e)) {
        fprintf(stderr, "minnow: %s\n", reply ? e.text : "out of memory");
        free(text);
        free(reply);
        return NULL;
    }
    free(text);
    json_t *j = json_loads(reply, 0, NULL);
    if (status / 100 != 2) {
        const char *msg = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;
        fprintf(stderr, "minnow: PUT %s: %d %s\n", path, status, msg ? msg : reply);
        json_decref(j);
        j = NULL;
    } else if (!j) {
        j = json_object(); /* 204: no body */
    }
    free(reply);
    return j;
}

static int parse_num(const char *what, const char *s, unsigned long long *v)
{
    char *end;
    if (!*s || *s == '-' || (*v = strtoull(s, &end, 0), *end)) {
        fprintf(stderr, "minnow inspect: %s '%s' is not a number (0x for hex)\n", what, s);
        return -1;
    }
    return 0;
}

int cli_inspect(int argc, char **argv)
{
    const char *sock = NULL, *pos[4];
    int npos = 0, phys = 0, allow_remote = 0;
    unsigned long long hart = 0;
    int is_gdb = !strcmp(argv[1], "gdb");
    const char *cmd = argv[1];
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(is_gdb ? gdb_usage : inspect_usage, stdout);
            return CLI_EXIT_OK;
        }
        if (!strcmp(a, "--api-sock") || (!is_gdb && !strcmp(a, "--hart"))) {
            if (i + 1 >= argc || !*argv[i + 1]) {
                fprintf(stderr, "minnow %s: %s needs a value\n", cmd, a);
                return CLI_EXIT_USAGE;
            }
            if (!strcmp(a, "--api-sock"))
                sock = argv[++i];
            else if (parse_num("--hart", argv[++i], &hart))
                return CLI_EXIT_USAGE;
        } else if (!is_gdb && !strcmp(a, "--phys")) {
            phys = 1;
        } else if (is_gdb && !strcmp(a, "--allow-remote")) {
            allow_remote = 1;
        } else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "minnow %s: unknown option '%s' (try 'minnow %s --help')\n", cmd, a, cmd);
            return CLI_EXIT_USAGE;
        } else if (npos == 4) {
            fprintf(stderr, "minnow %s: too many arguments (try 'minnow %s --help')\n", cmd, cmd);
            return CLI_EXIT_USAGE;
        } else {
            pos[npos++] = a;
        }
    }
    if (!sock) {
        fprintf(stderr, "minnow %s needs --api-sock PATH (the socket of the minnow to look into)\n", cmd);
        return CLI_EXIT_USAGE;
    }
    if (is_gdb) {
        int unix_ = npos == 1 && !strncmp(pos[0], "unix:", 5), tcp = npos == 1 && !strncmp(pos[0], "tcp:", 4);
        if (!unix_ && !tcp) {
            fprintf(stderr, "minnow gdb: expected one unix:SOCKET or tcp:HOST:PORT (where gdb connects)\n");
            return CLI_EXIT_USAGE;
        }
        json_t *j = call(sock, "/gdb", json_pack("{s:s,s:b}", unix_ ? "socket_path" : "tcp_address",
                                                 pos[0] + (unix_ ? 5 : 4), "allow_remote", allow_remote));
        if (!j)
            return CLI_EXIT_ERROR;
        json_decref(j);
        printf("gdb stub listening on %s (gdb-multiarch: target remote %s)\n", pos[0], pos[0] + (unix_ ? 5 : 4));
        return CLI_EXIT_OK;
    }
    static const struct { const char *name; int args; } reqs[] = {
        { "regs", 0 }, { "stack", 0 }, { "translate", 1 }, { "mem", 2 }, { "mappings", 0 },
    };
    int k = -1;
    for (int r = 0; npos && r < (int)(sizeof reqs / sizeof reqs[0]); r++)
        if (!strcmp(pos[0], reqs[r].name))
            k = r;
    if (k < 0) {
        fprintf(stderr, "minnow inspect: expected regs, stack, mappings, translate VADDR or mem ADDR LEN%s%s%s\n",
                npos ? ", not '" : "", npos ? pos[0] : "", npos ? "'" : "");
        return CLI_EXIT_USAGE;
    }
    if (npos - 1 != reqs[k].args) {
        fprintf(stderr, "minnow inspect: %s takes %s\n", reqs[k].name,
                k == 2 ? "one address (VADDR)" : k == 3 ? "an address and a length (ADDR LEN)" : "no argument");
        return CLI_EXIT_USAGE;
    }
    if (phys && k != 3) {
        fprintf(stderr, "minnow inspect: --phys applies to mem only\n");
        return CLI_EXIT_USAGE;
    }
    unsigned long long addr = 0, len = 0;
    if ((npos > 1 && parse_num(k == 2 ? "VADDR" : "ADDR", pos[1], &addr)) ||
        (npos > 2 && parse_num("LEN", pos[2], &len)))
        return CLI_EXIT_USAGE;
    json_t *b = json_pack("{s:s, s:I}", "request", reqs[k].name, "hart", (json_int_t)(hart > 4096 ? 4096 : hart));
    if (b && npos > 1) {
        char buf[24];
        snprintf(buf, sizeof buf, "%#llx", addr);
        json_object_set_new(b, "address", json_string(buf));
    }
    if (b && npos > 2)
        json_object_set_new(b, "length", json_integer((json_int_t)(len > (1u << 30) ? (1u << 30) : len)));
    if (b && phys)
        json_object_set_new(b, "physical", json_true());
    json_t *j = call(sock, "/inspect", b);
    if (!j)
        return CLI_EXIT_ERROR;
    const char *text = json_string_value(json_object_get(j, "text"));
    fputs(text ? text : "", stdout);
    json_decref(j);
    return CLI_EXIT_OK;
}
