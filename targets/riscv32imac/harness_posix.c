/* The two POSIX functions that qcc's generated harness.c calls and
 * picolibc's semihosting library (libsemihost) lacks, for QEMU's RISC-V
 * virt board:
 *   mkdir          semihosting cannot create directories, so this fails with
 *                  ENOSYS (harness.c ignores it): the output directory must
 *                  already exist on the host;
 *   clock_gettime  from the `time` CSR (rdtime/rdtimeh), which QEMU's virt
 *                  board drives from its ACLINT timer at 10 MHz (the device
 *                  tree's timebase-frequency). Under `qemu -icount shift=0`
 *                  QEMU's virtual time advances 1 ns per instruction, so
 *                  elapsed nanoseconds = instructions (to 100).
 * picolibc's <time.h> declares clock_gettime and CLOCK_MONOTONIC only with
 * _POSIX_TIMERS and _POSIX_MONOTONIC_CLOCK: compile harness.c with
 * -D_POSIX_TIMERS=1 -D_POSIX_MONOTONIC_CLOCK=200112L. */
#define _POSIX_TIMERS 1
#define _POSIX_MONOTONIC_CLOCK 200112L
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

int mkdir(const char *path, mode_t mode) {
    (void)path;
    (void)mode;
    errno = ENOSYS;
    return -1;
}

#define TIMEBASE_HZ 10000000u

static uint64_t read_time(void) {
    uint32_t hi, lo, hi2;
    do {
        __asm volatile("rdtimeh %0" : "=r"(hi));
        __asm volatile("rdtime %0" : "=r"(lo));
        __asm volatile("rdtimeh %0" : "=r"(hi2));
    } while (hi != hi2);
    return ((uint64_t)hi << 32) | lo;
}

int clock_gettime(clockid_t clock_id, struct timespec *tp) {
    uint64_t t = read_time();
    (void)clock_id;
    tp->tv_sec = (time_t)(t / TIMEBASE_HZ);
    tp->tv_nsec = (long)(t % TIMEBASE_HZ) * (1000000000L / TIMEBASE_HZ);
    return 0;
}
