/* Unit tests for mime/'s structure parser: the part tree, sections, the
 * stored part table, CRLF normalization, and hostile input (huge, deep,
 * wide, separator-less and all-NUL messages) parsed in bounded time. */
#include "mime/mime.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static struct mime_message *parse_str(const char *s)
{
	return mime_parse(s, strlen(s));
}

/* the bytes of a section as a new string */
static char *section(const struct mime_message *msg, const char *spec)
{
	struct mime_section sec;
	int ret = mime_section_find(msg->parts, msg->part_count, spec, &sec);

	assert_true(ret >= 0);
	if (ret == 0)
		return xstrdup("<none>");
	return xstrndup((const char *)msg->data + sec.start, (size_t)sec.len);
}

static void assert_section(const struct mime_message *msg, const char *spec, const char *want)
{
	char *got = section(msg, spec);

	assert_string_equal(got, want);
	free(got);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* balanced parentheses outside quoted strings and literals */
static void assert_balanced(const struct buf *b)
{
	int depth = 0;

	for (size_t i = 0; i < b->len; i++) {
		char c = b->data[i];

		if (c == '"') {
			for (i++; i < b->len && b->data[i] != '"'; i++) {
				if (b->data[i] == '\\')
					i++;
			}
		} else if (c == '{') {
			size_t n = strtoul(b->data + i + 1, NULL, 10);

			i = (size_t)(strchr(b->data + i, '\n') - b->data) + n;
		} else if (c == '(') {
			depth++;
		} else if (c == ')') {
			assert_true(--depth >= 0);
		}
	}
	assert_int_equal(depth, 0);
}

static const char nested[] = "From: a@b.example\r\n"
                             "Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
                             "\r\n"
                             "preamble\r\n"
                             "--outer\r\n"
                             "Content-Type: text/plain\r\n"
                             "\r\n"
                             "one\r\n"
                             "--outer\r\n"
                             "Content-Type: message/rfc822\r\n"
                             "\r\n"
                             "Subject: inner\r\n"
                             "Content-Type: multipart/alternative; boundary=in\r\n"
                             "\r\n"
                             "--in\r\n"
                             "\r\n"
                             "plain\r\n"
                             "--in\r\n"
                             "Content-Type: text/html\r\n"
                             "\r\n"
                             "<b>html</b>\r\n"
                             "--in--\r\n"
                             "--outer--\r\n"
                             "epilogue\r\n";

static void test_tree_and_sections(void **state)
{
	struct mime_message *msg = parse_str(nested);

	/* root, 1, 2 (rfc822), 2's message, 2.1, 2.2 */
	assert_int_equal(msg->part_count, 6);
	assert_true(msg->parts[0].multipart);
	assert_true(msg->parts[2].message_rfc822);
	assert_true(msg->parts[3].multipart);
	assert_int_equal(msg->parts[5].parent, 3);
	assert_int_equal(msg->parts[1].body_lines, 0);
	assert_section(msg, "1", "one");
	assert_section(msg, "1.MIME", "Content-Type: text/plain\r\n\r\n");
	assert_section(
	    msg, "2.HEADER",
	    "Subject: inner\r\nContent-Type: multipart/alternative; boundary=in\r\n\r\n");
	assert_section(msg, "2.1", "plain");
	assert_section(msg, "2.1.MIME", "\r\n");
	assert_section(msg, "2.2", "<b>html</b>");
	assert_section(msg, "2.2.MIME", "Content-Type: text/html\r\n\r\n");
	assert_section(msg, "2.TEXT",
	               "--in\r\n\r\nplain\r\n--in\r\nContent-Type: text/html\r\n"
	               "\r\n<b>html</b>\r\n--in--\r\n");
	assert_section(msg, "3", "<none>");
	assert_section(msg, "2.3", "<none>");
	assert_section(msg, "1.1", "<none>");
	assert_section(msg, "HEADER",
	               "From: a@b.example\r\n"
	               "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n");
	char *text = section(msg, "TEXT");

	assert_true(strncmp(text, "preamble\r\n--outer", 17) == 0);
	assert_true(strstr(text, "epilogue\r\n") != NULL);
	free(text);

	struct mime_section sec;

	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "", &sec), 1);
	assert_int_equal(sec.len, strlen(nested));
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "2.HEADER.FIELDS", &sec),
	                 1);
	assert_int_equal(sec.kind, MIME_SECTION_HEADER_FIELDS);
	assert_int_equal(
	    mime_section_find(msg->parts, msg->part_count, "1.HEADER.FIELDS.NOT", &sec), 0);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "MIME", &sec), -1);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "0", &sec), -1);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "1.", &sec), -1);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "1.FOO", &sec), -1);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "01", &sec), -1);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "99999999999", &sec), -1);

	struct buf b;

	buf_init(&b);
	mime_write_bodystructure(msg, true, &b);
	assert_string_equal(
	    b.data,
	    "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 3 0 NIL NIL NIL "
	    "NIL)(\"message\" \"rfc822\" NIL NIL NIL \"7bit\" 137 (NIL \"inner\" NIL NIL NIL "
	    "NIL NIL NIL NIL NIL) ((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	    "\"7bit\" 5 0 NIL NIL NIL NIL)(\"text\" \"html\" (\"charset\" \"us-ascii\") NIL "
	    "NIL \"7bit\" 11 0 NIL NIL NIL NIL) \"alternative\" (\"boundary\" \"in\") NIL NIL "
	    "NIL) 11 NIL NIL NIL NIL) \"mixed\" (\"boundary\" \"outer\") NIL NIL NIL)");
	buf_free(&b);
	mime_message_free(&msg);
	assert_null(msg);
}

static void test_header_filter(void **state)
{
	static const char hdr[] = "From: a\r\nSubject: one\r\n two\r\nX-No-Colon\r\n"
	                          "subject : three\r\nTo: b\r\n\r\n";
	const char *names[] = {"SUBJECT", "to"};
	struct buf b;

	buf_init(&b);
	mime_header_filter(hdr, strlen(hdr), names, 2, false, &b);
	assert_string_equal(b.data, "Subject: one\r\n two\r\nsubject : three\r\nTo: b\r\n\r\n");
	buf_reset(&b);
	mime_header_filter(hdr, strlen(hdr), names, 2, true, &b);
	assert_string_equal(b.data, "From: a\r\nX-No-Colon\r\n\r\n");
	buf_reset(&b);
	/* no blank line, no final line end */
	mime_header_filter("A: 1\r\nB: 2", 10, names, 0, true, &b);
	assert_string_equal(b.data, "A: 1\r\nB: 2");
	buf_reset(&b);
	mime_header_filter("", 0, names, 2, false, &b);
	assert_string_equal(b.data, "\r\n");
	buf_free(&b);
}

static void test_broken_boundaries(void **state)
{
	/* no closing delimiter; a prefix match; a never-used boundary */
	struct mime_message *msg =
	    parse_str("Content-Type: multipart/mixed; boundary=bb\r\n\r\n"
	              "--bb\r\n\r\nfirst\r\n--bbx trailing junk\r\n\r\nsecond\r\n");

	assert_int_equal(msg->part_count, 3);
	assert_section(msg, "1", "first");
	assert_section(msg, "2", "second\r\n");
	mime_message_free(&msg);

	msg = parse_str("Content-Type: multipart/mixed; boundary=never\r\n\r\nall preamble\r\n");
	assert_int_equal(msg->part_count, 1);
	assert_section(msg, "1", "<none>");
	struct buf b;

	buf_init(&b);
	mime_write_bodystructure(msg, false, &b);
	assert_string_equal(b.data, "((\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	                            "\"7bit\" 0 0) \"mixed\")");
	buf_free(&b);
	mime_message_free(&msg);

	/* bare LF line ends (not normalized) still parse */
	msg = parse_str("Content-Type: multipart/mixed; boundary=x\n\n--x\n\nlf body\n--x--\n");
	assert_int_equal(msg->part_count, 2);
	assert_section(msg, "1", "lf body");
	mime_message_free(&msg);
}

static void test_crlf_split(void **state)
{
	static const char in[] = "a\nb\r\nc\rd\n\n\r\r\n\ne";
	static const char want[] = "a\r\nb\r\nc\rd\r\n\r\n\r\r\n\r\ne";
	size_t n = strlen(in);

	/* every split into two and into three pieces */
	for (size_t i = 0; i <= n; i++) {
		for (size_t j = i; j <= n; j++) {
			struct mime_crlf st;
			struct buf out;

			buf_init(&out);
			mime_crlf_init(&st);
			mime_crlf_normalize(&st, in, i, &out);
			mime_crlf_normalize(&st, in + i, j - i, &out);
			mime_crlf_normalize(&st, in + j, n - j, &out);
			assert_int_equal(out.len, strlen(want));
			assert_memory_equal(out.data, want, out.len);
			buf_free(&out);
		}
	}
	/* byte by byte */
	struct mime_crlf st;
	struct buf out;

	buf_init(&out);
	mime_crlf_init(&st);
	for (size_t i = 0; i < n; i++)
		mime_crlf_normalize(&st, in + i, 1, &out);
	assert_string_equal(out.data, want);
	buf_free(&out);
}

static void test_parts_encoding(void **state)
{
	struct mime_message *msg = parse_str(nested);
	struct buf enc;
	struct mime_part *parts;
	uint32_t count;

	buf_init(&enc);
	mime_parts_encode(msg, &enc);
	assert_int_equal(mime_parts_decode(enc.data, enc.len, &parts, &count), 0);
	assert_int_equal(count, msg->part_count);
	for (uint32_t i = 0; i < count; i++) {
		const struct mime_part *a = &msg->parts[i], *b = &parts[i];

		assert_int_equal(a->header_start, b->header_start);
		assert_int_equal(a->body_start, b->body_start);
		assert_int_equal(a->body_end, b->body_end);
		assert_int_equal(a->body_lines, b->body_lines);
		assert_int_equal(a->header_lines, b->header_lines);
		assert_int_equal(a->parent, b->parent);
		assert_int_equal(a->first_child, b->first_child);
		assert_int_equal(a->next_sibling, b->next_sibling);
		assert_int_equal(a->depth, b->depth);
		assert_int_equal(a->multipart, b->multipart);
		assert_int_equal(a->message_rfc822, b->message_rfc822);
		assert_int_equal(a->cte, b->cte);
	}
	/* sections resolve the same from the decoded table */
	struct mime_section s1, s2;

	assert_int_equal(mime_section_find(parts, count, "2.2.MIME", &s1), 1);
	assert_int_equal(mime_section_find(msg->parts, msg->part_count, "2.2.MIME", &s2), 1);
	assert_int_equal(s1.start, s2.start);
	assert_int_equal(s1.len, s2.len);
	free(parts);

	/* every truncation and every single-byte corruption is refused or
	 * gives a table that is safe to use */
	for (size_t n = 0; n < enc.len; n++) {
		assert_int_equal(mime_parts_decode(enc.data, n, &parts, &count), -1);
		assert_null(parts);
	}
	for (size_t i = 0; i < enc.len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			enc.data[i] ^= (char)(1 << bit);
			if (mime_parts_decode(enc.data, enc.len, &parts, &count) == 0) {
				struct mime_section sec;

				(void)mime_section_find(parts, count, "2.2.MIME", &sec);
				(void)mime_section_find(parts, count, "1.1.1.1", &sec);
				free(parts);
			}
			enc.data[i] ^= (char)(1 << bit);
		}
	}
	assert_int_equal(mime_parts_decode("\x02\x01", 2, &parts, &count), -1);
	buf_free(&enc);
	mime_message_free(&msg);
}

/* ---- hostile input ---- */

static void test_hostile_huge(void **state)
{
	size_t size = 50u * 1024 * 1024;
	char *m = xmalloc(size);
	const char *hdr = "Subject: big\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n"
	                  "--b\r\n\r\n";
	size_t hl = strlen(hdr);

	memcpy(m, hdr, hl);
	for (size_t i = hl; i < size; i += 64) {
		size_t n = size - i < 64 ? size - i : 64;

		memset(m + i, 'x', n);
		if (n >= 2)
			memcpy(m + i + n - 2, "\r\n", 2);
	}
	double t0 = now_s();
	struct mime_message *msg = mime_parse(m, size);

	assert_true(now_s() - t0 < 10.0);
	assert_int_equal(msg->part_count, 2);
	assert_int_equal(msg->parts[1].body_end, size);
	assert_true(msg->parts[1].body_lines > 800000);
	mime_message_free(&msg);
	free(m);
}

static void test_hostile_wide(void **state)
{
	struct buf m;

	buf_init(&m);
	buf_append_str(&m, "Content-Type: multipart/mixed; boundary=w\r\n\r\n");
	for (int i = 0; i < 12000; i++)
		buf_append_str(&m, "--w\r\n\r\nx\r\n");
	buf_append_str(&m, "--w--\r\n");
	double t0 = now_s();
	struct mime_message *msg = mime_parse(m.data, m.len);
	struct buf b;

	assert_true(now_s() - t0 < 5.0);
	assert_int_equal(msg->part_count, MIME_MAX_PARTS);
	/* the last part runs to the end */
	assert_int_equal(msg->parts[MIME_MAX_PARTS - 1].body_end, m.len);
	assert_section(msg, "9998", "x");
	buf_init(&b);
	mime_write_bodystructure(msg, true, &b);
	assert_balanced(&b);
	buf_free(&b);
	mime_message_free(&msg);
	buf_free(&m);
}

static void test_hostile_deep(void **state)
{
	struct buf m, b;

	/* 1,000 nested multiparts, then 1,000 nested messages */
	for (int kind = 0; kind < 2; kind++) {
		buf_init(&m);
		for (int i = 0; i < 1000; i++) {
			if (kind == 0)
				buf_printf(&m,
				           "Content-Type: multipart/mixed; "
				           "boundary=d%dx\r\n\r\n--d%dx\r\n",
				           i, i);
			else
				buf_append_str(&m, "Content-Type: message/rfc822\r\n\r\n");
		}
		buf_append_str(&m, "\r\ndeepest\r\n");
		for (int i = 999; i >= 0 && kind == 0; i--)
			buf_printf(&m, "--d%dx--\r\n", i);
		double t0 = now_s();
		struct mime_message *msg = mime_parse(m.data, m.len);

		assert_true(now_s() - t0 < 5.0);
		assert_true(msg->part_count <= MIME_MAX_DEPTH + 1);
		for (uint32_t i = 0; i < msg->part_count; i++)
			assert_true(msg->parts[i].depth < MIME_MAX_DEPTH);
		buf_init(&b);
		mime_write_bodystructure(msg, true, &b);
		assert_balanced(&b);
		buf_reset(&b);
		mime_write_envelope(msg, &b);
		assert_balanced(&b);
		buf_free(&b);
		mime_message_free(&msg);
		buf_free(&m);
	}
}

static void test_hostile_no_separator(void **state)
{
	struct mime_message *msg = parse_str("Subject: x\r\nFrom: a@b.example");

	assert_int_equal(msg->part_count, 1);
	assert_section(msg, "HEADER", "Subject: x\r\nFrom: a@b.example");
	assert_section(msg, "TEXT", "");
	assert_section(msg, "1", "");
	mime_message_free(&msg);

	msg = mime_parse("", 0);
	assert_int_equal(msg->part_count, 1);
	assert_section(msg, "", "");
	struct buf b;

	buf_init(&b);
	mime_write_envelope(msg, &b);
	assert_string_equal(b.data, "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
	buf_free(&b);
	mime_message_free(&msg);
}

static void test_hostile_nul(void **state)
{
	size_t size = 4u * 1024 * 1024;
	char *m = xcalloc(1, size);
	struct buf b, d;

	struct mime_message *msg = mime_parse(m, size);

	assert_int_equal(msg->part_count, 1);
	assert_int_equal(msg->parts[0].body_start, size);
	buf_init(&b);
	mime_write_bodystructure(msg, true, &b);
	assert_string_equal(b.data, "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL "
	                            "\"7bit\" 0 0 NIL NIL NIL NIL)");
	buf_init(&d);
	assert_int_equal(mime_decode_part(m, size, msg->parts, msg->part_count, 0, &d), 0);
	assert_int_equal(d.len, 0);
	buf_free(&d);
	buf_free(&b);
	mime_message_free(&msg);
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tree_and_sections),    cmocka_unit_test(test_header_filter),
	    cmocka_unit_test(test_broken_boundaries),    cmocka_unit_test(test_crlf_split),
	    cmocka_unit_test(test_parts_encoding),       cmocka_unit_test(test_hostile_huge),
	    cmocka_unit_test(test_hostile_wide),         cmocka_unit_test(test_hostile_deep),
	    cmocka_unit_test(test_hostile_no_separator), cmocka_unit_test(test_hostile_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
