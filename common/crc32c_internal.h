/* CRC-32C internals, for tests: the two implementations behind sl_crc32c.
 * Both have sl_crc32c's contract and give bit-identical results. */
#ifndef SL_CRC32C_INTERNAL_H
#define SL_CRC32C_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Portable slicing-by-8 (tables built on first use). */
uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len);

/* Non-zero if sl_crc32c_hw uses the SSE4.2 crc32 instruction (x86-64 with
 * SSE4.2); sl_crc32c uses it then. */
int sl_crc32c_hw_available(void);

/* The SSE4.2 version: three interleaved streams over large buffers,
 * combined with precomputed shift tables. Must be called only if
 * sl_crc32c_hw_available(); elsewhere it is sl_crc32c_sw. */
uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len);

/* Block sizes of the interleaved loops (bytes per stream), so tests can
 * cross their boundaries: 3 * SL_CRC32C_LONG and 3 * SL_CRC32C_SHORT. */
#define SL_CRC32C_LONG 8192u
#define SL_CRC32C_SHORT 256u

#endif
