/* Transfer decoding for BINARY[section] (RFC 3516) and search: base64
 * (RFC 2045 6.8) and quoted-printable (RFC 2045 6.7), both lenient: broken
 * mail is decoded as far as it goes rather than refused. */
#include "mime/mime_private.h"

#include <string.h>
#include <strings.h>

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Bytes outside the alphabet (line ends, spaces, junk) are skipped; '='
 * ends a quantum, and decoding goes on after it (data after padding). */
void mime_base64_decode(const unsigned char *s, size_t len, struct buf *out)
{
	uint32_t acc = 0;
	unsigned n = 0;

	buf_reserve(out, len / 4 * 3 + 3);
	for (size_t i = 0; i < len; i++) {
		int v = b64_value(s[i]);

		if (v < 0) {
			if (s[i] == '=' && n > 0) {
				/* flush a partial quantum: 2 chars give 1 byte, 3 give 2 */
				if (n >= 2)
					buf_append_byte(out, (char)(acc >> (6 * n - 8)));
				if (n == 3)
					buf_append_byte(out, (char)(acc >> (6 * n - 16)));
				acc = 0;
				n = 0;
			}
			continue;
		}
		acc = (acc << 6) | (uint32_t)v;
		if (++n == 4) {
			char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};

			buf_append(out, b, 3);
			acc = 0;
			n = 0;
		}
	}
	/* missing padding */
	if (n >= 2)
		buf_append_byte(out, (char)(acc >> (6 * n - 8)));
	if (n == 3)
		buf_append_byte(out, (char)(acc >> (6 * n - 16)));
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void mime_qp_decode(const unsigned char *s, size_t len, struct buf *out)
{
	size_t i = 0;

	buf_reserve(out, len);
	while (i < len) {
		/* one line, without its line end */
		const unsigned char *lf = memchr(s + i, '\n', len - i);
		size_t end = lf == NULL ? len : (size_t)(lf - s);
		size_t next = lf == NULL ? len : end + 1;
		bool has_eol = lf != NULL;

		if (end > i && s[end - 1] == '\r')
			end--;
		/* RFC 2045 6.7 (3): trailing white space is transport padding */
		while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
			end--;
		bool soft = false;

		for (size_t j = i; j < end; j++) {
			if (s[j] != '=') {
				buf_append_byte(out, (char)s[j]);
				continue;
			}
			if (j + 1 == end) {
				soft = true; /* "=" at the end of the line: soft break */
				break;
			}
			int h1 = hex_value(s[j + 1]);
			int h2 = j + 2 < end ? hex_value(s[j + 2]) : -1;

			if (h1 >= 0 && h2 >= 0) {
				buf_append_byte(out, (char)(h1 * 16 + h2));
				j += 2;
			} else {
				buf_append_byte(out, '='); /* invalid escape: kept */
			}
		}
		if (has_eol && !soft)
			buf_append(out, "\r\n", 2);
		i = next;
	}
}

int mime_decode_body(enum mime_cte cte, const void *data, size_t len, struct buf *out)
{
	switch (cte) {
	case MIME_CTE_7BIT:
	case MIME_CTE_8BIT:
	case MIME_CTE_BINARY:
		buf_append(out, data, len);
		return 0;
	case MIME_CTE_BASE64:
		mime_base64_decode(data, len, out);
		return 0;
	case MIME_CTE_QP:
		mime_qp_decode(data, len, out);
		return 0;
	case MIME_CTE_UNKNOWN:
		break;
	}
	return -1;
}

int mime_decode_part(const void *msg_data, size_t msg_len, const struct mime_part *parts,
                     uint32_t count, uint32_t index, struct buf *out)
{
	const struct mime_part *p;

	if (index >= count)
		return -1;
	p = &parts[index];
	if (p->body_end > msg_len || p->body_start > p->body_end)
		return -1;
	return mime_decode_body(p->cte, (const unsigned char *)msg_data + p->body_start,
	                        (size_t)(p->body_end - p->body_start), out);
}

int mime_part_text_utf8(const void *msg_data, size_t msg_len, const struct mime_part *parts,
                        uint32_t count, uint32_t index, struct buf *out)
{
	struct buf raw;
	struct mime_ctype ct;
	size_t hlen, vlen;
	const unsigned char *hdr, *v;
	const char *charset;

	if (index >= count || parts[index].body_end > msg_len)
		return -1;
	buf_init(&raw);
	if (mime_decode_part(msg_data, msg_len, parts, count, index, &raw) < 0) {
		buf_free(&raw);
		return -1;
	}
	hdr = mime_part_header(msg_data, &parts[index], &hlen);
	v = mime_header_get(hdr, hlen, "Content-Type", &vlen);
	memset(&ct, 0, sizeof(ct));
	if (v != NULL)
		mime_ctype_parse(v, vlen, &ct);
	charset = mime_ctype_param(&ct, "charset");
	if (charset != NULL)
		(void)mime_charset_to_utf8(charset, raw.data ? raw.data : "", raw.len, out);
	else
		buf_append(out, raw.data ? raw.data : "", raw.len);
	mime_ctype_free(&ct);
	buf_free(&raw);
	return 0;
}
