/* Transport security: which connections of this process use TLS
 * (`tls+tcp://`, nng's transport over mbedTLS) and with which
 * certificates (interface.md section 9). Prefix sl_tls_.
 *
 * Every process has one security setup, read from its configuration once
 * at start (sl_tls_init) before it opens any socket, read-only afterwards:
 *
 *   link                  who listens    who dials        TLS when
 *   the jobmanager's RPC  jobmanager     taskmanagers,    internal or rest enabled
 *                                        the CLI
 *   a taskmanager's RPC   taskmanager    the jobmanager   internal enabled
 *   the data plane        taskmanager    taskmanagers     internal enabled
 *
 * - Listeners of taskmanagers (RPC, data) require a client certificate
 *   signed by security.ssl.internal.trust-cert (mutual TLS). The
 *   jobmanager's RPC port is reached by daemons and clients alike, so its
 *   TLS asks for a certificate but lets the handshake through without one:
 *   who the caller is, and what it may do, is checked per request
 *   (common/rpc_guard.h), and a refused caller is told why.
 * - The jobmanager's port presents security.ssl.internal.cert when internal
 *   TLS is on, else security.ssl.rest.cert.
 * - Dialers verify the server against the trust certificate of their side
 *   (daemons: internal; the CLI: rest, or internal when only that is on)
 *   and present their own certificate when they have one. The server's
 *   name is checked when the URL names a host; an address is not
 *   (mbedTLS 2.28 matches DNS names only): then chain, dates and the
 *   serverAuth key usage decide.
 *
 * Without sl_tls_init (unit tests, tools) every link is plain TCP. */
#ifndef SL_TLS_H
#define SL_TLS_H

#include <nng/nng.h>
#include <stddef.h>

#include "common/config.h"

enum sl_tls_who { SL_TLS_JOBMANAGER = 1, SL_TLS_TASKMANAGER = 2, SL_TLS_CLIENT = 3 };

/* What a socket of this process is for. */
enum sl_tls_use {
    SL_TLS_RPC_DIAL = 0,   /* rpc.c clients: to the jobmanager, or (jobmanager) to taskmanagers */
    SL_TLS_RPC_LISTEN = 1, /* rpc_server.c */
    SL_TLS_DATA_DIAL = 2,  /* data plane, taskmanager to taskmanager */
    SL_TLS_DATA_LISTEN = 3,
    SL_TLS_NUSES = 4
};

#define SL_TLS_PEM_MAX ((size_t)1 << 20) /* largest certificate/key file read */

/* Reads the security.ssl.* keys, loads their files and builds the TLS
 * setups of this process. SL_EINVAL with "<key> <path>: <why>" in err (a
 * missing file, not PEM, a key that does not match its certificate).
 * Call once, before any socket; idempotent only in that a second call
 * replaces the first (tests). */
int sl_tls_init(const sl_config *cfg, int who, char *err, size_t errlen);
/* Releases what sl_tls_init built (sockets keep what they hold). */
void sl_tls_fini(void);

/* 1 if sockets for use speak TLS. */
int sl_tls_on(int use);

/* url ("tcp://host:port") with the scheme sockets for use take
 * ("tls+tcp://..." when sl_tls_on(use)). SL_ENOSPC if out is too small. */
int sl_tls_url(const char *url, int use, char *out, size_t outlen);

/* Gives a dialer/listener for use its TLS setup (nothing for plain TCP).
 * The url is the one it was created with (its host decides the server-name
 * check). An nng error code, 0 on success. */
int sl_tls_dialer(nng_dialer d, const char *url, int use);
int sl_tls_listener(nng_listener l, const char *url, int use);

/* Creates a dialer/listener on sock for url ("tcp://host:port"), made
 * tls+tcp:// with this process's setup for use when that is on (into
 * tls_url when not NULL, SL_ADDR_URL_MAX bytes). Not started. An nng
 * error code, 0 on success. */
int sl_tls_dialer_create(nng_socket sock, const char *url, int use, nng_dialer *out);
int sl_tls_listener_create(nng_socket sock, const char *url, int use, nng_listener *out);

/* Logs, once per call, the warning of a daemon that listens on a
 * non-loopback address (bind host) without TLS: anyone who reaches it can
 * use it. */
void sl_tls_warn_plain(const char *what, const char *bind_host, int use);

#endif
