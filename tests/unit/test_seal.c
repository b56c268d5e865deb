/* Unit tests: common/seal.c and the sealed state files and _metadata of
 * common/state_file.c and common/checkpoint_store.c.
 *
 * Tampering tests change a sealed file and then repair its CRC trailer
 * (the CRC is no secret), so what refuses the file is the AES-GCM tag, not
 * the checksum. Every test runs in a fresh folder under /tmp and ends
 * with no process key. */
#define _GNU_SOURCE
#include <check.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/bytes.h"
#include "common/checkpoint_store.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "common/seal.h"
#include "common/state_file.h"
#include "common/status.h"
#include "common/util.h"

#define MIB (1u << 20)
#define JOB "0123456789abcdef0123456789abcdef"
#define MARKER "zebracrossing"
#define STORED_CHUNK (SL_SEAL_CHUNK + SL_SEAL_OVERHEAD)
/* bytes before the first chunk of a sealed state file */
#define FIRST_CHUNK (SL_STATE_HEADER_LEN + SL_SEAL_HEAD_LEN)

static char tmpdir[PATH_MAX];
static const sl_state_origin origin = {.job_id = JOB, .checkpoint_id = 7};

static sl_seal_key *key_of(uint8_t fill)
{
    uint8_t raw[SL_SEAL_KEY_LEN];

    memset(raw, fill, sizeof(raw));
    return sl_seal_key_new(raw);
}

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl_seal_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    sl_seal_set_process_key(key_of(0x5a));
}

static void teardown(void)
{
    sl_seal_set_process_key(NULL);
    ck_assert_int_eq(sl_fs_remove_tree(tmpdir), SL_OK);
}

static const char *tp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *tp(const char *fmt, ...)
{
    static char bufs[8][PATH_MAX];
    static int next;
    char *out = bufs[next++ % 8];
    int n = snprintf(out, PATH_MAX, "%s/", tmpdir);
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out + n, PATH_MAX - (size_t)n, fmt, ap);
    va_end(ap);
    return out;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *read_all(const char *path, size_t *n)
{
    char *data = NULL;

    ck_assert_int_eq(sl_read_file(path, 64u * MIB, &data, n), SL_OK);
    return (uint8_t *)data;
}

/* Pseudo-random plaintext with the marker word every 4 KiB. */
static uint8_t *plaintext(size_t n)
{
    uint8_t *p = malloc(n > 0 ? n : 1);
    uint32_t x = 12345;

    ck_assert_ptr_nonnull(p);
    for (size_t i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        p[i] = (uint8_t)(x >> 16);
    }
    for (size_t i = 0; i + sizeof(MARKER) < n; i += 4096) {
        memcpy(p + i, MARKER, sizeof(MARKER) - 1);
    }
    return p;
}

/* Writes pt as a state file of origin (in pieces of 100003 bytes). */
static void write_state(const char *path, const sl_state_origin *o, const uint8_t *pt,
                        size_t n, uint64_t *size, uint32_t *crc)
{
    sl_state_writer *w = NULL;

    ck_assert_int_eq(sl_state_writer_open_for(path, o, &w), SL_OK);
    for (size_t off = 0; off < n; off += 100003) {
        size_t c = n - off < 100003 ? n - off : 100003;
        ck_assert_int_eq(sl_state_writer_put(w, pt + off, c), SL_OK);
    }
    ck_assert_int_eq(sl_state_writer_close(w, size, crc), SL_OK);
}

/* Rewrites the CRC trailer of a (changed) state file; returns the CRC. */
static uint32_t fix_crc(const char *path)
{
    size_t n;
    uint8_t *b = read_all(path, &n);
    uint32_t crc = sl_crc32c(0, b, n - SL_STATE_TRAILER_LEN);

    sl_put_le32(b + n - SL_STATE_TRAILER_LEN, crc);
    write_file(path, b, n);
    free(b);
    return crc;
}

/* load_for and verify_for of path both fail, and err holds want. */
static void expect_refused(const char *path, const sl_state_origin *o, uint32_t crc,
                           const char *want)
{
    char err[512];
    uint8_t *buf = NULL;
    size_t len = 0;
    struct stat st;

    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(sl_state_file_load_for(path, o, (uint64_t)st.st_size, crc, &buf, &len, err,
                                            sizeof(err)), SL_EINVAL);
    ck_assert_ptr_null(buf);
    ck_assert_msg(strstr(err, want) != NULL, "load: \"%s\" lacks \"%s\"", err, want);
    ck_assert_int_eq(sl_state_file_verify_for(path, o, (uint64_t)st.st_size, crc, err,
                                              sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, want) != NULL, "verify: \"%s\" lacks \"%s\"", err, want);
}

static void expect_loads(const char *path, const sl_state_origin *o, uint64_t size,
                         uint32_t crc, const uint8_t *pt, size_t n)
{
    char err[512] = "";
    uint8_t *buf = NULL;
    size_t len = 0;

    ck_assert_msg(sl_state_file_load_for(path, o, size, crc, &buf, &len, err, sizeof(err)) ==
                  SL_OK, "%s", err);
    ck_assert_uint_eq(len, n);
    ck_assert(n == 0 || memcmp(buf, pt, n) == 0);
    free(buf);
    ck_assert_msg(sl_state_file_verify_for(path, o, size, crc, err, sizeof(err)) == SL_OK,
                  "%s", err);
}

/* ---- keys --------------------------------------------------------------- */

START_TEST(test_key_files)
{
    static const char hex[] = "000102030405060708090a0b0c0d0e0f"
                              "101112131415161718191A1B1C1D1E1F";
    uint8_t raw[SL_SEAL_KEY_LEN];
    sl_seal_key *a = NULL, *b = NULL;
    char err[512];

    for (int i = 0; i < SL_SEAL_KEY_LEN; i++) {
        raw[i] = (uint8_t)i;
    }
    write_file(tp("raw"), raw, sizeof(raw));
    write_file(tp("hex"), hex, 64);
    write_file(tp("hexnl"), "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n",
               65);
    ck_assert_int_eq(sl_seal_key_load(tp("raw"), &a, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(sl_seal_key_load(tp("hex"), &b, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(sl_seal_key_id(a), sl_seal_key_id(b));
    sl_seal_key_free(b);
    ck_assert_int_eq(sl_seal_key_load(tp("hexnl"), &b, err, sizeof(err)), SL_OK);
    ck_assert_uint_eq(sl_seal_key_id(a), sl_seal_key_id(b));
    sl_seal_key_free(a);
    sl_seal_key_free(b);
}
END_TEST

START_TEST(test_bad_key_files)
{
    static const struct {
        const char *name, *text;
        size_t n;
    } bad[] = {
        {"short", "0123456789012345678901234567890", 31},
        {"long", "012345678901234567890123456789012", 33},
        {"hex63", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1", 63},
        {"hexnotnl", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fx",
         65},
        {"nothex", "g00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", 64},
        {"empty", "", 0},
    };
    sl_seal_key *k = NULL;
    char err[512];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(tp("%s", bad[i].name), bad[i].text, bad[i].n);
        ck_assert_int_eq(sl_seal_key_load(tp("%s", bad[i].name), &k, err, sizeof(err)),
                         SL_EINVAL);
        ck_assert_ptr_null(k);
        ck_assert_msg(strstr(err, tp("%s", bad[i].name)) != NULL &&
                      strstr(err, "expected 32 raw bytes or 64 hex digits") != NULL, "%s", err);
    }
    ck_assert_int_eq(sl_seal_key_load(tp("missing"), &k, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "missing: cannot read") != NULL, "%s", err);
}
END_TEST

/* ---- whole buffers ------------------------------------------------------ */

static void buf_roundtrip(size_t n)
{
    const sl_seal_key *k = sl_seal_process_key();
    sl_seal_ad ad = {.job_id = JOB, .checkpoint_id = 3, .name = "_metadata"};
    uint8_t *pt = plaintext(n);
    uint64_t slen = sl_seal_sealed_len(n);
    uint8_t *s = malloc((size_t)slen);
    size_t back = 0;
    char err[256];

    ck_assert_int_eq(sl_seal_buf(k, &ad, pt, n, s, err, sizeof(err)), SL_OK);
    ck_assert_ptr_null(memmem(s, (size_t)slen, MARKER, strlen(MARKER)));
    ck_assert_msg(sl_seal_open_buf(k, &ad, s, (size_t)slen, &back, err, sizeof(err)) == SL_OK,
                  "%zu: %s", n, err);
    ck_assert_uint_eq(back, n);
    ck_assert(n == 0 || memcmp(s, pt, n) == 0);
    free(s);
    free(pt);
}

START_TEST(test_buf_roundtrip)
{
    buf_roundtrip(0);
    buf_roundtrip(1);
    buf_roundtrip(5000);
    buf_roundtrip(SL_SEAL_CHUNK);
    buf_roundtrip(2 * SL_SEAL_CHUNK);
    buf_roundtrip(2 * SL_SEAL_CHUNK + SL_SEAL_CHUNK / 2 + 3);
}
END_TEST

START_TEST(test_buf_another_key_same_id_field)
{
    sl_seal_key *other = key_of(0x11);
    sl_seal_ad ad = {.job_id = JOB, .checkpoint_id = 3, .name = "_metadata"};
    uint8_t pt[100], s[200];
    size_t back;
    char err[256];

    memset(pt, 7, sizeof(pt));
    ck_assert_int_eq(sl_seal_buf(other, &ad, pt, sizeof(pt), s, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(sl_seal_open_buf(sl_seal_process_key(), &ad, s,
                                      (size_t)sl_seal_sealed_len(sizeof(pt)), &back, err,
                                      sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "sealed with another key") != NULL, "%s", err);
    /* a header claiming our key id: the tag refuses it */
    sl_put_le64(s + 4, sl_seal_key_id(sl_seal_process_key()));
    ck_assert_int_eq(sl_seal_open_buf(sl_seal_process_key(), &ad, s,
                                      (size_t)sl_seal_sealed_len(sizeof(pt)), &back, err,
                                      sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "does not authenticate (another key, or the file was changed)"),
                  "%s", err);
    sl_seal_key_free(other);
}
END_TEST

/* Garbage of every short length and bad chunk sizes: refused, no crash. */
START_TEST(test_buf_bad_headers)
{
    sl_seal_ad ad = {.job_id = JOB, .checkpoint_id = 3, .name = "x"};
    uint8_t b[128];
    size_t back;

    for (size_t n = 0; n < sizeof(b); n++) {
        memset(b, 0xff, sizeof(b));
        sl_put_le64(b + 4, sl_seal_key_id(sl_seal_process_key()));
        ck_assert_int_eq(sl_seal_open_buf(sl_seal_process_key(), &ad, b, n, &back, NULL, 0),
                         SL_EINVAL);
        sl_put_le32(b, 0);
        ck_assert_int_eq(sl_seal_open_buf(sl_seal_process_key(), &ad, b, n, &back, NULL, 0),
                         SL_EINVAL);
        sl_put_le32(b, 16);
        ck_assert_int_eq(sl_seal_open_buf(sl_seal_process_key(), &ad, b, n, &back, NULL, 0),
                         SL_EINVAL);
    }
}
END_TEST

/* ---- state files -------------------------------------------------------- */

static void state_roundtrip(size_t n)
{
    const char *path = tp("op-count-0.state");
    uint8_t *pt = plaintext(n), *stored;
    uint64_t size;
    uint32_t crc;
    size_t sn;

    write_state(path, &origin, pt, n, &size, &crc);
    ck_assert_uint_eq(size, SL_STATE_HEADER_LEN + SL_STATE_TRAILER_LEN + sl_seal_sealed_len(n));
    stored = read_all(path, &sn);
    ck_assert_uint_eq(sl_get_le32(stored + 4), SL_STATE_VERSION_SEALED);
    ck_assert_ptr_null(memmem(stored, sn, MARKER, strlen(MARKER)));
    free(stored);
    expect_loads(path, &origin, size, crc, pt, n);
    /* without the checkpoint (or the key): the CRC still checks */
    ck_assert_int_eq(sl_state_file_verify(path, size, crc, NULL, 0), SL_OK);
    free(pt);
}

START_TEST(test_state_roundtrip)
{
    state_roundtrip(0);
    state_roundtrip(1000);
    state_roundtrip(3 * SL_SEAL_CHUNK + 12345);
    state_roundtrip(2 * SL_SEAL_CHUNK);
}
END_TEST

START_TEST(test_state_wrong_key_and_no_key)
{
    const char *path = tp("op-count-0.state");
    uint8_t *pt = plaintext(5000);
    uint64_t size;
    uint32_t crc;

    write_state(path, &origin, pt, 5000, &size, &crc);
    sl_seal_set_process_key(key_of(0x22));
    expect_refused(path, &origin, crc, "sealed with another key");
    sl_seal_set_process_key(NULL);
    expect_refused(path, &origin, crc, SL_SEAL_NO_KEY_MSG);
    ck_assert_int_eq(sl_state_file_verify(path, size, crc, NULL, 0), SL_OK);
    free(pt);
}
END_TEST

/* A flipped byte in the nonce, ciphertext and tag of each of 3 chunks, and
 * in the seal header. */
START_TEST(test_state_flipped_byte_any_chunk)
{
    const char *path = tp("op-count-0.state"), *copy = tp("orig");
    size_t n = 2 * SL_SEAL_CHUNK + 777, sn;
    uint8_t *pt = plaintext(n), *orig;
    uint64_t size;
    uint32_t crc;

    write_state(path, &origin, pt, n, &size, &crc);
    orig = read_all(path, &sn);
    write_file(copy, orig, sn);
    size_t spots[] = {SL_STATE_HEADER_LEN + 5, FIRST_CHUNK + 3, FIRST_CHUNK + 100,
                      FIRST_CHUNK + STORED_CHUNK - 1, FIRST_CHUNK + STORED_CHUNK + 2,
                      FIRST_CHUNK + STORED_CHUNK + 50000, FIRST_CHUNK + 2 * STORED_CHUNK + 1,
                      FIRST_CHUNK + 2 * STORED_CHUNK + 400, sn - SL_STATE_TRAILER_LEN - 1};
    for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
        uint8_t *b = malloc(sn);
        memcpy(b, orig, sn);
        b[spots[i]] ^= 0x01;
        write_file(path, b, sn);
        free(b);
        uint32_t c2 = fix_crc(path);
        expect_refused(path, &origin, c2, i == 0 ? "sealed with another key"
                                                 : "does not authenticate");
        /* with the CRC of the StateHandle the checksum alone refuses it */
        expect_refused(path, &origin, crc, "checksum mismatch");
    }
    free(orig);
    free(pt);
}
END_TEST

START_TEST(test_state_truncated)
{
    const char *path = tp("op-count-0.state");
    size_t n = 2 * SL_SEAL_CHUNK + 100, sn;
    uint8_t *pt = plaintext(n), *orig;
    uint64_t size;
    uint32_t crc;

    write_state(path, &origin, pt, n, &size, &crc);
    orig = read_all(path, &sn);
    /* the last chunk dropped (at a chunk boundary), and one byte less */
    size_t cuts[] = {FIRST_CHUNK + 2 * STORED_CHUNK, FIRST_CHUNK + STORED_CHUNK,
                     sn - SL_STATE_TRAILER_LEN - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        uint8_t *b = malloc(cuts[i] + SL_STATE_TRAILER_LEN);
        memcpy(b, orig, cuts[i]);
        memcpy(b + cuts[i], orig + sn - SL_STATE_TRAILER_LEN, SL_STATE_TRAILER_LEN);
        write_file(path, b, cuts[i] + SL_STATE_TRAILER_LEN);
        free(b);
        expect_refused(path, &origin, fix_crc(path), "does not authenticate");
    }
    free(orig);
    free(pt);
}
END_TEST

START_TEST(test_state_chunks_swapped)
{
    const char *path = tp("op-count-0.state");
    size_t n = 3 * SL_SEAL_CHUNK, sn;
    uint8_t *pt = plaintext(n), *b, *tmp = malloc(STORED_CHUNK);
    uint64_t size;
    uint32_t crc;

    write_state(path, &origin, pt, n, &size, &crc);
    b = read_all(path, &sn);
    memcpy(tmp, b + FIRST_CHUNK, STORED_CHUNK);
    memcpy(b + FIRST_CHUNK, b + FIRST_CHUNK + STORED_CHUNK, STORED_CHUNK);
    memcpy(b + FIRST_CHUNK + STORED_CHUNK, tmp, STORED_CHUNK);
    write_file(path, b, sn);
    expect_refused(path, &origin, fix_crc(path), "chunk 0 does not authenticate");
    free(b);
    free(tmp);
    free(pt);
}
END_TEST

START_TEST(test_state_renamed_or_other_checkpoint)
{
    const char *path = tp("op-count-0.state");
    uint8_t *pt = plaintext(3000);
    sl_state_origin other_id = {.job_id = JOB, .checkpoint_id = 8};
    sl_state_origin other_job = {.job_id = "ffffffffffffffffffffffffffffffff",
                                 .checkpoint_id = 7};
    uint64_t size;
    uint32_t crc;

    write_state(path, &origin, pt, 3000, &size, &crc);
    ck_assert_int_eq(rename(path, tp("op-count-1.state")), 0);
    expect_refused(tp("op-count-1.state"), &origin, crc, "does not authenticate");
    ck_assert_int_eq(rename(tp("op-count-1.state"), path), 0);
    expect_refused(path, &other_id, crc, "does not authenticate");
    expect_refused(path, &other_job, crc, "does not authenticate");
    /* the folder is not bound: a moved savepoint folder opens */
    ck_assert_int_eq(mkdir(tp("moved"), 0755), 0);
    ck_assert_int_eq(rename(path, tp("moved/op-count-0.state")), 0);
    expect_loads(tp("moved/op-count-0.state"), &origin, size, crc, pt, 3000);
    free(pt);
}
END_TEST

START_TEST(test_unsealed_still_loads)
{
    const char *path = tp("op-count-0.state");
    uint8_t *pt = plaintext(4000), *stored;
    uint64_t size;
    uint32_t crc;
    size_t sn;

    sl_seal_set_process_key(NULL);
    write_state(path, &origin, pt, 4000, &size, &crc);
    stored = read_all(path, &sn);
    ck_assert_uint_eq(sl_get_le32(stored + 4), SL_STATE_VERSION);
    ck_assert_ptr_nonnull(memmem(stored, sn, MARKER, strlen(MARKER)));
    free(stored);
    expect_loads(path, &origin, size, crc, pt, 4000);
    sl_seal_set_process_key(key_of(0x5a));
    expect_loads(path, &origin, size, crc, pt, 4000);
    free(pt);
}
END_TEST

/* ---- _metadata ---------------------------------------------------------- */

static void fill_md(Sluice__CheckpointMetadata *md, Sluice__StateHandle *h,
                    Sluice__StateHandle **ptrs, uint64_t id)
{
    sluice__checkpoint_metadata__init(md);
    sluice__state_handle__init(h);
    md->job_id = JOB;
    md->job_name = MARKER "-job";
    md->checkpoint_id = id;
    h->stage = MARKER "-stage";
    h->path = "op-count-0.state";
    h->size = 100;
    ptrs[0] = h;
    md->n_states = 1;
    md->states = ptrs;
}

/* Flips the byte at off of path and repairs the _metadata CRC. */
static void tamper_metadata(const char *path, size_t off)
{
    size_t n;
    uint8_t *b = read_all(path, &n);

    b[off] ^= 0x80;
    sl_put_le32(b + n - 4, sl_crc32c(0, b, n - 4));
    write_file(path, b, n);
    free(b);
}

START_TEST(test_metadata_sealed)
{
    Sluice__CheckpointMetadata md, *back = NULL;
    Sluice__StateHandle h, *ptrs[1];
    char err[512];
    size_t n;
    uint8_t *stored;

    fill_md(&md, &h, ptrs, 7);
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-7"), &md, err, sizeof(err)), SL_OK);
    stored = read_all(tp("j/chk-7/_metadata"), &n);
    ck_assert_ptr_null(memmem(stored, n, MARKER, strlen(MARKER)));
    free(stored);
    ck_assert_msg(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)) == SL_OK, "%s",
                  err);
    ck_assert_uint_eq(back->checkpoint_id, 7);
    ck_assert_str_eq(back->states[0]->stage, MARKER "-stage");
    sluice__checkpoint_metadata__free_unpacked(back, NULL);
    sl_seal_set_process_key(NULL);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, SL_SEAL_NO_KEY_MSG) != NULL, "%s", err);
    sl_seal_set_process_key(key_of(0x33));
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "sealed with another key") != NULL, "%s", err);
    ck_assert_ptr_null(back);
}
END_TEST

START_TEST(test_metadata_tampered)
{
    Sluice__CheckpointMetadata md, *back = NULL;
    Sluice__StateHandle h, *ptrs[1];
    char err[512];

    fill_md(&md, &h, ptrs, 7);
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-7"), &md, err, sizeof(err)), SL_OK);
    /* the checkpoint id in clear (offset 12), then a ciphertext byte */
    tamper_metadata(tp("j/chk-7/_metadata"), 12);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "does not authenticate") != NULL, "%s", err);
    tamper_metadata(tp("j/chk-7/_metadata"), 12);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)), SL_OK);
    sluice__checkpoint_metadata__free_unpacked(back, NULL);
    tamper_metadata(tp("j/chk-7/_metadata"), 90);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "does not authenticate") != NULL, "%s", err);
    ck_assert_ptr_null(back);
}
END_TEST

/* A whole checkpoint: _metadata plus a sealed state file, checked by
 * sl_store_verify; the state file of chk-7 copied into chk-8 does not
 * verify there. */
START_TEST(test_store_verify_sealed)
{
    Sluice__CheckpointMetadata md, *back = NULL;
    Sluice__StateHandle h, *ptrs[1];
    uint8_t *pt = plaintext(2000);
    sl_state_origin o8 = {.job_id = JOB, .checkpoint_id = 8};
    char err[512];

    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/chk-7")), SL_OK);
    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/chk-8")), SL_OK);
    fill_md(&md, &h, ptrs, 7);
    write_state(tp("j/chk-7/op-count-0.state"), &origin, pt, 2000, &h.size, &h.crc32c);
    uint64_t size7 = h.size;
    uint32_t crc7 = h.crc32c;
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-7"), &md, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-7"), &back, err, sizeof(err)), SL_OK);
    ck_assert_msg(sl_store_verify(tp("j/chk-7"), back, err, sizeof(err)) == SL_OK, "%s", err);
    sluice__checkpoint_metadata__free_unpacked(back, NULL);
    /* chk-8 with its own state file, then chk-7's copied over it */
    md.checkpoint_id = 8;
    write_state(tp("j/chk-8/op-count-0.state"), &o8, pt, 2000, &h.size, &h.crc32c);
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-8"), &md, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-8"), &back, err, sizeof(err)), SL_OK);
    ck_assert_int_eq(sl_store_verify(tp("j/chk-8"), back, err, sizeof(err)), SL_OK);
    size_t n;
    uint8_t *b = read_all(tp("j/chk-7/op-count-0.state"), &n);
    write_file(tp("j/chk-8/op-count-0.state"), b, n);
    free(b);
    ck_assert_int_eq(sl_store_verify(tp("j/chk-8"), back, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "checksum mismatch") != NULL, "%s", err);
    /* even with the copy's size and CRC in chk-8's _metadata */
    back->states[0]->size = size7;
    back->states[0]->crc32c = crc7;
    ck_assert_int_eq(sl_store_verify(tp("j/chk-8"), back, err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "does not authenticate") != NULL, "%s", err);
    sluice__checkpoint_metadata__free_unpacked(back, NULL);
    free(pt);
}
END_TEST

static Suite *seal_suite(void)
{
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("core");

    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_key_files);
    tcase_add_test(tc, test_bad_key_files);
    tcase_add_test(tc, test_buf_roundtrip);
    tcase_add_test(tc, test_buf_another_key_same_id_field);
    tcase_add_test(tc, test_buf_bad_headers);
    tcase_add_test(tc, test_state_roundtrip);
    tcase_add_test(tc, test_state_wrong_key_and_no_key);
    tcase_add_test(tc, test_state_flipped_byte_any_chunk);
    tcase_add_test(tc, test_state_truncated);
    tcase_add_test(tc, test_state_chunks_swapped);
    tcase_add_test(tc, test_state_renamed_or_other_checkpoint);
    tcase_add_test(tc, test_unsealed_still_loads);
    tcase_add_test(tc, test_metadata_sealed);
    tcase_add_test(tc, test_metadata_tampered);
    tcase_add_test(tc, test_store_verify_sealed);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(seal_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
