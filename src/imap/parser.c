/*
 * imap/parser.c — the incremental IMAP command parser (see parser.h).
 *
 * One state machine, driven a byte at a time (with bulk paths for literal
 * data and long runs of atom, quoted or skipped bytes), so any split of the
 * input gives the same results and the work is O(n) in the input. Nothing
 * recurses while parsing: open lists live in an explicit stack of frames
 * whose height is bounded by max_depth.
 *
 * Errors. A bad command is never answered in the middle: once something is
 * wrong, the parser remembers the first reason, frees the half-built
 * command and skips to the end of the command, which is the end of the
 * line unless that line ends with a non-synchronizing literal announcement
 * {n+}: the client sends those n bytes without waiting (RFC 7888 4), so
 * they and the line after them belong to the same bad command and are
 * skipped too. A synchronizing {n} at the end of a bad line is not skipped:
 * the client waits for "+" and gets the BAD instead (RFC 9051 7.5).
 * IMAP_PARSE_ERROR is returned when the last byte of the bad command
 * (its LF) has been consumed, so the parser is then back at a command
 * boundary. FATAL is returned as soon as it is known.
 *
 * Error texts are static strings: they never contain bytes from the client
 * (a reflected CRLF would let a client forge response lines).
 */
#include "imap/parser.h"

#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* A {n+} over the limit by at most this much is read and thrown away, and
 * the command answered BAD [TOOBIG]; beyond that the connection is closed
 * (RFC 7888 4: the server MAY close on a too big non-synchronizing literal). */
#define PARSER_NONSYNC_DISCARD_MAX (64 * 1024)
/* Skipping a bad command past this many times max_line bytes of line text
 * (literals excluded) is FATAL: a client that sends that much is not
 * talking IMAP. */
#define PARSER_SKIP_FATAL_FACTOR 16
/* Spool files (one open fd each) one command may hold. */
#define PARSER_MAX_SPOOL_FILES 64
/* RFC 9051 number64 is wider, but no literal we take passes 4 GiB - 1. */
#define PARSER_LITERAL_LEN_MAX UINT32_MAX

static const char TXT_LINE_TOO_LONG[] = "Command line too long";
static const char TXT_BAD_TAG[] = "Invalid tag";
static const char TXT_NO_NAME[] = "Missing or invalid command name";
static const char TXT_BAD_CHAR[] = "Invalid character in command";
static const char TXT_NO_SPACE[] = "Missing space between arguments";
static const char TXT_EXTRA_SPACE[] = "Unexpected space";
static const char TXT_UNBALANCED[] = "Unexpected ')'";
static const char TXT_MISSING_PAREN[] = "Missing ')'";
static const char TXT_TOO_DEEP[] = "Lists nested too deeply";
static const char TXT_UNTERMINATED[] = "Unterminated quoted string";
static const char TXT_QUOTED_NUL[] = "NUL byte in quoted string";
static const char TXT_BAD_ESCAPE[] = "Invalid escape in quoted string";
static const char TXT_BAD_LITERAL[] = "Invalid literal length";
static const char TXT_LITERAL_EOL[] = "Literal announcement not at end of line";
static const char TXT_LITERAL_NUL[] = "NUL byte in literal";
static const char TXT_LITERAL_TOO_BIG[] = "Literal too big";
static const char TXT_TOO_MANY_LITERALS[] = "Too many large literals in one command";
static const char TXT_SPOOL[] = "Cannot spool literal";
static const char TXT_BARE_CR[] = "CR not followed by LF";
static const char TXT_LINE_MODE_TOO_LONG[] = "Line too long";

enum parser_state {
	ST_TAG_START,  /* a new command, or an empty line */
	ST_TAG,        /* in the tag */
	ST_NAME_START, /* after "tag SP" */
	ST_NAME,       /* in the command name */
	ST_ARG_START,  /* after SP: an argument, or (depth 0) CRLF */
	ST_LIST_START, /* after '(': an argument or ')' */
	ST_AFTER_ARG,  /* after a complete token: SP, ')' or CRLF */
	ST_AFTER_LIST, /* after ')': as ST_AFTER_ARG, or an atom starting ']' */
	ST_ATOM,
	ST_QUOTED,
	ST_QUOTED_ESC,
	ST_LIT_LEN,    /* after '{' (or "~{"): digits */
	ST_LIT_PLUS,   /* after "{n+" */
	ST_LIT_RBRACE, /* after "{n}" */
	ST_LIT_CR,     /* after "{n}" CR */
	ST_LIT_DATA,   /* the literal's bytes */
	ST_CR,         /* a CR where a line may end */
	ST_SKIP,       /* skipping the rest of a bad command's line */
	ST_SKIP_LIT,   /* skipping a literal of a bad command */
	ST_LINE,       /* line mode */
	ST_LINE_SKIP,  /* line mode, the line is too long */
	ST_FATAL,
};

/* While skipping: how much of a trailing "{n+}" CRLF has been seen. */
enum skip_state {
	SK_NONE,
	SK_BRACE,  /* '{' */
	SK_DIGITS, /* '{' 1*DIGIT */
	SK_PLUS,   /* '{' 1*DIGIT '+' */
	SK_RBRACE, /* ... '}' */
	SK_CR,     /* ... '}' CR */
};

/* The elements of one open list (frames[0]: the command's arguments). */
struct frame {
	struct imap_arg *args;
	size_t count, cap;
};

struct imap_parser {
	struct imap_parser_limits limits;
	char *spool_dir;
	enum parser_state state;

	/* the command being built */
	char *tag;
	char *name;
	struct frame *frames;
	unsigned depth; /* open lists; frames[0..depth] are in use */
	unsigned frames_cap;
	struct buf tok;       /* the bytes of the tag, name, atom or quoted */
	uint64_t line_bytes;  /* non-literal bytes of this command, CR LF excluded */
	uint64_t mem_literal; /* bytes of in-memory literals of this command */
	unsigned spool_files;
	bool cr_empty; /* ST_CR: the line was empty */

	/* the literal being announced or read */
	uint64_t lit_len;
	uint64_t lit_left;
	bool lit_digits, lit_overflow, lit_plus, lit8, lit_nul;
	char *lit_mem;
	int lit_fd;

	/* skipping a bad command */
	enum skip_state sk;
	uint64_t sk_len;
	bool sk_overflow;
	bool sk_plus;
	uint64_t skip_left; /* ST_SKIP_LIT */

	/* results */
	struct imap_command *cmd;
	char *err_tag;
	const char *err_code;
	const char *err_text;
	struct buf line;
};

/* ---- character classes (RFC 9051 9, Formal Syntax) ---- */

/* ATOM-CHAR: any CHAR except atom-specials. */
static bool is_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	switch (c) {
	case '(':
	case ')':
	case '{':
	case '%':
	case '*':
	case '"':
	case '\\':
	case ']':
		return false;
	default:
		return true;
	}
}

/* tag = 1*<any ASTRING-CHAR except "+">; ASTRING-CHAR = ATOM-CHAR / "]" */
static bool is_tag_char(unsigned char c)
{
	return (is_atom_char(c) && c != '+') || c == ']';
}

/*
 * An atom argument. Wider than ATOM-CHAR because the same token carries
 * sequence sets ("1:*"), list-mailbox patterns ("INBOX.%"; RFC 9051
 * list-char), flags ("\Seen") and fetch attributes ("BODY[1]<0.10>"): the
 * command handlers check what they expect. Still excluded: '(', ')', '{',
 * DQUOTE, SP, CTL and 8-bit bytes.
 */
static bool is_arg_atom_char(unsigned char c)
{
	if (c <= 0x20 || c >= 0x7f)
		return false;
	return c != '(' && c != ')' && c != '{' && c != '"';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Append one decimal digit to *n; false once it passes 4294967295. */
static bool literal_len_add_digit(uint64_t *n, unsigned char c)
{
	unsigned d = (unsigned)(c - '0');

	if (*n > (PARSER_LITERAL_LEN_MAX - d) / 10)
		return false;
	*n = *n * 10 + d;
	return true;
}

/* ---- freeing ---- */

static void args_free(struct imap_arg *args, size_t count)
{
	/* recursion depth is bounded by max_depth */
	for (size_t i = 0; i < count; i++) {
		struct imap_arg *a = &args[i];
		free(a->str);
		if (a->fd >= 0)
			close(a->fd);
		if (a->type == IMAP_ARG_LIST)
			args_free(a->list, a->count);
	}
	free(args);
}

void imap_command_free(struct imap_command **cmdp)
{
	struct imap_command *cmd = *cmdp;

	if (cmd == NULL)
		return;
	*cmdp = NULL;
	free(cmd->tag);
	free(cmd->name);
	args_free(cmd->args, cmd->nargs);
	free(cmd);
}

static void literal_drop(struct imap_parser *p)
{
	free(p->lit_mem);
	p->lit_mem = NULL;
	if (p->lit_fd >= 0)
		close(p->lit_fd);
	p->lit_fd = -1;
}

/* Forget the half-built command (but not line_bytes: a skip goes on
 * counting). */
static void command_clear(struct imap_parser *p)
{
	free(p->tag);
	p->tag = NULL;
	free(p->name);
	p->name = NULL;
	for (unsigned i = 0; i <= p->depth; i++) {
		args_free(p->frames[i].args, p->frames[i].count);
		p->frames[i].args = NULL;
		p->frames[i].count = 0;
		p->frames[i].cap = 0;
	}
	p->depth = 0;
	buf_reset(&p->tok);
	literal_drop(p);
	p->mem_literal = 0;
	p->spool_files = 0;
}

/* Back at a command boundary. */
static void command_start(struct imap_parser *p)
{
	command_clear(p);
	p->line_bytes = 0;
	p->state = ST_TAG_START;
	/* a long command's token buffer is not kept by an idle connection */
	if (p->tok.cap > 4096)
		buf_free(&p->tok);
}

/* ---- errors ---- */

/* Remember the error; the tag (if one was read) moves into it. */
static void error_set(struct imap_parser *p, const char *code, const char *text)
{
	free(p->err_tag);
	p->err_tag = p->tag;
	p->tag = NULL;
	p->err_code = code;
	p->err_text = text;
}

/* The command is bad: skip the rest of it, then report the error. */
static void fail(struct imap_parser *p, const char *code, const char *text)
{
	/* Failing inside a literal announcement (the line got too long at
	 * its '}', say): the skip has to know how much of "{n+}" it has
	 * seen, or it would miss the literal the client sends anyway. */
	p->sk = SK_NONE;
	p->sk_len = p->lit_len;
	p->sk_overflow = p->lit_overflow;
	p->sk_plus = p->lit_plus;
	switch (p->state) {
	case ST_LIT_LEN:
		p->sk = p->lit_digits ? SK_DIGITS : SK_BRACE;
		break;
	case ST_LIT_PLUS:
		p->sk = SK_PLUS;
		break;
	case ST_LIT_RBRACE:
		p->sk = SK_RBRACE;
		break;
	case ST_LIT_CR:
		p->sk = SK_CR;
		break;
	default:
		break;
	}
	error_set(p, code, text);
	command_clear(p);
	p->state = ST_SKIP;
}

/* The bad command has been skipped up to its final LF. */
static enum imap_parse_result error_finish(struct imap_parser *p)
{
	command_start(p);
	return IMAP_PARSE_ERROR;
}

static enum imap_parse_result fail_fatal(struct imap_parser *p, const char *code, const char *text)
{
	error_set(p, code, text);
	command_clear(p);
	p->state = ST_FATAL;
	return IMAP_PARSE_FATAL;
}

/* Skip n bytes of a literal the client sends anyway, then the rest of the
 * line. */
static void skip_literal(struct imap_parser *p, uint64_t n)
{
	p->sk = SK_NONE;
	p->skip_left = n;
	p->state = n > 0 ? ST_SKIP_LIT : ST_SKIP;
}

static uint64_t skip_line_limit(const struct imap_parser *p)
{
	if (p->limits.max_line > UINT64_MAX / PARSER_SKIP_FATAL_FACTOR)
		return UINT64_MAX;
	return p->limits.max_line * PARSER_SKIP_FATAL_FACTOR;
}

/* The largest literal of the kind being announced. */
static uint64_t literal_limit(const struct imap_parser *p, bool nonsync)
{
	uint64_t limit = p->limits.max_literal;

	if (nonsync && p->limits.max_nonsync < limit)
		limit = p->limits.max_nonsync;
	return limit;
}

/* A {n+} over its limit: discard it (and BAD), or FATAL if far over. */
static enum imap_parse_result nonsync_too_big(struct imap_parser *p, bool overflow, uint64_t n)
{
	uint64_t limit = literal_limit(p, true);

	if (overflow || n - limit > PARSER_NONSYNC_DISCARD_MAX)
		return fail_fatal(p, "TOOBIG", TXT_LITERAL_TOO_BIG);
	fail(p, "TOOBIG", TXT_LITERAL_TOO_BIG);
	skip_literal(p, n);
	return IMAP_PARSE_NEED_MORE;
}

/* ---- building the command ---- */

static char *tok_take(struct imap_parser *p)
{
	char *s = xmalloc(p->tok.len + 1);

	if (p->tok.len > 0)
		memcpy(s, p->tok.data, p->tok.len);
	s[p->tok.len] = '\0';
	buf_reset(&p->tok);
	return s;
}

static struct imap_arg *arg_push(struct imap_parser *p)
{
	struct frame *f = &p->frames[p->depth];

	if (f->count == f->cap) {
		f->cap = f->cap == 0 ? 4 : f->cap * 2;
		f->args = xrealloc(f->args, f->cap * sizeof(*f->args));
	}
	struct imap_arg *a = &f->args[f->count++];
	memset(a, 0, sizeof(*a));
	a->fd = -1;
	return a;
}

static void atom_finish(struct imap_parser *p)
{
	bool nil = p->tok.len == 3 && strncasecmp(p->tok.data, "NIL", 3) == 0;
	uint64_t len = p->tok.len;
	struct imap_arg *a = arg_push(p);

	a->type = nil ? IMAP_ARG_NIL : IMAP_ARG_ATOM;
	a->len = len;
	a->str = tok_take(p);
}

static void quoted_finish(struct imap_parser *p)
{
	uint64_t len = p->tok.len;
	struct imap_arg *a = arg_push(p);

	a->type = IMAP_ARG_QUOTED;
	a->len = len;
	a->str = tok_take(p);
}

static bool list_open(struct imap_parser *p)
{
	if (p->depth >= p->limits.max_depth) {
		fail(p, NULL, TXT_TOO_DEEP);
		return false;
	}
	if (p->depth + 1 >= p->frames_cap) {
		unsigned cap = p->frames_cap * 2;
		p->frames = xrealloc(p->frames, cap * sizeof(*p->frames));
		memset(p->frames + p->frames_cap, 0, (cap - p->frames_cap) * sizeof(*p->frames));
		p->frames_cap = cap;
	}
	p->depth++;
	p->state = ST_LIST_START;
	return true;
}

static bool list_close(struct imap_parser *p)
{
	if (p->depth == 0) {
		fail(p, NULL, TXT_UNBALANCED);
		return false;
	}
	struct frame *f = &p->frames[p->depth];
	struct imap_arg *elems = f->args;
	size_t count = f->count;

	f->args = NULL;
	f->count = f->cap = 0;
	p->depth--;
	struct imap_arg *a = arg_push(p);
	a->type = IMAP_ARG_LIST;
	a->list = elems;
	a->count = count;
	p->state = ST_AFTER_LIST;
	return true;
}

/* The LF ending a line of the command (not of a literal announcement). */
static enum imap_parse_result end_of_line(struct imap_parser *p)
{
	if (p->depth > 0) {
		fail(p, NULL, TXT_MISSING_PAREN);
		return error_finish(p);
	}
	struct imap_command *cmd = xcalloc(1, sizeof(*cmd));
	cmd->tag = p->tag;
	cmd->name = p->name;
	cmd->args = p->frames[0].args;
	cmd->nargs = p->frames[0].count;
	p->tag = NULL;
	p->name = NULL;
	p->frames[0].args = NULL;
	p->frames[0].count = p->frames[0].cap = 0;
	/* not taken: the caller does not want it */
	imap_command_free(&p->cmd);
	p->cmd = cmd;
	command_start(p);
	return IMAP_PARSE_COMMAND;
}

/* ---- literals ---- */

static void literal_start(struct imap_parser *p, bool lit8)
{
	p->lit_len = 0;
	p->lit_digits = false;
	p->lit_overflow = false;
	p->lit_plus = false;
	p->lit8 = lit8;
	p->state = ST_LIT_LEN;
}

/* An unlinked file in the spool directory; -1 if none can be made. */
static int spool_open(const struct imap_parser *p)
{
	const char *dir = p->spool_dir != NULL ? p->spool_dir : "/tmp";
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0)
		return fd;
	/* file systems without O_TMPFILE */
	char *path = xasprintf("%s/roost-literal.XXXXXX", dir);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0 && unlink(path) < 0) {
		close(fd);
		fd = -1;
	}
	if (fd < 0)
		log_err("imap: cannot make a spool file in %s: %s", dir, strerror(errno));
	free(path);
	return fd;
}

static void literal_finish(struct imap_parser *p)
{
	/* RFC 9051 9: literal = ... *CHAR8, CHAR8 = %x01-ff; literal8 takes
	 * any OCTET */
	if (p->lit_nul && !p->lit8) {
		fail(p, NULL, TXT_LITERAL_NUL);
		return;
	}
	struct imap_arg *a = arg_push(p);
	a->type = IMAP_ARG_LITERAL;
	a->literal8 = p->lit8;
	a->nonsync = p->lit_plus;
	a->len = p->lit_len;
	if (p->lit_fd >= 0) {
		a->fd = p->lit_fd;
		p->lit_fd = -1;
	} else {
		a->str = p->lit_mem != NULL ? p->lit_mem : xmalloc(1);
		a->str[a->len] = '\0';
		p->lit_mem = NULL;
	}
	p->state = ST_AFTER_ARG;
}

/*
 * The LF after "{n}", "{n+}", "~{n}" or "~{n+}". A synchronizing literal
 * that is refused is answered at once (the client sends nothing more until
 * it gets a "+"); a refused non-synchronizing one is on its way and has to
 * be skipped first.
 */
static enum imap_parse_result literal_announce(struct imap_parser *p)
{
	uint64_t limit = literal_limit(p, p->lit_plus);
	const char *code = NULL, *text = NULL;

	if (p->lit_overflow || p->lit_len > limit) {
		if (p->lit_plus)
			return nonsync_too_big(p, p->lit_overflow, p->lit_len);
		fail(p, "TOOBIG", TXT_LITERAL_TOO_BIG);
		return error_finish(p);
	}
	if (p->lit_len == 0 || (p->mem_literal <= p->limits.spool_threshold &&
	                        p->lit_len <= p->limits.spool_threshold - p->mem_literal)) {
		/* bounded: the command's in-memory literals stay within the
		 * spool threshold */
		p->lit_mem = xmalloc(p->lit_len + 1);
		p->mem_literal += p->lit_len;
	} else if (p->spool_files >= PARSER_MAX_SPOOL_FILES) {
		code = "LIMIT";
		text = TXT_TOO_MANY_LITERALS;
	} else if ((p->lit_fd = spool_open(p)) < 0) {
		code = "SERVERBUG";
		text = TXT_SPOOL;
	} else {
		p->spool_files++;
	}
	if (text != NULL) {
		uint64_t n = p->lit_len;
		bool plus = p->lit_plus;

		fail(p, code, text);
		if (!plus)
			return error_finish(p);
		skip_literal(p, n);
		return IMAP_PARSE_NEED_MORE;
	}

	bool sync = !p->lit_plus;
	p->lit_left = p->lit_len;
	p->lit_nul = false;
	p->state = ST_LIT_DATA;
	if (p->lit_left == 0)
		literal_finish(p);
	return sync ? IMAP_PARSE_CONTINUE : IMAP_PARSE_NEED_MORE;
}

static int write_full(int fd, const unsigned char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* n bytes of the literal being read (n <= lit_left). */
static void literal_data(struct imap_parser *p, const unsigned char *data, size_t n)
{
	if (!p->lit8 && !p->lit_nul && memchr(data, '\0', n) != NULL)
		p->lit_nul = true;
	if (p->lit_mem != NULL) {
		memcpy(p->lit_mem + (p->lit_len - p->lit_left), data, n);
	} else if (write_full(p->lit_fd, data, n) < 0) {
		log_err("imap: cannot write a spool file: %s", strerror(errno));
		uint64_t rest = p->lit_left - n;
		fail(p, "SERVERBUG", TXT_SPOOL);
		skip_literal(p, rest);
		return;
	}
	p->lit_left -= n;
	if (p->lit_left == 0)
		literal_finish(p);
}

/* ---- skipping ---- */

/* Follow the skipped bytes for a "{n+}" (or "{n}") that might end the line. */
static void skip_track(struct imap_parser *p, unsigned char c)
{
	switch (p->sk) {
	case SK_BRACE:
	case SK_DIGITS:
		if (is_digit(c)) {
			if (!p->sk_overflow && !literal_len_add_digit(&p->sk_len, c))
				p->sk_overflow = true;
			p->sk = SK_DIGITS;
			return;
		}
		if (p->sk == SK_DIGITS && c == '+') {
			p->sk = SK_PLUS;
			return;
		}
		if (p->sk == SK_DIGITS && c == '}') {
			p->sk_plus = false;
			p->sk = SK_RBRACE;
			return;
		}
		break;
	case SK_PLUS:
		if (c == '}') {
			p->sk_plus = true;
			p->sk = SK_RBRACE;
			return;
		}
		break;
	case SK_RBRACE:
		if (c == '\r') {
			p->sk = SK_CR;
			return;
		}
		break;
	case SK_NONE:
	case SK_CR:
		break;
	}
	if (c == '{') {
		p->sk = SK_BRACE;
		p->sk_len = 0;
		p->sk_overflow = false;
	} else {
		p->sk = SK_NONE;
	}
}

static enum imap_parse_result skip_byte(struct imap_parser *p, unsigned char c)
{
	if (c != '\n') {
		skip_track(p, c);
		return IMAP_PARSE_NEED_MORE;
	}
	if ((p->sk == SK_RBRACE || p->sk == SK_CR) && p->sk_plus) {
		uint64_t n = p->sk_len;

		if (p->sk_overflow || n > literal_limit(p, true)) {
			/* the first error stays the one reported */
			if (p->sk_overflow ||
			    n - literal_limit(p, true) > PARSER_NONSYNC_DISCARD_MAX)
				return fail_fatal(p, "TOOBIG", TXT_LITERAL_TOO_BIG);
		}
		skip_literal(p, n);
		return IMAP_PARSE_NEED_MORE;
	}
	return error_finish(p);
}

/* ---- line mode ---- */

static enum imap_parse_result line_byte(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_LINE_SKIP) {
		if (c == '\n') {
			command_start(p);
			error_set(p, NULL, TXT_LINE_MODE_TOO_LONG);
			return IMAP_PARSE_ERROR;
		}
		if (++p->line_bytes > skip_line_limit(p))
			return fail_fatal(p, NULL, TXT_LINE_MODE_TOO_LONG);
		return IMAP_PARSE_NEED_MORE;
	}
	if (c == '\n') {
		if (p->line.len > 0 && p->line.data[p->line.len - 1] == '\r')
			p->line.data[--p->line.len] = '\0';
		if (p->line.len > p->limits.max_line) {
			command_start(p);
			error_set(p, NULL, TXT_LINE_MODE_TOO_LONG);
			return IMAP_PARSE_ERROR;
		}
		command_start(p);
		return IMAP_PARSE_LINE;
	}
	/* one byte more than max_line may still be the CR of CRLF */
	if (p->line.len > p->limits.max_line) {
		p->line_bytes = p->line.len + 1;
		buf_reset(&p->line);
		p->state = ST_LINE_SKIP;
		return IMAP_PARSE_NEED_MORE;
	}
	buf_append_byte(&p->line, (char)c);
	return IMAP_PARSE_NEED_MORE;
}

/* ---- the state machine ---- */

/* A token may start here: '(', DQUOTE, '{' or an atom (incl. "~{"). */
static bool token_start(struct imap_parser *p, unsigned char c)
{
	switch (c) {
	case '(':
		return list_open(p);
	case '"':
		buf_reset(&p->tok);
		p->state = ST_QUOTED;
		return true;
	case '{':
		literal_start(p, false);
		return true;
	default:
		break;
	}
	if (!is_arg_atom_char(c)) {
		fail(p, NULL, TXT_BAD_CHAR);
		return false;
	}
	buf_append_byte(&p->tok, (char)c);
	p->state = ST_ATOM;
	return true;
}

static bool counts_as_line(enum parser_state st)
{
	return st != ST_LIT_DATA && st != ST_SKIP_LIT && st != ST_LINE && st != ST_LINE_SKIP &&
	       st != ST_FATAL;
}

static enum imap_parse_result step(struct imap_parser *p, unsigned char c)
{
	if (p->state == ST_LINE || p->state == ST_LINE_SKIP)
		return line_byte(p, c);
	if (counts_as_line(p->state) && c != '\r' && c != '\n') {
		p->line_bytes++;
		if (p->state == ST_SKIP) {
			if (p->line_bytes > skip_line_limit(p))
				return fail_fatal(p, NULL, TXT_LINE_TOO_LONG);
		} else if (p->line_bytes > p->limits.max_line) {
			fail(p, NULL, TXT_LINE_TOO_LONG);
		}
	}
again:
	switch (p->state) {
	case ST_TAG_START:
		if (c == '\n')
			return IMAP_PARSE_NEED_MORE; /* empty line */
		if (c == '\r') {
			p->cr_empty = true;
			p->state = ST_CR;
			return IMAP_PARSE_NEED_MORE;
		}
		if (!is_tag_char(c)) {
			fail(p, NULL, TXT_BAD_TAG);
			goto again;
		}
		buf_append_byte(&p->tok, (char)c);
		p->state = ST_TAG;
		return IMAP_PARSE_NEED_MORE;

	case ST_TAG:
		if (is_tag_char(c)) {
			buf_append_byte(&p->tok, (char)c);
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == ' ') {
			p->tag = tok_take(p);
			p->state = ST_NAME_START;
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '\r' || c == '\n') {
			/* "tag CRLF": the tag is good, answer with it */
			p->tag = tok_take(p);
			fail(p, NULL, TXT_NO_NAME);
			goto again;
		}
		fail(p, NULL, TXT_BAD_TAG);
		goto again;

	case ST_NAME_START:
		if (!is_atom_char(c)) {
			fail(p, NULL, TXT_NO_NAME);
			goto again;
		}
		buf_append_byte(&p->tok, (char)c);
		p->state = ST_NAME;
		return IMAP_PARSE_NEED_MORE;

	case ST_NAME:
		if (is_atom_char(c)) {
			buf_append_byte(&p->tok, (char)c);
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == ' ' || c == '\r' || c == '\n') {
			p->name = tok_take(p);
			p->state = ST_AFTER_ARG;
			goto again;
		}
		fail(p, NULL, TXT_NO_NAME);
		goto again;

	case ST_ARG_START:
		if (c == '\r' || c == '\n') {
			if (p->depth == 0) {
				/* a trailing SP is tolerated */
				p->state = ST_AFTER_ARG;
				goto again;
			}
			fail(p, NULL, TXT_MISSING_PAREN);
			goto again;
		}
		if (c == ' ' || c == ')') {
			fail(p, NULL, TXT_EXTRA_SPACE);
			goto again;
		}
		if (!token_start(p, c))
			goto again;
		return IMAP_PARSE_NEED_MORE;

	case ST_LIST_START:
		if (c == ')') {
			list_close(p);
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '\r' || c == '\n') {
			fail(p, NULL, TXT_MISSING_PAREN);
			goto again;
		}
		if (c == ' ') {
			fail(p, NULL, TXT_EXTRA_SPACE);
			goto again;
		}
		if (!token_start(p, c))
			goto again;
		return IMAP_PARSE_NEED_MORE;

	case ST_AFTER_LIST:
		if (c == ']') {
			/* "BODY[HEADER.FIELDS (A B)]": the "]" is an atom */
			buf_append_byte(&p->tok, (char)c);
			p->state = ST_ATOM;
			return IMAP_PARSE_NEED_MORE;
		}
		/* fall through */
	case ST_AFTER_ARG:
		switch (c) {
		case ' ':
			p->state = ST_ARG_START;
			return IMAP_PARSE_NEED_MORE;
		case ')':
			if (!list_close(p))
				goto again;
			return IMAP_PARSE_NEED_MORE;
		case '\r':
			p->cr_empty = false;
			p->state = ST_CR;
			return IMAP_PARSE_NEED_MORE;
		case '\n':
			return end_of_line(p);
		default:
			fail(p, NULL, TXT_NO_SPACE);
			goto again;
		}

	case ST_ATOM:
		if (is_arg_atom_char(c)) {
			buf_append_byte(&p->tok, (char)c);
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '{' && p->tok.len == 1 && p->tok.data[0] == '~') {
			/* RFC 3516: literal8 = "~{" number "}" CRLF *OCTET */
			buf_reset(&p->tok);
			literal_start(p, true);
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == ' ' || c == ')' || c == '\r' || c == '\n') {
			atom_finish(p);
			p->state = ST_AFTER_ARG;
			goto again;
		}
		fail(p, NULL, TXT_BAD_CHAR);
		goto again;

	case ST_QUOTED:
		switch (c) {
		case '"':
			quoted_finish(p);
			p->state = ST_AFTER_ARG;
			return IMAP_PARSE_NEED_MORE;
		case '\\':
			p->state = ST_QUOTED_ESC;
			return IMAP_PARSE_NEED_MORE;
		case '\0':
			fail(p, NULL, TXT_QUOTED_NUL);
			goto again;
		case '\r':
		case '\n':
			fail(p, NULL, TXT_UNTERMINATED);
			goto again;
		default:
			/* 8-bit bytes are UTF-8 under IMAP4rev2 (RFC 9051
			 * QUOTED-CHAR); the commands check what they need */
			buf_append_byte(&p->tok, (char)c);
			return IMAP_PARSE_NEED_MORE;
		}

	case ST_QUOTED_ESC:
		/* RFC 9051 9: QUOTED-CHAR = ... / "\" quoted-specials */
		if (c == '"' || c == '\\') {
			buf_append_byte(&p->tok, (char)c);
			p->state = ST_QUOTED;
			return IMAP_PARSE_NEED_MORE;
		}
		fail(p, NULL, TXT_BAD_ESCAPE);
		goto again;

	case ST_LIT_LEN:
		if (is_digit(c)) {
			p->lit_digits = true;
			if (!p->lit_overflow && !literal_len_add_digit(&p->lit_len, c))
				p->lit_overflow = true;
			return IMAP_PARSE_NEED_MORE;
		}
		if (p->lit_digits && c == '+') {
			p->state = ST_LIT_PLUS;
			return IMAP_PARSE_NEED_MORE;
		}
		if (p->lit_digits && c == '}') {
			p->state = ST_LIT_RBRACE;
			return IMAP_PARSE_NEED_MORE;
		}
		fail(p, NULL, TXT_BAD_LITERAL);
		goto again;

	case ST_LIT_PLUS:
		if (c == '}') {
			p->lit_plus = true;
			p->state = ST_LIT_RBRACE;
			return IMAP_PARSE_NEED_MORE;
		}
		fail(p, NULL, TXT_BAD_LITERAL);
		goto again;

	case ST_LIT_RBRACE:
		if (c == '\r') {
			p->state = ST_LIT_CR;
			return IMAP_PARSE_NEED_MORE;
		}
		if (c == '\n')
			return literal_announce(p);
		fail(p, NULL, TXT_LITERAL_EOL);
		goto again;

	case ST_LIT_CR:
		if (c == '\n')
			return literal_announce(p);
		fail(p, NULL, TXT_BARE_CR);
		goto again;

	case ST_CR:
		if (c == '\n') {
			if (p->cr_empty) {
				p->state = ST_TAG_START;
				return IMAP_PARSE_NEED_MORE;
			}
			return end_of_line(p);
		}
		fail(p, NULL, TXT_BARE_CR);
		goto again;

	case ST_SKIP:
		return skip_byte(p, c);

	case ST_FATAL:
		return IMAP_PARSE_FATAL;

	case ST_LIT_DATA:
	case ST_SKIP_LIT:
	case ST_LINE:
	case ST_LINE_SKIP:
		break;
	}
	/* the bulk states are handled by imap_parser_feed() */
	abort();
}

/*
 * How many bytes from data (at most len) the current state can take in one
 * go with the same outcome as feeding them one by one through step(): long
 * runs of atom, quoted or skipped bytes, bounded by the line budget left.
 */
static size_t run_length(const struct imap_parser *p, const unsigned char *data, size_t len)
{
	uint64_t limit = p->state == ST_SKIP ? skip_line_limit(p) : p->limits.max_line;
	uint64_t budget = p->line_bytes < limit ? limit - p->line_bytes : 0;
	size_t n = 0;

	if (budget < len)
		len = (size_t)budget;
	switch (p->state) {
	case ST_ATOM:
		while (n < len && is_arg_atom_char(data[n]))
			n++;
		break;
	case ST_QUOTED:
		while (n < len && data[n] != '"' && data[n] != '\\' && data[n] != '\0' &&
		       data[n] != '\r' && data[n] != '\n')
			n++;
		break;
	case ST_SKIP:
		if (p->sk != SK_NONE)
			break;
		while (n < len && data[n] != '{' && data[n] != '\r' && data[n] != '\n')
			n++;
		break;
	default:
		break;
	}
	return n;
}

enum imap_parse_result imap_parser_feed(struct imap_parser *p, const void *data, size_t len,
                                        size_t *consumed_r)
{
	const unsigned char *d = data;
	enum imap_parse_result ret = IMAP_PARSE_NEED_MORE;
	size_t i = 0;

	if (p->state == ST_FATAL) {
		*consumed_r = 0;
		return IMAP_PARSE_FATAL;
	}
	/* the last line (valid until this call) is not kept by an idle
	 * connection */
	if (p->state != ST_LINE && p->line.cap > 4096)
		buf_free(&p->line);
	while (i < len && ret == IMAP_PARSE_NEED_MORE) {
		size_t n;

		switch (p->state) {
		case ST_LIT_DATA:
			n = len - i < p->lit_left ? len - i : (size_t)p->lit_left;
			literal_data(p, d + i, n);
			i += n;
			continue;
		case ST_SKIP_LIT:
			n = len - i < p->skip_left ? len - i : (size_t)p->skip_left;
			p->skip_left -= n;
			if (p->skip_left == 0)
				p->state = ST_SKIP;
			i += n;
			continue;
		case ST_ATOM:
		case ST_QUOTED:
		case ST_SKIP:
			n = run_length(p, d + i, len - i);
			if (n > 0) {
				if (p->state != ST_SKIP)
					buf_append(&p->tok, d + i, n);
				p->line_bytes += n;
				i += n;
				continue;
			}
			break;
		default:
			break;
		}
		ret = step(p, d[i++]);
	}
	*consumed_r = i;
	return ret;
}

/* ---- the rest of the interface ---- */

struct imap_parser *imap_parser_new(const struct imap_parser_limits *limits)
{
	struct imap_parser *p = xcalloc(1, sizeof(*p));

	imap_parser_set_limits(p, limits);
	p->frames_cap = 4;
	p->frames = xcalloc(p->frames_cap, sizeof(*p->frames));
	p->lit_fd = -1;
	p->state = ST_TAG_START;
	buf_init(&p->tok);
	buf_init(&p->line);
	return p;
}

void imap_parser_free(struct imap_parser **parserp)
{
	struct imap_parser *p = *parserp;

	if (p == NULL)
		return;
	*parserp = NULL;
	command_clear(p);
	imap_command_free(&p->cmd);
	free(p->err_tag);
	free(p->frames);
	free(p->spool_dir);
	buf_free(&p->tok);
	buf_free(&p->line);
	free(p);
}

void imap_parser_set_limits(struct imap_parser *p, const struct imap_parser_limits *limits)
{
	free(p->spool_dir);
	p->limits = *limits;
	p->spool_dir = limits->spool_dir != NULL ? xstrdup(limits->spool_dir) : NULL;
	p->limits.spool_dir = p->spool_dir;
}

struct imap_command *imap_parser_take_command(struct imap_parser *p)
{
	struct imap_command *cmd = p->cmd;

	p->cmd = NULL;
	return cmd;
}

const char *imap_parser_error_tag(const struct imap_parser *p)
{
	return p->err_tag;
}

const char *imap_parser_error_code(const struct imap_parser *p)
{
	return p->err_code;
}

const char *imap_parser_error_text(const struct imap_parser *p)
{
	return p->err_text;
}

void imap_parser_expect_line(struct imap_parser *p)
{
	if (p->state == ST_FATAL)
		return;
	/* only meant for a command boundary; a partial command is dropped */
	command_start(p);
	buf_reset(&p->line);
	p->state = ST_LINE;
}

const char *imap_parser_line(const struct imap_parser *p, size_t *len_r)
{
	*len_r = p->line.len;
	return p->line.data != NULL ? p->line.data : "";
}

void imap_parser_reset(struct imap_parser *p)
{
	command_start(p);
	imap_command_free(&p->cmd);
	free(p->err_tag);
	p->err_tag = NULL;
	p->err_code = NULL;
	p->err_text = NULL;
	buf_reset(&p->line);
}
