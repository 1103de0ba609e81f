/* A guest program for SMP tests: several threads on several harts hammer
 * shared counters with AMOs, with LR/SC loops and under an AMO spinlock,
 * then the program checks that no increment was lost. Prints
 * "atomics ok THREADS ITERS" or "atomics FAIL ..." and exits 0 or 1. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long amo_counter, lrsc_counter, locked_counter;
static unsigned int lock;
static long iters;

static void amo_add(unsigned long *p)
{
    __asm__ volatile("amoadd.d zero, %1, (%0)" : : "r"(p), "r"(1UL) : "memory");
}

static void lrsc_add(unsigned long *p)
{
    unsigned long tmp, fail;
    __asm__ volatile("1: lr.d %0, (%2)\n"
                     "   addi %0, %0, 1\n"
                     "   sc.d %1, %0, (%2)\n"
                     "   bnez %1, 1b\n"
                     : "=&r"(tmp), "=&r"(fail) : "r"(p) : "memory");
}

static void spin_lock(unsigned int *l)
{
    unsigned int old;
    do {
        __asm__ volatile("amoswap.w.aq %0, %1, (%2)" : "=r"(old) : "r"(1u), "r"(l) : "memory");
    } while (old);
}

static void spin_unlock(unsigned int *l)
{
    __asm__ volatile("amoswap.w.rl zero, zero, (%0)" : : "r"(l) : "memory");
}

static void *worker(void *arg)
{
    (void)arg;
    for (long i = 0; i < iters; i++) {
        amo_add(&amo_counter);
        lrsc_add(&lrsc_counter);
        spin_lock(&lock);
        locked_counter++;
        spin_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int nthreads = argc > 1 ? atoi(argv[1]) : 4;
    iters = argc > 2 ? atol(argv[2]) : 100000;
    if (nthreads < 1 || nthreads > 64 || iters < 1) {
        fprintf(stderr, "usage: atomics [THREADS 1-64] [ITERATIONS]\n");
        return 2;
    }
    pthread_t t[64];
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&t[i], NULL, worker, NULL)) {
            printf("atomics FAIL: pthread_create\n");
            return 1;
        }
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    unsigned long want = (unsigned long)nthreads * (unsigned long)iters;
    if (amo_counter != want || lrsc_counter != want || locked_counter != want) {
        printf("atomics FAIL: want %lu, amo %lu lrsc %lu locked %lu\n", want, amo_counter,
               lrsc_counter, locked_counter);
        return 1;
    }
    printf("atomics ok %d %ld\n", nthreads, iters);
    return 0;
}
