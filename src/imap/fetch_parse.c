/*
 * FETCH's data items (RFC 9051 6.4.5 and 9 "fetch-att", RFC 3516 BINARY)
 * from the parser's argument tree into struct imap_fetch_items.
 *
 * The parser keeps '[' and ']' inside atoms, so "BODY.PEEK[1.2]<0.10>" is
 * one atom, while "BODY[HEADER.FIELDS (A B)]<0.10>" arrives as the atom
 * "BODY[HEADER.FIELDS", the list (A B) and the atom "]<0.10>": an item is
 * one argument or those three.
 *
 * Everything a client can get wrong is a -1 with a fixed text: the texts
 * never carry the client's bytes, so no response line can be forged
 * through them.
 */
#include "imap/fetch.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* RFC 9051 6.4.5: the macros, valid only by themselves */
static const struct {
	const char *name;
	unsigned flags;
} fetch_macros[] = {
    {"ALL",
     IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE | IMAP_FETCH_ENVELOPE},
    {"FAST", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE},
    {"FULL", IMAP_FETCH_FLAGS | IMAP_FETCH_INTERNALDATE | IMAP_FETCH_RFC822_SIZE |
                 IMAP_FETCH_ENVELOPE | IMAP_FETCH_BODY},
};

static const struct {
	const char *name;
	unsigned flag;
	bool set_seen;
} fetch_simple[] = {
    {"UID", IMAP_FETCH_UID, false},
    {"FLAGS", IMAP_FETCH_FLAGS, false},
    {"INTERNALDATE", IMAP_FETCH_INTERNALDATE, false},
    {"RFC822.SIZE", IMAP_FETCH_RFC822_SIZE, false},
    {"ENVELOPE", IMAP_FETCH_ENVELOPE, false},
    {"BODY", IMAP_FETCH_BODY, false},
    {"BODYSTRUCTURE", IMAP_FETCH_BODYSTRUCTURE, false},
    /* RFC 3501 6.4.5: RFC822 is BODY[], RFC822.TEXT is BODY[TEXT] (both
     * set \Seen), RFC822.HEADER is BODY.PEEK[HEADER] */
    {"RFC822", IMAP_FETCH_RFC822, true},
    {"RFC822.HEADER", IMAP_FETCH_RFC822_HEADER, false},
    {"RFC822.TEXT", IMAP_FETCH_RFC822_TEXT, true},
    {"MODSEQ", IMAP_FETCH_MODSEQ, false},
};

static const struct {
	const char *prefix;
	enum imap_fetch_section_kind kind;
	bool peek;
} fetch_section_prefixes[] = {
    {"BODY", IMAP_FETCH_SECTION_BODY, false},
    {"BODY.PEEK", IMAP_FETCH_SECTION_BODY, true},
    {"BINARY", IMAP_FETCH_SECTION_BINARY, false},
    {"BINARY.PEEK", IMAP_FETCH_SECTION_BINARY, true},
    /* BINARY.SIZE never sets \Seen */
    {"BINARY.SIZE", IMAP_FETCH_SECTION_BINARY_SIZE, true},
};

/* What follows the part numbers in a section spec. */
enum spec_text {
	SPEC_NONE, /* "" or "1.2" */
	SPEC_HEADER,
	SPEC_TEXT,
	SPEC_MIME,
	SPEC_FIELDS,
	SPEC_FIELDS_NOT,
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* An atom argument's text (NIL counts: it is the atom "NIL"). */
static const char *arg_atom(const struct imap_arg *arg)
{
	if ((arg->type == IMAP_ARG_ATOM || arg->type == IMAP_ARG_NIL) && arg->str != NULL)
		return arg->str;
	return NULL;
}

/* Digits at *pp as a number of at most UINT32_MAX; nz: RFC 9051 nz-number
 * (no 0, no leading zero). */
static int parse_u32(const char **pp, bool nz, uint32_t *num_r)
{
	const char *p = *pp;
	uint64_t n = 0;

	if (!is_digit(*p) || (nz && *p == '0'))
		return -1;
	for (; is_digit(*p); p++) {
		n = n * 10 + (uint64_t)(*p - '0');
		if (n > UINT32_MAX)
			return -1;
	}
	*num_r = (uint32_t)n;
	*pp = p;
	return 0;
}

/*
 * RFC 9051 section-spec = section-msgtext / (section-part ["." section-text])
 * section-part = nz-number *("." nz-number); MIME only after a part.
 */
static int spec_validate(const char *spec, bool *has_part_r, enum spec_text *text_r,
                         const char **error_r)
{
	const char *p = spec;
	bool has_part = false;
	uint32_t n;

	while (is_digit(*p)) {
		if (parse_u32(&p, true, &n) < 0) {
			*error_r = "Invalid section part number";
			return -1;
		}
		has_part = true;
		if (*p == '\0')
			break;
		if (*p != '.') {
			*error_r = "Invalid section";
			return -1;
		}
		p++;
		if (*p == '\0') {
			*error_r = "Invalid section";
			return -1;
		}
	}
	*has_part_r = has_part;
	if (*p == '\0')
		*text_r = SPEC_NONE;
	else if (strcasecmp(p, "HEADER") == 0)
		*text_r = SPEC_HEADER;
	else if (strcasecmp(p, "TEXT") == 0)
		*text_r = SPEC_TEXT;
	else if (strcasecmp(p, "HEADER.FIELDS") == 0)
		*text_r = SPEC_FIELDS;
	else if (strcasecmp(p, "HEADER.FIELDS.NOT") == 0)
		*text_r = SPEC_FIELDS_NOT;
	else if (has_part && strcasecmp(p, "MIME") == 0)
		*text_r = SPEC_MIME;
	else {
		*error_r = "Invalid section";
		return -1;
	}
	return 0;
}

/* RFC 9051 partial = "<" number64 "." nz-number64 ">", capped at 32 bits. */
static int partial_parse(const char *p, struct imap_fetch_section *sec, const char **error_r)
{
	if (*p == '\0')
		return 0;
	if (*p != '<') {
		*error_r = "Unexpected data after ']'";
		return -1;
	}
	p++;
	if (parse_u32(&p, false, &sec->origin) < 0 || *p != '.') {
		*error_r = "Invalid partial origin";
		return -1;
	}
	p++;
	if (parse_u32(&p, true, &sec->count) < 0 || *p != '>' || p[1] != '\0') {
		*error_r = "Invalid partial length";
		return -1;
	}
	sec->partial = true;
	return 0;
}

/* A header field name: RFC 5322 ftext (printable ASCII but ':'). The
 * grammar allows any astring; names no header can have are refused, which
 * also keeps the echoed name safe to quote. */
static bool field_name_ok(const char *s, uint64_t len)
{
	if (len == 0 || len > IMAP_FETCH_MAX_FIELD_NAME)
		return false;
	for (uint64_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

static void str_upper(char *s)
{
	for (; *s != '\0'; s++)
		*s = (char)toupper((unsigned char)*s);
}

static void section_free(struct imap_fetch_section *sec)
{
	for (size_t i = 0; i < sec->field_count; i++)
		free(sec->fields[i]);
	free(sec->fields);
	free(sec->spec);
	free(sec->name);
	memset(sec, 0, sizeof(*sec));
}

void imap_fetch_items_free(struct imap_fetch_items *items)
{
	for (size_t i = 0; i < items->section_count; i++)
		section_free(&items->sections[i]);
	free(items->sections);
	memset(items, 0, sizeof(*items));
}

/* The field list of HEADER.FIELDS[.NOT]; the names' echo goes to name. */
static int fields_parse(const struct imap_arg *list, struct imap_fetch_section *sec,
                        struct buf *name, const char **error_r)
{
	if (list->count == 0) {
		*error_r = "Empty header field list";
		return -1;
	}
	if (list->count > IMAP_FETCH_MAX_FIELDS) {
		*error_r = "Too many header field names";
		return -1;
	}
	sec->fields = xcalloc(list->count, sizeof(*sec->fields));
	buf_append_str(name, " (");
	for (size_t i = 0; i < list->count; i++) {
		const struct imap_arg *a = &list->list[i];

		if (a->type == IMAP_ARG_LIST || a->str == NULL || !field_name_ok(a->str, a->len)) {
			*error_r = "Invalid header field name";
			return -1;
		}
		char *f = xstrndup(a->str, (size_t)a->len);

		str_upper(f);
		sec->fields[sec->field_count++] = f;
		if (i > 0)
			buf_append_byte(name, ' ');
		if (a->type == IMAP_ARG_ATOM || a->type == IMAP_ARG_NIL) {
			buf_append_str(name, f);
		} else {
			/* sent as a string: echoed as one (Dovecot) */
			buf_append_byte(name, '"');
			for (const char *c = f; *c != '\0'; c++) {
				if (*c == '"' || *c == '\\')
					buf_append_byte(name, '\\');
				buf_append_byte(name, *c);
			}
			buf_append_byte(name, '"');
		}
	}
	buf_append_byte(name, ')');
	return 0;
}

static void section_add(struct imap_fetch_items *items, struct imap_fetch_section *sec)
{
	for (size_t i = 0; i < items->section_count; i++) {
		if (strcmp(items->sections[i].name, sec->name) == 0) {
			/* one answer per response name (as Dovecot) */
			section_free(sec);
			return;
		}
	}
	/* the caller checked the count against IMAP_FETCH_MAX_SECTIONS; the
	 * array doubles whenever the count reaches a power of two */
	size_t n = items->section_count;

	if ((n & (n - 1)) == 0) {
		items->sections =
		    xrealloc(items->sections, (n == 0 ? 1 : n * 2) * sizeof(*items->sections));
	}
	items->sections[items->section_count++] = *sec;
}

/*
 * One BODY[...] / BINARY[...] item starting at args[0] (whose atom has a
 * '[' at lb). Returns the number of arguments it took (1, or 3 with a
 * field list), or -1.
 */
static int section_parse(const struct imap_arg *args, size_t nargs, const char *atom,
                         const char *lb, struct imap_fetch_items *items, const char **error_r)
{
	struct imap_fetch_section sec;
	const struct imap_arg *list = NULL;
	const char *rb, *after;
	size_t prefix_len = (size_t)(lb - atom), spec_len, i;
	int used = 1;
	bool has_part;
	enum spec_text text;
	struct buf name;

	memset(&sec, 0, sizeof(sec));
	for (i = 0; i < ARRAY_SIZE(fetch_section_prefixes); i++) {
		const char *p = fetch_section_prefixes[i].prefix;

		if (strlen(p) == prefix_len && strncasecmp(atom, p, prefix_len) == 0)
			break;
	}
	if (i == ARRAY_SIZE(fetch_section_prefixes)) {
		*error_r = "Unknown fetch item";
		return -1;
	}
	sec.kind = fetch_section_prefixes[i].kind;
	sec.peek = fetch_section_prefixes[i].peek;

	rb = strchr(lb + 1, ']');
	if (rb != NULL) {
		spec_len = (size_t)(rb - lb - 1);
		after = rb + 1;
	} else {
		/* "BODY[HEADER.FIELDS" (list) "]..." */
		const char *close = nargs >= 3 ? arg_atom(&args[2]) : NULL;

		if (nargs < 3 || args[1].type != IMAP_ARG_LIST || close == NULL ||
		    close[0] != ']') {
			*error_r = "Missing ']' in section";
			return -1;
		}
		list = &args[1];
		spec_len = strlen(lb + 1);
		after = close + 1;
		used = 3;
	}
	if (spec_len > IMAP_FETCH_MAX_SPEC) {
		*error_r = "Section too long";
		return -1;
	}
	sec.spec = xstrndup(lb + 1, spec_len);
	if (spec_validate(sec.spec, &has_part, &text, error_r) < 0)
		goto fail;
	if (sec.kind != IMAP_FETCH_SECTION_BODY && text != SPEC_NONE) {
		/* RFC 3516 section-binary = "[" [section-part] "]" */
		*error_r = "BINARY takes part numbers only";
		goto fail;
	}
	if ((text == SPEC_FIELDS || text == SPEC_FIELDS_NOT) != (list != NULL)) {
		*error_r = list == NULL ? "HEADER.FIELDS needs a list of field names"
		                        : "Field list after a section that takes none";
		goto fail;
	}
	if (partial_parse(after, &sec, error_r) < 0)
		goto fail;
	if (sec.partial && sec.kind == IMAP_FETCH_SECTION_BINARY_SIZE) {
		*error_r = "BINARY.SIZE takes no partial";
		goto fail;
	}
	str_upper(sec.spec);
	sec.fields_not = text == SPEC_FIELDS_NOT;

	buf_init(&name);
	buf_append_str(&name, sec.kind == IMAP_FETCH_SECTION_BODY     ? "BODY["
	                      : sec.kind == IMAP_FETCH_SECTION_BINARY ? "BINARY["
	                                                              : "BINARY.SIZE[");
	buf_append_str(&name, sec.spec);
	if (list != NULL && fields_parse(list, &sec, &name, error_r) < 0) {
		buf_free(&name);
		goto fail;
	}
	buf_append_byte(&name, ']');
	/* RFC 9051 7.5.2: the response names the origin only */
	if (sec.partial)
		buf_printf(&name, "<%u>", (unsigned)sec.origin);
	sec.name = name.data;

	if (!sec.peek)
		items->set_seen = true;
	section_add(items, &sec);
	return used;
fail:
	section_free(&sec);
	return -1;
}

/* One item at args[0]; returns the arguments it took, or -1. */
static int item_parse(const struct imap_arg *args, size_t nargs, struct imap_fetch_items *items,
                      const char **error_r)
{
	const char *atom = arg_atom(&args[0]);
	const char *lb;

	if (atom == NULL) {
		*error_r = args[0].type == IMAP_ARG_LIST ? "Unexpected list in fetch items"
		                                         : "Fetch items must be atoms";
		return -1;
	}
	lb = strchr(atom, '[');
	if (lb != NULL) {
		if (items->section_count >= IMAP_FETCH_MAX_SECTIONS) {
			*error_r = "Too many body sections";
			return -1;
		}
		return section_parse(args, nargs, atom, lb, items, error_r);
	}
	for (size_t i = 0; i < ARRAY_SIZE(fetch_simple); i++) {
		if (strcasecmp(atom, fetch_simple[i].name) == 0) {
			items->flags |= fetch_simple[i].flag;
			if (fetch_simple[i].set_seen)
				items->set_seen = true;
			return 1;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(fetch_macros); i++) {
		if (strcasecmp(atom, fetch_macros[i].name) == 0) {
			*error_r = "Fetch macros must be used alone";
			return -1;
		}
	}
	*error_r = "Unknown fetch item";
	return -1;
}

int imap_fetch_parse(const struct imap_arg *args, size_t nargs, bool uid_command,
                     struct imap_fetch_items *items_r, const char **error_r)
{
	const struct imap_arg *list = args;
	size_t count = nargs, i = 0;
	bool single = true;

	memset(items_r, 0, sizeof(*items_r));
	if (nargs == 0) {
		*error_r = "Missing fetch items";
		return -1;
	}
	if (args[0].type == IMAP_ARG_LIST) {
		if (nargs > 1) {
			*error_r = "Unexpected arguments after the fetch items";
			return -1;
		}
		list = args[0].list;
		count = args[0].count;
		single = false;
		if (count == 0) {
			*error_r = "Empty fetch item list";
			return -1;
		}
		if (count > IMAP_FETCH_MAX_ITEMS) {
			*error_r = "Too many fetch items";
			return -1;
		}
	} else if (nargs == 1 && arg_atom(&args[0]) != NULL) {
		for (size_t m = 0; m < ARRAY_SIZE(fetch_macros); m++) {
			if (strcasecmp(args[0].str, fetch_macros[m].name) == 0) {
				items_r->flags = fetch_macros[m].flags;
				goto done;
			}
		}
	}
	while (i < count) {
		int used = item_parse(list + i, count - i, items_r, error_r);

		if (used < 0) {
			imap_fetch_items_free(items_r);
			return -1;
		}
		i += (size_t)used;
		if (single && i < count) {
			/* RFC 9051: one item, or a parenthesized list */
			*error_r = "Several fetch items need parentheses";
			imap_fetch_items_free(items_r);
			return -1;
		}
	}
done:
	/* RFC 9051 6.4.9: UID FETCH always answers UID */
	if (uid_command)
		items_r->flags |= IMAP_FETCH_UID;
	return 0;
}
