/*
 * imap/fetch.h — FETCH's data items (private to imap/): parsing the item
 * list of FETCH / UID FETCH into a struct (fetch_parse.c), and writing the
 * response items from a stored message and its cached attributes
 * (fetch_write.c). The command itself (sequence sets, the store, \Seen,
 * ordering the untagged responses) lives in its own file and uses these.
 *
 * Response item names follow Dovecot, which clients have long seen:
 * the section spec and HEADER.FIELDS names uppercased, names sent as
 * strings echoed as quoted strings, a partial fetch answered with its
 * origin only ("BODY[]<10>", RFC 9051 7.5.2).
 */
#ifndef ROOST_IMAP_FETCH_H
#define ROOST_IMAP_FETCH_H

#include "base/base.h"
#include "imap/parser.h"
#include "mime/mime.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits on what one FETCH may ask for (docs/limits.md). */
#define IMAP_FETCH_MAX_SECTIONS 1000  /* BODY[...] / BINARY[...] items */
#define IMAP_FETCH_MAX_ITEMS 10000    /* elements of the item list */
#define IMAP_FETCH_MAX_FIELDS 1000    /* names in one HEADER.FIELDS list */
#define IMAP_FETCH_MAX_SPEC 512       /* bytes of one section spec */
#define IMAP_FETCH_MAX_FIELD_NAME 256 /* bytes of one header field name */

/* The items that need no section: bits of imap_fetch_items.flags. */
enum imap_fetch_flag {
	IMAP_FETCH_UID = 1 << 0,
	IMAP_FETCH_FLAGS = 1 << 1,
	IMAP_FETCH_INTERNALDATE = 1 << 2,
	IMAP_FETCH_RFC822_SIZE = 1 << 3,
	IMAP_FETCH_ENVELOPE = 1 << 4,
	IMAP_FETCH_BODY = 1 << 5, /* BODY without a section: BODYSTRUCTURE sans extensions */
	IMAP_FETCH_BODYSTRUCTURE = 1 << 6,
	IMAP_FETCH_RFC822 = 1 << 7,
	IMAP_FETCH_RFC822_HEADER = 1 << 8,
	IMAP_FETCH_RFC822_TEXT = 1 << 9,
	IMAP_FETCH_MODSEQ = 1 << 10, /* RFC 7162; the command checks CONDSTORE */
};

enum imap_fetch_section_kind {
	IMAP_FETCH_SECTION_BODY,        /* BODY[...] and BODY.PEEK[...] */
	IMAP_FETCH_SECTION_BINARY,      /* BINARY[...] and BINARY.PEEK[...] (RFC 3516) */
	IMAP_FETCH_SECTION_BINARY_SIZE, /* BINARY.SIZE[...] */
};

struct imap_fetch_section {
	enum imap_fetch_section_kind kind;
	bool peek;
	/* The spec between the brackets without the field list, uppercased:
	 * "", "1.2", "HEADER", "1.HEADER.FIELDS", "TEXT", "1.MIME", ...
	 * (what mime_section_find() takes). */
	char *spec;
	/* HEADER.FIELDS[.NOT]: the names, uppercased; fields_not for .NOT */
	char **fields;
	size_t field_count;
	bool fields_not;
	/* <origin.count>: both at most UINT32_MAX, count at least 1 */
	bool partial;
	uint32_t origin, count;
	/* The item's name in the response, e.g. "BODY[1.HEADER.FIELDS (FROM
	 * \"X-A\")]<10>" or "BINARY.SIZE[2]" */
	char *name;
};

struct imap_fetch_items {
	unsigned flags; /* enum imap_fetch_flag */
	/* BODY[...] / BINARY[...] in the order asked; an item whose response
	 * name equals an earlier one's is dropped (answered once, as Dovecot) */
	struct imap_fetch_section *sections;
	size_t section_count;
	/* BODY[...], BINARY[...], RFC822 or RFC822.TEXT without .PEEK: the
	 * command sets \Seen (RFC 9051 6.4.5) */
	bool set_seen;
};

/*
 * Parse FETCH's data items: args[0..nargs) are the arguments after the
 * sequence set (the caller has removed RFC 7162 modifiers such as
 * "(CHANGEDSINCE n)"). They are a macro (ALL, FAST, FULL), one item (which
 * may span three arguments: "BODY[HEADER.FIELDS" (list) "]"), or a
 * parenthesized list of items. uid_command: UID FETCH, which always
 * includes UID (RFC 9051 6.4.9).
 *
 * Returns 0 and fills *items_r (free with imap_fetch_items_free), or -1
 * with a static reason in *error_r (for "BAD"; never the client's bytes)
 * and *items_r empty.
 */
int imap_fetch_parse(const struct imap_arg *args, size_t nargs, bool uid_command,
                     struct imap_fetch_items *items_r, const char **error_r);
void imap_fetch_items_free(struct imap_fetch_items *items);

/*
 * Append one section's response item to out: "BODY[1.2]<0> {n}\r\n<bytes>",
 * "BINARY[2] ~{n}\r\n<bytes>" or "BINARY.SIZE[2] n". msg is the stored
 * message (CRLF form), parts its part table (mime_parts_decode).
 *
 * - A part that does not exist is an empty string "{0}\r\n" (BINARY.SIZE: 0),
 *   as Dovecot; a partial origin past the end is an empty string too.
 * - BODY[...]: a NUL byte is sent as 0x80 (a literal may not hold NUL,
 *   RFC 9051 4.3; Dovecot does the same).
 * - BINARY[...]: literal8 "~{n}" when the decoded part contains a NUL or was
 *   decoded from base64 or quoted-printable (as Dovecot, which does not
 *   scan decoded data for NUL), otherwise "{n}"; "{0}" for an empty
 *   answer. BINARY[] (no part) is the message as stored.
 * - BINARY.SIZE is the size of what BINARY[...] without partial sends.
 *
 * Returns 0, or -1 with *error_code_r "UNKNOWN-CTE" (the part's
 * Content-Transfer-Encoding is unknown: RFC 9051 7.5.2, answer NO
 * [UNKNOWN-CTE]) or "SERVERBUG" (a part table that does not fit the
 * message); out is then unchanged.
 */
int imap_fetch_write_section(struct buf *out, const struct imap_fetch_section *sec,
                             const unsigned char *msg, size_t msg_len,
                             const struct mime_part *parts, uint32_t part_count,
                             const char **error_code_r);

/* Append "RFC822 {n}\r\n...", "RFC822.HEADER ..." or "RFC822.TEXT ..." for
 * which (one of IMAP_FETCH_RFC822, _RFC822_HEADER, _RFC822_TEXT): the
 * bytes of BODY[], BODY[HEADER], BODY[TEXT] (NUL as 0x80). -1 with
 * "SERVERBUG" as above. */
int imap_fetch_write_rfc822(struct buf *out, unsigned which, const unsigned char *msg,
                            size_t msg_len, const struct mime_part *parts, uint32_t part_count,
                            const char **error_code_r);

/* What the items without message bytes are made of (from the store's
 * message list / cached message info and the session). */
struct imap_fetch_attrs {
	uint32_t uid;
	unsigned flags;       /* enum store_flag bits */
	const char *keywords; /* space-separated, or NULL */
	bool recent;          /* \Recent, per session */
	int64_t internaldate; /* seconds since the epoch */
	int internaldate_tz;  /* the zone to show it in, minutes east of UTC */
	uint64_t size;        /* RFC822.SIZE */
	uint64_t modseq;
	/* cached IMAP syntax; must be set when the item is asked for */
	const char *envelope, *body, *bodystructure;
};

/* "(\Answered \Flagged \Deleted \Seen \Draft \Recent kw1 kw2)", the flags
 * present, in that order. */
void imap_fetch_write_flag_list(struct buf *out, unsigned flags, const char *keywords, bool recent);
/* The quoted date-time "dd-Mon-yyyy hh:mm:ss +zzzz" (RFC 9051 date-time). */
void imap_fetch_write_date_time(struct buf *out, int64_t t, int tz_minutes);
/* Append the asked-for items among UID, FLAGS, INTERNALDATE, RFC822.SIZE,
 * ENVELOPE, BODY, BODYSTRUCTURE and MODSEQ, in that order, separated by
 * spaces (none before the first). Returns how many were written. */
size_t imap_fetch_write_attrs(struct buf *out, unsigned flags, const struct imap_fetch_attrs *a);

#endif
