/*
 * imap/seqset.c — sequence sets (RFC 9051 9 sequence-set, RFC 5182 "$").
 *
 *   sequence-set = (seq-number / seq-range) ["," sequence-set]
 *   seq-range    = seq-number ":" seq-number
 *   seq-number   = nz-number / "*"
 *   nz-number    = digit-nz *DIGIT   ; 0 < n < 4,294,967,296
 *
 * Sets are kept as ranges and never expanded, so "1:4294967295" costs one
 * range. '*' is IMAP_SEQ_STAR (UINT32_MAX) until resolved, which means the
 * number 4294967295 and '*' cannot be told apart (as in Dovecot): after
 * resolving, both are the largest number in use.
 */
#include "imap/parser.h"

#include "base/base.h"

#include <stdlib.h>
#include <string.h>

/* Parse one seq-number at *sp; advance *sp past it. */
static int seq_number_parse(const char **sp, uint32_t *num_r, const char **error_r)
{
	const char *s = *sp;
	uint64_t n = 0;

	if (*s == '*') {
		*num_r = IMAP_SEQ_STAR;
		*sp = s + 1;
		return 0;
	}
	if (*s < '0' || *s > '9') {
		*error_r = "Invalid sequence set: number expected";
		return -1;
	}
	if (*s == '0') {
		/* nz-number = digit-nz *DIGIT: no 0, no leading zeros */
		*error_r = "Invalid sequence set: zero or leading zero";
		return -1;
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX) {
			*error_r = "Invalid sequence set: number too big";
			return -1;
		}
	}
	*num_r = (uint32_t)n;
	*sp = s;
	return 0;
}

int imap_seqset_parse(const char *s, size_t max_ranges, struct imap_seqset *set_r,
                      const char **error_r)
{
	size_t cap = 0;

	memset(set_r, 0, sizeof(*set_r));
	if (strcmp(s, "$") == 0) {
		/* RFC 5182 2.1: "$" alone refers to the saved search result */
		set_r->saved = true;
		return 0;
	}
	for (;;) {
		uint32_t lo, hi;

		if (seq_number_parse(&s, &lo, error_r) < 0)
			goto fail;
		hi = lo;
		if (*s == ':') {
			s++;
			if (seq_number_parse(&s, &hi, error_r) < 0)
				goto fail;
		}
		if (set_r->count >= max_ranges) {
			*error_r = "Too many ranges in sequence set";
			goto fail;
		}
		if (set_r->count == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			if (cap > max_ranges)
				cap = max_ranges;
			set_r->ranges = xrealloc(set_r->ranges, cap * sizeof(*set_r->ranges));
		}
		/* "5:2" is 2:5 (RFC 9051 9: seq-range is unordered) */
		set_r->ranges[set_r->count].lo = lo < hi ? lo : hi;
		set_r->ranges[set_r->count].hi = lo < hi ? hi : lo;
		set_r->count++;
		if (*s == '\0')
			return 0;
		if (*s != ',') {
			*error_r = "Invalid sequence set";
			goto fail;
		}
		s++;
	}
fail:
	imap_seqset_free(set_r);
	return -1;
}

void imap_seqset_free(struct imap_seqset *set)
{
	free(set->ranges);
	set->ranges = NULL;
	set->count = 0;
	set->saved = false;
}

static int range_cmp(const void *a, const void *b)
{
	const struct imap_seq_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->hi < y->hi ? -1 : (x->hi > y->hi ? 1 : 0);
}

/*
 * '*' becomes star; ranges are ordered, then sorted and merged (adjacent
 * ones too) so that imap_seqset_contains() can search them. Number 0 is in
 * no set: with star 0 (an empty mailbox) "*" matches nothing and "1:*"
 * is just 1.
 */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star)
{
	size_t n = 0;

	for (size_t i = 0; i < set->count; i++) {
		struct imap_seq_range r = set->ranges[i];

		if (r.lo == IMAP_SEQ_STAR)
			r.lo = star;
		if (r.hi == IMAP_SEQ_STAR)
			r.hi = star;
		if (r.lo > r.hi) {
			uint32_t t = r.lo;
			r.lo = r.hi;
			r.hi = t;
		}
		if (r.hi == 0)
			continue;
		if (r.lo == 0)
			r.lo = 1;
		set->ranges[n++] = r;
	}
	set->count = n;
	if (n == 0)
		return;
	qsort(set->ranges, n, sizeof(*set->ranges), range_cmp);

	size_t out = 0;
	for (size_t i = 1; i < n; i++) {
		struct imap_seq_range *last = &set->ranges[out];
		const struct imap_seq_range *r = &set->ranges[i];

		/* overlapping or adjacent (careful: hi + 1 overflows) */
		if (last->hi == UINT32_MAX || r->lo <= last->hi + 1) {
			if (r->hi > last->hi)
				last->hi = r->hi;
		} else {
			set->ranges[++out] = *r;
		}
	}
	set->count = out + 1;
}

bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n)
{
	size_t lo = 0, hi = set->count;

	/* binary search over the sorted, disjoint ranges of a resolved set */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct imap_seq_range *r = &set->ranges[mid];

		if (n < r->lo)
			hi = mid;
		else if (n > r->hi)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}
