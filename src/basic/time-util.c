/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <time.h>

#include "time-util.h"

uint64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000u + (uint64_t) ts.tv_nsec / 1000000u;
}

int ms_left(uint64_t deadline) {
        uint64_t now = now_ms();

        if (now >= deadline)
                return 0;
        if (deadline - now > INT32_MAX)
                return INT32_MAX;
        return (int) (deadline - now);
}
