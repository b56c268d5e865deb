/* Unit tests: asynchronous keyed snapshots (keyed_state_snapshot.c) and the
 * hashmap's copy-on-write views (keyed_state_hashmap.c), also over
 * restored entries (which the hashmap packs into blocks).
 *
 * The reference for every check is a synchronous snapshot taken at the
 * moment the asynchronous one begins: whatever the task does afterwards,
 * the written bytes must equal it, and the live state must show the
 * task's writes. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "taskmanager/buf.h"
#include "common/status.h"
#include "taskmanager/state/keyed_state.h"

#define G 16 /* key groups [0, G) */

static sl_ks_state *open_hm(void)
{
    sl_ks_state *st = NULL;

    ck_assert_int_eq(sl_ks_open("hashmap", 0, G - 1, NULL, NULL, &st), SL_OK);
    return st;
}

static void key_of(int i, char *k, size_t cap)
{
    snprintf(k, cap, "key-%07d", i);
}

/* value of key i at generation gen; longer for odd generations, so some
 * replacements grow the value */
static size_t val_of(int i, int gen, char *v, size_t cap)
{
    int n = snprintf(v, cap, "v%d-%d%s", i, gen, gen % 2 ? "-grown-longer-than-before" : "");
    return (size_t)n;
}

static void put_i(sl_ks_state *st, int i, int gen)
{
    char k[32], v[64];
    size_t vlen = val_of(i, gen, v, sizeof(v));

    key_of(i, k, sizeof(k));
    ck_assert_int_eq(sl_ks_put(st, i % G, k, strlen(k), v, vlen), SL_OK);
}

static void del_i(sl_ks_state *st, int i)
{
    char k[32];

    key_of(i, k, sizeof(k));
    ck_assert_int_eq(sl_ks_delete(st, i % G, k, strlen(k)), SL_OK);
}

/* 1 if key i holds generation gen, 0 if absent */
static int has_i(sl_ks_state *st, int i, int gen)
{
    char k[32], v[64];
    const void *val;
    size_t vlen, want = val_of(i, gen, v, sizeof(v));

    key_of(i, k, sizeof(k));
    int rv = sl_ks_get(st, i % G, k, strlen(k), &val, &vlen);
    if (rv == SL_ENOTFOUND)
        return 0;
    ck_assert_int_eq(rv, SL_OK);
    ck_assert_uint_eq(vlen, want);
    ck_assert(memcmp(val, v, vlen) == 0);
    return 1;
}

/* Deletes key i if it is there. */
static void del_if_there(sl_ks_state *st, int i)
{
    char k[32];
    int rv;

    key_of(i, k, sizeof(k));
    rv = sl_ks_delete(st, i % G, k, strlen(k));
    ck_assert(rv == SL_OK || rv == SL_ENOTFOUND);
}

static int to_buf(void *arg, const void *p, size_t n)
{
    return sl_buf_put(arg, p, n);
}

static void write_to(sl_ks_snapshot *s, sl_buf *out)
{
    ck_assert_int_eq(sl_ks_snapshot_write(s, to_buf, out), SL_OK);
}

static void assert_same(const sl_buf *a, const sl_buf *b)
{
    ck_assert_uint_eq(a->len, b->len);
    ck_assert(a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

/* Puts (new keys, same-size and growing values), deletes and re-inserts
 * after begin: the snapshot still writes the state of the begin. */
START_TEST(test_view_sees_the_state_of_its_begin)
{
    sl_ks_state *st = open_hm();
    sl_ks_snapshot *s;
    sl_buf ref = {0}, got = {0};
    const int n = 5000;

    for (int i = 0; i < n; i++)
        put_i(st, i, 0);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &s), SL_OK);
    ck_assert(sl_ks_snapshot_deferred(s));
    for (int i = 0; i < n; i += 2)
        put_i(st, i, 1); /* grows */
    for (int i = 0; i < n; i += 2)
        put_i(st, i, 2); /* a new entry written twice */
    for (int i = 1; i < n; i += 4)
        del_i(st, i);
    for (int i = 3; i < n; i += 8) {
        del_i(st, i);
        put_i(st, i, 3); /* deleted, then back */
    }
    for (int i = n; i < 2 * n; i++)
        put_i(st, i, 0); /* new keys, tables grow */
    write_to(s, &got);
    sl_ks_snapshot_free(s);
    assert_same(&ref, &got);
    for (int i = 0; i < 2 * n; i++) {
        int gen = i >= n ? 0 : i % 2 == 0 ? 2 : i % 8 == 3 ? 3 : i % 4 == 1 ? -1 : 0;
        if (gen < 0)
            ck_assert(!has_i(st, i, 0));
        else
            ck_assert(has_i(st, i, gen));
    }
    sl_buf_free(&ref);
    sl_buf_free(&got);
    sl_ks_close(st);
}
END_TEST

/* A second snapshot while the first is still open is taken synchronously,
 * with the state of its own moment; both write what they should. */
START_TEST(test_second_snapshot_while_one_is_open)
{
    sl_ks_state *st = open_hm();
    sl_ks_snapshot *a, *b;
    sl_buf ref_a = {0}, ref_b = {0}, got_a = {0}, got_b = {0};

    for (int i = 0; i < 1000; i++)
        put_i(st, i, 0);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref_a), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &a), SL_OK);
    for (int i = 0; i < 1000; i += 3)
        put_i(st, i, 1);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &b), SL_OK);
    ck_assert(!sl_ks_snapshot_deferred(b));
    for (int i = 0; i < 1000; i += 5)
        del_i(st, i);
    write_to(a, &got_a);
    write_to(b, &got_b);
    sl_ks_snapshot_free(a);
    sl_ks_snapshot_free(b);
    assert_same(&ref_a, &got_a);
    /* b's reference: the state with the gen-1 puts and without the deletes */
    sl_ks_state *c = open_hm();
    for (int i = 0; i < 1000; i++)
        put_i(c, i, i % 3 == 0 ? 1 : 0);
    sl_ks_state *d = open_hm();
    ck_assert_int_eq(sl_ks_restore(d, got_b.p, got_b.len, 0, G - 1), SL_OK);
    ck_assert_uint_eq(sl_ks_count(d), 1000);
    for (int i = 0; i < 1000; i++)
        ck_assert(has_i(d, i, i % 3 == 0 ? 1 : 0));
    /* and after both closed, the next snapshot is asynchronous again */
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref_b), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &a), SL_OK);
    ck_assert(sl_ks_snapshot_deferred(a));
    sl_ks_snapshot_free(a); /* never written: released all the same */
    sl_buf_free(&ref_a);
    sl_buf_free(&ref_b);
    sl_buf_free(&got_a);
    sl_buf_free(&got_b);
    sl_ks_close(c);
    sl_ks_close(d);
    sl_ks_close(st);
}
END_TEST

/* The task may close its state (it ended) before the uploader writes. */
START_TEST(test_snapshot_outlives_its_state)
{
    sl_ks_state *st = open_hm();
    sl_ks_snapshot *s;
    sl_buf ref = {0}, got = {0};

    for (int i = 0; i < 3000; i++)
        put_i(st, i, 0);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &s), SL_OK);
    for (int i = 0; i < 3000; i += 2)
        put_i(st, i, 1);
    for (int i = 1; i < 3000; i += 2)
        del_i(st, i);
    sl_ks_close(st);
    write_to(s, &got);
    sl_ks_snapshot_free(s);
    assert_same(&ref, &got);
    sl_buf_free(&ref);
    sl_buf_free(&got);
}
END_TEST

/* A sub-range of the key groups, as a rescaled subtask would not take,
 * but the range argument must hold for the deferred write too. */
START_TEST(test_deferred_write_takes_its_range)
{
    sl_ks_state *st = open_hm();
    sl_ks_snapshot *s;
    sl_buf ref = {0}, got = {0};

    for (int i = 0; i < 2000; i++)
        put_i(st, i, 0);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 4, 9, &ref), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 4, 9, &s), SL_OK);
    for (int i = 0; i < 2000; i++)
        put_i(st, i, 1);
    write_to(s, &got);
    ck_assert_int_eq(sl_ks_snapshot_write(s, to_buf, &got), SL_EINVAL); /* once */
    sl_ks_snapshot_free(s);
    assert_same(&ref, &got);
    sl_ks_state *back = open_hm();
    ck_assert_int_eq(sl_ks_restore(back, got.p, got.len, 0, G - 1), SL_OK);
    for (int i = 0; i < 2000; i++)
        ck_assert_int_eq(has_i(back, i, 0), i % G >= 4 && i % G <= 9);
    sl_buf_free(&ref);
    sl_buf_free(&got);
    sl_ks_close(back);
    sl_ks_close(st);
}
END_TEST

static int stop_at(void *arg, const void *p, size_t n)
{
    (void)arg, (void)p, (void)n;
    return SL_EIO;
}

START_TEST(test_sink_error_is_returned)
{
    sl_ks_state *st = open_hm();
    sl_ks_snapshot *s;

    for (int i = 0; i < 100; i++)
        put_i(st, i, 0);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &s), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_write(s, stop_at, NULL), SL_EIO);
    sl_ks_snapshot_free(s);
    put_i(st, 5, 1); /* the state goes on */
    ck_assert(has_i(st, 5, 1));
    sl_ks_close(st);
}
END_TEST

/* The uploader's side on its own thread while the task writes: many
 * rounds of begin / concurrent write and churn / compare. */
typedef struct writer_arg {
    sl_ks_snapshot *s;
    sl_buf out;
    int rv;
} writer_arg;

static void *writer_main(void *p)
{
    writer_arg *w = p;

    w->rv = sl_ks_snapshot_write(w->s, to_buf, &w->out);
    return NULL;
}

/* rounds times: a synchronous reference snapshot, then an asynchronous
 * one written on its own thread while this thread puts and deletes random
 * keys of [0, 2n); the written bytes must equal the reference. */
static void churn_while_writing(sl_ks_state *st, int n, int rounds, unsigned seed)
{
    for (int round = 0; round < rounds; round++) {
        sl_buf ref = {0};
        writer_arg w = {0};
        pthread_t th;

        ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref), SL_OK);
        ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &w.s), SL_OK);
        ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w), 0);
        for (int k = 0; k < 30000; k++) {
            int i = (int)(rand_r(&seed) % (unsigned)(2 * n)), op = (int)(rand_r(&seed) % 4);
            char key[32];
            key_of(i, key, sizeof(key));
            if (op == 0)
                (void)sl_ks_delete(st, i % G, key, strlen(key));
            else
                put_i(st, i, op + round);
        }
        ck_assert_int_eq(pthread_join(th, NULL), 0);
        ck_assert_int_eq(w.rv, SL_OK);
        assert_same(&ref, &w.out);
        sl_ks_snapshot_free(w.s);
        sl_buf_free(&ref);
        sl_buf_free(&w.out);
    }
}

START_TEST(test_concurrent_write_while_the_task_churns)
{
    sl_ks_state *st = open_hm();
    const int n = 20000;

    for (int i = 0; i < n; i++)
        put_i(st, i, 0);
    churn_while_writing(st, n, 10, 12345);
    sl_ks_close(st);
}
END_TEST

/* ---- views over restored entries (packed in blocks by the restore) */

/* A hashmap state restored from a snapshot of keys [0, n) at generation
 * gen. */
static sl_ks_state *restored(int n, int gen)
{
    sl_ks_state *src = open_hm(), *st = open_hm();
    sl_buf snap = {0};

    for (int i = 0; i < n; i++)
        put_i(src, i, gen);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(src, 0, G - 1, &snap), SL_OK);
    ck_assert_int_eq(sl_ks_restore(st, snap.p, snap.len, 0, G - 1), SL_OK);
    ck_assert_uint_eq(sl_ks_count(st), (size_t)n);
    sl_ks_close(src);
    sl_buf_free(&snap);
    return st;
}

/* Restored entries under an open view: rewritten (same size and
 * growing), deleted, deleted and back, and restored over again (a second
 * restore while the view is open, with new keys and other values of old
 * ones). The view writes the state of its begin; the live state has every
 * change; later writes reap what the view kept. */
START_TEST(test_view_over_restored_entries)
{
    const int n = 6000;
    sl_ks_state *st = restored(n, 0), *more = open_hm();
    sl_ks_snapshot *s;
    sl_buf ref = {0}, got = {0}, more_snap = {0};

    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &s), SL_OK);
    ck_assert(sl_ks_snapshot_deferred(s));
    for (int i = 0; i < n; i += 2)
        put_i(st, i, 2); /* same size: a copy, the view keeps the old */
    for (int i = 0; i < n; i += 4)
        put_i(st, i, 1); /* grows */
    for (int i = 1; i < n; i += 4)
        del_i(st, i);
    for (int i = 3; i < n; i += 8) {
        del_i(st, i);
        put_i(st, i, 3);
    }
    for (int i = n - 500; i < n + 2000; i++)
        put_i(more, i, 5);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(more, 0, G - 1, &more_snap), SL_OK);
    ck_assert_int_eq(sl_ks_restore(st, more_snap.p, more_snap.len, 0, G - 1), SL_OK);
    write_to(s, &got);
    sl_ks_snapshot_free(s);
    assert_same(&ref, &got);
    for (int i = 0; i < n + 2000; i++) {
        int gen = i >= n - 500 ? 5 : i % 4 == 0 ? 1 : i % 2 == 0 ? 2 : i % 8 == 3 ? 3 : i % 4 == 1 ? -1 : 0;
        if (gen < 0)
            ck_assert(!has_i(st, i, 0));
        else
            ck_assert(has_i(st, i, gen));
    }
    for (int i = 0; i < n + 2000; i += 3)
        put_i(st, i, 6); /* reaps the closed view's retired entries */
    for (int i = 0; i < n + 2000; i++)
        del_if_there(st, i);
    ck_assert_uint_eq(sl_ks_count(st), 0);
    sl_buf_free(&ref);
    sl_buf_free(&got);
    sl_buf_free(&more_snap);
    sl_ks_close(more);
    sl_ks_close(st);
}
END_TEST

/* The state, all of it restored, closed (the task ended) before the
 * uploader writes: the view's block entries live on until it is done. */
START_TEST(test_restored_snapshot_outlives_its_state)
{
    sl_ks_state *st = restored(4000, 1);
    sl_ks_snapshot *s;
    sl_buf ref = {0}, got = {0};

    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &s), SL_OK);
    for (int i = 0; i < 4000; i += 2)
        put_i(st, i, 0); /* shrinks */
    for (int i = 1; i < 4000; i += 2)
        del_i(st, i);
    sl_ks_close(st);
    write_to(s, &got);
    sl_ks_snapshot_free(s);
    assert_same(&ref, &got);
    sl_buf_free(&ref);
    sl_buf_free(&got);
}
END_TEST

/* Concurrent writes of views over a restored state while the task
 * churns, as test_concurrent_write_while_the_task_churns. */
START_TEST(test_concurrent_write_over_restored_entries)
{
    const int n = 20000;
    sl_ks_state *st = restored(n, 1);

    churn_while_writing(st, n, 6, 54321);
    sl_ks_close(st);
}
END_TEST

/* leveldb's snapshot is serialized at begin (views are read on the task
 * thread), and equals the synchronous one. */
START_TEST(test_leveldb_snapshot_is_taken_at_begin)
{
    char dir[] = "/tmp/sluice-ksnap-XXXXXX";
    char sub[64];
    sl_ks_state *st = NULL;
    sl_ks_snapshot *s;
    sl_buf ref = {0}, got = {0};

    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/db", dir);
    ck_assert_int_eq(sl_ks_open("leveldb", 0, G - 1, sub, NULL, &st), SL_OK);
    for (int i = 0; i < 500; i++)
        put_i(st, i, 0);
    ck_assert_int_eq(sl_ks_snapshot_to_buf(st, 0, G - 1, &ref), SL_OK);
    ck_assert_int_eq(sl_ks_snapshot_begin(st, 0, G - 1, &s), SL_OK);
    ck_assert(!sl_ks_snapshot_deferred(s));
    for (int i = 0; i < 500; i++)
        put_i(st, i, 1);
    sl_ks_close(st);
    write_to(s, &got);
    sl_ks_snapshot_free(s);
    assert_same(&ref, &got);
    sl_buf_free(&ref);
    sl_buf_free(&got);
    rmdir(dir);
}
END_TEST

static Suite *keyed_snapshot_suite(void)
{
    Suite *s = suite_create("keyed_snapshot");
    TCase *tc = tcase_create("async");

    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_view_sees_the_state_of_its_begin);
    tcase_add_test(tc, test_second_snapshot_while_one_is_open);
    tcase_add_test(tc, test_snapshot_outlives_its_state);
    tcase_add_test(tc, test_deferred_write_takes_its_range);
    tcase_add_test(tc, test_sink_error_is_returned);
    tcase_add_test(tc, test_concurrent_write_while_the_task_churns);
    tcase_add_test(tc, test_view_over_restored_entries);
    tcase_add_test(tc, test_restored_snapshot_outlives_its_state);
    tcase_add_test(tc, test_concurrent_write_over_restored_entries);
    tcase_add_test(tc, test_leveldb_snapshot_is_taken_at_begin);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(keyed_snapshot_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
