/*
 * search/ — SEARCH programs: compile the arguments of an IMAP SEARCH
 * command (RFC 3501 6.4.4, RFC 9051 6.4.4) into a tree once, then match
 * that tree against each message of the mailbox.
 *
 * The layer does not know how the protocol or the store hold a mailbox:
 * a message is a small struct of the facts that are cheap to have (flags,
 * size, dates, numbers) plus callbacks for what is expensive (decoded
 * header fields, decoded body text, the Date: header). Matching asks for
 * those lazily and in cost order, so a flag or size search never opens the
 * blob and a header search never decodes the body. search_program_needs_*
 * tell the caller what to prefetch. search_mime_* implement the callbacks
 * over a message's bytes, for callers that have them (tests, no-FTS SEARCH).
 *
 * Text keys are substring matches, case-insensitive on Unicode (libunistring
 * full case folding with NFKC), on headers decoded to UTF-8 (RFC 2047) and
 * bodies decoded to UTF-8 (transfer encoding, then charset), as Dovecot
 * does without FTS (shared/corpus/README.md, "SEARCH").
 */
#ifndef ROOST_SEARCH_H
#define ROOST_SEARCH_H

#include "base/base.h"
#include "imap/parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits (docs/limits.md) ---- */

/* Nesting of parentheses, NOT and OR: deeper is BAD, so that compiling and
 * matching never recurse without bound. */
#define SEARCH_MAX_DEPTH 100
/* Keys in one program (every key, NOT, OR and group counts one). */
#define SEARCH_MAX_KEYS 1000
/* Ranges in one sequence set ("1,3,5,..."). */
#define SEARCH_MAX_SET_RANGES 10000
/* Bytes of one search string (after charset conversion to UTF-8). */
#define SEARCH_MAX_STRING 65536

/* System flags, the same bits as store/'s STORE_FLAG_* (the unit test
 * checks it), so a store_message_list's flags can be passed as they are. */
enum search_flag {
	SEARCH_FLAG_SEEN = 1 << 0,
	SEARCH_FLAG_ANSWERED = 1 << 1,
	SEARCH_FLAG_FLAGGED = 1 << 2,
	SEARCH_FLAG_DELETED = 1 << 3,
	SEARCH_FLAG_DRAFT = 1 << 4,
};

/* ---- compiling ---- */

struct search_compile_options {
	unsigned max_depth; /* 0: SEARCH_MAX_DEPTH */
	size_t max_keys;    /* 0: SEARCH_MAX_KEYS */
};

struct search_program;

/*
 * Compile SEARCH's arguments (everything after the command name, and after
 * RETURN (...) for ESEARCH, which the caller handles): an optional leading
 * "CHARSET name", then one or more search keys, ANDed.
 *
 * Strings are astrings (atoms, quoted, literals in memory) converted to
 * UTF-8 from the charset. RFC 9051 6.4.4 requires UTF-8 and US-ASCII; others
 * go through iconv. Returns 0 and the program in *prog_r, or -1 with:
 *   *error_code_r "BADCHARSET": unknown charset (answer NO [BADCHARSET
 *     (UTF-8 US-ASCII)] ...), or NULL: bad syntax (answer BAD);
 *   *error_text_r a static text that never contains the client's bytes.
 */
int search_compile(const struct imap_arg *args, size_t nargs,
                   const struct search_compile_options *opts, struct search_program **prog_r,
                   const char **error_code_r, const char **error_text_r);
void search_program_free(struct search_program **prog);

/* What matching will ask for, so the caller can prefetch or skip. */
bool search_program_needs_headers(const struct search_program *prog); /* header or sent_date */
bool search_program_needs_text(const struct search_program *prog);    /* text */
/* The program refers to "$" (RFC 5182 SEARCHRES): the caller must bind a
 * saved result (or an empty one). */
bool search_program_uses_saved(const struct search_program *prog);

/*
 * Resolve the program's sequence sets for the current mailbox: '*' in a
 * sequence set is `messages`, in a UID set `uid_max` (RFC 9051 6.4.4: the
 * largest number in use); "$" is saved_uids, the saved result as a resolved
 * UID set (NULL: empty, RFC 5182 2.1). saved_uids must outlive matching.
 * Call before search_match, again whenever the mailbox changes.
 */
void search_program_bind(struct search_program *prog, uint32_t messages, uint32_t uid_max,
                         const struct imap_seqset *saved_uids);

/* ---- matching ---- */

/* The cheap facts about one message. */
struct search_message {
	uint32_t seq, uid;
	unsigned flags;       /* enum search_flag bits */
	const char *keywords; /* space-separated, NULL: none */
	bool recent;
	int64_t internaldate; /* seconds since the epoch */
	int internaldate_tz;  /* its zone, minutes east of UTC (0 if unknown) */
	uint64_t size;        /* RFC822.SIZE */
};

/*
 * The expensive facts, asked for lazily (each at most once per message and
 * search_match call). ctx is the caller's. Each returns -1 on an error
 * (the blob cannot be read, ...), which makes search_match fail.
 */
struct search_message_ops {
	/* Every top-level header field called `field` (case-insensitive), its
	 * value unfolded and RFC 2047-decoded to UTF-8, each followed by one
	 * NUL byte, appended to out. Returns the number of fields (0: none). */
	int (*header)(void *ctx, const char *field, struct buf *out);
	/* The decoded UTF-8 text of the message's text parts (BODY); with
	 * include_headers also every header, top-level and MIME (TEXT).
	 * Returns 0. */
	int (*text)(void *ctx, bool include_headers, struct buf *out);
	/* The Date: header: 1 and its time (UTC) and zone (minutes east of
	 * UTC); 0 if missing or unparsable (it then counts as the epoch, as in
	 * Dovecot: SENTBEFORE matches it). */
	int (*sent_date)(void *ctx, int64_t *time_r, int *tz_r);
};

/* 1 the message matches, 0 it does not, -1 a callback failed. The program
 * must be bound (search_program_bind) if it has sequence sets. */
int search_match(const struct search_program *prog, const struct search_message *msg,
                 const struct search_message_ops *ops, void *ctx);

/* ---- the callbacks over a message's bytes (mime/) ---- */

struct mime_message;

struct search_mime_ctx {
	const unsigned char *data; /* the message, CRLF form; not owned */
	size_t len;
	struct mime_message *msg; /* parsed on first use, or set by the caller */
	bool own_msg;
};

extern const struct search_message_ops search_mime_ops;

/* ctx for search_mime_ops over data (kept, not copied); msg may be NULL
 * (then mime_parse runs when a callback first needs the structure). */
void search_mime_init(struct search_mime_ctx *ctx, const void *data, size_t len,
                      struct mime_message *msg);
void search_mime_deinit(struct search_mime_ctx *ctx);

#endif
