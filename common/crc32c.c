/* CRC-32C, slicing-by-8.
 *
 * tab[0] is the classic byte-at-a-time table of the reflected polynomial;
 * tab[k][b] is the CRC of byte b followed by k zero bytes, which lets the
 * main loop fold eight input bytes with eight independent lookups. Words are
 * assembled byte by byte, so the code is independent of host byte order and
 * alignment. The tables are built once, on first use. */
#include "common/crc32c.h"

#include <pthread.h>

#define CRC32C_POLY 0x82F63B78u

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

uint32_t sl_crc32c(uint32_t crc, const void *buf, size_t len)
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
