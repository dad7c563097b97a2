/*
 * RFC 5322 3.4 address lists, read the tolerant way (with the obsolete
 * forms of 4.4) into IMAP's ENVELOPE form (RFC 3501 7.4.2), as Dovecot
 * does with broken input:
 * - a group is (NIL NIL name NIL), its members, (NIL NIL NIL NIL);
 * - no local part / no domain give "MISSING_MAILBOX" / "MISSING_DOMAIN";
 * - an empty element before a comma ("Cc: , , a@b") is a placeholder;
 * - without a phrase, the comment after an addr-spec is the name;
 * - encoded words stay as written (RFC 3501: the client decodes them).
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#define MISSING_MAILBOX "MISSING_MAILBOX"
#define MISSING_DOMAIN "MISSING_DOMAIN"

enum atok_type { AT_WORD, AT_QUOTED, AT_COMMENT, AT_SPECIAL };

struct atok {
	enum atok_type type;
	char c; /* AT_SPECIAL */
	const unsigned char *s;
	size_t len;
	struct buf text; /* unquoted contents of AT_QUOTED, AT_COMMENT */
};

struct atoks {
	struct atok *t;
	size_t n, cap;
};

static bool is_special(unsigned char c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '@' || c == ',' || c == ';' ||
	       c == ':' || c == '\\' || c == '"' || c == '[' || c == ']';
}

static struct atok *atok_add(struct atoks *ts, enum atok_type type)
{
	if (ts->n == ts->cap) {
		ts->cap = ts->cap ? ts->cap * 2 : 16;
		ts->t = xrealloc(ts->t, ts->cap * sizeof(*ts->t));
	}
	struct atok *t = &ts->t[ts->n++];

	memset(t, 0, sizeof(*t));
	t->type = type;
	buf_init(&t->text);
	return t;
}

static void tokenize(const unsigned char *p, const unsigned char *end, struct atoks *ts)
{
	while (p < end && ts->n < MIME_MAX_ADDRESSES * 8) {
		unsigned char c = *p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			p++;
		} else if (c == '(') {
			struct atok *t = atok_add(ts, AT_COMMENT);
			unsigned depth = 0;

			while (p < end) {
				c = *p++;
				if (c == '\\' && p < end) {
					buf_append_byte(&t->text, (char)*p++);
					continue;
				}
				if (c == '(' && depth++ == 0)
					continue;
				if (c == ')' && --depth == 0)
					break;
				if (c != '\r' && c != '\n')
					buf_append_byte(&t->text, (char)c);
			}
		} else if (c == '"') {
			struct atok *t = atok_add(ts, AT_QUOTED);
			struct mime_lex lx = {p, end};

			(void)mime_lex_quoted(&lx, &t->text);
			p = lx.p;
		} else if (c == '[') {
			/* a domain literal is one word */
			const unsigned char *s = p;
			struct atok *t = atok_add(ts, AT_WORD);

			while (p < end && *p != ']')
				p++;
			if (p < end)
				p++;
			t->s = s;
			t->len = (size_t)(p - s);
		} else if (is_special(c)) {
			struct atok *t = atok_add(ts, AT_SPECIAL);

			t->c = (char)c;
			p++;
		} else {
			const unsigned char *s = p;
			struct atok *t = atok_add(ts, AT_WORD);

			while (p<end && * p> ' ' && *p != 0x7f && !is_special(*p))
				p++;
			if (p == s)
				p++; /* a control byte: a word of its own */
			t->s = s;
			t->len = (size_t)(p - s);
		}
	}
}

static void atoks_free(struct atoks *ts)
{
	for (size_t i = 0; i < ts->n; i++)
		buf_free(&ts->t[i].text);
	free(ts->t);
}

static bool is_sp(const struct atoks *ts, size_t i, char c)
{
	return i < ts->n && ts->t[i].type == AT_SPECIAL && ts->t[i].c == c;
}

static void word_append(const struct atok *t, struct buf *b)
{
	if (t->type == AT_WORD)
		buf_append(b, t->s, t->len);
	else
		buf_append(b, t->text.data ? t->text.data : "", t->text.len);
}

static char *buf_take(struct buf *b)
{
	char *s = xstrndup(b->data ? b->data : "", b->len);

	buf_free(b);
	return s;
}

static void addr_add(struct mime_address_list *list, char *name, char *route, char *mailbox,
                     char *domain)
{
	if (list->count >= MIME_MAX_ADDRESSES) {
		free(name);
		free(route);
		free(mailbox);
		free(domain);
		return;
	}
	if (list->count == list->cap) {
		list->cap = list->cap ? list->cap * 2 : 8;
		list->addrs = xrealloc(list->addrs, list->cap * sizeof(*list->addrs));
	}
	list->addrs[list->count++] = (struct mime_address){name, route, mailbox, domain};
}

/* local@domain from tokens [i, ...) up to one of the stop characters;
 * words and dots are joined as written, comments skipped. */
static size_t read_spec(const struct atoks *ts, size_t i, const char *stops, struct buf *local,
                        struct buf *domain, bool *have_at, const struct atok **comment_r)
{
	struct buf *cur = local;

	*have_at = false;
	for (; i < ts->n; i++) {
		const struct atok *t = &ts->t[i];

		if (t->type == AT_SPECIAL && strchr(stops, t->c) != NULL)
			break;
		if (t->type == AT_COMMENT) {
			if (comment_r != NULL)
				*comment_r = t;
		} else if (t->type == AT_SPECIAL && t->c == '@' && !*have_at) {
			*have_at = true;
			cur = domain;
		} else if (t->type == AT_SPECIAL) {
			/* stray special: ignored */
		} else {
			word_append(t, cur);
		}
	}
	return i;
}

static void add_mailbox(struct mime_address_list *list, char *name, char *route, struct buf *local,
                        struct buf *domain)
{
	char *mb = local->len ? buf_take(local) : (buf_free(local), xstrdup(MISSING_MAILBOX));
	char *dom = domain->len ? buf_take(domain) : (buf_free(domain), xstrdup(MISSING_DOMAIN));

	addr_add(list, name, route, mb, dom);
}

void mime_address_parse(const unsigned char *value, size_t len, struct mime_address_list *list)
{
	struct atoks ts = {0};
	bool in_group = false;
	size_t i = 0;

	tokenize(value, value + len, &ts);
	while (i < ts.n) {
		struct buf phrase, local, domain;
		const struct atok *comment = NULL;
		size_t words = 0;

		buf_init(&phrase);
		buf_init(&local);
		buf_init(&domain);
		/* the phrase: words up to a special */
		size_t start = i;

		for (; i < ts.n && ts.t[i].type != AT_SPECIAL; i++) {
			if (ts.t[i].type == AT_COMMENT) {
				comment = &ts.t[i];
				continue;
			}
			if (words++ > 0)
				buf_append_byte(&phrase, ' ');
			word_append(&ts.t[i], &phrase);
		}
		char c = i < ts.n ? ts.t[i].c : '\0';

		if (c == ':' && !in_group) {
			/* group start (RFC 5322 3.4) */
			addr_add(list, NULL, NULL, buf_take(&phrase), NULL);
			in_group = true;
			i++;
			continue;
		}
		if (c == '<') {
			char *route = NULL;
			bool have_at;

			i++;
			if (is_sp(&ts, i, '@')) {
				/* obs-route: "@a,@b:" */
				struct buf r;

				buf_init(&r);
				for (; i < ts.n && !is_sp(&ts, i, ':') && !is_sp(&ts, i, '>');
				     i++) {
					if (ts.t[i].type == AT_SPECIAL)
						buf_append_byte(&r, ts.t[i].c);
					else if (ts.t[i].type != AT_COMMENT)
						word_append(&ts.t[i], &r);
				}
				if (is_sp(&ts, i, ':')) {
					i++;
					route = buf_take(&r);
				} else {
					/* "<@domain>": no local part */
					buf_free(&r);
					i = start;
					while (!is_sp(&ts, i, '<'))
						i++;
					i++;
				}
			}
			i = read_spec(&ts, i, ">,;", &local, &domain, &have_at, NULL);
			if (is_sp(&ts, i, '>'))
				i++;
			add_mailbox(list, words ? buf_take(&phrase) : (buf_free(&phrase), NULL),
			            route, &local, &domain);
		} else if (c == '@' || (words > 0 && c != '>')) {
			bool have_at;

			/* an addr-spec: the phrase words were its local part */
			buf_free(&phrase);
			comment = NULL;
			i = read_spec(&ts, start, ",;", &local, &domain, &have_at, &comment);
			char *name = NULL;

			if (comment != NULL)
				name = xstrndup(comment->text.data ? comment->text.data : "",
				                comment->text.len);
			add_mailbox(list, name, NULL, &local, &domain);
		} else {
			buf_free(&phrase);
			if (c == ',')
				add_mailbox(list, NULL, NULL, &local, &domain);
			else if (c != ';' && c != '\0')
				i++; /* a stray special */
		}
		/* to the end of this element */
		while (i < ts.n && !is_sp(&ts, i, ',') && !is_sp(&ts, i, ';'))
			i++;
		if (is_sp(&ts, i, ';')) {
			i++;
			if (in_group) {
				addr_add(list, NULL, NULL, NULL, NULL);
				in_group = false;
				if (is_sp(&ts, i, ','))
					i++;
			}
		} else if (is_sp(&ts, i, ',')) {
			i++;
		}
	}
	if (in_group)
		addr_add(list, NULL, NULL, NULL, NULL);
	atoks_free(&ts);
}

void mime_address_list_free(struct mime_address_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->addrs[i].name);
		free(list->addrs[i].route);
		free(list->addrs[i].mailbox);
		free(list->addrs[i].domain);
	}
	free(list->addrs);
	memset(list, 0, sizeof(*list));
}

void mime_address_write(const struct mime_address_list *list, struct buf *out)
{
	if (list->count == 0) {
		buf_append(out, "NIL", 3);
		return;
	}
	buf_append_byte(out, '(');
	for (size_t i = 0; i < list->count; i++) {
		const struct mime_address *a = &list->addrs[i];

		buf_append_byte(out, '(');
		mime_write_nstr(out, a->name);
		buf_append_byte(out, ' ');
		mime_write_nstr(out, a->route);
		buf_append_byte(out, ' ');
		mime_write_nstr(out, a->mailbox);
		buf_append_byte(out, ' ');
		mime_write_nstr(out, a->domain);
		buf_append_byte(out, ')');
	}
	buf_append_byte(out, ')');
}
