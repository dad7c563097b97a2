/* ENVELOPE (RFC 3501 7.4.2) of a header block. Like Dovecot, a repeated
 * Date, Subject, In-Reply-To or Message-ID counts by its last instance and
 * repeated address fields are concatenated; Sender and Reply-To default to
 * From (RFC 3501: "If the Sender or Reply-To lines are absent in the
 * [RFC-2822] header, or are present but empty, the server sets the
 * corresponding member of the envelope to be the same value as the from
 * member"). */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

enum { F_DATE, F_SUBJECT, F_IN_REPLY_TO, F_MESSAGE_ID, F_COUNT };
enum { A_FROM, A_SENDER, A_REPLY_TO, A_TO, A_CC, A_BCC, A_COUNT };

static const char *const text_fields[F_COUNT] = {"Date", "Subject", "In-Reply-To", "Message-ID"};
static const char *const addr_fields[A_COUNT] = {"From", "Sender", "Reply-To", "To", "Cc", "Bcc"};

/* Date, In-Reply-To, Message-ID, and the fields of BODYSTRUCTURE: leading
 * white space dropped, CR and LF removed (Dovecot's "nolf"). */
void mime_value_normalize(const unsigned char *v, size_t len, struct buf *out)
{
	size_t i = 0;

	if (len > MIME_MAX_FIELD_VALUE)
		len = MIME_MAX_FIELD_VALUE;
	while (i < len && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (; i < len; i++) {
		if (v[i] != '\r' && v[i] != '\n')
			buf_append_byte(out, (char)v[i]);
	}
}

/* Subject "for humans" (Dovecot): runs of white space and line ends become
 * one space, none at either end; NUL becomes U+FFFD. */
static void subject_value(const unsigned char *v, size_t len, struct buf *out)
{
	bool space = true; /* drops leading white space */

	if (len > MIME_MAX_FIELD_VALUE)
		len = MIME_MAX_FIELD_VALUE;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = v[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (!space)
				buf_append_byte(out, ' ');
			space = true;
			continue;
		}
		space = false;
		if (c == '\0')
			buf_append_str(out, "\xef\xbf\xbd");
		else
			buf_append_byte(out, (char)c);
	}
	if (space && out->len > 0 && out->data[out->len - 1] == ' ')
		out->len--;
}

void mime_envelope_write(const unsigned char *hdr, size_t len, struct buf *out)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	const struct mime_hdr_field *last[F_COUNT] = {NULL};
	struct mime_hdr_field last_store[F_COUNT];
	struct mime_address_list addrs[A_COUNT];

	memset(addrs, 0, sizeof(addrs));
	mime_hdr_iter_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f)) {
		for (int k = 0; k < F_COUNT; k++) {
			if (mime_hdr_name_is(&f, text_fields[k])) {
				last_store[k] = f;
				last[k] = &last_store[k];
			}
		}
		for (int k = 0; k < A_COUNT; k++) {
			if (mime_hdr_name_is(&f, addr_fields[k]))
				mime_address_parse(f.value, f.value_len, &addrs[k]);
		}
	}
	buf_append_byte(out, '(');
	for (int k = 0; k < F_COUNT; k++) {
		if (k == F_IN_REPLY_TO) {
			for (int a = 0; a < A_COUNT; a++) {
				const struct mime_address_list *l = &addrs[a];

				if ((a == A_SENDER || a == A_REPLY_TO) && l->count == 0)
					l = &addrs[A_FROM];
				mime_address_write(l, out);
				buf_append_byte(out, ' ');
			}
		}
		if (last[k] == NULL) {
			buf_append(out, "NIL", 3);
		} else {
			struct buf v;

			buf_init(&v);
			if (k == F_SUBJECT)
				subject_value(last[k]->value, last[k]->value_len, &v);
			else
				mime_value_normalize(last[k]->value, last[k]->value_len, &v);
			mime_write_nstring(out, v.data ? v.data : "", v.len, false);
			buf_free(&v);
		}
		if (k + 1 < F_COUNT)
			buf_append_byte(out, ' ');
	}
	buf_append_byte(out, ')');
	for (int a = 0; a < A_COUNT; a++)
		mime_address_list_free(&addrs[a]);
}

void mime_write_envelope(const struct mime_message *msg, struct buf *out)
{
	size_t len;
	const unsigned char *hdr = mime_part_header(msg->data, &msg->parts[0], &len);

	mime_envelope_write(hdr, len, out);
}
