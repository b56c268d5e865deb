/* Transport security: the TLS setups of this process (see tls.h). */
#include "common/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/net_addr.h"
#include "common/status.h"

#define SSL "security.ssl."

/* One side's files, read into memory (PEM text, NUL-terminated). */
struct side {
    char *cert, *key, *trust;
};

/* How sockets of one use speak. */
struct use_setup {
    int on;
    const char *cert, *key; /* own identity (NULL: none), PEM, from a side */
    const char *trust;      /* PEM */
    nng_tls_auth_mode mode;
    nng_tls_config *cfg; /* shared config (no server name) */
};

static struct {
    struct side internal, rest;
    struct use_setup use[SL_TLS_NUSES];
} g;

/* ---- files */

static int read_pem(const char *key, const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0;
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: cannot open: %s", key, path, strerror(errno));
        return SL_EINVAL;
    }
    buf = malloc(SL_TLS_PEM_MAX + 1);
    if (buf != NULL)
        n = fread(buf, 1, SL_TLS_PEM_MAX + 1, f);
    int bad = buf == NULL || ferror(f) || n > SL_TLS_PEM_MAX;
    fclose(f);
    if (bad) {
        int rv = buf == NULL ? SL_ENOMEM : SL_EINVAL;
        snprintf(err, errlen, "%s %s: %s", key, path,
                 buf == NULL ? "out of memory" : n > SL_TLS_PEM_MAX ? "larger than 1 MiB" : "read error");
        free(buf);
        return rv;
    }
    buf[n] = '\0';
    *out = buf;
    return SL_OK;
}

static int read_key(const sl_config *cfg, const char *key, int required, char **out, char *err,
                    size_t errlen)
{
    const char *path = NULL;
    *out = NULL;
    if (sl_config_get_string(cfg, key, &path) != SL_OK || path == NULL || path[0] == '\0') {
        if (!required)
            return SL_OK;
        snprintf(err, errlen, "%s is not set", key);
        return SL_EINVAL;
    }
    return read_pem(key, path, out, err, errlen);
}

/* The certificate parses, the key parses and matches it, the trust parses. */
static int check_side(const char *name, const struct side *s, char *err, size_t errlen)
{
    mbedtls_x509_crt crt, ca;
    mbedtls_pk_context pk;
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&ca);
    mbedtls_pk_init(&pk);
    int rv = SL_EINVAL;
    if (s->trust && mbedtls_x509_crt_parse(&ca, (const unsigned char *)s->trust,
                                           strlen(s->trust) + 1) != 0) {
        snprintf(err, errlen, SSL "%s.trust-cert: no PEM certificate in it", name);
        goto out;
    }
    if (s->cert && mbedtls_x509_crt_parse(&crt, (const unsigned char *)s->cert,
                                          strlen(s->cert) + 1) != 0) {
        snprintf(err, errlen, SSL "%s.cert: no PEM certificate in it", name);
        goto out;
    }
    if (s->key && mbedtls_pk_parse_key(&pk, (const unsigned char *)s->key, strlen(s->key) + 1,
                                       NULL, 0) != 0) {
        snprintf(err, errlen, SSL "%s.key: not an unencrypted PEM private key", name);
        goto out;
    }
    if (s->cert && s->key && mbedtls_pk_check_pair(&crt.pk, &pk) != 0) {
        snprintf(err, errlen, SSL "%s.key does not belong to " SSL "%s.cert", name, name);
        goto out;
    }
    rv = SL_OK;
out:
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    mbedtls_pk_free(&pk);
    return rv;
}

/* Reads one side: own certificate and key (each required if own), trust. */
static int load_side(const sl_config *cfg, const char *name, int own, struct side *s, char *err,
                     size_t errlen)
{
    char k[64];
    snprintf(k, sizeof k, SSL "%s.cert", name);
    int rv = read_key(cfg, k, own, &s->cert, err, errlen);
    snprintf(k, sizeof k, SSL "%s.key", name);
    if (rv == SL_OK)
        rv = read_key(cfg, k, own || s->cert != NULL, &s->key, err, errlen);
    snprintf(k, sizeof k, SSL "%s.trust-cert", name);
    if (rv == SL_OK)
        rv = read_key(cfg, k, 1, &s->trust, err, errlen);
    if (rv == SL_OK && s->key != NULL && s->cert == NULL) {
        snprintf(err, errlen, SSL "%s.key is set but " SSL "%s.cert is not", name, name);
        rv = SL_EINVAL;
    }
    return rv == SL_OK ? check_side(name, s, err, errlen) : rv;
}

/* ---- setups */

static void set_use(int use, const struct side *own, const struct side *trust,
                    nng_tls_auth_mode mode)
{
    struct use_setup *u = &g.use[use];
    u->on = 1;
    u->cert = own ? own->cert : NULL;
    u->key = own ? own->key : NULL;
    u->trust = trust->trust;
    u->mode = mode;
}

static int build_config(const struct use_setup *u, int server, const char *server_name,
                        nng_tls_config **out)
{
    nng_tls_config *c = NULL;
    int rv = nng_tls_config_alloc(&c, server ? NNG_TLS_MODE_SERVER : NNG_TLS_MODE_CLIENT);
    if (rv == 0 && u->cert != NULL)
        rv = nng_tls_config_own_cert(c, u->cert, u->key, NULL);
    if (rv == 0)
        rv = nng_tls_config_ca_chain(c, u->trust, NULL);
    if (rv == 0)
        rv = nng_tls_config_auth_mode(c, u->mode);
    if (rv == 0 && server_name != NULL)
        rv = nng_tls_config_server_name(c, server_name);
    if (rv != 0 && c != NULL)
        nng_tls_config_free(c);
    *out = rv == 0 ? c : NULL;
    return rv;
}

static int plan(int who, int internal, int rest, char *err, size_t errlen)
{
    const struct side *in = &g.internal, *rs = &g.rest;
    if (who == SL_TLS_JOBMANAGER) {
        if (internal || rest)
            set_use(SL_TLS_RPC_LISTEN, internal ? in : rs, internal ? in : rs,
                    NNG_TLS_AUTH_MODE_OPTIONAL);
        if (internal)
            set_use(SL_TLS_RPC_DIAL, in, in, NNG_TLS_AUTH_MODE_REQUIRED);
    } else if (who == SL_TLS_TASKMANAGER) {
        if (internal || rest)
            set_use(SL_TLS_RPC_DIAL, internal ? in : NULL, internal ? in : rs,
                    NNG_TLS_AUTH_MODE_REQUIRED);
        for (int u = SL_TLS_RPC_LISTEN; internal && u < SL_TLS_NUSES; u++)
            set_use(u, in, in, NNG_TLS_AUTH_MODE_REQUIRED);
    } else if (internal || rest) {
        set_use(SL_TLS_RPC_DIAL, rest && rs->cert ? rs : NULL, rest ? rs : in,
                NNG_TLS_AUTH_MODE_REQUIRED);
    }
    for (int u = 0; u < SL_TLS_NUSES; u++) {
        if (!g.use[u].on)
            continue;
        int server = u == SL_TLS_RPC_LISTEN || u == SL_TLS_DATA_LISTEN;
        int rv = build_config(&g.use[u], server, NULL, &g.use[u].cfg);
        if (rv != 0) {
            snprintf(err, errlen, "TLS setup: %s", nng_strerror(rv));
            return SL_EINVAL;
        }
    }
    return SL_OK;
}

static void free_side(struct side *s)
{
    free(s->cert);
    free(s->key);
    free(s->trust);
    memset(s, 0, sizeof(*s));
}

void sl_tls_fini(void)
{
    for (int u = 0; u < SL_TLS_NUSES; u++)
        if (g.use[u].cfg != NULL)
            nng_tls_config_free(g.use[u].cfg);
    free_side(&g.internal);
    free_side(&g.rest);
    memset(&g, 0, sizeof(g));
}

int sl_tls_init(const sl_config *cfg, int who, char *err, size_t errlen)
{
    int internal = 0, rest = 0, rv = SL_OK;
    sl_tls_fini();
    sl_config_get_bool(cfg, SSL "internal.enabled", &internal);
    sl_config_get_bool(cfg, SSL "rest.enabled", &rest);
    /* A client needs no internal certificate: only the trust, when the
     * jobmanager's port speaks internal TLS only. */
    if (internal && who != SL_TLS_CLIENT)
        rv = load_side(cfg, "internal", 1, &g.internal, err, errlen);
    else if (internal && !rest)
        rv = read_key(cfg, SSL "internal.trust-cert", 1, &g.internal.trust, err, errlen);
    if (rv == SL_OK && rest && who != SL_TLS_TASKMANAGER)
        rv = load_side(cfg, "rest", who == SL_TLS_JOBMANAGER && !internal, &g.rest, err, errlen);
    else if (rv == SL_OK && rest && !internal)
        rv = read_key(cfg, SSL "rest.trust-cert", 1, &g.rest.trust, err, errlen);
    if (rv == SL_OK)
        rv = plan(who, internal, rest, err, errlen);
    if (rv != SL_OK)
        sl_tls_fini();
    return rv;
}

/* ---- sockets */

int sl_tls_on(int use)
{
    return use >= 0 && use < SL_TLS_NUSES && g.use[use].on;
}

int sl_tls_url(const char *url, int use, char *out, size_t outlen)
{
    const char *rest = strncmp(url, "tcp://", 6) == 0 ? url + 6 : NULL;
    int n = rest != NULL && sl_tls_on(use) ? snprintf(out, outlen, "tls+tcp://%s", rest)
                                           : snprintf(out, outlen, "%s", url);
    return n < 0 || (size_t)n >= outlen ? SL_ENOSPC : SL_OK;
}

/* The host of "scheme://host:port" if it is a name (not an address). */
static int url_host_name(const char *url, char *out, size_t outlen)
{
    const char *h = strstr(url, "://");
    if (h == NULL || h[3] == '[')
        return 0;
    h += 3;
    const char *colon = strrchr(h, ':');
    size_t n = colon ? (size_t)(colon - h) : strlen(h);
    if (n == 0 || n >= outlen)
        return 0;
    memcpy(out, h, n);
    out[n] = '\0';
    struct in_addr a4;
    return inet_pton(AF_INET, out, &a4) != 1;
}

int sl_tls_dialer(nng_dialer d, const char *url, int use)
{
    char host[SL_ADDR_HOST_MAX + 1];
    if (!sl_tls_on(use) || strncmp(url, "tls+tcp://", 10) != 0)
        return 0;
    if (!url_host_name(url, host, sizeof host))
        return nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, g.use[use].cfg);
    nng_tls_config *c = NULL;
    int rv = build_config(&g.use[use], 0, host, &c);
    if (rv == 0) {
        rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c);
        nng_tls_config_free(c); /* the dialer holds it */
    }
    return rv;
}

int sl_tls_listener(nng_listener l, const char *url, int use)
{
    return sl_tls_on(use) && strncmp(url, "tls+tcp://", 10) == 0 ? nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, g.use[use].cfg) : 0;
}

int sl_tls_dialer_create(nng_socket sock, const char *plain, int use, nng_dialer *out)
{
    char url[SL_ADDR_URL_MAX];
    int rv = sl_tls_url(plain, use, url, sizeof url) == SL_OK ? 0 : NNG_EINVAL;
    if (rv == 0)
        rv = nng_dialer_create(out, sock, url);
    if (rv == 0)
        rv = sl_tls_dialer(*out, url, use);
    return rv;
}

int sl_tls_listener_create(nng_socket sock, const char *plain, int use, nng_listener *out)
{
    char url[SL_ADDR_URL_MAX];
    int rv = sl_tls_url(plain, use, url, sizeof url) == SL_OK ? 0 : NNG_EINVAL;
    if (rv == 0)
        rv = nng_listener_create(out, sock, url);
    if (rv == 0)
        rv = sl_tls_listener(*out, url, use);
    return rv;
}

void sl_tls_warn_plain(const char *what, const char *bind_host, int use)
{
    if (sl_tls_on(use) || sl_addr_is_loopback(bind_host) || strcmp(bind_host, "localhost") == 0)
        return;
    sl_warn("%s listens on %s without TLS: anyone who reaches it can use it (set "
            "security.ssl.internal.enabled and security.ssl.rest.enabled, README.md "
            "\"Security\")", what, sl_addr_is_wildcard(bind_host) ? "every address" : bind_host);
}
