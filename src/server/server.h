/*
 * server/ — everything between the network and the protocol sessions: the
 * libuv event loop, listeners, connections, TLS through memory BIOs
 * (OpenSSL 3), the worker pool that runs commands, connection limits,
 * timeouts, signals (SIGHUP reloads the certificate, SIGTERM ends gracefully
 * with BYE to every client) and the drop of privileges after binding.
 */
#ifndef ROOST_SERVER_H
#define ROOST_SERVER_H

#include "base/base.h"

#include <stdbool.h>

struct server;

/* Prepare the data dir, open the account db, load the certificate, bind
 * every listener and drop privileges. */
int server_new(const struct roost_config *cfg, struct server **srv_r, char **error_r);
/* Run until SIGTERM or SIGINT. Returns 0 on a clean stop. */
int server_run(struct server *srv);
void server_free(struct server **srv);
/* The port the first listener of a kind is bound to (0: none). */
int server_port(const struct server *srv, bool tls);

/* TLS helpers also used by `roost demo`: a self-signed certificate for
 * localhost (CN and subjectAltName) written as PEM files. */
int tls_make_self_signed(const char *cert_path, const char *key_path, char **error_r);

#endif
