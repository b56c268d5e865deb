/* Unit tests: common/auth.c, per-request credentials.
 *
 * Certificates are made once by openssl in a temporary directory before
 * the tests run: a CA, a daemon certificate (EKU serverAuth,clientAuth,
 * RSA), a client certificate (EKU clientAuth, P-256), one without EKU, one
 * from another CA, one with anyExtendedKeyUsage, one with two CNs, and one
 * whose notAfter is its notBefore (expired a second later). Frames are
 * real packed Requests (ListJobs): a signed one verifies and names the kind
 * and CN; another CA, a changed prefix byte, a changed signature, bytes
 * after the credential, a clock 5 min off, a missing credential, malformed
 * lengths and an expired certificate are refused with a reason. One signer
 * and one verifier serve several threads at once. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/auth.h"
#include "common/status.h"
#include "common/util.h"
#include "proto/sluice.pb-c.h"

#define LEADER_ID 7        /* packed last in the prefix: one varint byte */
#define EXPIRY_WAIT_MS 3000
#define THREADS 4
#define ROUNDS 10
#define MANY 70 /* certificates of alice's key: more than the verifier caches (64) */

static char dir[64];

static const char *const gen_script =
    "set -e; cd \"$1\"\n"
    "ext() { printf 'basicConstraints=CA:FALSE\\n%s\\n' \"$1\" > \"$2.ext\"; }\n"
    "ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout $1.key -out $1.pem -days 30 "
    "-subj /CN=$1; }\n"
    /* leaf NAME CA DAYS KEYOPTS EXT */
    "leaf() { openssl req -newkey $4 -nodes -keyout $1.key -out $1.csr -subj /CN=$1;"
    " ext \"$5\" $1; openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial"
    " -days $3 -extfile $1.ext -out $1.pem; }\n"
    "ca ca; ca otherca\n"
    "leaf expired ca 0 rsa:2048 extendedKeyUsage=clientAuth\n"
    "leaf daemon1 ca 30 rsa:2048 extendedKeyUsage=serverAuth,clientAuth\n"
    "leaf alice ca 30 'ec -pkeyopt ec_paramgen_curve:P-256' extendedKeyUsage=clientAuth\n"
    "leaf noeku ca 30 rsa:2048 keyUsage=digitalSignature\n"
    "leaf mallory otherca 30 rsa:2048 extendedKeyUsage=serverAuth,clientAuth\n"
    "leaf anyeku ca 30 rsa:2048 extendedKeyUsage=anyExtendedKeyUsage,clientAuth\n"
    "openssl req -newkey rsa:2048 -nodes -keyout twocn.key -out twocn.csr -subj /CN=bob/CN=admin\n"
    "openssl x509 -req -in twocn.csr -CA ca.pem -CAkey ca.key -days 30 -extfile alice.ext"
    " -out twocn.pem\n"
    "for i in $(seq 1 $2); do openssl x509 -req -in alice.csr -CA ca.pem -CAkey ca.key"
    " -set_serial $((1000 + i)) -days 30 -extfile alice.ext -out many$i.pem; done\n";

static void make_certs(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sluice-test-auth-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        perror("mkdtemp");
        exit(EXIT_FAILURE);
    }
    char cmd[4096];
    /* the script goes in through the environment: no quoting to get wrong */
    setenv("SL_TEST_GEN", gen_script, 1);
    snprintf(cmd, sizeof(cmd), "bash -c 'eval \"$SL_TEST_GEN\"' gen %s %d >%s/gen.log 2>&1",
             dir, MANY, dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "openssl failed, see %s/gen.log\n", dir);
        exit(EXIT_FAILURE);
    }
}

static void remove_certs(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static const char *path_of(const char *name, const char *ext)
{
    static char p[4][128];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof(p[i]), "%s/%s.%s", dir, name, ext);
    return p[i];
}

static sl_auth_signer *signer(const char *name)
{
    sl_auth_signer *s = NULL;
    char err[512] = "";
    ck_assert_msg(sl_auth_signer_open(path_of(name, "pem"), path_of(name, "key"), &s, err,
                                      sizeof(err)) == SL_OK,
                  "%s", err);
    return s;
}

static sl_auth_verifier *verifier(void)
{
    sl_auth_verifier *v = NULL;
    char err[512] = "";
    ck_assert_msg(sl_auth_verifier_open(path_of("ca", "pem"), &v, err, sizeof(err)) == SL_OK,
                  "%s", err);
    return v;
}

/* A signed ListJobs request frame. */
typedef struct frame {
    uint8_t buf[32768];
    size_t len, plen; /* plen: bytes before the credential */
} frame;

static void make_frame(sl_auth_signer *s, int64_t t, frame *f)
{
    Sluice__Request r = SLUICE__REQUEST__INIT;
    Sluice__ListJobs lj = SLUICE__LIST_JOBS__INIT;
    lj.all = 1;
    r.body_case = SLUICE__REQUEST__BODY_LIST_JOBS;
    r.list_jobs = &lj;
    r.leader_id = LEADER_ID;
    f->plen = sluice__request__pack(&r, f->buf);
    uint8_t *suffix = NULL;
    size_t slen = 0;
    ck_assert_int_eq(sl_auth_sign(s, f->buf, f->plen, t, &suffix, &slen), SL_OK);
    ck_assert_uint_le(f->plen + slen, sizeof(f->buf));
    memcpy(f->buf + f->plen, suffix, slen);
    f->len = f->plen + slen;
    free(suffix);
}

/* Unpacks f as the server does and verifies it at now. */
static int verify_frame(sl_auth_verifier *v, const frame *f, int64_t now, sl_auth_identity *id,
                        char *why, size_t whylen)
{
    Sluice__Request *req = sluice__request__unpack(NULL, f->len, f->buf);
    ck_assert_ptr_nonnull(req);
    ck_assert_int_eq(req->body_case, SLUICE__REQUEST__BODY_LIST_JOBS);
    int rv = sl_auth_verify(v, f->buf, f->len, req->credential, now, id, why, whylen);
    sluice__request__free_unpacked(req, NULL);
    return rv;
}

/* Signs as name and expects refusal with a reason containing want. */
static void expect_refused(sl_auth_verifier *v, const frame *f, int64_t now, int code,
                           const char *want)
{
    sl_auth_identity id;
    char why[256] = "";
    ck_assert_int_eq(verify_frame(v, f, now, &id, why, sizeof(why)), code);
    ck_assert_msg(strstr(why, want) != NULL, "reason '%s', expected '%s'", why, want);
    ck_assert_ptr_null(strchr(why, '\n'));
}

static void expect_identity(const char *name, int kind)
{
    sl_auth_signer *s = signer(name);
    sl_auth_verifier *v = verifier();
    int64_t now = sl_wall_ms();
    frame f;
    make_frame(s, now, &f);
    sl_auth_identity id;
    char why[256] = "";
    ck_assert_msg(verify_frame(v, &f, now, &id, why, sizeof(why)) == SL_OK, "%s", why);
    ck_assert_int_eq(id.kind, kind);
    ck_assert_str_eq(id.cn, name);
    ck_assert_str_eq(sl_auth_signer_cn(s), name);
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}

START_TEST(test_client_roundtrip)
{
    expect_identity("alice", SL_AUTH_CLIENT);
}
END_TEST

START_TEST(test_daemon_roundtrip)
{
    expect_identity("daemon1", SL_AUTH_DAEMON);
}
END_TEST

START_TEST(test_no_eku_is_a_client)
{
    expect_identity("noeku", SL_AUTH_CLIENT);
}
END_TEST

/* anyExtendedKeyUsage is not serverAuth: a client. */
START_TEST(test_any_eku_is_a_client)
{
    expect_identity("anyeku", SL_AUTH_CLIENT);
}
END_TEST

/* Which of two CNs would the roles name? Neither: refused. */
START_TEST(test_two_cns_refused)
{
    sl_auth_signer *s = NULL;
    char err[512] = "";
    ck_assert_int_eq(sl_auth_signer_open(path_of("twocn", "pem"), path_of("twocn", "key"), &s,
                                         err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "twocn.pem: certificate subject has several CNs") != NULL, "%s",
                  err);
}
END_TEST

/* The second verify of a certificate comes from the cache, and a second
 * signature by the same key verifies too. */
START_TEST(test_cache_hit)
{
    sl_auth_signer *s = signer("daemon1");
    sl_auth_verifier *v = verifier();
    int64_t now = sl_wall_ms();
    frame f, g;
    make_frame(s, now, &f);
    make_frame(s, now + 1, &g);
    ck_assert_int_ne(memcmp(f.buf + f.plen, g.buf + g.plen, f.len - f.plen), 0); /* nonce */
    sl_auth_identity id;
    char why[256] = "";
    for (int i = 0; i < 3; i++) {
        ck_assert_msg(verify_frame(v, i == 1 ? &g : &f, now, &id, why, sizeof(why)) == SL_OK,
                      "%s", why);
        ck_assert_int_eq(id.kind, SL_AUTH_DAEMON);
        ck_assert_str_eq(id.cn, "daemon1");
    }
    g.buf[g.len - 1] ^= 1; /* a cached certificate still checks the signature */
    expect_refused(v, &g, now, SL_EPERM, "signature does not verify");
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

/* More certificates than the cache holds, twice over: the evicted ones
 * verify again. */
START_TEST(test_cache_eviction)
{
    sl_auth_verifier *v = verifier();
    for (int round = 0; round < 2; round++) {
        for (int i = 1; i <= MANY; i++) {
            char name[16];
            snprintf(name, sizeof(name), "many%d", i);
            sl_auth_signer *s = NULL;
            char err[512] = "";
            ck_assert_msg(sl_auth_signer_open(path_of(name, "pem"), path_of("alice", "key"), &s,
                                              err, sizeof(err)) == SL_OK, "%s", err);
            int64_t now = sl_wall_ms();
            frame f;
            make_frame(s, now, &f);
            sl_auth_identity id;
            char why[256] = "";
            ck_assert_msg(verify_frame(v, &f, now, &id, why, sizeof(why)) == SL_OK, "%s: %s",
                          name, why);
            ck_assert_str_eq(id.cn, "alice");
            sl_auth_signer_free(s);
        }
    }
    sl_auth_verifier_free(v);
}
END_TEST

START_TEST(test_other_ca_refused)
{
    sl_auth_signer *s = signer("mallory");
    sl_auth_verifier *v = verifier();
    frame f;
    make_frame(s, sl_wall_ms(), &f);
    expect_refused(v, &f, sl_wall_ms(), SL_EPERM,
                   "certificate not signed by the trust certificate");
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

START_TEST(test_tampered_prefix_refused)
{
    sl_auth_signer *s = signer("alice");
    sl_auth_verifier *v = verifier();
    frame f;
    make_frame(s, sl_wall_ms(), &f);
    ck_assert_uint_eq(f.buf[f.plen - 1], LEADER_ID);
    f.buf[f.plen - 1] = LEADER_ID + 1;
    expect_refused(v, &f, sl_wall_ms(), SL_EPERM, "signature does not verify");
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

/* The signature is the credential's last field: its last byte ends the frame. */
START_TEST(test_tampered_signature_refused)
{
    sl_auth_signer *s = signer("daemon1");
    sl_auth_verifier *v = verifier();
    frame f;
    make_frame(s, sl_wall_ms(), &f);
    f.buf[f.len - 1] ^= 0x40;
    expect_refused(v, &f, sl_wall_ms(), SL_EPERM, "signature does not verify");
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

/* Bytes after the credential (here leader_id again) merge into the
 * Request, so the credential is no longer last: refused. */
START_TEST(test_bytes_after_credential_refused)
{
    static const uint8_t more[] = {0xf0, 0x01, 0x09}; /* field 30, varint 9 */
    sl_auth_signer *s = signer("alice");
    sl_auth_verifier *v = verifier();
    frame f;
    make_frame(s, sl_wall_ms(), &f);
    memcpy(f.buf + f.len, more, sizeof(more));
    f.len += sizeof(more);
    expect_refused(v, &f, sl_wall_ms(), SL_EPERM,
                   "credential is not the last field of the request");
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

START_TEST(test_clock_skew)
{
    sl_auth_signer *s = signer("alice");
    sl_auth_verifier *v = verifier();
    int64_t now = sl_wall_ms();
    frame f;
    sl_auth_identity id;
    char why[256] = "";
    make_frame(s, now - SL_AUTH_MAX_SKEW_MS + 1000, &f);
    ck_assert_msg(verify_frame(v, &f, now, &id, why, sizeof(why)) == SL_OK, "%s", why);
    make_frame(s, now - 301000, &f);
    expect_refused(v, &f, now, SL_EPERM, "clock differs by 301 s");
    make_frame(s, now + 412000, &f);
    expect_refused(v, &f, now, SL_EPERM, "clock differs by 412 s");
    make_frame(s, INT64_MIN, &f);
    expect_refused(v, &f, now, SL_EPERM, "clock differs by");
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

START_TEST(test_no_credential_refused)
{
    sl_auth_verifier *v = verifier();
    static const uint8_t req[] = {0x2a, 0x00}; /* list_jobs {} */
    sl_auth_identity id;
    char why[256] = "";
    ck_assert_int_eq(sl_auth_verify(v, req, sizeof(req), NULL, sl_wall_ms(), &id, why,
                                    sizeof(why)), SL_EPERM);
    ck_assert_str_eq(why, "no client certificate");
    sl_auth_verifier_free(v);
}
END_TEST

/* Malformed fields of an otherwise well placed credential. */
START_TEST(test_malformed_lengths)
{
    sl_auth_verifier *v = verifier();
    uint8_t cert[8] = {0}, nonce[SL_AUTH_NONCE_LEN + 1] = {0}, sig[SL_AUTH_SIG_MAX + 1] = {0};
    Sluice__Credential c = SLUICE__CREDENTIAL__INIT;
    c.cert = (ProtobufCBinaryData){sizeof(cert), cert};
    c.nonce = (ProtobufCBinaryData){SL_AUTH_NONCE_LEN - 1, nonce};
    c.signature = (ProtobufCBinaryData){16, sig};
    c.time_ms = sl_wall_ms();
    sl_auth_identity id;
    char why[256] = "";
    const uint8_t frame0[1] = {0};
    ck_assert_int_eq(sl_auth_verify(v, frame0, 0, &c, c.time_ms, &id, why, sizeof(why)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "nonce of 15 bytes"));
    c.nonce.len = SL_AUTH_NONCE_LEN;
    c.signature.len = sizeof(sig);
    ck_assert_int_eq(sl_auth_verify(v, frame0, 0, &c, c.time_ms, &id, why, sizeof(why)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "signature of"));
    c.signature.len = 16;
    c.cert.len = 0;
    ck_assert_int_eq(sl_auth_verify(v, frame0, 0, &c, c.time_ms, &id, why, sizeof(why)),
                     SL_EINVAL);
    ck_assert_ptr_nonnull(strstr(why, "certificate of 0 bytes"));
    sl_auth_verifier_free(v);
}
END_TEST

/* A well placed credential whose certificate is not DER. */
START_TEST(test_garbage_certificate)
{
    sl_auth_verifier *v = verifier();
    uint8_t cert[40], nonce[SL_AUTH_NONCE_LEN] = {0}, sig[64] = {0};
    memset(cert, 0x30, sizeof(cert));
    Sluice__Credential c = SLUICE__CREDENTIAL__INIT;
    c.cert = (ProtobufCBinaryData){sizeof(cert), cert};
    c.nonce = (ProtobufCBinaryData){sizeof(nonce), nonce};
    c.signature = (ProtobufCBinaryData){sizeof(sig), sig};
    c.time_ms = sl_wall_ms();
    Sluice__Request r = SLUICE__REQUEST__INIT;
    r.credential = &c;
    frame f;
    f.len = f.plen = sluice__request__pack(&r, f.buf);
    sl_auth_identity id;
    char why[256] = "";
    ck_assert_int_eq(sl_auth_verify(v, f.buf, f.len, &c, c.time_ms, &id, why, sizeof(why)),
                     SL_EINVAL);
    ck_assert_msg(strstr(why, "certificate does not parse") != NULL, "%s", why);
    sl_auth_verifier_free(v);
}
END_TEST

/* notAfter = notBefore = when it was made: refused once that second is over. */
START_TEST(test_expired_refused)
{
    sl_auth_signer *s = signer("expired");
    sl_auth_verifier *v = verifier();
    sl_auth_identity id;
    char why[256] = "";
    int rv = SL_OK;
    for (int64_t t0 = sl_now_ms(); rv == SL_OK && sl_now_ms() - t0 < EXPIRY_WAIT_MS;) {
        sl_auth_verifier_free(v); /* no cache: the chain is verified each time */
        v = verifier();
        frame f;
        make_frame(s, sl_wall_ms(), &f);
        rv = verify_frame(v, &f, sl_wall_ms(), &id, why, sizeof(why));
        if (rv == SL_OK)
            sl_sleep_ms(100);
    }
    ck_assert_int_eq(rv, SL_EPERM);
    ck_assert_msg(strstr(why, "expired") != NULL, "%s", why);
    sl_auth_verifier_free(v);
    sl_auth_signer_free(s);
}
END_TEST

START_TEST(test_open_errors)
{
    sl_auth_signer *s = NULL;
    sl_auth_verifier *v = NULL;
    char err[512] = "";
    ck_assert_int_eq(sl_auth_signer_open(path_of("nothere", "pem"), path_of("alice", "key"), &s,
                                         err, sizeof(err)), SL_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "nothere.pem: no such file"));
    ck_assert_int_eq(sl_auth_signer_open(path_of("alice", "key"), path_of("alice", "key"), &s,
                                         err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "alice.key: not a PEM certificate") != NULL, "%s", err);
    ck_assert_int_ne(sl_auth_signer_open(path_of("alice", "pem"), path_of("alice", "pem"), &s,
                                         err, sizeof(err)), SL_OK);
    ck_assert_msg(strstr(err, "alice.pem: not a private key") != NULL, "%s", err);
    ck_assert_int_eq(sl_auth_signer_open(path_of("alice", "pem"), path_of("daemon1", "key"), &s,
                                         err, sizeof(err)), SL_EINVAL);
    ck_assert_msg(strstr(err, "daemon1.key: key does not match the certificate") != NULL, "%s",
                  err);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(sl_auth_verifier_open(path_of("nothere", "pem"), &v, err, sizeof(err)),
                     SL_ENOTFOUND);
    ck_assert_ptr_nonnull(strstr(err, "nothere.pem"));
    ck_assert_int_eq(sl_auth_verifier_open(path_of("ca", "key"), &v, err, sizeof(err)),
                     SL_EINVAL);
    ck_assert_ptr_null(v);
}
END_TEST

/* One signer and one verifier shared by several threads. */
struct worker {
    sl_auth_signer *s;
    sl_auth_verifier *v;
    int failures;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    static frame frames[THREADS];
    static int next;
    frame *f = &frames[__atomic_fetch_add(&next, 1, __ATOMIC_SEQ_CST) % THREADS];
    for (int i = 0; i < ROUNDS; i++) {
        int64_t now = sl_wall_ms();
        Sluice__Request r = SLUICE__REQUEST__INIT;
        r.leader_id = (uint64_t)i + 1;
        f->plen = sluice__request__pack(&r, f->buf);
        uint8_t *suffix = NULL;
        size_t slen = 0;
        if (sl_auth_sign(w->s, f->buf, f->plen, now, &suffix, &slen) != SL_OK) {
            __atomic_fetch_add(&w->failures, 1, __ATOMIC_SEQ_CST);
            continue;
        }
        memcpy(f->buf + f->plen, suffix, slen);
        f->len = f->plen + slen;
        free(suffix);
        Sluice__Request *req = sluice__request__unpack(NULL, f->len, f->buf);
        sl_auth_identity id;
        char why[256];
        if (req == NULL ||
            sl_auth_verify(w->v, f->buf, f->len, req->credential, now, &id, why, sizeof(why)) !=
                SL_OK)
            __atomic_fetch_add(&w->failures, 1, __ATOMIC_SEQ_CST);
        sluice__request__free_unpacked(req, NULL);
    }
    return NULL;
}

START_TEST(test_threads)
{
    struct worker w = {signer("alice"), verifier(), 0};
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    ck_assert_int_eq(w.failures, 0);
    sl_auth_verifier_free(w.v);
    sl_auth_signer_free(w.s);
}
END_TEST

static Suite *auth_suite(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, test_client_roundtrip);
    tcase_add_test(tc, test_daemon_roundtrip);
    tcase_add_test(tc, test_no_eku_is_a_client);
    tcase_add_test(tc, test_any_eku_is_a_client);
    tcase_add_test(tc, test_two_cns_refused);
    tcase_add_test(tc, test_cache_hit);
    tcase_add_test(tc, test_cache_eviction);
    tcase_add_test(tc, test_other_ca_refused);
    tcase_add_test(tc, test_tampered_prefix_refused);
    tcase_add_test(tc, test_tampered_signature_refused);
    tcase_add_test(tc, test_bytes_after_credential_refused);
    tcase_add_test(tc, test_clock_skew);
    tcase_add_test(tc, test_no_credential_refused);
    tcase_add_test(tc, test_malformed_lengths);
    tcase_add_test(tc, test_garbage_certificate);
    tcase_add_test(tc, test_expired_refused);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    make_certs();
    SRunner *sr = srunner_create(auth_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_certs();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
