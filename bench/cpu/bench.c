/* CPU benchmark guest: deterministic integer, memory, branchy and
 * floating-point work (CRC-32, quicksort, a sieve, a double matrix
 * product), bare metal on the virt board. Prints a checksum on the UART
 * and exits through the syscon, so it runs unchanged under minnow and
 * qemu-system-riscv64. */
#include <stdint.h>

#define UART ((volatile uint8_t *)0x10000000)

static void putc_(char c)
{
    while (!(UART[5] & 0x20))
        ;
    UART[0] = (uint8_t)c;
}

static void puts_(const char *s)
{
    while (*s)
        putc_(*s++);
}

static void puthex(uint64_t v)
{
    for (int i = 60; i >= 0; i -= 4)
        putc_("0123456789abcdef"[(v >> i) & 15]);
}

static uint32_t crc32(const uint8_t *p, unsigned n)
{
    uint32_t c = 0xffffffffu;
    for (unsigned i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & -(c & 1));
    }
    return ~c;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void qsort_(int64_t *a, long lo, long hi)
{
    while (lo < hi) {
        int64_t p = a[(lo + hi) / 2];
        long i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p) i++;
            while (a[j] > p) j--;
            if (i <= j) {
                int64_t t = a[i]; a[i] = a[j]; a[j] = t;
                i++; j--;
            }
        }
        if (j - lo < hi - i) { qsort_(a, lo, j); lo = i; }
        else { qsort_(a, i, hi); hi = j; }
    }
}

#define NSORT 20000
#define NSIEVE 200000
#define NMAT 48
static uint8_t data[16384];
static int64_t arr[NSORT];
static uint8_t sieve[NSIEVE];
static double ma[NMAT][NMAT], mb[NMAT][NMAT], mc[NMAT][NMAT];

int main(void)
{
    uint64_t sum = 0;
    for (int round = 0; round < 40; round++) {
        for (unsigned i = 0; i < sizeof data; i++)
            data[i] = (uint8_t)next();
        sum += crc32(data, sizeof data);
        for (int i = 0; i < NSORT; i++)
            arr[i] = (int64_t)(next() % 1000000);
        qsort_(arr, 0, NSORT - 1);
        for (int i = 1; i < NSORT; i++)
            if (arr[i - 1] > arr[i])
                return 2;
        sum += (uint64_t)arr[NSORT / 2];
        for (int i = 0; i < NSIEVE; i++)
            sieve[i] = 1;
        unsigned primes = 0;
        for (int i = 2; i < NSIEVE; i++) {
            if (!sieve[i])
                continue;
            primes++;
            for (int j = 2 * i; j < NSIEVE; j += i)
                sieve[j] = 0;
        }
        sum += primes;
        for (int i = 0; i < NMAT; i++)
            for (int j = 0; j < NMAT; j++) {
                ma[i][j] = (double)(next() % 1000) / 7.0;
                mb[i][j] = (double)(next() % 1000) / 13.0;
            }
        for (int i = 0; i < NMAT; i++)
            for (int j = 0; j < NMAT; j++) {
                double s = 0;
                for (int k = 0; k < NMAT; k++)
                    s += ma[i][k] * mb[k][j];
                mc[i][j] = s;
            }
        double tr = 0;
        for (int i = 0; i < NMAT; i++)
            tr += mc[i][i];
        sum += (uint64_t)tr;
    }
    puts_("bench checksum ");
    puthex(sum);
    puts_("\n");
    return 0;
}
