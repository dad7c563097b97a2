/* RFC 2231 parameter value continuations and charsets. BODYSTRUCTURE shows
 * the merged but undecoded form, as Dovecot does: name*0*, name*1*, name*2
 * become one "name*" (plain segments as they are), plain name*0, name*1 become
 * "name"; with a missing or repeated index they stay as they were. The
 * merged parameters follow the others. */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct seg {
	char *key; /* the name without the star part */
	unsigned idx;
	bool extended;
	char *value;
};

static int seg_cmp(const struct seg *a, const struct seg *b)
{
	int c = strcasecmp(a->key, b->key);

	return c != 0 ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

/* Does name have RFC 2231's form: key*, key*N or key*N*? */
static bool seg_parse(const char *name, struct seg *sg)
{
	const char *star = strchr(name, '*'), *p;

	if (star == NULL)
		return false;
	/* "key*" is extended with index 0 (Dovecot's reading) */
	p = star[1] == '\0' ? star : star + 1;
	sg->idx = 0;
	while (*p >= '0' && *p <= '9' && sg->idx < 100000)
		sg->idx = sg->idx * 10 + (unsigned)(*p++ - '0');
	sg->extended = *p == '*';
	if (sg->extended)
		p++;
	if (*p != '\0')
		return false;
	sg->key = xstrndup(name, (size_t)(star - name));
	return true;
}

void mime_rfc2231_merge(struct mime_ctype *ct)
{
	struct seg *segs = NULL;
	unsigned nseg = 0, nkeep = 0;

	for (unsigned i = 0; i < ct->param_count; i++) {
		struct seg sg;

		if (seg_parse(ct->params[i].name, &sg)) {
			sg.value = ct->params[i].value;
			free(ct->params[i].name);
			/* insertion sort: stable, so repeated indexes keep order */
			segs = xrealloc(segs, (nseg + 1) * sizeof(*segs));
			unsigned j = nseg++;

			while (j > 0 && seg_cmp(&segs[j - 1], &sg) > 0) {
				segs[j] = segs[j - 1];
				j--;
			}
			segs[j] = sg;
		} else {
			ct->params[nkeep++] = ct->params[i];
		}
	}
	ct->param_count = nkeep;
	for (unsigned i = 0, next; i < nseg; i = next) {
		bool ok = true, have_ext = false;
		unsigned want = 0;

		for (next = i; next < nseg && strcasecmp(segs[i].key, segs[next].key) == 0;
		     next++) {
			if (segs[next].idx != want++)
				ok = false;
			if (segs[next].extended)
				have_ext = true;
		}
		ct->params =
		    xrealloc(ct->params, (ct->param_count + next - i) * sizeof(*ct->params));
		if (!ok) {
			for (unsigned j = i; j < next; j++) {
				struct mime_param *pm = &ct->params[ct->param_count++];

				pm->name = xasprintf(segs[j].extended ? "%s*%u*" : "%s*%u",
				                     segs[j].key, segs[j].idx);
				pm->value = segs[j].value;
			}
		} else {
			struct buf v;

			buf_init(&v);
			if (!segs[i].extended && have_ext)
				buf_append(&v, "''", 2);
			for (unsigned j = i; j < next; j++) {
				/* plain segments are not %-escaped (Dovecot) */
				buf_append_str(&v, segs[j].value);
				free(segs[j].value);
			}
			struct mime_param *pm = &ct->params[ct->param_count++];

			pm->name = xasprintf("%s%s", segs[i].key, have_ext ? "*" : "");
			pm->value = xstrndup(v.data ? v.data : "", v.len);
			buf_free(&v);
		}
		for (unsigned j = i; j < next; j++)
			free(segs[j].key);
	}
	free(segs);
}

/* %XX-unescape the value part of charset'lang'value into UTF-8. */
static void decode_ext(const char *v, struct buf *out)
{
	const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
	struct buf raw;

	if (q2 == NULL) {
		buf_append_str(out, v);
		return;
	}
	char *charset = xstrndup(v, (size_t)(q1 - v));

	buf_init(&raw);
	for (const char *p = q2 + 1; *p != '\0'; p++) {
		static const char hex[] = "0123456789abcdef";
		const char *h1, *h2;

		if (*p == '%' && p[1] && p[2] && (h1 = strchr(hex, p[1] | 0x20)) != NULL &&
		    (h2 = strchr(hex, p[2] | 0x20)) != NULL) {
			buf_append_byte(&raw, (char)((h1 - hex) * 16 + (h2 - hex)));
			p += 2;
		} else {
			buf_append_byte(&raw, *p);
		}
	}
	if (charset[0] == '\0')
		buf_append(out, raw.data ? raw.data : "", raw.len);
	else
		(void)mime_charset_to_utf8(charset, raw.data ? raw.data : "", raw.len, out);
	buf_free(&raw);
	free(charset);
}

void mime_param_decode_utf8(const struct mime_ctype *ct, const char *name, struct buf *out)
{
	char *star = xasprintf("%s*", name);
	const char *v = mime_ctype_param(ct, star);

	free(star);
	if (v != NULL) {
		decode_ext(v, out);
		return;
	}
	v = mime_ctype_param(ct, name);
	if (v != NULL)
		mime_rfc2047_decode((const unsigned char *)v, strlen(v), out);
}
