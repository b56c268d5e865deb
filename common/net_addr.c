/* Network addresses of the daemons: advertised vs bind (net_addr.h). */
#include "common/net_addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/status.h"

#define DEFAULT_BIND_HOST "0.0.0.0"
#define WILDCARD_V6 "::"
#define PORT_TEXT_MAX 8 /* "65535" and a NUL */

/* host without the brackets of "[v6]" into out. */
static int unbracket(const char *host, char *out, size_t outlen)
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= outlen)
        return SL_ENOSPC;
    memcpy(out, host, n);
    out[n] = '\0';
    return SL_OK;
}

static int resolve(const char *host, int port, struct addrinfo **res, char *err, size_t errlen)
{
    char bare[SL_ADDR_HOST_MAX + 1], ptext[PORT_TEXT_MAX];
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM};
    if (unbracket(host, bare, sizeof(bare)) != SL_OK) {
        snprintf(err, errlen, "host name '%.64s...' is too long", host);
        return SL_EINVAL;
    }
    snprintf(ptext, sizeof(ptext), "%d", port);
    int rv = getaddrinfo(bare, ptext, &hints, res);
    if (rv != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", bare,
                 rv == EAI_SYSTEM ? strerror(errno) : gai_strerror(rv));
        return SL_ENOTFOUND;
    }
    return SL_OK;
}

static int numeric(const struct sockaddr *sa, socklen_t len, char *out, size_t outlen)
{
    char h[NI_MAXHOST];
    if (getnameinfo(sa, len, h, sizeof(h), NULL, 0, NI_NUMERICHOST) != 0)
        return SL_EINVAL;
    if (strlen(h) >= outlen)
        return SL_ENOSPC;
    strcpy(out, h);
    return SL_OK;
}

static int sockaddr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family != AF_INET6)
        return 0;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

/* The source address of the route to one resolved address. errno_out set
 * when the kernel has no route. */
static int source_of(const struct addrinfo *ai, struct sockaddr_storage *src, socklen_t *len,
                     int *errno_out)
{
    int fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int rv = SL_EUNREACH;
    if (fd < 0) {
        *errno_out = errno;
        return rv;
    }
    *len = sizeof(*src);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
        getsockname(fd, (struct sockaddr *)src, len) == 0)
        rv = SL_OK;
    else
        *errno_out = errno;
    close(fd);
    return rv;
}

int sl_addr_route_source(const char *host, int port, char *out, size_t outlen, char *err,
                         size_t errlen)
{
    struct addrinfo *res = NULL;
    int rv = resolve(host, port, &res, err, errlen);
    if (rv != SL_OK)
        return rv;
    int last_errno = 0;
    rv = SL_EUNREACH;
    for (const struct addrinfo *ai = res; ai != NULL && rv == SL_EUNREACH; ai = ai->ai_next) {
        struct sockaddr_storage src;
        socklen_t len;
        if (source_of(ai, &src, &len, &last_errno) != SL_OK)
            continue;
        /* A loopback source for a destination that is not: unusable. */
        if (sockaddr_is_loopback((struct sockaddr *)&src) && !sockaddr_is_loopback(ai->ai_addr)) {
            last_errno = ENETUNREACH;
            continue;
        }
        rv = numeric((struct sockaddr *)&src, len, out, outlen);
        if (rv != SL_OK)
            snprintf(err, errlen, "the local address of the route to '%s' does not fit", host);
    }
    if (rv == SL_EUNREACH)
        snprintf(err, errlen, "no route to '%s' from this host: %s", host,
                 strerror(last_errno ? last_errno : ENETUNREACH));
    freeaddrinfo(res);
    return rv;
}

/* Parses a numeric address (brackets allowed) into sa; 0 if host is not one. */
static int parse_numeric(const char *host, struct sockaddr_storage *ss)
{
    char bare[SL_ADDR_HOST_MAX + 1];
    memset(ss, 0, sizeof(*ss));
    if (unbracket(host, bare, sizeof(bare)) != SL_OK)
        return 0;
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, bare, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, bare, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return 1;
    }
    return 0;
}

int sl_addr_is_loopback(const char *host)
{
    struct sockaddr_storage ss;
    return parse_numeric(host, &ss) && sockaddr_is_loopback((struct sockaddr *)&ss);
}

int sl_addr_is_wildcard(const char *host)
{
    struct sockaddr_storage ss;
    if (host == NULL || *host == '\0')
        return 1;
    if (!parse_numeric(host, &ss))
        return 0;
    if (ss.ss_family == AF_INET)
        return ((struct sockaddr_in *)&ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    return IN6_IS_ADDR_UNSPECIFIED(&((struct sockaddr_in6 *)&ss)->sin6_addr);
}

int sl_addr_url(const char *host, int port, char *out, size_t outlen)
{
    char bare[SL_ADDR_HOST_MAX + 1];
    if (unbracket(host, bare, sizeof(bare)) != SL_OK)
        return SL_ENOSPC;
    int v6 = strchr(bare, ':') != NULL;
    int n = snprintf(out, outlen, "tcp://%s%s%s:%d", v6 ? "[" : "", bare, v6 ? "]" : "", port);
    return n < 0 || (size_t)n >= outlen ? SL_ENOSPC : SL_OK;
}

int sl_addr_hostport(const char *host, int port, char *out, size_t outlen)
{
    char url[SL_ADDR_URL_MAX];
    int rv = sl_addr_url(host, port, url, sizeof(url));
    if (rv != SL_OK)
        return rv;
    int n = snprintf(out, outlen, "%s", url + strlen("tcp://"));
    return n < 0 || (size_t)n >= outlen ? SL_ENOSPC : SL_OK;
}

/* 1 if host (a name or an address) resolves to IPv6 first. */
static int resolves_to_v6(const char *host)
{
    struct addrinfo *res = NULL;
    char err[8];
    if (resolve(host, 0, &res, err, sizeof(err)) != SL_OK)
        return 0;
    int v6 = res->ai_family == AF_INET6;
    freeaddrinfo(res);
    return v6;
}

/* out->bind from the bind-host key; the IPv4 wildcard becomes :: for an
 * IPv6 advertised address. */
static int pick_bind(const sl_config *cfg, const char *key, sl_addr_endpoint *out, char *err,
                     size_t errlen)
{
    const char *b = NULL;
    if (sl_config_get_string(cfg, key, &b) != SL_OK || b == NULL || *b == '\0')
        b = DEFAULT_BIND_HOST;
    if (strcmp(b, DEFAULT_BIND_HOST) == 0 && resolves_to_v6(out->advertised))
        b = WILDCARD_V6;
    if (unbracket(b, out->bind, sizeof(out->bind)) != SL_OK) {
        snprintf(err, errlen, "%s is too long (at most %d characters)", key, SL_ADDR_HOST_MAX);
        return SL_EINVAL;
    }
    return SL_OK;
}

/* out->advertised = the configured host of key, checked: not a wildcard,
 * resolves. */
static int take_configured(const char *key, const char *host, sl_addr_endpoint *out, char *err,
                           size_t errlen)
{
    char why[512];
    struct addrinfo *res = NULL;
    if (sl_addr_is_wildcard(host)) {
        snprintf(err, errlen,
                 "%s: %s is a wildcard (bind) address that no other host can dial; set it to "
                 "an address or name of this host that the others reach (where to listen is "
                 "the bind-host key)",
                 key, host);
        return SL_EINVAL;
    }
    if (unbracket(host, out->advertised, sizeof(out->advertised)) != SL_OK) {
        snprintf(err, errlen, "%s is too long (at most %d characters)", key, SL_ADDR_HOST_MAX);
        return SL_EINVAL;
    }
    int rv = resolve(out->advertised, 0, &res, why, sizeof(why));
    if (rv != SL_OK) {
        snprintf(err, errlen, "%s: %s", key, why);
        return rv;
    }
    freeaddrinfo(res);
    return SL_OK;
}

int sl_addr_taskmanager(const sl_config *cfg, sl_addr_endpoint *out, char *err, size_t errlen)
{
    const char *host = NULL, *jm = NULL;
    int64_t jm_port = 0;
    char why[512];
    memset(out, 0, sizeof(*out));
    if (sl_config_get_string(cfg, "jobmanager.rpc.address", &jm) != SL_OK || jm == NULL ||
        *jm == '\0') {
        snprintf(err, errlen, "jobmanager.rpc.address is not set");
        return SL_EINVAL;
    }
    sl_config_get_int(cfg, "jobmanager.rpc.port", &jm_port);
    int rv;
    if (sl_config_get_string(cfg, "taskmanager.host", &host) == SL_OK && host != NULL &&
        *host != '\0') {
        rv = take_configured("taskmanager.host", host, out, err, errlen);
        if (rv == SL_OK && sl_addr_is_loopback(out->advertised) && !sl_addr_is_loopback(jm))
            sl_warn("taskmanager.host %s is a loopback address: only this host can reach it",
                    out->advertised);
    } else {
        rv = sl_addr_route_source(jm, (int)jm_port, out->advertised, sizeof(out->advertised),
                                  why, sizeof(why));
        if (rv != SL_OK)
            snprintf(err, errlen,
                     "cannot work out this taskmanager's address from the route to the "
                     "jobmanager (jobmanager.rpc.address %s): %s; set taskmanager.host",
                     jm, why);
    }
    if (rv == SL_OK)
        rv = pick_bind(cfg, "taskmanager.bind-host", out, err, errlen);
    return rv;
}

int sl_addr_jobmanager(const sl_config *cfg, sl_addr_endpoint *out, char *err, size_t errlen)
{
    const char *host = NULL;
    memset(out, 0, sizeof(*out));
    if (sl_config_get_string(cfg, "jobmanager.rpc.address", &host) != SL_OK || host == NULL ||
        *host == '\0') {
        snprintf(err, errlen, "jobmanager.rpc.address is not set");
        return SL_EINVAL;
    }
    int rv = take_configured("jobmanager.rpc.address", host, out, err, errlen);
    if (rv == SL_OK)
        rv = pick_bind(cfg, "jobmanager.bind-host", out, err, errlen);
    return rv;
}
