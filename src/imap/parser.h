/*
 * imap/parser.h — the incremental IMAP command parser (private to imap/).
 *
 * Bytes go in as they arrive from the wire, split anywhere; complete
 * commands come out as a tree of arguments. The parser knows the whole
 * token grammar of RFC 3501 and RFC 9051 (atoms, quoted strings with
 * escapes, literals {n}, non-synchronizing literals {n+} (RFC 7888),
 * literal8 ~{n} and ~{n+} (RFC 3516), parenthesized lists, NIL) but not
 * what each command means: the command handlers interpret the arguments.
 *
 * Atoms may contain '[' and ']', so "BODY[1.2]<0.100>" is one atom and
 * "BODY[HEADER.FIELDS (A B)]" arrives as atom "BODY[HEADER.FIELDS", list
 * (A B), atom "]": FETCH puts those back together (as Dovecot does).
 *
 * Large literals are streamed to an unlinked file in the spool directory
 * once they pass the spool threshold; they are never wholly in memory.
 */
#ifndef ROOST_IMAP_PARSER_H
#define ROOST_IMAP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum imap_arg_type {
	IMAP_ARG_ATOM,
	IMAP_ARG_QUOTED,
	IMAP_ARG_LITERAL,
	IMAP_ARG_NIL, /* the atom NIL, unquoted, any case */
	IMAP_ARG_LIST,
};

struct imap_arg {
	enum imap_arg_type type;
	bool literal8; /* sent as ~{n} */
	bool nonsync;  /* sent as {n+} */
	/* ATOM, QUOTED, NIL and in-memory LITERAL: the bytes (escapes removed),
	 * NUL-terminated after len; a literal8 may contain NUL bytes itself. */
	char *str;
	uint64_t len;
	/* Spooled LITERAL: str is NULL and fd is an unlinked file holding len
	 * bytes (read it with pread from offset 0); -1 otherwise. */
	int fd;
	/* LIST: its elements. */
	struct imap_arg *list;
	size_t count;
};

struct imap_command {
	char *tag;
	char *name; /* the command name atom as sent (compare case-insensitively) */
	struct imap_arg *args;
	size_t nargs;
};

void imap_command_free(struct imap_command **cmd);

struct imap_parser_limits {
	uint64_t max_line;        /* non-literal bytes of one command, CRLF excluded */
	uint64_t max_literal;     /* largest literal accepted (changes with state) */
	uint64_t max_nonsync;     /* largest {n+}: 4096 under LITERAL-, else = max_literal */
	unsigned max_depth;       /* parenthesis nesting */
	uint64_t spool_threshold; /* literals above this go to a spool file */
	const char *spool_dir;    /* where spool files are made (O_TMPFILE) */
};

enum imap_parse_result {
	/* All input consumed, the command is not complete yet. */
	IMAP_PARSE_NEED_MORE,
	/* A complete command: take it with imap_parser_take_command(). */
	IMAP_PARSE_COMMAND,
	/* A synchronizing literal {n} was announced and accepted: send a
	 * continuation request ("+ ..."), then feed on. */
	IMAP_PARSE_CONTINUE,
	/* In line mode: a complete line, see imap_parser_line(). */
	IMAP_PARSE_LINE,
	/* The command is bad: answer "<tag> BAD [<code>] <text>" (or "* BAD"
	 * when no tag was read) from imap_parser_error*(). The parser has
	 * already arranged to skip the rest of the bad command (including a
	 * non-synchronizing literal it announced), and goes on after it. */
	IMAP_PARSE_ERROR,
	/* Unrecoverable (a line far beyond the limit, a huge non-synchronizing
	 * literal): answer "* BYE [<code>] <text>" and close. */
	IMAP_PARSE_FATAL,
};

struct imap_parser;

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits);
void imap_parser_free(struct imap_parser **parser);
/* Change the limits, e.g. a larger max_literal after login. */
void imap_parser_set_limits(struct imap_parser *parser, const struct imap_parser_limits *limits);

/*
 * Feed input. The parser consumes bytes from data and sets *consumed_r;
 * it stops right after a result other than NEED_MORE, so the caller feeds
 * the rest again afterwards (after STARTTLS the caller throws the rest
 * away instead: RFC 3501 6.2.1, CVE-2021-33515).
 */
enum imap_parse_result imap_parser_feed(struct imap_parser *parser, const void *data, size_t len,
                                        size_t *consumed_r);

/* After IMAP_PARSE_COMMAND: the command; the caller owns and frees it. */
struct imap_command *imap_parser_take_command(struct imap_parser *parser);

/* After ERROR/FATAL: the tag if one was read (else NULL), the response
 * code without brackets (e.g. "TOOBIG", or NULL) and a human text that
 * never contains bytes the client sent. */
const char *imap_parser_error_tag(const struct imap_parser *parser);
const char *imap_parser_error_code(const struct imap_parser *parser);
const char *imap_parser_error_text(const struct imap_parser *parser);

/*
 * Line mode, for AUTHENTICATE responses and IDLE's DONE: the next feed
 * returns IMAP_PARSE_LINE with one raw line (CRLF or LF removed, up to
 * max_line bytes; longer is IMAP_PARSE_ERROR, then the line is skipped),
 * then the parser is back in command mode.
 */
void imap_parser_expect_line(struct imap_parser *parser);
const char *imap_parser_line(const struct imap_parser *parser, size_t *len_r);

/* Forget any partial command (after STARTTLS or when the session ends). */
void imap_parser_reset(struct imap_parser *parser);

/* ---- sequence sets (RFC 9051 sequence-set, with '*' and '$') ---- */

#define IMAP_SEQ_STAR UINT32_MAX /* '*': the largest number in use */

struct imap_seq_range {
	uint32_t lo, hi; /* lo <= hi after parsing; IMAP_SEQ_STAR for '*' */
};

struct imap_seqset {
	bool saved; /* "$" (RFC 5182 SEARCHRES) */
	struct imap_seq_range *ranges;
	size_t count;
};

/* Parse a sequence set. Numbers are 1..4294967295; 0, empty parts, "1:*:2"
 * and more than max_ranges ranges are errors (reason in *error_r, a static
 * string). A range "5:2" is stored as 2:5. "*" is kept symbolic. */
int imap_seqset_parse(const char *s, size_t max_ranges, struct imap_seqset *set_r,
                      const char **error_r);
void imap_seqset_free(struct imap_seqset *set);
/* Resolve '*' to star (the largest number in use; 0 in an empty mailbox),
 * sort and merge overlapping ranges. Never expands ranges into numbers. */
void imap_seqset_resolve(struct imap_seqset *set, uint32_t star);
bool imap_seqset_contains(const struct imap_seqset *set, uint32_t n);

#endif
