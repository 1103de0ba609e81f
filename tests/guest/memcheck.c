/* memcheck: keeps a buffer in guest RAM under constant change, and a
 * running checksum of it that each write updates, then checks the
 * checksum against the whole buffer now and then. Memory that a snapshot
 * or a migration lost or mixed up shows as a mismatch.
 * Usage: memcheck MIB CHECKS — a MIB MiB buffer, CHECKS verifications of
 * 2^20 random writes each; prints "memcheck: verified N" after each and
 * exits 0, or "memcheck: MISMATCH ..." and exits 1. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: memcheck MIB CHECKS\n");
        return 2;
    }
    size_t words = (size_t)atoi(argv[1]) << 17;
    long checks = atol(argv[2]);
    uint64_t *buf = calloc(words, sizeof *buf);
    if (!buf || !words) {
        fprintf(stderr, "memcheck: cannot allocate %s MiB\n", argv[1]);
        return 2;
    }
    uint64_t sum = 0, x = 88172645463325252ull;
    for (long n = 1; n <= checks; n++) {
        for (unsigned k = 0; k < (1u << 20); k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t i = (size_t)(x % words);
            sum += x - buf[i];
            buf[i] = x;
        }
        uint64_t all = 0;
        for (size_t i = 0; i < words; i++)
            all += buf[i];
        if (all != sum) {
            printf("memcheck: MISMATCH after %ld: buffer sums to %016llx, running checksum %016llx\n", n,
                   (unsigned long long)all, (unsigned long long)sum);
            return 1;
        }
        printf("memcheck: verified %ld\n", n);
        fflush(stdout);
    }
    return 0;
}
