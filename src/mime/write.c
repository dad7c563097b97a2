/* IMAP strings for ENVELOPE and BODYSTRUCTURE (RFC 3501 4.3): quoted when
 * the bytes allow it, otherwise a literal, byte-for-byte. */
#include "mime/mime_private.h"

#include <string.h>

void mime_write_nstring(struct buf *out, const void *s, size_t len, bool is_nil)
{
	const unsigned char *p = s;
	bool literal = false;

	if (is_nil) {
		buf_append(out, "NIL", 3);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		/* 8-bit, NUL, CR and LF cannot be quoted */
		if (p[i] >= 0x80 || p[i] == '\0' || p[i] == '\r' || p[i] == '\n') {
			literal = true;
			break;
		}
	}
	if (literal) {
		buf_printf(out, "{%zu}\r\n", len);
		buf_append(out, p, len);
		return;
	}
	buf_reserve(out, len + 2);
	buf_append_byte(out, '"');
	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"' || p[i] == '\\')
			buf_append_byte(out, '\\');
		buf_append_byte(out, (char)p[i]);
	}
	buf_append_byte(out, '"');
}

void mime_write_str(struct buf *out, const char *s)
{
	mime_write_nstring(out, s, strlen(s), false);
}

void mime_write_nstr(struct buf *out, const char *s)
{
	mime_write_nstring(out, s, s == NULL ? 0 : strlen(s), s == NULL);
}
