/* BODY[section]: resolving a section spec to a byte range of the stored
 * message (RFC 3501 6.4.5, RFC 9051 6.4.5), and HEADER.FIELDS filtering. */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static uint32_t nth_child(const struct mime_part *parts, uint32_t count, uint32_t idx,
                          unsigned long n)
{
	uint32_t c = parts[idx].first_child;

	while (c != 0 && c < count && --n > 0)
		c = parts[c].next_sibling;
	return c < count ? c : 0;
}

static void set_range(struct mime_section *sec, uint64_t start, uint64_t end)
{
	sec->start = start;
	sec->len = end > start ? end - start : 0;
}

int mime_section_find(const struct mime_part *parts, uint32_t count, const char *spec,
                      struct mime_section *sec_r)
{
	const char *p = spec;
	uint32_t cur = 0;
	bool at_message = true, numbered = false, missing = false;

	memset(sec_r, 0, sizeof(*sec_r));
	sec_r->kind = MIME_SECTION_BYTES;
	/* the part numbers */
	while (*p >= '0' && *p <= '9') {
		char *end;
		unsigned long n = strtoul(p, &end, 10);

		if (n == 0 || n > UINT32_MAX || *p == '0')
			return -1;
		p = end;
		numbered = true;
		if (!missing) {
			if (count > 0 && parts[cur].multipart) {
				uint32_t c = nth_child(parts, count, cur, n);

				if (c == 0)
					missing = true;
				cur = c;
			} else if (!(at_message && n == 1)) {
				/* a non-multipart message has part 1 only */
				missing = true;
			}
		}
		at_message = false;
		if (*p != '.')
			break;
		p++;
		if (!(*p >= '0' && *p <= '9'))
			break;
		if (!missing && parts[cur].message_rfc822 && parts[cur].first_child != 0) {
			/* the numbers go on inside the encapsulated message */
			cur = parts[cur].first_child;
			at_message = true;
		}
	}
	if (numbered && *p == '\0' && p[-1] == '.')
		return -1;
	if (count == 0)
		missing = true;

	/* the section text */
	bool header = false, text = false, mime = false;
	enum mime_section_kind kind = MIME_SECTION_BYTES;

	if (*p == '\0') {
		/* the whole message, or the body of the part */
	} else if (strcasecmp(p, "HEADER") == 0) {
		header = true;
	} else if (strcasecmp(p, "TEXT") == 0) {
		text = true;
	} else if (strcasecmp(p, "HEADER.FIELDS") == 0) {
		header = true;
		kind = MIME_SECTION_HEADER_FIELDS;
	} else if (strcasecmp(p, "HEADER.FIELDS.NOT") == 0) {
		header = true;
		kind = MIME_SECTION_HEADER_FIELDS_NOT;
	} else if (numbered && strcasecmp(p, "MIME") == 0) {
		mime = true;
	} else {
		return -1;
	}
	sec_r->kind = kind;
	if (missing)
		return 0;
	sec_r->part = cur;
	if (!numbered) {
		if (header)
			set_range(sec_r, parts[0].header_start, parts[0].body_start);
		else if (text)
			set_range(sec_r, parts[0].body_start, parts[0].body_end);
		else
			set_range(sec_r, parts[0].header_start, parts[0].body_end);
		return 1;
	}
	if (mime) {
		set_range(sec_r, parts[cur].header_start, parts[cur].body_start);
		return 1;
	}
	if (header || text) {
		/* HEADER and TEXT of a part name those of its message/rfc822 */
		if (!parts[cur].message_rfc822 || parts[cur].first_child == 0)
			return 0;
		cur = parts[cur].first_child;
		if (header)
			set_range(sec_r, parts[cur].header_start, parts[cur].body_start);
		else
			set_range(sec_r, parts[cur].body_start, parts[cur].body_end);
		return 1;
	}
	sec_r->whole_part = true;
	set_range(sec_r, parts[cur].body_start, parts[cur].body_end);
	return 1;
}

static bool name_listed(const struct mime_hdr_field *f, const char *const *names, size_t count)
{
	if (!f->has_colon)
		return false;
	for (size_t i = 0; i < count; i++) {
		size_t n = strlen(names[i]);

		if (n == f->name_len && strncasecmp((const char *)f->name, names[i], n) == 0)
			return true;
	}
	return false;
}

void mime_header_filter(const void *hdr, size_t len, const char *const *names, size_t count,
                        bool exclude, struct buf *out)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;

	mime_hdr_iter_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f)) {
		if (name_listed(&f, names, count) == exclude)
			continue;
		buf_append(out, f.start, (size_t)(f.end - f.start));
		/* a last field without a line end still ends its line */
		if (!exclude && (f.end == f.start || f.end[-1] != '\n'))
			buf_append(out, "\r\n", 2);
	}
	if (!exclude) {
		/* RFC 3501 6.4.5: the subset includes the delimiting blank line */
		buf_append(out, "\r\n", 2);
	} else if (it.p < it.end) {
		/* .NOT keeps the header's own blank line, if it has one (Dovecot) */
		buf_append(out, it.p, (size_t)(it.end - it.p));
	}
}
