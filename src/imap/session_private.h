/* imap/session_private.h — the session struct and the command handlers'
 * shared helpers; private to imap/. */
#ifndef ROOST_IMAP_SESSION_PRIVATE_H
#define ROOST_IMAP_SESSION_PRIVATE_H

#include "imap/imap.h"
#include "imap/parser.h"

enum imap_state {
	IMAP_STATE_NOTAUTH = 1 << 0,
	IMAP_STATE_AUTH = 1 << 1,
	IMAP_STATE_SELECTED = 1 << 2,
	IMAP_STATE_LOGOUT = 1 << 3,
};

#define IMAP_STATES_ANY (IMAP_STATE_NOTAUTH | IMAP_STATE_AUTH | IMAP_STATE_SELECTED)
#define IMAP_STATES_AUTHED (IMAP_STATE_AUTH | IMAP_STATE_SELECTED)

/* A literal of at most this many bytes may be sent non-synchronizing
 * before login, where we advertise LITERAL- (RFC 7888 5). */
#define IMAP_LITERAL_MINUS_MAX 4096

struct imap_session {
	const struct imap_env *env;
	char *peer;
	unsigned conn_id;
	bool tls;
	bool starttls_offered;

	enum imap_state state;
	char *user;
	struct store_account *acct; /* the logged-in user's mail */
	bool rev2;                  /* ENABLE IMAP4rev2 */

	struct buf in;
	size_t in_off; /* bytes of in already given to the parser */
	struct buf out;
	struct imap_parser *parser;

	/* the work imap_session_exec() will do */
	struct imap_command *cmd;
	char *line; /* a SASL response line */
	size_t line_len;

	/* an AUTHENTICATE exchange in progress */
	struct sasl_exchange *sasl;
	char *sasl_tag;
	const char *sasl_mech;

	unsigned auth_failures;
	unsigned delay_ms;
	bool want_starttls;
	bool want_close;
};

struct imap_command_def {
	const char *name;
	unsigned states; /* where the command is valid */
	/* NULL: recognized, but its issue has not landed yet: NO [CANNOT] */
	void (*run)(struct imap_session *s, const struct imap_command *cmd);
};

const struct imap_command_def *imap_command_lookup(const char *name);

/* responses (response.c) */
void imap_reply_tagged(struct imap_session *s, const char *tag, const char *status,
                       const char *code, const char *fmt, ...) ROOST_PRINTF(5, 6);
void imap_reply_untagged(struct imap_session *s, const char *fmt, ...) ROOST_PRINTF(2, 3);
/* A string as atom-safe quoted string or literal, as its bytes require. */
void imap_write_string(struct buf *out, const char *data, size_t len, bool utf8_ok);
void imap_write_nstring(struct buf *out, const char *data, size_t len, bool utf8_ok);
/* The capability list for the session's current state. */
void imap_write_capabilities(struct imap_session *s, struct buf *out);

/* argument helpers */
/* An astring/string argument held in memory, without NUL bytes. */
bool imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r);
bool imap_arg_is_atom(const struct imap_arg *arg, const char *atom);

/* mailbox_name.c: names as the client writes them <-> the store's UTF-8.
 * utf8: the session enabled IMAP4rev2 or UTF8=ACCEPT. decode: -1 with a
 * static reason for a name the client may not send. */
int imap_mailbox_name_decode(const char *name, size_t len, bool utf8, char **utf8_r,
                             const char **error_r);
char *imap_mailbox_name_encode(const char *utf8_name, bool utf8);

/* session.c */
void imap_session_update_limits(struct imap_session *s);
void imap_session_login_ok(struct imap_session *s, const char *tag, const char *user,
                           const char *method);
void imap_session_login_failed(struct imap_session *s, const char *tag, const char *user,
                               const char *method);
bool imap_session_plaintext_ok(const struct imap_session *s);

/* A store error as "NO [CODE] text". */
void imap_reply_store_error(struct imap_session *s, const char *tag, const struct store_error *err);
/* A mailbox name argument (astring) as the store's UTF-8; on failure the
 * BAD/NO has been answered and NULL is returned. */
char *imap_arg_mailbox(struct imap_session *s, const char *tag, const struct imap_arg *arg);
bool imap_session_utf8(const struct imap_session *s);

/* cmd_mailbox.c: the mailbox commands of the authenticated state */
void cmd_create(struct imap_session *s, const struct imap_command *cmd);
void cmd_delete(struct imap_session *s, const struct imap_command *cmd);
void cmd_rename(struct imap_session *s, const struct imap_command *cmd);
void cmd_subscribe(struct imap_session *s, const struct imap_command *cmd);
void cmd_unsubscribe(struct imap_session *s, const struct imap_command *cmd);
void cmd_list(struct imap_session *s, const struct imap_command *cmd);
void cmd_lsub(struct imap_session *s, const struct imap_command *cmd);
void cmd_namespace(struct imap_session *s, const struct imap_command *cmd);
void cmd_status(struct imap_session *s, const struct imap_command *cmd);
/* cmd_append.c: APPEND with MULTIAPPEND (RFC 3502) */
void cmd_append(struct imap_session *s, const struct imap_command *cmd);

/* commands.c: AUTHENTICATE's continuation */
void imap_sasl_continue(struct imap_session *s, const char *line, size_t len);

#endif
