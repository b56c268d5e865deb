/* A fast 64-bit hash of byte strings for in-memory tables (the hashmap
 * state backend, the leveldb write-back cache). Not stable across
 * versions and never written to disk: key groups use Flink's hash
 * (keygroup.h). Multiply-fold: 16 bytes per round through a 128-bit
 * multiply; the last 1..16 bytes are read as two words that may overlap,
 * so there is no byte loop and no memcpy call. Inline: it is on the
 * per-record path. */
#ifndef SL_HASH_H
#define SL_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t sl_hash_fold(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t sl_hash_rd64(const unsigned char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static inline uint64_t sl_hash_rd32(const unsigned char *p)
{
    uint32_t x;
    memcpy(&x, p, sizeof(x));
    return x;
}

static inline uint64_t sl_hash_bytes(const void *key, size_t n)
{
    const uint64_t k1 = UINT64_C(0x9e3779b97f4a7c15), k2 = UINT64_C(0xd6e8feb86659fd93);
    const uint64_t k3 = UINT64_C(0xa0761d6478bd642f);
    const unsigned char *p = key;
    uint64_t h = k3 ^ (n * k1), a = 0, b = 0;

    for (; n > 16; p += 16, n -= 16) {
        h = sl_hash_fold(sl_hash_rd64(p) ^ k1, sl_hash_rd64(p + 8) ^ h);
    }
    if (n >= 8) {
        a = sl_hash_rd64(p);
        b = sl_hash_rd64(p + n - 8);
    } else if (n >= 4) {
        a = sl_hash_rd32(p);
        b = sl_hash_rd32(p + n - 4);
    } else if (n > 0) {
        a = ((uint64_t)p[0] << 16) | ((uint64_t)p[n >> 1] << 8) | p[n - 1];
    }
    return sl_hash_fold(sl_hash_fold(a ^ k1, b ^ h ^ k2), h ^ k3);
}

#endif
