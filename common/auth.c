/* Authentication of requests: signing with a certificate's key, verifying
 * against the trust certificate, with a bounded cache of verified
 * certificates (common/auth.h). */
#include "common/auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>

#include "common/status.h"
#include "common/util.h"

#define AUTH_CONTEXT "sluice-rpc-auth-v1" /* signed with its NUL */
#define SHA256_LEN 32
#define PEM_FILE_MAX (1024 * 1024)       /* a certificate or key file we read */
#define PEM_CERT_MARK "-----BEGIN CERTIFICATE-----"
#define CACHE_SLOTS 64                   /* verified certificates remembered */
#define MBED_ERR_MAX 160
#define DRBG_PERS "sluice-auth"

struct sl_auth_signer {
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    pthread_mutex_t lock; /* drbg and key */
    char cn[SL_AUTHZ_CN_MAX + 1];
};

struct cache_slot {
    int used;
    uint64_t seq; /* insertion order: the smallest is evicted */
    uint8_t hash[SHA256_LEN];
    mbedtls_x509_crt *crt; /* owned; NULL when unused */
    int kind;
    char cn[SL_AUTHZ_CN_MAX + 1];
};

struct sl_auth_verifier {
    mbedtls_x509_crt trust;
    pthread_mutex_t lock; /* slots, next_seq */
    uint64_t next_seq;
    struct cache_slot slots[CACHE_SLOTS];
};

static void mbed_err(char *err, size_t errlen, const char *what, int ret)
{
    char buf[MBED_ERR_MAX];
    mbedtls_strerror(ret, buf, sizeof(buf));
    sl_errf(err, errlen, "%s: %s", what, buf);
}

static int read_pem(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    int rv = sl_read_file(path, PEM_FILE_MAX, buf, len);
    if (rv == SL_ENOTFOUND)
        sl_errf(err, errlen, "%s: no such file", path);
    else if (rv == SL_ENOSPC)
        sl_errf(err, errlen, "%s: larger than %d bytes", path, PEM_FILE_MAX);
    else if (rv != SL_OK)
        sl_errf(err, errlen, "%s: cannot read", path);
    return rv;
}

/* Parses every certificate of a PEM file into crt (initialized). */
static int load_certs(const char *path, mbedtls_x509_crt *crt, char *err, size_t errlen)
{
    char *pem = NULL;
    size_t len = 0;
    int rv = read_pem(path, &pem, &len, err, errlen);
    if (rv != SL_OK)
        return rv;
    rv = SL_EINVAL;
    if (strstr(pem, PEM_CERT_MARK) == NULL) {
        sl_errf(err, errlen, "%s: not a PEM certificate", path);
        goto out;
    }
    int ret = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, len + 1);
    if (ret < 0) {
        char what[512];
        snprintf(what, sizeof(what), "%s: certificate does not parse", path);
        mbed_err(err, errlen, what, ret);
        goto out;
    }
    if (ret > 0) {
        sl_errf(err, errlen, "%s: %d certificate(s) do not parse", path, ret);
        goto out;
    }
    rv = SL_OK;
out:
    free(pem);
    return rv;
}

/* The subject CN of crt into cn ("" if none). SL_EINVAL with a reason when
 * there are several, or one too long or with control characters. */
static int subject_cn(const mbedtls_x509_crt *crt, char *cn, char *why, size_t whylen)
{
    const mbedtls_x509_name *found = NULL;
    cn[0] = '\0';
    for (const mbedtls_x509_name *n = &crt->subject; n != NULL; n = n->next) {
        if (n->oid.p == NULL || MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0)
            continue;
        if (found != NULL) {
            sl_errf(why, whylen, "certificate subject has several CNs");
            return SL_EINVAL;
        }
        found = n;
    }
    if (found == NULL)
        return SL_OK;
    if (found->val.len > SL_AUTHZ_CN_MAX) {
        sl_errf(why, whylen, "certificate CN longer than %d bytes", SL_AUTHZ_CN_MAX);
        return SL_EINVAL;
    }
    for (size_t i = 0; i < found->val.len; i++) {
        unsigned char c = found->val.p[i];
        if (c < 0x20 || c == 0x7f) {
            sl_errf(why, whylen, "certificate CN has control characters");
            return SL_EINVAL;
        }
    }
    memcpy(cn, found->val.p, found->val.len);
    cn[found->val.len] = '\0';
    return SL_OK;
}

/* DAEMON only when the extension is present and lists serverAuth itself
 * (anyExtendedKeyUsage does not count). */
static int cert_kind(const mbedtls_x509_crt *crt)
{
    if (!(crt->ext_types & MBEDTLS_X509_EXT_EXTENDED_KEY_USAGE))
        return SL_AUTH_CLIENT;
    for (const mbedtls_x509_sequence *s = &crt->ext_key_usage; s != NULL; s = s->next)
        if (s->buf.p != NULL && MBEDTLS_OID_CMP(MBEDTLS_OID_SERVER_AUTH, &s->buf) == 0)
            return SL_AUTH_DAEMON;
    return SL_AUTH_CLIENT;
}

/* SHA-256 of context | u64le time | nonce | SHA-256(prefix). */
static int signed_digest(const uint8_t *prefix, size_t plen, int64_t time_ms,
                         const uint8_t *nonce, uint8_t out[SHA256_LEN])
{
    uint8_t ph[SHA256_LEN], t[8];
    uint64_t u = (uint64_t)time_ms;
    for (int i = 0; i < 8; i++)
        t[i] = (uint8_t)(u >> (8 * i));
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int ret = mbedtls_sha256_ret(prefix, plen, ph, 0);
    if (ret == 0)
        ret = mbedtls_sha256_starts_ret(&c, 0);
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, (const uint8_t *)AUTH_CONTEXT, sizeof(AUTH_CONTEXT));
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, t, sizeof(t));
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, nonce, SL_AUTH_NONCE_LEN);
    if (ret == 0)
        ret = mbedtls_sha256_update_ret(&c, ph, sizeof(ph));
    if (ret == 0)
        ret = mbedtls_sha256_finish_ret(&c, out);
    mbedtls_sha256_free(&c);
    return ret == 0 ? SL_OK : SL_EIO;
}

/* ---- signing */

static int load_key(sl_auth_signer *s, const char *key_path, char *err, size_t errlen)
{
    int ret = mbedtls_pk_parse_keyfile(&s->key, key_path, NULL);
    if (ret == MBEDTLS_ERR_PK_FILE_IO_ERROR) {
        sl_errf(err, errlen, "%s: cannot read", key_path);
        return SL_EIO;
    }
    if (ret != 0) {
        char what[512];
        snprintf(what, sizeof(what), "%s: not a private key", key_path);
        mbed_err(err, errlen, what, ret);
        return SL_EINVAL;
    }
    if (mbedtls_pk_check_pair(&s->crt.pk, &s->key) != 0) {
        sl_errf(err, errlen, "%s: key does not match the certificate", key_path);
        return SL_EINVAL;
    }
    return SL_OK;
}

static int seed_drbg(sl_auth_signer *s, char *err, size_t errlen)
{
    int ret = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
                                    (const unsigned char *)DRBG_PERS, strlen(DRBG_PERS));
    if (ret != 0) {
        mbed_err(err, errlen, "random generator", ret);
        return SL_EIO;
    }
    return SL_OK;
}

int sl_auth_signer_open(const char *cert_path, const char *key_path, sl_auth_signer **out,
                        char *err, size_t errlen)
{
    *out = NULL;
    sl_auth_signer *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return SL_ENOMEM;
    mbedtls_x509_crt_init(&s->crt);
    mbedtls_pk_init(&s->key);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    pthread_mutex_init(&s->lock, NULL);
    char why[256] = "";
    int rv = load_certs(cert_path, &s->crt, err, errlen);
    if (rv != SL_OK)
        goto out;
    if (s->crt.raw.len > SL_AUTH_CERT_MAX) { /* the first certificate is the one sent */
        sl_errf(err, errlen, "%s: certificate larger than %d bytes", cert_path, SL_AUTH_CERT_MAX);
        rv = SL_EINVAL;
        goto out;
    }
    if ((rv = subject_cn(&s->crt, s->cn, why, sizeof(why))) != SL_OK) {
        sl_errf(err, errlen, "%s: %s", cert_path, why);
        goto out;
    }
    if ((rv = load_key(s, key_path, err, errlen)) != SL_OK)
        goto out;
    rv = seed_drbg(s, err, errlen);
out:
    if (rv != SL_OK)
        sl_auth_signer_free(s);
    else
        *out = s;
    return rv;
}

void sl_auth_signer_free(sl_auth_signer *s)
{
    if (s == NULL)
        return;
    mbedtls_ctr_drbg_free(&s->drbg);
    mbedtls_entropy_free(&s->entropy);
    mbedtls_pk_free(&s->key);
    mbedtls_x509_crt_free(&s->crt);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *sl_auth_signer_cn(const sl_auth_signer *s)
{
    return s->cn;
}

static uint8_t *pack_credential(const Sluice__Credential *cred, size_t *len)
{
    Sluice__Request r = SLUICE__REQUEST__INIT;
    r.credential = (Sluice__Credential *)cred;
    *len = sluice__request__get_packed_size(&r);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (buf != NULL)
        sluice__request__pack(&r, buf);
    return buf;
}

int sl_auth_sign(sl_auth_signer *s, const uint8_t *prefix, size_t plen, int64_t now_ms,
                 uint8_t **suffix, size_t *slen)
{
    uint8_t nonce[SL_AUTH_NONCE_LEN], digest[SHA256_LEN], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t siglen = 0;
    *suffix = NULL;
    *slen = 0;
    pthread_mutex_lock(&s->lock);
    int ret = mbedtls_ctr_drbg_random(&s->drbg, nonce, sizeof(nonce));
    pthread_mutex_unlock(&s->lock);
    if (ret != 0 || signed_digest(prefix, plen, now_ms, nonce, digest) != SL_OK)
        return SL_EIO;
    pthread_mutex_lock(&s->lock);
    ret = mbedtls_pk_sign(&s->key, MBEDTLS_MD_SHA256, digest, sizeof(digest), sig, &siglen,
                          mbedtls_ctr_drbg_random, &s->drbg);
    pthread_mutex_unlock(&s->lock);
    if (ret != 0 || siglen == 0 || siglen > SL_AUTH_SIG_MAX)
        return SL_EIO;
    Sluice__Credential cred = SLUICE__CREDENTIAL__INIT;
    cred.cert.data = s->crt.raw.p;
    cred.cert.len = s->crt.raw.len;
    cred.time_ms = now_ms;
    cred.nonce.data = nonce;
    cred.nonce.len = sizeof(nonce);
    cred.signature.data = sig;
    cred.signature.len = siglen;
    *suffix = pack_credential(&cred, slen);
    return *suffix != NULL ? SL_OK : SL_ENOMEM;
}

/* ---- verifying */

static void crt_destroy(mbedtls_x509_crt *crt)
{
    if (crt != NULL)
        mbedtls_x509_crt_free(crt);
    free(crt);
}

int sl_auth_verifier_open(const char *trust_path, sl_auth_verifier **out, char *err,
                          size_t errlen)
{
    *out = NULL;
    sl_auth_verifier *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return SL_ENOMEM;
    mbedtls_x509_crt_init(&v->trust);
    pthread_mutex_init(&v->lock, NULL);
    int rv = load_certs(trust_path, &v->trust, err, errlen);
    if (rv != SL_OK)
        sl_auth_verifier_free(v);
    else
        *out = v;
    return rv;
}

void sl_auth_verifier_free(sl_auth_verifier *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        crt_destroy(v->slots[i].crt);
    mbedtls_x509_crt_free(&v->trust);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

/* Lengths of the credential's fields. */
static int check_lengths(const Sluice__Credential *cred, char *why, size_t whylen)
{
    if (cred->cert.len == 0 || cred->cert.len > SL_AUTH_CERT_MAX) {
        sl_errf(why, whylen, "certificate of %zu bytes (1 to %d)", cred->cert.len,
                SL_AUTH_CERT_MAX);
        return SL_EINVAL;
    }
    if (cred->nonce.len != SL_AUTH_NONCE_LEN) {
        sl_errf(why, whylen, "nonce of %zu bytes, not %d", cred->nonce.len, SL_AUTH_NONCE_LEN);
        return SL_EINVAL;
    }
    if (cred->signature.len == 0 || cred->signature.len > SL_AUTH_SIG_MAX) {
        sl_errf(why, whylen, "signature of %zu bytes (1 to %d)", cred->signature.len,
                SL_AUTH_SIG_MAX);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* *plen = bytes of frame before the credential's encoding, which must end it. */
static int split_frame(const uint8_t *frame, size_t len, const Sluice__Credential *cred,
                       size_t *plen, char *why, size_t whylen)
{
    size_t slen = 0;
    uint8_t *suffix = pack_credential(cred, &slen);
    if (suffix == NULL)
        return SL_ENOMEM;
    int rv = SL_OK;
    if (slen > len || memcmp(frame + len - slen, suffix, slen) != 0) {
        sl_errf(why, whylen, "credential is not the last field of the request");
        rv = SL_EPERM;
    } else {
        *plen = len - slen;
    }
    free(suffix);
    return rv;
}

static void verify_flags_why(uint32_t flags, char *why, size_t whylen)
{
    if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
        sl_errf(why, whylen, "certificate not signed by the trust certificate");
    } else if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
        sl_errf(why, whylen, "certificate expired");
    } else if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
        sl_errf(why, whylen, "certificate not valid yet");
    } else {
        char buf[256] = "";
        mbedtls_x509_crt_verify_info(buf, sizeof(buf), "", flags);
        for (char *p = buf; *p; p++)
            if (*p == '\n')
                *p = *(p + 1) ? ';' : '\0';
        sl_errf(why, whylen, "certificate does not verify: %s", buf);
    }
}

/* Parses and verifies a certificate not in the cache into crt (initialized). */
static int verify_new_cert(sl_auth_verifier *v, const Sluice__Credential *cred,
                           mbedtls_x509_crt *crt, char *why, size_t whylen)
{
    int ret = mbedtls_x509_crt_parse_der(crt, cred->cert.data, cred->cert.len);
    if (ret != 0) {
        mbed_err(why, whylen, "certificate does not parse", ret);
        return SL_EINVAL;
    }
    if (crt->next != NULL) {
        sl_errf(why, whylen, "more than one certificate");
        return SL_EINVAL;
    }
    uint32_t flags = 0;
    ret = mbedtls_x509_crt_verify(crt, &v->trust, NULL, NULL, &flags, NULL, NULL);
    if (ret != 0) {
        verify_flags_why(flags, why, whylen);
        return SL_EPERM;
    }
    return SL_OK;
}

/* Under v->lock: the slot holding hash, or NULL. */
static struct cache_slot *cache_find(sl_auth_verifier *v, const uint8_t *hash)
{
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (v->slots[i].used && memcmp(v->slots[i].hash, hash, SHA256_LEN) == 0)
            return &v->slots[i];
    return NULL;
}

/* Under v->lock: a free slot, or the oldest one emptied. */
static struct cache_slot *cache_victim(sl_auth_verifier *v)
{
    struct cache_slot *old = &v->slots[0];
    for (size_t i = 0; i < CACHE_SLOTS; i++) {
        if (!v->slots[i].used)
            return &v->slots[i];
        if (v->slots[i].seq < old->seq)
            old = &v->slots[i];
    }
    crt_destroy(old->crt);
    old->crt = NULL;
    old->used = 0;
    return old;
}

/* Under v->lock: moves *crt (verified) into the cache; *crt is left NULL
 * (or kept when another thread cached the same certificate first). */
static struct cache_slot *cache_insert(sl_auth_verifier *v, const uint8_t *hash,
                                       mbedtls_x509_crt **crt, int kind, const char *cn)
{
    struct cache_slot *slot = cache_find(v, hash); /* another thread was first */
    if (slot != NULL)
        return slot;
    slot = cache_victim(v);
    slot->crt = *crt;
    *crt = NULL;
    slot->used = 1;
    slot->seq = v->next_seq++;
    memcpy(slot->hash, hash, SHA256_LEN);
    slot->kind = kind;
    snprintf(slot->cn, sizeof(slot->cn), "%s", cn);
    return slot;
}

/* Under v->lock: the validity dates of a cached certificate. */
static int cached_dates_ok(const struct cache_slot *slot, char *why, size_t whylen)
{
    if (mbedtls_x509_time_is_past(&slot->crt->valid_to)) {
        sl_errf(why, whylen, "certificate expired");
        return SL_EPERM;
    }
    if (mbedtls_x509_time_is_future(&slot->crt->valid_from)) {
        sl_errf(why, whylen, "certificate not valid yet");
        return SL_EPERM;
    }
    return SL_OK;
}

/* The cache slot of cred's certificate, verified now if it is not there.
 * On SL_OK v->lock is held (the slot is valid until it is released). */
static int lookup_cert(sl_auth_verifier *v, const Sluice__Credential *cred,
                       struct cache_slot **slotp, char *why, size_t whylen)
{
    uint8_t hash[SHA256_LEN];
    char cn[SL_AUTHZ_CN_MAX + 1] = "";
    mbedtls_x509_crt *fresh = NULL;
    int rv = SL_EIO;
    if (mbedtls_sha256_ret(cred->cert.data, cred->cert.len, hash, 0) != 0)
        goto out;
    pthread_mutex_lock(&v->lock);
    *slotp = cache_find(v, hash);
    if (*slotp != NULL) {
        rv = cached_dates_ok(*slotp, why, whylen);
        if (rv != SL_OK)
            pthread_mutex_unlock(&v->lock);
        goto out;
    }
    pthread_mutex_unlock(&v->lock);
    if ((fresh = malloc(sizeof(*fresh))) == NULL) {
        rv = SL_ENOMEM;
        goto out;
    }
    mbedtls_x509_crt_init(fresh);
    rv = verify_new_cert(v, cred, fresh, why, whylen);
    if (rv == SL_OK && subject_cn(fresh, cn, why, whylen) != SL_OK)
        rv = SL_EPERM;
    if (rv != SL_OK)
        goto out;
    pthread_mutex_lock(&v->lock);
    *slotp = cache_insert(v, hash, &fresh, cert_kind(fresh), cn);
out:
    crt_destroy(fresh);
    return rv;
}

/* Checks the certificate, the time and the signature (over digest). */
static int verify_cert_and_sig(sl_auth_verifier *v, const Sluice__Credential *cred,
                               int64_t now_ms, const uint8_t *digest, sl_auth_identity *id,
                               char *why, size_t whylen)
{
    struct cache_slot *slot = NULL;
    int rv = lookup_cert(v, cred, &slot, why, whylen);
    if (rv != SL_OK)
        return rv;
    uint64_t diff = now_ms >= cred->time_ms ? (uint64_t)now_ms - (uint64_t)cred->time_ms
                                            : (uint64_t)cred->time_ms - (uint64_t)now_ms;
    if (diff > SL_AUTH_MAX_SKEW_MS) {
        sl_errf(why, whylen, "clock differs by %llu s", (unsigned long long)(diff / 1000));
        rv = SL_EPERM;
    } else if (mbedtls_pk_verify(&slot->crt->pk, MBEDTLS_MD_SHA256, digest, SHA256_LEN,
                                 cred->signature.data, cred->signature.len) != 0) {
        sl_errf(why, whylen, "signature does not verify");
        rv = SL_EPERM;
    } else {
        id->kind = slot->kind;
        snprintf(id->cn, sizeof(id->cn), "%s", slot->cn);
    }
    pthread_mutex_unlock(&v->lock);
    return rv;
}

int sl_auth_verify(sl_auth_verifier *v, const uint8_t *frame, size_t len,
                   const Sluice__Credential *cred, int64_t now_ms, sl_auth_identity *id,
                   char *why, size_t whylen)
{
    uint8_t digest[SHA256_LEN];
    size_t plen = 0;
    memset(id, 0, sizeof(*id));
    if (cred == NULL) {
        sl_errf(why, whylen, "no client certificate");
        return SL_EPERM;
    }
    int rv = check_lengths(cred, why, whylen);
    if (rv == SL_OK)
        rv = split_frame(frame, len, cred, &plen, why, whylen);
    if (rv == SL_OK && signed_digest(frame, plen, cred->time_ms, cred->nonce.data, digest) != SL_OK)
        rv = SL_EIO;
    if (rv == SL_OK)
        rv = verify_cert_and_sig(v, cred, now_ms, digest, id, why, whylen);
    return rv;
}
