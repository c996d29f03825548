/* SPDX-License-Identifier: MIT */
#ifndef HVSOCK_BASIC_TIME_UTIL_H
#define HVSOCK_BASIC_TIME_UTIL_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t now_ms(void);

/* Milliseconds left until deadline (a now_ms() value), 0 when passed;
 * clamped to INT32_MAX so the result fits poll()'s timeout. */
int ms_left(uint64_t deadline);

#endif
