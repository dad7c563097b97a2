/*
 * BODY and BODYSTRUCTURE (RFC 3501 7.4.2, RFC 9051 7.5.2) from the part
 * tree. Header values are read again from the part headers (the message
 * bytes outlive the parse), so the parse itself stays small.
 *
 * Dovecot's choices, which clients have been tested against: values it
 * supplies are lower case ("text" "plain" ("charset" "us-ascii"), "7bit");
 * values from the message keep their case; the first Content-Type and
 * Content-Transfer-Encoding count; a multipart without parts shows one
 * empty text/plain part; a text part without a charset gets "us-ascii".
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct part_hdr {
	struct mime_ctype ct; /* type NULL: no Content-Type */
	struct mime_ctype disp;
	bool have_disp;
	const struct mime_hdr_field *cte, *id, *desc, *md5, *lang, *loc;
	struct mime_hdr_field store[6];
};

static void part_hdr_read(const unsigned char *data, const struct mime_part *p, struct part_hdr *h)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	static const char *const names[6] = {"Content-Transfer-Encoding", "Content-ID",
	                                     "Content-Description",       "Content-MD5",
	                                     "Content-Language",          "Content-Location"};
	const struct mime_hdr_field **slots[6] = {&h->cte, &h->id,   &h->desc,
	                                          &h->md5, &h->lang, &h->loc};
	size_t len;
	const unsigned char *hdr = mime_part_header(data, p, &len);

	memset(h, 0, sizeof(*h));
	mime_hdr_iter_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f)) {
		if (h->ct.type == NULL && mime_hdr_name_is(&f, "Content-Type")) {
			mime_ctype_parse(f.value, f.value_len, &h->ct);
			continue;
		}
		/* a later Content-Disposition replaces one without parameters
		 * (Dovecot keeps the first that has them) */
		if ((!h->have_disp || h->disp.param_count == 0) &&
		    mime_hdr_name_is(&f, "Content-Disposition")) {
			struct mime_lex lx;
			struct buf tok;

			mime_ctype_free(&h->disp);
			h->have_disp = true;
			buf_init(&tok);
			mime_lex_init(&lx, f.value, f.value_len);
			mime_lex_skip_cfws(&lx);
			if (mime_lex_token(&lx, &tok)) {
				h->disp.type = xstrdup(tok.data);
				mime_params_parse(&lx, &h->disp);
			} else {
				h->have_disp = false;
			}
			buf_free(&tok);
			continue;
		}
		for (int i = 0; i < 6; i++) {
			if (*slots[i] == NULL && mime_hdr_name_is(&f, names[i])) {
				h->store[i] = f;
				*slots[i] = &h->store[i];
			}
		}
	}
}

static void part_hdr_free(struct part_hdr *h)
{
	mime_ctype_free(&h->ct);
	mime_ctype_free(&h->disp);
}

static void write_field(struct buf *out, const struct mime_hdr_field *f)
{
	struct buf v;

	if (f == NULL) {
		buf_append(out, "NIL", 3);
		return;
	}
	buf_init(&v);
	mime_value_normalize(f->value, f->value_len, &v);
	mime_write_nstring(out, v.data ? v.data : "", v.len, false);
	buf_free(&v);
}

static void write_params(struct buf *out, const struct mime_ctype *ct, bool default_charset)
{
	bool charset = false;

	if (ct->param_count == 0 && !default_charset) {
		buf_append(out, "NIL", 3);
		return;
	}
	buf_append_byte(out, '(');
	for (unsigned i = 0; i < ct->param_count; i++) {
		if (i > 0)
			buf_append_byte(out, ' ');
		mime_write_str(out, ct->params[i].name);
		buf_append_byte(out, ' ');
		mime_write_str(out, ct->params[i].value);
		if (strcasecmp(ct->params[i].name, "charset") == 0)
			charset = true;
	}
	if (default_charset && !charset) {
		if (ct->param_count > 0)
			buf_append_byte(out, ' ');
		buf_append_str(out, "\"charset\" \"us-ascii\"");
	}
	buf_append_byte(out, ')');
}

/* disposition, language, location: shared by all part kinds */
static void write_ext_common(struct buf *out, const struct part_hdr *h)
{
	buf_append_byte(out, ' ');
	if (!h->have_disp) {
		buf_append(out, "NIL", 3);
	} else {
		buf_append_byte(out, '(');
		mime_write_str(out, h->disp.type);
		buf_append_byte(out, ' ');
		write_params(out, &h->disp, false);
		buf_append_byte(out, ')');
	}
	buf_append_byte(out, ' ');
	if (h->lang == NULL) {
		buf_append(out, "NIL", 3);
	} else {
		/* Content-Language: a list of tags (RFC 3282) */
		struct mime_lex lx;
		struct buf tok;
		unsigned n = 0;

		buf_init(&tok);
		mime_lex_init(&lx, h->lang->value, h->lang->value_len);
		buf_append_byte(out, '(');
		for (;;) {
			mime_lex_skip_cfws(&lx);
			if (lx.p < lx.end && *lx.p == ',') {
				lx.p++;
				continue;
			}
			buf_reset(&tok);
			if (!mime_lex_token(&lx, &tok))
				break;
			if (n++ > 0)
				buf_append_byte(out, ' ');
			mime_write_str(out, tok.data);
		}
		buf_free(&tok);
		if (n == 0) {
			out->len--; /* the '(' */
			buf_append(out, "NIL", 3);
		} else {
			buf_append_byte(out, ')');
		}
	}
	buf_append_byte(out, ' ');
	write_field(out, h->loc);
}

static const char empty_part[] =
    "(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0";

static void write_part(const struct mime_message *msg, uint32_t idx, bool ext, struct buf *out)
{
	const struct mime_part *p = &msg->parts[idx];
	struct part_hdr h;

	part_hdr_read(msg->data, p, &h);
	buf_append_byte(out, '(');
	if (p->multipart) {
		uint32_t c = p->first_child;

		if (c == 0) {
			buf_append_str(out, empty_part);
			buf_append_str(out, ext ? " NIL NIL NIL NIL)" : ")");
		}
		for (; c != 0; c = msg->parts[c].next_sibling)
			write_part(msg, c, ext, out);
		buf_append_byte(out, ' ');
		mime_write_str(out, h.ct.subtype ? h.ct.subtype : "mixed");
		if (ext) {
			buf_append_byte(out, ' ');
			write_params(out, &h.ct, false);
			write_ext_common(out, &h);
		}
		buf_append_byte(out, ')');
		part_hdr_free(&h);
		return;
	}

	const char *type = h.ct.type, *subtype = h.ct.subtype;
	bool default_charset = false;

	if (type == NULL) {
		if (p->message_rfc822) {
			type = "message";
			subtype = "rfc822";
		} else {
			type = "text";
			subtype = "plain";
		}
	} else if (p->opaque && strcasecmp(type, "message") == 0) {
		/* too deep to be looked into: an opaque leaf */
		type = "application";
		subtype = "octet-stream";
	}
	bool text = strcasecmp(type, "text") == 0;

	default_charset = text;
	mime_write_str(out, type);
	buf_append_byte(out, ' ');
	mime_write_str(out, subtype);
	buf_append_byte(out, ' ');
	write_params(out, &h.ct, default_charset);
	buf_append_byte(out, ' ');
	write_field(out, h.id);
	buf_append_byte(out, ' ');
	write_field(out, h.desc);
	buf_append_byte(out, ' ');
	{
		/* the encoding token as written; none or empty: "7bit" */
		struct buf tok;
		struct mime_lex lx;

		buf_init(&tok);
		if (h.cte != NULL) {
			mime_lex_init(&lx, h.cte->value, h.cte->value_len);
			mime_lex_skip_cfws(&lx);
			(void)mime_lex_token(&lx, &tok);
		}
		mime_write_str(out, tok.len ? tok.data : "7bit");
		buf_free(&tok);
	}
	buf_printf(out, " %llu", (unsigned long long)(p->body_end - p->body_start));
	if (p->message_rfc822 && p->first_child != 0) {
		const struct mime_part *c = &msg->parts[p->first_child];
		size_t hlen;
		const unsigned char *hdr = mime_part_header(msg->data, c, &hlen);

		buf_append_byte(out, ' ');
		mime_envelope_write(hdr, hlen, out);
		buf_append_byte(out, ' ');
		write_part(msg, p->first_child, ext, out);
		buf_printf(out, " %u", p->body_lines);
	} else if (text) {
		buf_printf(out, " %u", p->body_lines);
	}
	if (ext) {
		buf_append_byte(out, ' ');
		write_field(out, h.md5);
		write_ext_common(out, &h);
	}
	buf_append_byte(out, ')');
	part_hdr_free(&h);
}

void mime_write_bodystructure(const struct mime_message *msg, bool extended, struct buf *out)
{
	write_part(msg, 0, extended, out);
}
