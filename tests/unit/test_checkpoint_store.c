/* Unit tests: common/crc32c.c, common/state_file.c, common/checkpoint_store.c.
 *
 * CRC-32C vectors: the check value of "123456789" (0xE3069283, from the
 * CRC catalogue) and the four 32-byte patterns of RFC 3720 appendix B.4;
 * the tables are also compared with a bit-at-a-time reference written from
 * the polynomial. Every test runs in a fresh folder under /tmp. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/checkpoint_store.h"
#include "common/jobfile.h"
#include "common/names.h"
#include "common/state_file.h"
#include "common/status.h"
#include "common/util.h"

#define MIB (1u << 20)

static char tmpdir[PATH_MAX];

static void setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sl_cs_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown(void)
{
    ck_assert_int_eq(sl_fs_remove_tree(tmpdir), SL_OK);
}

/* A path under tmpdir; eight rotating buffers so several can be live. */
static const char *tp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static const char *tp(const char *fmt, ...)
{
    static char bufs[8][PATH_MAX];
    static int next;
    char *out = bufs[next++ % 8];
    size_t n = strlen(tmpdir);
    va_list ap;

    memcpy(out, tmpdir, n);
    out[n++] = '/';
    va_start(ap, fmt);
    vsnprintf(out + n, PATH_MAX - n, fmt, ap);
    va_end(ap);
    return out;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    ck_assert_ptr_nonnull(p);
    return p;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)rnd();
    }
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

static void write_raw(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *read_raw(const char *path, size_t *len)
{
    char *data = NULL;
    ck_assert_int_eq(sl_read_file(path, SIZE_MAX - 1, &data, len), SL_OK);
    return (uint8_t *)data;
}

static void flip_byte(const char *path, size_t off)
{
    size_t len;
    uint8_t *data = read_raw(path, &len);
    ck_assert_uint_lt(off, len);
    data[off] ^= 0x40;
    write_raw(path, data, len);
    free(data);
}

/* Writes a state file holding payload; returns its size and crc. */
static void write_state(const char *path, const void *payload, size_t n, uint64_t *size,
                        uint32_t *crc)
{
    sl_state_writer *w = NULL;
    ck_assert_int_eq(sl_fs_mkdir_parent(path), SL_OK); /* the writer needs its folder */
    ck_assert_int_eq(sl_state_writer_open(path, &w), SL_OK);
    ck_assert_int_eq(sl_state_writer_put(w, payload, n), SL_OK);
    ck_assert_int_eq(sl_state_writer_close(w, size, crc), SL_OK);
}

/* ---- crc32c ------------------------------------------------------------- */

static uint32_t ref_crc(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
    }
    return ~c;
}

START_TEST(test_crc32c_check_value)
{
    ck_assert_uint_eq(sl_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sl_crc32c(0, NULL, 0), 0);
    ck_assert_uint_eq(sl_crc32c(0, "a", 1), 0xC1D04330u);
}
END_TEST

START_TEST(test_crc32c_rfc3720_vectors)
{
    uint8_t b[32];

    memset(b, 0, sizeof(b));
    ck_assert_uint_eq(sl_crc32c(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof(b));
    ck_assert_uint_eq(sl_crc32c(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++) {
        b[i] = (uint8_t)i;
    }
    ck_assert_uint_eq(sl_crc32c(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++) {
        b[i] = (uint8_t)(31 - i);
    }
    ck_assert_uint_eq(sl_crc32c(0, b, 32), 0x113FDB5Cu);
}
END_TEST

START_TEST(test_crc32c_matches_bitwise_reference_at_every_length_and_offset)
{
    uint8_t buf[300];

    fill_random(buf, sizeof(buf));
    for (size_t off = 0; off < 9; off++) {
        for (size_t n = 0; off + n <= sizeof(buf); n++) {
            ck_assert_uint_eq(sl_crc32c(0, buf + off, n), ref_crc(buf + off, n));
        }
    }
}
END_TEST

START_TEST(test_crc32c_incremental_equals_one_shot)
{
    uint8_t buf[1000];
    uint32_t whole, c;

    fill_random(buf, sizeof(buf));
    whole = sl_crc32c(0, buf, sizeof(buf));
    for (size_t cut = 0; cut <= sizeof(buf); cut++) {
        c = sl_crc32c(sl_crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut);
        ck_assert_uint_eq(c, whole);
    }
    c = 0;
    for (size_t i = 0; i < sizeof(buf); i++) {
        c = sl_crc32c(c, buf + i, 1);
    }
    ck_assert_uint_eq(c, whole);
}
END_TEST

/* ---- paths -------------------------------------------------------------- */

START_TEST(test_paths_are_built_from_root_job_and_id)
{
    char out[128];

    ck_assert_int_eq(sl_store_job_root("/data/chk", "ab12", out, sizeof(out)), SL_OK);
    ck_assert_str_eq(out, "/data/chk/ab12");
    ck_assert_int_eq(sl_store_checkpoint_path("/data/chk", "ab12", 42, out, sizeof(out)), SL_OK);
    ck_assert_str_eq(out, "/data/chk/ab12/chk-42");
    ck_assert_int_eq(sl_store_checkpoint_path("/data/chk/", "ab12", UINT64_MAX, out, sizeof(out)),
                     SL_OK);
    ck_assert_str_eq(out, "/data/chk/ab12/chk-18446744073709551615");
    ck_assert_int_eq(sl_store_shared_path("/data/chk", "ab12", out, sizeof(out)), SL_OK);
    ck_assert_str_eq(out, "/data/chk/ab12/shared");
}
END_TEST

START_TEST(test_paths_reject_small_buffers_and_bad_job_ids)
{
    char out[16];

    ck_assert_int_eq(sl_store_checkpoint_path("/data/chk", "ab12", 1, out, sizeof(out)), SL_ENOSPC);
    ck_assert_int_eq(sl_store_checkpoint_path("/d", "ab12", 1, out, 13), SL_ENOSPC);
    ck_assert_int_eq(sl_store_checkpoint_path("/d", "ab12", 1, out, 14), SL_OK);
    ck_assert_str_eq(out, "/d/ab12/chk-1");
    ck_assert_int_eq(sl_store_job_root("/d", "../x", out, sizeof(out)), SL_EINVAL);
    ck_assert_int_eq(sl_store_job_root("/d", "a/b", out, sizeof(out)), SL_EINVAL);
    ck_assert_int_eq(sl_store_job_root("/d", "", out, sizeof(out)), SL_EINVAL);
    ck_assert_int_eq(sl_store_job_root("", "ab", out, sizeof(out)), SL_EINVAL);
}
END_TEST

/* ---- state files -------------------------------------------------------- */

START_TEST(test_state_file_round_trip_with_varints_and_bytes)
{
    const uint64_t vals[] = {0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, UINT64_MAX};
    size_t big_n = 600 * 1024; /* larger than the writer's buffer */
    uint8_t *big = xmalloc(big_n), *payload;
    sl_state_writer *w;
    sl_state_cursor c;
    const uint8_t *ptr;
    uint64_t size, v;
    uint32_t crc;
    size_t len, n;
    uint8_t u8;
    char err[256];

    fill_random(big, big_n);
    ck_assert_int_eq(mkdir(tp("s"), 0755), 0);
    ck_assert_int_eq(sl_state_writer_open(tp("s/op-0.state"), &w), SL_OK);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        ck_assert_int_eq(sl_state_writer_put_varint(w, vals[i]), SL_OK);
    }
    ck_assert_int_eq(sl_state_writer_put_bytes(w, "hello", 5), SL_OK);
    ck_assert_int_eq(sl_state_writer_put_bytes(w, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_state_writer_put_bytes(w, big, big_n), SL_OK);
    ck_assert_int_eq(sl_state_writer_put(w, "\x07", 1), SL_OK);
    ck_assert_str_eq(sl_state_writer_error(w), "");
    ck_assert_int_eq(sl_state_writer_close(w, &size, &crc), SL_OK);

    size_t raw_len;
    uint8_t *raw = read_raw(tp("s/op-0.state"), &raw_len);
    ck_assert_uint_eq(size, raw_len);
    ck_assert_mem_eq(raw, "SLST\x01\x00\x00\x00", 8);
    ck_assert_mem_eq(raw + raw_len - 4, "TSLS", 4);
    ck_assert_uint_eq(crc, sl_crc32c(0, raw, raw_len - 8));
    free(raw);

    ck_assert_int_eq(sl_state_file_load(tp("s/op-0.state"), size, crc, &payload, &len,
                                        err, sizeof(err)),
                     SL_OK);
    ck_assert_uint_eq(len, size - 16);
    sl_state_cursor_init(&c, payload, len);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        ck_assert_int_eq(sl_state_cursor_varint(&c, &v), SL_OK);
        ck_assert_uint_eq(v, vals[i]);
    }
    ck_assert_int_eq(sl_state_cursor_bytes(&c, &ptr, &n), SL_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_mem_eq(ptr, "hello", 5);
    ck_assert_int_eq(sl_state_cursor_bytes(&c, &ptr, &n), SL_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(sl_state_cursor_bytes(&c, &ptr, &n), SL_OK);
    ck_assert_uint_eq(n, big_n);
    ck_assert_mem_eq(ptr, big, big_n);
    ck_assert_int_eq(sl_state_cursor_u8(&c, &u8), SL_OK);
    ck_assert_uint_eq(u8, 7);
    ck_assert_uint_eq(sl_state_cursor_remaining(&c), 0);
    ck_assert_int_eq(sl_state_cursor_u8(&c, &u8), SL_EINVAL);
    ck_assert_int_eq(sl_state_file_verify(tp("s/op-0.state"), size, crc, err, sizeof(err)),
                     SL_OK);
    free(payload);
    free(big);
}
END_TEST

START_TEST(test_state_file_empty_payload_loads_as_empty)
{
    uint8_t *payload;
    uint64_t size;
    uint32_t crc;
    size_t len = 99;

    write_state(tp("empty"), NULL, 0, &size, &crc);
    ck_assert_uint_eq(size, 16);
    ck_assert_int_eq(sl_state_file_load(tp("empty"), 0, crc, &payload, &len, NULL, 0),
                     SL_OK);
    ck_assert_ptr_nonnull(payload);
    ck_assert_uint_eq(len, 0);
    free(payload);
}
END_TEST

/* A missing folder is not made: a late writer of a removed checkpoint
 * folder fails instead of bringing it back. */
START_TEST(test_state_writer_needs_its_folder)
{
    sl_state_writer *w = NULL;
    ck_assert_int_eq(sl_state_writer_open(tp("a/chk-1/x.state"), &w), SL_EIO);
    ck_assert_int_eq(errno, ENOENT);
    ck_assert_ptr_null(w);
    ck_assert(!exists(tp("a")));
}
END_TEST

START_TEST(test_state_writer_abort_removes_file)
{
    sl_state_writer *w;

    ck_assert_int_eq(sl_state_writer_open(tp("gone.state"), &w), SL_OK);
    ck_assert_int_eq(sl_state_writer_put(w, "abc", 3), SL_OK);
    ck_assert(exists(tp("gone.state")));
    sl_state_writer_abort(w);
    ck_assert(!exists(tp("gone.state")));
    sl_state_writer_abort(NULL);
}
END_TEST

START_TEST(test_state_writer_open_fails_under_a_regular_file)
{
    sl_state_writer *w = (sl_state_writer *)&w;

    write_raw(tp("plain"), "x", 1);
    ck_assert_int_eq(sl_state_writer_open(tp("plain/sub/x.state"), &w), SL_EIO);
    ck_assert_ptr_null(w);
    ck_assert_int_eq(sl_state_writer_open("", &w), SL_EINVAL);
}
END_TEST

START_TEST(test_state_writer_write_error_is_sticky_eio_with_errno_message)
{
    struct rlimit old, lim;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    static uint8_t block[300 * 1024];
    sl_state_writer *w;

    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 64 * 1024;
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
    ck_assert_int_eq(sl_state_writer_open(tp("big.state"), &w), SL_OK);
    int rv = sl_state_writer_put(w, block, sizeof(block));
    ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    ck_assert_int_eq(rv, SL_EIO);
    ck_assert_ptr_nonnull(strstr(sl_state_writer_error(w), "big.state: write: "));
    ck_assert_ptr_nonnull(strstr(sl_state_writer_error(w), strerror(EFBIG)));
    ck_assert_int_eq(sl_state_writer_put_varint(w, 1), SL_EIO);
    ck_assert_int_eq(sl_state_writer_close(w, NULL, NULL), SL_EIO);
    sl_state_writer_abort(w);
    ck_assert(!exists(tp("big.state")));
}
END_TEST

/* A 1000-byte payload file for the corruption tests. */
static void corrupt_fixture(uint64_t *size, uint32_t *crc)
{
    uint8_t payload[1000];

    fill_random(payload, sizeof(payload));
    write_state(tp("c.state"), payload, sizeof(payload), size, crc);
}

/* Loads c.state and also verifies it; both must fail with rv and a message
 * holding reason. */
static void expect_bad(uint64_t size, uint32_t crc, int rv, const char *reason)
{
    char err[256] = "";
    uint8_t *buf = (uint8_t *)err;
    size_t len;

    ck_assert_int_eq(sl_state_file_load(tp("c.state"), size, crc, &buf, &len, err,
                                        sizeof(err)),
                     rv);
    ck_assert_ptr_null(buf);
    ck_assert_msg(strstr(err, reason) != NULL, "load: \"%s\" lacks \"%s\"", err, reason);
    ck_assert_ptr_nonnull(strstr(err, "c.state"));
    err[0] = '\0';
    ck_assert_int_eq(sl_state_file_verify(tp("c.state"), size, crc, err, sizeof(err)), rv);
    ck_assert_msg(strstr(err, reason) != NULL, "verify: \"%s\" lacks \"%s\"", err, reason);
}

START_TEST(test_state_load_detects_flipped_byte_in_the_middle)
{
    uint64_t size;
    uint32_t crc;

    corrupt_fixture(&size, &crc);
    flip_byte(tp("c.state"), 500);
    expect_bad(size, crc, SL_EINVAL, "checksum mismatch: stored 0x");
    expect_bad(0, crc, SL_EINVAL, ", computed 0x");
}
END_TEST

START_TEST(test_state_load_detects_truncation_at_several_points)
{
    const size_t cuts[] = {0, 3, 8, 15, 16, 500, 1008, 1012, 1015};
    uint64_t size;
    uint32_t crc;

    corrupt_fixture(&size, &crc);
    size_t len;
    uint8_t *orig = read_raw(tp("c.state"), &len);
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        write_raw(tp("c.state"), orig, cuts[i]);
        expect_bad(size, crc, SL_EINVAL, "truncated");
        expect_bad(0, crc, SL_EINVAL, "truncated");
    }
    free(orig);
}
END_TEST

START_TEST(test_state_load_detects_wrong_expected_crc)
{
    uint64_t size;
    uint32_t crc;
    char want[64];

    corrupt_fixture(&size, &crc);
    snprintf(want, sizeof(want), "computed 0x%08x, expected 0x%08x", crc, crc ^ 1);
    expect_bad(size, crc ^ 1, SL_EINVAL, want);
}
END_TEST

START_TEST(test_state_load_detects_wrong_expected_size)
{
    uint64_t size;
    uint32_t crc;

    corrupt_fixture(&size, &crc);
    ck_assert_uint_eq(size, 1016);
    expect_bad(1015, crc, SL_EINVAL, "size 1016, expected 1015");
    expect_bad(2000, crc, SL_EINVAL, "size 1016, expected 2000");
}
END_TEST

START_TEST(test_state_load_detects_bad_magic_and_version)
{
    uint64_t size;
    uint32_t crc;

    corrupt_fixture(&size, &crc);
    flip_byte(tp("c.state"), 0);
    expect_bad(size, crc, SL_EINVAL, "bad header magic");
    flip_byte(tp("c.state"), 0);
    flip_byte(tp("c.state"), 4);
    expect_bad(size, crc, SL_EINVAL, "unsupported version");
    flip_byte(tp("c.state"), 4);
    flip_byte(tp("c.state"), 1014);
    expect_bad(size, crc, SL_EINVAL, "bad trailer magic");
    flip_byte(tp("c.state"), 1014);
    flip_byte(tp("c.state"), 1009); /* the stored crc itself */
    expect_bad(size, crc, SL_EINVAL, "checksum mismatch: stored");
}
END_TEST

START_TEST(test_state_load_missing_file_is_notfound)
{
    expect_bad(0, 0, SL_ENOTFOUND, "c.state");
}
END_TEST

START_TEST(test_state_verify_streams_across_chunk_boundaries)
{
    /* File sizes around 1 MiB multiples, so header, body and trailer split
     * between chunks in every way. */
    const size_t sizes[] = {MIB - 1, MIB, MIB + 1, MIB + 4, MIB + 8, 2 * MIB + 5};
    uint8_t *payload = xmalloc(3 * MIB);
    uint64_t size;
    uint32_t crc;
    char err[256];

    fill_random(payload, 3 * MIB);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        write_state(tp("c.state"), payload, sizes[i] - 16, &size, &crc);
        ck_assert_uint_eq(size, sizes[i]);
        ck_assert_int_eq(sl_state_file_verify(tp("c.state"), size, crc, err, sizeof(err)),
                         SL_OK);
        flip_byte(tp("c.state"), (size_t)size - 12);
        expect_bad(size, crc, SL_EINVAL, "checksum mismatch");
    }
    free(payload);
}
END_TEST

START_TEST(test_state_verify_refuses_symlink)
{
    uint64_t size;
    uint32_t crc;
    char err[256];

    write_state(tp("real.state"), "abc", 3, &size, &crc);
    ck_assert_int_eq(symlink(tp("real.state"), tp("link.state")), 0);
    ck_assert_int_eq(sl_state_file_verify(tp("link.state"), size, crc, err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "symlink"));
}
END_TEST

/* ---- cursor ------------------------------------------------------------- */

START_TEST(test_cursor_rejects_truncation_at_every_prefix)
{
    /* varint 300, bytes "abcd", u8 9 */
    const uint8_t enc[] = {0xac, 0x02, 0x04, 'a', 'b', 'c', 'd', 0x09};

    for (size_t len = 0; len < sizeof(enc); len++) {
        uint8_t *copy = xmalloc(len > 0 ? len : 1);
        sl_state_cursor c;
        const uint8_t *ptr;
        uint64_t v;
        size_t n;
        uint8_t u8;
        int failed = 0;

        memcpy(copy, enc, len);
        sl_state_cursor_init(&c, copy, len);
        failed |= sl_state_cursor_varint(&c, &v) != SL_OK;
        failed |= failed || sl_state_cursor_bytes(&c, &ptr, &n) != SL_OK;
        failed |= failed || sl_state_cursor_u8(&c, &u8) != SL_OK;
        ck_assert_msg(failed, "prefix of %zu bytes decoded", len);
        ck_assert_uint_le(c.off, len);
        free(copy);
    }
}
END_TEST

START_TEST(test_cursor_bytes_length_beyond_remaining_is_einval)
{
    const uint8_t enc[] = {0x05, 'a', 'b', 'c', 'd'};
    const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    const uint8_t overlong[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
    sl_state_cursor c;
    const uint8_t *ptr;
    uint64_t v;
    size_t n;

    sl_state_cursor_init(&c, enc, sizeof(enc));
    ck_assert_int_eq(sl_state_cursor_bytes(&c, &ptr, &n), SL_EINVAL);
    ck_assert_uint_eq(c.off, 0);
    sl_state_cursor_init(&c, huge, sizeof(huge));
    ck_assert_int_eq(sl_state_cursor_bytes(&c, &ptr, &n), SL_EINVAL);
    ck_assert_int_eq(sl_state_cursor_varint(&c, &v), SL_OK);
    ck_assert_uint_eq(v, UINT64_MAX);
    sl_state_cursor_init(&c, overlong, sizeof(overlong));
    ck_assert_int_eq(sl_state_cursor_varint(&c, &v), SL_EINVAL);
    ck_assert_uint_eq(c.off, 0);
}
END_TEST

START_TEST(test_cursor_never_reads_past_end_on_random_buffers)
{
    for (int iter = 0; iter < 500; iter++) {
        size_t len = (size_t)(rnd() % 48);
        uint8_t *buf = xmalloc(len > 0 ? len : 1); /* ASan catches over-reads */
        sl_state_cursor c;
        int fails = 0;

        fill_random(buf, len);
        for (size_t i = 0; i < len; i++) {
            if (rnd() % 3 == 0) {
                buf[i] |= 0x80; /* more continuation bytes */
            } else if (rnd() % 4 == 0) {
                buf[i] &= 0x07; /* more short lengths */
            }
        }
        sl_state_cursor_init(&c, buf, len);
        while (fails < 4) {
            size_t before = c.off;
            const uint8_t *ptr = NULL;
            uint64_t v;
            size_t n = 0;
            uint8_t u8;
            int op = (int)(rnd() % 3), rv;

            rv = op == 0 ? sl_state_cursor_u8(&c, &u8)
                 : op == 1 ? sl_state_cursor_varint(&c, &v)
                           : sl_state_cursor_bytes(&c, &ptr, &n);
            ck_assert_uint_le(c.off, len);
            if (rv != SL_OK) {
                ck_assert_int_eq(rv, SL_EINVAL);
                ck_assert_uint_eq(c.off, before);
                fails++;
                continue;
            }
            ck_assert_uint_gt(c.off, before);
            if (op == 2) {
                ck_assert(ptr >= buf && n <= len && ptr + n <= buf + len);
                ck_assert_ptr_eq(ptr + n, buf + c.off);
            }
        }
        free(buf);
    }
}
END_TEST

/* ---- metadata and verification ------------------------------------------ */

typedef struct {
    Sluice__CheckpointMetadata md;
    Sluice__StateHandle h[3];
    Sluice__StateHandle *hp[3];
    char names[3][32];
} chk_fixture;

/* Writes three state files under chk_dir and the metadata describing them
 * into f (not to disk). */
static void make_states(chk_fixture *f, const char *chk_dir)
{
    char path[PATH_MAX];

    sluice__checkpoint_metadata__init(&f->md);
    f->md.job_id = "0123456789abcdef";
    f->md.job_name = "wordcount";
    f->md.checkpoint_id = 7;
    f->md.trigger_time_ms = 1700000000123;
    f->md.complete_time_ms = 1700000000456;
    f->md.max_parallelism = 128;
    f->md.savepoint = 1;
    for (int i = 0; i < 3; i++) {
        uint8_t payload[100];
        Sluice__StateHandle *h = &f->h[i];

        sluice__state_handle__init(h);
        snprintf(f->names[i], sizeof(f->names[i]), "count-%d.state", i);
        snprintf(path, sizeof(path), "%s/%s", chk_dir, f->names[i]);
        fill_random(payload, sizeof(payload));
        write_state(path, payload, sizeof(payload) * (size_t)(i + 1) / 3, &h->size,
                    &h->crc32c);
        h->stage = "count";
        h->subtask = (uint32_t)i;
        h->parallelism = 3;
        h->path = f->names[i];
        h->kg_start = i == 2 ? -1 : i * 43;
        h->kg_end = i == 2 ? -1 : i * 43 + 42;
        f->hp[i] = h;
    }
    f->md.states = f->hp;
    f->md.n_states = 3;
}

static void expect_verify(const char *chk_dir, const Sluice__CheckpointMetadata *md,
                          int rv, const char *reason)
{
    char err[512] = "";

    ck_assert_int_eq(sl_store_verify(chk_dir, md, err, sizeof(err)), rv);
    ck_assert_msg(strstr(err, reason) != NULL, "\"%s\" lacks \"%s\"", err, reason);
}

START_TEST(test_metadata_write_read_round_trip)
{
    chk_fixture f;
    Sluice__CheckpointMetadata *md;
    char err[256];

    make_states(&f, tp("job/chk-7"));
    ck_assert_int_eq(sl_store_metadata_write(tp("job/chk-7"), &f.md, err, sizeof(err)), SL_OK);
    ck_assert(exists(tp("job/chk-7/_metadata")));
    ck_assert(!exists(tp("job/chk-7/_metadata.tmp")));
    ck_assert_int_eq(sl_store_metadata_read(tp("job/chk-7"), &md, err, sizeof(err)), SL_OK);
    ck_assert_str_eq(md->job_id, "0123456789abcdef");
    ck_assert_str_eq(md->job_name, "wordcount");
    ck_assert_uint_eq(md->checkpoint_id, 7);
    ck_assert_int_eq(md->trigger_time_ms, 1700000000123);
    ck_assert_int_eq(md->complete_time_ms, 1700000000456);
    ck_assert_uint_eq(md->max_parallelism, 128);
    ck_assert(md->savepoint);
    ck_assert_uint_eq(md->n_states, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_str_eq(md->states[i]->path, f.names[i]);
        ck_assert_str_eq(md->states[i]->stage, "count");
        ck_assert_uint_eq(md->states[i]->subtask, (unsigned)i);
        ck_assert_uint_eq(md->states[i]->size, f.h[i].size);
        ck_assert_uint_eq(md->states[i]->crc32c, f.h[i].crc32c);
        ck_assert_int_eq(md->states[i]->kg_start, f.h[i].kg_start);
        ck_assert_int_eq(md->states[i]->kg_end, f.h[i].kg_end);
    }
    ck_assert_int_eq(sl_store_verify(tp("job/chk-7"), md, err, sizeof(err)), SL_OK);
    sluice__checkpoint_metadata__free_unpacked(md, NULL);
}
END_TEST

START_TEST(test_metadata_write_creates_missing_folder)
{
    Sluice__CheckpointMetadata md = SLUICE__CHECKPOINT_METADATA__INIT, *back;

    md.checkpoint_id = 3;
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-3"), &md, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-3"), &back, NULL, 0), SL_OK);
    ck_assert_uint_eq(back->checkpoint_id, 3);
    ck_assert_uint_eq(back->n_states, 0);
    sluice__checkpoint_metadata__free_unpacked(back, NULL);
}
END_TEST

START_TEST(test_stray_metadata_tmp_is_not_a_checkpoint)
{
    Sluice__CheckpointMetadata md = SLUICE__CHECKPOINT_METADATA__INIT, *back;
    uint64_t *ids;
    size_t n;
    char err[256];

    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-1"), &md, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-2"), &md, NULL, 0), SL_OK);
    ck_assert_int_eq(rename(tp("j/chk-2/_metadata"), tp("j/chk-2/_metadata.tmp")), 0);
    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-2"), &back, err, sizeof(err)),
                     SL_ENOTFOUND);
    ck_assert_ptr_null(back);
    ck_assert_ptr_nonnull(strstr(err, "chk-2/_metadata: no such file"));
    ck_assert_int_eq(sl_store_list(tmpdir, "j", &ids, &n), SL_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(ids[0], 1);
    free(ids);
}
END_TEST

static void expect_md_bad(const char *reason)
{
    Sluice__CheckpointMetadata *md = (void *)&md;
    char err[256] = "";

    ck_assert_int_eq(sl_store_metadata_read(tp("j/chk-1"), &md, err, sizeof(err)), SL_EINVAL);
    ck_assert_ptr_null(md);
    ck_assert_msg(strstr(err, reason) != NULL, "\"%s\" lacks \"%s\"", err, reason);
    ck_assert_ptr_nonnull(strstr(err, "_metadata"));
}

START_TEST(test_corrupt_metadata_is_detected)
{
    chk_fixture f;
    uint8_t *orig, *copy;
    size_t len;

    make_states(&f, tp("j/chk-1"));
    ck_assert_int_eq(sl_store_metadata_write(tp("j/chk-1"), &f.md, NULL, 0), SL_OK);
    orig = read_raw(tp("j/chk-1/_metadata"), &len);
    copy = xmalloc(len);

    memcpy(copy, orig, len);
    copy[len / 2] ^= 1;
    write_raw(tp("j/chk-1/_metadata"), copy, len);
    expect_md_bad("checksum mismatch: stored 0x");

    write_raw(tp("j/chk-1/_metadata"), orig, len - 1);
    expect_md_bad("truncated");
    write_raw(tp("j/chk-1/_metadata"), orig, 10);
    expect_md_bad("truncated");
    write_raw(tp("j/chk-1/_metadata"), orig, 0);
    expect_md_bad("truncated");

    memcpy(copy, orig, len);
    copy[0] = 'X';
    write_raw(tp("j/chk-1/_metadata"), copy, len);
    expect_md_bad("bad magic");

    memcpy(copy, orig, len);
    copy[4] = 2;
    write_raw(tp("j/chk-1/_metadata"), copy, len);
    expect_md_bad("unsupported version 2");

    memcpy(copy, orig, len);
    copy[8] -= 1;
    write_raw(tp("j/chk-1/_metadata"), copy, len);
    expect_md_bad("length");

    free(copy);
    free(orig);
}
END_TEST

START_TEST(test_metadata_with_valid_frame_but_bad_protobuf_is_einval)
{
    /* field 8 (states), wire type 2, length 100 with 1 byte present */
    const uint8_t pb[] = {0x42, 0x64, 0x00};
    uint8_t file[12 + sizeof(pb) + 4] = {'S', 'L', 'M', 'D', 1, 0, 0, 0, sizeof(pb), 0, 0, 0};
    uint32_t crc;

    memcpy(file + 12, pb, sizeof(pb));
    crc = sl_crc32c(0, file, 12 + sizeof(pb));
    for (int i = 0; i < 4; i++) {
        file[12 + sizeof(pb) + i] = (uint8_t)(crc >> (8 * i));
    }
    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/chk-1")), SL_OK);
    write_raw(tp("j/chk-1/_metadata"), file, sizeof(file));
    expect_md_bad("malformed");
}
END_TEST

START_TEST(test_verify_catches_missing_state_file)
{
    chk_fixture f;

    make_states(&f, tp("j/chk-1"));
    ck_assert_int_eq(unlink(tp("j/chk-1/count-1.state")), 0);
    expect_verify(tp("j/chk-1"), &f.md, SL_ENOTFOUND, "count-1.state");
}
END_TEST

START_TEST(test_verify_catches_modified_state_file)
{
    chk_fixture f;

    make_states(&f, tp("j/chk-1"));
    flip_byte(tp("j/chk-1/count-2.state"), 40);
    expect_verify(tp("j/chk-1"), &f.md, SL_EINVAL, "count-2.state: checksum mismatch");
}
END_TEST

START_TEST(test_verify_catches_size_and_crc_that_differ_from_metadata)
{
    chk_fixture f;

    make_states(&f, tp("j/chk-1"));
    f.h[0].size += 1;
    expect_verify(tp("j/chk-1"), &f.md, SL_EINVAL, "count-0.state: truncated: size");
    f.h[0].size -= 1;
    f.h[1].crc32c ^= 0x100;
    expect_verify(tp("j/chk-1"), &f.md, SL_EINVAL, "expected 0x");
    f.h[1].crc32c ^= 0x100;
    f.h[2].size = 3;
    expect_verify(tp("j/chk-1"), &f.md, SL_EINVAL, "bad size");
}
END_TEST

START_TEST(test_verify_rejects_paths_that_are_not_plain_names)
{
    const char *bad[] = {"../chk-1/count-0.state", "..", ".", "", "sub/x.state",
                         "/etc/passwd", "a..b"};
    chk_fixture f;

    /* A real file the escaping path would reach. */
    make_states(&f, tp("j/chk-1"));
    make_states(&f, tp("j/chk-2"));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        f.h[0].path = (char *)bad[i];
        expect_verify(tp("j/chk-2"), &f.md, SL_EINVAL, "bad path");
    }
    f.h[0].path = f.names[0];
    expect_verify(tp("j/chk-2"), &f.md, SL_OK, "");
    ck_assert(sl_store_state_name_ok("op-1_kg-0-63.state"));
}
END_TEST

/* 1 if a job whose sink stage is called `name` passes the job-file check. */
static int stage_name_accepted(const char *name)
{
    char text[1024], err[512] = "";
    sl_job_spec *job = NULL;
    snprintf(text, sizeof(text),
             "name: t\npipeline:\n  - name: lines\n    source: file\n    path: /in\n"
             "  - name: \"%s\"\n    sink: print\n",
             name);
    int rv = sl_job_parse("job.yaml", text, strlen(text), 0, &job, err, sizeof(err));
    sl_job_free(job);
    return rv == SL_OK;
}

/* One rule for names: every stage name the job file accepts gives state
 * files (op-<stage>-<subtask>.state) the store accepts, and the store's
 * check is sl_name_valid. A stage called "cnt..v2" used to pass the job
 * file and then fail every checkpoint. */
START_TEST(test_accepted_stage_names_give_valid_state_files)
{
    const char *names[] = {"counts", "cnt..v2", "a..", "cnt.v2", "x-1", "_u", "9lives",
                           "a.b.c.", "..", ".", "-x", "a/b", "a b", "caf\xc3\xa9", "a\\b"};
    char state[512];
    int accepted = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (unsigned sub = 0; sub < 2; sub++) {
            snprintf(state, sizeof(state), "op-%s-%u.state", names[i], sub * 32767);
            if (stage_name_accepted(names[i]))
                ck_assert_msg(sl_store_state_name_ok(state), "stage '%s' accepted, state file '%s' "
                              "refused", names[i], state);
            ck_assert_int_eq(sl_store_state_name_ok(state), sl_name_valid(state));
        }
        accepted += stage_name_accepted(names[i]);
        ck_assert_int_eq(sl_store_state_name_ok(names[i]), sl_name_valid(names[i]));
    }
    ck_assert_int_eq(accepted, 6);
    ck_assert(!stage_name_accepted("cnt..v2"));
    ck_assert(stage_name_accepted("cnt.v2"));
}
END_TEST

/* The rule itself (names.h). */
START_TEST(test_name_rule)
{
    char longest[SL_NAME_MAX + 2];
    const char *good[] = {"a", "op-counts-0.state", "0123456789abcdef", "_x.y-z", "a.b."};
    const char *bad[] = {"", "..", ".", ".hidden", "-x", "a..b", "a/b", "a b", "a\tb",
                         "caf\xc3\xa9", "x..", "op-cnt..v2-0.state"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(sl_name_valid(good[i]), "'%s' refused", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(!sl_name_valid(bad[i]), "'%s' accepted", bad[i]);
    ck_assert(!sl_name_valid(NULL));
    ck_assert_str_eq(sl_name_problem("a..b"), "may not contain '..'");
    ck_assert_str_eq(sl_name_problem(""), "is empty");
    memset(longest, 'n', SL_NAME_MAX);
    longest[SL_NAME_MAX] = '\0';
    ck_assert(sl_name_valid(longest));
    longest[SL_NAME_MAX] = 'n';
    longest[SL_NAME_MAX + 1] = '\0';
    ck_assert_str_eq(sl_name_problem(longest), "is longer than 255 bytes");
}
END_TEST

/* ---- listing ------------------------------------------------------------ */

static void mk_complete(const char *rel)
{
    Sluice__CheckpointMetadata md = SLUICE__CHECKPOINT_METADATA__INIT;
    ck_assert_int_eq(sl_store_metadata_write(tp("%s", rel), &md, NULL, 0), SL_OK);
}

static void list_fixture(void)
{
    const char *complete[] = {"j/chk-10", "j/chk-9", "j/chk-100", "j/chk-1", "j/chk-2",
                              "j/chk-007", "j/chk-abc", "j/chk--1", "j/savepoint-5",
                              "j/chk-99999999999999999999"};

    for (size_t i = 0; i < sizeof(complete) / sizeof(complete[0]); i++) {
        mk_complete(complete[i]);
    }
    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/chk-3")), SL_OK); /* partial */
    write_raw(tp("j/chk-3/_metadata.tmp"), "x", 1);
    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/chk-11")), SL_OK); /* empty */
    write_raw(tp("j/chk-4"), "x", 1);                   /* a file */
    ck_assert_int_eq(symlink(tp("j/chk-1"), tp("j/chk-5")), 0);
    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/chk-6/_metadata")), SL_OK); /* not a file */
    ck_assert_int_eq(sl_fs_mkdir_p(tp("j/shared")), SL_OK);
}

START_TEST(test_list_returns_complete_checkpoints_sorted_numerically)
{
    const uint64_t want[] = {1, 2, 9, 10, 100};
    uint64_t *ids;
    size_t n;

    list_fixture();
    ck_assert_int_eq(sl_store_list(tmpdir, "j", &ids, &n), SL_OK);
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ids[i], want[i]);
    }
    free(ids);
}
END_TEST

START_TEST(test_list_all_includes_incomplete_checkpoints)
{
    const uint64_t want[] = {1, 2, 3, 6, 9, 10, 11, 100};
    uint64_t *ids;
    size_t n;

    list_fixture();
    ck_assert_int_eq(sl_store_list_all(tmpdir, "j", &ids, &n), SL_OK);
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < n; i++) {
        ck_assert_uint_eq(ids[i], want[i]);
    }
    free(ids);
}
END_TEST

START_TEST(test_list_of_missing_job_is_empty)
{
    uint64_t *ids = (uint64_t *)&ids;
    size_t n = 5;

    ck_assert_int_eq(sl_store_list(tmpdir, "nojob", &ids, &n), SL_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_ptr_null(ids);
    ck_assert_int_eq(sl_store_list(tmpdir, "../x", &ids, &n), SL_EINVAL);
}
END_TEST

/* ---- removal ------------------------------------------------------------ */

START_TEST(test_remove_tree_deletes_nested_tree)
{
    ck_assert_int_eq(sl_fs_mkdir_p(tp("t/a/b/c/d")), SL_OK);
    write_raw(tp("t/top.txt"), "x", 0);
    ck_assert_int_eq(sl_fs_mkdir_p(tp("t/a/empty")), SL_OK);
    write_raw(tp("t/a/one"), "1", 1);
    write_raw(tp("t/a/b/c/d/deep"), "2", 1);
    for (int i = 0; i < 200; i++) {
        write_raw(tp("t/a/b/f%d", i), "3", 1);
    }
    ck_assert_int_eq(sl_fs_remove_tree(tp("t")), SL_OK);
    ck_assert(!exists(tp("t")));
    ck_assert_int_eq(sl_fs_remove_tree(tp("t")), SL_OK); /* missing is fine */
    write_raw(tp("file"), "x", 1);
    ck_assert_int_eq(sl_fs_remove_tree(tp("file")), SL_OK);
    ck_assert(!exists(tp("file")));
    ck_assert_int_eq(sl_fs_remove_tree(""), SL_EINVAL);
    ck_assert_int_eq(sl_fs_remove_tree("/"), SL_EINVAL);
}
END_TEST

START_TEST(test_remove_tree_does_not_follow_symlink_to_outside_folder)
{
    ck_assert_int_eq(sl_fs_mkdir_p(tp("outside/sub")), SL_OK);
    write_raw(tp("outside/keep.txt"), "k", 1);
    write_raw(tp("outside/sub/keep2.txt"), "k", 1);
    ck_assert_int_eq(sl_fs_mkdir_p(tp("t/a")), SL_OK);
    ck_assert_int_eq(symlink(tp("outside"), tp("t/a/link")), 0);
    ck_assert_int_eq(symlink(tp("outside/keep.txt"), tp("t/filelink")), 0);
    ck_assert_int_eq(symlink(tp("outside"), tp("toplink")), 0);

    ck_assert_int_eq(sl_fs_remove_tree(tp("t")), SL_OK);
    ck_assert(!exists(tp("t")));
    ck_assert_int_eq(sl_fs_remove_tree(tp("toplink/")), SL_OK);
    ck_assert(!exists(tp("toplink")));
    ck_assert(exists(tp("outside/keep.txt")));
    ck_assert(exists(tp("outside/sub/keep2.txt")));
}
END_TEST

static Suite *checkpoint_store_suite(void)
{
    Suite *s = suite_create("checkpoint_store");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_crc32c_check_value);
    tcase_add_test(tc, test_crc32c_rfc3720_vectors);
    tcase_add_test(tc, test_crc32c_matches_bitwise_reference_at_every_length_and_offset);
    tcase_add_test(tc, test_crc32c_incremental_equals_one_shot);
    tcase_add_test(tc, test_paths_are_built_from_root_job_and_id);
    tcase_add_test(tc, test_paths_reject_small_buffers_and_bad_job_ids);
    tcase_add_test(tc, test_state_file_round_trip_with_varints_and_bytes);
    tcase_add_test(tc, test_state_file_empty_payload_loads_as_empty);
    tcase_add_test(tc, test_state_writer_needs_its_folder);
    tcase_add_test(tc, test_state_writer_abort_removes_file);
    tcase_add_test(tc, test_state_writer_open_fails_under_a_regular_file);
    tcase_add_test(tc, test_state_writer_write_error_is_sticky_eio_with_errno_message);
    tcase_add_test(tc, test_state_load_detects_flipped_byte_in_the_middle);
    tcase_add_test(tc, test_state_load_detects_truncation_at_several_points);
    tcase_add_test(tc, test_state_load_detects_wrong_expected_crc);
    tcase_add_test(tc, test_state_load_detects_wrong_expected_size);
    tcase_add_test(tc, test_state_load_detects_bad_magic_and_version);
    tcase_add_test(tc, test_state_load_missing_file_is_notfound);
    tcase_add_test(tc, test_state_verify_streams_across_chunk_boundaries);
    tcase_add_test(tc, test_state_verify_refuses_symlink);
    tcase_add_test(tc, test_cursor_rejects_truncation_at_every_prefix);
    tcase_add_test(tc, test_cursor_bytes_length_beyond_remaining_is_einval);
    tcase_add_test(tc, test_cursor_never_reads_past_end_on_random_buffers);
    tcase_add_test(tc, test_metadata_write_read_round_trip);
    tcase_add_test(tc, test_metadata_write_creates_missing_folder);
    tcase_add_test(tc, test_stray_metadata_tmp_is_not_a_checkpoint);
    tcase_add_test(tc, test_corrupt_metadata_is_detected);
    tcase_add_test(tc, test_metadata_with_valid_frame_but_bad_protobuf_is_einval);
    tcase_add_test(tc, test_verify_catches_missing_state_file);
    tcase_add_test(tc, test_verify_catches_modified_state_file);
    tcase_add_test(tc, test_verify_catches_size_and_crc_that_differ_from_metadata);
    tcase_add_test(tc, test_verify_rejects_paths_that_are_not_plain_names);
    tcase_add_test(tc, test_accepted_stage_names_give_valid_state_files);
    tcase_add_test(tc, test_name_rule);
    tcase_add_test(tc, test_list_returns_complete_checkpoints_sorted_numerically);
    tcase_add_test(tc, test_list_all_includes_incomplete_checkpoints);
    tcase_add_test(tc, test_list_of_missing_job_is_empty);
    tcase_add_test(tc, test_remove_tree_deletes_nested_tree);
    tcase_add_test(tc, test_remove_tree_does_not_follow_symlink_to_outside_folder);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(checkpoint_store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
