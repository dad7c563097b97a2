/*
 * Unit tests for imap/fetch_parse.c and imap/fetch_write.c.
 *
 * Parse tests build the argument tree with the real parser (imap/parser.c)
 * from a command line "a FETCH 1 <items>\r\n", as the session would.
 *
 * The corpus test replays every BODY.PEEK[...], BINARY.PEEK[...] and
 * BINARY.SIZE[...] command recorded against Dovecot (shared/corpus/msg):
 * the items go through imap_fetch_parse, the answer through
 * imap_fetch_write_section over the stored form of the message (CRLF,
 * part table encoded and decoded as store/ keeps it), and the untagged
 * line "* N FETCH (<item>)\r\n" must equal Dovecot's bytes. Where we
 * deliberately differ, allowed[] says why.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_util.h"

#include "base/base.h"
#include "imap/fetch.h"
#include "imap/parser.h"
#include "mime/mime.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ROOST_SOURCE_DIR
#define ROOST_SOURCE_DIR "."
#endif
#define CORPUS_DIR ROOST_SOURCE_DIR "/../shared/corpus/msg"
#define CORPUS_COUNT 232

static const struct imap_parser_limits test_limits = {
    .max_line = 4 * 1024 * 1024,
    .max_literal = 4096,
    .max_nonsync = 4096,
    .max_depth = 8,
    .spool_threshold = 1024 * 1024,
    .spool_dir = "/tmp",
};

/* Every text imap_fetch_parse may give: a fixed set, none with client bytes. */
static const char *const known_errors[] = {
    "Missing fetch items",
    "Unexpected arguments after the fetch items",
    "Empty fetch item list",
    "Too many fetch items",
    "Several fetch items need parentheses",
    "Unexpected list in fetch items",
    "Fetch items must be atoms",
    "Too many body sections",
    "Fetch macros must be used alone",
    "Unknown fetch item",
    "Missing ']' in section",
    "Section too long",
    "Invalid section part number",
    "Invalid section",
    "BINARY takes part numbers only",
    "HEADER.FIELDS needs a list of field names",
    "Field list after a section that takes none",
    "Unexpected data after ']'",
    "Invalid partial origin",
    "Invalid partial length",
    "BINARY.SIZE takes no partial",
    "Empty header field list",
    "Too many header field names",
    "Invalid header field name",
};

/* ---- helpers ---- */

/* Parse a whole command line; NULL if the parser refused it. */
static struct imap_command *command_parse(const char *line, size_t len)
{
	struct imap_parser *parser = imap_parser_new(&test_limits);
	struct imap_command *cmd = NULL;
	size_t off = 0, used;
	enum imap_parse_result r = IMAP_PARSE_NEED_MORE;

	while (off < len) {
		r = imap_parser_feed(parser, line + off, len - off, &used);
		off += used;
		if (r != IMAP_PARSE_NEED_MORE && r != IMAP_PARSE_CONTINUE)
			break;
	}
	if (r == IMAP_PARSE_COMMAND)
		cmd = imap_parser_take_command(parser);
	imap_parser_free(&parser);
	return cmd;
}

/* "a FETCH 1 <items>": 0 and items, or -1 and the error (NULL: the
 * parser refused the line). */
static int fetch_parse_text(const char *items_text, bool uid, struct imap_fetch_items *items,
                            const char **error_r)
{
	char *line = xasprintf("a FETCH 1 %s\r\n", items_text);
	struct imap_command *cmd = command_parse(line, strlen(line));
	int ret;

	free(line);
	*error_r = NULL;
	memset(items, 0, sizeof(*items));
	if (cmd == NULL)
		return -1;
	assert_true(cmd->nargs >= 1);
	ret = imap_fetch_parse(cmd->args + 1, cmd->nargs - 1, uid, items, error_r);
	imap_command_free(&cmd);
	if (ret < 0) {
		bool known = false;

		assert_non_null(*error_r);
		for (size_t i = 0; i < ARRAY_SIZE(known_errors); i++)
			known = known || strcmp(*error_r, known_errors[i]) == 0;
		if (!known)
			fail_msg("unknown error text: %s", *error_r);
		/* a failed parse leaves nothing behind */
		assert_int_equal(items->section_count, 0);
		assert_null(items->sections);
	}
	return ret;
}

static void parse_ok(const char *text, bool uid, struct imap_fetch_items *items)
{
	const char *error;

	if (fetch_parse_text(text, uid, items, &error) < 0)
		fail_msg("%s: %s", text, error ? error : "parser refused the line");
}

/* Refused by imap_fetch_parse with this error (NULL: any known error). */
static void parse_bad(const char *text, const char *expected_error)
{
	struct imap_fetch_items items;
	const char *error;

	if (fetch_parse_text(text, false, &items, &error) == 0) {
		imap_fetch_items_free(&items);
		fail_msg("accepted: %s", text);
	}
	if (error == NULL)
		fail_msg("the parser refused: %s", text);
	if (expected_error != NULL && strcmp(error, expected_error) != 0)
		fail_msg("%s: got \"%s\", expected \"%s\"", text, error, expected_error);
}

static unsigned flags_of(const char *text)
{
	struct imap_fetch_items items;
	unsigned flags;

	parse_ok(text, false, &items);
	flags = items.flags;
	assert_int_equal(items.section_count, 0);
	imap_fetch_items_free(&items);
	return flags;
}

/* ---- parsing ---- */

static void test_parse_simple_items(void **state)
{
	static const struct {
		const char *text;
		unsigned flags;
	} cases[] = {
	    {"UID", IMAP_FETCH_UID},
	    {"FLAGS", IMAP_FETCH_FLAGS},
	    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE},
	    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE},
	    {"ENVELOPE", IMAP_FETCH_ENVELOPE},
	    {"BODY", IMAP_FETCH_BODY},
	    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE},
	    {"RFC822", IMAP_FETCH_RFC822},
	    {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER},
	    {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT},
	    {"MODSEQ", IMAP_FETCH_MODSEQ},
	    {"(flags)", IMAP_FETCH_FLAGS},
	    {"(Uid rfc822.size)", IMAP_FETCH_UID | IMAP_FETCH_RFC822_SIZE},
	    {"(FLAGS FLAGS UID)", IMAP_FETCH_FLAGS | IMAP_FETCH_UID},
	    {"(BODY BODYSTRUCTURE ENVELOPE)",
	     IMAP_FETCH_BODY | IMAP_FETCH_BODYSTRUCTURE | IMAP_FETCH_ENVELOPE},
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(flags_of(cases[i].text), cases[i].flags);
}

static void test_parse_macros(void **state)
{
	unsigned fast = IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE;
	struct imap_fetch_items items;
	(void)state;

	assert_int_equal(flags_of("ALL"), fast | IMAP_FETCH_ENVELOPE);
	assert_int_equal(flags_of("fast"), fast);
	assert_int_equal(flags_of("Full"), fast | IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY);
	parse_ok("ALL", true, &items);
	assert_int_equal(items.flags, fast | IMAP_FETCH_ENVELOPE | IMAP_FETCH_UID);
	assert_false(items.set_seen);
	imap_fetch_items_free(&items);

	/* RFC 9051 6.4.5: a macro must be used by itself */
	parse_bad("(ALL)", "Fetch macros must be used alone");
	parse_bad("(FLAGS FAST)", "Fetch macros must be used alone");
	parse_bad("ALL FLAGS", "Fetch macros must be used alone");
	parse_bad("FULL (FLAGS)", "Fetch macros must be used alone");
	parse_bad("FLAGS ALL", "Several fetch items need parentheses");
}

static void test_parse_uid_and_seen(void **state)
{
	static const struct {
		const char *text;
		bool seen;
	} cases[] = {
	    {"FLAGS", false},          {"BODY[]", true},
	    {"BODY.PEEK[]", false},    {"BODY[TEXT]", true},
	    {"BINARY[1]", true},       {"BINARY.PEEK[1]", false},
	    {"BINARY.SIZE[1]", false}, {"RFC822", true},
	    {"RFC822.TEXT", true},     {"RFC822.HEADER", false},
	    {"RFC822.SIZE", false},    {"(BODY.PEEK[1] BODY[1])", true},
	    {"BODY", false},           {"body[header]<0.1>", true},
	};
	struct imap_fetch_items items;
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		parse_ok(cases[i].text, false, &items);
		if (items.set_seen != cases[i].seen)
			fail_msg("%s: set_seen %d", cases[i].text, items.set_seen);
		assert_false(items.flags & IMAP_FETCH_UID);
		imap_fetch_items_free(&items);
		/* RFC 9051 6.4.9: UID FETCH answers UID */
		parse_ok(cases[i].text, true, &items);
		assert_true(items.flags & IMAP_FETCH_UID);
		imap_fetch_items_free(&items);
	}
}

/* One section item: its spec, fields, partial and response name. */
static void check_section(const char *text, enum imap_fetch_section_kind kind, bool peek,
                          const char *spec, const char *fields, bool fields_not,
                          const char *partial, const char *name)
{
	struct imap_fetch_items items;
	const struct imap_fetch_section *s;
	struct buf b;

	parse_ok(text, false, &items);
	assert_int_equal(items.section_count, 1);
	s = &items.sections[0];
	assert_int_equal(s->kind, kind);
	assert_int_equal(s->peek, peek);
	assert_string_equal(s->spec, spec);
	buf_init(&b);
	for (size_t i = 0; i < s->field_count; i++)
		buf_printf(&b, "%s%s", i > 0 ? "," : "", s->fields[i]);
	assert_string_equal(b.data ? b.data : "", fields);
	assert_int_equal(s->fields_not, fields_not);
	buf_reset(&b);
	if (s->partial)
		buf_printf(&b, "%u.%u", (unsigned)s->origin, (unsigned)s->count);
	assert_string_equal(b.data ? b.data : "", partial);
	assert_string_equal(s->name, name);
	buf_free(&b);
	imap_fetch_items_free(&items);
}

static void test_parse_sections(void **state)
{
	const enum imap_fetch_section_kind B = IMAP_FETCH_SECTION_BODY,
	                                   X = IMAP_FETCH_SECTION_BINARY,
	                                   S = IMAP_FETCH_SECTION_BINARY_SIZE;
	(void)state;

	check_section("BODY[]", B, false, "", "", false, "", "BODY[]");
	check_section("(BODY.PEEK[])", B, true, "", "", false, "", "BODY[]");
	check_section("body.peek[header]", B, true, "HEADER", "", false, "", "BODY[HEADER]");
	check_section("BODY[Text]", B, false, "TEXT", "", false, "", "BODY[TEXT]");
	check_section("BODY[1.2]", B, false, "1.2", "", false, "", "BODY[1.2]");
	check_section("BODY[1.mime]", B, false, "1.MIME", "", false, "", "BODY[1.MIME]");
	check_section("BODY[3.HEADER]", B, false, "3.HEADER", "", false, "", "BODY[3.HEADER]");
	check_section("BODY[4294967295]", B, false, "4294967295", "", false, "",
	              "BODY[4294967295]");
	/* RFC 9051 7.5.2: the response names the origin only */
	check_section("BODY.PEEK[]<10.50>", B, true, "", "", false, "10.50", "BODY[]<10>");
	check_section("BODY[1]<0.4294967295>", B, false, "1", "", false, "0.4294967295",
	              "BODY[1]<0>");
	check_section("BODY[]<4294967295.1>", B, false, "", "", false, "4294967295.1",
	              "BODY[]<4294967295>");
	check_section("BODY[]<007.5>", B, false, "", "", false, "7.5", "BODY[]<7>");
	/* HEADER.FIELDS: names uppercased, strings echoed as strings (Dovecot) */
	check_section("BODY.PEEK[HEADER.FIELDS (From to)]", B, true, "HEADER.FIELDS", "FROM,TO",
	              false, "", "BODY[HEADER.FIELDS (FROM TO)]");
	check_section("(BODY.PEEK[1.2.header.fields.not (\"x-a\" Subject)]<0.10>)", B, true,
	              "1.2.HEADER.FIELDS.NOT", "X-A,SUBJECT", true, "0.10",
	              "BODY[1.2.HEADER.FIELDS.NOT (\"X-A\" SUBJECT)]<0>");
	check_section("BODY[HEADER.FIELDS ({3}\r\nabc nil)]", B, false, "HEADER.FIELDS", "ABC,NIL",
	              false, "", "BODY[HEADER.FIELDS (\"ABC\" NIL)]");
	check_section("BODY[HEADER.FIELDS (\"a\\\\b\")]", B, false, "HEADER.FIELDS", "A\\B", false,
	              "", "BODY[HEADER.FIELDS (\"A\\\\B\")]");
	/* RFC 3516 */
	check_section("BINARY[1]", X, false, "1", "", false, "", "BINARY[1]");
	check_section("BINARY.PEEK[1.2]<2.10>", X, true, "1.2", "", false, "2.10",
	              "BINARY[1.2]<2>");
	check_section("BINARY[]", X, false, "", "", false, "", "BINARY[]");
	check_section("binary.size[3]", S, true, "3", "", false, "", "BINARY.SIZE[3]");
}

static void test_parse_section_lists(void **state)
{
	struct imap_fetch_items items;
	(void)state;

	parse_ok("(UID BODY.PEEK[1] FLAGS BODY[HEADER.FIELDS (A B)]<0.5> BINARY.SIZE[2] "
	         "BODY[1] BODY.PEEK[HEADER.FIELDS (A B)]<0.9> BODY[]<0.1>)",
	         false, &items);
	assert_int_equal(items.flags, IMAP_FETCH_UID | IMAP_FETCH_FLAGS);
	/* same response name: answered once */
	assert_int_equal(items.section_count, 4);
	assert_string_equal(items.sections[0].name, "BODY[1]");
	assert_string_equal(items.sections[1].name, "BODY[HEADER.FIELDS (A B)]<0>");
	assert_int_equal(items.sections[1].count, 5);
	assert_string_equal(items.sections[2].name, "BINARY.SIZE[2]");
	assert_string_equal(items.sections[3].name, "BODY[]<0>");
	assert_true(items.set_seen);
	imap_fetch_items_free(&items);

	/* one item spanning three arguments without parentheses */
	parse_ok("BODY.PEEK[HEADER.FIELDS (DATE)]<1.2>", false, &items);
	assert_int_equal(items.section_count, 1);
	assert_string_equal(items.sections[0].name, "BODY[HEADER.FIELDS (DATE)]<1>");
	imap_fetch_items_free(&items);
}

static void test_parse_hostile(void **state)
{
	(void)state;

	parse_bad("", NULL);
	parse_bad("()", "Empty fetch item list");
	parse_bad("FOO", "Unknown fetch item");
	parse_bad("(FLAGS FOO)", "Unknown fetch item");
	parse_bad("BODY.PEEK", "Unknown fetch item");
	parse_bad("BINARY", "Unknown fetch item");
	parse_bad("BINARY.SIZE", "Unknown fetch item");
	parse_bad("BODYX[1]", "Unknown fetch item");
	parse_bad("BODY.PEEK.PEEK[1]", "Unknown fetch item");
	parse_bad("[1]", "Unknown fetch item");
	parse_bad("NIL", "Unknown fetch item");
	parse_bad("\"FLAGS\"", "Fetch items must be atoms");
	parse_bad("(FLAGS \"UID\")", "Fetch items must be atoms");
	parse_bad("(FLAGS (UID))", "Unexpected list in fetch items");
	parse_bad("((FLAGS))", "Unexpected list in fetch items");
	parse_bad("(FLAGS) (UID)", "Unexpected arguments after the fetch items");
	parse_bad("FLAGS UID", "Several fetch items need parentheses");
	parse_bad("BODY[", "Missing ']' in section");
	parse_bad("BODY[1", "Missing ']' in section");
	parse_bad("(BODY[1 FLAGS)", "Missing ']' in section");
	parse_bad("BODY[HEADER.FIELDS (A)", "Missing ']' in section");
	parse_bad("BODY[HEADER.FIELDS (A) FLAGS", "Missing ']' in section");
	parse_bad("BODY[GARBAGE]", "Invalid section");
	parse_bad("BODY[1.]", "Invalid section");
	parse_bad("BODY[.1]", "Invalid section");
	parse_bad("BODY[1..2]", "Invalid section");
	parse_bad("BODY[1HEADER]", "Invalid section");
	parse_bad("BODY[MIME]", "Invalid section");
	parse_bad("BODY[HEADER.]", "Invalid section");
	parse_bad("BODY[ HEADER]", NULL);
	parse_bad("BODY[1.2.3.TEXT.MIME]", "Invalid section");
	parse_bad("BODY[[1]]", "Invalid section");
	parse_bad("BODY[0]", "Invalid section part number");
	parse_bad("BODY[1.0]", "Invalid section part number");
	parse_bad("BODY[01]", "Invalid section part number");
	parse_bad("BODY[4294967296]", "Invalid section part number");
	parse_bad("BODY[99999999999999999999999]", "Invalid section part number");
	parse_bad("BODY[HEADER.FIELDS]", "HEADER.FIELDS needs a list of field names");
	parse_bad("BODY[1.HEADER.FIELDS.NOT]", "HEADER.FIELDS needs a list of field names");
	parse_bad("BODY[HEADER.FIELDS ()]", "Empty header field list");
	parse_bad("BODY[HEADER.FIELDS ((A))]", "Invalid header field name");
	parse_bad("BODY[HEADER.FIELDS (\"a:b\")]", "Invalid header field name");
	parse_bad("BODY[HEADER.FIELDS (\"\")]", "Invalid header field name");
	parse_bad("BODY[HEADER.FIELDS (\"a b\")]", "Invalid header field name");
	parse_bad("BODY[HEADER.FIELDS (\"\xc3\xa9\")]", "Invalid header field name");
	parse_bad("BODY[TEXT (A)]", "Field list after a section that takes none");
	parse_bad("BODY[1 (A)]", "Field list after a section that takes none");
	parse_bad("(BODY[TEXT] (A))", "Unexpected list in fetch items");
	parse_bad("(BODY[HEADER.FIELDS (A)] (B))", "Unexpected list in fetch items");
	parse_bad("BODY[HEADER.FIELDS (A) (B)]", "Missing ']' in section");
	parse_bad("BODY[]x", "Unexpected data after ']'");
	parse_bad("BODY[]]", "Unexpected data after ']'");
	parse_bad("BODY[]<1.2.3>", "Invalid partial length");
	parse_bad("BODY[]<1>", "Invalid partial origin");
	parse_bad("BODY[]<1.>", "Invalid partial length");
	parse_bad("BODY[]<.1>", "Invalid partial origin");
	parse_bad("BODY[]<a.b>", "Invalid partial origin");
	parse_bad("BODY[]<1.2", "Invalid partial length");
	parse_bad("BODY[]<1.2>x", "Invalid partial length");
	parse_bad("BODY[]<1.0>", "Invalid partial length");
	parse_bad("BODY[]<1.05>", "Invalid partial length");
	parse_bad("BODY[]<-1.5>", "Invalid partial origin");
	parse_bad("BODY[]<99999999999>", "Invalid partial origin");
	parse_bad("BODY[]<99999999999.1>", "Invalid partial origin");
	parse_bad("BODY[]<4294967296.1>", "Invalid partial origin");
	parse_bad("BODY[]<1.4294967296>", "Invalid partial length");
	parse_bad("BODY[]<1.99999999999999999999999>", "Invalid partial length");
	parse_bad("BINARY[TEXT]", "BINARY takes part numbers only");
	parse_bad("BINARY.PEEK[HEADER]", "BINARY takes part numbers only");
	parse_bad("BINARY[1.MIME]", "BINARY takes part numbers only");
	parse_bad("BINARY.SIZE[1.TEXT]", "BINARY takes part numbers only");
	parse_bad("BINARY[HEADER.FIELDS (A)]", "BINARY takes part numbers only");
	parse_bad("BINARY.SIZE[1]<0.1>", "BINARY.SIZE takes no partial");
	parse_bad("BINARY[0]", "Invalid section part number");
	/* a NUL inside a literal8 field name */
	static const char nul_line[] = "a FETCH 1 BODY[HEADER.FIELDS (~{3}\r\na\0b)]\r\n";
	struct imap_command *cmd = command_parse(nul_line, sizeof(nul_line) - 1);
	struct imap_fetch_items items;
	const char *error;

	assert_non_null(cmd);
	assert_int_equal(imap_fetch_parse(cmd->args + 1, cmd->nargs - 1, false, &items, &error),
	                 -1);
	assert_string_equal(error, "Invalid header field name");
	imap_command_free(&cmd);

	/* unbalanced: the command parser refuses these before FETCH sees them */
	cmd = command_parse("a FETCH 1 (FLAGS\r\n", 18);
	assert_null(cmd);
	cmd = command_parse("a FETCH 1 FLAGS)\r\n", 18);
	assert_null(cmd);
}

static void test_parse_error_never_echoes(void **state)
{
	static const char *const inputs[] = {
	    "XMARKER",         "BODY[XMARKER]",   "BODY[]<XMARKER>",
	    "(FLAGS XMARKER)", "BINARY[XMARKER]", "BODY[HEADER.FIELDS (\"XMARKER:\")]",
	    "XMARKER[1]",      "BODY[1]XMARKER",  "BODY[1.XMARKER]",
	};
	(void)state;

	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		struct imap_fetch_items items;
		const char *error;

		assert_int_equal(fetch_parse_text(inputs[i], false, &items, &error), -1);
		assert_non_null(error);
		assert_null(strstr(error, "XMARKER"));
	}
}

static void test_parse_limits(void **state)
{
	struct imap_fetch_items items;
	const char *error;
	struct buf b;
	(void)state;

	/* 10,000 items: allowed (the parser's line limit is the real bound) */
	buf_init(&b);
	buf_append_byte(&b, '(');
	for (int i = 0; i < IMAP_FETCH_MAX_ITEMS; i++)
		buf_append_str(&b, i == 0 ? "FLAGS" : " FLAGS");
	buf_append_byte(&b, ')');
	parse_ok(b.data, false, &items);
	assert_int_equal(items.flags, IMAP_FETCH_FLAGS);
	imap_fetch_items_free(&items);
	/* one more is too many */
	b.len--;
	buf_append_str(&b, " UID)");
	assert_int_equal(fetch_parse_text(b.data, false, &items, &error), -1);
	assert_string_equal(error, "Too many fetch items");

	/* 10,000 copies of one section are answered once */
	buf_reset(&b);
	buf_append_byte(&b, '(');
	for (int i = 0; i < 10000; i++)
		buf_append_str(&b, i == 0 ? "BODY[]" : " BODY.PEEK[]");
	buf_append_byte(&b, ')');
	parse_ok(b.data, false, &items);
	assert_int_equal(items.section_count, 1);
	imap_fetch_items_free(&items);

	/* distinct sections: at most IMAP_FETCH_MAX_SECTIONS */
	buf_reset(&b);
	buf_append_byte(&b, '(');
	for (int i = 1; i <= IMAP_FETCH_MAX_SECTIONS; i++)
		buf_printf(&b, "%sBODY.PEEK[%d]", i == 1 ? "" : " ", i);
	buf_append_byte(&b, ')');
	parse_ok(b.data, false, &items);
	assert_int_equal(items.section_count, IMAP_FETCH_MAX_SECTIONS);
	imap_fetch_items_free(&items);
	b.len--;
	buf_append_str(&b, " BINARY[1])");
	assert_int_equal(fetch_parse_text(b.data, false, &items, &error), -1);
	assert_string_equal(error, "Too many body sections");

	/* field names: count and length */
	buf_reset(&b);
	buf_append_str(&b, "BODY[HEADER.FIELDS (");
	for (int i = 0; i <= IMAP_FETCH_MAX_FIELDS; i++)
		buf_printf(&b, "%sX%d", i == 0 ? "" : " ", i);
	buf_append_str(&b, ")]");
	assert_int_equal(fetch_parse_text(b.data, false, &items, &error), -1);
	assert_string_equal(error, "Too many header field names");
	buf_reset(&b);
	buf_append_str(&b, "BODY[HEADER.FIELDS (");
	for (int i = 0; i <= IMAP_FETCH_MAX_FIELD_NAME; i++)
		buf_append_byte(&b, 'a');
	buf_append_str(&b, ")]");
	assert_int_equal(fetch_parse_text(b.data, false, &items, &error), -1);
	assert_string_equal(error, "Invalid header field name");

	/* a long section spec */
	buf_reset(&b);
	buf_append_str(&b, "BODY[1");
	for (int i = 0; i < IMAP_FETCH_MAX_SPEC; i++)
		buf_append_str(&b, ".1");
	buf_append_str(&b, "]");
	assert_int_equal(fetch_parse_text(b.data, false, &items, &error), -1);
	assert_string_equal(error, "Section too long");
	buf_free(&b);
}

/* ---- writing, on a small message ---- */

static const char test_msg[] = "From: a@example.org\r\n"
                               "Subject: hi\r\n"
                               "X-Nul: a\0b\r\n"
                               "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
                               "\r\n"
                               "--b\r\n"
                               "Content-Type: text/plain\r\n"
                               "\r\n"
                               "text\0part\r\n"
                               "--b\r\n"
                               "Content-Transfer-Encoding: base64\r\n"
                               "\r\n"
                               "aGVsbG8=\r\n"
                               "--b\r\n"
                               "Content-Transfer-Encoding: quoted-printable\r\n"
                               "\r\n"
                               "a=3Db=\r\n"
                               "c\r\n"
                               "--b\r\n"
                               "Content-Transfer-Encoding: x-uuencode\r\n"
                               "\r\n"
                               "begin\r\n"
                               "--b\r\n"
                               "Content-Transfer-Encoding: base64\r\n"
                               "\r\n"
                               "AAE=\r\n"
                               "--b--\r\n";

struct stored {
	struct mime_part *parts;
	uint32_t count;
};

static void stored_make(const void *data, size_t len, struct stored *st)
{
	struct mime_message *msg = mime_parse(data, len);
	struct buf enc;

	buf_init(&enc);
	mime_parts_encode(msg, &enc);
	assert_int_equal(mime_parts_decode(enc.data, enc.len, &st->parts, &st->count), 0);
	buf_free(&enc);
	mime_message_free(&msg);
}

/* The item written for items_text, or "NO [code]". */
static char *write_one(const char *items_text, const void *msg, size_t len, const struct stored *st,
                       size_t *len_r)
{
	struct imap_fetch_items items;
	struct buf out;
	const char *code;

	parse_ok(items_text, false, &items);
	assert_int_equal(items.section_count, 1);
	buf_init(&out);
	buf_append_str(&out, "pre:");
	if (imap_fetch_write_section(&out, &items.sections[0], msg, len, st->parts, st->count,
	                             &code) < 0) {
		/* nothing written on failure */
		assert_int_equal(out.len, 4);
		buf_printf(&out, "NO [%s]", code);
	}
	imap_fetch_items_free(&items);
	*len_r = out.len - 4;
	char *s = xmalloc(out.len - 4 + 1);

	memcpy(s, out.data + 4, out.len - 4 + 1);
	buf_free(&out);
	return s;
}

static void expect_write(const char *items_text, const struct stored *st, const char *expected,
                         size_t expected_len)
{
	size_t len;
	char *got = write_one(items_text, test_msg, sizeof(test_msg) - 1, st, &len);

	if (len != expected_len || memcmp(got, expected, len) != 0)
		fail_msg("%s: got [%.*s]", items_text, (int)len, got);
	free(got);
}

#define EXPECT(items, lit) expect_write(items, &st, lit, sizeof(lit) - 1)

static void test_write_sections(void **state)
{
	struct stored st;
	(void)state;

	stored_make(test_msg, sizeof(test_msg) - 1, &st);
	/* NUL becomes 0x80 in BODY[] (Dovecot) */
	EXPECT("BODY.PEEK[HEADER.FIELDS (X-NUL subject)]",
	       "BODY[HEADER.FIELDS (X-NUL SUBJECT)] {27}\r\nSubject: hi\r\nX-Nul: a\x80"
	       "b\r\n\r\n");
	EXPECT("BODY[1]", "BODY[1] {9}\r\ntext\x80part");
	EXPECT("BODY[1]<2.5>", "BODY[1]<2> {5}\r\nxt\x80pa");
	EXPECT("BODY[1]<9.5>", "BODY[1]<9> {0}\r\n");
	EXPECT("BODY[1]<4000000000.5>", "BODY[1]<4000000000> {0}\r\n");
	EXPECT("BODY[1.MIME]", "BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n");
	EXPECT("BODY[99]", "BODY[99] {0}\r\n");
	EXPECT("BODY[1.TEXT]", "BODY[1.TEXT] {0}\r\n");
	EXPECT("BODY[2]", "BODY[2] {8}\r\naGVsbG8=");
	/* BINARY: literal8 for NUL and (as Dovecot) for base64 and QP */
	EXPECT("BINARY[1]", "BINARY[1] ~{9}\r\ntext\0part");
	EXPECT("BINARY[1]<0.4>", "BINARY[1]<0> ~{4}\r\ntext");
	EXPECT("BINARY[2]", "BINARY[2] ~{5}\r\nhello");
	EXPECT("BINARY[2]<1.2>", "BINARY[2]<1> ~{2}\r\nel");
	EXPECT("BINARY[2]<5.2>", "BINARY[2]<5> {0}\r\n");
	EXPECT("BINARY.SIZE[2]", "BINARY.SIZE[2] 5");
	EXPECT("BINARY[3]", "BINARY[3] ~{4}\r\na=bc");
	EXPECT("BINARY.SIZE[3]", "BINARY.SIZE[3] 4");
	EXPECT("BINARY[5]", "BINARY[5] ~{2}\r\n\0\x01");
	EXPECT("BINARY[99]", "BINARY[99] {0}\r\n");
	EXPECT("BINARY.SIZE[99]", "BINARY.SIZE[99] 0");
	/* RFC 9051 7.5.2: unknown CTE is NO [UNKNOWN-CTE], for the size too */
	EXPECT("BINARY[4]", "NO [UNKNOWN-CTE]");
	EXPECT("BINARY.PEEK[4]<0.1>", "NO [UNKNOWN-CTE]");
	EXPECT("BINARY.SIZE[4]", "NO [UNKNOWN-CTE]");
	/* the undecoded view is always there */
	EXPECT("BODY[4]", "BODY[4] {5}\r\nbegin");
	free(st.parts);
}

static void test_write_rfc822(void **state)
{
	struct stored st;
	struct buf out;
	const char *code;
	const char *hdr_end =
	    (const char *)memmem(test_msg, sizeof(test_msg) - 1, "\r\n\r\n", 4) + 4;
	size_t msg_len = sizeof(test_msg) - 1, hdr_len = (size_t)(hdr_end - test_msg);
	(void)state;

	stored_make(test_msg, msg_len, &st);
	buf_init(&out);
	assert_int_equal(imap_fetch_write_rfc822(&out, IMAP_FETCH_RFC822_HEADER,
	                                         (const unsigned char *)test_msg, msg_len, st.parts,
	                                         st.count, &code),
	                 0);
	char *prefix = xasprintf("RFC822.HEADER {%zu}\r\n", hdr_len);

	assert_int_equal(out.len, strlen(prefix) + hdr_len);
	assert_memory_equal(out.data, prefix, strlen(prefix));
	assert_non_null(memchr(out.data, 0x80, out.len));
	assert_null(memchr(out.data, '\0', out.len));
	free(prefix);

	buf_reset(&out);
	assert_int_equal(imap_fetch_write_rfc822(&out, IMAP_FETCH_RFC822,
	                                         (const unsigned char *)test_msg, msg_len, st.parts,
	                                         st.count, &code),
	                 0);
	prefix = xasprintf("RFC822 {%zu}\r\n", msg_len);
	assert_int_equal(out.len, strlen(prefix) + msg_len);
	assert_memory_equal(out.data, prefix, strlen(prefix));
	free(prefix);

	buf_reset(&out);
	assert_int_equal(imap_fetch_write_rfc822(&out, IMAP_FETCH_RFC822_TEXT,
	                                         (const unsigned char *)test_msg, msg_len, st.parts,
	                                         st.count, &code),
	                 0);
	prefix = xasprintf("RFC822.TEXT {%zu}\r\n--b\r\n", msg_len - hdr_len);
	assert_memory_equal(out.data, prefix, strlen(prefix));
	assert_int_equal(out.len, strlen(prefix) - 5 + msg_len - hdr_len);
	free(prefix);

	/* a part table that does not fit the message: SERVERBUG, nothing written */
	buf_reset(&out);
	assert_int_equal(imap_fetch_write_rfc822(&out, IMAP_FETCH_RFC822,
	                                         (const unsigned char *)test_msg, 10, st.parts,
	                                         st.count, &code),
	                 -1);
	assert_string_equal(code, "SERVERBUG");
	assert_int_equal(out.len, 0);

	/* an empty part table: every section is empty */
	buf_reset(&out);
	assert_int_equal(imap_fetch_write_rfc822(&out, IMAP_FETCH_RFC822_TEXT,
	                                         (const unsigned char *)"", 0, NULL, 0, &code),
	                 0);
	assert_string_equal(out.data, "RFC822.TEXT {0}\r\n");
	buf_free(&out);
	free(st.parts);
}

static void test_write_corrupt_table(void **state)
{
	struct stored st;
	struct imap_fetch_items items;
	struct buf out;
	const char *code;
	(void)state;

	stored_make(test_msg, sizeof(test_msg) - 1, &st);
	parse_ok("(BODY[2] BINARY[2] BINARY.SIZE[2])", false, &items);
	buf_init(&out);
	for (size_t i = 0; i < items.section_count; i++) {
		/* the message is shorter than the table says */
		assert_int_equal(imap_fetch_write_section(&out, &items.sections[i],
		                                          (const unsigned char *)test_msg, 100,
		                                          st.parts, st.count, &code),
		                 -1);
		assert_string_equal(code, "SERVERBUG");
		assert_int_equal(out.len, 0);
	}
	buf_free(&out);
	imap_fetch_items_free(&items);
	free(st.parts);
}

static void test_write_attrs(void **state)
{
	struct buf b;
	struct imap_fetch_attrs a = {
	    .uid = 42,
	    .flags = STORE_FLAG_SEEN | STORE_FLAG_DELETED | STORE_FLAG_ANSWERED,
	    .keywords = "$Junk work",
	    .recent = true,
	    .internaldate = 1704067200, /* 2024-01-01 00:00:00 UTC */
	    .internaldate_tz = 0,
	    .size = 478,
	    .modseq = 7,
	    .envelope = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)",
	    .body = "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0)",
	    .bodystructure = "(\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0 NIL NIL NIL NIL)",
	};
	(void)state;

	buf_init(&b);
	imap_fetch_write_flag_list(&b, 0, NULL, false);
	assert_string_equal(b.data, "()");
	buf_reset(&b);
	imap_fetch_write_flag_list(&b, STORE_FLAGS_ALL, "", true);
	assert_string_equal(b.data, "(\\Answered \\Flagged \\Deleted \\Seen \\Draft \\Recent)");
	buf_reset(&b);
	imap_fetch_write_flag_list(&b, 0, "k", false);
	assert_string_equal(b.data, "(k)");

	buf_reset(&b);
	imap_fetch_write_date_time(&b, 1704067200, 0);
	assert_string_equal(b.data, "\"01-Jan-2024 00:00:00 +0000\"");
	buf_reset(&b);
	imap_fetch_write_date_time(&b, 1704067200, -330);
	assert_string_equal(b.data, "\"31-Dec-2023 18:30:00 -0530\"");
	buf_reset(&b);
	imap_fetch_write_date_time(&b, 1720000000, 120);
	assert_string_equal(b.data, "\"03-Jul-2024 11:46:40 +0200\"");
	buf_reset(&b);
	imap_fetch_write_date_time(&b, 0, 24 * 60); /* an impossible zone: UTC */
	assert_string_equal(b.data, "\"01-Jan-1970 00:00:00 +0000\"");
	buf_reset(&b);
	imap_fetch_write_date_time(&b, INT64_MAX / 2, 0); /* past year 9999: the epoch */
	assert_string_equal(b.data, "\"01-Jan-1970 00:00:00 +0000\"");

	buf_reset(&b);
	assert_int_equal(imap_fetch_write_attrs(&b, 0, &a), 0);
	assert_int_equal(b.len, 0);
	assert_int_equal(imap_fetch_write_attrs(&b, IMAP_FETCH_RFC822_SIZE, &a), 1);
	assert_string_equal(b.data, "RFC822.SIZE 478");
	buf_reset(&b);
	assert_int_equal(imap_fetch_write_attrs(&b, ~0u, &a), 8);
	assert_string_equal(b.data,
	                    "UID 42 FLAGS (\\Answered \\Deleted \\Seen \\Recent $Junk work) "
	                    "INTERNALDATE \"01-Jan-2024 00:00:00 +0000\" RFC822.SIZE 478 "
	                    "ENVELOPE (NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL) "
	                    "BODY (\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0) "
	                    "BODYSTRUCTURE (\"text\" \"plain\" NIL NIL NIL \"7bit\" 0 0 NIL NIL "
	                    "NIL NIL) MODSEQ (7)");
	buf_free(&b);
}

/* ---- the corpus ---- */

#define R_INVALID                                                                                  \
	"invalid base64/quoted-printable: Dovecot answers NO [PARSE] or BYE and disconnects; we "  \
	"decode leniently (bad bytes skipped) and answer"
#define R_SIZE_CTE                                                                                 \
	"Dovecot's BINARY.SIZE says UNKNOWN-CTE for a part whose BINARY.PEEK it answers (an "      \
	"unknown CTE elsewhere in the message); we give the size of what BINARY sends"

/* (message, a substring of the command, why); the same list as
 * test_mime_corpus.c, whose reasons apply unchanged to the response */
static const struct allowed {
	int msg;
	const char *cmd;
	const char *reason;
} allowed[] = {
    {16, "BINARY", R_INVALID},
    {40, "BINARY", R_INVALID},
    {55, "BINARY", R_INVALID},
    {77, "BINARY", R_INVALID},
    {78, "BINARY", R_INVALID},
    {81, "BINARY", R_INVALID},
    {82, "BINARY", R_INVALID},
    {83, "BINARY", R_INVALID},
    {84, "BINARY", R_INVALID},
    {88, "BINARY", R_INVALID},
    {115, "BINARY", R_INVALID},
    {129, "BINARY", R_INVALID},
    {146, "BINARY", R_INVALID},
    {214, "BINARY", R_INVALID},
    {215, "BINARY", R_INVALID},
    {60, "BINARY.SIZE", R_SIZE_CTE},
    {156, "BINARY.SIZE", R_SIZE_CTE},
    {216, "BINARY.SIZE", R_SIZE_CTE},
    {212, "BINARY.SIZE[1]",
     "Dovecot's BINARY.SIZE[1] (122) disagrees with the 124 bytes its BINARY.PEEK[1] sends; "
     "we give the size of what BINARY sends"},
    {216, "BINARY.PEEK[6]",
     "two CTE headers: Dovecot's BODYSTRUCTURE uses the first (quoted-printable), its BINARY "
     "the last (base64); we use the first for both, consistently"},
    {162, "2.HEADER.FIELDS",
     "Dovecot answers {0} for HEADER.FIELDS of this colon-less encapsulated header (but CRLF "
     "for the same shape in 161); we always end the subset with the blank line (RFC 3501 "
     "6.4.5)"},
};

struct corpus_stats {
	unsigned compared, identical, allowed, failed;
	bool allowed_used[ARRAY_SIZE(allowed)];
};

static void corpus_report(struct corpus_stats *cs, int num, const char *cmd, bool same,
                          const void *ours, size_t ours_len, const void *theirs, size_t theirs_len)
{
	cs->compared++;
	if (same) {
		cs->identical++;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
		if (allowed[i].msg == num && strstr(cmd, allowed[i].cmd) != NULL) {
			cs->allowed++;
			cs->allowed_used[i] = true;
			return;
		}
	}
	cs->failed++;
	if (cs->failed <= 50) {
		printf("DIFF %03d %s\n  ours:   %.*s\n  theirs: %.*s\n", num, cmd,
		       (int)(ours_len > 300 ? 300 : ours_len), (const char *)ours,
		       (int)(theirs_len > 300 ? 300 : theirs_len), (const char *)theirs);
	}
}

/* One recorded command: parse its items, write our answer, compare. */
static void corpus_command(struct corpus_stats *cs, int num, const struct buf *msg,
                           const struct stored *st, const char *cmd, const unsigned char *resp,
                           size_t resp_len, const char *tagged)
{
	char *line = xasprintf("a %s\r\n", cmd);
	struct imap_command *c = command_parse(line, strlen(line));
	struct imap_fetch_items items;
	const char *error, *code = NULL;
	struct buf ours;
	int ret;

	free(line);
	assert_non_null(c);
	assert_true(c->nargs == 2);
	if (imap_fetch_parse(c->args + 1, c->nargs - 1, false, &items, &error) < 0)
		fail_msg("%03d %s: %s", num, cmd, error);
	imap_command_free(&c);
	assert_int_equal(items.section_count, 1);
	assert_int_equal(items.flags, 0);
	assert_false(items.set_seen);

	buf_init(&ours);
	buf_printf(&ours, "* %d FETCH (", num);
	ret = imap_fetch_write_section(&ours, &items.sections[0],
	                               (const unsigned char *)(msg->data ? msg->data : ""),
	                               msg->len, st->parts, st->count, &code);
	buf_append_str(&ours, ")\r\n");
	imap_fetch_items_free(&items);

	bool theirs_ok = strncmp(tagged, "OK", 2) == 0;

	if (ret < 0 || !theirs_ok) {
		/* a failure: the status must agree (Dovecot's "* N FETCH (UID N)"
		 * before a failed FETCH is the command's business) */
		bool same = ret < 0 && !theirs_ok && strcmp(code, "UNKNOWN-CTE") == 0 &&
		            strstr(tagged, "[UNKNOWN-CTE]") != NULL;
		const char *mine = ret < 0 ? code : "OK";

		corpus_report(cs, num, cmd, same, mine, strlen(mine), tagged, strlen(tagged));
	} else {
		bool same = ours.len == resp_len && memcmp(ours.data, resp, resp_len) == 0;

		corpus_report(cs, num, cmd, same, ours.data, ours.len, resp, resp_len);
	}
	buf_free(&ours);
}

static void corpus_message(struct corpus_stats *cs, int num)
{
	char path[512];
	size_t raw_len, exp_len;
	unsigned char *raw, *exp;
	struct buf norm;
	struct mime_crlf crlf;
	struct stored st;

	snprintf(path, sizeof(path), "%s/%03d.eml", CORPUS_DIR, num);
	raw = test_read_file(path, &raw_len);
	if (raw == NULL)
		fail_msg("cannot read %s", path);
	snprintf(path, sizeof(path), "%s/%03d.expected", CORPUS_DIR, num);
	exp = test_read_file(path, &exp_len);
	if (exp == NULL)
		fail_msg("cannot read %s", path);

	/* the stored form: CRLF, and the part table as store/ keeps it */
	buf_init(&norm);
	mime_crlf_init(&crlf);
	mime_crlf_normalize(&crlf, raw, raw_len, &norm);
	stored_make(norm.data ? norm.data : "", norm.len, &st);

	/* blocks: "C: cmd\n" "S-BYTES: n\n" bytes "S-TAGGED: ...\n" "\n" */
	const unsigned char *p = exp, *end = exp + exp_len;

	while (p < end) {
		const unsigned char *nl = memchr(p, '\n', (size_t)(end - p));
		char cmd[1024], tagged[512];
		unsigned long n;

		assert_non_null(nl);
		assert_true(strncmp((const char *)p, "C: ", 3) == 0);
		snprintf(cmd, sizeof(cmd), "%.*s", (int)(nl - p - 3), p + 3);
		p = nl + 1;
		assert_int_equal(sscanf((const char *)p, "S-BYTES: %lu", &n), 1);
		p = (const unsigned char *)strchr((const char *)p, '\n') + 1;
		assert_true(n <= (size_t)(end - p));
		const unsigned char *resp = p;

		p += n;
		nl = memchr(p, '\n', (size_t)(end - p));
		assert_non_null(nl);
		assert_true(strncmp((const char *)p, "S-TAGGED: ", 10) == 0);
		snprintf(tagged, sizeof(tagged), "%.*s", (int)(nl - p - 10), p + 10);
		p = nl + 2;

		/* the section commands; the first (RFC822.SIZE ENVELOPE ...)
		 * is test_mime_corpus.c's */
		if (strstr(cmd, "BODY.PEEK[") == NULL && strstr(cmd, "BINARY") == NULL)
			continue;
		corpus_command(cs, num, &norm, &st, cmd, resp, (size_t)n, tagged);
	}
	free(st.parts);
	buf_free(&norm);
	free(raw);
	free(exp);
}

static void test_corpus(void **state)
{
	struct corpus_stats cs;
	(void)state;

	memset(&cs, 0, sizeof(cs));
	for (int i = 1; i <= CORPUS_COUNT; i++)
		corpus_message(&cs, i);
	printf("fetch corpus: %u compared, %u identical, %u allowed, %u failed\n", cs.compared,
	       cs.identical, cs.allowed, cs.failed);
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++) {
		if (!cs.allowed_used[i])
			printf("allow-list entry not needed: %03d %s\n", allowed[i].msg,
			       allowed[i].cmd);
		assert_true(allowed[i].reason != NULL && allowed[i].reason[0] != '\0');
	}
	assert_true(cs.compared >= 4000);
	assert_int_equal(cs.failed, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_simple_items),
	    cmocka_unit_test(test_parse_macros),
	    cmocka_unit_test(test_parse_uid_and_seen),
	    cmocka_unit_test(test_parse_sections),
	    cmocka_unit_test(test_parse_section_lists),
	    cmocka_unit_test(test_parse_hostile),
	    cmocka_unit_test(test_parse_error_never_echoes),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_write_sections),
	    cmocka_unit_test(test_write_rfc822),
	    cmocka_unit_test(test_write_corrupt_table),
	    cmocka_unit_test(test_write_attrs),
	    cmocka_unit_test(test_corpus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
