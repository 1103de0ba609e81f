/* The monitor commands (see gdb_monitor.h). */
#include "vmm/gdb_monitor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/hart_debug.h"
#include "vmm/guest_inspect.h"

static const char help[] =
    "minnow monitor commands:\n"
    "  help                 this list\n"
    "  info mem             every mapped range: virtual, physical, size, permissions (rwxug)\n"
    "  info mem VADDR       the same as translate VADDR\n"
    "  translate VADDR      the page walk of VADDR: each level's PTE and the physical address\n"
    "  phys [on|off]        memory reads and writes by physical address (on) or through the MMU (off)\n"
    "  info harts           every hart: pc, privilege mode, satp\n"
    "  info regs            the current hart's registers and trap CSRs\n";

/* Ranges monitor info mem lists (a user process can map thousands). */
#define MAPPINGS_MAX 4096
#define MAX_WORDS 4
#define WORD_MAX 64

/* Splits cmd at spaces; -1 when a word is too long or there are too many. */
static int split(const char *cmd, char w[MAX_WORDS][WORD_MAX], unsigned *n)
{
    *n = 0;
    for (const char *p = cmd;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return 0;
        size_t len = strcspn(p, " \t");
        if (*n == MAX_WORDS || len >= WORD_MAX)
            return -1;
        memcpy(w[*n], p, len);
        w[(*n)++][len] = 0;
        p += len;
    }
}

static int parse_addr(const char *s, uint64_t *v)
{
    char *end;
    if (!*s || *s == '-')
        return -1;
    *v = strtoull(s, &end, 0);
    return *end ? -1 : 0;
}

static void translate(FILE *f, struct hart *h, const char *what, const char *a)
{
    uint64_t va;
    if (parse_addr(a, &va)) {
        fprintf(f, "monitor %s: '%s' is not an address (a number, 0x for hex)\n", what, a);
        return;
    }
    guest_inspect_translate(f, h, va);
}

static void run(FILE *f, const struct gdb_monitor_ctx *c, const char *cmd)
{
    struct hart *h = gdb_target_hart(c->t, c->hart);
    char w[MAX_WORDS][WORD_MAX];
    unsigned n;
    if (split(cmd, w, &n)) {
        fprintf(f, "monitor: too many or too long words in '%s' (monitor help lists the commands)\n", cmd);
        return;
    }
    if (!n || (n == 1 && !strcmp(w[0], "help"))) {
        fputs(help, f);
        return;
    }
    int info = !strcmp(w[0], "info") && n >= 2;
    if (info && !strcmp(w[1], "mem") && n == 2) {
        guest_inspect_mappings(f, h, MAPPINGS_MAX);
        return;
    }
    if (info && !strcmp(w[1], "mem") && n == 3)
        return translate(f, h, "info mem", w[2]);
    if (!strcmp(w[0], "translate")) {
        if (n != 2) {
            fprintf(f, "monitor translate: expected one virtual address (e.g. translate 0xffffffff80000000)\n");
            return;
        }
        return translate(f, h, "translate", w[1]);
    }
    if (!strcmp(w[0], "phys") && n <= 2) {
        if (n == 2 && !strcmp(w[1], "on"))
            *c->phys = 1;
        else if (n == 2 && !strcmp(w[1], "off"))
            *c->phys = 0;
        else if (n == 2) {
            fprintf(f, "monitor phys: expected on or off, not '%s'\n", w[1]);
            return;
        }
        fprintf(f, "memory accesses are by %s address\n", *c->phys ? "physical" : "virtual (the hart's MMU)");
        return;
    }
    if (info && !strcmp(w[1], "harts") && n == 2) {
        for (unsigned i = 0; i < gdb_target_nharts(c->t); i++) {
            struct hart *x = gdb_target_hart(c->t, i);
            uint64_t satp = 0;
            hart_debug_csr_read(x, 0x180, &satp);
            fprintf(f, "%c hart %u (thread %u): pc %016" PRIx64 " priv %u satp %016" PRIx64 " (%s)\n",
                    i == c->hart ? '*' : ' ', i, i + 1, hart_debug_pc(x), hart_debug_priv(x), satp,
                    guest_inspect_satp_mode((unsigned)(satp >> 60)));
        }
        return;
    }
    if (info && !strcmp(w[1], "regs") && n == 2) {
        guest_inspect_regs(f, h);
        return;
    }
    fprintf(f, "unknown monitor command '%s' (monitor help lists the commands)\n", cmd);
}

char *gdb_monitor_run(const struct gdb_monitor_ctx *c, const char *cmd)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f)
        return NULL;
    run(f, c, cmd);
    if (fclose(f))
        return NULL;
    return out;
}
