/*
 * The IMAP session: input buffering, the parse/exec cycle that server/
 * drives (see imap.h for the contract), state changes and login outcome.
 */
#include "imap/session_private.h"

#include <stdlib.h>
#include <string.h>

static void session_parser_limits(const struct imap_session *s, struct imap_parser_limits *l)
{
	const struct roost_config *cfg = s->env->cfg;
	bool authed = s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED;

	memset(l, 0, sizeof(*l));
	l->max_line = cfg->max_line;
	l->max_depth = cfg->max_depth;
	l->spool_threshold = cfg->spool_threshold;
	l->spool_dir = s->env->spool_dir;
	if (authed) {
		/* LITERAL+ (RFC 7888 3): any literal up to the message limit */
		l->max_literal = cfg->max_message_size;
		l->max_nonsync = cfg->max_message_size;
	} else {
		/* before login only what LOGIN/AUTHENTICATE could need;
		 * we advertise LITERAL- here (RFC 7888 5) */
		l->max_literal = cfg->max_literal_preauth;
		l->max_nonsync = cfg->max_literal_preauth < IMAP_LITERAL_MINUS_MAX
		                     ? cfg->max_literal_preauth
		                     : IMAP_LITERAL_MINUS_MAX;
	}
}

void imap_session_update_limits(struct imap_session *s)
{
	struct imap_parser_limits limits;
	session_parser_limits(s, &limits);
	imap_parser_set_limits(s->parser, &limits);
}

static struct imap_session *session_alloc(const struct imap_env *env,
                                          const struct imap_conn_info *info)
{
	struct imap_session *s = xcalloc(1, sizeof(*s));
	struct imap_parser_limits limits;

	s->env = env;
	s->peer = xstrdup(info->peer != NULL ? info->peer : "unknown");
	s->conn_id = info->conn_id;
	s->tls = info->tls;
	s->starttls_offered = info->starttls_offered;
	s->state = IMAP_STATE_NOTAUTH;
	buf_init(&s->in);
	buf_init(&s->out);
	session_parser_limits(s, &limits);
	s->parser = imap_parser_new(&limits);
	return s;
}

struct imap_session *imap_session_new(const struct imap_env *env, const struct imap_conn_info *info)
{
	struct imap_session *s = session_alloc(env, info);

	buf_append_str(&s->out, "* OK [CAPABILITY ");
	imap_write_capabilities(s, &s->out);
	buf_append_str(&s->out, "] Roost ready.\r\n");
	return s;
}

struct imap_session *imap_session_new_reject(const struct imap_env *env,
                                             const struct imap_conn_info *info, const char *code,
                                             const char *text)
{
	struct imap_session *s = session_alloc(env, info);

	imap_session_bye(s, code, text);
	return s;
}

void imap_session_free(struct imap_session **session)
{
	struct imap_session *s = *session;

	if (s == NULL)
		return;
	*session = NULL;
	imap_parser_free(&s->parser);
	imap_command_free(&s->cmd);
	store_account_close(&s->acct);
	sasl_exchange_free(&s->sasl);
	free(s->sasl_tag);
	free(s->line);
	free(s->user);
	free(s->peer);
	buf_free(&s->in);
	buf_free(&s->out);
	free(s);
}

void imap_session_input(struct imap_session *s, const void *data, size_t len)
{
	buf_append(&s->in, data, len);
}

size_t imap_session_input_pending(const struct imap_session *s)
{
	return s->in.len - s->in_off;
}

static void session_drop_input(struct imap_session *s)
{
	buf_free(&s->in);
	s->in_off = 0;
}

static void session_parse_error(struct imap_session *s, bool fatal)
{
	const char *tag = imap_parser_error_tag(s->parser);
	const char *code = imap_parser_error_code(s->parser);
	const char *text = imap_parser_error_text(s->parser);

	if (fatal) {
		imap_session_bye(s, code, text);
		return;
	}
	if (s->sasl != NULL) {
		/* a bad line while authenticating ends the exchange */
		sasl_exchange_free(&s->sasl);
		tag = s->sasl_tag;
	}
	imap_reply_tagged(s, tag != NULL ? tag : "*", "BAD", code, "%s", text);
	if (s->sasl_tag != NULL && tag == s->sasl_tag) {
		free(s->sasl_tag);
		s->sasl_tag = NULL;
	}
}

enum imap_step imap_session_step(struct imap_session *s)
{
	for (;;) {
		enum imap_parse_result r;
		size_t consumed = 0;

		if (s->want_close || s->state == IMAP_STATE_LOGOUT)
			return IMAP_STEP_CLOSE;
		if (s->want_starttls) {
			/* RFC 9051 6.2.1: nothing the client sent after the
			 * STARTTLS line may be taken as a command (the
			 * command-injection class of CVE-2021-33515) */
			s->want_starttls = false;
			session_drop_input(s);
			imap_parser_reset(s->parser);
			return IMAP_STEP_STARTTLS;
		}
		if (s->cmd != NULL || s->line != NULL)
			return IMAP_STEP_EXEC;

		r = imap_parser_feed(s->parser, s->in.data + s->in_off, s->in.len - s->in_off,
		                     &consumed);
		s->in_off += consumed;
		if (s->in_off == s->in.len) {
			buf_reset(&s->in);
			s->in_off = 0;
		}
		switch (r) {
		case IMAP_PARSE_NEED_MORE:
			return IMAP_STEP_READ;
		case IMAP_PARSE_CONTINUE:
			buf_append_str(&s->out, "+ OK\r\n");
			break;
		case IMAP_PARSE_COMMAND:
			s->cmd = imap_parser_take_command(s->parser);
			return IMAP_STEP_EXEC;
		case IMAP_PARSE_LINE: {
			size_t len;
			const char *line = imap_parser_line(s->parser, &len);
			s->line = xstrndup(line, len);
			s->line_len = len;
			return IMAP_STEP_EXEC;
		}
		case IMAP_PARSE_ERROR:
			session_parse_error(s, false);
			break;
		case IMAP_PARSE_FATAL:
			session_parse_error(s, true);
			return IMAP_STEP_CLOSE;
		}
	}
}

static void session_run_command(struct imap_session *s, const struct imap_command *cmd)
{
	const struct imap_command_def *def = imap_command_lookup(cmd->name);

	if (def == NULL) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "Unknown command");
		return;
	}
	if ((def->states & s->state) == 0) {
		if (s->state == IMAP_STATE_NOTAUTH)
			imap_reply_tagged(s, cmd->tag, "BAD", NULL, "%s needs authentication first",
			                  def->name);
		else
			imap_reply_tagged(s, cmd->tag, "BAD", NULL, "%s is not valid in this state",
			                  def->name);
		return;
	}
	if (def->run == NULL) {
		imap_reply_tagged(s, cmd->tag, "NO", "CANNOT",
		                  "%s is not supported by this server yet", def->name);
		return;
	}
	def->run(s, cmd);
}

void imap_session_exec(struct imap_session *s)
{
	if (s->line != NULL) {
		char *line = s->line;
		s->line = NULL;
		imap_sasl_continue(s, line, s->line_len);
		explicit_bzero(line, s->line_len); /* it may hold a password */
		free(line);
		return;
	}
	if (s->cmd != NULL) {
		session_run_command(s, s->cmd);
		imap_command_free(&s->cmd);
	}
}

unsigned imap_session_take_delay_ms(struct imap_session *s)
{
	unsigned d = s->delay_ms;
	s->delay_ms = 0;
	return d;
}

void imap_session_tls_started(struct imap_session *s)
{
	s->tls = true;
	s->starttls_offered = false;
}

struct buf *imap_session_output(struct imap_session *s)
{
	return &s->out;
}

void imap_session_compact(struct imap_session *s)
{
	buf_shrink(&s->out);
	if (s->in_off == s->in.len) {
		buf_free(&s->in);
		s->in_off = 0;
	}
}

bool imap_session_authenticated(const struct imap_session *s)
{
	return s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED;
}

const char *imap_session_user(const struct imap_session *s)
{
	return s->user;
}

void imap_session_bye(struct imap_session *s, const char *code, const char *text)
{
	if (code != NULL)
		buf_printf(&s->out, "* BYE [%s] %s\r\n", code, text);
	else
		buf_printf(&s->out, "* BYE %s\r\n", text);
	s->want_close = true;
}

bool imap_session_plaintext_ok(const struct imap_session *s)
{
	return s->tls || s->env->cfg->allow_plaintext;
}

void imap_session_login_ok(struct imap_session *s, const char *tag, const char *user,
                           const char *method)
{
	struct store_error err;
	struct buf caps;
	char *error = NULL;
	int64_t account_id;

	/* the account's mail, shared by all its sessions */
	if (auth_user_id(s->env->auth, user, &account_id, NULL, &error) <= 0 ||
	    store_account_open(s->env->store, account_id, &s->acct, &err) < 0) {
		log_err("conn %u: cannot open the mail of %s: %s", s->conn_id, user,
		        error != NULL ? error : err.text);
		free(error);
		imap_reply_tagged(s, tag, "NO", "UNAVAILABLE",
		                  "Your mail is unavailable right now");
		return;
	}
	free(s->user);
	s->user = xstrdup(user);
	s->state = IMAP_STATE_AUTH;
	s->auth_failures = 0;
	imap_session_update_limits(s);
	log_info("conn %u: login user=%s method=%s tls=%s", s->conn_id, user, method,
	         s->tls ? "yes" : "no");
	/* RFC 9051 6.2.3: send the new capabilities with the OK */
	buf_init(&caps);
	imap_write_capabilities(s, &caps);
	imap_reply_tagged(s, tag, "OK", NULL, "[CAPABILITY %s] Logged in", caps.data);
	buf_free(&caps);
}

void imap_session_login_failed(struct imap_session *s, const char *tag, const char *user,
                               const char *method)
{
	char *safe_user = str_sanitize(user, strlen(user), 64);

	s->auth_failures++;
	log_info("conn %u: login failed user=%s method=%s", s->conn_id, safe_user, method);
	free(safe_user);
	/* the same answer, after the same delay, for a wrong password and
	 * for a user that does not exist */
	s->delay_ms = s->env->cfg->auth_fail_delay_ms;
	imap_reply_tagged(s, tag, "NO", "AUTHENTICATIONFAILED", "Authentication failed");
	if (s->auth_failures >= s->env->cfg->max_auth_failures) {
		log_info("conn %u: too many failed logins", s->conn_id);
		imap_session_bye(s, NULL, "Too many failed logins");
	}
}
