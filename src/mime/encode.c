/* The part table as store/ keeps it: a version byte, the part count, then
 * per part varints (RFC-free, our own format). first_child/next_sibling
 * are rebuilt from the parents on decode, and every field is checked, so a
 * corrupt table is refused rather than trusted. */
#include "mime/mime_private.h"

#include <stdlib.h>
#include <string.h>

#define MIME_PARTS_VERSION 1

static void put(struct buf *out, uint64_t v)
{
	while (v >= 0x80) {
		buf_append_byte(out, (char)(0x80 | (v & 0x7f)));
		v >>= 7;
	}
	buf_append_byte(out, (char)v);
}

static int get(const unsigned char **p, const unsigned char *end, uint64_t *v_r)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (*p >= end)
			return -1;
		unsigned char c = *(*p)++;

		v |= (uint64_t)(c & 0x7f) << shift;
		if ((c & 0x80) == 0) {
			*v_r = v;
			return 0;
		}
	}
	return -1;
}

void mime_parts_encode(const struct mime_message *msg, struct buf *out)
{
	buf_append_byte(out, MIME_PARTS_VERSION);
	put(out, msg->part_count);
	for (uint32_t i = 0; i < msg->part_count; i++) {
		const struct mime_part *p = &msg->parts[i];
		unsigned flags = (p->multipart ? 1u : 0) | (p->message_rfc822 ? 2u : 0) |
		                 (p->opaque ? 4u : 0) | ((unsigned)p->cte << 3);

		put(out, p->header_start);
		put(out, p->body_start - p->header_start);
		put(out, p->body_end - p->body_start);
		put(out, p->header_lines);
		put(out, p->body_lines);
		put(out, i == 0 ? 0 : i - p->parent);
		put(out, flags);
	}
}

int mime_parts_decode(const void *data, size_t len, struct mime_part **parts_r, uint32_t *count_r)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t count, v[7];
	struct mime_part *parts;
	uint32_t *last_child;

	*parts_r = NULL;
	*count_r = 0;
	if (len < 2 || p[0] != MIME_PARTS_VERSION)
		return -1;
	p++;
	if (get(&p, end, &count) < 0 || count == 0 || count > MIME_MAX_PARTS ||
	    count > (uint64_t)(end - p) / 7)
		return -1;
	parts = xcalloc((size_t)count, sizeof(*parts));
	last_child = xcalloc((size_t)count, sizeof(*last_child));
	for (uint32_t i = 0; i < count; i++) {
		struct mime_part *pt = &parts[i];

		for (int k = 0; k < 7; k++) {
			if (get(&p, end, &v[k]) < 0)
				goto fail;
		}
		if (v[1] > UINT64_MAX - v[0] || v[2] > UINT64_MAX - v[0] - v[1] ||
		    v[3] > UINT32_MAX || v[4] > UINT32_MAX || v[5] > i || (i > 0 && v[5] == 0) ||
		    (v[6] >> 3) > MIME_CTE_UNKNOWN)
			goto fail;
		pt->header_start = v[0];
		pt->body_start = v[0] + v[1];
		pt->body_end = pt->body_start + v[2];
		pt->header_lines = (uint32_t)v[3];
		pt->body_lines = (uint32_t)v[4];
		pt->parent = i - (uint32_t)v[5];
		pt->multipart = (v[6] & 1) != 0;
		pt->message_rfc822 = (v[6] & 2) != 0;
		pt->opaque = (v[6] & 4) != 0;
		pt->cte = (enum mime_cte)(v[6] >> 3);
		if (i > 0) {
			struct mime_part *par = &parts[pt->parent];

			if (!par->multipart && !par->message_rfc822)
				goto fail;
			pt->depth = (uint16_t)(par->depth + 1);
			if (last_child[pt->parent] == 0)
				par->first_child = i;
			else
				parts[last_child[pt->parent]].next_sibling = i;
			last_child[pt->parent] = i;
		}
	}
	if (p != end)
		goto fail;
	free(last_child);
	*parts_r = parts;
	*count_r = (uint32_t)count;
	return 0;
fail:
	free(last_child);
	free(parts);
	return -1;
}
