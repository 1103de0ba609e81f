/* fencer: keeps every hart busy with remote TLB shootdowns. THREADS
 * threads of one process each flip the protection of a shared region and
 * of a region of their own, and write to it, over and over: while the
 * others run on other harts, each mprotect makes the kernel fence their
 * TLBs through the SBI (remote sfence.vma). Thread 0 prints
 * "fencer: round N" every ROUND iterations, forever (the test that runs it
 * ends the VM), after checking that every write landed.
 * Usage: fencer THREADS ROUND */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16

static uint8_t *shared;
static long round_len;

static void *worker(void *arg)
{
    long id = (long)arg;
    long page = sysconf(_SC_PAGESIZE);
    uint8_t *own = mmap(NULL, (size_t)(PAGES * page), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (own == MAP_FAILED) {
        perror("fencer: mmap");
        exit(2);
    }
    for (unsigned long n = 1;; n++) {
        uint8_t *r = (n & 1) ? own : shared + id * page;
        size_t len = (n & 1) ? (size_t)(PAGES * page) : (size_t)page;
        if (mprotect(r, len, PROT_READ) || mprotect(r, len, PROT_READ | PROT_WRITE)) {
            perror("fencer: mprotect");
            exit(2);
        }
        for (size_t off = 0; off < len; off += (size_t)page)
            r[off] = (uint8_t)n;
        for (size_t off = 0; off < len; off += (size_t)page)
            if (r[off] != (uint8_t)n) {
                printf("fencer: MISMATCH in thread %ld at round %lu\n", id, n);
                exit(1);
            }
        if (id == 0 && n % (unsigned long)round_len == 0) {
            printf("fencer: round %lu\n", n / (unsigned long)round_len);
            fflush(stdout);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: fencer THREADS ROUND\n");
        return 2;
    }
    long threads = atol(argv[1]);
    round_len = atol(argv[2]);
    if (threads < 1 || threads > 64 || round_len < 1) {
        fprintf(stderr, "fencer: THREADS must be 1-64 and ROUND at least 1\n");
        return 2;
    }
    long page = sysconf(_SC_PAGESIZE);
    shared = mmap(NULL, (size_t)(threads * page), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("fencer: mmap");
        return 2;
    }
    pthread_t t[64];
    for (long i = 1; i < threads; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i)) {
            fprintf(stderr, "fencer: cannot create thread %ld\n", i);
            return 2;
        }
    printf("fencer: %ld threads started\n", threads);
    fflush(stdout);
    worker((void *)0);
    return 0;
}
