/* The two POSIX functions that qcc's generated harness.c calls and newlib's
 * semihosting runtime (librdimon) lacks, for QEMU's mps2-an386:
 *   mkdir          semihosting cannot create directories, so this fails with
 *                  ENOSYS (harness.c ignores it): the output directory must
 *                  already exist on the host;
 *   clock_gettime  from the board's CMSDK APB timer 0 (0x40000000, 32-bit,
 *                  counting down at the 25 MHz peripheral clock). Under
 *                  `qemu -icount shift=0` QEMU's virtual time advances 1 ns
 *                  per instruction, so elapsed nanoseconds = instructions.
 * newlib's <time.h> declares clock_gettime and CLOCK_MONOTONIC only with
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

#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008u)
#define TIMER0_HZ 25000000u

/* Time since the first call. Calls must come less than 2^32 ticks (171 s of
 * virtual time) apart, as they do in the harness. */
int clock_gettime(clockid_t clock_id, struct timespec *tp) {
    static uint64_t ticks;
    static uint32_t last;
    static int running;
    uint32_t now;
    (void)clock_id;
    if (!running) {
        TIMER0_RELOAD = 0xFFFFFFFFu;
        TIMER0_VALUE = 0xFFFFFFFFu;
        TIMER0_CTRL = 1u; /* enable, no interrupt */
        last = 0xFFFFFFFFu;
        running = 1;
    }
    now = TIMER0_VALUE;
    ticks += (uint32_t)(last - now);
    last = now;
    tp->tv_sec = (time_t)(ticks / TIMER0_HZ);
    tp->tv_nsec = (long)(ticks % TIMER0_HZ) * (1000000000L / TIMER0_HZ);
    return 0;
}
