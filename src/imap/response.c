/*
 * Writing responses: status lines, strings as the bytes require (quoted or
 * literal), the capability list. Response texts never carry bytes the client
 * sent, so no client can forge a response line through them.
 */
#include "imap/session_private.h"

#include <stdio.h>
#include <string.h>

void imap_reply_tagged(struct imap_session *s, const char *tag, const char *status,
                       const char *code, const char *fmt, ...)
{
	va_list ap;

	buf_printf(&s->out, "%s %s ", tag, status);
	if (code != NULL)
		buf_printf(&s->out, "[%s] ", code);
	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_append_str(&s->out, "\r\n");
}

void imap_reply_untagged(struct imap_session *s, const char *fmt, ...)
{
	va_list ap;

	buf_append_str(&s->out, "* ");
	va_start(ap, fmt);
	buf_vprintf(&s->out, fmt, ap);
	va_end(ap);
	buf_append_str(&s->out, "\r\n");
}

void imap_write_string(struct buf *out, const char *data, size_t len, bool utf8_ok)
{
	bool quotable = len <= 1024;

	for (size_t i = 0; i < len && quotable; i++) {
		unsigned char c = (unsigned char)data[i];
		if (c == '\0' || c == '\r' || c == '\n' || (c >= 0x80 && !utf8_ok))
			quotable = false;
	}
	if (!quotable) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, data, len);
		return;
	}
	buf_append_byte(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '"' || data[i] == '\\')
			buf_append_byte(out, '\\');
		buf_append_byte(out, data[i]);
	}
	buf_append_byte(out, '"');
}

void imap_write_nstring(struct buf *out, const char *data, size_t len, bool utf8_ok)
{
	if (data == NULL)
		buf_append_str(out, "NIL");
	else
		imap_write_string(out, data, len, utf8_ok);
}

void imap_write_capabilities(struct imap_session *s, struct buf *out)
{
	bool authed = s->state == IMAP_STATE_AUTH || s->state == IMAP_STATE_SELECTED;

	buf_append_str(out, "IMAP4rev1 IMAP4rev2");
	if (!authed) {
		if (s->starttls_offered && !s->tls)
			buf_append_str(out, " STARTTLS");
		if (imap_session_plaintext_ok(s))
			buf_append_str(out, " AUTH=PLAIN AUTH=LOGIN");
		else
			buf_append_str(out, " LOGINDISABLED");
		buf_append_str(out, " SASL-IR LITERAL-");
	} else {
		buf_append_str(out, " LITERAL+");
	}
	buf_append_str(out, " ENABLE ID");
	if (authed)
		buf_printf(out, " NAMESPACE CHILDREN STATUS=SIZE MULTIAPPEND APPENDLIMIT=%llu",
		           (unsigned long long)s->env->cfg->max_message_size);
}

bool imap_arg_string(const struct imap_arg *arg, const char **str_r, size_t *len_r)
{
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_QUOTED:
	case IMAP_ARG_LITERAL:
		if (arg->str == NULL || memchr(arg->str, '\0', arg->len) != NULL)
			return false;
		*str_r = arg->str;
		*len_r = arg->len;
		return true;
	default:
		return false;
	}
}

bool imap_arg_is_atom(const struct imap_arg *arg, const char *atom)
{
	return arg->type == IMAP_ARG_ATOM && str_case_eq(arg->str, atom);
}
