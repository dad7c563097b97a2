/*
 * imap/ — the IMAP protocol front end: bytes in, responses out. A session is
 * a state machine (not authenticated, authenticated, selected, logout) fed
 * with plaintext by server/, which owns sockets, TLS, timers and threads.
 * imap/ never touches a socket; server/ never formats an IMAP response.
 *
 * The contract with server/ (one session, driven by the event loop thread):
 *
 *   imap_session_new()      greeting goes into the output buffer
 *   loop:
 *     imap_session_input()  hand over decrypted bytes (any time, any thread
 *                           that owns the session; allowed while a command
 *                           runs in a worker: it touches only the input)
 *     imap_session_step()   parse what has arrived; answers that need no
 *                           work (literal continuations, syntax errors) are
 *                           written at once; then says what to do next:
 *       READ      wait for more input
 *       EXEC      run imap_session_exec() in a worker thread, then step again
 *                 (after imap_session_delay_ms(), if that is not 0)
 *       STARTTLS  send the output in clear, then start the TLS handshake and
 *                 call imap_session_tls_started(); buffered input has already
 *                 been discarded (RFC 9051 6.2.1)
 *       CLOSE     send the output, then close the connection
 *     send imap_session_output() after every call and empty it
 *
 * Only one command of a session runs at a time, in the order received.
 */
#ifndef ROOST_IMAP_H
#define ROOST_IMAP_H

#include "auth/auth.h"
#include "base/base.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>

/* What every session shares; read-only while the server runs. */
struct imap_env {
	const struct roost_config *cfg;
	struct auth_db *auth;
	struct store *store;
	const char *spool_dir;
};

/* Facts about the connection a session runs on. */
struct imap_conn_info {
	bool tls;              /* TLS is active (implicit TLS port) */
	bool starttls_offered; /* plain port where STARTTLS is possible */
	const char *peer;      /* "address:port", for logs */
	unsigned conn_id;      /* for logs */
};

enum imap_step {
	IMAP_STEP_READ,
	IMAP_STEP_EXEC,
	IMAP_STEP_STARTTLS,
	IMAP_STEP_CLOSE,
};

struct imap_session;

struct imap_session *imap_session_new(const struct imap_env *env,
                                      const struct imap_conn_info *info);
/* A session that only says BYE (connection limits): greeting is the BYE. */
struct imap_session *imap_session_new_reject(const struct imap_env *env,
                                             const struct imap_conn_info *info, const char *code,
                                             const char *text);
void imap_session_free(struct imap_session **session);

void imap_session_input(struct imap_session *session, const void *data, size_t len);
size_t imap_session_input_pending(const struct imap_session *session);
enum imap_step imap_session_step(struct imap_session *session);
void imap_session_exec(struct imap_session *session);
/* After exec: hold the output back this long (failed logins). Reading it
 * resets it to 0. */
unsigned imap_session_take_delay_ms(struct imap_session *session);
void imap_session_tls_started(struct imap_session *session);

/* The bytes to send; the caller empties the buffer after sending. */
struct buf *imap_session_output(struct imap_session *session);
/* Give back buffer memory while the connection is idle. */
void imap_session_compact(struct imap_session *session);

bool imap_session_authenticated(const struct imap_session *session);
/* Untagged BYE for server shutdown or a timeout; the session then wants
 * CLOSE. Must not be called while a command runs in a worker. */
void imap_session_bye(struct imap_session *session, const char *code, const char *text);
/* The session's user (NULL before login), for logs. */
const char *imap_session_user(const struct imap_session *session);

#endif
