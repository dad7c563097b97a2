/* server/server_private.h — shared between the files of server/. */
#ifndef ROOST_SERVER_PRIVATE_H
#define ROOST_SERVER_PRIVATE_H

#include "server/server.h"
#include "auth/auth.h"
#include "imap/imap.h"
#include "store/store.h"

#include <openssl/ssl.h>
#include <uv.h>

/* Stop reading from a client while this much input waits for its command
 * to finish, and stop producing output while this much waits to be sent. */
#define SERVER_INPUT_HIGH_WATER (256 * 1024)
#define SERVER_OUTPUT_HIGH_WATER (256 * 1024)
/* How long a graceful stop waits for clients to take their BYE. */
#define SERVER_SHUTDOWN_GRACE_MS 3000
/* How often the server re-reads the change counters of watched mailboxes,
 * the fallback for change notices from other processes that never came. */
#define SERVER_RECHECK_MS 5000
/* Per-IP counters: buckets of the connection-count table. */
#define SERVER_IP_TABLE_SIZE 4096

struct listener {
	uv_tcp_t tcp;
	struct server *srv;
	bool tls; /* implicit TLS (imaps) */
	char *addr;
	int port;
};

struct ip_count {
	struct ip_count *next;
	char ip[48];
	unsigned count;
};

struct server {
	const struct roost_config *cfg;
	uv_loop_t *loop;
	struct auth_db *auth;
	struct imap_env env;
	char *spool_dir;

	SSL_CTX *tls_ctx;
	struct store *store;

	/* control.c: change notices from other processes */
	uv_poll_t control_poll;
	int control_fd;
	char *control_path;
	uv_timer_t recheck_timer;
	uv_work_t recheck_work;
	bool recheck_running;

	struct listener **listeners;
	size_t listener_count;

	uv_signal_t sig_hup, sig_term, sig_int;
	uv_timer_t shutdown_timer;
	bool shutting_down;
	bool handles_ready; /* signals and timer initialized */

	struct conn *conns; /* all live connections */
	unsigned conn_count;
	unsigned next_conn_id;
	struct ip_count *ip_table[SERVER_IP_TABLE_SIZE];
};

/* tls.c */
SSL_CTX *tls_ctx_new(const char *cert, const char *key, char **error_r);

struct tls_conn {
	SSL *ssl;
	BIO *rbio; /* network -> OpenSSL */
	BIO *wbio; /* OpenSSL -> network */
	bool handshake_done;
};

struct tls_conn *tls_conn_new(SSL_CTX *ctx);
void tls_conn_free(struct tls_conn **tls);
/* Encrypted bytes from the network. Decrypted bytes are appended to plain.
 * Returns -1 on a TLS error (close the connection), else 0. */
int tls_conn_input(struct tls_conn *tls, const void *data, size_t len, struct buf *plain);
/* Encrypt plaintext for sending. */
int tls_conn_write(struct tls_conn *tls, const void *data, size_t len);
/* Take the bytes OpenSSL wants sent (handshake, records, alerts). */
void tls_conn_pending(struct tls_conn *tls, struct buf *out);
const char *tls_conn_describe(struct tls_conn *tls, char *buf, size_t size);

/* control.c */
int control_open(struct server *srv, char **error_r);
void control_close(struct server *srv);

/* listen.c */
int listeners_open(struct server *srv, char **error_r);
void listeners_close(struct server *srv);

/* conn.c */
void conn_accept(struct listener *l);
void conn_shutdown_all(struct server *srv);
void conn_close_all(struct server *srv);

#endif
