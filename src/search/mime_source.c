/*
 * search/mime_source.c — search_message_ops over a message's bytes.
 *
 * For searching without an index: header keys read only the top-level
 * header (no MIME parse); BODY and TEXT parse the structure once (or use
 * the caller's parse) and decode the text parts. What counts as text, and
 * what BODY and TEXT cover, follows Dovecot without FTS (its
 * lib-mail/message-search.c, checked against shared/corpus):
 *   - BODY: the decoded bodies of text and message leaf parts (and of
 *     parts without Content-Type, text/plain by default), no headers;
 *   - TEXT: that, and every header block (top-level, MIME part headers and
 *     encapsulated messages' headers), decoded.
 */
#include "search/search.h"

#include "mime/mime.h"

#include <string.h>
#include <strings.h>

struct field {
	const unsigned char *name; /* NULL for a line without a colon */
	size_t name_len;
	const unsigned char *value; /* after the colon, folded, no final line end */
	size_t value_len;
};

/*
 * The next header field in [*pp, end): a line and its continuation lines.
 * False at the empty line that ends the header, or at the end. A line
 * without a colon is a field without a name (skipped by name lookups, as in
 * mime/); "Subject : x" is a Subject field (RFC 5322 4.5.2 obs-optional).
 */
static bool field_next(const unsigned char **pp, const unsigned char *end, struct field *f)
{
	const unsigned char *p = *pp, *start = p, *colon, *vend;

	if (p >= end || *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n'))
		return false;
	for (;;) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));

		if (lf == NULL) {
			p = end;
			break;
		}
		p = lf + 1;
		if (p >= end || (*p != ' ' && *p != '\t'))
			break;
	}
	*pp = p;
	vend = p;
	if (vend > start && vend[-1] == '\n')
		vend--;
	if (vend > start && vend[-1] == '\r')
		vend--;
	memset(f, 0, sizeof(*f));
	colon = memchr(start, ':', (size_t)(vend - start));
	if (colon == NULL || memchr(start, '\n', (size_t)(colon - start)) != NULL) {
		f->value = start;
		f->value_len = (size_t)(vend - start);
		return true;
	}
	f->name = start;
	f->name_len = (size_t)(colon - start);
	while (f->name_len > 0 && (start[f->name_len - 1] == ' ' || start[f->name_len - 1] == '\t'))
		f->name_len--;
	f->value = colon + 1;
	f->value_len = (size_t)(vend - f->value);
	return true;
}

static bool field_is(const struct field *f, const char *name)
{
	size_t n = strlen(name);

	return f->name != NULL && f->name_len == n &&
	       strncasecmp((const char *)f->name, name, n) == 0;
}

static int mime_header(void *context, const char *name, struct buf *out)
{
	struct search_mime_ctx *ctx = context;
	const unsigned char *p = ctx->data, *end = ctx->data + ctx->len;
	struct field f;
	int count = 0;

	while (field_next(&p, end, &f)) {
		if (!field_is(&f, name))
			continue;
		mime_header_decode_utf8(f.value, f.value_len, out);
		buf_append_byte(out, '\0');
		count++;
	}
	return count;
}

static int mime_sent_date(void *context, int64_t *time_r, int *tz_r)
{
	struct search_mime_ctx *ctx = context;
	const unsigned char *p = ctx->data, *end = ctx->data + ctx->len;
	const unsigned char *value = NULL;
	size_t value_len = 0;
	struct field f;
	struct buf b;
	time_t t;
	int tz, r;

	/* the first Date field, as Dovecot's search takes it (corpus 201;
	 * its ENVELOPE takes the last) */
	while (field_next(&p, end, &f)) {
		if (field_is(&f, "Date")) {
			value = f.value;
			value_len = f.value_len;
			break;
		}
	}
	if (value == NULL)
		return 0;
	buf_init(&b);
	for (size_t i = 0; i < value_len; i++)
		buf_append_byte(&b, value[i] == '\r' || value[i] == '\n' ? ' ' : (char)value[i]);
	r = mime_date_parse(b.data, b.len, &t, &tz);
	buf_free(&b);
	if (r < 0)
		return 0;
	*time_r = (int64_t)t;
	*tz_r = tz;
	return 1;
}

/* Every field of a header block, decoded, one per line. */
static void header_text(const unsigned char *hdr, size_t len, struct buf *out)
{
	const unsigned char *p = hdr, *end = hdr + len;
	struct field f;

	while (field_next(&p, end, &f)) {
		if (f.name != NULL) {
			buf_append(out, f.name, f.name_len);
			buf_append(out, ": ", 2);
		}
		mime_header_decode_utf8(f.value, f.value_len, out);
		buf_append_byte(out, '\n');
	}
}

/* Dovecot searches the bodies of text/ and message/ parts (and parts
 * without a Content-Type); not attachments of other types. */
static bool part_is_text(const struct search_mime_ctx *ctx, const struct mime_part *part)
{
	size_t hlen = (size_t)(part->body_start - part->header_start), vlen;
	const unsigned char *v =
	    mime_header_get(ctx->data + part->header_start, hlen, "Content-Type", &vlen);
	size_t i = 0;

	if (v == NULL)
		return true;
	while (i < vlen && (v[i] == ' ' || v[i] == '\t' || v[i] == '\r' || v[i] == '\n'))
		i++;
	v += i;
	vlen -= i;
	return (vlen >= 5 && strncasecmp((const char *)v, "text/", 5) == 0) ||
	       (vlen >= 8 && strncasecmp((const char *)v, "message/", 8) == 0);
}

static int mime_text(void *context, bool include_headers, struct buf *out)
{
	struct search_mime_ctx *ctx = context;
	const struct mime_message *msg;

	if (ctx->msg == NULL) {
		ctx->msg = mime_parse(ctx->data, ctx->len);
		ctx->own_msg = true;
	}
	msg = ctx->msg;
	for (uint32_t i = 0; i < msg->part_count; i++) {
		const struct mime_part *part = &msg->parts[i];

		if (part->body_start > ctx->len || part->header_start > part->body_start)
			continue;
		if (include_headers)
			header_text(ctx->data + part->header_start,
			            (size_t)(part->body_start - part->header_start), out);
		if (part->first_child != 0 || !part_is_text(ctx, part))
			continue;
		/* an unknown transfer encoding gives nothing to search */
		if (mime_part_text_utf8(ctx->data, ctx->len, msg->parts, msg->part_count, i, out) ==
		    0)
			buf_append_byte(out, '\n');
	}
	return 0;
}

const struct search_message_ops search_mime_ops = {
    .header = mime_header,
    .text = mime_text,
    .sent_date = mime_sent_date,
};

void search_mime_init(struct search_mime_ctx *ctx, const void *data, size_t len,
                      struct mime_message *msg)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->data = data;
	ctx->len = len;
	ctx->msg = msg;
}

void search_mime_deinit(struct search_mime_ctx *ctx)
{
	if (ctx->own_msg)
		mime_message_free(&ctx->msg);
	memset(ctx, 0, sizeof(*ctx));
}
