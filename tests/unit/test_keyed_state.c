/* Unit tests: taskmanager/keyed_state*.c. The behaviour tests run once per
 * backend (check loop tests: _i indexes backends[]); snapshots are
 * restored into the other backend; then tests of one backend alone. */
#define _XOPEN_SOURCE 700
#include <check.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "taskmanager/buf.h"
#include "taskmanager/state/keygroup.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state.h"
#include "taskmanager/state/keyed_state_backend.h"

static const char *const backends[] = {"hashmap", "leveldb"};
#define NBACKENDS 2

/* Per test (each runs in its own process): a temp root for leveldb folders. */
static char tmp_root[256];
static int nstates;

static void setup_root(void)
{
    const char *t = getenv("TMPDIR");

    snprintf(tmp_root, sizeof(tmp_root), "%s/sluice-ks-test.XXXXXX", t != NULL && t[0] == '/' ? t : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(tmp_root));
    nstates = 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown_root(void)
{
    nftw(tmp_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int path_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A fresh working folder path (not created) under the temp root. */
static void state_dir(char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s/state-%d", tmp_root, nstates++);
    ck_assert(n > 0 && (size_t)n < outlen);
}

/* The cache budget of the leveldb states open_backend opens (NULL: the
 * default). */
static const struct sl_kcache_budget *cache_budget;

static sl_ks_state *open_backend(int b, int kg_start, int kg_end)
{
    sl_ks_state *st = NULL;
    char dir[512];

    state_dir(dir, sizeof(dir));
    ck_assert_int_eq(sl_ks_open(backends[b], kg_start, kg_end, dir, cache_budget, &st), SL_OK);
    ck_assert_ptr_nonnull(st);
    return st;
}

static sl_ks_state *open_hm(int kg_start, int kg_end)
{
    sl_ks_state *st = NULL;

    ck_assert_int_eq(sl_ks_open("hashmap", kg_start, kg_end, NULL, NULL, &st), SL_OK);
    ck_assert_ptr_nonnull(st);
    return st;
}

static void put_str(sl_ks_state *st, int kg, const char *k, const char *v)
{
    ck_assert_int_eq(sl_ks_put(st, kg, k, strlen(k), v, strlen(v)), SL_OK);
}

static void assert_get(sl_ks_state *st, int kg, const char *k, const char *want)
{
    const void *val;
    size_t vlen;

    ck_assert_int_eq(sl_ks_get(st, kg, k, strlen(k), &val, &vlen), SL_OK);
    ck_assert_uint_eq(vlen, strlen(want));
    ck_assert(memcmp(val, want, vlen) == 0);
}

static int is_absent(sl_ks_state *st, int kg, const char *k)
{
    const void *val;
    size_t vlen;
    return sl_ks_get(st, kg, k, strlen(k), &val, &vlen) == SL_ENOTFOUND;
}

START_TEST(test_put_get)
{
    sl_ks_state *st = open_backend(_i, 0, 63);

    put_str(st, 5, "hello", "1");
    put_str(st, 5, "world", "22");
    put_str(st, 6, "hello", "333");
    assert_get(st, 5, "hello", "1");
    assert_get(st, 5, "world", "22");
    assert_get(st, 6, "hello", "333");
    ck_assert_uint_eq(sl_ks_count(st), 3);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_get_missing_is_enotfound)
{
    sl_ks_state *st = open_backend(_i, 0, 3);

    ck_assert(is_absent(st, 0, "nothing"));
    put_str(st, 1, "key", "v");
    ck_assert(is_absent(st, 1, "kez"));
    ck_assert(is_absent(st, 1, "ke"));
    ck_assert(is_absent(st, 2, "key")); /* same key, other group */
    sl_ks_close(st);
}
END_TEST

START_TEST(test_empty_key_and_empty_value)
{
    sl_ks_state *st = open_backend(_i, 0, 0);
    const void *val;
    size_t vlen = 99;

    ck_assert_int_eq(sl_ks_put(st, 0, NULL, 0, NULL, 0), SL_OK);
    ck_assert_int_eq(sl_ks_get(st, 0, NULL, 0, &val, &vlen), SL_OK);
    ck_assert_uint_eq(vlen, 0);
    put_str(st, 0, "k", "");
    assert_get(st, 0, "k", "");
    ck_assert_uint_eq(sl_ks_count(st), 2);
    ck_assert_int_eq(sl_ks_delete(st, 0, NULL, 0), SL_OK);
    ck_assert_uint_eq(sl_ks_count(st), 1);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_replace_smaller_is_in_place)
{
    sl_ks_state *st = open_hm(0, 0);
    const void *before, *after;
    size_t vlen;

    put_str(st, 0, "k", "12345678");
    ck_assert_int_eq(sl_ks_get(st, 0, "k", 1, &before, &vlen), SL_OK);
    put_str(st, 0, "k", "abc");
    ck_assert_int_eq(sl_ks_get(st, 0, "k", 1, &after, &vlen), SL_OK);
    ck_assert_ptr_eq(before, after);
    assert_get(st, 0, "k", "abc");
    put_str(st, 0, "k", "xyzxyzxy"); /* back to the original size */
    ck_assert_int_eq(sl_ks_get(st, 0, "k", 1, &after, &vlen), SL_OK);
    ck_assert_ptr_eq(before, after);
    ck_assert_uint_eq(sl_ks_count(st), 1);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_replace_larger_value)
{
    sl_ks_state *st = open_backend(_i, 0, 0);
    char big[1000];

    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    put_str(st, 0, "k", "small");
    put_str(st, 0, "other", "x");
    put_str(st, 0, "k", big);
    assert_get(st, 0, "k", big);
    assert_get(st, 0, "other", "x");
    ck_assert_uint_eq(sl_ks_count(st), 2);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_delete)
{
    sl_ks_state *st = open_backend(_i, 10, 20);

    put_str(st, 10, "a", "1");
    put_str(st, 10, "b", "2");
    ck_assert_int_eq(sl_ks_delete(st, 10, "a", 1), SL_OK);
    ck_assert(is_absent(st, 10, "a"));
    assert_get(st, 10, "b", "2");
    ck_assert_int_eq(sl_ks_delete(st, 10, "a", 1), SL_ENOTFOUND);
    ck_assert_int_eq(sl_ks_delete(st, 11, "b", 1), SL_ENOTFOUND);
    ck_assert_int_eq(sl_ks_delete(st, 20, "b", 1), SL_ENOTFOUND);
    ck_assert_uint_eq(sl_ks_count(st), 1);
    put_str(st, 10, "a", "again");
    assert_get(st, 10, "a", "again");
    sl_ks_close(st);
}
END_TEST

static int kg_of(int i, int ngroups)
{
    return (int)(((unsigned)i * 2654435761u) >> 7) % ngroups;
}

START_TEST(test_growth_to_100k_keys)
{
    enum { N = 100000, G = 4 };
    sl_ks_state *st = open_backend(_i, 0, G - 1);
    char key[32];
    int64_t v;

    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        v = (int64_t)i * 3;
        ck_assert_int_eq(sl_ks_put(st, kg_of(i, G), key, (size_t)n, &v, sizeof(v)), SL_OK);
    }
    ck_assert_uint_eq(sl_ks_count(st), N);
    for (int i = 0; i < N; i++) {
        const void *val;
        size_t vlen;
        int n = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(sl_ks_get(st, kg_of(i, G), key, (size_t)n, &val, &vlen), SL_OK);
        ck_assert_uint_eq(vlen, sizeof(v));
        memcpy(&v, val, sizeof(v));
        ck_assert(v == (int64_t)i * 3);
    }
    /* delete every other key: the probe runs must stay intact */
    for (int i = 0; i < N; i += 2) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(sl_ks_delete(st, kg_of(i, G), key, (size_t)n), SL_OK);
    }
    ck_assert_uint_eq(sl_ks_count(st), N / 2);
    for (int i = 0; i < N; i++) {
        int n = snprintf(key, sizeof(key), "key-%d", i);
        int rv = sl_ks_get(st, kg_of(i, G), key, (size_t)n, NULL, NULL);
        ck_assert_int_eq(rv, i % 2 == 0 ? SL_ENOTFOUND : SL_OK);
    }
    sl_ks_close(st);
}
END_TEST

START_TEST(test_many_keys_in_one_group_with_colliding_prefixes)
{
    enum { N = 100000 };
    sl_ks_state *st = open_backend(_i, 0, 0);
    uint64_t k;

    for (uint32_t i = 0; i < N; i++) {
        k = (uint64_t)i << 40; /* keys that differ only in high bytes */
        ck_assert_int_eq(sl_ks_put(st, 0, &k, sizeof(k), &i, sizeof(i)), SL_OK);
    }
    for (uint32_t i = 0; i < N; i++) {
        const void *val;
        size_t vlen;
        uint32_t got;
        k = (uint64_t)i << 40;
        ck_assert_int_eq(sl_ks_get(st, 0, &k, sizeof(k), &val, &vlen), SL_OK);
        memcpy(&got, val, sizeof(got));
        ck_assert_uint_eq(got, i);
    }
    ck_assert_uint_eq(sl_ks_count(st), N);
    sl_ks_close(st);
}
END_TEST

typedef struct visit_acc {
    int want_kg;
    int bad_kg;
    int calls;
    unsigned char *seen; /* indexed by key number */
    int stop_after;
} visit_acc;

static int visit_cb(void *arg, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    visit_acc *acc = arg;
    int i, v;

    acc->calls++;
    if (kg != acc->want_kg) {
        acc->bad_kg++;
    }
    ck_assert_uint_eq(klen, sizeof(int));
    ck_assert_uint_eq(vlen, sizeof(int));
    memcpy(&i, key, sizeof(i));
    memcpy(&v, val, sizeof(v));
    ck_assert_int_eq(v, -i);
    acc->seen[i]++;
    return acc->stop_after > 0 && acc->calls >= acc->stop_after ? 77 : 0;
}

START_TEST(test_visit_group_sees_exactly_its_entries)
{
    enum { N = 5000, KG0 = 40, G = 8 };
    sl_ks_state *st = open_backend(_i, KG0, KG0 + G - 1);
    unsigned char *seen = calloc(N, 1);
    visit_acc acc = {0};

    ck_assert_ptr_nonnull(seen);
    for (int i = 0; i < N; i++) {
        int v = -i;
        ck_assert_int_eq(sl_ks_put(st, KG0 + i % G, &i, sizeof(i), &v, sizeof(v)), SL_OK);
    }
    for (int i = 0; i < N; i += 3) { /* some deletes, some replaces */
        if (i % 2 == 0) {
            ck_assert_int_eq(sl_ks_delete(st, KG0 + i % G, &i, sizeof(i)), SL_OK);
        } else {
            int v = -i;
            ck_assert_int_eq(sl_ks_put(st, KG0 + i % G, &i, sizeof(i), &v, sizeof(v)), SL_OK);
        }
    }
    for (int g = 0; g < G; g++) {
        memset(seen, 0, N);
        acc = (visit_acc){.want_kg = KG0 + g, .seen = seen};
        ck_assert_int_eq(sl_ks_visit_group(st, KG0 + g, visit_cb, &acc), 0);
        ck_assert_int_eq(acc.bad_kg, 0);
        for (int i = 0; i < N; i++) {
            int present = i % G == g && !(i % 3 == 0 && i % 2 == 0);
            ck_assert_msg(seen[i] == present, "key %d group %d seen %d times", i, g, seen[i]);
        }
    }
    free(seen);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_visit_stops_on_nonzero)
{
    sl_ks_state *st = open_backend(_i, 0, 1);
    unsigned char seen[10] = {0};
    visit_acc acc = {.want_kg = 1, .seen = seen, .stop_after = 3};

    for (int i = 0; i < 10; i++) {
        int v = -i;
        ck_assert_int_eq(sl_ks_put(st, 1, &i, sizeof(i), &v, sizeof(v)), SL_OK);
    }
    ck_assert_int_eq(sl_ks_visit_group(st, 1, visit_cb, &acc), 77);
    ck_assert_int_eq(acc.calls, 3);
    acc = (visit_acc){.want_kg = 0, .seen = seen};
    ck_assert_int_eq(sl_ks_visit_group(st, 0, visit_cb, &acc), 0);
    ck_assert_int_eq(acc.calls, 0);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_unknown_backend_is_einval)
{
    sl_ks_state *st = NULL;

    ck_assert_int_eq(sl_ks_open("rocksdb", 0, 127, NULL, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_ks_open("", 0, 127, NULL, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_ks_open(NULL, 0, 127, NULL, NULL, &st), SL_EINVAL);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_bad_arguments_are_einval)
{
    sl_ks_state *st = NULL;

    ck_assert_int_eq(sl_ks_open(backends[_i], 5, 4, NULL, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_ks_open(backends[_i], -1, 4, NULL, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_ks_open(backends[_i], 0, 32768, NULL, NULL, &st), SL_EINVAL);
    st = open_backend(_i, 64, 127);
    ck_assert_int_eq(sl_ks_put(st, 63, "k", 1, "v", 1), SL_EINVAL);
    ck_assert_int_eq(sl_ks_put(st, 128, "k", 1, "v", 1), SL_EINVAL);
    ck_assert_int_eq(sl_ks_put(st, 64, NULL, 1, "v", 1), SL_EINVAL);
    ck_assert_int_eq(sl_ks_put(st, 64, "k", 1, NULL, 1), SL_EINVAL);
    ck_assert_int_eq(sl_ks_get(st, 63, "k", 1, NULL, NULL), SL_EINVAL);
    ck_assert_int_eq(sl_ks_delete(st, 200, "k", 1), SL_EINVAL);
    ck_assert_int_eq(sl_ks_visit_group(st, 10, visit_cb, NULL), SL_EINVAL);
    ck_assert_int_eq(sl_ks_visit_group(st, 64, NULL, NULL), SL_EINVAL);
    ck_assert_uint_eq(sl_ks_count(st), 0);
    sl_ks_close(st);
    sl_ks_close(NULL);
}
END_TEST

/* ---- snapshots ------------------------------------------------------- */

/* Deterministic content: key "k<i>" in group i % ngroups + kg0, value of
 * i % 7 * 5 bytes (some empty) derived from i. */
static int fill_value(int i, char *v, size_t cap)
{
    int n = (i % 7) * 5;

    ck_assert((size_t)n <= cap);
    for (int j = 0; j < n; j++) {
        v[j] = (char)('a' + (i + j) % 26);
    }
    return n;
}

static void fill(sl_ks_state *st, int n, int kg0, int ngroups)
{
    char key[32], val[64];

    for (int i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof(key), "k%d", i);
        int vl = fill_value(i, val, sizeof(val));
        ck_assert_int_eq(sl_ks_put(st, kg0 + i % ngroups, key, (size_t)kl, val, (size_t)vl),
                         SL_OK);
    }
}

/* Every key of fill() in groups [lo, hi] is in st with its value; the others
 * are absent; st holds nothing else. */
static void assert_filled(sl_ks_state *st, int n, int kg0, int ngroups, int lo, int hi)
{
    char key[32], want[64];
    size_t expect = 0;

    for (int i = 0; i < n; i++) {
        int kg = kg0 + i % ngroups;
        int kl = snprintf(key, sizeof(key), "k%d", i);
        const void *val;
        size_t vlen;
        if (kg < lo || kg > hi) {
            continue;
        }
        int wl = fill_value(i, want, sizeof(want));
        expect++;
        ck_assert_int_eq(sl_ks_get(st, kg, key, (size_t)kl, &val, &vlen), SL_OK);
        ck_assert_uint_eq(vlen, (size_t)wl);
        ck_assert(wl == 0 || memcmp(val, want, (size_t)wl) == 0);
    }
    ck_assert_uint_eq(sl_ks_count(st), expect);
}

START_TEST(test_snapshot_restores_into_the_other_backend)
{
    enum { N = 20000, KG0 = 0, G = 16 };
    sl_ks_state *a = open_backend(_i, KG0, KG0 + G - 1);
    sl_ks_state *b = open_backend(1 - _i, KG0, KG0 + G - 1);
    sl_ks_state *c = open_backend(_i, KG0, KG0 + G - 1);
    sl_buf snap = {0}, again = {0}, back = {0};

    fill(a, N, KG0, G);
    for (int i = 0; i < N; i += 10) { /* deleted keys must not travel */
        char key[32];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(sl_ks_delete(a, KG0 + i % G, key, (size_t)kl), SL_OK);
    }
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, KG0, KG0 + G - 1, &snap), SL_OK);
    ck_assert_int_eq(sl_ks_restore(b, snap.p, snap.len, KG0, KG0 + G - 1), SL_OK);
    ck_assert_uint_eq(sl_ks_count(b), N - N / 10);
    for (int i = 0; i < N; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        int rv = sl_ks_get(b, KG0 + i % G, key, (size_t)kl, NULL, NULL);
        ck_assert_int_eq(rv, i % 10 == 0 ? SL_ENOTFOUND : SL_OK);
    }
    /* and back: same content, same size on the wire */
    ck_assert_int_eq(sl_ks_snapshot_to_buf(b, KG0, KG0 + G - 1, &again), SL_OK);
    ck_assert_uint_eq(again.len, snap.len);
    ck_assert_int_eq(sl_ks_restore(c, again.p, again.len, KG0, KG0 + G - 1), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(c, KG0, KG0 + G - 1, &back), SL_OK);
    ck_assert_uint_eq(sl_ks_count(c), N - N / 10);
    ck_assert_uint_eq(back.len, snap.len);
    sl_buf_free(&snap);
    sl_buf_free(&again);
    sl_buf_free(&back);
    sl_ks_close(a);
    sl_ks_close(b);
    sl_ks_close(c);
}
END_TEST

START_TEST(test_snapshot_is_the_same_bytes_for_both_backends)
{
    /* One key per group: the order inside a group cannot differ. */
    enum { G = 40 };
    sl_ks_state *a = open_backend(0, 0, G - 1);
    sl_ks_state *b = open_backend(1, 0, G - 1);
    sl_buf sa = {0}, sb = {0};

    fill(a, G, 0, G);
    fill(b, G, 0, G);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, 0, G - 1, &sa), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(b, 0, G - 1, &sb), SL_OK);
    ck_assert_uint_eq(sa.len, sb.len);
    ck_assert(memcmp(sa.p, sb.p, sa.len) == 0);
    sl_buf_free(&sa);
    sl_buf_free(&sb);
    sl_ks_close(a);
    sl_ks_close(b);
}
END_TEST

START_TEST(test_restore_takes_only_its_key_group_range)
{
    enum { N = 3000, G = 16, LO = 4, HI = 9 };
    sl_ks_state *a = open_backend(_i, 0, G - 1);
    sl_ks_state *b = open_backend(1 - _i, LO, HI);
    sl_ks_state *c = open_backend(_i, 0, G - 1);
    sl_buf snap = {0}, part = {0};

    fill(a, N, 0, G);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, 0, G - 1, &snap), SL_OK);
    ck_assert_int_eq(sl_ks_restore(b, snap.p, snap.len, LO, HI), SL_OK);
    assert_filled(b, N, 0, G, LO, HI);
    /* a snapshot of a sub-range holds only that range */
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, LO, HI, &part), SL_OK);
    ck_assert_int_eq(sl_ks_restore(c, part.p, part.len, 0, G - 1), SL_OK);
    assert_filled(c, N, 0, G, LO, HI);
    sl_buf_free(&snap);
    sl_buf_free(&part);
    sl_ks_close(a);
    sl_ks_close(b);
    sl_ks_close(c);
}
END_TEST

/* Savepoints do not depend on the backend: state snapshotted by one
 * backend restores into the other with other key-group ranges. Rescaling
 * 2 -> 3 -> 1 over 128 key groups, the backend switching at every step;
 * each new subtask restores every snapshot that overlaps its range (as
 * sl_task_restore does), checks its content and adds a key per group. */
enum { RS_MAXP = 128, RS_N = 128 * 40 };

/* fill()'s keys whose group lies in [lo, hi]. */
static void fill_range(sl_ks_state *st, int lo, int hi)
{
    char key[32], val[64];
    for (int i = 0; i < RS_N; i++) {
        int kg = i % RS_MAXP;
        if (kg < lo || kg > hi)
            continue;
        int kl = snprintf(key, sizeof(key), "k%d", i);
        int vl = fill_value(i, val, sizeof(val));
        ck_assert_int_eq(sl_ks_put(st, kg, key, (size_t)kl, val, (size_t)vl), SL_OK);
    }
}

static void rescale_check_extra(sl_ks_state *st, int lo, int hi, int steps)
{
    for (int kg = lo; kg <= hi; kg++) {
        for (int k = 0; k < steps; k++) {
            char key[32], val[32];
            snprintf(key, sizeof(key), "x%d-%d", kg, k);
            snprintf(val, sizeof(val), "v%d", kg * 10 + k);
            assert_get(st, kg, key, val);
        }
    }
}

static void rescale_step(int backend, int oldp, const sl_buf *old, int p, sl_buf *out, int step)
{
    for (int s = 0; s < p; s++) {
        int lo, hi;
        sl_keygroup_range(RS_MAXP, p, s, &lo, &hi);
        sl_ks_state *st = open_backend(backend, lo, hi);
        if (oldp == 0)
            fill_range(st, lo, hi);
        for (int o = 0; o < oldp; o++) {
            int olo, ohi;
            sl_keygroup_range(RS_MAXP, oldp, o, &olo, &ohi);
            if (olo <= hi && ohi >= lo)
                ck_assert_int_eq(sl_ks_restore(st, old[o].p, old[o].len, lo, hi), SL_OK);
        }
        /* fill()'s keys of [lo, hi] plus one extra key per group and step */
        ck_assert_uint_eq(sl_ks_count(st) - (size_t)step * (size_t)(hi - lo + 1),
                          (size_t)(RS_N / RS_MAXP) * (size_t)(hi - lo + 1));
        rescale_check_extra(st, lo, hi, step);
        for (int kg = lo; kg <= hi; kg++) {
            char key[32], val[32];
            snprintf(key, sizeof(key), "x%d-%d", kg, step);
            snprintf(val, sizeof(val), "v%d", kg * 10 + step);
            put_str(st, kg, key, val);
        }
        memset(&out[s], 0, sizeof(out[s]));
        ck_assert_int_eq(sl_ks_snapshot_to_buf(st, lo, hi, &out[s]), SL_OK);
        sl_ks_close(st);
    }
}

START_TEST(test_rescale_across_backends_2_3_1)
{
    static const int ps[] = {2, 3, 1};
    sl_buf old[3], cur[3];
    int oldp = 0;
    for (int step = 0; step < 3; step++) {
        rescale_step((_i + step) % NBACKENDS, oldp, old, ps[step], cur, step);
        for (int o = 0; o < oldp; o++)
            sl_buf_free(&old[o]);
        memcpy(old, cur, sizeof(old));
        oldp = ps[step];
    }
    /* the last step's snapshot: everything, once */
    sl_ks_state *st = open_backend(_i, 0, RS_MAXP - 1);
    ck_assert_int_eq(sl_ks_restore(st, old[0].p, old[0].len, 0, RS_MAXP - 1), SL_OK);
    ck_assert_uint_eq(sl_ks_count(st), (size_t)RS_N + 3 * RS_MAXP);
    rescale_check_extra(st, 0, RS_MAXP - 1, 3);
    for (int i = 0; i < RS_N; i += 7) {
        char key[32], want[64];
        int kl = snprintf(key, sizeof(key), "k%d", i), wl = fill_value(i, want, sizeof(want));
        const void *val;
        size_t vlen;
        ck_assert_int_eq(sl_ks_get(st, i % RS_MAXP, key, (size_t)kl, &val, &vlen), SL_OK);
        ck_assert(vlen == (size_t)wl && (wl == 0 || memcmp(val, want, vlen) == 0));
    }
    sl_buf_free(&old[0]);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_empty_state_snapshots_to_nothing)
{
    sl_ks_state *a = open_backend(_i, 0, 127);
    sl_buf snap = {0};

    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, 0, 127, &snap), SL_OK);
    ck_assert_uint_eq(snap.len, 0);
    ck_assert_int_eq(sl_ks_restore(a, snap.p, 0, 0, 127), SL_OK);
    sl_buf_free(&snap);
    sl_ks_close(a);
}
END_TEST

START_TEST(test_restore_rejects_malformed_data)
{
    static const uint8_t bad_kg[] = {0xff, 0xff, 0x03};      /* kg 65535 */
    static const uint8_t short_entry[] = {0x02, 0x01, 0x05, 'a'}; /* klen 5, 1 byte */
    sl_ks_state *a = open_backend(_i, 0, 3);

    ck_assert_int_eq(sl_ks_restore(a, bad_kg, sizeof(bad_kg), 0, 3), SL_EINVAL);
    ck_assert_int_eq(sl_ks_restore(a, short_entry, sizeof(short_entry), 0, 3), SL_EINVAL);
    sl_ks_close(a);
}
END_TEST

/* ---- hashmap restores: entries packed in blocks ------------------------ */

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* Bytes the allocator has handed out and not taken back. */
static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return __sanitizer_get_current_allocated_bytes();
#else
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
#endif
}

/* Allowance for the allocator's rounding of the slot arrays and the
 * tables' small arrays. */
#define SLACK (64 * 1024)

/* Bytes of the slot arrays of a table presized for n entries per group. */
static size_t slot_bytes(int groups, size_t n)
{
    size_t slots = 8;

    while (n * 4 > slots * 3) {
        slots *= 2;
    }
    return (size_t)groups * slots * 16;
}

static void del_key(sl_ks_state *st, int i, int kg0, int ngroups)
{
    char key[32];
    int kl = snprintf(key, sizeof(key), "k%d", i);

    ck_assert_int_eq(sl_ks_delete(st, kg0 + i % ngroups, key, (size_t)kl), SL_OK);
}

/* A snapshot of fill(n, kg0, ngroups). */
static void filled_snapshot(int n, int kg0, int ngroups, sl_buf *out)
{
    sl_ks_state *a = open_hm(kg0, kg0 + ngroups - 1);

    fill(a, n, kg0, ngroups);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, kg0, kg0 + ngroups - 1, out), SL_OK);
    sl_ks_close(a);
}

/* Deleting restored entries frees their blocks: once all are gone only the
 * slot arrays remain. The survivors of the first round, one per group,
 * stay readable while their blocks' other entries go. */
START_TEST(test_restored_blocks_go_with_their_entries)
{
    enum { N = 40000, G = 4 };
    sl_buf snap = {0};
    sl_ks_state *st = open_hm(0, G - 1);

    filled_snapshot(N, 0, G, &snap);
    size_t h0 = heap_in_use();
    ck_assert_int_eq(sl_ks_restore(st, snap.p, snap.len, 0, G - 1), SL_OK);
    size_t h1 = heap_in_use();
    assert_filled(st, N, 0, G, 0, G - 1);
    ck_assert_uint_ge(h1 - h0, slot_bytes(G, N / G) + (size_t)N * 24);
    for (int i = 0; i < N - G; i++) {
        del_key(st, i, 0, G);
    }
    for (int i = N - G; i < N; i++) { /* the last of each group */
        char key[32], want[64];
        int kl = snprintf(key, sizeof(key), "k%d", i), wl = fill_value(i, want, sizeof(want));
        const void *val;
        size_t vlen;
        ck_assert_int_eq(sl_ks_get(st, i % G, key, (size_t)kl, &val, &vlen), SL_OK);
        ck_assert_uint_eq(vlen, (size_t)wl);
        ck_assert(wl == 0 || memcmp(val, want, vlen) == 0);
    }
    ck_assert_uint_lt(heap_in_use() - h0, slot_bytes(G, N / G) + (size_t)N * 24);
    for (int i = N - G; i < N; i++) {
        del_key(st, i, 0, G);
    }
    ck_assert_uint_eq(sl_ks_count(st), 0);
    ck_assert_uint_le(heap_in_use() - h0, slot_bytes(G, N / G) + SLACK);
    sl_buf_free(&snap);
    sl_ks_close(st);
}
END_TEST

/* Restored entries rewritten: smaller values in place (the entry stays
 * where it is), larger ones move out of the block into their own entry;
 * both read back, and deleting everything returns all of it. */
START_TEST(test_restored_values_outgrow_their_blocks)
{
    enum { N = 9000, G = 3 };
    static const char big[] = "a value far longer than any of fill()'s, so it moves out";
    sl_buf snap = {0};
    sl_ks_state *st = open_hm(0, G - 1);

    filled_snapshot(N, 0, G, &snap);
    size_t h0 = heap_in_use();
    ck_assert_int_eq(sl_ks_restore(st, snap.p, snap.len, 0, G - 1), SL_OK);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        if (i % 3 == 0) {
            put_str(st, i % G, key, big);
        } else if (i % 3 == 1) {
            const void *before, *after;
            size_t vlen;
            ck_assert_int_eq(sl_ks_get(st, i % G, key, strlen(key), &before, &vlen), SL_OK);
            put_str(st, i % G, key, "");
            ck_assert_int_eq(sl_ks_get(st, i % G, key, strlen(key), &after, &vlen), SL_OK);
            ck_assert_ptr_eq(before, after);
        }
    }
    for (int i = 0; i < N; i++) {
        char key[32], want[64];
        snprintf(key, sizeof(key), "k%d", i);
        if (i % 3 == 0) {
            assert_get(st, i % G, key, big);
        } else if (i % 3 == 1) {
            assert_get(st, i % G, key, "");
        } else {
            want[fill_value(i, want, sizeof(want) - 1)] = '\0';
            assert_get(st, i % G, key, want);
        }
    }
    ck_assert_uint_eq(sl_ks_count(st), N);
    for (int i = N - 1; i >= 0; i--) {
        del_key(st, i, 0, G);
    }
    ck_assert_uint_le(heap_in_use() - h0, slot_bytes(G, N / G) + SLACK);
    sl_buf_free(&snap);
    sl_ks_close(st);
}
END_TEST

/* Wire bytes of one group kg holding the pairs (k[j], v[j]), j < n. */
static void group_bytes(sl_buf *out, int kg, const char *const *k, const char *const *v, int n)
{
    ck_assert_int_eq(sl_buf_put_varint(out, (uint64_t)kg), SL_OK);
    ck_assert_int_eq(sl_buf_put_varint(out, (uint64_t)n), SL_OK);
    for (int j = 0; j < n; j++) {
        ck_assert_int_eq(sl_buf_put_bytes(out, k[j], strlen(k[j])), SL_OK);
        ck_assert_int_eq(sl_buf_put_bytes(out, v[j], strlen(v[j])), SL_OK);
    }
}

/* A key twice in one snapshot group (the writer never does it, but the
 * bytes may say so): the later pair wins, smaller or larger; and a whole
 * snapshot restored twice, or over other values of the same keys. */
START_TEST(test_restore_of_the_same_key_twice)
{
    static const char *const k[] = {"a", "b", "a", "c", "c", "b"};
    static const char *const v[] = {"1234567890", "2", "x", "3", "a longer value than 3", "22"};
    enum { N = 3000, G = 2 };
    sl_buf dup = {0}, snap = {0}, other = {0};
    sl_ks_state *st = open_hm(0, 7);

    group_bytes(&dup, 5, k, v, 6);
    ck_assert_int_eq(sl_ks_restore(st, dup.p, dup.len, 0, 7), SL_OK);
    ck_assert_uint_eq(sl_ks_count(st), 3);
    assert_get(st, 5, "a", "x");
    assert_get(st, 5, "b", "22");
    assert_get(st, 5, "c", "a longer value than 3");
    ck_assert_int_eq(sl_ks_restore(st, dup.p, dup.len, 0, 7), SL_OK);
    ck_assert_uint_eq(sl_ks_count(st), 3);
    assert_get(st, 5, "a", "x");
    sl_ks_close(st);

    /* a whole snapshot twice, then the same keys with other values */
    st = open_hm(0, G - 1);
    filled_snapshot(N, 0, G, &snap);
    ck_assert_int_eq(sl_ks_restore(st, snap.p, snap.len, 0, G - 1), SL_OK);
    ck_assert_int_eq(sl_ks_restore(st, snap.p, snap.len, 0, G - 1), SL_OK);
    assert_filled(st, N, 0, G, 0, G - 1);
    sl_ks_state *o = open_hm(0, G - 1);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        put_str(o, i % G, key, i % 2 ? "odd, and longer than fill()'s longest value" : "e");
    }
    ck_assert_int_eq(sl_ks_snapshot_to_buf(o, 0, G - 1, &other), SL_OK);
    ck_assert_int_eq(sl_ks_restore(st, other.p, other.len, 0, G - 1), SL_OK);
    ck_assert_uint_eq(sl_ks_count(st), N);
    for (int i = 0; i < N; i++) {
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        assert_get(st, i % G, key, i % 2 ? "odd, and longer than fill()'s longest value" : "e");
    }
    sl_buf_free(&dup);
    sl_buf_free(&snap);
    sl_buf_free(&other);
    sl_ks_close(o);
    sl_ks_close(st);
}
END_TEST

/* One group of 150000 entries (several blocks up to the largest) with
 * values of up to 9000 bytes among them (those get their own entries):
 * the restore snapshots to the same bytes, and deletes in scattered order
 * give all the memory back. */
static size_t big_group_vlen(int i)
{
    return i % 1000 == 7 ? 4000 + (size_t)i % 5000 : (size_t)i % 13;
}

START_TEST(test_restore_of_a_big_group_with_big_values)
{
    enum { N = 150000 };
    sl_ks_state *a = open_hm(3, 3), *b = open_hm(3, 3);
    sl_buf snap = {0}, again = {0};
    char *val = calloc(1, 9001);

    ck_assert_ptr_nonnull(val);
    memset(val, 'v', 9000);
    for (int i = 0; i < N; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(sl_ks_put(a, 3, key, (size_t)kl, val, big_group_vlen(i)), SL_OK);
    }
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, 3, 3, &snap), SL_OK);
    size_t h0 = heap_in_use();
    ck_assert_int_eq(sl_ks_restore(b, snap.p, snap.len, 3, 3), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(b, 3, 3, &again), SL_OK);
    ck_assert_uint_eq(again.len, snap.len);
    ck_assert(memcmp(again.p, snap.p, snap.len) == 0);
    sl_buf_free(&again);
    for (int j = 0; j < N; j++) {
        int i = (int)(((long long)j * 7919) % N); /* every i once */
        char key[32];
        int kl = snprintf(key, sizeof(key), "key-%d", i);
        ck_assert_int_eq(sl_ks_delete(b, 3, key, (size_t)kl), SL_OK);
        if (j % 997 == 0 && j + 1 < N) { /* the next one is still there */
            const void *v;
            size_t vlen;
            i = (int)(((long long)(j + 1) * 7919) % N);
            kl = snprintf(key, sizeof(key), "key-%d", i);
            ck_assert_int_eq(sl_ks_get(b, 3, key, (size_t)kl, &v, &vlen), SL_OK);
            ck_assert_uint_eq(vlen, big_group_vlen(i));
            ck_assert(vlen == 0 || memcmp(v, val, vlen) == 0);
        }
    }
    ck_assert_uint_eq(sl_ks_count(b), 0);
    /* left: the slots, and the entry pointer array the snapshot's view
     * keeps for the next one */
    ck_assert_uint_le(heap_in_use() - h0, slot_bytes(1, N) + (N + N / 4 + 16) * 8 + SLACK);
    free(val);
    sl_buf_free(&snap);
    sl_ks_close(a);
    sl_ks_close(b);
}
END_TEST

typedef struct view_acc {
    int n;
    int last_kg;
    int ordered;
} view_acc;

static int view_cb(void *arg, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    view_acc *acc = arg;

    (void)key, (void)klen, (void)val, (void)vlen;
    acc->ordered &= kg >= acc->last_kg;
    acc->last_kg = kg;
    acc->n++;
    return 0;
}

/* leveldb's view is a leveldb snapshot: writes after it do not show. */
START_TEST(test_leveldb_view_is_consistent_while_writing)
{
    enum { N = 2000, G = 8 };
    sl_ks_state *st = open_backend(1, 0, G - 1);
    sl_ks_view *v = NULL;
    view_acc acc = {.last_kg = -1, .ordered = 1};
    sl_buf snap = {0};

    fill(st, N, 0, G);
    ck_assert_int_eq(sl_ks_view_open(st, &v), SL_OK);
    fill(st, 2 * N, 0, G); /* N more keys */
    for (int i = 0; i < N; i += 2) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(sl_ks_delete(st, i % G, key, (size_t)kl), SL_OK);
    }
    ck_assert_int_eq(sl_ks_view_visit(v, 0, G - 1, view_cb, &acc), SL_OK);
    ck_assert_int_eq(acc.n, N);
    ck_assert(acc.ordered);
    sl_ks_view_close(v);
    ck_assert_uint_eq(sl_ks_count(st), 2 * N - N / 2);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &snap), SL_OK);
    sl_buf_free(&snap);
    sl_ks_close(st);
}
END_TEST

/* ---- one backend ----------------------------------------------------- */

START_TEST(test_leveldb_needs_an_absolute_dir)
{
    sl_ks_state *st = NULL;

    ck_assert_int_eq(sl_ks_open("leveldb", 0, 3, NULL, NULL, &st), SL_EINVAL);
    ck_assert_int_eq(sl_ks_open("leveldb", 0, 3, "relative/dir", NULL, &st), SL_EINVAL);
    ck_assert_ptr_null(st);
}
END_TEST

START_TEST(test_leveldb_folder_is_created_and_removed_on_close)
{
    sl_ks_state *st = NULL, *other = NULL;
    char dir[512];

    snprintf(dir, sizeof(dir), "%s/a/b/job-1-counts-0", tmp_root);
    ck_assert_int_eq(sl_ks_open("leveldb", 0, 3, dir, NULL, &st), SL_OK);
    ck_assert(path_exists(dir));
    /* a second state cannot take a folder in use */
    ck_assert_int_ne(sl_ks_open("leveldb", 0, 3, dir, NULL, &other), SL_OK);
    ck_assert_ptr_null(other);
    put_str(st, 1, "k", "v");
    assert_get(st, 1, "k", "v");
    sl_ks_close(st);
    ck_assert(!path_exists(dir));
}
END_TEST

/* A child opens a state, writes and exits without closing (a killed
 * process); leaves its folder behind. */
static void leave_stale_state(const char *dir)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        sl_ks_state *st = NULL;
        if (sl_ks_open("leveldb", 0, 3, dir, NULL, &st) != SL_OK ||
            sl_ks_put(st, 2, "old", 3, "x", 1) != SL_OK) {
            _exit(1);
        }
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert(path_exists(dir));
}

START_TEST(test_leveldb_starts_empty_over_a_stale_copy)
{
    sl_ks_state *st = NULL;
    char dir[512];

    state_dir(dir, sizeof(dir));
    leave_stale_state(dir);
    ck_assert_int_eq(sl_ks_open("leveldb", 0, 3, dir, NULL, &st), SL_OK);
    ck_assert(is_absent(st, 2, "old"));
    ck_assert_uint_eq(sl_ks_count(st), 0);
    sl_ks_close(st);
    ck_assert(!path_exists(dir));
}
END_TEST

#define JOB "0123456789abcdef0123456789abcdef"

START_TEST(test_local_dir_names_and_sweeps_earlier_attempts)
{
    char out[512], want[512], dead1[512], dead2[512], other_job[512], live[512], roots[600];
    sl_ks_state *held = NULL;

    snprintf(dead1, sizeof(dead1), "%s/" JOB "-1-counts-0", tmp_root);
    snprintf(dead2, sizeof(dead2), "%s/" JOB "-2-my-stage.x-1", tmp_root);
    snprintf(other_job, sizeof(other_job), "%s/fedcba9876543210fedcba9876543210-1-counts-0", tmp_root);
    snprintf(live, sizeof(live), "%s/" JOB "-2-counts-1", tmp_root);
    leave_stale_state(dead1);
    leave_stale_state(dead2);
    leave_stale_state(other_job);
    ck_assert_int_eq(sl_ks_open("leveldb", 0, 3, live, NULL, &held), SL_OK);

    snprintf(roots, sizeof(roots), " file://%s/ ", tmp_root);
    ck_assert_int_eq(sl_ks_local_dir(roots, JOB, 3, "counts", 1, out, sizeof(out)), SL_OK);
    snprintf(want, sizeof(want), "%s/" JOB "-3-counts-1", tmp_root);
    ck_assert_str_eq(out, want);
    ck_assert(!path_exists(dead1));
    ck_assert(!path_exists(dead2));
    ck_assert(path_exists(other_job)); /* another job's */
    ck_assert(path_exists(live));      /* held by a live state */
    sl_ks_close(held);
    ck_assert(!path_exists(live));
}
END_TEST

START_TEST(test_local_dir_picks_a_root_per_subtask)
{
    char out[64];

    ck_assert_int_eq(sl_ks_local_dir("/x/a,/x/b", JOB, 0, "s", 3, out, sizeof(out)), SL_OK);
    ck_assert_str_eq(out, "/x/b/" JOB "-0-s-3");
    ck_assert_int_eq(sl_ks_local_dir("/x/a,/x/b", JOB, 0, "s", 2, out, sizeof(out)), SL_OK);
    ck_assert_str_eq(out, "/x/a/" JOB "-0-s-2");
    ck_assert_int_eq(sl_ks_local_dir("relative", JOB, 0, "s", 0, out, sizeof(out)), SL_EINVAL);
    ck_assert_int_eq(sl_ks_local_dir("/x,", JOB, 0, "s", 1, out, sizeof(out)), SL_EINVAL);
    ck_assert_int_eq(sl_ks_local_dir("/x", JOB, 0, "a/b", 0, out, sizeof(out)), SL_EINVAL);
    ck_assert_int_eq(sl_ks_local_dir("/x", JOB, 0, "s", 0, out, 20), SL_ENOSPC);
}
END_TEST

/* ---- leveldb write-back cache (keyed_state_cache.c) -------------------
 * The cache alone with a recording sink, then the leveldb backend under a
 * budget so small that almost every entry is evicted. */
#include "taskmanager/state/keyed_state_cache.h"

/* A sink that records what reaches the store (a tiny map of strings). */
enum { REC_MAX = 4096 };
typedef struct rec_sink {
    char keys[REC_MAX][16];
    int present[REC_MAX];
    int n, puts, commits, fail;
} rec_sink;

static int rec_find(rec_sink *r, const void *key, size_t klen)
{
    for (int i = 0; i < r->n; i++) {
        if (strlen(r->keys[i]) == klen && memcmp(r->keys[i], key, klen) == 0) {
            return i;
        }
    }
    return -1;
}

static int rec_put(void *arg, const void *key, size_t klen, const void *val, size_t vlen)
{
    rec_sink *r = arg;
    int i = rec_find(r, key, klen);

    (void)vlen;
    r->puts++;
    if (r->fail) {
        return SL_OK;
    }
    if (i < 0) {
        ck_assert(r->n < REC_MAX && klen < sizeof(r->keys[0]));
        i = r->n++;
        memcpy(r->keys[i], key, klen);
        r->keys[i][klen] = '\0';
    }
    r->present[i] = val != NULL;
    return SL_OK;
}

static int rec_commit(void *arg)
{
    rec_sink *r = arg;

    r->commits++;
    return r->fail ? SL_EIO : SL_OK;
}

static sl_kcache *rec_cache(rec_sink *r, size_t budget)
{
    const sl_kcache_sink sink = {.put = rec_put, .commit = rec_commit, .arg = r};
    sl_kcache *c = NULL;

    memset(r, 0, sizeof(*r));
    ck_assert_int_eq(sl_kcache_new(budget, &sink, &c), SL_OK);
    return c;
}

static void kc_put(sl_kcache *c, const char *k, const char *v)
{
    ck_assert_int_eq(sl_kcache_store(c, k, strlen(k), v, strlen(v), SL_KCACHE_DIRTY, NULL), SL_OK);
}

static int kc_has(sl_kcache *c, const char *k)
{
    sl_kcache_entry *e;
    return sl_kcache_lookup(c, k, strlen(k), &e) == SL_OK;
}

START_TEST(test_cache_evicts_least_recently_used_in_one_batch)
{
    rec_sink *r = malloc(sizeof(*r));
    sl_kcache *c = rec_cache(r, 8192);
    sl_kcache_stats st;
    char k[16];

    kc_put(c, "hot", "v");
    for (int i = 0; i < 200; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        kc_put(c, k, "0123456789abcdef");
        ck_assert(kc_has(c, "hot")); /* touched: never the oldest */
    }
    sl_kcache_get_stats(c, &st);
    ck_assert(st.bytes <= st.budget);
    ck_assert(st.evictions > 0);
    ck_assert(!st.complete);
    ck_assert(kc_has(c, "hot"));
    ck_assert(!kc_has(c, "k0")); /* the oldest went first */
    ck_assert(kc_has(c, "k199"));
    /* every evicted entry reached the store, several per batch */
    ck_assert_int_eq(r->n, (int)st.evictions);
    ck_assert((uint64_t)r->commits < st.evictions);
    ck_assert_int_eq(rec_find(r, "k0", 2) >= 0, 1);
    sl_kcache_free(c);
    free(r);
}
END_TEST

START_TEST(test_cache_flush_writes_every_dirty_entry_once)
{
    rec_sink *r = malloc(sizeof(*r));
    sl_kcache *c = rec_cache(r, 1 << 20);
    sl_kcache_stats st;

    kc_put(c, "a", "1");
    kc_put(c, "b", "2");
    kc_put(c, "a", "3"); /* coalesced */
    ck_assert_int_eq(sl_kcache_store(c, "c", 1, "x", 1, 0, NULL), SL_OK); /* clean */
    ck_assert_int_eq(sl_kcache_flush(c), SL_OK);
    ck_assert_int_eq(r->commits, 1);
    ck_assert_int_eq(r->puts, 2);
    ck_assert_int_eq(rec_find(r, "c", 1), -1);
    sl_kcache_get_stats(c, &st);
    ck_assert_uint_eq(st.dirty, 0);
    ck_assert_int_eq(sl_kcache_flush(c), SL_OK); /* nothing left: no batch */
    ck_assert_int_eq(r->commits, 1);
    sl_kcache_free(c);
    free(r);
}
END_TEST

START_TEST(test_cache_tombstones_reach_the_store_only_when_needed)
{
    rec_sink *r = malloc(sizeof(*r));
    sl_kcache *c = rec_cache(r, 1 << 20);
    sl_kcache_entry *e;

    kc_put(c, "new", "1");
    ck_assert_int_eq(sl_kcache_delete(c, "new", 3), SL_OK); /* never stored: dropped */
    ck_assert(!kc_has(c, "new"));
    kc_put(c, "old", "1");
    ck_assert_int_eq(sl_kcache_flush(c), SL_OK);
    ck_assert_int_eq(sl_kcache_delete(c, "old", 3), SL_OK); /* stored: a tombstone */
    ck_assert_int_eq(sl_kcache_lookup(c, "old", 3, &e), SL_OK);
    ck_assert_int_eq(sl_kcache_entry_present(e, NULL, NULL), 0);
    ck_assert_int_eq(sl_kcache_flush(c), SL_OK);
    ck_assert_int_eq(rec_find(r, "new", 3), -1);
    ck_assert_int_eq(r->present[rec_find(r, "old", 3)], 0);
    sl_kcache_free(c);
    free(r);
}
END_TEST

START_TEST(test_cache_failed_write_loses_nothing)
{
    rec_sink *r = malloc(sizeof(*r));
    sl_kcache *c = rec_cache(r, 1 << 20);
    sl_kcache_stats st;

    kc_put(c, "a", "1");
    r->fail = 1;
    ck_assert_int_eq(sl_kcache_flush(c), SL_EIO);
    sl_kcache_get_stats(c, &st);
    ck_assert_uint_eq(st.dirty, 1);
    r->fail = 0;
    ck_assert_int_eq(sl_kcache_flush(c), SL_OK);
    ck_assert_int_eq(r->present[rec_find(r, "a", 1)], 1);
    sl_kcache_free(c);
    free(r);
}
END_TEST

START_TEST(test_cache_value_may_come_from_the_cache)
{
    rec_sink *r = malloc(sizeof(*r));
    sl_kcache *c = rec_cache(r, 1 << 20);
    sl_kcache_entry *e;
    const void *v;
    size_t vlen;
    char big[100];

    memset(big, 'b', sizeof(big));
    kc_put(c, "a", "0123456789");
    ck_assert_int_eq(sl_kcache_lookup(c, "a", 1, &e), SL_OK);
    ck_assert(sl_kcache_entry_present(e, &v, &vlen));
    /* shorter value from inside the same entry (in place) */
    ck_assert_int_eq(sl_kcache_store(c, "a", 1, (const char *)v + 2, 4, SL_KCACHE_DIRTY, &e), SL_OK);
    ck_assert(sl_kcache_entry_present(e, &v, &vlen));
    ck_assert_uint_eq(vlen, 4);
    ck_assert(memcmp(v, "2345", 4) == 0);
    /* a larger value moves the entry */
    ck_assert_int_eq(sl_kcache_store(c, "a", 1, big, sizeof(big), SL_KCACHE_DIRTY, &e), SL_OK);
    ck_assert(sl_kcache_entry_present(e, &v, &vlen));
    ck_assert_uint_eq(vlen, sizeof(big));
    ck_assert(memcmp(v, big, sizeof(big)) == 0);
    sl_kcache_free(c);
    free(r);
}
END_TEST

/* The leveldb backend under a 4 KiB cache: nearly everything is evicted. */
static sl_kcache_budget tiny_budget;

static sl_ks_state *open_tiny(int kg_start, int kg_end)
{
    sl_kcache_budget_init(&tiny_budget, SL_KCACHE_MIN_BUDGET);
    cache_budget = &tiny_budget;
    return open_backend(1, kg_start, kg_end);
}

START_TEST(test_tiny_cache_keeps_every_value_and_the_count)
{
    enum { N = 20000, G = 16 };
    sl_ks_state *st = open_tiny(0, G - 1);

    fill(st, N, 0, G);
    assert_filled(st, N, 0, G, 0, G - 1);
    fill(st, N, 0, G); /* replacing existing keys keeps the count */
    assert_filled(st, N, 0, G, 0, G - 1);
    sl_ks_close(st);
}
END_TEST

START_TEST(test_tiny_cache_tombstones_hide_evicted_values)
{
    enum { N = 5000, G = 8 };
    sl_ks_state *st = open_tiny(0, G - 1);
    char key[32];

    fill(st, N, 0, G); /* most now only in leveldb */
    for (int i = 0; i < N; i += 2) {
        int kl = snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(sl_ks_delete(st, i % G, key, (size_t)kl), SL_OK);
        ck_assert_int_eq(sl_ks_delete(st, i % G, key, (size_t)kl), SL_ENOTFOUND);
    }
    ck_assert_uint_eq(sl_ks_count(st), N / 2);
    for (int i = 0; i < N; i++) {
        int kl = snprintf(key, sizeof(key), "k%d", i);
        int rv = sl_ks_get(st, i % G, key, (size_t)kl, NULL, NULL);
        ck_assert_int_eq(rv, i % 2 == 0 ? SL_ENOTFOUND : SL_OK);
    }
    sl_ks_close(st);
}
END_TEST

/* Both hold fill(n) minus every 3rd key; the leveldb one under budget. */
static void fill_and_thin(sl_ks_state *st, int n, int g)
{
    char key[32];

    fill(st, n, 0, g);
    for (int i = 0; i < n; i += 3) {
        int kl = snprintf(key, sizeof(key), "k%d", i);
        ck_assert_int_eq(sl_ks_delete(st, i % g, key, (size_t)kl), SL_OK);
    }
}

START_TEST(test_tiny_cache_snapshot_equals_the_hashmaps)
{
    /* one key per group: the bytes cannot differ in order */
    enum { G = 3000 };
    sl_ks_state *a = open_hm(0, G - 1), *b = open_tiny(0, G - 1);
    sl_buf sa = {0}, sb = {0};

    fill_and_thin(a, G, G);
    fill_and_thin(b, G, G);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, 0, G - 1, &sa), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(b, 0, G - 1, &sb), SL_OK);
    ck_assert_uint_eq(sa.len, sb.len);
    ck_assert(memcmp(sa.p, sb.p, sa.len) == 0);
    sl_buf_free(&sa);
    sl_buf_free(&sb);
    sl_ks_close(a);
    sl_ks_close(b);
}
END_TEST

START_TEST(test_tiny_cache_snapshot_restores_the_same_content)
{
    enum { N = 20000, G = 16 };
    sl_ks_state *a = open_tiny(0, G - 1), *h = open_hm(0, G - 1), *h2 = open_hm(0, G - 1);
    sl_buf snap = {0}, hsnap = {0}, back = {0};

    fill_and_thin(a, N, G);
    fill_and_thin(h, N, G);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(a, 0, G - 1, &snap), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(h, 0, G - 1, &hsnap), SL_OK);
    ck_assert_uint_eq(snap.len, hsnap.len);
    /* restored into a hashmap it snapshots to the hashmap's bytes */
    ck_assert_int_eq(sl_ks_restore(h2, snap.p, snap.len, 0, G - 1), SL_OK);
    ck_assert_uint_eq(sl_ks_count(h2), sl_ks_count(h));
    ck_assert_int_eq(sl_ks_snapshot_to_buf(h2, 0, G - 1, &back), SL_OK);
    ck_assert_uint_eq(back.len, hsnap.len);
    sl_buf_free(&snap);
    sl_buf_free(&hsnap);
    sl_buf_free(&back);
    sl_ks_close(a);
    sl_ks_close(h);
    sl_ks_close(h2);
}
END_TEST

/* A view opened with dirty entries in the cache sees them; later writes
 * (and the evictions they cause) do not show. */
START_TEST(test_tiny_cache_view_sees_dirty_entries_and_not_later_writes)
{
    enum { N = 3000, G = 8 };
    sl_ks_state *st = open_tiny(0, G - 1);
    view_acc acc = {.last_kg = -1, .ordered = 1};
    sl_ks_view *v = NULL;

    fill(st, N, 0, G);
    ck_assert_int_eq(sl_ks_view_open(st, &v), SL_OK);
    fill(st, 3 * N, 0, G);
    ck_assert_int_eq(sl_ks_view_visit(v, 0, G - 1, view_cb, &acc), SL_OK);
    ck_assert_int_eq(acc.n, N);
    ck_assert(acc.ordered);
    sl_ks_view_close(v);
    sl_ks_close(st);
}
END_TEST

typedef struct order_acc {
    char last[32];
    size_t last_len;
    int n, ordered;
} order_acc;

static int order_cb(void *arg, int kg, const void *key, size_t klen, const void *val, size_t vlen)
{
    order_acc *o = arg;
    size_t m = klen < o->last_len ? klen : o->last_len;
    int c = memcmp(o->last, key, m);

    (void)kg, (void)val, (void)vlen;
    ck_assert(klen < sizeof(o->last));
    o->ordered &= o->n == 0 || c < 0 || (c == 0 && o->last_len < klen);
    memcpy(o->last, key, klen);
    o->last_len = klen;
    o->n++;
    return 0;
}

/* visit_group goes in key order over cached (dirty) and evicted entries. */
START_TEST(test_cache_visit_is_in_key_order)
{
    enum { N = 2000 };
    for (int budget = 0; budget < 2; budget++) {
        sl_kcache_budget_init(&tiny_budget, budget ? SL_KCACHE_MIN_BUDGET : 0);
        cache_budget = &tiny_budget;
        sl_ks_state *st = open_backend(1, 0, 0);
        order_acc o = {.ordered = 1};
        char key[32];
        for (int i = 0; i < N; i++) {
            int kl = snprintf(key, sizeof(key), "k%d", (i * 7919) % N);
            ck_assert_int_eq(sl_ks_put(st, 0, key, (size_t)kl, "v", 1), SL_OK);
        }
        ck_assert_int_eq(sl_ks_visit_group(st, 0, order_cb, &o), SL_OK);
        ck_assert_int_eq(o.n, N);
        ck_assert(o.ordered);
        sl_ks_close(st);
    }
}
END_TEST

/* The budget is an object made from the taskmanager's configuration. */
START_TEST(test_cache_budget_comes_from_the_configuration)
{
    sl_kcache_budget b;
    sl_config *cfg;
    char err[256];

    sl_kcache_budget_from_config(&b, NULL);
    ck_assert_uint_eq(sl_kcache_budget_bytes(&b), SL_KCACHE_DEFAULT_BUDGET);
    ck_assert_uint_eq(sl_kcache_budget_bytes(NULL), SL_KCACHE_DEFAULT_BUDGET);
    ck_assert_int_eq(sl_config_new(&cfg), SL_OK);
    sl_kcache_budget_from_config(&b, cfg);
    ck_assert_uint_eq(sl_kcache_budget_bytes(&b), (size_t)64 << 20);
    ck_assert_int_eq(
        sl_config_set_override(cfg, "state.backend.leveldb.cache-size=8 mb", err, sizeof err),
        SL_OK);
    sl_kcache_budget_from_config(&b, cfg);
    ck_assert_uint_eq(sl_kcache_budget_bytes(&b), (size_t)8 << 20);
    sl_kcache_budget_init(&b, 0);
    ck_assert_uint_eq(sl_kcache_budget_bytes(&b), SL_KCACHE_DEFAULT_BUDGET);
    sl_kcache_budget_init(&b, 12345);
    ck_assert_uint_eq(sl_kcache_budget_bytes(&b), 12345);
    sl_config_free(cfg);
}
END_TEST

static void add_cache_tests(Suite *s)
{
    TCase *kc = tcase_create("leveldb cache");

    tcase_set_timeout(kc, 60);
    tcase_add_checked_fixture(kc, setup_root, teardown_root);
    tcase_add_test(kc, test_cache_evicts_least_recently_used_in_one_batch);
    tcase_add_test(kc, test_cache_flush_writes_every_dirty_entry_once);
    tcase_add_test(kc, test_cache_tombstones_reach_the_store_only_when_needed);
    tcase_add_test(kc, test_cache_failed_write_loses_nothing);
    tcase_add_test(kc, test_cache_value_may_come_from_the_cache);
    tcase_add_test(kc, test_tiny_cache_keeps_every_value_and_the_count);
    tcase_add_test(kc, test_tiny_cache_tombstones_hide_evicted_values);
    tcase_add_test(kc, test_tiny_cache_snapshot_equals_the_hashmaps);
    tcase_add_test(kc, test_tiny_cache_snapshot_restores_the_same_content);
    tcase_add_test(kc, test_tiny_cache_view_sees_dirty_entries_and_not_later_writes);
    tcase_add_test(kc, test_cache_visit_is_in_key_order);
    tcase_add_test(kc, test_cache_budget_comes_from_the_configuration);
    suite_add_tcase(s, kc);
}

static Suite *keyed_state_suite(void)
{
    Suite *s = suite_create("keyed_state");
    TCase *both = tcase_create("both backends");
    TCase *hm = tcase_create("hashmap");
    TCase *ldb = tcase_create("leveldb");

    /* _i: index into backends[] */
    tcase_set_timeout(both, 120);
    tcase_add_checked_fixture(both, setup_root, teardown_root);
    tcase_add_loop_test(both, test_put_get, 0, NBACKENDS);
    tcase_add_loop_test(both, test_get_missing_is_enotfound, 0, NBACKENDS);
    tcase_add_loop_test(both, test_empty_key_and_empty_value, 0, NBACKENDS);
    tcase_add_loop_test(both, test_replace_larger_value, 0, NBACKENDS);
    tcase_add_loop_test(both, test_delete, 0, NBACKENDS);
    tcase_add_loop_test(both, test_growth_to_100k_keys, 0, NBACKENDS);
    tcase_add_loop_test(both, test_many_keys_in_one_group_with_colliding_prefixes, 0, NBACKENDS);
    tcase_add_loop_test(both, test_visit_group_sees_exactly_its_entries, 0, NBACKENDS);
    tcase_add_loop_test(both, test_visit_stops_on_nonzero, 0, NBACKENDS);
    tcase_add_loop_test(both, test_bad_arguments_are_einval, 0, NBACKENDS);
    tcase_add_loop_test(both, test_snapshot_restores_into_the_other_backend, 0, NBACKENDS);
    tcase_add_loop_test(both, test_restore_takes_only_its_key_group_range, 0, NBACKENDS);
    tcase_add_loop_test(both, test_rescale_across_backends_2_3_1, 0, NBACKENDS);
    tcase_add_loop_test(both, test_empty_state_snapshots_to_nothing, 0, NBACKENDS);
    tcase_add_loop_test(both, test_restore_rejects_malformed_data, 0, NBACKENDS);
    tcase_add_test(both, test_snapshot_is_the_same_bytes_for_both_backends);
    suite_add_tcase(s, both);

    tcase_set_timeout(hm, 120);
    tcase_add_test(hm, test_replace_smaller_is_in_place);
    tcase_add_test(hm, test_unknown_backend_is_einval);
    tcase_add_test(hm, test_restored_blocks_go_with_their_entries);
    tcase_add_test(hm, test_restored_values_outgrow_their_blocks);
    tcase_add_test(hm, test_restore_of_the_same_key_twice);
    tcase_add_test(hm, test_restore_of_a_big_group_with_big_values);
    suite_add_tcase(s, hm);

    tcase_set_timeout(ldb, 30);
    tcase_add_checked_fixture(ldb, setup_root, teardown_root);
    tcase_add_test(ldb, test_leveldb_view_is_consistent_while_writing);
    tcase_add_test(ldb, test_leveldb_needs_an_absolute_dir);
    tcase_add_test(ldb, test_leveldb_folder_is_created_and_removed_on_close);
    tcase_add_test(ldb, test_leveldb_starts_empty_over_a_stale_copy);
    tcase_add_test(ldb, test_local_dir_names_and_sweeps_earlier_attempts);
    tcase_add_test(ldb, test_local_dir_picks_a_root_per_subtask);
    suite_add_tcase(s, ldb);
    add_cache_tests(s); /* the leveldb write-back cache */
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keyed_state_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
