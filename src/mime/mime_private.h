/* Private to mime/: the helpers the files of this folder share. */
#ifndef ROOST_MIME_PRIVATE_H
#define ROOST_MIME_PRIVATE_H

#include "mime/mime.h"

/* Cap on a single header field's value we unfold/copy for parsing; longer
 * values are cut (the bytes stay in the message; only our reading stops). */
#define MIME_MAX_FIELD_VALUE (256 * 1024)
/* Most parameters we keep of one Content-Type / Content-Disposition. */
#define MIME_MAX_PARAMS 100
/* Most addresses we read from one header. */
#define MIME_MAX_ADDRESSES 10000

/* ---- header.c: header fields ---- */

struct mime_hdr_iter {
	const unsigned char *p, *end;
};

struct mime_hdr_field {
	const unsigned char *name; /* trimmed of whitespace before the colon */
	size_t name_len;
	const unsigned char *value; /* after the colon, folded, no final CRLF */
	size_t value_len;
	const unsigned char *start; /* the field's first byte */
	const unsigned char *end;   /* past its last line's line end */
	bool has_colon;
};

void mime_hdr_iter_init(struct mime_hdr_iter *it, const void *hdr, size_t len);
/* The next field; false at the empty line that ends the header or at the
 * end of the block. */
bool mime_hdr_next(struct mime_hdr_iter *it, struct mime_hdr_field *f);
bool mime_hdr_name_is(const struct mime_hdr_field *f, const char *name);

/* RFC 822 lexical scanning of a header value. */
struct mime_lex {
	const unsigned char *p, *end;
};
void mime_lex_init(struct mime_lex *lx, const void *data, size_t len);
void mime_lex_skip_cfws(struct mime_lex *lx);
/* A MIME token (RFC 2045 5.1); false if none here. */
bool mime_lex_token(struct mime_lex *lx, struct buf *out);
/* A quoted string at lx->p ('"' expected): the contents unescaped and
 * unfolded; -1 if it is not terminated (lx moves to the end). */
int mime_lex_quoted(struct mime_lex *lx, struct buf *out);

struct mime_param {
	char *name;
	char *value;
};

struct mime_ctype {
	char *type, *subtype; /* NULL if there is no Content-Type field */
	struct mime_param *params;
	unsigned param_count;
};

/* Parse a Content-Type value the Dovecot way: a broken type gives "" "" and
 * no parameters; "text" alone gives "text" "". Parameters keep their order
 * and duplicates; RFC 2231 continuations are merged (not decoded). */
void mime_ctype_parse(const unsigned char *value, size_t len, struct mime_ctype *ct);
/* Content-Disposition: the value token and parameters, same rules. */
void mime_params_parse(struct mime_lex *lx, struct mime_ctype *ct);
void mime_ctype_free(struct mime_ctype *ct);
const char *mime_ctype_param(const struct mime_ctype *ct, const char *name);
enum mime_cte mime_cte_parse(const unsigned char *value, size_t len);
/* Unfold a header value: drop CRLFs of folding (RFC 5322 2.2.3). */
void mime_unfold(const unsigned char *value, size_t len, struct buf *out);

/* ---- rfc2231.c ---- */

/* Merge name*0, name*1, ... (and name*0*, ...) into one parameter, in
 * place, the way Dovecot reports them in BODYSTRUCTURE. */
void mime_rfc2231_merge(struct mime_ctype *ct);
/* Decode a parameter value for display/search: RFC 2231 charset'lang'%XX
 * (for name*), else RFC 2047 words; to UTF-8. */
void mime_param_decode_utf8(const struct mime_ctype *ct, const char *name, struct buf *out);

/* ---- write.c: IMAP strings ---- */

/* Write s as an IMAP string: quoted if it is 7-bit text without CR/LF,
 * otherwise a literal {n}. NIL for NULL. */
void mime_write_nstring(struct buf *out, const void *s, size_t len, bool is_nil);
void mime_write_str(struct buf *out, const char *s);
void mime_write_nstr(struct buf *out, const char *s);

/* ---- address.c ---- */

struct mime_address {
	char *name;    /* display name as written (unquoted); NULL = NIL */
	char *route;   /* source route "@a,@b"; NULL = NIL */
	char *mailbox; /* local part; NULL = NIL; group start/end markers too */
	char *domain;  /* NULL = NIL (group start has mailbox = group name) */
};

struct mime_address_list {
	struct mime_address *addrs;
	size_t count, cap;
};

/* Parse an RFC 5322 address-list (groups, obsolete forms, broken input)
 * into IMAP's flat form: a group is a start marker (NIL NIL name NIL), its
 * members, and an end marker (NIL NIL NIL NIL). Appends to list. */
void mime_address_parse(const unsigned char *value, size_t len, struct mime_address_list *list);
void mime_address_list_free(struct mime_address_list *list);
/* ENVELOPE form: ((name adl mailbox host) ...), or NIL if empty. */
void mime_address_write(const struct mime_address_list *list, struct buf *out);

/* ---- envelope.c ---- */

/* A header value as Dovecot sends it in ENVELOPE and BODYSTRUCTURE: leading
 * white space dropped, each line end and the white space after it one space. */
void mime_value_normalize(const unsigned char *v, size_t len, struct buf *out);
/* ENVELOPE of the header block [hdr, hdr+len). */
void mime_envelope_write(const unsigned char *hdr, size_t len, struct buf *out);

/* ---- rfc2047.c ---- */

/* Decode encoded words in text (already unfolded) to UTF-8, joining
 * adjacent words; other bytes are copied. */
void mime_rfc2047_decode(const unsigned char *s, size_t len, struct buf *out);

/* ---- decode.c ---- */

void mime_base64_decode(const unsigned char *s, size_t len, struct buf *out);
/* Quoted-printable body (RFC 2045 6.7); header 'Q' is rfc2047.c's. */
void mime_qp_decode(const unsigned char *s, size_t len, struct buf *out);

/* ---- parse helpers ---- */
static inline const unsigned char *mime_part_header(const unsigned char *data,
                                                    const struct mime_part *p, size_t *len_r)
{
	*len_r = (size_t)(p->body_start - p->header_start);
	return data + p->header_start;
}

#endif
