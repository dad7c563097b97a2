/*
 * Unit tests for imap/parser.c.
 *
 * Most tests feed an input and compare a transcript of the results with the
 * expected one. Every input is fed whole, one byte at a time, and split at
 * every byte boundary (at many for big inputs): the transcripts must be
 * identical. The transcript driver acts like the session: it calls
 * imap_parser_expect_line() after AUTHENTICATE and IDLE.
 *
 * Transcript lines:
 *   C <tag> <name> <args...>      a command
 *   +                             IMAP_PARSE_CONTINUE
 *   E <tag|*> [<code>] <text>     IMAP_PARSE_ERROR
 *   F [<code>] <text>             IMAP_PARSE_FATAL (the driver stops)
 *   L <line>                      IMAP_PARSE_LINE
 * Arguments: a:<atom>  nil:<as sent>  q"<quoted>"  {<len>[+][~][s]}<bytes>
 * (+ non-synchronizing, ~ literal8, s spooled)  (<list>). Bytes outside
 * 0x21..0x7e and '"' '\' are written \xNN.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"
#include "imap/parser.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Small limits so that the limits are easy to reach. */
static const struct imap_parser_limits test_limits = {
    .max_line = 1000,
    .max_literal = 100,
    .max_nonsync = 100,
    .max_depth = 5,
    .spool_threshold = 1000,
    .spool_dir = "/tmp",
};

/* What the server uses before login. */
static const struct imap_parser_limits default_limits = {
    .max_line = ROOST_DEFAULT_MAX_LINE,
    .max_literal = ROOST_DEFAULT_MAX_LITERAL_PREAUTH,
    .max_nonsync = ROOST_DEFAULT_MAX_LITERAL_PREAUTH,
    .max_depth = ROOST_DEFAULT_MAX_DEPTH,
    .spool_threshold = ROOST_DEFAULT_SPOOL_THRESHOLD,
    .spool_dir = "/tmp",
};

/* Every error text the parser may produce: a fixed set, so none can
 * carry the client's bytes. */
static const char *const known_texts[] = {
    "Command line too long",
    "Invalid tag",
    "Missing or invalid command name",
    "Invalid character in command",
    "Missing space between arguments",
    "Unexpected space",
    "Unexpected ')'",
    "Missing ')'",
    "Lists nested too deeply",
    "Unterminated quoted string",
    "NUL byte in quoted string",
    "Invalid escape in quoted string",
    "Invalid literal length",
    "Literal announcement not at end of line",
    "NUL byte in literal",
    "Literal too big",
    "Too many large literals in one command",
    "Cannot spool literal",
    "CR not followed by LF",
    "Line too long",
};

static void check_error_text(const char *code, const char *text)
{
	bool known = false;

	assert_non_null(text);
	for (size_t i = 0; i < ARRAY_SIZE(known_texts); i++)
		known = known || strcmp(text, known_texts[i]) == 0;
	if (!known)
		fail_msg("unknown error text \"%s\"", text);
	if (code != NULL) {
		assert_true(strcmp(code, "TOOBIG") == 0 || strcmp(code, "SERVERBUG") == 0 ||
		            strcmp(code, "LIMIT") == 0);
	}
}

static void put_bytes(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\')
			buf_printf(out, "\\x%02x", c);
		else
			buf_append_byte(out, (char)c);
	}
}

static void put_args(struct buf *out, const struct imap_arg *args, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		const struct imap_arg *a = &args[i];

		if (i > 0)
			buf_append_byte(out, ' ');
		switch (a->type) {
		case IMAP_ARG_ATOM:
			assert_int_equal(a->fd, -1);
			assert_int_equal(strlen(a->str), a->len);
			buf_append_str(out, "a:");
			put_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_NIL:
			assert_int_equal(a->len, 3);
			buf_append_str(out, "nil:");
			put_bytes(out, a->str, a->len);
			break;
		case IMAP_ARG_QUOTED:
			assert_int_equal(strlen(a->str), a->len);
			buf_append_str(out, "q\"");
			put_bytes(out, a->str, a->len);
			buf_append_byte(out, '"');
			break;
		case IMAP_ARG_LITERAL:
			buf_printf(out, "{%llu%s%s%s}", (unsigned long long)a->len,
			           a->nonsync ? "+" : "", a->literal8 ? "~" : "",
			           a->fd >= 0 ? "s" : "");
			if (a->fd >= 0) {
				struct stat st;
				char *data = xmalloc(a->len + 1);

				assert_null(a->str);
				assert_int_equal(fstat(a->fd, &st), 0);
				assert_int_equal(st.st_nlink, 0); /* unlinked */
				assert_int_equal(st.st_size, a->len);
				assert_int_equal(pread(a->fd, data, a->len, 0), (ssize_t)a->len);
				put_bytes(out, data, a->len);
				free(data);
			} else {
				assert_non_null(a->str);
				assert_int_equal(a->str[a->len], '\0');
				put_bytes(out, a->str, a->len);
			}
			break;
		case IMAP_ARG_LIST:
			buf_append_byte(out, '(');
			put_args(out, a->list, a->count);
			buf_append_byte(out, ')');
			break;
		}
	}
}

static void put_command(struct buf *out, const struct imap_command *cmd)
{
	buf_printf(out, "C %s %s", cmd->tag, cmd->name);
	if (cmd->nargs > 0) {
		buf_append_byte(out, ' ');
		put_args(out, cmd->args, cmd->nargs);
	}
	buf_append_byte(out, '\n');
}

/* Record one result; false when the connection would be closed. */
static bool put_result(struct buf *out, struct imap_parser *p, enum imap_parse_result r)
{
	struct imap_command *cmd;
	const char *tag, *code, *text, *line;
	size_t len;

	switch (r) {
	case IMAP_PARSE_NEED_MORE:
		fail_msg("NEED_MORE is not a result");
		break;
	case IMAP_PARSE_COMMAND:
		cmd = imap_parser_take_command(p);
		assert_non_null(cmd);
		assert_null(imap_parser_take_command(p));
		put_command(out, cmd);
		if (str_case_eq(cmd->name, "AUTHENTICATE") || str_case_eq(cmd->name, "IDLE"))
			imap_parser_expect_line(p);
		imap_command_free(&cmd);
		assert_null(cmd);
		return true;
	case IMAP_PARSE_CONTINUE:
		buf_append_str(out, "+\n");
		return true;
	case IMAP_PARSE_LINE:
		line = imap_parser_line(p, &len);
		buf_append_str(out, "L ");
		put_bytes(out, line, len);
		buf_append_byte(out, '\n');
		return true;
	case IMAP_PARSE_ERROR:
	case IMAP_PARSE_FATAL:
		tag = imap_parser_error_tag(p);
		code = imap_parser_error_code(p);
		text = imap_parser_error_text(p);
		check_error_text(code, text);
		if (r == IMAP_PARSE_ERROR)
			buf_printf(out, "E %s ", tag != NULL ? tag : "*");
		else
			buf_append_str(out, "F ");
		if (code != NULL)
			buf_printf(out, "[%s] ", code);
		buf_printf(out, "%s\n", text);
		return r == IMAP_PARSE_ERROR;
	}
	return false;
}

/*
 * Feed input in chunks: the first of `first` bytes (0: none), the rest in
 * chunks of `chunk` bytes (0: all at once). Returns the transcript.
 */
static char *run_with(const struct imap_parser_limits *lim, const char *in, size_t len,
                      size_t first, size_t chunk)
{
	struct imap_parser *p = imap_parser_new(lim);
	struct buf out;
	size_t pos = 0;
	bool open = true;

	buf_init(&out);
	buf_append_str(&out, "");
	while (pos < len && open) {
		size_t n = len - pos;
		if (pos == 0 && first > 0)
			n = first < n ? first : n;
		else if (chunk > 0 && chunk < n)
			n = chunk;
		/* feed this chunk until it is used up */
		while (n > 0 && open) {
			size_t used = 12345;
			enum imap_parse_result r = imap_parser_feed(p, in + pos, n, &used);

			assert_true(used <= n);
			pos += used;
			n -= used;
			if (r == IMAP_PARSE_NEED_MORE) {
				assert_int_equal(n, 0);
				break;
			}
			assert_true(used > 0);
			open = put_result(&out, p, r);
		}
	}
	if (!open) {
		/* FATAL is sticky */
		size_t used = 1;
		assert_int_equal(imap_parser_feed(p, "x", 1, &used), IMAP_PARSE_FATAL);
		assert_int_equal(used, 0);
	}
	imap_parser_free(&p);
	assert_null(p);
	return out.data;
}

/* Feed whole, a byte at a time and split (at every boundary for small
 * inputs, at many for big ones); all must give the expected transcript. */
static void check_input(const struct imap_parser_limits *lim, const char *in, size_t len,
                        const char *expect)
{
	char *got = run_with(lim, in, len, 0, 0);
	assert_string_equal(got, expect);
	free(got);

	got = run_with(lim, in, len, 0, 1);
	assert_string_equal(got, expect);
	free(got);

	if (len <= 4096) {
		for (size_t k = 1; k < len; k++) {
			got = run_with(lim, in, len, k, 0);
			if (strcmp(got, expect) != 0)
				fail_msg("split at %zu: got \"%s\", expected \"%s\"", k, got,
				         expect);
			free(got);
		}
		return;
	}
	static const size_t chunks[] = {2, 3, 7, 100, 1023, 4096, 65537};
	for (size_t i = 0; i < ARRAY_SIZE(chunks); i++) {
		got = run_with(lim, in, len, 0, chunks[i]);
		assert_string_equal(got, expect);
		free(got);
	}
	for (size_t k = 1; k < len; k += 1 + len / 97) {
		got = run_with(lim, in, len, k, 0);
		assert_string_equal(got, expect);
		free(got);
	}
}

#define CHECK(lim, in, expect) check_input(lim, in, sizeof(in) - 1, expect)
#define CHECK_T(in, expect) CHECK(&test_limits, in, expect)

/* ---- token kinds ---- */

static void test_simple_commands(void **state)
{
	CHECK_T("a1 NOOP\r\n", "C a1 NOOP\n");
	CHECK_T("a1 noop\n", "C a1 noop\n");
	CHECK_T("a NOOP \r\n", "C a NOOP\n"); /* trailing SP tolerated */
	CHECK_T("a]b[ NOOP\r\n", "C a]b[ NOOP\n");
	CHECK_T("x.y-z_1!#&'=~`|^$;:<>?,/@ NOOP\r\n", "C x.y-z_1!#&'=~`|^$;:<>?,/@ NOOP\n");
	CHECK_T("A001 UID FETCH 1:*,5 (FLAGS)\r\n", "C A001 UID a:FETCH a:1:*,5 (a:FLAGS)\n");
}

static void test_empty_lines(void **state)
{
	CHECK_T("\r\n", "");
	CHECK_T("\n\r\n\n", "");
	CHECK_T("\r\n\n\r\na NOOP\r\n\r\n", "C a NOOP\n");
}

static void test_atoms(void **state)
{
	CHECK_T("a FETCH 1 (FLAGS BODY.PEEK[] BODY[1.2]<0.100>)\r\n",
	        "C a FETCH a:1 (a:FLAGS a:BODY.PEEK[] a:BODY[1.2]<0.100>)\n");
	CHECK_T("a FETCH 1 BODY[HEADER.FIELDS (A B)]\r\n",
	        "C a FETCH a:1 a:BODY[HEADER.FIELDS (a:A a:B) a:]\n");
	CHECK_T("a FETCH 1 BODY.PEEK[HEADER.FIELDS (A)]<0.10>\r\n",
	        "C a FETCH a:1 a:BODY.PEEK[HEADER.FIELDS (a:A) a:]<0.10>\n");
	CHECK_T("a X ] ]]\r\n", "C a X a:] a:]]\n");
	CHECK_T("a LIST \"\" *\r\n", "C a LIST q\"\" a:*\n");
	CHECK_T("a LIST \"\" INBOX.%\r\n", "C a LIST q\"\" a:INBOX.%\n");
	CHECK_T("a STORE 1 +FLAGS (\\Seen \\Deleted $Junk)\r\n",
	        "C a STORE a:1 a:+FLAGS (a:\\x5cSeen a:\\x5cDeleted a:$Junk)\n");
	CHECK_T("a X ~ ~a a~{\r\n", "E a Invalid character in command\n");
	CHECK_T("a X ~ ~a a~\r\n", "C a X a:~ a:~a a:a~\n");
}

static void test_nil(void **state)
{
	CHECK_T("a X NIL nil Nil NILS \"NIL\" (NIL)\r\n",
	        "C a X nil:NIL nil:nil nil:Nil a:NILS q\"NIL\" (nil:NIL)\n");
}

static void test_quoted(void **state)
{
	CHECK_T("a LOGIN \"us\\\"er\" \"p\\\\w d\"\r\n",
	        "C a LOGIN q\"us\\x22er\" q\"p\\x5cw\\x20d\"\n");
	CHECK_T("a X \"\" \"()\" \"{5}\"\r\n", "C a X q\"\" q\"()\" q\"{5}\"\n");
	CHECK_T("a X \"caf\xc3\xa9\"\r\n", "C a X q\"caf\\xc3\\xa9\"\n");
	CHECK_T("a X \"tab\there\"\r\n", "C a X q\"tab\\x09here\"\n");
	CHECK_T("a X (\"a\" \"b\")\r\n", "C a X (q\"a\" q\"b\")\n");
}

static void test_literals(void **state)
{
	CHECK_T("a LOGIN {4}\r\nuser {4}\r\npass\r\n", "+\n+\nC a LOGIN {4}user {4}pass\n");
	CHECK_T("a LOGIN {4+}\r\nuser {4+}\r\npass\r\n", "C a LOGIN {4+}user {4+}pass\n");
	CHECK_T("a LOGIN {4}\nuser {4+}\npass\n", "+\nC a LOGIN {4}user {4+}pass\n");
	/* literal bytes are not parsed: CRLF, braces, quotes */
	CHECK_T("a X {11}\r\n\r\n{5}\r\n\"(\\ \r\n",
	        "+\nC a X {11}\\x0d\\x0a{5}\\x0d\\x0a\\x22(\\x5c\\x20\n");
	/* inside lists, and followed directly by ')' */
	CHECK_T("a X (a {2}\r\nbc d)\r\n", "+\nC a X (a:a {2}bc a:d)\n");
	CHECK_T("a X ({1}\r\nx)\r\n", "+\nC a X ({1}x)\n");
	CHECK_T("a X (({1+}\r\nx) {1+}\r\ny)\r\n", "C a X (({1+}x) {1+}y)\n");
	/* empty literals: still one CONTINUE for {0} */
	CHECK_T("a X {0}\r\n\r\n", "+\nC a X {0}\n");
	CHECK_T("a X {0+}\r\n {0}\r\n\r\n", "+\nC a X {0+} {0}\n");
	CHECK_T("a X {005}\r\nabcde\r\n", "+\nC a X {5}abcde\n");
	/* 8-bit bytes in literals */
	CHECK_T("a X {2}\r\n\xff\x80\r\n", "+\nC a X {2}\\xff\\x80\n");
	/* literal up to max_literal */
	char in[200];
	memcpy(in, "a X {100}\r\n", 11);
	memset(in + 11, 'z', 100);
	memcpy(in + 111, "\r\n", 2);
	char expect[300];
	snprintf(expect, sizeof(expect), "+\nC a X {100}%.*s\n", 100,
	         "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	         "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
	check_input(&test_limits, in, 113, expect);
}

static void test_literal8(void **state)
{
	/* literal8 may hold NUL (RFC 3516) */
	CHECK_T("a APPEND box ~{3}\r\na\0b\r\n", "+\nC a APPEND a:box {3~}a\\x00b\n");
	CHECK_T("a APPEND box ~{3+}\r\na\0b\r\n", "C a APPEND a:box {3+~}a\\x00b\n");
	CHECK_T("a X (~{1}\r\nq)\r\n", "+\nC a X ({1~}q)\n");
	CHECK_T("a X ~{0}\r\n\r\n", "+\nC a X {0~}\n");
}

static void test_lists(void **state)
{
	CHECK_T("a X ()\r\n", "C a X ()\n");
	CHECK_T("a X (() ())\r\n", "C a X (() ())\n");
	CHECK_T("a X (a) b (c (d e) f)\r\n", "C a X (a:a) a:b (a:c (a:d a:e) a:f)\n");
	/* max_depth 5 */
	CHECK_T("a X (((((a)))))\r\n", "C a X (((((a:a)))))\n");
	CHECK_T("a X ((((((a))))))\r\nb NOOP\r\n", "E a Lists nested too deeply\nC b NOOP\n");
	CHECK_T("a X (a)(b)\r\n", "E a Missing space between arguments\n");
}

static void test_pipelined(void **state)
{
	CHECK_T("a NOOP\r\nb NOOP\r\nc CAPABILITY\r\n", "C a NOOP\nC b NOOP\nC c CAPABILITY\n");
	CHECK_T("a LOGIN {1}\r\nx y\r\nb SELECT {5+}\r\nINBOX\r\nc NOOP\n",
	        "+\nC a LOGIN {1}x a:y\nC b SELECT {5+}INBOX\nC c NOOP\n");
}

/* Results stop feed: the caller gets to act on each before the rest. */
static void test_feed_stops_after_result(void **state)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	const char in[] = "a NOOP\r\nb LOGIN {2}\r\nxy\r\nSTARTTLS-garbage";
	size_t used;
	struct imap_command *cmd;

	assert_int_equal(imap_parser_feed(p, in, sizeof(in) - 1, &used), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 8);
	cmd = imap_parser_take_command(p);
	assert_string_equal(cmd->tag, "a");
	assert_string_equal(cmd->name, "NOOP");
	assert_int_equal(cmd->nargs, 0);
	imap_command_free(&cmd);

	assert_int_equal(imap_parser_feed(p, in + 8, sizeof(in) - 9, &used), IMAP_PARSE_CONTINUE);
	assert_int_equal(used, 13);
	assert_int_equal(imap_parser_feed(p, in + 21, sizeof(in) - 22, &used), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 4);
	cmd = imap_parser_take_command(p);
	assert_int_equal(cmd->nargs, 1);
	assert_int_equal(cmd->args[0].type, IMAP_ARG_LITERAL);
	assert_int_equal(cmd->args[0].len, 2);
	assert_memory_equal(cmd->args[0].str, "xy", 3);
	assert_int_equal(cmd->args[0].fd, -1);
	assert_false(cmd->args[0].nonsync);
	imap_command_free(&cmd);

	/* the caller throws the rest away (STARTTLS) and resets */
	assert_int_equal(imap_parser_feed(p, in + 25, 5, &used), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, 5);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "c NOOP\r\n", 8, &used), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 8);
	cmd = imap_parser_take_command(p);
	assert_string_equal(cmd->tag, "c");
	imap_command_free(&cmd);
	assert_int_equal(imap_parser_feed(p, "", 0, &used), IMAP_PARSE_NEED_MORE);
	assert_int_equal(used, 0);
	imap_parser_free(&p);
}

/* An untaken command is freed by the parser. */
static void test_untaken_command(void **state)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t used;

	assert_int_equal(imap_parser_feed(p, "a X (b {1+}\r\nc)\r\n", 17, &used),
	                 IMAP_PARSE_COMMAND);
	assert_int_equal(imap_parser_feed(p, "b X\r\n", 5, &used), IMAP_PARSE_COMMAND);
	imap_parser_free(&p);
}

/* ---- tags and command names ---- */

static void test_tags(void **state)
{
	/* tag = 1*<any ASTRING-CHAR except "+">: no '+', '*', '%', '(', ... */
	CHECK_T("+ NOOP\r\nb NOOP\r\n", "E * Invalid tag\nC b NOOP\n");
	CHECK_T("a+b NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("* NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a*b NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("% NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a(b NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a{b NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a\"b NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a\\b NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a\x80 NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a\x7f NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("\0 NOOP\r\n", "E * Invalid tag\n");
	CHECK_T(" NOOP\r\n", "E * Invalid tag\n");
	CHECK_T("a\tNOOP\r\n", "E * Invalid tag\n");
	/* a tag alone: the tag is known */
	CHECK_T("a\r\nb NOOP\r\n", "E a Missing or invalid command name\nC b NOOP\n");
	CHECK_T("a \r\n", "E a Missing or invalid command name\n");
	CHECK_T("a  NOOP\r\n", "E a Missing or invalid command name\n");
	CHECK_T("a NO]OP\r\n", "E a Missing or invalid command name\n");
	CHECK_T("a NO*P\r\n", "E a Missing or invalid command name\n");
	CHECK_T("a NOOP(\r\n", "E a Missing or invalid command name\n");
	CHECK_T("a N\xc3\xa9\r\n", "E a Missing or invalid command name\n");
	CHECK_T("a (NOOP)\r\n", "E a Missing or invalid command name\n");
}

/* ---- syntax errors and recovery ---- */

static void test_bad_atoms(void **state)
{
	CHECK_T("a X ab\x80\x63\r\nb NOOP\r\n", "E a Invalid character in command\nC b NOOP\n");
	CHECK_T("a X ab\0c\r\nb NOOP\r\n", "E a Invalid character in command\nC b NOOP\n");
	CHECK_T("a X \0\r\n", "E a Invalid character in command\n");
	CHECK_T("a X \xc3\xa9\r\n", "E a Invalid character in command\n");
	CHECK_T("a X a\"b\"\r\n", "E a Invalid character in command\n");
	CHECK_T("a X a{5}\r\n", "E a Invalid character in command\n");
	CHECK_T("a X a\x01\r\n", "E a Invalid character in command\n");
	CHECK_T("a X a\tb\r\n", "E a Invalid character in command\n");
}

static void test_bad_quoted(void **state)
{
	CHECK_T("a X \"abc\r\nb NOOP\r\n", "E a Unterminated quoted string\nC b NOOP\n");
	CHECK_T("a X \"abc\nb NOOP\r\n", "E a Unterminated quoted string\nC b NOOP\n");
	CHECK_T("a X \"a\\nb\"\r\nb NOOP\r\n", "E a Invalid escape in quoted string\nC b NOOP\n");
	CHECK_T("a X \"a\\\r\n", "E a Invalid escape in quoted string\n");
	CHECK_T("a X \"a\0b\"\r\n", "E a NUL byte in quoted string\n");
	CHECK_T("a X \"a\"b\r\n", "E a Missing space between arguments\n");
	CHECK_T("a X \"a\"\"b\"\r\n", "E a Missing space between arguments\n");
}

static void test_bad_parens(void **state)
{
	CHECK_T("a X a)\r\nb NOOP\r\n", "E a Unexpected ')'\nC b NOOP\n");
	CHECK_T("a X )\r\n", "E a Unexpected space\n");
	CHECK_T("a X (a\r\nb NOOP\r\n", "E a Missing ')'\nC b NOOP\n");
	CHECK_T("a X (a \r\n", "E a Missing ')'\n");
	CHECK_T("a X (\r\n", "E a Missing ')'\n");
	CHECK_T("a X (a )\r\n", "E a Unexpected space\n");
	CHECK_T("a X ( a)\r\n", "E a Unexpected space\n");
	CHECK_T("a X (a))\r\n", "E a Unexpected ')'\n");
	CHECK_T("a X a  b\r\n", "E a Unexpected space\n");
	CHECK_T("a X {1}\r\nab\r\n", "+\nE a Missing space between arguments\n");
}

static void test_bad_line_endings(void **state)
{
	CHECK_T("a NOOP\rb\r\nc NOOP\r\n", "E a CR not followed by LF\nC c NOOP\n");
	CHECK_T("\rx\r\nc NOOP\r\n", "E * CR not followed by LF\nC c NOOP\n");
	CHECK_T("a X {1}\rx\r\n", "E a CR not followed by LF\n");
	CHECK_T("a NOOP\r\r\n", "E a CR not followed by LF\n");
}

static void test_bad_literal_syntax(void **state)
{
	CHECK_T("a X {}\r\nb NOOP\r\n", "E a Invalid literal length\nC b NOOP\n");
	CHECK_T("a X {abc}\r\n", "E a Invalid literal length\n");
	CHECK_T("a X {+}\r\n", "E a Invalid literal length\n");
	CHECK_T("a X {5+5}\r\n", "E a Invalid literal length\n");
	CHECK_T("a X {5++}\r\n", "E a Invalid literal length\n");
	CHECK_T("a X {-1}\r\n", "E a Invalid literal length\n");
	CHECK_T("a X {5\r\n", "E a Invalid literal length\n");
	CHECK_T("a X ~{x}\r\n", "E a Invalid literal length\n");
	/* the client sends nothing after a refused or misplaced {n} */
	CHECK_T("a X {5}x\r\nb NOOP\r\n",
	        "E a Literal announcement not at end of line\nC b NOOP\n");
	CHECK_T("a X {5} \r\n", "E a Literal announcement not at end of line\n");
	CHECK_T("a X {5}{6}\r\n", "E a Literal announcement not at end of line\n");
}

/* The error tag is only a tag that was read whole and valid. */
static void test_error_texts_never_echo(void **state)
{
	/* texts are checked against the fixed set by put_result(); here the
	 * attacker tries to smuggle a response line */
	CHECK_T("a X \"\r\n* OK forged\r\n", "E a Unterminated quoted string\nE * Invalid tag\n");
	CHECK_T("evil\r\n* BYE XyZ\r\n",
	        "E evil Missing or invalid command name\nE * Invalid tag\n");
	CHECK_T("a\x01XyZ NOOP\r\n", "E * Invalid tag\n");
}

/* ---- literal sizes ---- */

static void test_literal_length_overflow(void **state)
{
	CHECK_T("a X {4294967296}\r\nb NOOP\r\n", "E a [TOOBIG] Literal too big\nC b NOOP\n");
	CHECK_T("a X {4294967295}\r\nb NOOP\r\n", "E a [TOOBIG] Literal too big\nC b NOOP\n");
	CHECK_T("a X {99999999999999999999}\r\nb NOOP\r\n",
	        "E a [TOOBIG] Literal too big\nC b NOOP\n");
	CHECK_T("a X {18446744073709551616}\r\n", "E a [TOOBIG] Literal too big\n");
	CHECK_T("a X ~{99999999999999999999999999999999999999}\r\n",
	        "E a [TOOBIG] Literal too big\n");
	/* a client sends a {n+} it cannot mean: close */
	CHECK_T("a X {4294967296+}\r\nb NOOP\r\n", "F [TOOBIG] Literal too big\n");
	CHECK_T("a X {99999999999999999999+}\r\n", "F [TOOBIG] Literal too big\n");
}

static void test_sync_literal_too_big(void **state)
{
	/* max_literal 100: no "+", the command is refused, the next one is
	 * read */
	CHECK_T("a APPEND x {101}\r\nb NOOP\r\n", "E a [TOOBIG] Literal too big\nC b NOOP\n");
	CHECK_T("a APPEND x {101}\nb NOOP\r\n", "E a [TOOBIG] Literal too big\nC b NOOP\n");
}

static char *make_nonsync(const char *head, size_t n, const char *tail, size_t *len_r)
{
	struct buf b;

	buf_init(&b);
	buf_printf(&b, "%s{%zu+}\r\n", head, n);
	for (size_t i = 0; i < n; i++)
		buf_append_byte(&b, "c NOOP\r\n"[i % 8]);
	buf_append_str(&b, tail);
	*len_r = b.len;
	return b.data;
}

static void test_nonsync_literal_too_big(void **state)
{
	size_t len;
	char *in;

	/* over the limit: the bytes are read and thrown away, then BAD;
	 * the literal holds "c NOOP" lines that must not be parsed */
	in = make_nonsync("a APPEND x ", 101, " more (args\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a [TOOBIG] Literal too big\nC b NOOP\n");
	free(in);
	in = make_nonsync("a APPEND x ", 100 + 64 * 1024, "\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a [TOOBIG] Literal too big\nC b NOOP\n");
	free(in);
	/* further still: the connection is closed */
	in = make_nonsync("a APPEND x ", 100 + 64 * 1024 + 1, "\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "F [TOOBIG] Literal too big\n");
	free(in);
}

/* RFC 7888 LITERAL-: {n+} only up to 4096, {n} as large as max_literal. */
static void test_literal_minus(void **state)
{
	struct imap_parser_limits lim = default_limits;
	size_t len;
	char *in;

	lim.max_literal = 1024 * 1024;
	lim.max_nonsync = 4096;
	in = make_nonsync("a APPEND INBOX ", 5000, "\r\nb NOOP\r\n", &len);
	check_input(&lim, in, len, "E a [TOOBIG] Literal too big\nC b NOOP\n");
	free(in);

	in = make_nonsync("a APPEND INBOX ", 4096, "\r\n", &len);
	char *got = run_with(&lim, in, len, 0, 0);
	assert_true(strncmp(got, "C a APPEND a:INBOX {4096+}c", 27) == 0);
	free(got);
	free(in);

	struct buf b;
	buf_init(&b);
	buf_append_str(&b, "a APPEND INBOX {5000}\r\n");
	for (int i = 0; i < 5000; i++)
		buf_append_byte(&b, 'm');
	buf_append_str(&b, "\r\n");
	got = run_with(&lim, b.data, b.len, 0, 1);
	assert_true(strncmp(got, "+\nC a APPEND a:INBOX {5000}mmm", 30) == 0);
	free(got);
	buf_free(&b);
}

static void test_nul_in_literal(void **state)
{
	/* RFC 9051: literal is *CHAR8, no NUL; the bytes are consumed first */
	CHECK_T("a X {3}\r\na\0b rest\r\nb NOOP\r\n", "+\nE a NUL byte in literal\nC b NOOP\n");
	CHECK_T("a X {3+}\r\n\0\r\n {2+}\r\nxx\r\nb NOOP\r\n",
	        "E a NUL byte in literal\nC b NOOP\n");
	CHECK_T("a X ({1+}\r\n\0)\r\n", "E a NUL byte in literal\n");
}

/* ---- long lines ---- */

static char *make_line(const char *head, size_t n, char fill, const char *tail, size_t *len_r)
{
	size_t hl = strlen(head), tl = strlen(tail);
	char *s = xmalloc(hl + n + tl + 1);

	memcpy(s, head, hl);
	memset(s + hl, fill, n);
	memcpy(s + hl + n, tail, tl + 1);
	*len_r = hl + n + tl;
	return s;
}

static void test_line_too_long(void **state)
{
	size_t len;
	char *in;

	/* exactly max_line (1000) non-CRLF bytes */
	in = make_line("a X ", 996, 'x', "\r\n", &len);
	char *got = run_with(&test_limits, in, len, 0, 0);
	assert_true(strncmp(got, "C a X a:xxx", 11) == 0);
	free(got);
	free(in);

	in = make_line("a X ", 997, 'x', "\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a Command line too long\nC b NOOP\n");
	free(in);
	/* counted across the lines of one command, literals excluded */
	in = make_line("a X {3}\r\nabc ", 992, 'x', "\r\n", &len);
	got = run_with(&test_limits, in, len, 0, 0);
	assert_true(strncmp(got, "+\nC a X {3}abc a:xxx", 20) == 0);
	free(got);
	free(in);
	in = make_line("a X {3}\r\nabc ", 993, 'x', "\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "+\nE a Command line too long\nC b NOOP\n");
	free(in);
	/* a long tag: no tag to answer with */
	in = make_line("", 2000, 't', " NOOP\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E * Command line too long\nC b NOOP\n");
	free(in);
	/* quoted strings too */
	in = make_line("a X \"", 2000, 'q', "\"\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a Command line too long\nC b NOOP\n");
	free(in);
}

static void test_skipped_line_ends_with_literal(void **state)
{
	size_t len;
	char *in;

	/* the client sends the {10+} bytes anyway: they are skipped */
	in = make_line("a X ", 2000, 'x', " {10+}\r\n0123456789 rest\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a Command line too long\nC b NOOP\n");
	free(in);
	in = make_line("a X ", 2000, 'x', " ~{10+}\n0123\r\n56789 {1+}\r\n\n\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a Command line too long\nC b NOOP\n");
	free(in);
	/* a {10} waits for "+": the next line is a new command */
	in = make_line("a X ", 2000, 'x', " {10}\r\n0123456789 rest\r\n", &len);
	check_input(&test_limits, in, len, "E a Command line too long\nC 0123456789 rest\n");
	free(in);
	/* the same after a syntax error */
	CHECK_T("a X \x01 {5+}\r\nab\r\nc yy\r\nb NOOP\r\n",
	        "E a Invalid character in command\nC b NOOP\n");
	CHECK_T("a X ) {5+}\r\nab\r\nc {2+}\r\n\r\n\r\nb NOOP\r\n",
	        "E a Unexpected space\nC b NOOP\n");
	CHECK_T("a X ) {5}\r\nb NOOP\r\n", "E a Unexpected space\nC b NOOP\n");
	/* "{5+}" not at the end of the line is no literal */
	CHECK_T("a X ) {5+} x\r\nb NOOP\r\n", "E a Unexpected space\nC b NOOP\n");
	CHECK_T("a X ) {5+}\rx\r\nb NOOP\r\n", "E a Unexpected space\nC b NOOP\n");
	CHECK_T("a X ) {{5+}\r\n12345\r\nb NOOP\r\n", "E a Unexpected space\nC b NOOP\n");
	/* the line gets too long inside the announcement itself: at its
	 * '~', '{', digits, '+' or '}' (n = 989: it just fits) */
	for (size_t n = 985; n <= 1000; n++) {
		const char *expect = "E a Command line too long\nC b NOOP\n";
		const char *tail_ok = " {10+~}0123456789\nC b NOOP\n";
		in = make_line("a X ", n, 'x', " ~{10+}\r\n0123456789\r\nb NOOP\r\n", &len);
		for (size_t chunk = 0; chunk <= 1; chunk++) {
			char *got = run_with(&test_limits, in, len, 0, chunk);
			if (n + 11 <= 1000)
				assert_string_equal(got + strlen(got) - strlen(tail_ok), tail_ok);
			else
				assert_string_equal(got, expect);
			free(got);
		}
		free(in);
	}
	/* a huge {n+} in a skipped line: close */
	CHECK_T("a X ) {99999999+}\r\n", "F [TOOBIG] Literal too big\n");
	CHECK_T("a X ) {99999999999999999999999+}\r\n", "F [TOOBIG] Literal too big\n");
	/* but one just over the limit is discarded like any */
	in = make_nonsync("a X ) ", 150, "\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "E a Unexpected space\nC b NOOP\n");
	free(in);
}

/* A 10 MB line with the default 64 KiB max_line: FATAL after 1 MiB. */
static void test_ten_megabyte_line(void **state)
{
	size_t len, used, total = 0;
	char *in = make_line("a X ", 10 * 1024 * 1024, 'x', "\r\n", &len);
	struct imap_parser *p = imap_parser_new(&default_limits);
	enum imap_parse_result r;

	check_input(&default_limits, in, len, "F Command line too long\n");
	/* it stops right where it knows: at 16 * max_line */
	do {
		r = imap_parser_feed(p, in + total, 4096, &used);
		total += used;
	} while (r == IMAP_PARSE_NEED_MORE);
	assert_int_equal(r, IMAP_PARSE_FATAL);
	assert_int_equal(total, 16 * ROOST_DEFAULT_MAX_LINE + 1);
	imap_parser_free(&p);
	free(in);

	/* the same when the line is bad from its first byte */
	in = make_line("", 10 * 1024 * 1024, '(', "\r\n", &len);
	check_input(&default_limits, in, len, "F Command line too long\n");
	free(in);
}

static void test_deep_nesting(void **state)
{
	struct imap_parser_limits lim = default_limits;
	size_t len;
	char *in;

	lim.max_line = 300000;
	in = make_line("a X ", 100000, '(', "\r\nb NOOP\r\n", &len);
	check_input(&lim, in, len, "E a Lists nested too deeply\nC b NOOP\n");
	free(in);
	/* 64 levels are fine */
	struct buf b;
	buf_init(&b);
	buf_append_str(&b, "a X ");
	for (int i = 0; i < 64; i++)
		buf_append_byte(&b, '(');
	for (int i = 0; i < 64; i++)
		buf_append_byte(&b, ')');
	buf_append_str(&b, "\r\n");
	char *got = run_with(&lim, b.data, b.len, 0, 1);
	assert_true(strncmp(got, "C a X ((((", 10) == 0);
	free(got);
	buf_free(&b);
}

/* Many small lists: memory stays proportional to max_line. */
static void test_many_args(void **state)
{
	struct imap_parser *p = imap_parser_new(&default_limits);
	struct buf b;
	size_t used;

	buf_init(&b);
	buf_append_str(&b, "a X");
	while (b.len < ROOST_DEFAULT_MAX_LINE - 3)
		buf_append_str(&b, " ()");
	buf_append_str(&b, "\r\n");
	assert_int_equal(imap_parser_feed(p, b.data, b.len, &used), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take_command(p);
	assert_int_equal(cmd->nargs, (ROOST_DEFAULT_MAX_LINE - 3) / 3);
	assert_int_equal(cmd->args[100].type, IMAP_ARG_LIST);
	assert_int_equal(cmd->args[100].count, 0);
	imap_command_free(&cmd);
	imap_parser_free(&p);
	buf_free(&b);
}

/* ---- spooling ---- */

static void test_spooled_literal(void **state)
{
	struct imap_parser_limits lim = test_limits;

	lim.spool_threshold = 10;
	CHECK(&lim, "a APPEND box {20}\r\n01234567890123456789\r\n",
	      "+\nC a APPEND a:box {20s}01234567890123456789\n");
	CHECK(&lim, "a APPEND box (\\Seen) ~{12+}\r\n\0\r\n34567890\0\r\n",
	      "C a APPEND a:box (a:\\x5cSeen) {12+~s}\\x00\\x0d\\x0a34567890\\x00\n");
	/* in-memory literals of one command stay under the threshold */
	CHECK(&lim, "a X {6}\r\n012345 {6}\r\nabcdef {4}\r\nWXYZ {0}\r\n\r\n",
	      "+\n+\n+\n+\nC a X {6}012345 {6s}abcdef {4}WXYZ {0}\n");
	CHECK(&lim, "a X {11}\r\n01234567890 {11}\r\n01234567890 x)\r\nb NOOP\r\n",
	      "+\n+\nE a Unexpected ')'\nC b NOOP\n");
	CHECK(&lim, "a X {11}\r\n0123456\0890\r\nb NOOP\r\n",
	      "+\nE a NUL byte in literal\nC b NOOP\n");
}

static void test_spooled_literal_pread(void **state)
{
	struct imap_parser_limits lim = default_limits;
	struct imap_parser *p;
	struct imap_command *cmd;
	size_t n = 1024 * 1024, used, pos = 0;
	char *in, *back;

	lim.max_literal = 64 * 1024 * 1024;
	lim.spool_threshold = 1000;
	size_t len;
	in = make_line("t1 APPEND INBOX {1048576}\r\n", n, 0, "\r\n", &len);
	for (size_t i = 0; i < n; i++)
		in[27 + i] = (char)('a' + i % 26);
	p = imap_parser_new(&lim);
	assert_int_equal(imap_parser_feed(p, in, len, &used), IMAP_PARSE_CONTINUE);
	pos = used;
	/* odd-sized chunks */
	enum imap_parse_result r = IMAP_PARSE_NEED_MORE;
	while (r == IMAP_PARSE_NEED_MORE && pos < len) {
		size_t chunk = len - pos < 7777 ? len - pos : 7777;
		r = imap_parser_feed(p, in + pos, chunk, &used);
		pos += used;
	}
	assert_int_equal(r, IMAP_PARSE_COMMAND);
	assert_int_equal(pos, len);
	cmd = imap_parser_take_command(p);
	assert_int_equal(cmd->nargs, 2);
	assert_int_equal(cmd->args[1].type, IMAP_ARG_LITERAL);
	assert_null(cmd->args[1].str);
	assert_true(cmd->args[1].fd >= 0);
	assert_int_equal(cmd->args[1].len, n);
	assert_int_equal(fcntl(cmd->args[1].fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	back = xmalloc(n);
	assert_int_equal(pread(cmd->args[1].fd, back, n, 0), (ssize_t)n);
	assert_memory_equal(back, in + 27, n);
	free(back);
	imap_command_free(&cmd);
	imap_parser_free(&p);
	free(in);
}

static void test_spool_failure(void **state)
{
	struct imap_parser_limits lim = test_limits;

	lim.spool_threshold = 2;
	lim.spool_dir = "/nonexistent/roost-spool";
	/* the parser logs each failure: keep the test output readable */
	int saved_stderr = dup(STDERR_FILENO);
	int devnull = open("/dev/null", O_WRONLY);
	assert_true(saved_stderr >= 0 && devnull >= 0);
	dup2(devnull, STDERR_FILENO);
	close(devnull);
	CHECK(&lim, "a X {5}\r\nb NOOP\r\n", "E a [SERVERBUG] Cannot spool literal\nC b NOOP\n");
	CHECK(&lim, "a X {5+}\r\nhello more\r\nb NOOP\r\n",
	      "E a [SERVERBUG] Cannot spool literal\nC b NOOP\n");
	/* small literals do not need the spool */
	CHECK(&lim, "a X {2}\r\nhi\r\n", "+\nC a X {2}hi\n");
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
}

static void test_too_many_spool_files(void **state)
{
	struct imap_parser_limits lim = test_limits;
	struct buf b;

	lim.spool_threshold = 0;
	buf_init(&b);
	buf_append_str(&b, "a X");
	for (int i = 0; i < 65; i++)
		buf_append_str(&b, " {1+}\r\nz");
	buf_append_str(&b, " tail\r\nb NOOP\r\n");
	char *got = run_with(&lim, b.data, b.len, 0, 0);
	assert_string_equal(got, "E a [LIMIT] Too many large literals in one command\nC b NOOP\n");
	free(got);
	got = run_with(&lim, b.data, b.len, 0, 1);
	assert_string_equal(got, "E a [LIMIT] Too many large literals in one command\nC b NOOP\n");
	free(got);
	buf_free(&b);
}

/* reset and free drop half-built commands, spool files included
 * (valgrind --track-fds=yes checks the fds). */
static void test_reset_mid_command(void **state)
{
	struct imap_parser_limits lim = test_limits;
	struct imap_parser *p;
	size_t used;

	lim.spool_threshold = 1;
	p = imap_parser_new(&lim);
	assert_int_equal(imap_parser_feed(p, "a X (b \"c\" {3}\r\nde", 18, &used),
	                 IMAP_PARSE_CONTINUE);
	assert_int_equal(imap_parser_feed(p, "de", 2, &used), IMAP_PARSE_NEED_MORE);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "f NOOP\r\n", 8, &used), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take_command(p);
	assert_string_equal(cmd->tag, "f");
	imap_command_free(&cmd);
	/* freed in the middle of a spooled literal and a list */
	assert_int_equal(imap_parser_feed(p, "g X ({3+}\r\nxy", 13, &used), IMAP_PARSE_NEED_MORE);
	imap_parser_free(&p);
	/* and in the middle of everything else */
	p = imap_parser_new(&lim);
	assert_int_equal(imap_parser_feed(p, "g X ((a) \"b", 11, &used), IMAP_PARSE_NEED_MORE);
	imap_parser_free(&p);
	imap_parser_free(&p); /* NULL is fine */
}

static void test_fatal_then_reset(void **state)
{
	struct imap_parser *p = imap_parser_new(&test_limits);
	size_t used;

	assert_int_equal(imap_parser_feed(p, "a X {9999999+}\r\nb NOOP\r\n", 24, &used),
	                 IMAP_PARSE_FATAL);
	assert_int_equal(used, 16);
	assert_string_equal(imap_parser_error_code(p), "TOOBIG");
	assert_string_equal(imap_parser_error_tag(p), "a");
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &used), IMAP_PARSE_FATAL);
	assert_int_equal(used, 0);
	imap_parser_reset(p);
	assert_int_equal(imap_parser_feed(p, "b NOOP\r\n", 8, &used), IMAP_PARSE_COMMAND);
	struct imap_command *cmd = imap_parser_take_command(p);
	imap_command_free(&cmd);
	imap_parser_free(&p);
}

static void test_set_limits(void **state)
{
	struct imap_parser_limits lim = test_limits;
	struct imap_parser *p = imap_parser_new(&lim);
	char in[300];
	size_t used;

	/* LOGIN raises max_literal */
	snprintf(in, sizeof(in), "a X {200}\r\n");
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_ERROR);
	assert_string_equal(imap_parser_error_tag(p), "a");
	assert_string_equal(imap_parser_error_code(p), "TOOBIG");
	lim.max_literal = 1000;
	lim.max_nonsync = 1000;
	imap_parser_set_limits(p, &lim);
	assert_int_equal(imap_parser_feed(p, in, strlen(in), &used), IMAP_PARSE_CONTINUE);
	memset(in, 'x', 200);
	memcpy(in + 200, "\r\n", 2);
	assert_int_equal(imap_parser_feed(p, in, 202, &used), IMAP_PARSE_COMMAND);
	assert_int_equal(used, 202);
	struct imap_command *cmd = imap_parser_take_command(p);
	assert_int_equal(cmd->args[0].len, 200);
	imap_command_free(&cmd);
	imap_parser_free(&p);
}

/* ---- line mode ---- */

static void test_line_mode(void **state)
{
	CHECK_T("a AUTHENTICATE PLAIN\r\ndGVzdA==\r\nb NOOP\r\n",
	        "C a AUTHENTICATE a:PLAIN\nL dGVzdA==\nC b NOOP\n");
	CHECK_T("a IDLE\r\nDONE\nb NOOP\r\n", "C a IDLE\nL DONE\nC b NOOP\n");
	CHECK_T("a IDLE\r\n\r\nb NOOP\r\n", "C a IDLE\nL \nC b NOOP\n");
	/* raw: no parsing, NUL and 8-bit kept, only the final CR removed */
	CHECK_T("a AUTHENTICATE X\r\n* (\"{5}\r\x00\xff\r\r\n",
	        "C a AUTHENTICATE a:X\nL *\\x20(\\x22{5}\\x0d\\x00\\xff\\x0d\n");
	size_t len;
	char *in = make_line("a IDLE\r\n", 1000, 'D', "\r\nb NOOP\r\n", &len);
	struct buf expect;
	buf_init(&expect);
	buf_append_str(&expect, "C a IDLE\nL ");
	for (int i = 0; i < 1000; i++)
		buf_append_byte(&expect, 'D');
	buf_append_str(&expect, "\nC b NOOP\n");
	check_input(&test_limits, in, len, expect.data);
	buf_free(&expect);
	free(in);
	in = make_line("a IDLE\r\n", 1001, 'D', "\r\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "C a IDLE\nE * Line too long\nC b NOOP\n");
	free(in);
	in = make_line("a IDLE\r\n", 1002, 'D', "\nb NOOP\r\n", &len);
	check_input(&test_limits, in, len, "C a IDLE\nE * Line too long\nC b NOOP\n");
	free(in);
	in = make_line("a IDLE\r\n", 10 * 1024 * 1024, 'D', "\r\n", &len);
	check_input(&default_limits, in, len, "C a IDLE\nF Line too long\n");
	free(in);
}

/* ---- performance: a byte at a time is still O(n) ---- */

static void test_linear_time(void **state)
{
	struct imap_parser_limits lim = default_limits;
	struct buf b;

	lim.max_line = 4 * 1024 * 1024;
	buf_init(&b);
	buf_append_str(&b, "a X ");
	for (int i = 0; i < 100000; i++)
		buf_append_str(&b, "atom \"quoted string\" (l i s t) ");
	buf_append_str(&b, "\r\n");
	assert_true(b.len < lim.max_line);
	char *got = run_with(&lim, b.data, b.len, 0, 1);
	assert_true(strncmp(got, "C a X a:atom q\"quoted\\x20string\" (a:l a:i a:s a:t)", 48) == 0);
	free(got);
	buf_free(&b);
}

/* Random commands built from the grammar's pieces, good and bad: whatever
 * the results, every way of splitting the input must give the same ones. */
static void test_random_splits(void **state)
{
	static const char *const pieces[] = {
	    "x",           "NIL",        "]",          "BODY[1]",   "1:*",      "\\Seen",
	    "()",          "(a b)",      "(",          ")",         "\"q\"",    "\"\\\"\"",
	    "\"",          "{3}\r\nabc", "{2+}\r\nab", "~{1}\n\0",  "{0}\r\n",  "{5}\r\n\r\n(\r\n",
	    "{99999}\r\n", "{70000+}\n", "{7+}\n",     "{21+}\r\n", "{6+}\r\n", "\r\n",
	    "\n",          "\r",         "\0",         "\x80",      "{",        "+",
	    "*",           "~",          "\"a\\",
	};
	struct imap_parser_limits lim = test_limits;
	unsigned seed = 12345;
	unsigned results[128] = {0};

	lim.max_line = 40;
	lim.max_literal = 20;
	lim.max_nonsync = 5;
	lim.max_depth = 3;
	lim.spool_threshold = 4;
	for (int iter = 0; iter < 3000; iter++) {
		struct buf in;
		buf_init(&in);
		int ncmd = 1 + (int)((seed = seed * 1103515245u + 12345u) >> 16) % 3;
		for (int c = 0; c < ncmd; c++) {
			buf_printf(&in, "t%d X", c);
			int n = (int)((seed = seed * 1103515245u + 12345u) >> 16) % 8;
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				const char *piece = pieces[(seed >> 16) % ARRAY_SIZE(pieces)];
				if ((seed >> 8) % 8 != 0)
					buf_append_byte(&in, ' ');
				/* pieces may hold a NUL */
				size_t len = strlen(piece);
				if (len == 0 || strcmp(piece, "~{1}\n") == 0)
					len++;
				buf_append(&in, piece, len);
			}
			buf_append_str(&in, "\r\n");
		}
		char *whole = run_with(&lim, in.data, in.len, 0, 0);
		for (const char *l = whole; *l != '\0'; l = strchr(l, '\n') + 1)
			results[(unsigned char)*l & 127]++;
		char *got = run_with(&lim, in.data, in.len, 0, 1);
		assert_string_equal(got, whole);
		free(got);
		for (size_t k = 1; k < in.len; k++) {
			got = run_with(&lim, in.data, in.len, k, 0);
			assert_string_equal(got, whole);
			free(got);
		}
		free(whole);
		buf_free(&in);
	}
	/* the mix exercised all kinds of results */
	assert_true(results['C'] > 500);
	assert_true(results['E'] > 500);
	assert_true(results['+'] > 100);
	assert_true(results['F'] > 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple_commands),
	    cmocka_unit_test(test_empty_lines),
	    cmocka_unit_test(test_atoms),
	    cmocka_unit_test(test_nil),
	    cmocka_unit_test(test_quoted),
	    cmocka_unit_test(test_literals),
	    cmocka_unit_test(test_literal8),
	    cmocka_unit_test(test_lists),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_feed_stops_after_result),
	    cmocka_unit_test(test_untaken_command),
	    cmocka_unit_test(test_tags),
	    cmocka_unit_test(test_bad_atoms),
	    cmocka_unit_test(test_bad_quoted),
	    cmocka_unit_test(test_bad_parens),
	    cmocka_unit_test(test_bad_line_endings),
	    cmocka_unit_test(test_bad_literal_syntax),
	    cmocka_unit_test(test_error_texts_never_echo),
	    cmocka_unit_test(test_literal_length_overflow),
	    cmocka_unit_test(test_sync_literal_too_big),
	    cmocka_unit_test(test_nonsync_literal_too_big),
	    cmocka_unit_test(test_literal_minus),
	    cmocka_unit_test(test_nul_in_literal),
	    cmocka_unit_test(test_line_too_long),
	    cmocka_unit_test(test_skipped_line_ends_with_literal),
	    cmocka_unit_test(test_ten_megabyte_line),
	    cmocka_unit_test(test_deep_nesting),
	    cmocka_unit_test(test_many_args),
	    cmocka_unit_test(test_spooled_literal),
	    cmocka_unit_test(test_spooled_literal_pread),
	    cmocka_unit_test(test_spool_failure),
	    cmocka_unit_test(test_too_many_spool_files),
	    cmocka_unit_test(test_reset_mid_command),
	    cmocka_unit_test(test_fatal_then_reset),
	    cmocka_unit_test(test_set_limits),
	    cmocka_unit_test(test_line_mode),
	    cmocka_unit_test(test_linear_time),
	    cmocka_unit_test(test_random_splits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
