/*
 * FETCH response items (RFC 9051 7.5.2): body sections from the stored
 * message and its part table, and the items that come from the store's
 * cached attributes. Dovecot's answers (shared/corpus) decide the details
 * the RFCs leave open; tests/unit/test_imap_fetch.c compares with them.
 *
 * The section content is built in memory; streaming large parts from the
 * blob is for the FETCH command to add (the sizes are known up front from
 * the part table for everything but HEADER.FIELDS and BINARY).
 */
#include "imap/fetch.h"
#include "store/store.h"

#include <assert.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

/* [origin, origin+count) of len bytes, clamped (RFC 9051 6.4.5: an origin
 * past the end gives an empty string). */
static void partial_range(const struct imap_fetch_section *sec, size_t len, size_t *start_r,
                          size_t *len_r)
{
	size_t start = 0, n = len;

	if (sec != NULL && sec->partial) {
		start = sec->origin < len ? sec->origin : len;
		n = len - start;
		if (n > sec->count)
			n = sec->count;
	}
	*start_r = start;
	*len_r = n;
}

/* " {n}\r\n" + data, with NUL sent as 0x80 (a literal may not hold NUL,
 * RFC 9051 4.3; Dovecot does the same in BODY[]). */
static void write_literal_no_nul(struct buf *out, const void *data, size_t len)
{
	size_t at;

	buf_printf(out, " {%zu}\r\n", len);
	at = out->len;
	buf_append(out, data, len);
	for (size_t i = at; i < out->len; i++) {
		if (out->data[i] == '\0')
			out->data[i] = (char)0x80;
	}
}

/* The byte range of a resolved section within the message, or -1 if the
 * part table does not fit the message (a corrupt cache). */
static int section_range(const struct mime_section *ms, size_t msg_len)
{
	if (ms->start > msg_len || ms->len > msg_len - ms->start)
		return -1;
	return 0;
}

/* BODY[...]: the bytes of the section (filtered for HEADER.FIELDS). */
static int write_body(struct buf *out, const struct imap_fetch_section *sec, const char *name,
                      const char *spec, const unsigned char *msg, size_t msg_len,
                      const struct mime_part *parts, uint32_t part_count, const char **error_code_r)
{
	struct mime_section ms;
	struct buf filtered;
	const unsigned char *data = NULL;
	size_t len = 0, start, n;
	int ret;

	ret = mime_section_find(parts, part_count, spec, &ms);
	if (ret < 0) {
		/* fetch_parse.c accepts only what mime/ resolves */
		*error_code_r = "SERVERBUG";
		return -1;
	}
	buf_init(&filtered);
	if (ret > 0) {
		if (section_range(&ms, msg_len) < 0) {
			*error_code_r = "SERVERBUG";
			return -1;
		}
		if (ms.kind == MIME_SECTION_BYTES) {
			data = msg + ms.start;
			len = (size_t)ms.len;
		} else {
			assert(sec != NULL);
			mime_header_filter(msg + ms.start, (size_t)ms.len,
			                   (const char *const *)sec->fields, sec->field_count,
			                   ms.kind == MIME_SECTION_HEADER_FIELDS_NOT, &filtered);
			data = (const unsigned char *)filtered.data;
			len = filtered.len;
		}
	}
	/* a part that does not exist is an empty string (Dovecot: "{0}") */
	partial_range(sec, len, &start, &n);
	buf_append_str(out, name);
	write_literal_no_nul(out, n > 0 ? data + start : (const unsigned char *)"", n);
	buf_free(&filtered);
	return 0;
}

/* BINARY[...] and BINARY.SIZE[...] (RFC 3516, RFC 9051 7.5.2). */
static int write_binary(struct buf *out, const struct imap_fetch_section *sec,
                        const unsigned char *msg, size_t msg_len, const struct mime_part *parts,
                        uint32_t part_count, const char **error_code_r)
{
	struct mime_section ms;
	struct buf decoded;
	const unsigned char *data = (const unsigned char *)"";
	size_t len = 0, start, n;
	bool literal8 = false;
	int ret;

	ret = mime_section_find(parts, part_count, sec->spec, &ms);
	if (ret < 0) {
		*error_code_r = "SERVERBUG";
		return -1;
	}
	buf_init(&decoded);
	if (ret > 0) {
		if (section_range(&ms, msg_len) < 0) {
			*error_code_r = "SERVERBUG";
			return -1;
		}
		if (!ms.whole_part) {
			/* BINARY[]: the message as stored; its header has no CTE */
			data = msg + ms.start;
			len = (size_t)ms.len;
		} else {
			enum mime_cte cte = parts[ms.part].cte;

			if (cte == MIME_CTE_UNKNOWN) {
				/* RFC 9051 7.5.2: MUST fail with UNKNOWN-CTE */
				*error_code_r = "UNKNOWN-CTE";
				return -1;
			}
			if (mime_decode_part(msg, msg_len, parts, part_count, ms.part, &decoded) <
			    0) {
				buf_free(&decoded);
				*error_code_r = "SERVERBUG";
				return -1;
			}
			if (decoded.len > 0)
				data = (const unsigned char *)decoded.data;
			len = decoded.len;
			/* Dovecot sends every decoded base64 and quoted-printable
			 * part as literal8, NUL or not (shared/corpus: 170 of 170
			 * non-empty answers); a client must take literal8 there
			 * anyway, and 7bit/8bit/binary stay plain strings */
			literal8 = cte == MIME_CTE_BASE64 || cte == MIME_CTE_QP;
		}
		/* RFC 9051 7.5.2: a string when there is no NUL; the whole
		 * part decides, not the partial range (Dovecot) */
		if (memchr(data, '\0', len) != NULL)
			literal8 = true;
	}
	if (sec->kind == IMAP_FETCH_SECTION_BINARY_SIZE) {
		/* RFC 9051 7.5.2: the size BINARY[...] would send */
		buf_printf(out, "%s %zu", sec->name, len);
		buf_free(&decoded);
		return 0;
	}
	partial_range(sec, len, &start, &n);
	buf_append_str(out, sec->name);
	if (n == 0)
		buf_append_str(out, " {0}\r\n");
	else if (literal8)
		buf_printf(out, " ~{%zu}\r\n", n);
	else
		buf_printf(out, " {%zu}\r\n", n);
	buf_append(out, data + start, n);
	buf_free(&decoded);
	return 0;
}

int imap_fetch_write_section(struct buf *out, const struct imap_fetch_section *sec,
                             const unsigned char *msg, size_t msg_len,
                             const struct mime_part *parts, uint32_t part_count,
                             const char **error_code_r)
{
	size_t at = out->len;
	int ret;

	if (sec->kind == IMAP_FETCH_SECTION_BODY)
		ret = write_body(out, sec, sec->name, sec->spec, msg, msg_len, parts, part_count,
		                 error_code_r);
	else
		ret = write_binary(out, sec, msg, msg_len, parts, part_count, error_code_r);
	if (ret < 0)
		out->len = at;
	return ret;
}

int imap_fetch_write_rfc822(struct buf *out, unsigned which, const unsigned char *msg,
                            size_t msg_len, const struct mime_part *parts, uint32_t part_count,
                            const char **error_code_r)
{
	size_t at = out->len;
	int ret;

	switch (which) {
	case IMAP_FETCH_RFC822:
		ret = write_body(out, NULL, "RFC822", "", msg, msg_len, parts, part_count,
		                 error_code_r);
		break;
	case IMAP_FETCH_RFC822_HEADER:
		ret = write_body(out, NULL, "RFC822.HEADER", "HEADER", msg, msg_len, parts,
		                 part_count, error_code_r);
		break;
	case IMAP_FETCH_RFC822_TEXT:
		ret = write_body(out, NULL, "RFC822.TEXT", "TEXT", msg, msg_len, parts, part_count,
		                 error_code_r);
		break;
	default:
		assert(!"not an RFC822 item");
		*error_code_r = "SERVERBUG";
		ret = -1;
		break;
	}
	if (ret < 0)
		out->len = at;
	return ret;
}

/* ---- items from the cached attributes ---- */

void imap_fetch_write_flag_list(struct buf *out, unsigned flags, const char *keywords, bool recent)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {
	    {STORE_FLAG_ANSWERED, "\\Answered"}, {STORE_FLAG_FLAGGED, "\\Flagged"},
	    {STORE_FLAG_DELETED, "\\Deleted"},   {STORE_FLAG_SEEN, "\\Seen"},
	    {STORE_FLAG_DRAFT, "\\Draft"},
	};
	bool first = true;

	buf_append_byte(out, '(');
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if ((flags & names[i].flag) == 0)
			continue;
		if (!first)
			buf_append_byte(out, ' ');
		buf_append_str(out, names[i].name);
		first = false;
	}
	if (recent) {
		if (!first)
			buf_append_byte(out, ' ');
		buf_append_str(out, "\\Recent");
		first = false;
	}
	if (keywords != NULL && keywords[0] != '\0') {
		/* the store keeps validated atoms, space-separated */
		if (!first)
			buf_append_byte(out, ' ');
		buf_append_str(out, keywords);
	}
	buf_append_byte(out, ')');
}

void imap_fetch_write_date_time(struct buf *out, int64_t t, int tz_minutes)
{
	static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;
	time_t local;
	int tz_abs;

	/* RFC 9051 zone = ("+" / "-") 4DIGIT: hours below 24 */
	if (tz_minutes <= -24 * 60 || tz_minutes >= 24 * 60)
		tz_minutes = 0;
	local = (time_t)t + (time_t)tz_minutes * 60;
	if (gmtime_r(&local, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999) {
		/* not representable in date-year = 4DIGIT */
		local = 0;
		tz_minutes = 0;
		gmtime_r(&local, &tm);
	}
	tz_abs = tz_minutes < 0 ? -tz_minutes : tz_minutes;
	/* RFC 9051 date-time = DQUOTE date-day-fixed "-" date-month "-"
	 * date-year SP time SP zone DQUOTE */
	buf_printf(out, "\"%02d-%s-%04d %02d:%02d:%02d %c%02d%02d\"", tm.tm_mday, months[tm.tm_mon],
	           tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, tz_minutes < 0 ? '-' : '+',
	           tz_abs / 60, tz_abs % 60);
}

/* A cached ENVELOPE/BODY/BODYSTRUCTURE; the caller must have it. */
static void write_cached(struct buf *out, const char *value)
{
	assert(value != NULL);
	buf_append_str(out, value != NULL ? value : "NIL");
}

size_t imap_fetch_write_attrs(struct buf *out, unsigned flags, const struct imap_fetch_attrs *a)
{
	size_t n = 0;

#define NEXT_ITEM()                                                                                \
	do {                                                                                       \
		if (n++ > 0)                                                                       \
			buf_append_byte(out, ' ');                                                 \
	} while (0)

	if (flags & IMAP_FETCH_UID) {
		NEXT_ITEM();
		buf_printf(out, "UID %" PRIu32, a->uid);
	}
	if (flags & IMAP_FETCH_FLAGS) {
		NEXT_ITEM();
		buf_append_str(out, "FLAGS ");
		imap_fetch_write_flag_list(out, a->flags, a->keywords, a->recent);
	}
	if (flags & IMAP_FETCH_INTERNALDATE) {
		NEXT_ITEM();
		buf_append_str(out, "INTERNALDATE ");
		imap_fetch_write_date_time(out, a->internaldate, a->internaldate_tz);
	}
	if (flags & IMAP_FETCH_RFC822_SIZE) {
		NEXT_ITEM();
		buf_printf(out, "RFC822.SIZE %" PRIu64, a->size);
	}
	if (flags & IMAP_FETCH_ENVELOPE) {
		NEXT_ITEM();
		buf_append_str(out, "ENVELOPE ");
		write_cached(out, a->envelope);
	}
	if (flags & IMAP_FETCH_BODY) {
		NEXT_ITEM();
		buf_append_str(out, "BODY ");
		write_cached(out, a->body);
	}
	if (flags & IMAP_FETCH_BODYSTRUCTURE) {
		NEXT_ITEM();
		buf_append_str(out, "BODYSTRUCTURE ");
		write_cached(out, a->bodystructure);
	}
	if (flags & IMAP_FETCH_MODSEQ) {
		/* RFC 7162 3.1.4.1: MODSEQ (n) */
		NEXT_ITEM();
		buf_printf(out, "MODSEQ (%" PRIu64 ")", a->modseq);
	}
#undef NEXT_ITEM
	return n;
}
