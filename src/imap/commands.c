/*
 * The command table and the commands of any state: CAPABILITY, NOOP,
 * LOGOUT, STARTTLS, LOGIN, AUTHENTICATE, ID, ENABLE. Commands whose issue
 * has not landed are in the table with no handler and answer NO [CANNOT].
 */
#include "imap/session_private.h"

#include <stdlib.h>
#include <string.h>

static void cmd_capability(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "CAPABILITY takes no arguments");
		return;
	}
	buf_append_str(&s->out, "* CAPABILITY ");
	imap_write_capabilities(s, &s->out);
	buf_append_str(&s->out, "\r\n");
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "CAPABILITY completed");
}

static void cmd_noop(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "NOOP takes no arguments");
		return;
	}
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "NOOP completed");
}

static void cmd_logout(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "LOGOUT takes no arguments");
		return;
	}
	imap_reply_untagged(s, "BYE Roost logging out");
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "LOGOUT completed");
	log_info("conn %u: logout user=%s", s->conn_id, s->user != NULL ? s->user : "-");
	s->state = IMAP_STATE_LOGOUT;
}

static void cmd_starttls(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "STARTTLS takes no arguments");
		return;
	}
	if (s->tls) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "TLS is already active");
		return;
	}
	if (!s->starttls_offered) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "STARTTLS is not available here");
		return;
	}
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "Begin TLS negotiation now");
	s->want_starttls = true;
}

static void cmd_login(struct imap_session *s, const struct imap_command *cmd)
{
	const char *user, *pass;
	size_t user_len, pass_len;
	char *canonical = NULL;

	if (cmd->nargs != 2 || !imap_arg_string(&cmd->args[0], &user, &user_len) ||
	    !imap_arg_string(&cmd->args[1], &pass, &pass_len)) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL,
		                  "LOGIN needs a user name and a password");
		return;
	}
	if (!imap_session_plaintext_ok(s)) {
		/* RFC 9051 6.2.3: LOGINDISABLED is advertised */
		imap_reply_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
		                  "Use STARTTLS or the TLS port before logging in");
		return;
	}
	switch (auth_verify(s->env->auth, user, pass, &canonical)) {
	case AUTH_OK:
		imap_session_login_ok(s, cmd->tag, canonical, "LOGIN");
		free(canonical);
		break;
	case AUTH_FAILED:
		imap_session_login_failed(s, cmd->tag, user, "LOGIN");
		break;
	case AUTH_INTERNAL:
		imap_reply_tagged(s, cmd->tag, "NO", "UNAVAILABLE",
		                  "Authentication is temporarily unavailable");
		break;
	}
}

/* Send a SASL challenge and wait for the client's response line. */
static void sasl_send_challenge(struct imap_session *s, const unsigned char *data, size_t len)
{
	char *b64 = auth_base64_encode(data, len);

	buf_printf(&s->out, "+ %s\r\n", b64);
	free(b64);
	imap_parser_expect_line(s->parser);
}

static void sasl_end(struct imap_session *s)
{
	sasl_exchange_free(&s->sasl);
	free(s->sasl_tag);
	s->sasl_tag = NULL;
}

/* Feed one client response (decoded) into the exchange and act on it. */
static void sasl_feed(struct imap_session *s, const unsigned char *input, size_t len)
{
	const unsigned char *challenge;
	size_t challenge_len;
	char *canonical = NULL;
	const char *user, *pass;

	switch (sasl_exchange_step(s->sasl, input, len, &challenge, &challenge_len)) {
	case SASL_STEP_CHALLENGE:
		sasl_send_challenge(s, challenge, challenge_len);
		return;
	case SASL_STEP_ERROR:
		imap_reply_tagged(s, s->sasl_tag, "BAD", NULL, "Malformed SASL response");
		sasl_end(s);
		return;
	case SASL_STEP_DONE:
		break;
	}
	user = sasl_exchange_authcid(s->sasl);
	pass = sasl_exchange_password(s->sasl);
	switch (auth_verify(s->env->auth, user, pass, &canonical)) {
	case AUTH_OK: {
		const char *authzid = sasl_exchange_authzid(s->sasl);
		/* no proxy authorization: authzid, if given, must be us */
		if (authzid != NULL && !str_case_eq(authzid, canonical)) {
			imap_session_login_failed(s, s->sasl_tag, user, s->sasl_mech);
		} else {
			imap_session_login_ok(s, s->sasl_tag, canonical, s->sasl_mech);
		}
		free(canonical);
		break;
	}
	case AUTH_FAILED:
		imap_session_login_failed(s, s->sasl_tag, user, s->sasl_mech);
		break;
	case AUTH_INTERNAL:
		imap_reply_tagged(s, s->sasl_tag, "NO", "UNAVAILABLE",
		                  "Authentication is temporarily unavailable");
		break;
	}
	sasl_end(s);
}

void imap_sasl_continue(struct imap_session *s, const char *line, size_t len)
{
	unsigned char *decoded = NULL;
	size_t decoded_len = 0;

	if (s->sasl == NULL) /* cannot happen: line mode only during SASL */
		return;
	if (len == 1 && line[0] == '*') {
		/* RFC 9051 6.2.2: the client cancels with "*" */
		imap_reply_tagged(s, s->sasl_tag, "BAD", NULL, "AUTHENTICATE cancelled");
		sasl_end(s);
		return;
	}
	if (auth_base64_decode(line, len, &decoded, &decoded_len) < 0) {
		imap_reply_tagged(s, s->sasl_tag, "BAD", NULL, "Invalid base64 in SASL response");
		sasl_end(s);
		return;
	}
	if (decoded == NULL) /* an empty response, not an absent one */
		decoded = xcalloc(1, 1);
	sasl_feed(s, decoded, decoded_len);
	explicit_bzero(decoded, decoded_len);
	free(decoded);
}

static void cmd_authenticate(struct imap_session *s, const struct imap_command *cmd)
{
	enum sasl_mech_id mech;
	const char *mech_name, *ir = NULL;
	size_t mech_len, ir_len = 0;
	unsigned char *decoded = NULL;
	size_t decoded_len = 0;

	if (cmd->nargs < 1 || cmd->nargs > 2 || cmd->args[0].type != IMAP_ARG_ATOM ||
	    !imap_arg_string(&cmd->args[0], &mech_name, &mech_len) ||
	    (cmd->nargs == 2 && (cmd->args[1].type != IMAP_ARG_ATOM ||
	                         !imap_arg_string(&cmd->args[1], &ir, &ir_len)))) {
		imap_reply_tagged(
		    s, cmd->tag, "BAD", NULL,
		    "AUTHENTICATE needs a mechanism and an optional initial response");
		return;
	}
	if (sasl_mech_lookup(mech_name, &mech) < 0) {
		imap_reply_tagged(s, cmd->tag, "NO", "CANNOT",
		                  "Unsupported authentication mechanism");
		return;
	}
	if (!imap_session_plaintext_ok(s)) {
		imap_reply_tagged(s, cmd->tag, "NO", "PRIVACYREQUIRED",
		                  "Use STARTTLS or the TLS port before authenticating");
		return;
	}
	if (ir != NULL) {
		/* RFC 4959: "=" is an empty initial response */
		if (!(ir_len == 1 && ir[0] == '=') &&
		    auth_base64_decode(ir, ir_len, &decoded, &decoded_len) < 0) {
			imap_reply_tagged(s, cmd->tag, "BAD", NULL,
			                  "Invalid base64 in initial response");
			return;
		}
		if (decoded == NULL)
			decoded = xcalloc(1, 1);
	}
	s->sasl = sasl_exchange_new(mech);
	s->sasl_tag = xstrdup(cmd->tag);
	s->sasl_mech = mech == SASL_MECH_PLAIN ? "PLAIN" : "LOGIN";
	sasl_feed(s, decoded, decoded_len);
	if (decoded != NULL) {
		explicit_bzero(decoded, decoded_len);
		free(decoded);
	}
}

/* RFC 2971: ID takes NIL or a list of up to 30 field/value pairs. */
static void cmd_id(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_arg *arg = cmd->nargs == 1 ? &cmd->args[0] : NULL;
	bool ok = arg != NULL && (arg->type == IMAP_ARG_NIL || arg->type == IMAP_ARG_LIST);

	if (ok && arg->type == IMAP_ARG_LIST) {
		ok = arg->count % 2 == 0 && arg->count <= 60;
		for (size_t i = 0; ok && i < arg->count; i++) {
			const struct imap_arg *a = &arg->list[i];
			const char *str;
			size_t len;
			if (i % 2 == 0)
				ok = (a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL) &&
				     imap_arg_string(a, &str, &len) && len <= 30;
			else
				ok = a->type == IMAP_ARG_NIL ||
				     ((a->type == IMAP_ARG_QUOTED || a->type == IMAP_ARG_LITERAL) &&
				      imap_arg_string(a, &str, &len) && len <= 1024);
		}
	}
	if (!ok) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL,
		                  "ID takes NIL or a list of field and value strings");
		return;
	}
	if (arg->type == IMAP_ARG_LIST && log_get_level() >= LOG_DEBUG) {
		struct buf b;
		buf_init(&b);
		for (size_t i = 0; i + 1 < arg->count; i += 2) {
			char *k = str_sanitize(arg->list[i].str, arg->list[i].len, 30);
			char *v =
			    arg->list[i + 1].type == IMAP_ARG_NIL
			        ? xstrdup("NIL")
			        : str_sanitize(arg->list[i + 1].str, arg->list[i + 1].len, 64);
			buf_printf(&b, " %s=%s", k, v);
			free(k);
			free(v);
		}
		log_debug("conn %u: client id:%s", s->conn_id, b.data != NULL ? b.data : "");
		buf_free(&b);
	}
	imap_reply_untagged(s, "ID (\"name\" \"Roost\" \"version\" \"%s\")", ROOST_VERSION);
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "ID completed");
}

/* RFC 5161: ENABLE names extensions; unknown ones are ignored and the
 * untagged ENABLED lists only what this command turned on. */
static void cmd_enable(struct imap_session *s, const struct imap_command *cmd)
{
	struct buf enabled;

	if (cmd->nargs == 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "ENABLE needs capability names");
		return;
	}
	for (size_t i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type != IMAP_ARG_ATOM) {
			imap_reply_tagged(s, cmd->tag, "BAD", NULL,
			                  "ENABLE takes capability names (atoms)");
			return;
		}
	}
	buf_init(&enabled);
	for (size_t i = 0; i < cmd->nargs; i++) {
		if (str_case_eq(cmd->args[i].str, "IMAP4rev2") && !s->rev2) {
			s->rev2 = true;
			buf_append_str(&enabled, " IMAP4rev2");
		}
	}
	imap_reply_untagged(s, "ENABLED%s", enabled.data != NULL ? enabled.data : "");
	buf_free(&enabled);
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "ENABLE completed");
}

static const struct imap_command_def command_table[] = {
    /* any state */
    {"CAPABILITY", IMAP_STATES_ANY, cmd_capability},
    {"NOOP", IMAP_STATES_ANY, cmd_noop},
    {"LOGOUT", IMAP_STATES_ANY, cmd_logout},
    {"ID", IMAP_STATES_ANY, cmd_id},
    /* not authenticated */
    {"STARTTLS", IMAP_STATE_NOTAUTH, cmd_starttls},
    {"LOGIN", IMAP_STATE_NOTAUTH, cmd_login},
    {"AUTHENTICATE", IMAP_STATE_NOTAUTH, cmd_authenticate},
    /* authenticated (RFC 5161 3: ENABLE only before SELECT) */
    {"ENABLE", IMAP_STATE_AUTH, cmd_enable},
    /* the mailbox and message commands come with the store (issue 4) */
    {"SELECT", IMAP_STATES_AUTHED, NULL},
    {"EXAMINE", IMAP_STATES_AUTHED, NULL},
    {"CREATE", IMAP_STATES_AUTHED, cmd_create},
    {"DELETE", IMAP_STATES_AUTHED, cmd_delete},
    {"RENAME", IMAP_STATES_AUTHED, cmd_rename},
    {"SUBSCRIBE", IMAP_STATES_AUTHED, cmd_subscribe},
    {"UNSUBSCRIBE", IMAP_STATES_AUTHED, cmd_unsubscribe},
    {"LIST", IMAP_STATES_AUTHED, cmd_list},
    {"LSUB", IMAP_STATES_AUTHED, cmd_lsub},
    {"NAMESPACE", IMAP_STATES_AUTHED, cmd_namespace},
    {"STATUS", IMAP_STATES_AUTHED, cmd_status},
    {"APPEND", IMAP_STATES_AUTHED, cmd_append},
    {"IDLE", IMAP_STATES_AUTHED, NULL},
    /* selected */
    {"CHECK", IMAP_STATE_SELECTED, NULL},
    {"CLOSE", IMAP_STATE_SELECTED, NULL},
    {"UNSELECT", IMAP_STATE_SELECTED, NULL},
    {"EXPUNGE", IMAP_STATE_SELECTED, NULL},
    {"SEARCH", IMAP_STATE_SELECTED, NULL},
    {"FETCH", IMAP_STATE_SELECTED, NULL},
    {"STORE", IMAP_STATE_SELECTED, NULL},
    {"COPY", IMAP_STATE_SELECTED, NULL},
    {"MOVE", IMAP_STATE_SELECTED, NULL},
    {"UID", IMAP_STATE_SELECTED, NULL},
};

const struct imap_command_def *imap_command_lookup(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(command_table); i++) {
		if (str_case_eq(command_table[i].name, name))
			return &command_table[i];
	}
	return NULL;
}
