/*
 * Mailbox names on the wire. IMAP4rev1 clients send and receive names in
 * modified UTF-7 (RFC 3501 5.1.3); after ENABLE IMAP4rev2 or UTF8=ACCEPT
 * they are UTF-8 (RFC 9051 5.1, RFC 6855 3). The store keeps UTF-8. The
 * conversion itself is glibc iconv's "UTF-7-IMAP"; what iconv accepts but
 * the RFC forbids (non-canonical forms such as "&AGE-" for "a", or 8-bit
 * bytes) is caught by encoding the result back and comparing.
 */
#include "imap/session_private.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

static int iconv_all(const char *to, const char *from, const char *in, size_t len, char **out_r)
{
	iconv_t cd = iconv_open(to, from);
	struct buf out;
	char *inp = (char *)in;
	size_t left = len;

	if (cd == (iconv_t)-1)
		return -1;
	buf_init(&out);
	buf_reserve(&out, len * 4 + 16);
	for (;;) {
		char *outp = out.data + out.len;
		size_t room = out.cap - out.len - 1;
		size_t r = iconv(cd, left > 0 ? &inp : NULL, &left, &outp, &room);
		out.len = (size_t)(outp - out.data);
		if (r != (size_t)-1) {
			if (left == 0) {
				/* flush the shift state (a closing '-') */
				outp = out.data + out.len;
				room = out.cap - out.len - 1;
				if (iconv(cd, NULL, NULL, &outp, &room) == (size_t)-1) {
					buf_reserve(&out, 16);
					continue;
				}
				out.len = (size_t)(outp - out.data);
				break;
			}
			continue;
		}
		if (errno != E2BIG) {
			iconv_close(cd);
			buf_free(&out);
			return -1;
		}
		buf_reserve(&out, out.cap);
	}
	iconv_close(cd);
	out.data[out.len] = '\0';
	*out_r = out.data;
	return 0;
}

int imap_mailbox_name_decode(const char *name, size_t len, bool utf8, char **utf8_r,
                             const char **error_r)
{
	char *decoded, *again = NULL;

	if (memchr(name, '\0', len) != NULL) {
		*error_r = "NUL in mailbox name";
		return -1;
	}
	if (utf8) {
		if (u8_check((const uint8_t *)name, len) != NULL) {
			*error_r = "Mailbox name is not valid UTF-8";
			return -1;
		}
		*utf8_r = xstrndup(name, len);
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] >= 0x80) {
			*error_r = "Mailbox name has 8-bit bytes (use modified UTF-7)";
			return -1;
		}
	}
	if (memchr(name, '&', len) == NULL) {
		*utf8_r = xstrndup(name, len);
		return 0;
	}
	if (iconv_all("UTF-8", "UTF-7-IMAP", name, len, &decoded) < 0) {
		*error_r = "Mailbox name is not valid modified UTF-7";
		return -1;
	}
	/* RFC 3501 5.1.3: only the shortest form is valid */
	if (iconv_all("UTF-7-IMAP", "UTF-8", decoded, strlen(decoded), &again) < 0 ||
	    strlen(again) != len || memcmp(again, name, len) != 0) {
		free(again);
		free(decoded);
		*error_r = "Mailbox name is not valid modified UTF-7";
		return -1;
	}
	free(again);
	*utf8_r = decoded;
	return 0;
}

char *imap_mailbox_name_encode(const char *utf8_name, bool utf8)
{
	char *out;
	bool ascii = true;

	for (const char *p = utf8_name; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80 || *p == '&')
			ascii = false;
	}
	if (utf8 || ascii)
		return xstrdup(utf8_name);
	if (iconv_all("UTF-7-IMAP", "UTF-8", utf8_name, strlen(utf8_name), &out) < 0)
		return xstrdup(utf8_name); /* the store only holds valid UTF-8 */
	return out;
}
