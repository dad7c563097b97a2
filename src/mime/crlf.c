/* Line ends: the store keeps every message with CRLF line ends. A bare LF
 * becomes CRLF; CRLF and a bare CR are kept (as re.sub(rb"\r?\n", rb"\r\n")
 * does), so sizes and offsets are those IMAP counts (RFC 3501 2.3.1.1). */
#include "mime/mime.h"

#include <string.h>

void mime_crlf_init(struct mime_crlf *st)
{
	st->last_cr = false;
}

void mime_crlf_normalize(struct mime_crlf *st, const void *data, size_t len, struct buf *out)
{
	const unsigned char *p = data, *end = p + len;

	buf_reserve(out, len + len / 32 + 2);
	while (p < end) {
		const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));
		size_t n = lf == NULL ? (size_t)(end - p) : (size_t)(lf - p);

		if (n > 0) {
			buf_append(out, p, n);
			st->last_cr = p[n - 1] == '\r';
		}
		if (lf == NULL)
			break;
		/* the CR of a CRLF may have come at the end of the last call */
		if (st->last_cr)
			buf_append_byte(out, '\n');
		else
			buf_append(out, "\r\n", 2);
		st->last_cr = false;
		p = lf + 1;
	}
}
