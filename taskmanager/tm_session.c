/* Session token and registration signer of a taskmanager (tm_session.h). */
#include "taskmanager/tm_session.h"

#include <string.h>

#include "common/status.h"
#include "common/util.h"

int sl_tmsession_init(sl_tmsession *s, const sl_config *cfg, char *err, size_t errlen)
{
    int internal = 0;
    const char *cert = NULL, *key = NULL;
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
    s->inited = 1;
    sl_config_get_bool(cfg, "security.ssl.internal.enabled", &internal);
    if (!internal)
        return SL_OK;
    sl_config_get_string(cfg, "security.ssl.internal.cert", &cert);
    sl_config_get_string(cfg, "security.ssl.internal.key", &key);
    return sl_auth_signer_open(cert, key, &s->signer, err, errlen);
}

void sl_tmsession_destroy(sl_tmsession *s)
{
    if (!s->inited)
        return;
    sl_auth_signer_free(s->signer);
    s->signer = NULL;
    pthread_mutex_destroy(&s->mu);
    s->inited = 0;
}

int sl_tmsession_for(sl_tmsession *s, unsigned incarnation, uint8_t out[SL_SESSION_TOKEN_LEN])
{
    uint8_t fresh[SL_SESSION_TOKEN_LEN];
    if (sl_random_bytes(fresh, sizeof fresh) != SL_OK)
        return SL_EIO;
    pthread_mutex_lock(&s->mu);
    if (!s->has_token || s->incarnation != incarnation)
        memcpy(s->token, fresh, sizeof fresh);
    s->has_token = 1;
    s->incarnation = incarnation;
    memcpy(out, s->token, SL_SESSION_TOKEN_LEN);
    pthread_mutex_unlock(&s->mu);
    return SL_OK;
}

int sl_tmsession_token(sl_tmsession *s, uint8_t out[SL_SESSION_TOKEN_LEN])
{
    pthread_mutex_lock(&s->mu);
    int has = s->has_token;
    memcpy(out, s->token, SL_SESSION_TOKEN_LEN);
    pthread_mutex_unlock(&s->mu);
    return has;
}

int sl_tmsession_check(sl_tmsession *s, const ProtobufCBinaryData *tok)
{
    uint8_t cur[SL_SESSION_TOKEN_LEN];
    return sl_tmsession_token(s, cur) && tok->len == SL_SESSION_TOKEN_LEN &&
           sl_ct_equal(cur, tok->data, SL_SESSION_TOKEN_LEN);
}
