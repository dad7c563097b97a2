/*
 * search/: the compiler (every key of RFC 3501 / RFC 9051 6.4.4, nesting,
 * hostile input) and matching on hand-built messages through a fake
 * message source that counts what it is asked for; plus search_mime_ops on
 * small messages. The corpus is test_search_corpus.c.
 */
#include "search/search.h"

#include "mime/mime.h"
#include "store/store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* the flag bits are the store's, so store_message_list flags pass through */
_Static_assert((int)SEARCH_FLAG_SEEN == (int)STORE_FLAG_SEEN, "flag bits");
_Static_assert((int)SEARCH_FLAG_ANSWERED == (int)STORE_FLAG_ANSWERED, "flag bits");
_Static_assert((int)SEARCH_FLAG_FLAGGED == (int)STORE_FLAG_FLAGGED, "flag bits");
_Static_assert((int)SEARCH_FLAG_DELETED == (int)STORE_FLAG_DELETED, "flag bits");
_Static_assert((int)SEARCH_FLAG_DRAFT == (int)STORE_FLAG_DRAFT, "flag bits");

/* ---- compiling from a command line ---- */

static const struct imap_parser_limits limits = {
    .max_line = 1 << 20,
    .max_literal = 1 << 20,
    .max_nonsync = 1 << 20,
    .max_depth = 20000,
    .spool_threshold = 1 << 20,
    .spool_dir = "/tmp",
};

/* Every error text the compiler may give: fixed, never the client's bytes. */
static const char *const known_texts[] = {
    "Missing argument to search key",
    "literal8 not allowed in SEARCH",
    "Search string too long",
    "Search key argument must be a string",
    "Out of memory",
    "Invalid header field name",
    "Invalid number",
    "Invalid search date",
    "Invalid sequence set",
    "Missing search key",
    "Search keys nested too deeply",
    "Too many search keys",
    "Empty search key list",
    "Search key expected",
    "Invalid keyword",
    "Invalid UID set",
    "Unknown search key",
    "Invalid charset",
    "Unknown charset",
};

static const char *last_code, *last_text;

/* Parse "a SEARCH <args>\r\n" (args may hold literals, sent as they are)
 * and compile; the program or NULL (last_code/last_text say why). */
static struct search_program *compile_len(const char *args, size_t len)
{
	struct imap_parser *parser = imap_parser_new(&limits);
	struct imap_command *cmd = NULL;
	struct search_program *prog = NULL;
	struct buf line;
	size_t off = 0;

	buf_init(&line);
	buf_append_str(&line, "a SEARCH ");
	buf_append(&line, args, len);
	buf_append_str(&line, "\r\n");
	while (off < line.len) {
		size_t used = 0;
		enum imap_parse_result r =
		    imap_parser_feed(parser, line.data + off, line.len - off, &used);

		off += used;
		if (r == IMAP_PARSE_COMMAND) {
			cmd = imap_parser_take_command(parser);
			break;
		}
		if (r == IMAP_PARSE_ERROR || r == IMAP_PARSE_FATAL)
			break;
	}
	last_code = last_text = NULL;
	if (cmd == NULL) {
		/* the command parser said BAD already */
		last_text = "Unknown search key";
		imap_parser_free(&parser);
		buf_free(&line);
		return NULL;
	}
	if (search_compile(cmd->args, cmd->nargs, NULL, &prog, &last_code, &last_text) < 0) {
		bool known = false;

		assert_null(prog);
		assert_non_null(last_text);
		for (size_t i = 0; i < ARRAY_SIZE(known_texts); i++)
			known = known || strcmp(last_text, known_texts[i]) == 0;
		assert_true(known);
	} else {
		assert_non_null(prog);
	}
	imap_command_free(&cmd);
	imap_parser_free(&parser);
	buf_free(&line);
	return prog;
}

static struct search_program *compile(const char *args)
{
	return compile_len(args, strlen(args));
}

static void assert_bad(const char *args)
{
	struct search_program *prog = compile(args);

	if (prog != NULL)
		fail_msg("compiled but should be BAD: %s", args);
	assert_null(last_code);
}

/* ---- a fake message source ---- */

struct fake {
	const char *subject, *from, *to, *custom; /* NULL: no such field */
	const char *body, *headers_text;
	bool has_date;
	int64_t date;
	int date_tz;
	bool fail;
	int header_calls, text_calls, date_calls;
};

static int fake_header(void *ctx, const char *field, struct buf *out)
{
	struct fake *f = ctx;
	const char *v = NULL;

	f->header_calls++;
	if (f->fail)
		return -1;
	if (strcasecmp(field, "Subject") == 0)
		v = f->subject;
	else if (strcasecmp(field, "From") == 0)
		v = f->from;
	else if (strcasecmp(field, "To") == 0)
		v = f->to;
	else if (strcasecmp(field, "X-Custom") == 0)
		v = f->custom;
	if (v == NULL)
		return 0;
	buf_append(out, v, strlen(v) + 1);
	return 1;
}

static int fake_text(void *ctx, bool include_headers, struct buf *out)
{
	struct fake *f = ctx;

	f->text_calls++;
	if (f->fail)
		return -1;
	if (include_headers && f->headers_text != NULL)
		buf_append_str(out, f->headers_text);
	if (f->body != NULL)
		buf_append_str(out, f->body);
	return 0;
}

static int fake_date(void *ctx, int64_t *time_r, int *tz_r)
{
	struct fake *f = ctx;

	f->date_calls++;
	if (f->fail)
		return -1;
	if (!f->has_date)
		return 0;
	*time_r = f->date;
	*tz_r = f->date_tz;
	return 1;
}

static const struct search_message_ops fake_ops = {fake_header, fake_text, fake_date};

/* 2024-01-01 00:00:00 UTC */
#define JAN1 1704067200

static struct search_message base_msg(void)
{
	struct search_message m = {
	    .seq = 5, .uid = 50, .internaldate = JAN1 + 12 * 3600, .size = 1000};

	return m;
}

/* Compile args, bind (10 messages, UID max 100), match; 1/0/-1. */
static int match(const char *args, const struct search_message *m, struct fake *f)
{
	struct search_program *prog = compile(args);
	int r;

	if (prog == NULL)
		fail_msg("does not compile: %s", args);
	search_program_bind(prog, 10, 100, NULL);
	r = search_match(prog, m, &fake_ops, f);
	search_program_free(&prog);
	return r;
}

static void test_flag_keys(void **state)
{
	struct search_message m = base_msg();
	struct fake f = {0};
	static const struct {
		const char *key;
		unsigned flag;
	} keys[] = {
	    {"ANSWERED", SEARCH_FLAG_ANSWERED}, {"DELETED", SEARCH_FLAG_DELETED},
	    {"DRAFT", SEARCH_FLAG_DRAFT},       {"FLAGGED", SEARCH_FLAG_FLAGGED},
	    {"SEEN", SEARCH_FLAG_SEEN},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		char un[32];

		snprintf(un, sizeof(un), "UN%s", keys[i].key);
		m.flags = 0;
		assert_int_equal(match(keys[i].key, &m, &f), 0);
		assert_int_equal(match(un, &m, &f), 1);
		m.flags = keys[i].flag;
		assert_int_equal(match(keys[i].key, &m, &f), 1);
		assert_int_equal(match(un, &m, &f), 0);
		m.flags = SEARCH_FLAG_SEEN | SEARCH_FLAG_ANSWERED | SEARCH_FLAG_FLAGGED |
		          SEARCH_FLAG_DELETED | SEARCH_FLAG_DRAFT;
		m.flags &= ~keys[i].flag;
		assert_int_equal(match(keys[i].key, &m, &f), 0);
	}
	m.flags = 0;
	assert_int_equal(match("all", &m, &f), 1);
	assert_int_equal(match("RECENT", &m, &f), 0);
	assert_int_equal(match("OLD", &m, &f), 1);
	assert_int_equal(match("NEW", &m, &f), 0);
	m.recent = true;
	assert_int_equal(match("RECENT", &m, &f), 1);
	assert_int_equal(match("OLD", &m, &f), 0);
	assert_int_equal(match("NEW", &m, &f), 1);
	m.flags = SEARCH_FLAG_SEEN;
	assert_int_equal(match("NEW", &m, &f), 0);

	m.keywords = "$Forwarded  Work $Label1";
	assert_int_equal(match("KEYWORD work", &m, &f), 1);
	assert_int_equal(match("KEYWORD $forwarded", &m, &f), 1);
	assert_int_equal(match("KEYWORD Wor", &m, &f), 0);
	assert_int_equal(match("UNKEYWORD Work", &m, &f), 0);
	assert_int_equal(match("UNKEYWORD Home", &m, &f), 1);
	m.keywords = NULL;
	assert_int_equal(match("KEYWORD Work", &m, &f), 0);

	m.size = 1000;
	assert_int_equal(match("LARGER 999", &m, &f), 1);
	assert_int_equal(match("LARGER 1000", &m, &f), 0);
	assert_int_equal(match("SMALLER 1001", &m, &f), 1);
	assert_int_equal(match("SMALLER 1000", &m, &f), 0);
	assert_int_equal(match("LARGER 0", &m, &f), 1);
	assert_int_equal(match("SMALLER 9223372036854775807", &m, &f), 1);
	/* none of these touched the message's contents */
	assert_int_equal(f.header_calls + f.text_calls + f.date_calls, 0);
}

static void test_date_keys(void **state)
{
	struct search_message m = base_msg(); /* 2024-01-01 12:00 UTC */
	struct fake f = {.has_date = true, .date = JAN1 - 3600, .date_tz = 0};

	(void)state;
	assert_int_equal(match("ON 1-Jan-2024", &m, &f), 1);
	assert_int_equal(match("ON \"01-jan-2024\"", &m, &f), 1);
	assert_int_equal(match("BEFORE 1-Jan-2024", &m, &f), 0);
	assert_int_equal(match("BEFORE 2-Jan-2024", &m, &f), 1);
	assert_int_equal(match("SINCE 1-Jan-2024", &m, &f), 1);
	assert_int_equal(match("SINCE 2-Jan-2024", &m, &f), 0);
	/* the date in INTERNALDATE's own zone: 13:00 at -14:00 is 31 Dec */
	m.internaldate_tz = -14 * 60;
	assert_int_equal(match("ON 31-Dec-2023", &m, &f), 1);
	m.internaldate_tz = 13 * 60; /* 2024-01-02 01:00 there */
	assert_int_equal(match("ON 2-Jan-2024", &m, &f), 1);
	m.internaldate_tz = 0;
	m.internaldate = -86400; /* before the epoch */
	assert_int_equal(match("ON 31-Dec-1969", &m, &f), 1);
	assert_int_equal(f.date_calls, 0);

	/* Date: 2023-12-31 23:00 +0000, and the same instant seen at +0200 */
	assert_int_equal(match("SENTON 31-Dec-2023", &m, &f), 1);
	assert_int_equal(match("SENTBEFORE 1-Jan-2024", &m, &f), 1);
	assert_int_equal(match("SENTSINCE 1-Jan-2024", &m, &f), 0);
	f.date_tz = 120;
	assert_int_equal(match("SENTON 1-Jan-2024", &m, &f), 1);
	assert_int_equal(match("SENTSINCE 1-Jan-2024", &m, &f), 1);
	/* no Date: the epoch (Dovecot: SENTBEFORE matches) */
	f.has_date = false;
	assert_int_equal(match("SENTBEFORE 1-Jan-2000", &m, &f), 1);
	assert_int_equal(match("SENTSINCE 1-Jan-1971", &m, &f), 0);
	assert_int_equal(match("SENTON 1-Jan-1970", &m, &f), 1);
	/* asked once per message even with several date keys */
	f.date_calls = 0;
	assert_int_equal(
	    match("SENTBEFORE 1-Jan-2000 SENTON 1-Jan-1970 NOT SENTSINCE 1-Jan-1990", &m, &f), 1);
	assert_int_equal(f.date_calls, 1);
	assert_int_equal(f.header_calls + f.text_calls, 0);

	{
		struct search_program *prog = compile("ON 29-Feb-2024");

		assert_non_null(prog);
		search_program_free(&prog);
	}
	assert_bad("ON 29-Feb-2023");
	assert_bad("ON 29-Feb-1900");
	assert_bad("ON 0-Jan-2024");
	assert_bad("ON 32-Jan-2024");
	assert_bad("ON 31-Apr-2024");
	assert_bad("ON 1-Foo-2024");
	assert_bad("ON 1-Jan-24");
	assert_bad("ON 1-Jan-20245");
	assert_bad("ON 001-Jan-2024");
	assert_bad("ON 1 Jan 2024");
	assert_bad("ON {10}\r\n1-Jan-2024");
	assert_bad("ON (1-Jan-2024)");
	assert_bad("SENTBEFORE");
	assert_bad("SINCE 2024-01-01");
}

static void test_string_keys(void **state)
{
	struct search_message m = base_msg();
	struct fake f = {
	    .subject = "Grüße aus KÖLN",
	    .from = "Jürgen Müller <jm@example.org>",
	    .custom = "",
	    .body = "The quick brown ﬁsh\n",
	    .headers_text = "Subject: Grüße aus KÖLN\n",
	};

	(void)state;
	assert_int_equal(match("SUBJECT \"köln\"", &m, &f), 1);
	/* full case folding: ß is ss */
	assert_int_equal(match("SUBJECT \"GRÜSSE\"", &m, &f), 1);
	assert_int_equal(match("SUBJECT \"aus  köln\"", &m, &f), 0);
	assert_int_equal(match("SUBJECT Berlin", &m, &f), 0);
	assert_int_equal(match("SUBJECT \"\"", &m, &f), 1);
	assert_int_equal(match("FROM JM@EXAMPLE", &m, &f), 1);
	assert_int_equal(match("TO x", &m, &f), 0);
	assert_int_equal(match("TO \"\"", &m, &f), 0); /* no To: field */
	assert_int_equal(match("CC \"\"", &m, &f), 0);
	assert_int_equal(match("BCC \"\"", &m, &f), 0);
	assert_int_equal(match("HEADER x-custom \"\"", &m, &f), 1); /* empty but present */
	assert_int_equal(match("HEADER X-Other \"\"", &m, &f), 0);
	assert_int_equal(match("HEADER Subject aus", &m, &f), 1);
	assert_int_equal(f.text_calls, 0);
	/* NFKC: the ligature ﬁ is fi */
	assert_int_equal(match("BODY FISH", &m, &f), 1);
	assert_int_equal(match("BODY \"köln\"", &m, &f), 0);
	assert_int_equal(match("TEXT \"köln\"", &m, &f), 1);
	assert_int_equal(match("BODY \"\"", &m, &f), 1);
	f.body = NULL;
	assert_int_equal(match("BODY \"\"", &m, &f), 1);
	assert_int_equal(match("BODY a", &m, &f), 0);

	/* header values are collapsed: folding leaves tabs and runs */
	f.subject = "this is\t folded   many times";
	assert_int_equal(match("SUBJECT \"is folded many\"", &m, &f), 1);
	/* invalid UTF-8 in the message matches nothing it does not contain */
	f.subject = "Gr\xfc\xdf"
	            "e";
	assert_int_equal(match("SUBJECT \"grüße\"", &m, &f), 0);
	assert_int_equal(match("SUBJECT gr", &m, &f), 1);
}

static void test_lazy_and_order(void **state)
{
	struct search_message m = base_msg();
	struct fake f = {.subject = "hello", .body = "world"};
	struct search_program *prog;

	(void)state;
	/* cheap keys first: an unseen message never reads subject or body */
	assert_int_equal(match("BODY world SUBJECT hello SEEN", &m, &f), 0);
	assert_int_equal(f.header_calls + f.text_calls, 0);
	assert_int_equal(match("OR BODY world SEEN", &m, &f), 1);
	assert_int_equal(f.text_calls, 1);
	f.text_calls = 0;
	/* header before body */
	assert_int_equal(match("BODY world SUBJECT nope", &m, &f), 0);
	assert_int_equal(f.header_calls, 1);
	assert_int_equal(f.text_calls, 0);
	/* each source asked once */
	f.header_calls = 0;
	assert_int_equal(match("SUBJECT h SUBJECT e NOT SUBJECT x BODY w BODY o", &m, &f), 1);
	assert_int_equal(f.header_calls, 1);
	assert_int_equal(f.text_calls, 1);

	prog = compile("SEEN LARGER 5 1:3 UID 4 ON 1-Jan-2024");
	assert_false(search_program_needs_headers(prog));
	assert_false(search_program_needs_text(prog));
	assert_false(search_program_uses_saved(prog));
	search_program_free(&prog);
	prog = compile("OR SEEN (NOT HEADER X-A b)");
	assert_true(search_program_needs_headers(prog));
	assert_false(search_program_needs_text(prog));
	search_program_free(&prog);
	prog = compile("SENTON 1-Jan-2024 TEXT x");
	assert_true(search_program_needs_headers(prog));
	assert_true(search_program_needs_text(prog));
	search_program_free(&prog);
	prog = compile("BODY x");
	assert_false(search_program_needs_headers(prog));
	assert_true(search_program_needs_text(prog));
	search_program_free(&prog);

	/* a failing callback fails the match */
	f.fail = true;
	assert_int_equal(match("SUBJECT x", &m, &f), -1);
	assert_int_equal(match("NOT BODY x", &m, &f), -1);
	assert_int_equal(match("SENTON 1-Jan-2024", &m, &f), -1);
	assert_int_equal(match("OR SUBJECT x ALL", &m, &f), 1); /* ALL is tried first */
}

static void test_sets(void **state)
{
	struct search_message m = base_msg(); /* seq 5, uid 50 */
	struct fake f = {0};
	struct search_program *prog;
	struct imap_seqset saved;
	const char *err;

	(void)state;
	assert_int_equal(match("5", &m, &f), 1);
	assert_int_equal(match("1:4,6:*", &m, &f), 0);
	assert_int_equal(match("*:3", &m, &f), 1); /* 3:10 */
	assert_int_equal(match("UID 50", &m, &f), 1);
	assert_int_equal(match("UID 5", &m, &f), 0);
	assert_int_equal(match("UID 40:*", &m, &f), 1);
	assert_int_equal(match("UID *", &m, &f), 0); /* 100 */
	assert_int_equal(match("NOT 1:4 UID 1:60", &m, &f), 1);
	assert_int_equal(match("4294967295", &m, &f), 0);

	/* unbound sets cannot match */
	prog = compile("1:*");
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), -1);
	/* re-binding resolves '*' again */
	search_program_bind(prog, 4, 100, NULL);
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), 0);
	search_program_bind(prog, 5, 100, NULL);
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), 1);
	search_program_free(&prog);

	/* "$": the saved result, by UID, in both places */
	prog = compile("$");
	assert_true(search_program_uses_saved(prog));
	search_program_bind(prog, 10, 100, NULL);
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), 0);
	assert_int_equal(imap_seqset_parse("10,40:55", 100, &saved, &err), 0);
	imap_seqset_resolve(&saved, 100);
	search_program_bind(prog, 10, 100, &saved);
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), 1);
	search_program_free(&prog);
	prog = compile("UID $ SEEN");
	assert_true(search_program_uses_saved(prog));
	search_program_bind(prog, 10, 100, &saved);
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), 0);
	m.flags = SEARCH_FLAG_SEEN;
	assert_int_equal(search_match(prog, &m, &fake_ops, &f), 1);
	search_program_free(&prog);
	imap_seqset_free(&saved);

	assert_bad("0");
	assert_bad("1:0");
	assert_bad("1:*:2");
	assert_bad("4294967296");
	assert_bad("1,,2");
	assert_bad("1,");
	assert_bad("$:3");
	assert_bad("$,1");
	assert_bad("UID");
	assert_bad("UID 0");
	assert_bad("UID (1)");
	assert_bad("UID \"1\"");
	assert_bad("UID x");
	assert_bad("1-3");
}

static void test_or_not_groups(void **state)
{
	struct search_message m = base_msg();
	struct fake f = {.subject = "abc"};

	(void)state;
	m.flags = SEARCH_FLAG_SEEN;
	assert_int_equal(match("OR SEEN FLAGGED", &m, &f), 1);
	assert_int_equal(match("OR FLAGGED SEEN", &m, &f), 1);
	assert_int_equal(match("OR FLAGGED DRAFT", &m, &f), 0);
	assert_int_equal(match("NOT SEEN", &m, &f), 0);
	assert_int_equal(match("NOT NOT SEEN", &m, &f), 1);
	assert_int_equal(match("OR (FLAGGED SEEN) (SEEN SUBJECT b)", &m, &f), 1);
	assert_int_equal(match("OR (FLAGGED SEEN) (SEEN SUBJECT x)", &m, &f), 0);
	assert_int_equal(match("NOT (SEEN SUBJECT x)", &m, &f), 1);
	assert_int_equal(match("OR OR DRAFT FLAGGED OR DELETED NOT SEEN", &m, &f), 0);
	assert_int_equal(match("OR OR DRAFT FLAGGED OR DELETED NOT UNSEEN", &m, &f), 1);
	assert_int_equal(match("((((SEEN))))", &m, &f), 1);
	assert_int_equal(match("seen Not Flagged oR draft Seen", &m, &f), 1);
}

static void test_hostile(void **state)
{
	struct search_program *prog;
	struct imap_arg *args;
	const char *code, *text;

	(void)state;
	assert_bad("");
	assert_bad("OR SEEN");
	assert_bad("OR a");
	assert_bad("NOT");
	assert_bad("SUBJECT");
	assert_bad("SUBJECT (a)");
	assert_bad("HEADER X-A");
	assert_bad("HEADER \"\" x");
	assert_bad("HEADER \"a:b\" x");
	assert_bad("HEADER \"a b\" x");
	assert_bad("HEADER (X-A) x");
	assert_bad("LARGER");
	assert_bad("LARGER abc");
	assert_bad("LARGER -1");
	assert_bad("LARGER \"5\"");
	assert_bad("LARGER 99999999999999999999");
	assert_bad("SMALLER 9223372036854775808");
	assert_bad("KEYWORD");
	assert_bad("KEYWORD (a)");
	assert_bad("KEYWORD \"a\"");
	assert_bad("FOO");
	assert_bad("\"SEEN\"");
	assert_bad("{4}\r\nSEEN");
	assert_bad("NIL");
	assert_bad("()");
	assert_bad("SEEN ()");
	assert_bad("(SEEN");
	assert_bad("SUBJECT ~{1}\r\nx");
	assert_bad("SEEN UNKNOWNKEY");
	/* CHARSET goes first or not at all (Dovecot: BAD, corpus) */
	assert_bad("SUBJECT x CHARSET UTF-8");
	assert_bad("CHARSET");
	assert_bad("CHARSET UTF-8");
	assert_bad("CHARSET (UTF-8) SEEN");
	assert_bad("CHARSET \"\" SEEN");
	assert_bad("CHARSET UTF-8 CHARSET UTF-8 SEEN");
	assert_bad("(CHARSET UTF-8 SEEN)");
	prog = compile("CHARSET BOGUS-CHARSET SUBJECT x");
	assert_null(prog);
	assert_string_equal(last_code, "BADCHARSET");
	prog = compile("charset \"us-ascii\" SEEN");
	assert_non_null(prog);
	search_program_free(&prog);

	/* nesting: 10,000 NOTs, 10,000 parentheses, 10,000 ORs */
	{
		struct buf b;

		buf_init(&b);
		for (int i = 0; i < 10000; i++)
			buf_append_str(&b, "NOT ");
		buf_append_str(&b, "SEEN");
		assert_bad(b.data);
		buf_reset(&b);
		for (int i = 0; i < 10000; i++)
			buf_append_str(&b, "OR SEEN ");
		buf_append_str(&b, "SEEN");
		assert_bad(b.data);
		buf_reset(&b);
		for (int i = 0; i < 10000; i++)
			buf_append_str(&b, "(");
		buf_append_str(&b, "SEEN");
		for (int i = 0; i < 10000; i++)
			buf_append_str(&b, ")");
		assert_bad(b.data);
		/* within the limit it compiles */
		buf_reset(&b);
		for (int i = 0; i < 99; i++)
			buf_append_str(&b, "NOT ");
		buf_append_str(&b, "SEEN");
		prog = compile(b.data);
		assert_non_null(prog);
		search_program_free(&prog);
		/* too many keys at one level */
		buf_reset(&b);
		for (int i = 0; i < SEARCH_MAX_KEYS + 1; i++)
			buf_append_str(&b, "SEEN ");
		b.data[--b.len] = '\0';
		assert_bad(b.data);
		buf_free(&b);
	}
	/* a list nested 10,000 deep built by hand (deeper than any parser
	 * allows): rejected before recursing into it */
	args = xcalloc(10001, sizeof(*args));
	for (int i = 0; i < 10000; i++) {
		args[i].type = IMAP_ARG_LIST;
		args[i].list = &args[i + 1];
		args[i].count = 1;
		args[i].fd = -1;
	}
	args[10000].type = IMAP_ARG_ATOM;
	args[10000].str = "SEEN";
	args[10000].len = 4;
	args[10000].fd = -1;
	assert_int_equal(search_compile(args, 1, NULL, &prog, &code, &text), -1);
	assert_null(code);
	assert_string_equal(text, "Search keys nested too deeply");
	free(args);
	/* options lower the limits */
	{
		struct search_compile_options opts = {.max_depth = 2, .max_keys = 3};
		struct imap_arg a[4] = {{.type = IMAP_ARG_ATOM, .str = "SEEN", .len = 4, .fd = -1},
		                        {.type = IMAP_ARG_ATOM, .str = "SEEN", .len = 4, .fd = -1},
		                        {.type = IMAP_ARG_ATOM, .str = "SEEN", .len = 4, .fd = -1},
		                        {.type = IMAP_ARG_ATOM, .str = "SEEN", .len = 4, .fd = -1}};

		assert_int_equal(search_compile(a, 3, &opts, &prog, &code, &text), 0);
		search_program_free(&prog);
		assert_int_equal(search_compile(a, 4, &opts, &prog, &code, &text), -1);
		assert_string_equal(text, "Too many search keys");
		/* a spooled literal (str NULL) is refused, not read */
		a[1].type = IMAP_ARG_LITERAL;
		a[1].str = NULL;
		a[1].len = 1 << 20;
		a[0].str = "BODY";
		assert_int_equal(search_compile(a, 2, &opts, &prog, &code, &text), -1);
		assert_string_equal(text, "Search string too long");
	}
	search_program_free(&prog); /* NULL: no-op */
}

static void test_charsets(void **state)
{
	struct search_message m = base_msg();
	struct fake f = {.subject = "Grüße", .body = "naïve café"};

	(void)state;
	/* literals carry the 8-bit bytes; UTF-8 is the default (RFC 9051) */
	assert_int_equal(match("CHARSET UTF-8 SUBJECT {7}\r\ngr\xc3\xbc\xc3\x9f"
	                       "e",
	                       &m, &f),
	                 1);
	assert_int_equal(match("SUBJECT {7}\r\nGR\xc3\x9c\xc3\x9f"
	                       "E",
	                       &m, &f),
	                 1);
	assert_int_equal(match("CHARSET ISO-8859-1 SUBJECT {5}\r\nGr\xfc\xdf"
	                       "e",
	                       &m, &f),
	                 1);
	assert_int_equal(match("CHARSET latin1 BODY {4}\r\nCAF\xc9", &m, &f), 1);
	assert_int_equal(match("CHARSET ISO-8859-1 BODY \"cafe\"", &m, &f), 0);
	/* the ISO-8859-1 bytes under UTF-8 are invalid and match nothing */
	assert_int_equal(match("CHARSET UTF-8 SUBJECT {5}\r\nGr\xfc\xdf"
	                       "e",
	                       &m, &f),
	                 0);
	assert_int_equal(match("CHARSET UTF-8 BODY {6}\r\nna\xc3\xafve", &m, &f), 1);
	assert_int_equal(match("CHARSET US-ASCII BODY NAIVE", &m, &f), 0);
	assert_int_equal(match("CHARSET \"UTF-8\" HEADER SUBJECT {3}\r\n\xc3\x9f"
	                       "e",
	                       &m, &f),
	                 1);
}

/* ---- search_mime_ops on small messages ---- */

static int mime_match(const char *args, const char *message)
{
	struct search_program *prog = compile(args);
	struct search_message m = base_msg();
	struct search_mime_ctx ctx;
	struct buf crlf;
	struct mime_crlf st;
	int r;

	assert_non_null(prog);
	buf_init(&crlf);
	mime_crlf_init(&st);
	mime_crlf_normalize(&st, message, strlen(message), &crlf);
	search_program_bind(prog, 10, 100, NULL);
	search_mime_init(&ctx, crlf.data, crlf.len, NULL);
	r = search_match(prog, &m, &search_mime_ops, &ctx);
	search_mime_deinit(&ctx);
	search_program_free(&prog);
	buf_free(&crlf);
	return r;
}

static const char mime_msg[] = "From: =?ISO-8859-1?Q?J=FCrgen?= <j@example.org>\n"
                               "Subject : first\n"
                               "subject: =?UTF-8?B?R3LDvMOfZQ==?=\n"
                               "Date: Tue, 02 Jan 2024 23:30:00 -0500\n"
                               "Date: Mon, 01 Jan 2024 10:00:00 +0000\n"
                               "X-Folded: a\n"
                               " b\n"
                               "MIME-Version: 1.0\n"
                               "Content-Type: multipart/mixed; boundary=b\n"
                               "\n"
                               "preamble-word\n"
                               "--b\n"
                               "Content-Type: text/plain; charset=iso-8859-1\n"
                               "Content-Transfer-Encoding: quoted-printable\n"
                               "\n"
                               "caf=E9 soft=\n"
                               "break\n"
                               "--b\n"
                               "Content-Type: application/octet-stream\n"
                               "\n"
                               "attachmentword\n"
                               "--b\n"
                               "Content-Type: text/html\n"
                               "Content-Transfer-Encoding: base64\n"
                               "\n"
                               "aHRtbHdvcmQ=\n"
                               "--b--\n";

static void test_mime_ops(void **state)
{
	(void)state;
	assert_int_equal(mime_match("FROM \"jürgen\"", mime_msg), 1);
	assert_int_equal(mime_match("FROM \"j@example\"", mime_msg), 1);
	/* every Subject field, "Subject :" too */
	assert_int_equal(mime_match("SUBJECT first", mime_msg), 1);
	assert_int_equal(mime_match("SUBJECT \"GRÜSSE\"", mime_msg), 1);
	assert_int_equal(mime_match("HEADER X-Folded \"a b\"", mime_msg), 1);
	assert_int_equal(mime_match("HEADER Content-Type multipart", mime_msg), 1);
	/* only the top-level header */
	assert_int_equal(mime_match("HEADER Content-Type html", mime_msg), 0);
	assert_int_equal(mime_match("HEADER Content-Transfer-Encoding \"\"", mime_msg), 0);
	/* the first Date (as Dovecot's search), in its own zone: 2 Jan */
	assert_int_equal(mime_match("SENTON 2-Jan-2024", mime_msg), 1);
	assert_int_equal(mime_match("SENTON 3-Jan-2024", mime_msg), 0);
	/* bodies: QP + charset, soft breaks; base64 html; not the attachment
	 * nor the preamble */
	assert_int_equal(mime_match("BODY \"CAFÉ SOFTBREAK\"", mime_msg), 1);
	assert_int_equal(mime_match("BODY htmlword", mime_msg), 1);
	assert_int_equal(mime_match("BODY attachmentword", mime_msg), 0);
	assert_int_equal(mime_match("BODY preamble-word", mime_msg), 0);
	assert_int_equal(mime_match("BODY \"grüße\"", mime_msg), 0);
	/* TEXT: headers, MIME headers too, and the bodies */
	assert_int_equal(mime_match("TEXT \"grüße\"", mime_msg), 1);
	assert_int_equal(mime_match("TEXT \"Content-Type: application/octet\"", mime_msg), 1);
	assert_int_equal(mime_match("TEXT \"café\"", mime_msg), 1);
	/* no header at all, no Date */
	assert_int_equal(mime_match("SUBJECT \"\"", "\nbody only\n"), 0);
	assert_int_equal(mime_match("BODY ONLY", "\nbody only\n"), 1);
	assert_int_equal(mime_match("SENTBEFORE 1-Jan-1980", "\nbody only\n"), 1);
	assert_int_equal(mime_match("SENTBEFORE 1-Jan-1980", "Date: garbage\n\nx\n"), 1);
	assert_int_equal(mime_match("TEXT x", ""), 0);
	assert_int_equal(mime_match("NOT HEADER a \"\"", ""), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flag_keys),   cmocka_unit_test(test_date_keys),
	    cmocka_unit_test(test_string_keys), cmocka_unit_test(test_lazy_and_order),
	    cmocka_unit_test(test_sets),        cmocka_unit_test(test_or_not_groups),
	    cmocka_unit_test(test_hostile),     cmocka_unit_test(test_charsets),
	    cmocka_unit_test(test_mime_ops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
