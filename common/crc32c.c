/* CRC-32C: the SSE4.2 crc32 instruction on x86-64 when the CPU has it,
 * slicing-by-8 tables otherwise; the choice is made once, on first use.
 * Both give the same results (crc32c_internal.h exposes them for tests).
 *
 * Software: tab[0] is the classic byte-at-a-time table of the reflected
 * polynomial; tab[k][b] is the CRC of byte b followed by k zero bytes,
 * which lets the main loop fold eight input bytes with eight independent
 * lookups. Words are assembled byte by byte, so the code is independent of
 * host byte order and alignment.
 *
 * Hardware: one crc32 instruction takes 8 bytes but has a latency of about
 * three cycles and a throughput of one per cycle, so large buffers are cut
 * into three adjacent blocks whose CRCs are computed in the same loop (the
 * first continuing the running CRC, the other two from zero) and then
 * combined: the CRC register is linear, so continuing a register r over a
 * block B of n bytes gives shift_n(r) ^ crc_from_zero(B), where shift_n
 * (appending n zero bytes) is a linear map of the 32 register bits and is
 * applied with four 256-entry tables. There are tables for two block sizes
 * (SL_CRC32C_LONG, SL_CRC32C_SHORT), built once, on first use. */
#include "common/crc32c.h"

#include <pthread.h>
#include <string.h>

#include "common/crc32c_internal.h"

#define CRC32C_POLY 0x82F63B78u

/* ---- software: slicing-by-8 --------------------------------------------- */

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        }
        tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (int k = 1; k < 8; k++) {
            uint32_t prev = tab[k - 1][i];
            tab[k][i] = (prev >> 8) ^ tab[0][prev & 0xff];
        }
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint32_t fold8(uint32_t crc, const uint8_t *p)
{
    uint32_t lo = crc ^ le32(p);
    uint32_t hi = le32(p + 4);

    return tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^
           tab[5][(lo >> 16) & 0xff] ^ tab[4][lo >> 24] ^
           tab[3][hi & 0xff] ^ tab[2][(hi >> 8) & 0xff] ^
           tab[1][(hi >> 16) & 0xff] ^ tab[0][hi >> 24];
}

uint32_t sl_crc32c_sw(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    pthread_once(&tab_once, tab_init);
    crc = ~crc;
    while (len >= 8) {
        crc = fold8(crc, p);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        crc = (crc >> 8) ^ tab[0][(crc ^ *p) & 0xff];
        p++;
        len--;
    }
    return ~crc;
}

/* ---- hardware: SSE4.2, three interleaved streams ------------------------ */

#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#define CRC32C_HAVE_HW 1

/* shift_long[j][b]: the register after SL_CRC32C_LONG zero bytes starting
 * from byte b in byte position j of the register (likewise shift_short). */
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static pthread_once_t hw_once = PTHREAD_ONCE_INIT;

/* The register r continued over n zero bytes, a byte at a time. */
static uint32_t zeros_slow(uint32_t r, size_t n)
{
    while (n-- > 0) {
        r = (r >> 8) ^ tab[0][r & 0xff];
    }
    return r;
}

static void shift_init(uint32_t t[4][256], size_t n)
{
    uint32_t basis[32];

    for (int k = 0; k < 32; k++) {
        basis[k] = zeros_slow(UINT32_C(1) << k, n);
    }
    for (int j = 0; j < 4; j++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t v = 0;
            for (int i = 0; i < 8; i++) {
                if (b & (1u << i)) {
                    v ^= basis[8 * j + i];
                }
            }
            t[j][b] = v;
        }
    }
}

static void hw_init(void)
{
    pthread_once(&tab_once, tab_init);
    shift_init(shift_long, SL_CRC32C_LONG);
    shift_init(shift_short, SL_CRC32C_SHORT);
}

static uint32_t shift(const uint32_t t[4][256], uint32_t r)
{
    return t[0][r & 0xff] ^ t[1][(r >> 8) & 0xff] ^ t[2][(r >> 16) & 0xff] ^ t[3][r >> 24];
}

static inline uint64_t rd64(const uint8_t *p)
{
    uint64_t v;

    memcpy(&v, p, sizeof(v));
    return v;
}

/* Three blocks of n bytes each at p, p + n, p + 2n (n a multiple of 8),
 * continuing register c; t shifts by n bytes. */
__attribute__((target("sse4.2"))) static inline uint64_t
hw_triple(uint64_t c, const uint8_t *p, size_t n, const uint32_t t[4][256])
{
    uint64_t c1 = 0, c2 = 0;
    const uint8_t *end = p + n;

    do {
        c = _mm_crc32_u64(c, rd64(p));
        c1 = _mm_crc32_u64(c1, rd64(p + n));
        c2 = _mm_crc32_u64(c2, rd64(p + 2 * n));
        p += 8;
    } while (p < end);
    c = shift(t, (uint32_t)c) ^ (uint32_t)c1;
    return shift(t, (uint32_t)c) ^ (uint32_t)c2;
}

__attribute__((target("sse4.2"))) static uint32_t hw_update(uint32_t crc, const uint8_t *p,
                                                            size_t len)
{
    uint64_t c = ~crc;

    while (len > 0 && ((uintptr_t)p & 7) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p);
        p++;
        len--;
    }
    while (len >= 3 * (size_t)SL_CRC32C_LONG) {
        c = hw_triple(c, p, SL_CRC32C_LONG, shift_long);
        p += 3 * (size_t)SL_CRC32C_LONG;
        len -= 3 * (size_t)SL_CRC32C_LONG;
    }
    while (len >= 3 * (size_t)SL_CRC32C_SHORT) {
        c = hw_triple(c, p, SL_CRC32C_SHORT, shift_short);
        p += 3 * (size_t)SL_CRC32C_SHORT;
        len -= 3 * (size_t)SL_CRC32C_SHORT;
    }
    while (len >= 8) {
        c = _mm_crc32_u64(c, rd64(p));
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p);
        p++;
        len--;
    }
    return ~(uint32_t)c;
}

int sl_crc32c_hw_available(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") != 0;
}

uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&hw_once, hw_init);
    return hw_update(crc, buf, len);
}

#else /* no hardware version */

int sl_crc32c_hw_available(void)
{
    return 0;
}

uint32_t sl_crc32c_hw(uint32_t crc, const void *buf, size_t len)
{
    return sl_crc32c_sw(crc, buf, len);
}

#endif

/* ---- dispatch ----------------------------------------------------------- */

static uint32_t (*crc_impl)(uint32_t, const void *, size_t) = sl_crc32c_sw;
static pthread_once_t impl_once = PTHREAD_ONCE_INIT;

static void impl_init(void)
{
    if (sl_crc32c_hw_available()) {
        crc_impl = sl_crc32c_hw;
    }
}

uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&impl_once, impl_init);
    return crc_impl(crc, buf, len);
}
