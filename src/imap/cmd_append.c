/*
 * APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502: several messages in
 * one command, stored all or nothing), literal8 (RFC 3516 4.4: the message
 * may hold NUL bytes) and the APPENDUID response code (RFC 4315 3).
 *
 *   append = "APPEND" SP mailbox 1*(SP append-message)     (RFC 3502)
 *   append-message = [flag-list SP] [date-time SP] (literal / literal8)
 *
 * The parser has read every literal by the time the handler runs (large ones
 * into spool files), so the whole command is checked before anything is
 * stored, and one store_append() call stores every message in one
 * transaction. Spooled literals go to the store as file descriptors and are
 * never read into memory here. The store keeps messages in CRLF form.
 */
#include "imap/session_private.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* What is wrong with a command, as the tagged answer gives it. */
struct append_fail {
	const char *status; /* "BAD" or "NO" */
	const char *code;   /* response code or NULL */
	const char *text;   /* static; never client bytes */
};

static bool append_failed(struct append_fail *fail, const char *status, const char *code,
                          const char *text)
{
	fail->status = status;
	fail->code = code;
	fail->text = text;
	return false;
}

/* ---- flags ---- */

static const struct {
	const char *name;
	unsigned flag;
} system_flags[] = {
    {"\\Seen", STORE_FLAG_SEEN},       {"\\Answered", STORE_FLAG_ANSWERED},
    {"\\Flagged", STORE_FLAG_FLAGGED}, {"\\Deleted", STORE_FLAG_DELETED},
    {"\\Draft", STORE_FLAG_DRAFT},
};

/* ATOM-CHAR (RFC 9051 9): any CHAR except atom-specials. */
static bool atom_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("(){%*\"\\]", c) == NULL;
}

/*
 * A flag-list: system flags into *flags_r, keywords (RFC 9051 9:
 * flag-keyword = atom) appended to kw[*kw_count]. "\Recent" is not a flag
 * (RFC 9051 9: flag "Does not include \Recent"), and flag-extension names
 * that no standard defines cannot be stored: both BAD.
 */
static bool parse_flags(const struct imap_arg *list, unsigned *flags_r, const char **kw,
                        size_t *kw_count, struct append_fail *fail)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];
		bool known = false;

		if (a->type != IMAP_ARG_ATOM)
			return append_failed(fail, "BAD", NULL, "Flags must be atoms");
		if (a->str[0] == '\\') {
			for (size_t k = 0; k < ARRAY_SIZE(system_flags); k++) {
				if (str_case_eq(a->str, system_flags[k].name)) {
					*flags_r |= system_flags[k].flag;
					known = true;
				}
			}
			if (!known)
				return append_failed(fail, "BAD", NULL,
				                     "Invalid system flag for APPEND");
			continue;
		}
		for (size_t k = 0; k < a->len; k++) {
			if (!atom_char((unsigned char)a->str[k]))
				return append_failed(fail, "BAD", NULL, "Invalid keyword");
		}
		if (a->len > STORE_KEYWORD_MAX)
			return append_failed(fail, "NO", "LIMIT", "Keyword too long");
		kw[(*kw_count)++] = a->str;
	}
	return true;
}

/* ---- date-time ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil), so no libc time zone state is involved. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool digits(const char *s, size_t n, unsigned *v_r)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	*v_r = v;
	return true;
}

/*
 * RFC 9051 9: date-time = DQUOTE date-day-fixed "-" date-month "-"
 * date-year SP time SP zone DQUOTE, e.g. " 7-Feb-1994 21:52:25 -0800".
 * date-day-fixed is (SP DIGIT) / 2DIGIT; a single digit without the space
 * is accepted too, as clients send it. Month names are case-insensitive
 * (ABNF strings are).
 */
static bool parse_date_time(const char *s, size_t len, time_t *t_r)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned day, mon = 0, year, hh, mm, ss, zh, zm;

	if (len == 25) { /* "1-Jan-2024 ..." */
		if (!digits(s, 1, &day))
			return false;
		s += 1;
	} else if (len == 26) {
		if (s[0] == ' ' ? !digits(s + 1, 1, &day) : !digits(s, 2, &day))
			return false;
		s += 2;
	} else {
		return false;
	}
	/* s: "-Jan-2024 21:52:25 -0800" */
	if (s[0] != '-' || s[4] != '-' || s[9] != ' ' || s[12] != ':' || s[15] != ':' ||
	    s[18] != ' ' || (s[19] != '+' && s[19] != '-'))
		return false;
	while (mon < 12 && strncasecmp(s + 1, months[mon], 3) != 0)
		mon++;
	if (mon == 12 || !digits(s + 5, 4, &year) || !digits(s + 10, 2, &hh) ||
	    !digits(s + 13, 2, &mm) || !digits(s + 16, 2, &ss) || !digits(s + 20, 2, &zh) ||
	    !digits(s + 22, 2, &zm))
		return false;
	if (day < 1 || day > mdays[mon] || hh > 23 || mm > 59 || ss > 60 || zm > 59)
		return false;
	if (mon == 1 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)))
		return false;
	int64_t t = days_from_civil(year, mon + 1, day) * 86400 + hh * 3600 + mm * 60 + ss;
	int64_t zone = (int64_t)zh * 3600 + zm * 60;
	/* RFC 9051 9: "Subtracting the timezone from the given time will give
	 * the UT form." */
	t += s[19] == '+' ? -zone : zone;
	*t_r = (time_t)t;
	return true;
}

/* ---- the command ---- */

/*
 * The messages of the command, from args[1] on: [flag-list] [date-time]
 * literal, once or more. msgs and kw have room for every argument.
 */
static bool parse_messages(const struct imap_command *cmd, struct store_append_msg *msgs,
                           size_t *count_r, const char **kw, struct append_fail *fail)
{
	size_t i = 1, n = 0, kw_count = 0;

	if (cmd->nargs < 2)
		return append_failed(fail, "BAD", NULL,
		                     "APPEND needs a mailbox name and a message literal");
	while (i < cmd->nargs) {
		struct store_append_msg *m = &msgs[n];
		const struct imap_arg *a = &cmd->args[i];

		memset(m, 0, sizeof(*m));
		m->fd = -1;
		if (a->type == IMAP_ARG_LIST) {
			m->keywords = &kw[kw_count];
			if (!parse_flags(a, &m->flags, kw, &kw_count, fail))
				return false;
			m->keyword_count = (size_t)(&kw[kw_count] - m->keywords);
			a = ++i < cmd->nargs ? &cmd->args[i] : NULL;
		}
		if (a != NULL && a->type == IMAP_ARG_QUOTED) {
			if (!parse_date_time(a->str, a->len, &m->internaldate))
				return append_failed(fail, "BAD", NULL, "Invalid date-time");
			a = ++i < cmd->nargs ? &cmd->args[i] : NULL;
		}
		if (a == NULL || a->type != IMAP_ARG_LITERAL)
			return append_failed(fail, "BAD", NULL,
			                     "APPEND expects [(flags)] [date-time] and a literal");
		if (a->str != NULL) {
			m->data = a->str;
		} else {
			assert(a->fd >= 0);
			m->fd = a->fd;
		}
		m->size = a->len;
		n++;
		i++;
	}
	*count_r = n;
	return true;
}

/* RFC 4315 4: uid-set = (uniqueid / uid-range) *("," uid-set); the UIDs of
 * one append are ascending. */
static void write_uid_set(struct buf *b, const uint32_t *uids, size_t count)
{
	for (size_t i = 0; i < count;) {
		size_t j = i;
		while (j + 1 < count && uids[j + 1] == uids[j] + 1)
			j++;
		buf_printf(b, "%s%u", i > 0 ? "," : "", uids[i]);
		if (j > i)
			buf_printf(b, ":%u", uids[j]);
		i = j + 1;
	}
}

void cmd_append(struct imap_session *s, const struct imap_command *cmd)
{
	struct append_fail fail = {NULL, NULL, NULL};
	struct store_mailbox_status st, after;
	struct store_append_msg *msgs;
	struct store_error err;
	const char **kw;
	uint32_t *uids = NULL;
	size_t count = 0, kw_room = 0;
	char *name = NULL;
	struct buf code;

	for (size_t i = 0; i < cmd->nargs; i++) {
		if (cmd->args[i].type == IMAP_ARG_LIST)
			kw_room += cmd->args[i].count;
	}
	msgs = xcalloc(cmd->nargs > 0 ? cmd->nargs : 1, sizeof(*msgs));
	kw = xcalloc(kw_room > 0 ? kw_room : 1, sizeof(*kw));
	buf_init(&code);
	if (!parse_messages(cmd, msgs, &count, kw, &fail)) {
		imap_reply_tagged(s, cmd->tag, fail.status, fail.code, "%s", fail.text);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if (msgs[i].size == 0) {
			/* {0} is valid syntax, but an empty message is no
			 * message; Dovecot and Cyrus refuse it the same way */
			imap_reply_tagged(s, cmd->tag, "NO", NULL,
			                  "Can't save a zero byte message");
			goto out;
		}
		if (msgs[i].size > s->env->cfg->max_message_size) {
			/* the parser refuses such literals already (RFC 7889 4) */
			imap_reply_tagged(s, cmd->tag, "NO", "TOOBIG", "Message too large");
			goto out;
		}
	}
	if ((name = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		goto out;
	if (store_mailbox_status(s->acct, name, &st, &err) < 0) {
		if (err.code == STORE_ERR_NONEXISTENT)
			imap_reply_tagged(s, cmd->tag, "NO", "TRYCREATE", "Mailbox does not exist");
		else
			imap_reply_store_error(s, cmd->tag, &err);
		goto out;
	}
	if (st.noselect) {
		/* RFC 9051 6.3.12: TRYCREATE unless creating the mailbox
		 * cannot help; CREATE makes a \Noselect name selectable */
		imap_reply_tagged(s, cmd->tag, "NO", "TRYCREATE", "Mailbox does not exist");
		goto out;
	}
	uids = xcalloc(count, sizeof(*uids));
	if (store_append(s->acct, st.id, msgs, count, uids, &err) < 0) {
		imap_reply_store_error(s, cmd->tag, &err);
		goto out;
	}
	log_debug("conn %u: append %zu message%s, first uid %u", s->conn_id, count,
	          count == 1 ? "" : "s", uids[0]);
	/* The mailbox may have been deleted and made again between the STATUS
	 * and the append; then the UIDVALIDITY read first is not the one the
	 * UIDs belong to, and RFC 4315's code is better left out. */
	if (store_mailbox_status_by_id(s->acct, st.id, &after, NULL, &err) < 0 ||
	    after.uidvalidity != st.uidvalidity) {
		imap_reply_tagged(s, cmd->tag, "OK", NULL, "APPEND completed");
		goto out;
	}
	buf_printf(&code, "APPENDUID %u ", st.uidvalidity);
	write_uid_set(&code, uids, count);
	imap_reply_tagged(s, cmd->tag, "OK", code.data, "APPEND completed");
out:
	buf_free(&code);
	free(uids);
	free(name);
	free(kw);
	free(msgs);
}
