/* Authentication of requests: a certificate and a signature carried in the
 * request itself (Request.credential, proto/sluice.proto). Prefix sl_auth_.
 *
 * nng 1.5.2 cannot tell a server which certificate the TLS peer presented,
 * so a caller that must be known proves it per request: it sends its
 * certificate (DER) and signs, with that certificate's key,
 *
 *   SHA-256( "sluice-rpc-auth-v1" NUL | u64le time_ms | nonce[16] |
 *            SHA-256(prefix) )
 *
 * where prefix is the packed Request without its credential. The wire frame
 * is prefix followed by the packed bytes of a Request holding only the
 * credential (field 40, the highest: protobuf concatenation is a merge), so
 * the frame unpacks as one Request. Over TLS nobody else sees a frame, so
 * a signature cannot be lifted into another request; the time bounds how
 * long a captured one would be worth anything.
 *
 * A "daemon" certificate verifies against the trust certificate and has the
 * extended key usage serverAuth (every daemon also listens); any other
 * certificate that verifies is a client (scripts/sluice-certs.sh gives
 * client certificates clientAuth only).
 *
 * Place: common/, above mbedTLS and the generated protocol; called by the
 * RPC client (signing) and server (verifying), common/rpc*.c. */
#ifndef SL_AUTH_H
#define SL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "common/authz.h"
#include "proto/sluice.pb-c.h"

#define SL_AUTH_NONCE_LEN 16
#define SL_AUTH_CERT_MAX 16384      /* DER bytes of a certificate we accept */
#define SL_AUTH_SIG_MAX 1024        /* signature bytes (RSA-8192 at most) */
#define SL_AUTH_MAX_SKEW_MS 300000  /* |caller's clock - ours| accepted: 5 min */
#define SL_SESSION_TOKEN_LEN 32     /* Request.session_token, RegisterTm.session_token */

/* ---- signing (CLI, taskmanager) */
typedef struct sl_auth_signer sl_auth_signer;

/* Loads a PEM certificate and its PEM private key (unencrypted). err names
 * the file and why ("...: not a PEM certificate", "key does not match the
 * certificate"). *out owned by the caller: sl_auth_signer_free. Safe to use
 * from several threads. */
int sl_auth_signer_open(const char *cert_path, const char *key_path, sl_auth_signer **out,
                        char *err, size_t errlen);
void sl_auth_signer_free(sl_auth_signer *s);
/* The subject CN of the signer's certificate ("" if none). */
const char *sl_auth_signer_cn(const sl_auth_signer *s);

/* Signs prefix (a packed Request without credential) at time now_ms (Unix
 * ms) and returns in *suffix (malloc'd, caller frees) the bytes to append:
 * a packed Request holding only the credential. SL_ENOMEM, SL_EIO. */
int sl_auth_sign(sl_auth_signer *s, const uint8_t *prefix, size_t plen, int64_t now_ms,
                 uint8_t **suffix, size_t *slen);

/* ---- verifying (jobmanager) */
typedef struct sl_auth_verifier sl_auth_verifier;

/* Loads the trust certificate(s) (PEM, one or more CAs). *out owned by the
 * caller: sl_auth_verifier_free. Safe to use from several threads; it
 * remembers (bounded) certificates it has verified. */
int sl_auth_verifier_open(const char *trust_path, sl_auth_verifier **out, char *err,
                          size_t errlen);
void sl_auth_verifier_free(sl_auth_verifier *v);

enum sl_auth_kind { SL_AUTH_CLIENT = 1, SL_AUTH_DAEMON = 2 };

typedef struct sl_auth_identity {
    int kind;                      /* enum sl_auth_kind */
    char cn[SL_AUTHZ_CN_MAX + 1];  /* subject CN ("" if none; longer ones are refused) */
} sl_auth_identity;

/* Verifies the credential of a request frame: frame/len the whole frame as
 * received, cred the unpacked req->credential (NULL: "no certificate").
 * Checks that the frame ends with exactly the credential's encoding, that
 * the certificate verifies against the trust certificate (dates included),
 * that time_ms is within SL_AUTH_MAX_SKEW_MS of now_ms, and the signature.
 * SL_OK with *id filled, else SL_EPERM (SL_EINVAL if it is malformed) with
 * a one-line reason in why ("no client certificate", "certificate not
 * signed by the trust certificate", "signature does not verify", "clock
 * differs by 412 s"). */
int sl_auth_verify(sl_auth_verifier *v, const uint8_t *frame, size_t len,
                   const Sluice__Credential *cred, int64_t now_ms, sl_auth_identity *id,
                   char *why, size_t whylen);

#endif
