/*
 * search/match.c — match a compiled program against one message.
 *
 * The cheap facts come from struct search_message; decoded headers, body
 * text and the Date: header come from the caller's callbacks, each asked
 * for at most once per call and only when a key needs it (AND lists are
 * ordered cheap-first at compile time, and evaluation short-circuits).
 */
#include "search/search_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicase.h>
#include <uninorm.h>
#include <unistr.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
/* header fields remembered per message (more: asked for again) */
#define MATCH_HEADER_CACHE 8

struct header_cache {
	const char *field; /* points into the program */
	int count;
	struct buf folded;
};

struct match_state {
	const struct search_program *prog;
	const struct search_message *msg;
	const struct search_message_ops *ops;
	void *ctx;
	struct header_cache headers[MATCH_HEADER_CACHE];
	size_t nheaders, next_evict;
	bool have_body, have_text, have_date;
	struct buf body, text; /* folded */
	int64_t sent_day;
	struct buf tmp;
};

int search_fold(const void *s, size_t len, struct buf *out)
{
	const uint8_t *p = s;
	struct buf clean;
	uint8_t *folded;
	size_t folded_len;

	if (len == 0)
		return 0;
	buf_init(&clean);
	if (u8_check(p, len) != NULL) {
		/* invalid UTF-8 (raw 8-bit headers, broken charsets) becomes
		 * U+FFFD, as Dovecot takes such bytes to be UTF-8 and they then
		 * match nothing but themselves */
		size_t i = 0;

		while (i < len) {
			ucs4_t uc;
			int n = u8_mbtoucr(&uc, p + i, len - i);

			if (n < 0) {
				buf_append_str(&clean, REPLACEMENT);
				i++;
			} else {
				buf_append(&clean, p + i, (size_t)n);
				i += (size_t)n;
			}
		}
		p = (const uint8_t *)clean.data;
		len = clean.len;
	}
	folded = u8_casefold(p, len, NULL, UNINORM_NFKC, NULL, &folded_len);
	buf_free(&clean);
	if (folded == NULL)
		return -1;
	buf_append(out, folded, folded_len);
	free(folded);
	return 0;
}

int64_t search_day_of(int64_t t, int tz)
{
	int64_t local = t + (int64_t)tz * 60;

	/* floor division: times before the epoch have negative days */
	return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

static bool contains(const struct buf *haystack, const char *needle, size_t len)
{
	if (len == 0)
		return true;
	return haystack->len >= len && memmem(haystack->data, haystack->len, needle, len) != NULL;
}

/* Runs of white space in b become one space: folding leaves "is\r\n\t folded"
 * as "is\t folded", which Dovecot finds with "is folded" (corpus 198). */
static void collapse_space(struct buf *b)
{
	size_t out = 0;
	bool space = false;

	for (size_t i = 0; i < b->len; i++) {
		char ch = b->data[i];

		if (ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n') {
			if (!space)
				b->data[out++] = ' ';
			space = true;
			continue;
		}
		space = false;
		b->data[out++] = ch;
	}
	b->len = out;
	if (b->data != NULL)
		b->data[out] = '\0';
}

static int get_header(struct match_state *st, const char *field, struct header_cache **hc_r)
{
	struct header_cache *hc;

	for (size_t i = 0; i < st->nheaders; i++) {
		if (strcasecmp(st->headers[i].field, field) == 0) {
			*hc_r = &st->headers[i];
			return 0;
		}
	}
	if (st->nheaders < MATCH_HEADER_CACHE) {
		hc = &st->headers[st->nheaders++];
		buf_init(&hc->folded);
	} else {
		hc = &st->headers[st->next_evict];
		st->next_evict = (st->next_evict + 1) % MATCH_HEADER_CACHE;
		buf_reset(&hc->folded);
	}
	hc->field = field;
	buf_reset(&st->tmp);
	hc->count = st->ops->header(st->ctx, field, &st->tmp);
	if (hc->count > 0)
		collapse_space(&st->tmp);
	if (hc->count < 0 || search_fold(st->tmp.data, st->tmp.len, &hc->folded) < 0) {
		hc->count = 0;
		hc->field = "";
		return -1;
	}
	*hc_r = hc;
	return 0;
}

static int get_text(struct match_state *st, bool include_headers, const struct buf **text_r)
{
	bool *have = include_headers ? &st->have_text : &st->have_body;
	struct buf *folded = include_headers ? &st->text : &st->body;

	if (!*have) {
		buf_reset(&st->tmp);
		if (st->ops->text(st->ctx, include_headers, &st->tmp) < 0 ||
		    search_fold(st->tmp.data, st->tmp.len, folded) < 0)
			return -1;
		*have = true;
	}
	*text_r = folded;
	return 0;
}

static int get_sent_day(struct match_state *st, int64_t *day_r)
{
	if (!st->have_date) {
		int64_t t = 0;
		int tz = 0;
		int r = st->ops->sent_date(st->ctx, &t, &tz);

		if (r < 0)
			return -1;
		/* no usable Date: the epoch, so SENTBEFORE matches (as in
		 * Dovecot: corpus 193, 194) */
		st->sent_day = r > 0 ? search_day_of(t, tz) : 0;
		st->have_date = true;
	}
	*day_r = st->sent_day;
	return 0;
}

static bool has_keyword(const char *keywords, const char *kw, size_t len)
{
	const char *p = keywords;

	if (p == NULL)
		return false;
	while (*p != '\0') {
		const char *end;

		while (*p == ' ')
			p++;
		end = p;
		while (*end != '\0' && *end != ' ')
			end++;
		/* flags compare case-insensitively (Dovecot, RFC 3501 2.3.2) */
		if ((size_t)(end - p) == len && len > 0 && strncasecmp(p, kw, len) == 0)
			return true;
		p = end;
	}
	return false;
}

static bool in_set(const struct match_state *st, const struct search_node *n, uint32_t num)
{
	if (n->set.saved) {
		/* RFC 5182: "$" is the saved result, kept as UIDs */
		return st->prog->saved != NULL &&
		       imap_seqset_contains(st->prog->saved, st->msg->uid);
	}
	return imap_seqset_contains(&n->resolved, num);
}

static int compare_day(enum search_node_type type, int64_t day, int64_t key)
{
	switch (type) {
	case SEARCH_BEFORE:
	case SEARCH_SENTBEFORE:
		return day < key;
	case SEARCH_ON:
	case SEARCH_SENTON:
		return day == key;
	default:
		return day >= key;
	}
}

/* 1, 0 or -1; recursion depth is bounded by the compiler's max_depth */
static int eval(struct match_state *st, const struct search_node *n)
{
	const struct search_message *msg = st->msg;
	int r;

	switch (n->type) {
	case SEARCH_ALL:
		return 1;
	case SEARCH_AND:
		for (size_t i = 0; i < n->nkids; i++) {
			r = eval(st, &n->kids[i]);
			if (r <= 0)
				return r;
		}
		return 1;
	case SEARCH_OR:
		r = eval(st, &n->kids[0]);
		return r != 0 ? r : eval(st, &n->kids[1]);
	case SEARCH_NOT:
		r = eval(st, &n->kids[0]);
		return r < 0 ? r : !r;
	case SEARCH_FLAGS:
		return (msg->flags & n->mask) == n->value;
	case SEARCH_KEYWORD:
		return has_keyword(msg->keywords, n->str, n->str_len);
	case SEARCH_RECENT:
		return msg->recent;
	case SEARCH_LARGER:
		return msg->size > n->num;
	case SEARCH_SMALLER:
		return msg->size < n->num;
	case SEARCH_BEFORE:
	case SEARCH_ON:
	case SEARCH_SINCE:
		/* RFC 9051 6.4.4: the date of INTERNALDATE, disregarding time
		 * and timezone: the date as seen in its own zone */
		return compare_day(n->type, search_day_of(msg->internaldate, msg->internaldate_tz),
		                   n->day);
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE: {
		int64_t day;

		if (get_sent_day(st, &day) < 0)
			return -1;
		return compare_day(n->type, day, n->day);
	}
	case SEARCH_HEADER: {
		struct header_cache *hc;

		if (get_header(st, n->field, &hc) < 0)
			return -1;
		/* RFC 3501 6.4.4: HEADER with "" matches every message that has
		 * the field; so do SUBJECT "" etc. (Dovecot, corpus) */
		return hc->count > 0 && contains(&hc->folded, n->str, n->str_len);
	}
	case SEARCH_BODY:
	case SEARCH_TEXT: {
		const struct buf *text;

		if (get_text(st, n->type == SEARCH_TEXT, &text) < 0)
			return -1;
		return contains(text, n->str, n->str_len);
	}
	case SEARCH_SEQSET:
		return in_set(st, n, msg->seq);
	case SEARCH_UIDSET:
		return in_set(st, n, msg->uid);
	}
	return -1;
}

int search_match(const struct search_program *prog, const struct search_message *msg,
                 const struct search_message_ops *ops, void *ctx)
{
	struct match_state st;
	int r;

	/* sequence sets mean nothing until bound to a mailbox */
	if (prog->has_sets && !prog->bound)
		return -1;
	memset(&st, 0, sizeof(st));
	st.prog = prog;
	st.msg = msg;
	st.ops = ops;
	st.ctx = ctx;
	buf_init(&st.body);
	buf_init(&st.text);
	buf_init(&st.tmp);
	r = eval(&st, &prog->root);
	for (size_t i = 0; i < st.nheaders; i++)
		buf_free(&st.headers[i].folded);
	buf_free(&st.body);
	buf_free(&st.text);
	buf_free(&st.tmp);
	return r;
}

static void bind_node(struct search_node *n, uint32_t messages, uint32_t uid_max)
{
	if ((n->type == SEARCH_SEQSET || n->type == SEARCH_UIDSET) && !n->set.saved) {
		imap_seqset_free(&n->resolved);
		n->resolved.count = n->set.count;
		n->resolved.ranges = xmalloc((n->set.count + 1) * sizeof(*n->set.ranges));
		memcpy(n->resolved.ranges, n->set.ranges, n->set.count * sizeof(*n->set.ranges));
		imap_seqset_resolve(&n->resolved, n->type == SEARCH_SEQSET ? messages : uid_max);
	}
	for (size_t i = 0; i < n->nkids; i++)
		bind_node(&n->kids[i], messages, uid_max);
}

void search_program_bind(struct search_program *prog, uint32_t messages, uint32_t uid_max,
                         const struct imap_seqset *saved_uids)
{
	prog->saved = saved_uids;
	if (prog->has_sets)
		bind_node(&prog->root, messages, uid_max);
	prog->bound = true;
}
