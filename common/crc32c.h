/* CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as used by iSCSI,
 * ext4 and leveldb. The SSE4.2 crc32 instruction where the CPU has it
 * (three streams at once), else slicing-by-8; thread-safe. */
#ifndef SL_CRC32C_H
#define SL_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Extends crc (0 to start) with buf[0..len) and returns the new value, so
 * sl_crc32c(sl_crc32c(0, a, na), b, nb) == CRC of a followed by b.
 * sl_crc32c(0, "123456789", 9) == 0xE3069283. buf may be NULL if len == 0. */
uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
