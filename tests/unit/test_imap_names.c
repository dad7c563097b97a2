/* Mailbox names on the wire: modified UTF-7 (RFC 3501 5.1.3) and UTF-8. */
#include "imap/session_private.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static char *decode_ok(const char *wire, bool utf8)
{
	char *out = NULL;
	const char *error = NULL;

	if (imap_mailbox_name_decode(wire, strlen(wire), utf8, &out, &error) < 0)
		fail_msg("\"%s\" refused: %s", wire, error);
	return out;
}

static void decode_bad(const char *wire, size_t len, bool utf8)
{
	char *out = NULL;
	const char *error = NULL;

	assert_int_equal(imap_mailbox_name_decode(wire, len, utf8, &out, &error), -1);
	assert_null(out);
	assert_non_null(error);
}

static void test_rfc3501_example(void **state)
{
	/* RFC 3501 5.1.3's example: ~peter/mail/台北/日本語 */
	char *s = decode_ok("~peter/mail/&U,BTFw-/&ZeVnLIqe-", false);
	assert_string_equal(s, "~peter/mail/\xe5\x8f\xb0\xe5\x8c\x97/"
	                       "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e");
	char *back = imap_mailbox_name_encode(s, false);
	assert_string_equal(back, "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
	free(back);
	/* in UTF-8 mode the name goes out as it is */
	back = imap_mailbox_name_encode(s, true);
	assert_string_equal(back, s);
	free(back);
	free(s);
}

static void test_ampersand_and_ascii(void **state)
{
	char *s = decode_ok("Tom &- Jerry", false);
	assert_string_equal(s, "Tom & Jerry");
	char *back = imap_mailbox_name_encode(s, false);
	assert_string_equal(back, "Tom &- Jerry");
	free(back);
	free(s);
	s = decode_ok("INBOX/Sent Items", false);
	assert_string_equal(s, "INBOX/Sent Items");
	free(s);
	s = decode_ok("Entw&APw-rfe", false);
	assert_string_equal(s, "Entw\xc3\xbcrfe");
	free(s);
}

static void test_invalid_utf7(void **state)
{
	decode_bad("&AGE-", 5, false);               /* "a" encoded: not the shortest form */
	decode_bad("&", 1, false);                   /* unterminated */
	decode_bad("&U,BTFw", 7, false);             /* no closing '-' */
	decode_bad("&U,BTFw-&ZeVnLIqe-", 18, false); /* two runs back to back */
	decode_bad("&!!-", 4, false);                /* not base64 */
	decode_bad("caf\xc3\xa9", 5, false);         /* raw 8-bit in rev1 */
	decode_bad("a\0b", 3, false);
}

static void test_utf8_mode(void **state)
{
	char *s = decode_ok("caf\xc3\xa9/&AGE-", true);
	/* in UTF-8 mode '&' is just a character */
	assert_string_equal(s, "caf\xc3\xa9/&AGE-");
	free(s);
	decode_bad("caf\xc3", 4, true);      /* truncated sequence */
	decode_bad("\xc0\xaf", 2, true);     /* overlong */
	decode_bad("\xed\xa0\x80", 3, true); /* surrogate */
	decode_bad("a\0b", 3, true);
}

static void test_round_trip_many(void **state)
{
	static const char *const names[] = {
	    "\xe2\x98\xba",
	    "a\xe2\x98\xba"
	    "b",
	    "\xf0\x9f\x93\xa7 mail",
	    "&&&",
	    "\xd0\x9f\xd0\xbe\xd1\x87\xd1\x82\xd0\xb0/\xd0\x92\xd1\x85",
	    "-&-",
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		char *wire = imap_mailbox_name_encode(names[i], false);
		for (const char *p = wire; *p != '\0'; p++)
			assert_true((unsigned char)*p < 0x80);
		char *back = decode_ok(wire, false);
		assert_string_equal(back, names[i]);
		free(back);
		free(wire);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc3501_example), cmocka_unit_test(test_ampersand_and_ascii),
	    cmocka_unit_test(test_invalid_utf7),    cmocka_unit_test(test_utf8_mode),
	    cmocka_unit_test(test_round_trip_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
