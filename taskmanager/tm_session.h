/* What proves a taskmanager's requests, and the jobmanager's requests to
 * it (interface.md section 9; common/auth.h). Prefix sl_tmsession_.
 *
 *  - The session token: 32 random bytes, new for every incarnation
 *    (RegisterTm.session_token). Every later request to the jobmanager
 *    carries it (Request.session_token); so must every request the
 *    jobmanager sends here: only the jobmanager this taskmanager
 *    registered with knows it (it travelled over TLS when TLS is on).
 *  - With security.ssl.internal.enabled, the signer of registrations: the
 *    taskmanager's own certificate (security.ssl.internal.cert/.key), so
 *    the jobmanager knows a daemon registers, not a client.
 *
 * Place: below task_manager.c; calls common/auth.h. Thread-safe: the
 * jobmanager client thread renews, the uploader and RPC workers read. */
#ifndef SL_TM_SESSION_H
#define SL_TM_SESSION_H

#include <pthread.h>
#include <stdint.h>

#include "common/auth.h"
#include "common/config.h"
#include "proto/sluice.pb-c.h"

typedef struct sl_tmsession {
    pthread_mutex_t mu;
    uint8_t token[SL_SESSION_TOKEN_LEN];
    int has_token;          /* a registration was sent */
    unsigned incarnation;   /* the token's */
    sl_auth_signer *signer; /* NULL without internal TLS */
    int inited;             /* sl_tmsession_init ran: destroy may be called anyway */
} sl_tmsession;

/* Opens the signer when internal TLS is on. SL_EINVAL with a reason
 * naming the key in err. */
int sl_tmsession_init(sl_tmsession *s, const sl_config *cfg, char *err, size_t errlen);
void sl_tmsession_destroy(sl_tmsession *s);

/* The token of a registration as this incarnation, into out: a new one
 * when the incarnation changed (a resent registration keeps its token, so
 * calls the jobmanager made meanwhile stay valid). SL_EIO if no
 * randomness can be had (then nothing changed). */
int sl_tmsession_for(sl_tmsession *s, unsigned incarnation, uint8_t out[SL_SESSION_TOKEN_LEN]);
/* The current token into out; 0 if none was chosen yet. */
int sl_tmsession_token(sl_tmsession *s, uint8_t out[SL_SESSION_TOKEN_LEN]);
/* 1 if tok is the current token (constant time), else 0. */
int sl_tmsession_check(sl_tmsession *s, const ProtobufCBinaryData *tok);

#endif
