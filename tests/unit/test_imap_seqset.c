/* Unit tests for imap/seqset.c (RFC 9051 sequence-set, RFC 5182 "$"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"
#include "imap/parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "lo:hi,lo:hi" ('*' for IMAP_SEQ_STAR), or "$" */
static char *seqset_str(const struct imap_seqset *set)
{
	struct buf b;

	buf_init(&b);
	buf_append_str(&b, "");
	if (set->saved)
		buf_append_str(&b, "$");
	for (size_t i = 0; i < set->count; i++) {
		const struct imap_seq_range *r = &set->ranges[i];
		if (i > 0)
			buf_append_byte(&b, ',');
		if (r->lo == IMAP_SEQ_STAR)
			buf_append_byte(&b, '*');
		else
			buf_printf(&b, "%u", r->lo);
		buf_append_byte(&b, ':');
		if (r->hi == IMAP_SEQ_STAR)
			buf_append_byte(&b, '*');
		else
			buf_printf(&b, "%u", r->hi);
	}
	return b.data;
}

static void check_parse(const char *in, const char *expect)
{
	struct imap_seqset set;
	const char *error = NULL;

	if (imap_seqset_parse(in, 100, &set, &error) < 0)
		fail_msg("\"%s\": %s", in, error);
	char *got = seqset_str(&set);
	if (strcmp(got, expect) != 0)
		fail_msg("\"%s\": got \"%s\", expected \"%s\"", in, got, expect);
	free(got);
	imap_seqset_free(&set);
	assert_null(set.ranges);
	assert_int_equal(set.count, 0);
}

static void check_bad(const char *in)
{
	struct imap_seqset set;
	const char *error = NULL;

	if (imap_seqset_parse(in, 100, &set, &error) == 0)
		fail_msg("\"%s\" parsed", in);
	assert_non_null(error);
	/* the reason is static text, never the client's bytes */
	assert_null(strchr(error, '\r'));
	assert_null(set.ranges);
	assert_int_equal(set.count, 0);
	assert_false(set.saved);
}

static void check_resolve(const char *in, uint32_t star, const char *expect)
{
	struct imap_seqset set;
	const char *error = NULL;

	assert_int_equal(imap_seqset_parse(in, 1000, &set, &error), 0);
	imap_seqset_resolve(&set, star);
	char *got = seqset_str(&set);
	if (strcmp(got, expect) != 0)
		fail_msg("\"%s\" star %u: got \"%s\", expected \"%s\"", in, star, got, expect);
	free(got);
	imap_seqset_free(&set);
}

static void test_parse_valid(void **state)
{
	check_parse("1", "1:1");
	check_parse("42", "42:42");
	check_parse("1:5", "1:5");
	check_parse("5:2", "2:5");
	check_parse("*", "*:*");
	check_parse("1:*", "1:*");
	check_parse("*:3", "3:*");
	check_parse("*:*", "*:*");
	check_parse("1,3:5,*", "1:1,3:5,*:*");
	check_parse("4294967294", "4294967294:4294967294");
	check_parse("1:4294967294", "1:4294967294");
	/* 4294967295 is the number '*' is stored as (as in Dovecot) */
	check_parse("4294967295", "*:*");
	check_parse("3,2,1,2", "3:3,2:2,1:1,2:2"); /* kept as sent until resolved */
}

static void test_parse_saved(void **state)
{
	struct imap_seqset set;
	const char *error = NULL;

	assert_int_equal(imap_seqset_parse("$", 10, &set, &error), 0);
	assert_true(set.saved);
	assert_int_equal(set.count, 0);
	imap_seqset_resolve(&set, 10);
	assert_true(set.saved);
	assert_false(imap_seqset_contains(&set, 1));
	imap_seqset_free(&set);
	assert_false(set.saved);
}

static void test_parse_invalid(void **state)
{
	static const char *const bad[] = {
	    "",
	    "0",
	    "0:5",
	    "5:0",
	    "1,",
	    ",1",
	    "1:",
	    ":1",
	    "1:*:2",
	    "1:2:3",
	    "4294967296",
	    "99999999999999999999",
	    "01",
	    "1:05",
	    "a",
	    "1a",
	    "1 2",
	    " 1",
	    "1 ",
	    "$,1",
	    "1,$",
	    "$$",
	    "$1",
	    "-1",
	    "+1",
	    "1,,2",
	    "**",
	    "1:**",
	    "*1",
	    "1.5",
	    "1;2",
	    "1\r\n",
	    "\xc2\xb9",
	    ":",
	    ",",
	    "*:",
	    "18446744073709551617",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		check_bad(bad[i]);
}

static void test_max_ranges(void **state)
{
	struct imap_seqset set;
	const char *error = NULL;

	assert_int_equal(imap_seqset_parse("1,2:3,*", 3, &set, &error), 0);
	assert_int_equal(set.count, 3);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse("1,2:3,*", 2, &set, &error), -1);
	assert_string_equal(error, "Too many ranges in sequence set");
	assert_null(set.ranges);
	assert_int_equal(imap_seqset_parse("1", 0, &set, &error), -1);

	/* a long set within the limit */
	struct buf b;
	buf_init(&b);
	for (int i = 1; i <= 10000; i++)
		buf_printf(&b, "%s%d", i > 1 ? "," : "", i * 2);
	assert_int_equal(imap_seqset_parse(b.data, 10000, &set, &error), 0);
	assert_int_equal(set.count, 10000);
	imap_seqset_free(&set);
	assert_int_equal(imap_seqset_parse(b.data, 9999, &set, &error), -1);
	buf_free(&b);
}

static void test_resolve(void **state)
{
	check_resolve("1:*", 10, "1:10");
	check_resolve("*", 10, "10:10");
	check_resolve("5:*", 3, "3:5");
	check_resolve("*:5", 3, "3:5");
	check_resolve("1:3,2:6,8,7,10:12,13", 100, "1:8,10:13");
	check_resolve("10,9,8,1", 100, "1:1,8:10");
	check_resolve("1,*", 1, "1:1");
	check_resolve("2,4,6", 100, "2:2,4:4,6:6");
	check_resolve("1:2,3:4", 100, "1:4"); /* adjacent ranges merge */
	/* an empty mailbox: '*' is 0, which is in no set */
	check_resolve("*", 0, "");
	check_resolve("*:*,*", 0, "");
	check_resolve("1:*", 0, "1:1");
	check_resolve("3,1:*", 0, "1:1,3:3");
	/* no overflow at the top */
	check_resolve("4294967294,1:4294967293", 5, "1:4294967294");
	check_resolve("4294967294:*,1", 4294967294u, "1:1,4294967294:4294967294");
	check_resolve("1:*,5,4294967294", 4294967294u, "1:4294967294");
	check_resolve("4294967295,4294967295,1", 4294967295u, "1:1,*:*");
	check_resolve("1:4294967294,3", 4294967295u, "1:4294967294");
}

static void test_contains(void **state)
{
	struct imap_seqset set;
	const char *error = NULL;

	assert_int_equal(imap_seqset_parse("1:3,7,9:*,5", 10, &set, &error), 0);
	imap_seqset_resolve(&set, 12);
	static const bool want[] = {false, true,  true, true, false, true, false,
	                            true,  false, true, true, true,  true, false};
	for (uint32_t n = 0; n < ARRAY_SIZE(want); n++) {
		if (imap_seqset_contains(&set, n) != want[n])
			fail_msg("contains(%u)", n);
	}
	assert_false(imap_seqset_contains(&set, UINT32_MAX));
	imap_seqset_free(&set);
	assert_false(imap_seqset_contains(&set, 1));

	/* many disjoint ranges: binary search must find every one */
	struct buf b;
	buf_init(&b);
	for (int i = 1999; i >= 1; i -= 2)
		buf_printf(&b, "%s%d", i < 1999 ? "," : "", i);
	assert_int_equal(imap_seqset_parse(b.data, 1000, &set, &error), 0);
	imap_seqset_resolve(&set, 5000);
	assert_int_equal(set.count, 1000);
	for (uint32_t n = 0; n <= 2001; n++)
		assert_int_equal(imap_seqset_contains(&set, n), n % 2 == 1 && n < 2000);
	imap_seqset_free(&set);
	buf_free(&b);
}

/* "1:4294967295" is one range: nothing is expanded. */
static void test_huge_range(void **state)
{
	struct imap_seqset set;
	const char *error = NULL;

	assert_int_equal(imap_seqset_parse("1:4294967294,7,100:200", 10, &set, &error), 0);
	imap_seqset_resolve(&set, 4294967295u);
	assert_int_equal(set.count, 1);
	assert_int_equal(set.ranges[0].lo, 1);
	assert_int_equal(set.ranges[0].hi, 4294967294u);
	assert_true(imap_seqset_contains(&set, 4000000000u));
	assert_false(imap_seqset_contains(&set, 0));
	imap_seqset_free(&set);

	assert_int_equal(imap_seqset_parse("1:*", 10, &set, &error), 0);
	imap_seqset_resolve(&set, 4294967295u);
	assert_int_equal(set.count, 1);
	assert_true(imap_seqset_contains(&set, 4294967295u));
	imap_seqset_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_valid),   cmocka_unit_test(test_parse_saved),
	    cmocka_unit_test(test_parse_invalid), cmocka_unit_test(test_max_ranges),
	    cmocka_unit_test(test_resolve),       cmocka_unit_test(test_contains),
	    cmocka_unit_test(test_huge_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
