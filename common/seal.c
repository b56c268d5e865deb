/* Sealed checkpoint files (seal.h): keys, the process key, AES-256-GCM
 * chunks with their associated data, whole-buffer and streaming sealing,
 * in-place and streaming opening. */
#include "common/seal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/gcm.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha256.h>

#include "common/bytes.h"
#include "common/log.h"
#include "common/status.h"
#include "common/util.h"

#define KEY_BITS 256
#define KEY_HEX_LEN (2 * SL_SEAL_KEY_LEN)
#define KEY_FILE_MAX 1024 /* bytes read from a key file before giving up */
#define AD_DOMAIN "sluice-seal-v1"
#define KEY_ID_DOMAIN "sluice-seal-key-id-v1"
#define SHA256_LEN 32
/* domain + NUL, header, id, job id, name, index, final */
#define AD_MAX (sizeof(AD_DOMAIN) + SL_SEAL_HEAD_LEN + 8 + 4 + SL_SEAL_JOB_ID_MAX + 4 + \
                SL_SEAL_NAME_MAX + 8 + 1)

struct sl_seal_key {
    uint8_t raw[SL_SEAL_KEY_LEN];
    uint64_t id;
};

static _Atomic(sl_seal_key *) process_key;
static atomic_int warned_unsealed;

/* ---- randomness --------------------------------------------------------- */

static pthread_mutex_t rng_mu = PTHREAD_MUTEX_INITIALIZER;
static mbedtls_entropy_context rng_entropy;
static mbedtls_ctr_drbg_context rng_drbg;
static int rng_ready;

static int random_bytes(uint8_t *p, size_t n)
{
    static const char pers[] = "sluice-seal-nonce";
    int rv = SL_OK;

    pthread_mutex_lock(&rng_mu);
    if (!rng_ready) {
        mbedtls_entropy_init(&rng_entropy);
        mbedtls_ctr_drbg_init(&rng_drbg);
        if (mbedtls_ctr_drbg_seed(&rng_drbg, mbedtls_entropy_func, &rng_entropy,
                                  (const unsigned char *)pers, sizeof(pers) - 1) != 0) {
            mbedtls_ctr_drbg_free(&rng_drbg);
            mbedtls_entropy_free(&rng_entropy);
            rv = SL_EIO;
        } else {
            rng_ready = 1;
        }
    }
    if (rv == SL_OK && mbedtls_ctr_drbg_random(&rng_drbg, p, n) != 0) {
        rv = SL_EIO;
    }
    pthread_mutex_unlock(&rng_mu);
    return rv;
}

/* ---- keys --------------------------------------------------------------- */

static uint64_t key_id_of(const uint8_t raw[SL_SEAL_KEY_LEN])
{
    uint8_t sum[SHA256_LEN];
    mbedtls_sha256_context c;

    mbedtls_sha256_init(&c);
    mbedtls_sha256_starts_ret(&c, 0);
    mbedtls_sha256_update_ret(&c, (const unsigned char *)KEY_ID_DOMAIN, sizeof(KEY_ID_DOMAIN));
    mbedtls_sha256_update_ret(&c, raw, SL_SEAL_KEY_LEN);
    mbedtls_sha256_finish_ret(&c, sum);
    mbedtls_sha256_free(&c);
    return sl_get_le64(sum);
}

sl_seal_key *sl_seal_key_new(const uint8_t raw[SL_SEAL_KEY_LEN])
{
    sl_seal_key *k = malloc(sizeof(*k));

    if (k != NULL) {
        memcpy(k->raw, raw, SL_SEAL_KEY_LEN);
        k->id = key_id_of(raw);
    }
    return k;
}

void sl_seal_key_free(sl_seal_key *k)
{
    if (k != NULL) {
        mbedtls_platform_zeroize(k, sizeof(*k));
        free(k);
    }
}

uint64_t sl_seal_key_id(const sl_seal_key *k)
{
    return k->id;
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* 64 hex digits (and an optional newline) into raw. */
static int parse_hex_key(const char *s, size_t len, uint8_t raw[SL_SEAL_KEY_LEN])
{
    if (len == KEY_HEX_LEN + 1 && s[KEY_HEX_LEN] == '\n') {
        len--;
    }
    if (len != KEY_HEX_LEN) {
        return SL_EINVAL;
    }
    for (size_t i = 0; i < SL_SEAL_KEY_LEN; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return SL_EINVAL;
        }
        raw[i] = (uint8_t)(hi << 4 | lo);
    }
    return SL_OK;
}

int sl_seal_key_load(const char *path, sl_seal_key **out, char *err, size_t errlen)
{
    uint8_t raw[SL_SEAL_KEY_LEN];
    char *data = NULL;
    size_t len = 0;
    int rv = sl_read_file(path, KEY_FILE_MAX, &data, &len);

    *out = NULL;
    if (rv == SL_ENOSPC) {
        sl_errf(err, errlen, "%s: larger than %d bytes: expected 32 raw bytes or 64 hex digits",
                path, KEY_FILE_MAX);
        return SL_EINVAL;
    }
    if (rv != SL_OK) {
        sl_errf(err, errlen, "%s: cannot read: %s", path,
                rv == SL_ENOTFOUND ? "no such file" : strerror(errno));
        return SL_EINVAL;
    }
    if (len == SL_SEAL_KEY_LEN) {
        memcpy(raw, data, SL_SEAL_KEY_LEN);
    } else if (parse_hex_key(data, len, raw) != SL_OK) {
        sl_errf(err, errlen, "%s: %zu bytes: expected 32 raw bytes or 64 hex digits "
                "(and an optional newline)", path, len);
        rv = SL_EINVAL;
    }
    if (rv == SL_OK && (*out = sl_seal_key_new(raw)) == NULL) {
        sl_errf(err, errlen, "%s: out of memory", path);
        rv = SL_ENOMEM;
    }
    mbedtls_platform_zeroize(raw, sizeof(raw));
    mbedtls_platform_zeroize(data, len);
    free(data);
    return rv;
}

void sl_seal_set_process_key(sl_seal_key *k)
{
    sl_seal_key_free(atomic_exchange(&process_key, k));
}

const sl_seal_key *sl_seal_process_key(void)
{
    return atomic_load(&process_key);
}

int sl_seal_init(const sl_config *cfg, char *err, size_t errlen)
{
    const char *path = NULL;
    char why[1024];
    sl_seal_key *k = NULL;

    if (sl_config_get_string(cfg, SL_SEAL_KEY_CONFIG, &path) != SL_OK || path == NULL ||
        path[0] == '\0') {
        return SL_OK;
    }
    if (sl_seal_key_load(path, &k, why, sizeof(why)) != SL_OK) {
        sl_errf(err, errlen, "%s: %s", SL_SEAL_KEY_CONFIG, why);
        return SL_EINVAL;
    }
    sl_info("checkpoints and savepoints are encrypted (AES-256-GCM, key id %016llx from %s)",
            (unsigned long long)k->id, path);
    sl_seal_set_process_key(k);
    return SL_OK;
}

void sl_seal_warn_unsealed(const char *what)
{
    if (atomic_exchange(&warned_unsealed, 1) == 0) {
        sl_warn("%s is not encrypted (written without %s); accepted as it is "
                "(this warning is logged once)", what, SL_SEAL_KEY_CONFIG);
    }
}

/* ---- chunks ------------------------------------------------------------- */

static void make_header(const sl_seal_key *k, uint32_t chunk, uint8_t hdr[SL_SEAL_HEAD_LEN])
{
    sl_put_le32(hdr, chunk);
    sl_put_le64(hdr + 4, k->id);
}

static int ad_check(const sl_seal_ad *ad, char *err, size_t errlen)
{
    if (ad == NULL || ad->job_id == NULL || ad->name == NULL ||
        strlen(ad->job_id) > SL_SEAL_JOB_ID_MAX || strlen(ad->name) > SL_SEAL_NAME_MAX) {
        sl_errf(err, errlen, "no job id or file name to bind the sealed data to");
        return SL_EINVAL;
    }
    return SL_OK;
}

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);

    sl_put_le32(p, (uint32_t)n);
    memcpy(p + 4, s, n);
    return 4 + n;
}

/* The associated data of chunk idx; out has AD_MAX bytes. */
static size_t ad_build(const uint8_t hdr[SL_SEAL_HEAD_LEN], const sl_seal_ad *ad,
                       uint64_t idx, int final, uint8_t *out)
{
    size_t n = sizeof(AD_DOMAIN);

    memcpy(out, AD_DOMAIN, n);
    memcpy(out + n, hdr, SL_SEAL_HEAD_LEN);
    n += SL_SEAL_HEAD_LEN;
    sl_put_le64(out + n, ad->checkpoint_id);
    n += 8;
    n += put_str(out + n, ad->job_id);
    n += put_str(out + n, ad->name);
    sl_put_le64(out + n, idx);
    n += 8;
    out[n++] = final ? 1 : 0;
    return n;
}

static int gcm_open_key(mbedtls_gcm_context *g, const sl_seal_key *k)
{
    mbedtls_gcm_init(g);
    if (mbedtls_gcm_setkey(g, MBEDTLS_CIPHER_ID_AES, k->raw, KEY_BITS) != 0) {
        mbedtls_gcm_free(g);
        return SL_EIO;
    }
    return SL_OK;
}

/* Seals pt[0..n) into out: nonce, ciphertext, tag (n + overhead bytes). */
static int seal_chunk(mbedtls_gcm_context *g, const uint8_t *hdr, const sl_seal_ad *ad,
                      uint64_t idx, int final, const uint8_t *pt, size_t n, uint8_t *out)
{
    uint8_t add[AD_MAX];
    size_t alen = ad_build(hdr, ad, idx, final, add);

    if (random_bytes(out, SL_SEAL_NONCE_LEN) != SL_OK) {
        return SL_EIO;
    }
    if (mbedtls_gcm_crypt_and_tag(g, MBEDTLS_GCM_ENCRYPT, n, out, SL_SEAL_NONCE_LEN, add, alen,
                                  pt, out + SL_SEAL_NONCE_LEN, SL_SEAL_TAG_LEN,
                                  out + SL_SEAL_NONCE_LEN + n) != 0) {
        return SL_EIO;
    }
    return SL_OK;
}

/* Opens the chunk in[0..n + overhead) into out (n bytes; may be in + nonce). */
static int open_chunk(mbedtls_gcm_context *g, const uint8_t *hdr, const sl_seal_ad *ad,
                      uint64_t idx, int final, const uint8_t *in, size_t n, uint8_t *out,
                      char *err, size_t errlen)
{
    uint8_t add[AD_MAX];
    size_t alen = ad_build(hdr, ad, idx, final, add);
    int r = mbedtls_gcm_auth_decrypt(g, n, in, SL_SEAL_NONCE_LEN, add, alen,
                                     in + SL_SEAL_NONCE_LEN + n, SL_SEAL_TAG_LEN,
                                     in + SL_SEAL_NONCE_LEN, out);

    if (r == MBEDTLS_ERR_GCM_AUTH_FAILED) {
        sl_errf(err, errlen, "chunk %llu does not authenticate (another key, or the file "
                "was changed)", (unsigned long long)idx);
        return SL_EINVAL;
    }
    if (r != 0) {
        sl_errf(err, errlen, "chunk %llu: AES-GCM error -0x%04x", (unsigned long long)idx,
                (unsigned)-r);
        return SL_EIO;
    }
    return SL_OK;
}

/* Checks the header of a blob of len bytes against k; *chunk = its size. */
static int parse_header(const sl_seal_key *k, const uint8_t *hdr, uint64_t len,
                        uint32_t *chunk, char *err, size_t errlen)
{
    if (k == NULL) {
        sl_errf(err, errlen, "%s", SL_SEAL_NO_KEY_MSG);
        return SL_EINVAL;
    }
    if (len < SL_SEAL_HEAD_LEN + SL_SEAL_OVERHEAD) {
        sl_errf(err, errlen, "sealed data truncated: %llu bytes", (unsigned long long)len);
        return SL_EINVAL;
    }
    *chunk = sl_get_le32(hdr);
    if (*chunk == 0 || *chunk > SL_SEAL_CHUNK_MAX) {
        sl_errf(err, errlen, "sealed data has a bad chunk size %u", *chunk);
        return SL_EINVAL;
    }
    if (sl_get_le64(hdr + 4) != k->id) {
        sl_errf(err, errlen, "sealed with another key (key id %016llx; this daemon's key is "
                "%016llx)", (unsigned long long)sl_get_le64(hdr + 4),
                (unsigned long long)k->id);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* The plaintext length of the chunk starting rem bytes before the end of
 * a blob (chunk size c), and whether it is the last. */
static int next_chunk(uint64_t rem, uint32_t c, uint64_t idx, size_t *n, int *final,
                      char *err, size_t errlen)
{
    if (rem < SL_SEAL_OVERHEAD) {
        sl_errf(err, errlen, "sealed data truncated in chunk %llu", (unsigned long long)idx);
        return SL_EINVAL;
    }
    *final = rem - SL_SEAL_OVERHEAD <= c;
    *n = *final ? (size_t)(rem - SL_SEAL_OVERHEAD) : c;
    if (*final && *n == 0 && idx > 0) {
        sl_errf(err, errlen, "sealed data ends with an empty chunk %llu",
                (unsigned long long)idx);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* ---- whole buffers ------------------------------------------------------ */

uint64_t sl_seal_sealed_len(uint64_t n)
{
    uint64_t chunks = n == 0 ? 1 : (n + SL_SEAL_CHUNK - 1) / SL_SEAL_CHUNK;

    return SL_SEAL_HEAD_LEN + n + chunks * SL_SEAL_OVERHEAD;
}

int sl_seal_buf(const sl_seal_key *k, const sl_seal_ad *ad, const uint8_t *pt, size_t n,
                uint8_t *out, char *err, size_t errlen)
{
    mbedtls_gcm_context g;
    size_t off = 0, o = SL_SEAL_HEAD_LEN;
    uint64_t idx = 0;
    int rv;

    if ((rv = ad_check(ad, err, errlen)) != SL_OK) {
        return rv;
    }
    if ((rv = gcm_open_key(&g, k)) != SL_OK) {
        sl_errf(err, errlen, "cannot set the AES key");
        return rv;
    }
    make_header(k, SL_SEAL_CHUNK, out);
    do {
        size_t c = n - off < SL_SEAL_CHUNK ? n - off : SL_SEAL_CHUNK;
        int final = off + c == n;
        rv = seal_chunk(&g, out, ad, idx++, final, pt + off, c, out + o);
        off += c;
        o += c + SL_SEAL_OVERHEAD;
    } while (rv == SL_OK && off < n);
    if (rv != SL_OK) {
        sl_errf(err, errlen, "cannot seal: random or AES-GCM failure");
    }
    mbedtls_gcm_free(&g);
    return rv;
}

int sl_seal_open_buf(const sl_seal_key *k, const sl_seal_ad *ad, uint8_t *buf, size_t len,
                     size_t *n, char *err, size_t errlen)
{
    mbedtls_gcm_context g;
    uint8_t hdr[SL_SEAL_HEAD_LEN];
    uint32_t chunk;
    size_t off = SL_SEAL_HEAD_LEN, out = 0, c;
    uint64_t idx = 0;
    int final = 0, rv;

    *n = 0;
    if ((rv = ad_check(ad, err, errlen)) != SL_OK ||
        (rv = parse_header(k, buf, len, &chunk, err, errlen)) != SL_OK) {
        return rv;
    }
    memcpy(hdr, buf, sizeof(hdr));
    if ((rv = gcm_open_key(&g, k)) != SL_OK) {
        sl_errf(err, errlen, "cannot set the AES key");
        return rv;
    }
    while (!final) {
        if ((rv = next_chunk(len - off, chunk, idx, &c, &final, err, errlen)) != SL_OK) {
            break;
        }
        uint8_t *ct = buf + off + SL_SEAL_NONCE_LEN;
        if ((rv = open_chunk(&g, hdr, ad, idx++, final, buf + off, c, ct, err, errlen)) !=
            SL_OK) {
            break;
        }
        memmove(buf + out, ct, c);
        off += c + SL_SEAL_OVERHEAD;
        out += c;
    }
    mbedtls_gcm_free(&g);
    *n = rv == SL_OK ? out : 0;
    return rv;
}

/* Reads exactly n bytes at off. */
static int pread_exact(int fd, uint8_t *p, size_t n, uint64_t off, char *err, size_t errlen)
{
    size_t got = 0;

    while (got < n) {
        ssize_t r = pread(fd, p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            sl_errf(err, errlen, "read: %s", r < 0 ? strerror(errno) : "file shrank");
            return r < 0 ? SL_EIO : SL_EINVAL;
        }
        got += (size_t)r;
    }
    return SL_OK;
}

/* Authenticates each chunk of the blob at [off, off+len) of fd; in has
 * room for a chunk and its overhead. */
static int check_chunks(mbedtls_gcm_context *g, const uint8_t *hdr, uint32_t chunk,
                        const sl_seal_ad *ad, int fd, uint64_t off, uint64_t len, uint8_t *in,
                        char *err, size_t errlen)
{
    uint64_t pos = SL_SEAL_HEAD_LEN, idx = 0;
    size_t c;
    int final = 0, rv = SL_OK;

    while (rv == SL_OK && !final) {
        rv = next_chunk(len - pos, chunk, idx, &c, &final, err, errlen);
        if (rv == SL_OK) {
            rv = pread_exact(fd, in, c + SL_SEAL_OVERHEAD, off + pos, err, errlen);
        }
        if (rv == SL_OK) {
            rv = open_chunk(g, hdr, ad, idx++, final, in, c, in + SL_SEAL_NONCE_LEN, err,
                            errlen);
            pos += c + SL_SEAL_OVERHEAD;
        }
    }
    return rv;
}

int sl_seal_check_fd(const sl_seal_key *k, const sl_seal_ad *ad, int fd, uint64_t off,
                     uint64_t len, char *err, size_t errlen)
{
    mbedtls_gcm_context g;
    uint8_t hdr[SL_SEAL_HEAD_LEN], *in = NULL;
    uint32_t chunk;
    int rv;

    if ((rv = ad_check(ad, err, errlen)) != SL_OK) {
        return rv;
    }
    memset(hdr, 0, sizeof(hdr));
    if (len >= SL_SEAL_HEAD_LEN && (rv = pread_exact(fd, hdr, sizeof(hdr), off, err,
                                                     errlen)) != SL_OK) {
        return rv;
    }
    if ((rv = parse_header(k, hdr, len, &chunk, err, errlen)) != SL_OK) {
        return rv;
    }
    if ((in = malloc((size_t)chunk + SL_SEAL_OVERHEAD)) == NULL) {
        sl_errf(err, errlen, "out of memory");
        return SL_ENOMEM;
    }
    if ((rv = gcm_open_key(&g, k)) != SL_OK) {
        sl_errf(err, errlen, "cannot set the AES key");
        goto done;
    }
    rv = check_chunks(&g, hdr, chunk, ad, fd, off, len, in, err, errlen);
    mbedtls_gcm_free(&g);
done:
    free(in);
    return rv;
}

/* ---- streaming ---------------------------------------------------------- */

struct sl_seal_stream {
    mbedtls_gcm_context gcm;
    int gcm_ready;
    uint8_t hdr[SL_SEAL_HEAD_LEN];
    char job_id[SL_SEAL_JOB_ID_MAX + 1];
    char name[SL_SEAL_NAME_MAX + 1];
    sl_seal_ad ad;
    uint8_t *pt, *ct;
    size_t used;
    uint64_t idx;
    int status;
    sl_seal_emit_fn emit;
    void *arg;
};

int sl_seal_stream_new(const sl_seal_key *k, const sl_seal_ad *ad, sl_seal_emit_fn emit,
                       void *arg, sl_seal_stream **out)
{
    sl_seal_stream *s;
    int rv;

    *out = NULL;
    if (k == NULL || ad_check(ad, NULL, 0) != SL_OK) {
        return SL_EINVAL;
    }
    if ((s = calloc(1, sizeof(*s))) == NULL || (s->pt = malloc(SL_SEAL_CHUNK)) == NULL ||
        (s->ct = malloc(SL_SEAL_CHUNK + SL_SEAL_OVERHEAD)) == NULL) {
        rv = SL_ENOMEM;
        goto fail;
    }
    if ((rv = gcm_open_key(&s->gcm, k)) != SL_OK) {
        goto fail;
    }
    s->gcm_ready = 1;
    snprintf(s->job_id, sizeof(s->job_id), "%s", ad->job_id);
    snprintf(s->name, sizeof(s->name), "%s", ad->name);
    s->ad = (sl_seal_ad){.job_id = s->job_id, .checkpoint_id = ad->checkpoint_id,
                         .name = s->name};
    make_header(k, SL_SEAL_CHUNK, s->hdr);
    s->emit = emit;
    s->arg = arg;
    if ((rv = emit(arg, s->hdr, sizeof(s->hdr))) != SL_OK) {
        goto fail;
    }
    *out = s;
    return SL_OK;
fail:
    sl_seal_stream_free(s);
    return rv;
}

static int emit_chunk(sl_seal_stream *s, int final)
{
    int rv = seal_chunk(&s->gcm, s->hdr, &s->ad, s->idx++, final, s->pt, s->used, s->ct);

    if (rv == SL_OK) {
        rv = s->emit(s->arg, s->ct, s->used + SL_SEAL_OVERHEAD);
    }
    s->used = 0;
    if (rv != SL_OK) {
        s->status = rv;
    }
    return rv;
}

int sl_seal_stream_put(sl_seal_stream *s, const void *p, size_t n)
{
    const uint8_t *b = p;

    while (s->status == SL_OK && n > 0) {
        if (s->used == SL_SEAL_CHUNK && emit_chunk(s, 0) != SL_OK) {
            break;
        }
        size_t take = SL_SEAL_CHUNK - s->used < n ? SL_SEAL_CHUNK - s->used : n;
        memcpy(s->pt + s->used, b, take);
        s->used += take;
        b += take;
        n -= take;
    }
    return s->status;
}

int sl_seal_stream_finish(sl_seal_stream *s)
{
    return s->status != SL_OK ? s->status : emit_chunk(s, 1);
}

void sl_seal_stream_free(sl_seal_stream *s)
{
    if (s == NULL) {
        return;
    }
    if (s->gcm_ready) {
        mbedtls_gcm_free(&s->gcm);
    }
    if (s->pt != NULL) {
        mbedtls_platform_zeroize(s->pt, SL_SEAL_CHUNK);
    }
    free(s->pt);
    free(s->ct);
    free(s);
}
