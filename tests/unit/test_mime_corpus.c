/*
 * The corpus test: every message of shared/corpus/msg, parsed by mime/,
 * against Dovecot 2.3's recorded FETCH answers (shared/corpus/README.md):
 * RFC822.SIZE, ENVELOPE, BODYSTRUCTURE and BODY; the bytes of every
 * BODY.PEEK[section] (partial too); BINARY.PEEK and BINARY.SIZE.
 *
 * Section bytes compare exactly (with Dovecot's NUL -> 0x80 in BODY[]
 * output, which is the protocol layer's job). ENVELOPE and BODYSTRUCTURE
 * compare as token trees: literal and quoted strings are the same string,
 * and BODYSTRUCTURE's strings compare case-insensitively (RFC 3501 says
 * types, subtypes, parameter names and encodings are case-insensitive).
 * Where we deliberately differ, allowed[] says why.
 */
#include "mime/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "test_util.h"

#ifndef ROOST_SOURCE_DIR
#define ROOST_SOURCE_DIR "."
#endif
#define CORPUS_DIR ROOST_SOURCE_DIR "/../shared/corpus/msg"
#define CORPUS_COUNT 232

enum allow_what {
	ALLOW_STATUS, /* we answer OK where Dovecot said NO or disconnected */
	ALLOW_BYTES,  /* different bytes or value */
};

#define R_INVALID                                                                                  \
	"invalid base64/quoted-printable: Dovecot answers NO [PARSE] or BYE and disconnects; we "  \
	"decode leniently (bad bytes skipped) and answer"
#define R_SIZE_CTE                                                                                 \
	"Dovecot's BINARY.SIZE says UNKNOWN-CTE for a part whose BINARY.PEEK it answers (an "      \
	"unknown CTE elsewhere in the message); we give the size of what BINARY sends"

/* (message, a substring of the command, what differs, why) */
static const struct allowed {
	int msg;
	const char *cmd;
	enum allow_what what;
	const char *reason;
} allowed[] = {
    {16, "BINARY", ALLOW_STATUS, R_INVALID},
    {40, "BINARY", ALLOW_STATUS, R_INVALID},
    {55, "BINARY", ALLOW_STATUS, R_INVALID},
    {77, "BINARY", ALLOW_STATUS, R_INVALID},
    {78, "BINARY", ALLOW_STATUS, R_INVALID},
    {81, "BINARY", ALLOW_STATUS, R_INVALID},
    {82, "BINARY", ALLOW_STATUS, R_INVALID},
    {83, "BINARY", ALLOW_STATUS, R_INVALID},
    {84, "BINARY", ALLOW_STATUS, R_INVALID},
    {88, "BINARY", ALLOW_STATUS, R_INVALID},
    {115, "BINARY", ALLOW_STATUS, R_INVALID},
    {129, "BINARY", ALLOW_STATUS, R_INVALID},
    {146, "BINARY", ALLOW_STATUS, R_INVALID},
    {214, "BINARY", ALLOW_STATUS, R_INVALID},
    {215, "BINARY", ALLOW_STATUS, R_INVALID},
    {60, "BINARY.SIZE", ALLOW_STATUS, R_SIZE_CTE},
    {156, "BINARY.SIZE", ALLOW_STATUS, R_SIZE_CTE},
    {216, "BINARY.SIZE", ALLOW_STATUS, R_SIZE_CTE},
    {212, "BINARY.SIZE[1]", ALLOW_BYTES,
     "Dovecot's BINARY.SIZE[1] (122) disagrees with the 124 bytes its BINARY.PEEK[1] sends; "
     "we give the size of what BINARY sends"},
    {216, "BINARY.PEEK[6]", ALLOW_BYTES,
     "two CTE headers: Dovecot's BODYSTRUCTURE uses the first (quoted-printable), its BINARY "
     "the last (base64); we use the first for both, consistently"},
    {162, "2.HEADER.FIELDS", ALLOW_BYTES,
     "Dovecot answers {0} for HEADER.FIELDS of this colon-less encapsulated header (but CRLF "
     "for the same shape in 161); we always end the subset with the blank line (RFC 3501 "
     "6.4.5)"},
};

static int allowed_find(int msg, const char *cmd, enum allow_what what)
{
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
		if (allowed[i].msg == msg && allowed[i].what == what &&
		    strstr(cmd, allowed[i].cmd) != NULL)
			return (int)i;
	}
	return -1;
}

/* ---- IMAP response token trees ---- */

enum tok_type { T_ATOM, T_STR, T_NIL, T_LIST };

struct tok {
	enum tok_type type;
	unsigned char *s; /* atoms and strings, NUL-terminated copy */
	size_t len;
	struct tok *kids;
	size_t n;
};

static void tok_free(struct tok *t)
{
	for (size_t i = 0; i < t->n; i++)
		tok_free(&t->kids[i]);
	free(t->kids);
	free(t->s);
}

static void tok_set(struct tok *t, enum tok_type type, const unsigned char *s, size_t len)
{
	memset(t, 0, sizeof(*t));
	t->type = type;
	t->s = xmalloc(len + 1);
	if (len > 0)
		memcpy(t->s, s, len);
	t->s[len] = '\0';
	t->len = len;
}

/* Parse one token at *pp; -1 on a syntax error. */
static int tok_parse(const unsigned char **pp, const unsigned char *end, struct tok *t)
{
	const unsigned char *p = *pp;

	while (p < end && *p == ' ')
		p++;
	if (p >= end)
		return -1;
	memset(t, 0, sizeof(*t));
	if (*p == '(') {
		t->type = T_LIST;
		p++;
		for (;;) {
			while (p < end && *p == ' ')
				p++;
			if (p >= end)
				return -1;
			if (*p == ')') {
				p++;
				break;
			}
			t->kids = xrealloc(t->kids, (t->n + 1) * sizeof(*t->kids));
			if (tok_parse(&p, end, &t->kids[t->n]) < 0)
				return -1;
			t->n++;
		}
	} else if (*p == '"') {
		struct buf b;

		buf_init(&b);
		p++;
		while (p < end && *p != '"') {
			if (*p == '\\' && p + 1 < end)
				p++;
			buf_append_byte(&b, (char)*p++);
		}
		if (p >= end) {
			buf_free(&b);
			return -1;
		}
		p++;
		tok_set(t, T_STR, (const unsigned char *)(b.data ? b.data : ""), b.len);
		buf_free(&b);
	} else if (*p == '{' || (*p == '~' && p + 1 < end && p[1] == '{')) {
		char *e;
		unsigned long n;

		p += *p == '~' ? 2 : 1;
		n = strtoul((const char *)p, &e, 10);
		p = (const unsigned char *)e;
		if (end - p < 3 || memcmp(p, "}\r\n", 3) != 0)
			return -1;
		p += 3;
		if ((size_t)(end - p) < n)
			return -1;
		tok_set(t, T_STR, p, n);
		p += n;
	} else {
		const unsigned char *s = p;
		int depth = 0;

		while (p < end && (depth > 0 || (*p != ' ' && *p != '(' && *p != ')'))) {
			if (*p == '[')
				depth++;
			else if (*p == ']')
				depth--;
			p++;
		}
		if (p == s)
			return -1;
		tok_set(t, T_ATOM, s, (size_t)(p - s));
		if (t->len == 3 && strcasecmp((char *)t->s, "NIL") == 0)
			t->type = T_NIL;
	}
	*pp = p;
	return 0;
}

static bool tok_equal(const struct tok *a, const struct tok *b, bool nocase)
{
	if (a->type != b->type || a->n != b->n || a->len != b->len)
		return false;
	if (a->type == T_LIST) {
		for (size_t i = 0; i < a->n; i++) {
			if (!tok_equal(&a->kids[i], &b->kids[i], nocase))
				return false;
		}
		return true;
	}
	if (a->len == 0)
		return true;
	return nocase ? strncasecmp((char *)a->s, (char *)b->s, a->len) == 0 &&
	                    memchr(a->s, 0, a->len) == NULL
	              : memcmp(a->s, b->s, a->len) == 0;
}

/* Parse "* N FETCH (items)" into the items list. */
static int parse_fetch(const unsigned char *data, size_t len, struct tok *items)
{
	const unsigned char *p = data, *end = data + len;

	if (len < 2 || p[0] != '*')
		return -1;
	p = (const unsigned char *)strstr((const char *)p, "FETCH ");
	if (p == NULL || p >= end)
		return -1;
	p += 6;
	return tok_parse(&p, end, items);
}

static const struct tok *item_get(const struct tok *items, const char *name)
{
	for (size_t i = 0; i + 1 < items->n; i += 2) {
		if (items->kids[i].type == T_ATOM &&
		    strcasecmp((char *)items->kids[i].s, name) == 0)
			return &items->kids[i + 1];
	}
	return NULL;
}

/* ---- one message ---- */

struct stats {
	unsigned compared, identical, allowed, failed;
	bool allowed_used[ARRAY_SIZE(allowed)];
};

static void report(struct stats *st, int num, const char *cmd, bool same, enum allow_what aw,
                   const char *what, const void *ours, size_t ours_len, const void *theirs,
                   size_t theirs_len)
{
	st->compared++;
	if (same) {
		st->identical++;
		return;
	}
	int a = allowed_find(num, cmd, aw);

	if (a >= 0) {
		st->allowed++;
		st->allowed_used[a] = true;
		return;
	}
	st->failed++;
	if (st->failed <= 1000) {
		printf("DIFF %03d %s: %s\n  ours:   %.*s\n  theirs: %.*s\n", num, cmd, what,
		       (int)(ours_len > 600 ? 600 : ours_len), (const char *)ours,
		       (int)(theirs_len > 600 ? 600 : theirs_len), (const char *)theirs);
	}
}

static bool compare_structure(const char *ours_s, size_t ours_len, const struct tok *theirs,
                              bool nocase)
{
	struct tok ours;
	const unsigned char *p = (const unsigned char *)ours_s;
	bool same;

	if (tok_parse(&p, p + ours_len, &ours) < 0 ||
	    p != (const unsigned char *)ours_s + ours_len) {
		tok_free(&ours);
		return false;
	}
	same = tok_equal(&ours, theirs, nocase);
	tok_free(&ours);
	return same;
}

/* "BODY.PEEK[1.HEADER.FIELDS (A B)]<5.20>" -> spec, names, partial */
struct fetch_cmd {
	bool binary, binary_size;
	char spec[512];
	char *names[64];
	size_t name_count;
	bool partial;
	unsigned long p_start, p_len;
};

static int parse_cmd(const char *item, struct fetch_cmd *fc)
{
	const char *lb = strchr(item, '['), *rb = strrchr(item, ']');

	memset(fc, 0, sizeof(*fc));
	if (lb == NULL || rb == NULL || rb < lb)
		return -1;
	fc->binary = strncmp(item, "BINARY.PEEK", 11) == 0;
	fc->binary_size = strncmp(item, "BINARY.SIZE", 11) == 0;
	size_t n = (size_t)(rb - lb - 1);
	char inner[512];

	if (n >= sizeof(inner))
		return -1;
	memcpy(inner, lb + 1, n);
	inner[n] = '\0';
	char *paren = strchr(inner, '(');

	if (paren != NULL) {
		char *e = strchr(paren, ')');

		if (e == NULL)
			return -1;
		*e = '\0';
		for (char *s = strtok(paren + 1, " "); s && fc->name_count < 64;
		     s = strtok(NULL, " "))
			fc->names[fc->name_count++] = xstrdup(s);
		paren[paren > inner && paren[-1] == ' ' ? -1 : 0] = '\0';
	}
	snprintf(fc->spec, sizeof(fc->spec), "%s", inner);
	if (rb[1] == '<') {
		fc->partial = true;
		if (sscanf(rb + 2, "%lu.%lu", &fc->p_start, &fc->p_len) != 2)
			return -1;
	}
	return 0;
}

static void fetch_cmd_free(struct fetch_cmd *fc)
{
	for (size_t i = 0; i < fc->name_count; i++)
		free(fc->names[i]);
}

/* Our answer for a section command: 1 with bytes, 0 for NO [UNKNOWN-CTE]. */
static int our_section(const struct mime_message *msg, const struct fetch_cmd *fc, struct buf *out)
{
	struct mime_section sec;
	int ret = mime_section_find(msg->parts, msg->part_count, fc->spec, &sec);

	assert_true(ret >= 0);
	if (ret == 0)
		return 1;
	if (fc->binary || fc->binary_size) {
		if (!sec.whole_part) {
			buf_append(out, msg->data + sec.start, sec.len);
			return 1;
		}
		if (mime_decode_part(msg->data, msg->len, msg->parts, msg->part_count, sec.part,
		                     out) < 0)
			return 0;
		return 1;
	}
	if (sec.kind == MIME_SECTION_BYTES) {
		buf_append(out, msg->data + sec.start, sec.len);
	} else {
		mime_header_filter(msg->data + sec.start, sec.len, (const char *const *)fc->names,
		                   fc->name_count, sec.kind == MIME_SECTION_HEADER_FIELDS_NOT, out);
	}
	/* Dovecot sends NUL as 0x80 in BODY[] (a literal may not hold NUL) */
	for (size_t i = 0; i < out->len; i++) {
		if (out->data[i] == '\0')
			out->data[i] = (char)0x80;
	}
	return 1;
}

static void check_section(struct stats *st, int num, const struct mime_message *msg,
                          const char *cmd, const char *item, const unsigned char *resp, size_t rlen,
                          const char *tagged)
{
	struct fetch_cmd fc;
	struct buf ours;
	struct tok items;
	char what[64];

	assert_int_equal(parse_cmd(item, &fc), 0);
	buf_init(&ours);
	int ok = our_section(msg, &fc, &ours);
	bool theirs_ok = strncmp(tagged, "OK", 2) == 0;

	if (!theirs_ok || !ok) {
		bool same = !theirs_ok && !ok && strstr(tagged, "UNKNOWN-CTE") != NULL;

		snprintf(what, sizeof(what), "status (ours %s)", ok ? "OK" : "UNKNOWN-CTE");
		report(st, num, cmd, same, ALLOW_STATUS, what, ours.data ? ours.data : "", ours.len,
		       tagged, strlen(tagged));
		goto out;
	}
	if (parse_fetch(resp, rlen, &items) < 0 || items.n != 2) {
		report(st, num, cmd, false, ALLOW_BYTES, "unparsable answer", "", 0, resp, rlen);
		tok_free(&items);
		goto out;
	}
	const struct tok *v = &items.kids[1];

	if (fc.binary_size) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", ours.len);
		report(st, num, cmd, v->type == T_ATOM && strcmp((char *)v->s, n) == 0, ALLOW_BYTES,
		       "BINARY.SIZE", n, strlen(n), v->s, v->len);
	} else {
		const char *b = ours.data ? ours.data : "";
		size_t blen = ours.len;

		if (fc.partial) {
			size_t s = fc.p_start < blen ? fc.p_start : blen;

			b += s;
			blen -= s;
			if (blen > fc.p_len)
				blen = fc.p_len;
		}
		bool same = v->type != T_LIST && (v->type == T_NIL ? blen == 0 : v->len == blen) &&
		            (blen == 0 || memcmp(b, v->s, blen) == 0);
		report(st, num, cmd, same, ALLOW_BYTES, "bytes", b, blen,
		       v->s ? (char *)v->s : "NIL", v->s ? v->len : 3);
	}
	tok_free(&items);
out:
	fetch_cmd_free(&fc);
	buf_free(&ours);
}

static void check_first(struct stats *st, int num, const struct mime_message *msg, const char *cmd,
                        const unsigned char *resp, size_t rlen)
{
	struct tok items;
	struct buf b;
	const struct tok *t;
	char n[32];

	assert_int_equal(parse_fetch(resp, rlen, &items), 0);
	buf_init(&b);
	t = item_get(&items, "RFC822.SIZE");
	assert_non_null(t);
	snprintf(n, sizeof(n), "%zu", msg->len);
	report(st, num, "RFC822.SIZE", strcmp((char *)t->s, n) == 0, ALLOW_BYTES, "size", n,
	       strlen(n), t->s, t->len);

	mime_write_envelope(msg, &b);
	t = item_get(&items, "ENVELOPE");
	assert_non_null(t);
	report(st, num, "ENVELOPE", compare_structure(b.data, b.len, t, false), ALLOW_BYTES,
	       "ENVELOPE", b.data, b.len, resp, rlen);

	buf_reset(&b);
	mime_write_bodystructure(msg, true, &b);
	t = item_get(&items, "BODYSTRUCTURE");
	assert_non_null(t);
	report(st, num, "BODYSTRUCTURE", compare_structure(b.data, b.len, t, true), ALLOW_BYTES,
	       "BODYSTRUCTURE", b.data, b.len, resp, rlen);

	buf_reset(&b);
	mime_write_bodystructure(msg, false, &b);
	t = item_get(&items, "BODY");
	assert_non_null(t);
	report(st, num, "BODY ", compare_structure(b.data, b.len, t, true), ALLOW_BYTES, "BODY",
	       b.data, b.len, resp, rlen);
	buf_free(&b);
	tok_free(&items);
}

static void check_message(struct stats *st, int num)
{
	char path[512];
	size_t raw_len, exp_len;
	unsigned char *raw, *exp;
	struct buf norm;
	struct mime_crlf crlf;

	snprintf(path, sizeof(path), "%s/%03d.eml", CORPUS_DIR, num);
	raw = test_read_file(path, &raw_len);
	assert_non_null(raw);
	snprintf(path, sizeof(path), "%s/%03d.expected", CORPUS_DIR, num);
	exp = test_read_file(path, &exp_len);
	assert_non_null(exp);

	buf_init(&norm);
	mime_crlf_init(&crlf);
	mime_crlf_normalize(&crlf, raw, raw_len, &norm);
	struct mime_message *msg = mime_parse(norm.data ? norm.data : "", norm.len);

	/* blocks: "C: cmd\n" "S-BYTES: n\n" bytes "S-TAGGED: ...\n" "\n" */
	const unsigned char *p = exp, *end = exp + exp_len;

	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));

		assert_non_null(nl);
		assert_true(strncmp((const char *)p, "C: ", 3) == 0);
		char cmd[1024];

		snprintf(cmd, sizeof(cmd), "%.*s", (int)(nl - p - 3), p + 3);
		p = nl + 1;
		unsigned long n;

		assert_int_equal(sscanf((const char *)p, "S-BYTES: %lu", &n), 1);
		p = (const unsigned char *)strchr((const char *)p, '\n') + 1;
		const unsigned char *resp = p;

		p += n;
		nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		char tagged[512];

		snprintf(tagged, sizeof(tagged), "%.*s", (int)(nl - p - 10), p + 10);
		p = nl + 2;

		/* "FETCH N (item)" */
		const char *item = strchr(cmd + 6, '(');

		assert_non_null(item);
		item++;
		char item_s[1024];

		snprintf(item_s, sizeof(item_s), "%s", item);
		item_s[strlen(item_s) - 1] = '\0';
		if (strncmp(item_s, "RFC822.SIZE", 11) == 0)
			check_first(st, num, msg, cmd, resp, n);
		else
			check_section(st, num, msg, cmd, item_s, resp, n, tagged);
	}
	mime_message_free(&msg);
	buf_free(&norm);
	free(raw);
	free(exp);
}

static void test_corpus(void **state)
{
	struct stats st;

	memset(&st, 0, sizeof(st));
	for (int i = 1; i <= CORPUS_COUNT; i++)
		check_message(&st, i);
	printf("corpus: %u answers compared, %u identical, %u allowed differences, %u failures\n",
	       st.compared, st.identical, st.allowed, st.failed);
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
		if (!st.allowed_used[i])
			printf("allow-list entry not needed: %03d %s\n", allowed[i].msg,
			       allowed[i].cmd);
		assert_non_null(allowed[i].reason);
		assert_true(allowed[i].reason[0] != '\0');
	}
	assert_int_equal(st.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
