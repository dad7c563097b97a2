/* Unit tests for mime/address.c and envelope.c: RFC 5322 address lists in
 * IMAP's ENVELOPE form, including broken and hostile input. */
#include "mime/mime.h"
#include "mime/mime_private.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_addrs(const char *value, const char *want)
{
	struct mime_address_list list = {0};
	struct buf b;

	buf_init(&b);
	mime_address_parse((const unsigned char *)value, strlen(value), &list);
	mime_address_write(&list, &b);
	assert_string_equal(b.data, want);
	buf_free(&b);
	mime_address_list_free(&list);
}

static void test_simple(void **state)
{
	assert_addrs("a@b.example", "((NIL NIL \"a\" \"b.example\"))");
	assert_addrs("\"Joe Q. Public\" <john.q.public@example.com>",
	             "((\"Joe Q. Public\" NIL \"john.q.public\" \"example.com\"))");
	assert_addrs("Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>",
	             "((\"Mary Smith\" NIL \"mary\" \"x.test\")(NIL NIL \"jdoe\" \"example.org\")"
	             "(\"Who?\" NIL \"one\" \"y.test\"))");
	assert_addrs("bbb@ddd.com (John X. Doe)", "((\"John X. Doe\" NIL \"bbb\" \"ddd.com\"))");
	assert_addrs("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
	             "((\"Pete\" NIL \"pete\" \"silly.test\"))");
	assert_addrs("Folded\r\n\tName <f@example.org>",
	             "((\"Folded Name\" NIL \"f\" \"example.org\"))");
	assert_addrs("", "NIL");
	assert_addrs("   ", "NIL");
}

static void test_groups(void **state)
{
	assert_addrs("undisclosed-recipients:;",
	             "((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL))");
	assert_addrs("A Group:Ed Jones <c@a.test>,joe@where.test;",
	             "((NIL NIL \"A Group\" NIL)(\"Ed Jones\" NIL \"c\" \"a.test\")"
	             "(NIL NIL \"joe\" \"where.test\")(NIL NIL NIL NIL))");
	/* an unterminated group is closed */
	assert_addrs("G: a@b.test",
	             "((NIL NIL \"G\" NIL)(NIL NIL \"a\" \"b.test\")(NIL NIL NIL NIL))");
	/* encoded words stay encoded (RFC 3501 7.4.2) */
	assert_addrs("=?UTF-8?Q?Gr=C3=BCppe?=: a@example.org;",
	             "((NIL NIL \"=?UTF-8?Q?Gr=C3=BCppe?=\" NIL)(NIL NIL \"a\" \"example.org\")"
	             "(NIL NIL NIL NIL))");
}

static void test_broken(void **state)
{
	assert_addrs("\"john doe\"@example.com", "((NIL NIL \"john doe\" \"example.com\"))");
	assert_addrs("user-without-domain",
	             "((NIL NIL \"user-without-domain\" \"MISSING_DOMAIN\"))");
	assert_addrs("<local-only>", "((NIL NIL \"local-only\" \"MISSING_DOMAIN\"))");
	assert_addrs("@example.com", "((NIL NIL \"MISSING_MAILBOX\" \"example.com\"))");
	assert_addrs("<>", "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\"))");
	assert_addrs("<@relay1.example,@relay2.example:routed@example.org>",
	             "((NIL \"@relay1.example,@relay2.example\" \"routed\" \"example.org\"))");
	assert_addrs(
	    ", , empty@list.test",
	    "((NIL NIL \"MISSING_MAILBOX\" \"MISSING_DOMAIN\")(NIL NIL \"MISSING_MAILBOX\" "
	    "\"MISSING_DOMAIN\")(NIL NIL \"empty\" \"list.test\"))");
	assert_addrs("a@b.test,", "((NIL NIL \"a\" \"b.test\"))");
	/* specials in a quoted name need escaping or a literal */
	assert_addrs("\"x, \\\"y\\\"\" <xy@b.test>", "((\"x, \\\"y\\\"\" NIL \"xy\" \"b.test\"))");
	/* raw 8-bit: a literal, unchanged */
	assert_addrs("Zo\xc3\xab <z@b.test>", "(({4}\r\nZo\xc3\xab NIL \"z\" \"b.test\"))");
	/* truncated and junk input never fails */
	static const char *const junk[] = {
	    "\"unterminated",
	    "(unterminated comment",
	    "<",
	    ">",
	    "@",
	    ":",
	    ";",
	    ",,,,",
	    "a@",
	    "<a@b",
	    "a <b@c> d <e@f>",
	    "\\",
	    "[1.2.3.4]",
	    "x@[1.2.3.4]",
	    ":;:;:;",
	    "<@a:>",
	    "<@a,@b>",
	    "\x01\x02\x7f",
	    "a@b@c",
	};
	for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
		struct mime_address_list list = {0};
		struct buf b;

		buf_init(&b);
		mime_address_parse((const unsigned char *)junk[i], strlen(junk[i]), &list);
		mime_address_write(&list, &b);
		assert_non_null(b.data);
		assert_true(b.data[0] == '(' || strcmp(b.data, "NIL") == 0);
		buf_free(&b);
		mime_address_list_free(&list);
	}
}

static void test_overlong(void **state)
{
	struct buf v, b;
	struct mime_address_list list = {0};

	/* far more addresses than the limit */
	buf_init(&v);
	for (int i = 0; i < MIME_MAX_ADDRESSES + 500; i++)
		buf_printf(&v, "u%d@example.org, ", i);
	mime_address_parse((const unsigned char *)v.data, v.len, &list);
	assert_true(list.count <= MIME_MAX_ADDRESSES);
	assert_true(list.count > 1000);
	mime_address_list_free(&list);
	/* one huge name */
	buf_reset(&v);
	for (int i = 0; i < 20000; i++)
		buf_append_str(&v, "x ");
	buf_append_str(&v, "<a@b.test>");
	buf_init(&b);
	mime_address_parse((const unsigned char *)v.data, v.len, &list);
	assert_int_equal(list.count, 1);
	mime_address_write(&list, &b);
	assert_true(b.len > 40000);
	mime_address_list_free(&list);
	buf_free(&b);
	buf_free(&v);
}

static void test_envelope(void **state)
{
	static const char msg[] = "From: a@b.test\r\n"
	                          "Subject: first\r\n"
	                          "From: c@d.test\r\n"
	                          "Sender:\r\n"
	                          "Subject: this\r\n is\r\n\t folded  \r\n"
	                          "Date: Mon,\r\n 01 Jan 2024 10:00:00 +0000\r\n"
	                          "Message-ID:\r\n <id@x>\r\n"
	                          "\r\nbody\r\n";
	struct mime_message *m = mime_parse(msg, strlen(msg));
	struct buf b;

	buf_init(&b);
	mime_write_envelope(m, &b);
	/* last Subject/Date/Message-ID; From concatenated; empty Sender and
	 * missing Reply-To fall back to From */
	assert_string_equal(
	    b.data, "(\"Mon, 01 Jan 2024 10:00:00 +0000\" \"this is folded\" "
	            "((NIL NIL \"a\" \"b.test\")(NIL NIL \"c\" \"d.test\")) "
	            "((NIL NIL \"a\" \"b.test\")(NIL NIL \"c\" \"d.test\")) "
	            "((NIL NIL \"a\" \"b.test\")(NIL NIL \"c\" \"d.test\")) NIL NIL NIL NIL "
	            "\" <id@x>\")");
	buf_free(&b);
	mime_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_simple),   cmocka_unit_test(test_groups),
	    cmocka_unit_test(test_broken),   cmocka_unit_test(test_overlong),
	    cmocka_unit_test(test_envelope),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
