/* What sorting and searching need from the top-level header, decoded to
 * UTF-8 once at delivery (RFC 5256 sort keys, RFC 3501 SEARCH headers). */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

/* All fields called name, decoded and joined with ", "; NULL if none. */
static char *decoded(const unsigned char *hdr, size_t len, const char *name, bool last_only,
                     bool decode)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	struct buf b;
	bool found = false;

	buf_init(&b);
	mime_hdr_iter_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f)) {
		if (!mime_hdr_name_is(&f, name))
			continue;
		if (last_only)
			buf_reset(&b);
		else if (found)
			buf_append(&b, ", ", 2);
		found = true;
		if (decode) {
			mime_header_decode_utf8(f.value, f.value_len, &b);
		} else {
			size_t start = b.len;

			mime_value_normalize(f.value, f.value_len, &b);
			while (b.len > start &&
			       (b.data[b.len - 1] == ' ' || b.data[b.len - 1] == '\t'))
				b.len--;
		}
	}
	if (!found) {
		buf_free(&b);
		return NULL;
	}
	char *s = xstrndup(b.data ? b.data : "", b.len);

	buf_free(&b);
	return s;
}

void mime_summary_get(const struct mime_message *msg, struct mime_summary *sum)
{
	size_t len;
	const unsigned char *hdr = mime_part_header(msg->data, &msg->parts[0], &len);
	char *date = decoded(hdr, len, "Date", true, false);

	memset(sum, 0, sizeof(*sum));
	if (date == NULL || mime_date_parse(date, strlen(date), &sum->date, &sum->date_tz) < 0) {
		sum->date = 0;
		sum->date_tz = 0;
	}
	free(date);
	sum->subject = decoded(hdr, len, "Subject", true, true);
	sum->from = decoded(hdr, len, "From", false, true);
	sum->to = decoded(hdr, len, "To", false, true);
	sum->cc = decoded(hdr, len, "Cc", false, true);
	sum->bcc = decoded(hdr, len, "Bcc", false, true);
	sum->message_id = decoded(hdr, len, "Message-ID", true, false);
	sum->in_reply_to = decoded(hdr, len, "In-Reply-To", true, false);
	sum->references = decoded(hdr, len, "References", true, false);
}

void mime_summary_free(struct mime_summary *sum)
{
	free(sum->subject);
	free(sum->from);
	free(sum->to);
	free(sum->cc);
	free(sum->bcc);
	free(sum->message_id);
	free(sum->in_reply_to);
	free(sum->references);
	memset(sum, 0, sizeof(*sum));
}
