// What every probe here uses: a monotonic clock in milliseconds, and an exit with the call's name
// when a system call fails.
#ifndef DOMINO_PROBE_H
#define DOMINO_PROBE_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static inline double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// _exit rather than exit: a probe may call it in a forked child.
static inline void check(long r, const char *what)
{
    if (r < 0) { perror(what); _exit(1); }
}

#endif
