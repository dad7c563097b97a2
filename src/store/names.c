/*
 * Mailbox names and keywords: validation, normalization, LIST pattern
 * matching and the attributes of LIST answers. Backend-independent.
 */
#include "store/store_private.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INBOX_LEN 5

static int tolower_ascii(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Is s (len bytes) valid UTF-8 without overlongs and surrogates? */
static bool utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

static bool is_inbox_component(const char *name)
{
	return strncasecmp(name, "INBOX", INBOX_LEN) == 0 &&
	       (name[INBOX_LEN] == '\0' || name[INBOX_LEN] == STORE_HIERARCHY_SEP);
}

int store_mailbox_name_normalize(const char *name, char **normalized_r, struct store_error *err)
{
	size_t len = strlen(name);
	char *out;

	*normalized_r = NULL;
	if (len == 0)
		return store_error_set(err, STORE_ERR_CANNOT, "Empty mailbox name");
	if (len > STORE_MAILBOX_NAME_MAX)
		return store_error_set(err, STORE_ERR_CANNOT, "Mailbox name too long");
	if (name[0] == STORE_HIERARCHY_SEP || name[len - 1] == STORE_HIERARCHY_SEP)
		return store_error_set(err, STORE_ERR_CANNOT,
		                       "Mailbox name may not begin or end with '/'");
	if (strstr(name, "//") != NULL)
		return store_error_set(err, STORE_ERR_CANNOT,
		                       "Mailbox name has an empty hierarchy level");
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return store_error_set(err, STORE_ERR_CANNOT,
			                       "Mailbox name has control characters");
		if (c == '*' || c == '%')
			return store_error_set(err, STORE_ERR_CANNOT,
			                       "Mailbox name may not contain '*' or '%%'");
	}
	if (!utf8_valid((const unsigned char *)name, len))
		return store_error_set(err, STORE_ERR_CANNOT, "Mailbox name is not valid UTF-8");
	out = xstrdup(name);
	if (is_inbox_component(out))
		memcpy(out, "INBOX", INBOX_LEN);
	*normalized_r = out;
	return 0;
}

/*
 * LIST matching (RFC 9051 6.3.9): '*' matches any run of characters, '%'
 * any run without the hierarchy separator. The pattern comes from the
 * client, so this is a dynamic program over (pattern position, name
 * position) in O(pattern length * name length) time and O(name length)
 * memory, never backtracking: "*a*a*a*a*b" cannot make it explode.
 * at[j] says whether the pattern so far matches the first j bytes of name.
 * The first ci bytes of name (the INBOX component) compare
 * case-insensitively.
 */
static bool match_dp(const char *pattern, const char *name, size_t ci)
{
	size_t nlen = strlen(name), literals = 0;
	bool *at, *next, result;

	/* each literal consumes one byte: too many cannot match */
	for (const char *p = pattern; *p != '\0'; p++)
		literals += *p != '*' && *p != '%';
	if (literals > nlen)
		return false;
	at = xcalloc(2 * (nlen + 1), sizeof(bool));
	next = at + nlen + 1;
	at[0] = true;
	for (const char *p = pattern; *p != '\0'; p++) {
		if (*p == '*' || *p == '%') {
			/* a run of wildcards is one wildcard, '*' if any is */
			bool star = *p == '*';
			while (p[1] == '*' || p[1] == '%') {
				p++;
				star = star || *p == '*';
			}
			next[0] = at[0];
			for (size_t j = 1; j <= nlen; j++)
				next[j] = at[j] || (next[j - 1] &&
				                    (star || name[j - 1] != STORE_HIERARCHY_SEP));
		} else {
			next[0] = false;
			for (size_t j = 1; j <= nlen; j++) {
				char c = name[j - 1];
				bool eq =
				    j - 1 < ci ? tolower_ascii(*p) == tolower_ascii(c) : *p == c;
				next[j] = at[j - 1] && eq;
			}
		}
		bool *tmp = at;
		at = next;
		next = tmp;
	}
	result = at[nlen];
	free(at < next ? at : next);
	return result;
}

bool store_mailbox_name_match(const char *pattern, const char *name)
{
	return match_dp(pattern, name, is_inbox_component(name) ? INBOX_LEN : 0);
}

const char *store_special_use_name(unsigned bit)
{
	switch (bit) {
	case STORE_SPECIAL_ALL:
		return "\\All";
	case STORE_SPECIAL_ARCHIVE:
		return "\\Archive";
	case STORE_SPECIAL_DRAFTS:
		return "\\Drafts";
	case STORE_SPECIAL_FLAGGED:
		return "\\Flagged";
	case STORE_SPECIAL_JUNK:
		return "\\Junk";
	case STORE_SPECIAL_SENT:
		return "\\Sent";
	case STORE_SPECIAL_TRASH:
		return "\\Trash";
	default:
		return NULL;
	}
}

static int list_entry_cmp(const void *a, const void *b)
{
	const struct store_list_entry *ea = a, *eb = b;
	bool ia = strcmp(ea->name, "INBOX") == 0, ib = strcmp(eb->name, "INBOX") == 0;

	if (ia != ib)
		return ia ? -1 : 1;
	return strcmp(ea->name, eb->name);
}

/* Is there an existing mailbox below entries[i]? entries are sorted by
 * strcmp except INBOX first, and every child sorts after its parent. */
static bool list_has_children(const struct store_list *all, size_t i)
{
	const char *name = all->entries[i].name;
	size_t len = strlen(name);

	for (size_t k = 0; k < all->count; k++) {
		const struct store_list_entry *e = &all->entries[k];
		if (k == i || (e->attrs & STORE_ATTR_NONEXISTENT) != 0)
			continue;
		if (strncmp(e->name, name, len) == 0 && e->name[len] == STORE_HIERARCHY_SEP)
			return true;
	}
	return false;
}

/*
 * Turn the backend's full list (every mailbox, plus subscribed names that do
 * not exist, flagged NONEXISTENT) into the answer for pattern. Finding
 * children scans the list per match; accounts have hundreds of mailboxes,
 * not millions.
 */
void store_list_filter(struct store_list *all, const char *pattern, unsigned flags)
{
	size_t out = 0;

	qsort(all->entries, all->count, sizeof(all->entries[0]), list_entry_cmp);
	for (size_t i = 0; i < all->count; i++) {
		struct store_list_entry *e = &all->entries[i];
		bool keep = store_mailbox_name_match(pattern, e->name);

		if ((flags & STORE_LIST_SUBSCRIBED) != 0)
			keep = keep && (e->attrs & STORE_ATTR_SUBSCRIBED) != 0;
		else
			keep = keep && (e->attrs & STORE_ATTR_NONEXISTENT) == 0;
		if (keep && (e->attrs & STORE_ATTR_NONEXISTENT) == 0)
			e->attrs |= list_has_children(all, i) ? STORE_ATTR_HASCHILDREN
			                                      : STORE_ATTR_HASNOCHILDREN;
		e->attrs |= keep ? 0 : 1u << 31;
	}
	for (size_t i = 0; i < all->count; i++) {
		struct store_list_entry *e = &all->entries[i];
		if ((e->attrs & (1u << 31)) != 0) {
			free(e->name);
			continue;
		}
		all->entries[out++] = *e;
	}
	all->count = out;
}

void store_list_free(struct store_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->entries[i].name);
	free(list->entries);
	list->entries = NULL;
	list->count = 0;
}

/* RFC 9051 flag-keyword = atom, and not a system flag ("\..."). */
static bool keyword_valid(const char *kw)
{
	size_t len = strlen(kw);

	if (len == 0 || len > STORE_KEYWORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)kw[i];
		if (c <= 0x20 || c >= 0x7f || strchr("(){%*\"\\]", c) != NULL)
			return false;
	}
	return true;
}

static int keyword_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

int store_keywords_normalize(const char *const *in, size_t count, const char ***out_r,
                             size_t *count_r, struct store_error *err)
{
	const char **out;
	size_t n = 0;

	*out_r = NULL;
	*count_r = 0;
	if (count > STORE_KEYWORDS_MAX)
		return store_error_set(err, STORE_ERR_LIMIT, "Too many keywords");
	if (count == 0)
		return 0;
	out = xcalloc(count, sizeof(*out));
	for (size_t i = 0; i < count; i++) {
		if (!keyword_valid(in[i])) {
			free(out);
			return store_error_set(err, STORE_ERR_CANNOT, "Invalid keyword");
		}
		out[i] = in[i];
	}
	qsort(out, count, sizeof(*out), keyword_cmp);
	for (size_t i = 0; i < count; i++) {
		if (n > 0 && strcasecmp(out[n - 1], out[i]) == 0)
			continue;
		out[n++] = out[i];
	}
	*out_r = out;
	*count_r = n;
	return 0;
}
