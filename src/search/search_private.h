/* search/search_private.h — the program tree, shared by compile.c and
 * match.c (private to search/). */
#ifndef ROOST_SEARCH_PRIVATE_H
#define ROOST_SEARCH_PRIVATE_H

#include "search/search.h"

enum search_node_type {
	SEARCH_ALL,
	SEARCH_AND,     /* kids: a parenthesized list, or the top level */
	SEARCH_OR,      /* exactly two kids */
	SEARCH_NOT,     /* exactly one kid */
	SEARCH_FLAGS,   /* (flags & mask) == value */
	SEARCH_KEYWORD, /* str: the keyword (not folded: keywords are ASCII) */
	SEARCH_RECENT,
	SEARCH_LARGER, /* num */
	SEARCH_SMALLER,
	SEARCH_BEFORE, /* day: days since 1970-01-01 */
	SEARCH_ON,
	SEARCH_SINCE,
	SEARCH_SENTBEFORE,
	SEARCH_SENTON,
	SEARCH_SENTSINCE,
	SEARCH_HEADER, /* field, str (folded) */
	SEARCH_BODY,   /* str (folded) */
	SEARCH_TEXT,
	SEARCH_SEQSET, /* set */
	SEARCH_UIDSET,
};

struct search_node {
	enum search_node_type type;
	struct search_node *kids;
	size_t nkids;
	unsigned mask, value; /* FLAGS */
	uint64_t num;         /* LARGER, SMALLER */
	int64_t day;          /* dates */
	char *field;          /* HEADER: the field name as sent (ASCII) */
	char *str;            /* KEYWORD; HEADER/BODY/TEXT: the case-folded needle */
	size_t str_len;
	struct imap_seqset set;      /* as parsed ('*' symbolic, "$") */
	struct imap_seqset resolved; /* after search_program_bind */
};

struct search_program {
	struct search_node root; /* SEARCH_AND of the top-level keys */
	bool needs_headers, needs_text, uses_saved, has_sets;
	bool bound;
	const struct imap_seqset *saved; /* bound "$" (NULL: empty) */
};

/* Fold s for comparison: invalid UTF-8 becomes U+FFFD, then full Unicode
 * case folding with NFKC (libunistring). Appends to out; 0, -1 if
 * libunistring fails (out of memory). */
int search_fold(const void *s, size_t len, struct buf *out);

/* Days since 1970-01-01 of a time seen in zone tz (minutes east). */
int64_t search_day_of(int64_t t, int tz);

#endif
