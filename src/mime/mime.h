/*
 * mime/ — the message model. One streaming parse of a message's bytes gives
 * the part tree with byte offsets and line counts, from which come ENVELOPE,
 * BODY and BODYSTRUCTURE (ready-to-send IMAP syntax), the byte ranges of
 * every BODY[section], and the decoded views (BINARY, search). Broken mail is
 * normal mail: nothing here fails on input; it gives the RFCs' best reading,
 * the way established servers do (shared/corpus records Dovecot's answers).
 *
 * mime/ knows nothing of storage: store/ calls mime_parse() once at delivery
 * and keeps what it needs (the encoded part table, ENVELOPE, BODYSTRUCTURE,
 * the summary for sorting and searching), so FETCH never parses again.
 *
 * Line endings: store/ keeps messages with CRLF line ends
 * (mime_crlf_normalize: a bare LF becomes CRLF, a bare CR stays), so sizes,
 * offsets and line counts are those of the CRLF form, as IMAP counts them.
 */
#ifndef ROOST_MIME_H
#define ROOST_MIME_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Parts nested deeper than this are opaque leaves; a message has at most
 * MIME_MAX_PARTS parts (the rest of the last one is its body). */
#define MIME_MAX_DEPTH 100
#define MIME_MAX_PARTS 10000

/* ---- line endings ---- */

/* Incremental LF -> CRLF conversion for streaming writers; state is one
 * byte of carry (was the previous input byte a CR?). */
struct mime_crlf {
	bool last_cr;
};
void mime_crlf_init(struct mime_crlf *st);
/* Append the normalized form of data to out. */
void mime_crlf_normalize(struct mime_crlf *st, const void *data, size_t len, struct buf *out);

/* ---- the parsed message ---- */

struct mime_part {
	uint64_t header_start; /* offset of the part's header (its MIME header) */
	uint64_t body_start;   /* offset of the body, after the empty line */
	uint64_t body_end;     /* end of the body (exclusive) */
	uint32_t header_lines;
	uint32_t body_lines;
	uint32_t parent; /* index of the parent; the root's parent is itself (0) */
	uint32_t first_child, next_sibling; /* 0 = none (the root is never a child) */
	uint16_t depth;
	bool multipart;
	/* message/rfc822 (not message/global, a leaf as in Dovecot): its only
	 * child is the encapsulated message, header and body */
	bool message_rfc822;
	bool opaque; /* a multipart or message past MIME_MAX_DEPTH: a leaf */
	/* decoded Content-Transfer-Encoding for BINARY */
	enum mime_cte {
		MIME_CTE_7BIT,
		MIME_CTE_8BIT,
		MIME_CTE_BINARY,
		MIME_CTE_BASE64,
		MIME_CTE_QP,
		MIME_CTE_UNKNOWN, /* x-uuencode, empty, ...: BINARY answers UNKNOWN-CTE */
	} cte;
};

struct mime_message {
	const unsigned char *data; /* not owned */
	size_t len;
	struct mime_part *parts; /* pre-order: parts[0] is the whole message */
	uint32_t part_count;
	/* private parse results (content types, parameters, ...) */
	struct mime_message_private *priv;
};

/* Parse the message in data (kept, not copied: it must outlive the result,
 * e.g. an mmap of the blob). Never fails; memory is bounded by the limits. */
struct mime_message *mime_parse(const void *data, size_t len);
void mime_message_free(struct mime_message **msg);

/* IMAP syntax, ready to send (strings quoted or as literals as the bytes
 * require; 8-bit header bytes as literals, unchanged). */
void mime_write_envelope(const struct mime_message *msg, struct buf *out);
/* extended: BODYSTRUCTURE; otherwise BODY (no extension data). */
void mime_write_bodystructure(const struct mime_message *msg, bool extended, struct buf *out);

/* ---- the part table, as store/ keeps it ---- */

/* A compact binary encoding of parts[] (offsets, lines, tree, cte). */
void mime_parts_encode(const struct mime_message *msg, struct buf *out);
/* Decode; -1 on a corrupt table. */
int mime_parts_decode(const void *data, size_t len, struct mime_part **parts_r, uint32_t *count_r);

/* ---- sections: BODY[section] and BINARY[section] ---- */

enum mime_section_kind {
	MIME_SECTION_BYTES,             /* send [start, start+len) as it is */
	MIME_SECTION_HEADER_FIELDS,     /* filter the header in the range */
	MIME_SECTION_HEADER_FIELDS_NOT, /* ... keeping the fields not listed */
};

struct mime_section {
	enum mime_section_kind kind;
	uint64_t start, len; /* byte range in the stored message */
	uint32_t part;       /* index in parts[] of the part it names */
	bool whole_part;     /* the body of a numbered part (BINARY applies) */
};

/* Resolve a section spec as it appears between the brackets, without the
 * field list: "", "HEADER", "TEXT", "1.2", "1.2.MIME", "3.HEADER",
 * "3.HEADER.FIELDS", "HEADER.FIELDS.NOT" (case-insensitive). Returns 1 and
 * the range; 0 if the part does not exist (IMAP answers an empty string);
 * -1 if the spec is not valid syntax (BAD). */
int mime_section_find(const struct mime_part *parts, uint32_t count, const char *spec,
                      struct mime_section *sec_r);

/* HEADER.FIELDS (names) / HEADER.FIELDS.NOT (names): append to out the
 * header fields of hdr (a header block, as mime_section_find gives it) whose
 * names are (not) in names[], with their continuation lines, then the empty
 * line that ends a header (RFC 3501 6.4.5). Names compare case-insensitively;
 * a line without a colon counts as a field that no name matches. */
void mime_header_filter(const void *hdr, size_t len, const char *const *names, size_t count,
                        bool exclude, struct buf *out);

/* ---- decoding: BINARY[section] and search ---- */

/* Decode a body of the given transfer encoding into out. base64 and
 * quoted-printable are decoded leniently (bad bytes skipped, bad escapes
 * kept); returns 0, or -1 for MIME_CTE_UNKNOWN (UNKNOWN-CTE; out is left
 * unchanged). */
int mime_decode_body(enum mime_cte cte, const void *data, size_t len, struct buf *out);
/* BINARY[part]: decode parts[index]'s body from the stored message data. */
int mime_decode_part(const void *msg_data, size_t msg_len, const struct mime_part *parts,
                     uint32_t count, uint32_t index, struct buf *out);
/* For search: the text of a leaf part as UTF-8 (transfer decoding, then the
 * charset of its Content-Type; unknown charsets keep the bytes). Returns -1
 * for an unknown CTE (nothing appended). */
int mime_part_text_utf8(const void *msg_data, size_t msg_len, const struct mime_part *parts,
                        uint32_t count, uint32_t index, struct buf *out);
/* A header value (as written, possibly folded) to UTF-8: unfold, decode
 * RFC 2047 encoded words (adjacent words joined), keep raw 8-bit bytes. */
void mime_header_decode_utf8(const void *value, size_t len, struct buf *out);
/* Convert from charset to UTF-8, appending to out. Returns 0, or -1 if
 * the charset is unknown (then the bytes are appended unchanged). Invalid
 * sequences become U+FFFD. */
int mime_charset_to_utf8(const char *charset, const void *data, size_t len, struct buf *out);

/* The value of the first header field called name in a header block, as
 * written (folded, without the CRLF after it); NULL if absent. */
const unsigned char *mime_header_get(const void *hdr, size_t len, const char *name,
                                     size_t *value_len_r);

/* ---- what sorting and searching need, from the top-level header ---- */

struct mime_summary {
	time_t date;   /* the Date: header; 0 if missing or unparsable */
	int date_tz;   /* its zone in minutes east of UTC */
	char *subject; /* decoded (RFC 2047) to UTF-8, unfolded */
	char *from;    /* decoded display names and addresses, UTF-8 */
	char *to;
	char *cc;
	char *bcc;
	char *message_id; /* as written, trimmed */
	char *in_reply_to;
	char *references;
};
void mime_summary_get(const struct mime_message *msg, struct mime_summary *sum);
void mime_summary_free(struct mime_summary *sum);

/* ---- dates (RFC 5322 3.3, with the obsolete forms of 4.3) ---- */

/* 0 and the time (UTC) and zone offset in minutes; -1 if unparsable. */
int mime_date_parse(const char *s, size_t len, time_t *time_r, int *tz_r);

#endif
