/* RFC 2047 encoded words in header text, decoded to UTF-8 for search and
 * sorting (IMAP ENVELOPE and BODYSTRUCTURE keep them encoded). Lenient:
 * words anywhere (inside quotes, glued together), B and Q, the RFC 2231
 * language suffix (charset*lang), and adjacent words of one charset joined
 * before conversion so that a character split across words survives. */
#include "mime/mime_private.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

struct word {
	const unsigned char *charset;
	size_t charset_len;
	char enc;
	const unsigned char *text;
	size_t text_len;
	size_t total; /* bytes of the whole "=?...?=" */
};

/* Is there an encoded word at s? */
static bool word_parse(const unsigned char *s, const unsigned char *end, struct word *w)
{
	const unsigned char *p = s + 2, *q, *close;

	if (end - s < 8 || s[0] != '=' || s[1] != '?')
		return false;
	q = memchr(p, '?', (size_t)(end - p));
	if (q == NULL || q == p || end - q < 4 || q[2] != '?')
		return false;
	for (const unsigned char *c = p; c < q; c++) {
		if (*c <= ' ' || *c >= 0x7f)
			return false;
	}
	w->enc = (char)(q[1] | 0x20);
	if (w->enc != 'b' && w->enc != 'q')
		return false;
	w->text = q + 3;
	close = w->text;
	for (;;) {
		close = memchr(close, '?', (size_t)(end - close));
		if (close == NULL || close + 1 >= end)
			return false;
		if (close[1] == '=')
			break;
		close++;
	}
	for (const unsigned char *c = w->text; c < close; c++) {
		if (*c == ' ' || *c == '\t' || *c == '\r' || *c == '\n')
			return false;
	}
	w->text_len = (size_t)(close - w->text);
	w->charset = p;
	w->charset_len = (size_t)(q - p);
	/* RFC 2231 5: charset*language */
	const unsigned char *star = memchr(p, '*', w->charset_len);

	if (star != NULL)
		w->charset_len = (size_t)(star - p);
	w->total = (size_t)(close + 2 - s);
	return true;
}

static void q_decode(const unsigned char *s, size_t len, struct buf *out)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		const char *h1, *h2;

		if (s[i] == '_') {
			buf_append_byte(out, ' ');
		} else if (s[i] == '=' && i + 2 < len && s[i + 1] != '\0' && s[i + 2] != '\0' &&
		           (h1 = strchr(hex, s[i + 1] | 0x20)) != NULL &&
		           (h2 = strchr(hex, s[i + 2] | 0x20)) != NULL) {
			buf_append_byte(out, (char)((h1 - hex) * 16 + (h2 - hex)));
			i += 2;
		} else {
			buf_append_byte(out, (char)s[i]);
		}
	}
}

static void flush(char *charset, struct buf *pending, struct buf *out)
{
	if (pending->len > 0)
		(void)mime_charset_to_utf8(charset, pending->data, pending->len, out);
	buf_reset(pending);
}

void mime_rfc2047_decode(const unsigned char *s, size_t len, struct buf *out)
{
	const unsigned char *p = s, *end = s + len;
	struct buf pending;
	char charset[64] = "";

	buf_init(&pending);
	while (p < end) {
		struct word w;

		if (*p == '=' && word_parse(p, end, &w)) {
			char cs[64];

			snprintf(cs, sizeof(cs), "%.*s", (int)w.charset_len, w.charset);
			if (strcasecmp(cs, charset) != 0) {
				flush(charset, &pending, out);
				memcpy(charset, cs, sizeof(cs));
			}
			if (w.enc == 'b')
				mime_base64_decode(w.text, w.text_len, &pending);
			else
				q_decode(w.text, w.text_len, &pending);
			p += w.total;
			/* white space between two encoded words is dropped (6.2) */
			const unsigned char *q = p;

			while (q < end && (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n'))
				q++;
			if (q > p && q < end && word_parse(q, end, &w))
				p = q;
			continue;
		}
		flush(charset, &pending, out);
		charset[0] = '\0';
		buf_append_byte(out, (char)*p++);
	}
	flush(charset, &pending, out);
	buf_free(&pending);
}

void mime_header_decode_utf8(const void *value, size_t len, struct buf *out)
{
	struct buf unf;
	size_t i = 0;

	buf_init(&unf);
	mime_unfold(value, len, &unf);
	while (i < unf.len && (unf.data[i] == ' ' || unf.data[i] == '\t'))
		i++;
	mime_rfc2047_decode((const unsigned char *)unf.data + i, unf.len - i, out);
	buf_free(&unf);
}
