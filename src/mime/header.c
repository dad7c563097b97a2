/* Header fields: iterating over a header block, RFC 822 lexical tokens,
 * Content-Type and Content-Transfer-Encoding. */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void mime_hdr_iter_init(struct mime_hdr_iter *it, const void *hdr, size_t len)
{
	it->p = hdr;
	it->end = it->p + len;
}

static const unsigned char *line_end(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *lf = memchr(p, '\n', (size_t)(end - p));

	return lf == NULL ? end : lf + 1;
}

static bool is_empty_line(const unsigned char *p, const unsigned char *end)
{
	return (p < end && *p == '\n') || (end - p >= 2 && p[0] == '\r' && p[1] == '\n');
}

bool mime_hdr_next(struct mime_hdr_iter *it, struct mime_hdr_field *f)
{
	const unsigned char *p = it->p, *e, *colon, *last;

	if (p >= it->end || is_empty_line(p, it->end))
		return false;
	f->start = p;
	e = line_end(p, it->end);
	/* continuation lines (RFC 5322 2.2.3) */
	while (e < it->end && (*e == ' ' || *e == '\t'))
		e = line_end(e, it->end);
	f->end = e;
	it->p = e;
	last = e;
	if (last > p && last[-1] == '\n')
		last--;
	if (last > p && last[-1] == '\r')
		last--;
	const unsigned char *first_eol = line_end(p, e);
	colon = memchr(p, ':', (size_t)(first_eol - p));
	f->has_colon = colon != NULL;
	if (colon == NULL) {
		f->name = p;
		f->name_len = (size_t)(last - p);
		f->value = last;
		f->value_len = 0;
		return true;
	}
	f->name = p;
	f->name_len = (size_t)(colon - p);
	/* "Subject : x": whitespace before the colon is not part of the name */
	while (f->name_len > 0 && (p[f->name_len - 1] == ' ' || p[f->name_len - 1] == '\t'))
		f->name_len--;
	f->value = colon + 1;
	f->value_len = (size_t)(last - f->value);
	return true;
}

bool mime_hdr_name_is(const struct mime_hdr_field *f, const char *name)
{
	size_t n = strlen(name);

	return f->has_colon && f->name_len == n && strncasecmp((const char *)f->name, name, n) == 0;
}

const unsigned char *mime_header_get(const void *hdr, size_t len, const char *name,
                                     size_t *value_len_r)
{
	struct mime_hdr_iter it;
	struct mime_hdr_field f;

	mime_hdr_iter_init(&it, hdr, len);
	while (mime_hdr_next(&it, &f)) {
		if (mime_hdr_name_is(&f, name)) {
			*value_len_r = f.value_len;
			return f.value;
		}
	}
	*value_len_r = 0;
	return NULL;
}

void mime_unfold(const unsigned char *value, size_t len, struct buf *out)
{
	if (len > MIME_MAX_FIELD_VALUE)
		len = MIME_MAX_FIELD_VALUE;
	for (size_t i = 0; i < len; i++) {
		if (value[i] == '\r' && i + 1 < len && value[i + 1] == '\n')
			continue;
		if (value[i] == '\n')
			continue;
		buf_append_byte(out, (char)value[i]);
	}
}

/* ---- lexical scanning ---- */

void mime_lex_init(struct mime_lex *lx, const void *data, size_t len)
{
	lx->p = data;
	lx->end = lx->p + len;
}

void mime_lex_skip_cfws(struct mime_lex *lx)
{
	while (lx->p < lx->end) {
		unsigned char c = *lx->p;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			lx->p++;
		} else if (c == '(') {
			/* comments nest (RFC 5322 3.2.2) */
			unsigned depth = 0;

			while (lx->p < lx->end) {
				c = *lx->p++;
				if (c == '\\' && lx->p < lx->end)
					lx->p++;
				else if (c == '(')
					depth++;
				else if (c == ')' && --depth == 0)
					break;
			}
		} else {
			break;
		}
	}
}

static bool is_tspecial(unsigned char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL && c != '\0';
}

bool mime_lex_token(struct mime_lex *lx, struct buf *out)
{
	const unsigned char *s = lx->p;

	while (lx->p<lx->end && * lx->p> ' ' && *lx->p != 0x7f && !is_tspecial(*lx->p))
		lx->p++;
	if (lx->p == s)
		return false;
	buf_append(out, s, (size_t)(lx->p - s));
	return true;
}

int mime_lex_quoted(struct mime_lex *lx, struct buf *out)
{
	lx->p++; /* the opening quote */
	while (lx->p < lx->end) {
		unsigned char c = *lx->p++;

		if (c == '"')
			return 0;
		if (c == '\\' && lx->p < lx->end)
			c = *lx->p++;
		else if (c == '\r' || c == '\n')
			continue;
		buf_append_byte(out, (char)c);
	}
	return -1;
}

/* ---- Content-Type and parameters ---- */

static void param_add(struct mime_ctype *ct, const char *name, size_t name_len, const char *value,
                      size_t value_len)
{
	if (ct->param_count >= MIME_MAX_PARAMS)
		return;
	ct->params = xrealloc(ct->params, (ct->param_count + 1) * sizeof(*ct->params));
	ct->params[ct->param_count].name = xstrndup(name, name_len);
	ct->params[ct->param_count].value = xstrndup(value, value_len);
	ct->param_count++;
}

void mime_params_parse(struct mime_lex *lx, struct mime_ctype *ct)
{
	struct buf name, value;

	buf_init(&name);
	buf_init(&value);
	for (;;) {
		mime_lex_skip_cfws(lx);
		if (lx->p >= lx->end)
			break;
		if (*lx->p != ';') {
			/* garbage between parameters: skip to the next ';' */
			const unsigned char *semi = memchr(lx->p, ';', (size_t)(lx->end - lx->p));

			if (semi == NULL)
				break;
			lx->p = semi;
		}
		lx->p++;
		mime_lex_skip_cfws(lx);
		buf_reset(&name);
		buf_reset(&value);
		(void)mime_lex_token(lx, &name); /* may be empty: "=value" */
		mime_lex_skip_cfws(lx);
		if (lx->p >= lx->end || *lx->p != '=')
			continue; /* "; charset;": no value, dropped */
		lx->p++;
		mime_lex_skip_cfws(lx);
		if (lx->p < lx->end && *lx->p == '"') {
			if (mime_lex_quoted(lx, &value) < 0)
				break; /* unterminated: dropped */
		} else if (!mime_lex_token(lx, &value)) {
			continue; /* "name=": dropped */
		}
		param_add(ct, name.len ? name.data : "", name.len, value.len ? value.data : "",
		          value.len);
	}
	buf_free(&name);
	buf_free(&value);
	mime_rfc2231_merge(ct);
}

void mime_ctype_parse(const unsigned char *value, size_t len, struct mime_ctype *ct)
{
	struct mime_lex lx;
	struct buf type, sub;

	memset(ct, 0, sizeof(*ct));
	buf_init(&type);
	buf_init(&sub);
	mime_lex_init(&lx, value, len);
	mime_lex_skip_cfws(&lx);
	if (!mime_lex_token(&lx, &type))
		goto broken;
	mime_lex_skip_cfws(&lx);
	if (lx.p < lx.end && *lx.p == '/') {
		lx.p++;
		mime_lex_skip_cfws(&lx);
		if (!mime_lex_token(&lx, &sub))
			goto broken;
		mime_lex_skip_cfws(&lx);
		/* "application/pdf name=x": broken */
		if (lx.p < lx.end && *lx.p != ';')
			goto broken;
	} else if (lx.p < lx.end) {
		/* "text" alone is "text" "", but "text; charset=x" is broken */
		goto broken;
	}
	ct->type = xstrdup(type.data);
	ct->subtype = xstrdup(sub.len ? sub.data : "");
	buf_free(&type);
	buf_free(&sub);
	mime_params_parse(&lx, ct);
	return;
broken:
	buf_free(&type);
	buf_free(&sub);
	ct->type = xstrdup("");
	ct->subtype = xstrdup("");
}

void mime_ctype_free(struct mime_ctype *ct)
{
	for (unsigned i = 0; i < ct->param_count; i++) {
		free(ct->params[i].name);
		free(ct->params[i].value);
	}
	free(ct->params);
	free(ct->type);
	free(ct->subtype);
	memset(ct, 0, sizeof(*ct));
}

const char *mime_ctype_param(const struct mime_ctype *ct, const char *name)
{
	for (unsigned i = 0; i < ct->param_count; i++) {
		if (strcasecmp(ct->params[i].name, name) == 0)
			return ct->params[i].value;
	}
	return NULL;
}

enum mime_cte mime_cte_parse(const unsigned char *value, size_t len)
{
	static const struct {
		const char *name;
		enum mime_cte cte;
	} names[] = {
	    {"7bit", MIME_CTE_7BIT},           {"8bit", MIME_CTE_8BIT},
	    {"binary", MIME_CTE_BINARY},       {"base64", MIME_CTE_BASE64},
	    {"quoted-printable", MIME_CTE_QP},
	};
	struct mime_lex lx;
	struct buf tok;
	enum mime_cte cte = MIME_CTE_UNKNOWN;

	buf_init(&tok);
	mime_lex_init(&lx, value, len);
	mime_lex_skip_cfws(&lx);
	if (mime_lex_token(&lx, &tok)) {
		for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
			if (strcasecmp(tok.data, names[i].name) == 0)
				cte = names[i].cte;
		}
	}
	buf_free(&tok);
	return cte;
}
