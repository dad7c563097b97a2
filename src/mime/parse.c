/*
 * The structure parser: one pass over the message's bytes gives the part
 * tree (pre-order) with the offsets of every header and body.
 *
 * It follows what Dovecot does with the same input, since clients have been
 * tested against it (shared/corpus):
 * - A delimiter line is "--" + boundary at the start of a line, followed by
 *   anything (prefix match); the open boundaries are tried innermost first.
 *   "--" + boundary + "--" closes the multipart.
 * - The line end before a delimiter belongs to the delimiter (RFC 2046
 *   5.1.1), so a part ends before it.
 * - A delimiter line also ends a header that has no empty line.
 * - A multipart without a boundary parameter has no children; a missing
 *   closing delimiter ends the part at its parent's next delimiter or at
 *   the end of the message.
 * - message/rfc822 (whatever its transfer encoding) holds one child: the
 *   encapsulated message with its own header and body.
 * - In multipart/digest a part without Content-Type is message/rfc822
 *   (RFC 2046 5.1.5).
 * Past MIME_MAX_DEPTH a multipart or message is an opaque leaf; after
 * MIME_MAX_PARTS parts the scan stops and the open parts run to the end.
 */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct boundary {
	const unsigned char *s;
	size_t len;
};

struct parse_ctx {
	const unsigned char *data;
	size_t len;
	struct mime_part *parts;
	uint32_t *last_child; /* per part, so linking a child is O(1) */
	uint32_t count, cap;
	struct boundary *bnds;
	unsigned nbnd, bcap;
	bool full; /* MIME_MAX_PARTS reached */
	/* the boundary strings, kept until the end of the parse */
	char **strs;
	unsigned nstrs;
};

/* Where a part's scan stopped: at a delimiter line, or the end. */
struct stop {
	size_t line; /* start of the delimiter line, or len */
	size_t next; /* start of the line after it */
	int bnd;     /* index in the boundary stack; -1 at the end */
	bool close;
	size_t raw_end; /* the part's end before shrink_empty() */
};

static size_t next_line(const struct parse_ctx *ctx, size_t pos)
{
	const unsigned char *lf = memchr(ctx->data + pos, '\n', ctx->len - pos);

	return lf == NULL ? ctx->len : (size_t)(lf - ctx->data) + 1;
}

/* Does the line at pos start a delimiter of an open boundary? */
static bool match_boundary(const struct parse_ctx *ctx, size_t pos, struct stop *st)
{
	const unsigned char *p = ctx->data + pos;
	size_t avail = ctx->len - pos;

	if (avail < 2 || p[0] != '-' || p[1] != '-')
		return false;
	for (int i = (int)ctx->nbnd - 1; i >= 0; i--) {
		const struct boundary *b = &ctx->bnds[i];

		if (avail - 2 >= b->len && memcmp(p + 2, b->s, b->len) == 0) {
			st->line = pos;
			st->next = next_line(ctx, pos);
			st->bnd = i;
			st->close =
			    avail - 2 - b->len >= 2 && p[2 + b->len] == '-' && p[3 + b->len] == '-';
			return true;
		}
	}
	return false;
}

/* Scan lines from pos (a line start) to the next delimiter line. */
static void scan(const struct parse_ctx *ctx, size_t pos, struct stop *st)
{
	st->raw_end = 0;
	if (ctx->nbnd > 0 && !ctx->full) {
		while (pos < ctx->len) {
			if (match_boundary(ctx, pos, st))
				return;
			/* jump to the next "\n--" */
			const unsigned char *p = ctx->data + pos;
			const unsigned char *hit = memmem(p, ctx->len - pos, "\n--", 3);

			if (hit == NULL)
				break;
			pos = (size_t)(hit - ctx->data) + 1;
		}
	}
	st->line = st->next = ctx->len;
	st->bnd = -1;
	st->close = false;
}

/* A part's end before the delimiter at line: without the line end that
 * precedes it, but never before the body's start. */
static size_t end_before(const struct parse_ctx *ctx, size_t line, size_t body_start)
{
	size_t e = line;

	if (line < ctx->len) {
		if (e > body_start && ctx->data[e - 1] == '\n')
			e--;
		if (e > body_start && ctx->data[e - 1] == '\r')
			e--;
	}
	return e < body_start ? body_start : e;
}

static uint32_t part_new(struct parse_ctx *ctx, size_t start, uint32_t parent, unsigned depth)
{
	if (ctx->count == ctx->cap) {
		ctx->cap = ctx->cap ? ctx->cap * 2 : 8;
		ctx->parts = xrealloc(ctx->parts, ctx->cap * sizeof(*ctx->parts));
		ctx->last_child = xrealloc(ctx->last_child, ctx->cap * sizeof(*ctx->last_child));
	}
	uint32_t idx = ctx->count++;
	struct mime_part *p = &ctx->parts[idx];

	memset(p, 0, sizeof(*p));
	p->header_start = p->body_start = p->body_end = start;
	p->parent = parent;
	p->depth = (uint16_t)depth;
	ctx->last_child[idx] = 0;
	if (idx != 0) {
		/* link as the last child of parent */
		if (ctx->parts[parent].first_child == 0)
			ctx->parts[parent].first_child = idx;
		else
			ctx->parts[ctx->last_child[parent]].next_sibling = idx;
		ctx->last_child[parent] = idx;
	}
	if (ctx->count >= MIME_MAX_PARTS)
		ctx->full = true;
	return idx;
}

static void push_boundary(struct parse_ctx *ctx, const char *b)
{
	if (ctx->nbnd == ctx->bcap) {
		ctx->bcap = ctx->bcap ? ctx->bcap * 2 : 8;
		ctx->bnds = xrealloc(ctx->bnds, ctx->bcap * sizeof(*ctx->bnds));
	}
	ctx->strs = xrealloc(ctx->strs, (ctx->nstrs + 1) * sizeof(*ctx->strs));
	ctx->strs[ctx->nstrs++] = xstrdup(b);
	ctx->bnds[ctx->nbnd].s = (const unsigned char *)ctx->strs[ctx->nstrs - 1];
	ctx->bnds[ctx->nbnd].len = strlen(b);
	ctx->nbnd++;
}

enum kind { KIND_LEAF, KIND_MULTIPART, KIND_MESSAGE };

/* Read the part's Content-Type and CTE from its header. */
static enum kind part_kind(struct parse_ctx *ctx, struct mime_part *p, bool digest_child,
                           bool *digest_r, char **boundary_r)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;
	bool have_ct = false, have_cte = false;
	enum kind kind = KIND_LEAF;

	*digest_r = false;
	*boundary_r = NULL;
	p->cte = MIME_CTE_7BIT;
	mime_hdr_iter_init(&it, ctx->data + p->header_start, p->body_start - p->header_start);
	while (mime_hdr_next(&it, &f)) {
		if (!have_ct && mime_hdr_name_is(&f, "Content-Type")) {
			struct mime_ctype ct;

			/* the first Content-Type counts, as in Dovecot */
			have_ct = true;
			mime_ctype_parse(f.value, f.value_len, &ct);
			if (strcasecmp(ct.type, "multipart") == 0) {
				const char *b = mime_ctype_param(&ct, "boundary");

				kind = KIND_MULTIPART;
				*digest_r = strcasecmp(ct.subtype, "digest") == 0;
				if (b != NULL)
					*boundary_r = xstrdup(b);
			} else if (strcasecmp(ct.type, "message") == 0 &&
			           strcasecmp(ct.subtype, "rfc822") == 0) {
				kind = KIND_MESSAGE;
			}
			mime_ctype_free(&ct);
		} else if (!have_cte && mime_hdr_name_is(&f, "Content-Transfer-Encoding")) {
			have_cte = true;
			p->cte = mime_cte_parse(f.value, f.value_len);
		}
	}
	if (!have_ct && digest_child)
		kind = KIND_MESSAGE;
	return kind;
}

static void parse_part(struct parse_ctx *ctx, size_t start, uint32_t parent, unsigned depth,
                       bool digest_child, struct stop *st);

/* A part whose body is empty because a delimiter line follows its header
 * at once: the line end before the delimiter belongs to the delimiter, so
 * it leaves the header (Dovecot: "Content-Type: x\r\n\r\n--b" has a
 * MIME header without the empty line). */
static void shrink_empty(struct parse_ctx *ctx, uint32_t idx, const struct stop *st)
{
	struct mime_part *p = &ctx->parts[idx];
	size_t e = st->line;

	if (st->bnd < 0 || p->body_end != p->body_start || p->body_start != st->line)
		return;
	if (e > 0 && ctx->data[e - 1] == '\n')
		e--;
	if (e > 0 && ctx->data[e - 1] == '\r')
		e--;
	if (e < p->header_start)
		return;
	p->body_start = p->body_end = e;
	/* an empty encapsulated message moves along */
	for (uint32_t c = idx + 1; c < ctx->count; c++) {
		struct mime_part *cp = &ctx->parts[c];

		if (cp->header_start > e)
			cp->header_start = e;
		if (cp->body_start > e)
			cp->body_start = e;
		if (cp->body_end > e)
			cp->body_end = e;
	}
}

static void parse_multipart(struct parse_ctx *ctx, uint32_t idx, const char *boundary, bool digest,
                            struct stop *st)
{
	unsigned mine = ctx->nbnd;
	size_t body_start = ctx->parts[idx].body_start;
	unsigned depth = ctx->parts[idx].depth;

	push_boundary(ctx, boundary);
	scan(ctx, body_start, st); /* the preamble */
	while (st->bnd == (int)mine && !st->close && !ctx->full)
		parse_part(ctx, st->next, idx, depth + 1, digest, st);
	ctx->nbnd = mine;
	if (st->bnd == (int)mine && st->close) {
		size_t epilogue = st->next;

		scan(ctx, epilogue, st);
		/* the close delimiter's own line end is not the one before the
		 * next delimiter: the body keeps it */
		st->raw_end = epilogue;
	} else if (st->bnd > (int)mine)
		st->bnd = -1; /* cannot happen: inner boundaries are popped */
	if (ctx->full) {
		st->line = st->next = ctx->len;
		st->bnd = -1;
		st->raw_end = 0;
	}
}

static void parse_part(struct parse_ctx *ctx, size_t start, uint32_t parent, unsigned depth,
                       bool digest_child, struct stop *st)
{
	uint32_t idx = part_new(ctx, start, parent, depth);
	size_t pos = start, body_start;
	bool hdr_stopped = false, digest;
	char *boundary;

	/* the header: up to the empty line, a delimiter line or the end */
	for (;;) {
		if (pos >= ctx->len) {
			body_start = ctx->len;
			break;
		}
		size_t nl = next_line(ctx, pos);

		if (ctx->data[pos] == '\n' || (ctx->data[pos] == '\r' && nl - pos == 2)) {
			body_start = nl;
			break;
		}
		if (ctx->nbnd > 0 && !ctx->full && match_boundary(ctx, pos, st)) {
			body_start = pos;
			hdr_stopped = true;
			break;
		}
		pos = nl;
	}
	ctx->parts[idx].body_start = body_start;
	enum kind kind = part_kind(ctx, &ctx->parts[idx], digest_child, &digest, &boundary);

	if (hdr_stopped) {
		ctx->parts[idx].body_end = body_start;
		ctx->parts[idx].multipart = kind == KIND_MULTIPART;
		ctx->parts[idx].message_rfc822 = kind == KIND_MESSAGE;
		if (kind == KIND_MESSAGE && !ctx->full) {
			/* an empty encapsulated message */
			(void)part_new(ctx, body_start, idx, depth + 1);
		}
		free(boundary);
		st->raw_end = body_start;
		shrink_empty(ctx, idx, st);
		return;
	}
	if (kind != KIND_LEAF && depth + 1 >= MIME_MAX_DEPTH) {
		ctx->parts[idx].opaque = true;
		kind = KIND_LEAF;
	}
	size_t end = 0;

	if (kind == KIND_MULTIPART) {
		ctx->parts[idx].multipart = true;
		if (boundary != NULL && !ctx->full)
			parse_multipart(ctx, idx, boundary, digest, st);
		else
			scan(ctx, body_start, st);
		/* as below: the last part's lost line end */
		end = st->raw_end;
	} else if (kind == KIND_MESSAGE && !ctx->full) {
		ctx->parts[idx].message_rfc822 = true;
		parse_part(ctx, body_start, idx, depth + 1, false, st);
		/* the line end a child's header lost to a delimiter stays here */
		end = st->raw_end;
	} else {
		scan(ctx, body_start, st);
	}
	free(boundary);
	size_t e = end_before(ctx, st->line, body_start);

	if (e > end)
		end = e;
	/* children end where their parent does (never after it) */
	for (uint32_t c = idx + 1; c < ctx->count; c++) {
		if (ctx->parts[c].body_end > end)
			end = ctx->parts[c].body_end;
	}
	ctx->parts[idx].body_end = end;
	st->raw_end = end;
	shrink_empty(ctx, idx, st);
}
/* Line counts: one sweep over the sorted offsets, so nesting does not
 * multiply the work. */
struct mark {
	uint64_t off;
	uint32_t part;
	uint8_t what; /* 0 header start, 1 body start, 2 body end */
};

static int mark_cmp(const void *a, const void *b)
{
	const struct mark *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static void count_lines(struct mime_message *msg)
{
	uint32_t n = msg->part_count;
	struct mark *m = xmalloc((size_t)n * 3 * sizeof(*m));
	uint64_t *at = xmalloc((size_t)n * 3 * sizeof(*at));

	for (uint32_t i = 0; i < n; i++) {
		m[3 * i] = (struct mark){msg->parts[i].header_start, i, 0};
		m[3 * i + 1] = (struct mark){msg->parts[i].body_start, i, 1};
		m[3 * i + 2] = (struct mark){msg->parts[i].body_end, i, 2};
	}
	qsort(m, (size_t)n * 3, sizeof(*m), mark_cmp);
	uint64_t lines = 0, pos = 0;

	for (size_t k = 0; k < (size_t)n * 3; k++) {
		while (pos < m[k].off) {
			const unsigned char *lf =
			    memchr(msg->data + pos, '\n', (size_t)(m[k].off - pos));

			if (lf == NULL) {
				pos = m[k].off;
				break;
			}
			lines++;
			pos = (uint64_t)(lf - msg->data) + 1;
		}
		at[3 * m[k].part + m[k].what] = lines;
	}
	for (uint32_t i = 0; i < n; i++) {
		msg->parts[i].header_lines = (uint32_t)(at[3 * i + 1] - at[3 * i]);
		msg->parts[i].body_lines = (uint32_t)(at[3 * i + 2] - at[3 * i + 1]);
	}
	free(m);
	free(at);
}

struct mime_message *mime_parse(const void *data, size_t len)
{
	struct parse_ctx ctx;
	struct stop st;
	struct mime_message *msg = xcalloc(1, sizeof(*msg));

	memset(&ctx, 0, sizeof(ctx));
	ctx.data = data;
	ctx.len = len;
	parse_part(&ctx, 0, 0, 0, false, &st);
	ctx.parts[0].body_end = len; /* the epilogue belongs to the message */
	for (unsigned i = 0; i < ctx.nstrs; i++)
		free(ctx.strs[i]);
	free(ctx.strs);
	free(ctx.bnds);
	free(ctx.last_child);
	msg->data = data;
	msg->len = len;
	msg->parts = ctx.parts;
	msg->part_count = ctx.count;
	count_lines(msg);
	return msg;
}

void mime_message_free(struct mime_message **msgp)
{
	struct mime_message *msg = *msgp;

	if (msg == NULL)
		return;
	free(msg->parts);
	free(msg);
	*msgp = NULL;
}
