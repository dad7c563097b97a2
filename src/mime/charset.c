/* Charsets to UTF-8 with glibc's iconv. An unknown charset is not an
 * error for the message: its bytes are kept as they are. */
#include "mime/mime_private.h"

#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */

static bool is_utf8_name(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	       strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

int mime_charset_to_utf8(const char *charset, const void *data, size_t len, struct buf *out)
{
	iconv_t cd;
	char *in = (char *)data;
	size_t inleft = len;

	if (is_utf8_name(charset)) {
		/* raw 8-bit is taken as UTF-8, as Dovecot does */
		buf_append(out, data, len);
		return 0;
	}
	cd = iconv_open("UTF-8", charset);
	if (cd == (iconv_t)-1) {
		buf_append(out, data, len);
		return -1;
	}
	while (inleft > 0) {
		char tmp[4096], *op = tmp;
		size_t oleft = sizeof(tmp);
		size_t r = iconv(cd, &in, &inleft, &op, &oleft);

		buf_append(out, tmp, (size_t)(op - tmp));
		if (r != (size_t)-1)
			continue;
		if (errno == E2BIG)
			continue;
		/* EILSEQ or EINVAL (cut short): U+FFFD and go on after one byte */
		buf_append_str(out, REPLACEMENT);
		in++;
		inleft--;
	}
	/* flush a stateful encoding's shift state */
	{
		char tmp[64], *op = tmp;
		size_t oleft = sizeof(tmp);

		(void)iconv(cd, NULL, NULL, &op, &oleft);
		buf_append(out, tmp, (size_t)(op - tmp));
	}
	iconv_close(cd);
	return 0;
}
