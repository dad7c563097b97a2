/*
 * search/compile.c — SEARCH arguments to a program tree.
 *
 * RFC 9051 9 (and RFC 3501 9):
 *   search          = "SEARCH" [search-return-opts] SP search-program
 *   search-program  = ["CHARSET" SP charset SP] search-key *(SP search-key)
 *   search-key      = "ALL" / "ANSWERED" / "BCC" SP astring / ... /
 *                     "NOT" SP search-key / "OR" SP search-key SP search-key /
 *                     sequence-set / "(" search-key *(SP search-key) ")"
 *
 * Client bytes never reach an error text. Nesting and size are bounded
 * (SEARCH_MAX_DEPTH, SEARCH_MAX_KEYS) so that neither compiling nor
 * matching recurses or allocates without limit.
 */
#include "search/search_private.h"

#include "mime/mime.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct compiler {
	const char *charset; /* NULL: UTF-8 (RFC 9051 6.4.4) */
	unsigned max_depth;
	size_t max_keys;
	size_t keys;
	struct search_program *prog;
	const char *error_code, *error_text;
};

/* the cursor over one argument list (the top level or a parenthesized one) */
struct cursor {
	const struct imap_arg *args;
	size_t count, pos;
};

static int fail(struct compiler *c, const char *code, const char *text)
{
	c->error_code = code;
	c->error_text = text;
	return -1;
}

static const struct imap_arg *next_arg(struct cursor *cur)
{
	return cur->pos < cur->count ? &cur->args[cur->pos++] : NULL;
}

/* An atom's text (NIL counts: it is the atom "NIL"); NULL otherwise. */
static const char *atom_of(const struct imap_arg *arg)
{
	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_NIL))
		return NULL;
	return arg->str;
}

/* astring = 1*ASTRING-CHAR / string: an atom, quoted or in-memory literal
 * (not literal8: RFC 3516 allows it only in APPEND's data). */
static int raw_astring(struct compiler *c, const struct imap_arg *arg, const char **s_r,
                       size_t *len_r)
{
	if (arg == NULL)
		return fail(c, NULL, "Missing argument to search key");
	switch (arg->type) {
	case IMAP_ARG_ATOM:
	case IMAP_ARG_NIL:
	case IMAP_ARG_QUOTED:
		break;
	case IMAP_ARG_LITERAL:
		if (arg->literal8)
			return fail(c, NULL, "literal8 not allowed in SEARCH");
		if (arg->str == NULL || arg->len > SEARCH_MAX_STRING)
			return fail(c, NULL, "Search string too long");
		break;
	case IMAP_ARG_LIST:
	default:
		return fail(c, NULL, "Search key argument must be a string");
	}
	*s_r = arg->str;
	*len_r = (size_t)arg->len;
	return 0;
}

/* A search string: astring in the command's charset, to UTF-8, folded. */
static int string_arg(struct compiler *c, const struct imap_arg *arg, struct search_node *n)
{
	const char *s;
	size_t len;
	struct buf utf8, folded;

	if (raw_astring(c, arg, &s, &len) < 0)
		return -1;
	buf_init(&utf8);
	buf_init(&folded);
	if (c->charset != NULL)
		(void)mime_charset_to_utf8(c->charset, s, len, &utf8); /* checked at CHARSET */
	else
		buf_append(&utf8, s, len);
	if (utf8.len > SEARCH_MAX_STRING) {
		buf_free(&utf8);
		return fail(c, NULL, "Search string too long");
	}
	if (search_fold(utf8.data != NULL ? utf8.data : "", utf8.len, &folded) < 0) {
		buf_free(&utf8);
		buf_free(&folded);
		return fail(c, NULL, "Out of memory");
	}
	buf_free(&utf8);
	n->str_len = folded.len;
	n->str = xstrndup(folded.data != NULL ? folded.data : "", folded.len);
	buf_free(&folded);
	return 0;
}

/* field-name = 1*<any CHAR except CTLs, SP and ":"> (RFC 5322 2.2) */
static int field_arg(struct compiler *c, const struct imap_arg *arg, struct search_node *n)
{
	const char *s;
	size_t len;

	if (raw_astring(c, arg, &s, &len) < 0)
		return -1;
	if (len == 0 || len > 998)
		return fail(c, NULL, "Invalid header field name");
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch <= ' ' || ch >= 0x7f || ch == ':')
			return fail(c, NULL, "Invalid header field name");
	}
	n->field = xstrndup(s, len);
	return 0;
}

/* number64 (RFC 9051 9): LARGER and SMALLER take sizes up to 2^63-1 */
static int number_arg(struct compiler *c, const struct imap_arg *arg, uint64_t *num_r)
{
	const char *s = arg != NULL && arg->type == IMAP_ARG_ATOM ? arg->str : NULL;
	uint64_t n = 0;

	if (s == NULL || *s == '\0')
		return fail(c, NULL, "Invalid number");
	for (; *s != '\0'; s++) {
		uint64_t d = (uint64_t)(*s - '0');

		if (*s < '0' || *s > '9' || n > ((uint64_t)INT64_MAX - d) / 10)
			return fail(c, NULL, "Invalid number");
		n = n * 10 + d;
	}
	*num_r = n;
	return 0;
}

/* days since 1970-01-01 of a proleptic Gregorian date (Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

/*
 * date = date-text / DQUOTE date-text DQUOTE
 * date-text = date-day "-" date-month "-" date-year, date-day = 1*2DIGIT,
 * date-year = 4DIGIT. The day must exist in that month.
 */
static int date_arg(struct compiler *c, const struct imap_arg *arg, int64_t *day_r)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	static const unsigned mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *s;
	unsigned d = 0, m, y = 0;
	size_t i = 0;

	if (arg == NULL || (arg->type != IMAP_ARG_ATOM && arg->type != IMAP_ARG_QUOTED))
		return fail(c, NULL, "Invalid search date");
	s = arg->str;
	while (i < 2 && s[i] >= '0' && s[i] <= '9')
		d = d * 10 + (unsigned)(s[i++] - '0');
	if (i == 0 || s[i] != '-')
		return fail(c, NULL, "Invalid search date");
	s += i + 1;
	for (m = 0; m < 12; m++) {
		if (strncasecmp(s, months[m], 3) == 0)
			break;
	}
	if (m == 12 || s[3] != '-')
		return fail(c, NULL, "Invalid search date");
	s += 4;
	for (i = 0; i < 4; i++) {
		if (s[i] < '0' || s[i] > '9')
			return fail(c, NULL, "Invalid search date");
		y = y * 10 + (unsigned)(s[i] - '0');
	}
	if (s[4] != '\0' || d == 0 || d > mdays[m])
		return fail(c, NULL, "Invalid search date");
	if (m == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return fail(c, NULL, "Invalid search date");
	*day_r = days_from_civil(y, m + 1, d);
	return 0;
}

static int set_arg(struct compiler *c, const char *s, struct search_node *n)
{
	const char *err;

	if (imap_seqset_parse(s, SEARCH_MAX_SET_RANGES, &n->set, &err) < 0)
		return fail(c, NULL, "Invalid sequence set");
	if (n->set.saved)
		c->prog->uses_saved = true;
	c->prog->has_sets = true;
	return 0;
}

/* what a node costs to match: 0 cheap facts, 1 header, 2 body text */
static int node_cost(const struct search_node *n)
{
	int cost = 0;

	switch (n->type) {
	case SEARCH_HEADER:
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE:
		return 1;
	case SEARCH_BODY:
	case SEARCH_TEXT:
		return 2;
	default:
		break;
	}
	for (size_t i = 0; i < n->nkids; i++) {
		int k = node_cost(&n->kids[i]);

		if (k > cost)
			cost = k;
	}
	return cost;
}

/* Matching short-circuits, so try the cheap keys first: a flag test that
 * fails saves reading the message (the result does not depend on order). */
static void order_kids(struct search_node *n)
{
	/* insertion sort, stable, on the cost; lists are short */
	for (size_t i = 1; i < n->nkids; i++) {
		struct search_node tmp = n->kids[i];
		int cost = node_cost(&tmp);
		size_t j = i;

		while (j > 0 && node_cost(&n->kids[j - 1]) > cost) {
			n->kids[j] = n->kids[j - 1];
			j--;
		}
		n->kids[j] = tmp;
	}
}

static int parse_keys(struct compiler *c, struct cursor *cur, struct search_node *and_node,
                      unsigned depth);

static void set_flags(struct search_node *n, unsigned mask, bool set)
{
	n->type = SEARCH_FLAGS;
	n->mask = mask;
	n->value = set ? mask : 0;
}

static struct search_node *new_kids(struct search_node *n, enum search_node_type type, size_t count)
{
	n->type = type;
	n->kids = xcalloc(count, sizeof(*n->kids));
	n->nkids = count;
	return n->kids;
}

/* A flag key by name: (name, mask, set). */
static const struct flag_key {
	const char *name;
	unsigned mask;
	bool set;
} flag_keys[] = {
    {"ANSWERED", SEARCH_FLAG_ANSWERED, true},  {"DELETED", SEARCH_FLAG_DELETED, true},
    {"DRAFT", SEARCH_FLAG_DRAFT, true},        {"FLAGGED", SEARCH_FLAG_FLAGGED, true},
    {"SEEN", SEARCH_FLAG_SEEN, true},          {"UNANSWERED", SEARCH_FLAG_ANSWERED, false},
    {"UNDELETED", SEARCH_FLAG_DELETED, false}, {"UNDRAFT", SEARCH_FLAG_DRAFT, false},
    {"UNFLAGGED", SEARCH_FLAG_FLAGGED, false}, {"UNSEEN", SEARCH_FLAG_SEEN, false},
};

/* Keys that take one string: the header they search, or NULL for BODY/TEXT. */
static const struct string_key {
	const char *name;
	const char *field;
	enum search_node_type type;
} string_keys[] = {
    {"BCC", "Bcc", SEARCH_HEADER},   {"CC", "Cc", SEARCH_HEADER},
    {"FROM", "From", SEARCH_HEADER}, {"SUBJECT", "Subject", SEARCH_HEADER},
    {"TO", "To", SEARCH_HEADER},     {"BODY", NULL, SEARCH_BODY},
    {"TEXT", NULL, SEARCH_TEXT},
};

static const struct date_key {
	const char *name;
	enum search_node_type type;
} date_keys[] = {
    {"BEFORE", SEARCH_BEFORE},         {"ON", SEARCH_ON},         {"SINCE", SEARCH_SINCE},
    {"SENTBEFORE", SEARCH_SENTBEFORE}, {"SENTON", SEARCH_SENTON}, {"SENTSINCE", SEARCH_SENTSINCE},
};

/* One search-key at the cursor into n (zeroed by the caller). */
static int parse_key(struct compiler *c, struct cursor *cur, struct search_node *n, unsigned depth)
{
	const struct imap_arg *arg = next_arg(cur);
	const char *name;

	if (arg == NULL)
		return fail(c, NULL, "Missing search key");
	if (depth > c->max_depth)
		return fail(c, NULL, "Search keys nested too deeply");
	if (++c->keys > c->max_keys)
		return fail(c, NULL, "Too many search keys");

	if (arg->type == IMAP_ARG_LIST) {
		struct cursor sub = {arg->list, arg->count, 0};

		if (arg->count == 0)
			return fail(c, NULL, "Empty search key list");
		n->type = SEARCH_AND;
		return parse_keys(c, &sub, n, depth + 1);
	}
	name = atom_of(arg);
	if (name == NULL)
		return fail(c, NULL, "Search key expected");
	if ((name[0] >= '0' && name[0] <= '9') || name[0] == '*' || name[0] == '$') {
		n->type = SEARCH_SEQSET;
		return set_arg(c, name, n);
	}

	for (size_t i = 0; i < ARRAY_SIZE(flag_keys); i++) {
		if (strcasecmp(name, flag_keys[i].name) == 0) {
			set_flags(n, flag_keys[i].mask, flag_keys[i].set);
			return 0;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++) {
		if (strcasecmp(name, string_keys[i].name) == 0) {
			n->type = string_keys[i].type;
			if (string_keys[i].field != NULL)
				n->field = xstrdup(string_keys[i].field);
			return string_arg(c, next_arg(cur), n);
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(date_keys); i++) {
		if (strcasecmp(name, date_keys[i].name) == 0) {
			n->type = date_keys[i].type;
			return date_arg(c, next_arg(cur), &n->day);
		}
	}
	if (strcasecmp(name, "ALL") == 0) {
		n->type = SEARCH_ALL;
	} else if (strcasecmp(name, "HEADER") == 0) {
		n->type = SEARCH_HEADER;
		if (field_arg(c, next_arg(cur), n) < 0)
			return -1;
		return string_arg(c, next_arg(cur), n);
	} else if (strcasecmp(name, "KEYWORD") == 0 || strcasecmp(name, "UNKEYWORD") == 0) {
		struct search_node *k = n;
		const char *kw = atom_of(cur->pos < cur->count ? &cur->args[cur->pos] : NULL);

		/* flag-keyword = "$MDNSent" / ... / atom */
		if (kw == NULL || *kw == '\0')
			return fail(c, NULL, "Invalid keyword");
		cur->pos++;
		if (name[0] == 'U' || name[0] == 'u')
			k = new_kids(n, SEARCH_NOT, 1);
		k->type = SEARCH_KEYWORD;
		k->str = xstrdup(kw);
		k->str_len = strlen(kw);
	} else if (strcasecmp(name, "LARGER") == 0 || strcasecmp(name, "SMALLER") == 0) {
		n->type = (name[0] == 'L' || name[0] == 'l') ? SEARCH_LARGER : SEARCH_SMALLER;
		return number_arg(c, next_arg(cur), &n->num);
	} else if (strcasecmp(name, "NOT") == 0) {
		return parse_key(c, cur, new_kids(n, SEARCH_NOT, 1), depth + 1);
	} else if (strcasecmp(name, "OR") == 0) {
		struct search_node *kids = new_kids(n, SEARCH_OR, 2);

		if (parse_key(c, cur, &kids[0], depth + 1) < 0 ||
		    parse_key(c, cur, &kids[1], depth + 1) < 0)
			return -1;
		if (node_cost(&kids[0]) > node_cost(&kids[1])) {
			struct search_node tmp = kids[0];

			kids[0] = kids[1];
			kids[1] = tmp;
		}
	} else if (strcasecmp(name, "RECENT") == 0) {
		n->type = SEARCH_RECENT;
	} else if (strcasecmp(name, "OLD") == 0) {
		new_kids(n, SEARCH_NOT, 1)->type = SEARCH_RECENT;
	} else if (strcasecmp(name, "NEW") == 0) {
		/* RFC 3501 6.4.4: NEW is (RECENT UNSEEN) */
		struct search_node *kids = new_kids(n, SEARCH_AND, 2);

		set_flags(&kids[0], SEARCH_FLAG_SEEN, false);
		kids[1].type = SEARCH_RECENT;
	} else if (strcasecmp(name, "UID") == 0) {
		const char *set = atom_of(cur->pos < cur->count ? &cur->args[cur->pos] : NULL);

		if (set == NULL)
			return fail(c, NULL, "Invalid UID set");
		cur->pos++;
		n->type = SEARCH_UIDSET;
		return set_arg(c, set, n);
	} else {
		/* CHARSET after a key lands here too (Dovecot: BAD, corpus) */
		return fail(c, NULL, "Unknown search key");
	}
	return 0;
}

/* Keys up to the end of the cursor, as the kids of an AND node. */
static int parse_keys(struct compiler *c, struct cursor *cur, struct search_node *and_node,
                      unsigned depth)
{
	size_t cap = 0;

	and_node->type = SEARCH_AND;
	while (cur->pos < cur->count) {
		if (and_node->nkids == cap) {
			cap = cap == 0 ? 4 : cap * 2;
			and_node->kids = xrealloc(and_node->kids, cap * sizeof(*and_node->kids));
		}
		memset(&and_node->kids[and_node->nkids], 0, sizeof(*and_node->kids));
		and_node->nkids++;
		if (parse_key(c, cur, &and_node->kids[and_node->nkids - 1], depth) < 0)
			return -1;
	}
	order_kids(and_node);
	return 0;
}

/* What matching will ask the callbacks for (recursion bounded by depth). */
static void note_needs(struct search_program *prog, const struct search_node *n)
{
	switch (n->type) {
	case SEARCH_HEADER:
	case SEARCH_SENTBEFORE:
	case SEARCH_SENTON:
	case SEARCH_SENTSINCE:
		prog->needs_headers = true;
		break;
	case SEARCH_BODY:
	case SEARCH_TEXT:
		prog->needs_text = true;
		break;
	default:
		break;
	}
	for (size_t i = 0; i < n->nkids; i++)
		note_needs(prog, &n->kids[i]);
}

static bool is_utf8_charset(const char *cs)
{
	return strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "US-ASCII") == 0 ||
	       strcasecmp(cs, "UTF8") == 0 || strcasecmp(cs, "ASCII") == 0;
}

int search_compile(const struct imap_arg *args, size_t nargs,
                   const struct search_compile_options *opts, struct search_program **prog_r,
                   const char **error_code_r, const char **error_text_r)
{
	struct compiler c = {0};
	struct cursor cur = {args, nargs, 0};
	const char *first = nargs > 0 ? atom_of(&args[0]) : NULL;

	*prog_r = NULL;
	*error_code_r = NULL;
	*error_text_r = NULL;
	c.max_depth = opts != NULL && opts->max_depth != 0 ? opts->max_depth : SEARCH_MAX_DEPTH;
	c.max_keys = opts != NULL && opts->max_keys != 0 ? opts->max_keys : SEARCH_MAX_KEYS;
	c.prog = xcalloc(1, sizeof(*c.prog));

	if (first != NULL && strcasecmp(first, "CHARSET") == 0) {
		const char *cs;
		size_t len;

		cur.pos++;
		if (raw_astring(&c, next_arg(&cur), &cs, &len) < 0 || len == 0 ||
		    memchr(cs, '\0', len) != NULL) {
			fail(&c, NULL, "Invalid charset");
			goto fail;
		}
		if (!is_utf8_charset(cs)) {
			struct buf probe;
			int r;

			/* RFC 9051 6.4.4: a charset we do not know is NO
			 * [BADCHARSET]; others are converted with iconv */
			buf_init(&probe);
			r = mime_charset_to_utf8(cs, "", 0, &probe);
			buf_free(&probe);
			if (r < 0) {
				fail(&c, "BADCHARSET", "Unknown charset");
				goto fail;
			}
			c.charset = cs;
		}
	}
	if (cur.pos >= cur.count) {
		fail(&c, NULL, "Missing search key");
		goto fail;
	}
	if (parse_keys(&c, &cur, &c.prog->root, 0) < 0)
		goto fail;
	note_needs(c.prog, &c.prog->root);
	*prog_r = c.prog;
	return 0;
fail:
	search_program_free(&c.prog);
	*error_code_r = c.error_code;
	*error_text_r = c.error_text;
	return -1;
}

static void node_free(struct search_node *n)
{
	for (size_t i = 0; i < n->nkids; i++)
		node_free(&n->kids[i]);
	free(n->kids);
	free(n->field);
	free(n->str);
	imap_seqset_free(&n->set);
	imap_seqset_free(&n->resolved);
}

void search_program_free(struct search_program **prog)
{
	if (*prog == NULL)
		return;
	node_free(&(*prog)->root);
	free(*prog);
	*prog = NULL;
}

bool search_program_needs_headers(const struct search_program *prog)
{
	return prog->needs_headers;
}

bool search_program_needs_text(const struct search_program *prog)
{
	return prog->needs_text;
}

bool search_program_uses_saved(const struct search_program *prog)
{
	return prog->uses_saved;
}
