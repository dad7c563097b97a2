/* Unit tests for mime/'s decoders: base64, quoted-printable, RFC 2047
 * encoded words, RFC 2231 parameters, charsets, dates, and the summary;
 * with hostile input (truncated, overlong, invalid). */
#include "mime/mime.h"
#include "mime/mime_private.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_b64(const char *in, const char *want, size_t want_len)
{
	struct buf b;

	buf_init(&b);
	mime_base64_decode((const unsigned char *)in, strlen(in), &b);
	assert_int_equal(b.len, want_len);
	if (want_len > 0)
		assert_memory_equal(b.data, want, want_len);
	buf_free(&b);
}

static void test_base64(void **state)
{
	assert_b64("aGVsbG8gd29ybGQ=", "hello world", 11);
	assert_b64("aGVs\r\nbG8g\r\n d29y bGQ=\r\n", "hello world", 11);
	/* missing padding, junk characters, data after padding */
	assert_b64("aGVsbG8gd29ybGQ", "hello world", 11);
	assert_b64("aGV*sbG!8gd29y\x01"
	           "bGQ=",
	           "hello world", 11);
	assert_b64("aGk=aGk=", "hihi", 4);
	assert_b64("AAAA", "\0\0\0", 3);
	/* truncated: a lone sixth of a byte gives nothing */
	assert_b64("a", "", 0);
	assert_b64("", "", 0);
	assert_b64("====", "", 0);
	/* every prefix of a valid text decodes to a prefix of its bytes */
	static const char full[] = "VGhlIHF1aWNrIGJyb3duIGZveA==";
	for (size_t n = 0; n <= strlen(full); n++) {
		struct buf b;

		buf_init(&b);
		mime_base64_decode((const unsigned char *)full, n, &b);
		assert_true(b.len <= 19);
		if (b.len > 0)
			assert_memory_equal(b.data, "The quick brown fox", b.len);
		buf_free(&b);
	}
}

static void assert_qp(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b);
	mime_qp_decode((const unsigned char *)in, strlen(in), &b);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data ? b.data : "", want, b.len);
	buf_free(&b);
}

static void test_qp(void **state)
{
	assert_qp("a=3Db", "a=b");
	assert_qp("hippopot=\r\namusgrove\r\n", "hippopotamusgrove\r\n");
	assert_qp("lower =c3=a9 case\r\n", "lower \xc3\xa9 case\r\n");
	assert_qp("trailing   \r\nspace\t\r\n", "trailing\r\nspace\r\n");
	assert_qp("soft with space=  \r\nnext", "soft with spacenext");
	/* invalid escapes are kept, a soft break at the very end dropped */
	assert_qp("bad =XY and =4", "bad =XY and =4");
	assert_qp("end=", "end");
	assert_qp("=", "");
	assert_qp("", "");
	assert_qp("bare lf\nline", "bare lf\r\nline");
}

static void test_decode_body(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(mime_decode_body(MIME_CTE_BASE64, "aGk=", 4, &b), 0);
	assert_string_equal(b.data, "hi");
	buf_reset(&b);
	assert_int_equal(mime_decode_body(MIME_CTE_8BIT, "x\0y", 3, &b), 0);
	assert_int_equal(b.len, 3);
	buf_reset(&b);
	assert_int_equal(mime_decode_body(MIME_CTE_UNKNOWN, "begin 644", 9, &b), -1);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	assert_int_equal(mime_cte_parse((const unsigned char *)" Base64 (c)", 11), MIME_CTE_BASE64);
	assert_int_equal(mime_cte_parse((const unsigned char *)"", 0), MIME_CTE_UNKNOWN);
	assert_int_equal(mime_cte_parse((const unsigned char *)"x-uuencode", 10), MIME_CTE_UNKNOWN);
}

static void assert_2047(const char *in, const char *want)
{
	struct buf b;

	buf_init(&b);
	mime_header_decode_utf8(in, strlen(in), &b);
	assert_string_equal(b.data ? b.data : "", want);
	buf_free(&b);
}

static void test_rfc2047(void **state)
{
	assert_2047("=?UTF-8?Q?Caf=C3=A9?=", "Caf\xc3\xa9");
	assert_2047("=?utf-8?b?w6k=?=", "\xc3\xa9");
	/* adjacent words joined, even across folding; other space kept */
	assert_2047("=?UTF-8?Q?a?= =?UTF-8?Q?b?=\r\n =?UTF-8?Q?_c?= d", "ab c d");
	/* a character split across two words */
	assert_2047("=?UTF-8?B?ww==?= =?UTF-8?B?qQ==?=", "\xc3\xa9");
	assert_2047("=?UTF-8?Q?=C3?= =?UTF-8?Q?=A9?=", "\xc3\xa9");
	assert_2047("=?ISO-8859-1?Q?br=FBl=E9e?=", "br\xc3\xbbl\xc3\xa9"
	                                           "e");
	assert_2047("=?KOI8-R?B?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	assert_2047("=?ISO-2022-JP?B?GyRCJEskWyRzGyhC?=", "\xe3\x81\xab\xe3\x81\xbb\xe3\x82\x93");
	assert_2047("=?us-ascii*en?Q?lang?=", "lang");
	/* glued words, words in quotes */
	assert_2047("=?UTF-8?Q?a?==?UTF-8?Q?b?=", "ab");
	assert_2047("\"=?UTF-8?Q?q?=\"", "\"q\"");
	/* malformed: kept as written */
	assert_2047("=?UTF-8?Q?unterminated", "=?UTF-8?Q?unterminated");
	assert_2047("=?UTF-8?X?bad?=", "=?UTF-8?X?bad?=");
	assert_2047("=??Q?x?=", "=??Q?x?=");
	assert_2047("=?", "=?");
	assert_2047("=?UTF-8?Q?with space?=", "=?UTF-8?Q?with space?=");
	/* unknown charset: bytes kept, not an error */
	assert_2047("=?x-unknown?Q?abc=FF?=", "abc\xff");
	/* bad base64 inside a word still gives what can be decoded */
	assert_2047("=?UTF-8?B?aGk*?=", "hi");
	/* raw 8-bit is kept (taken as UTF-8) */
	assert_2047("  Gr\xc3\xbc\xc3\x9f"
	            "e",
	            "Gr\xc3\xbc\xc3\x9f"
	            "e");
}

static void test_charset(void **state)
{
	struct buf b;

	buf_init(&b);
	assert_int_equal(mime_charset_to_utf8("iso-8859-1", "\xe9", 1, &b), 0);
	assert_string_equal(b.data, "\xc3\xa9");
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("windows-1252", "\x80", 1, &b), 0);
	assert_string_equal(b.data, "\xe2\x82\xac");
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("UTF-16",
	                                      "\xff\xfe"
	                                      "a\0",
	                                      4, &b),
	                 0);
	assert_string_equal(b.data, "a");
	buf_reset(&b);
	/* invalid sequences: U+FFFD, and conversion goes on */
	assert_int_equal(mime_charset_to_utf8("ISO-2022-JP", "\x1b$B\xff\xff", 5, &b), 0);
	assert_non_null(strstr(b.data, "\xef\xbf\xbd"));
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("UTF-16LE", "a\0b", 3, &b), 0);
	assert_string_equal(b.data, "a\xef\xbf\xbd");
	buf_reset(&b);
	assert_int_equal(mime_charset_to_utf8("no-such-charset", "x\xff", 2, &b), -1);
	assert_string_equal(b.data, "x\xff");
	buf_free(&b);
}

static void assert_params(const char *ct_value, const char *want)
{
	struct mime_ctype ct;
	struct buf b;

	mime_ctype_parse((const unsigned char *)ct_value, strlen(ct_value), &ct);
	buf_init(&b);
	buf_printf(&b, "%s/%s", ct.type, ct.subtype);
	for (unsigned i = 0; i < ct.param_count; i++)
		buf_printf(&b, " %s=%s", ct.params[i].name, ct.params[i].value);
	assert_string_equal(b.data, want);
	buf_free(&b);
	mime_ctype_free(&ct);
}

static void test_rfc2231_and_ctype(void **state)
{
	assert_params("text/plain; charset=us-ascii", "text/plain charset=us-ascii");
	assert_params("application/pdf; name*0*=UTF-8''%E6%97; name*1*=%A5; name*2=\".pdf\"",
	              "application/pdf name*=UTF-8''%E6%97%A5.pdf");
	assert_params("a/b; name*1=\"second\"; name*0=\"first-\"", "a/b name=first-second");
	/* a gap or a repeated index: left as written */
	assert_params("a/b; f*0*=x; f*0=y", "a/b f*0*=x f*0=y");
	assert_params("a/b; f*0=x; f*2=z", "a/b f*0=x f*2=z");
	/* merged parameters follow the plain ones */
	assert_params("a/b; t*=us-ascii'en'x; size=7", "a/b size=7 t*=us-ascii'en'x");
	/* broken types and parameters (Dovecot's readings) */
	assert_params("text", "text/");
	assert_params("text; charset=x", "/");
	assert_params("text/", "/");
	assert_params("/plain", "/");
	assert_params("foo bar baz", "/");
	assert_params("application/pdf name=x", "/");
	assert_params("text/plain; charset; name=; =value; x=\"unterminated", "text/plain =value");
	assert_params("application/x-custom(comment); a=b (comment)", "application/x-custom a=b");
	assert_params("", "/");

	struct mime_ctype ct;
	struct buf b;

	buf_init(&b);
	static const char cv[] = "a/b; n*=iso-8859-1'de'Gr%FC%DF; m=\"=?UTF-8?Q?x=C3=A9?=\"";

	mime_ctype_parse((const unsigned char *)cv, strlen(cv), &ct);
	mime_param_decode_utf8(&ct, "n", &b);
	assert_string_equal(b.data, "Gr\xc3\xbc\xc3\x9f");
	buf_reset(&b);
	mime_param_decode_utf8(&ct, "m", &b);
	assert_string_equal(b.data, "x\xc3\xa9");
	buf_free(&b);
	mime_ctype_free(&ct);
}

static void assert_date(const char *s, long long want, int want_tz)
{
	time_t t;
	int tz;

	assert_int_equal(mime_date_parse(s, strlen(s), &t, &tz), 0);
	assert_int_equal((long long)t, want);
	assert_int_equal(tz, want_tz);
}

static void test_date(void **state)
{
	assert_date("Mon, 01 Jan 2024 10:00:00 +0000", 1704103200, 0);
	assert_date("Thu, 13 Feb 1969 23:32:54 -0330", -27723426, -210);
	assert_date("1 Jan 2024 10:00 +0100", 1704099600, 60);
	/* obsolete: two-digit year, zone names, comments, folding */
	assert_date("Fri, 4 May 01 14:05:44 EDT", 988999544, -240);
	assert_date("4 May 99 14:05:44 GMT", 925826744, 0);
	assert_date("Mon (comment), 01 Jan 2024\r\n 10:00:00 (x) +0000 (UTC)", 1704103200, 0);
	assert_date("01-Jan-2024 10:00:00 +0000", 1704103200, 0);
	assert_date("Mon, 01 Jan 2024 10:00:00", 1704103200, 0);
	static const char *const bad[] = {
	    "",        "Mon,",           "32 Jan 2024 10:00:00 +0000", "1 Foo 2024 10:00:00",
	    "1 Jan",   "1 Jan 2024",     "1 Jan 2024 25:00",           "1 Jan 2024 10:61",
	    "garbage", "1 Jan 2024 10:",
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		time_t t;
		int tz;

		assert_int_equal(mime_date_parse(bad[i], strlen(bad[i]), &t, &tz), -1);
	}
}

static void test_summary(void **state)
{
	static const char msg[] = "Subject: =?ISO-2022-JP?B?GyRCJEskWyRzGyhC?=\r\n"
	                          "From: =?UTF-8?Q?Zo=C3=AB?= <z@example.org>\r\n"
	                          "To: a@b.test\r\nTo: c@d.test\r\n"
	                          "Date: Mon, 01 Jan 2024 10:00:00 +0100\r\n"
	                          "Message-ID:  <id@x>  \r\n\r\nbody";
	struct mime_message *m = mime_parse(msg, strlen(msg));
	struct mime_summary sum;

	mime_summary_get(m, &sum);
	assert_string_equal(sum.subject, "\xe3\x81\xab\xe3\x81\xbb\xe3\x82\x93");
	assert_string_equal(sum.from, "Zo\xc3\xab <z@example.org>");
	assert_string_equal(sum.to, "a@b.test, c@d.test");
	assert_null(sum.cc);
	assert_string_equal(sum.message_id, "<id@x>");
	assert_int_equal((long long)sum.date, 1704099600);
	assert_int_equal(sum.date_tz, 60);
	mime_summary_free(&sum);
	assert_null(sum.subject);
	mime_message_free(&m);
}

static void test_part_text(void **state)
{
	static const char msg[] = "Content-Type: multipart/mixed; boundary=b\r\n\r\n"
	                          "--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
	                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
	                          "caf=E9\r\n"
	                          "--b\r\nContent-Type: text/plain; charset=utf-16\r\n"
	                          "Content-Transfer-Encoding: base64\r\n\r\n"
	                          "//5oAGkA\r\n"
	                          "--b\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin\r\n"
	                          "--b--\r\n";
	struct mime_message *m = mime_parse(msg, strlen(msg));
	struct buf b;

	buf_init(&b);
	assert_int_equal(mime_part_text_utf8(m->data, m->len, m->parts, m->part_count, 1, &b), 0);
	assert_string_equal(b.data, "caf\xc3\xa9");
	buf_reset(&b);
	assert_int_equal(mime_part_text_utf8(m->data, m->len, m->parts, m->part_count, 2, &b), 0);
	assert_string_equal(b.data, "hi");
	buf_reset(&b);
	assert_int_equal(mime_part_text_utf8(m->data, m->len, m->parts, m->part_count, 3, &b), -1);
	assert_int_equal(mime_decode_part(m->data, m->len, m->parts, m->part_count, 3, &b), -1);
	assert_int_equal(mime_decode_part(m->data, m->len, m->parts, m->part_count, 99, &b), -1);
	buf_free(&b);
	mime_message_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_base64),      cmocka_unit_test(test_qp),
	    cmocka_unit_test(test_decode_body), cmocka_unit_test(test_rfc2047),
	    cmocka_unit_test(test_charset),     cmocka_unit_test(test_rfc2231_and_ctype),
	    cmocka_unit_test(test_date),        cmocka_unit_test(test_summary),
	    cmocka_unit_test(test_part_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
