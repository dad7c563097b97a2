/*
 * Reading mbox files for roost import, one message at a time (a file can be
 * far bigger than memory). A line starting with "From " opens a message
 * when it is the file's first line or follows an empty line; that empty
 * line is the separator, not part of the message before it. Escaping is
 * undone as mboxrd does it (one '>' off every ">...>From " line), which
 * also undoes mboxo's escaping of plain "From " lines.
 */
#include "mailsrc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MBOX_FLUSH_SIZE (64 * 1024)

struct mbox_reader {
	FILE *fp;
	char *line;
	size_t line_cap;
	/* the From_ line that opens the next message; "" for a file that does
	 * not start with one; NULL at the end */
	char *from_line;
};

int mbox_open(const char *path, struct mbox_reader **reader_r)
{
	struct mbox_reader *r;
	FILE *fp = fopen(path, "r");
	ssize_t len;

	*reader_r = NULL;
	if (fp == NULL)
		return -1;
	r = xcalloc(1, sizeof(*r));
	r->fp = fp;
	len = getline(&r->line, &r->line_cap, fp);
	if (len > 0 && strncmp(r->line, "From ", 5) == 0) {
		r->from_line = xstrdup(r->line);
	} else if (len > 0) {
		r->from_line = xstrdup("");
		rewind(fp);
	} else if (ferror(fp)) {
		mbox_close(&r);
		return -1;
	}
	*reader_r = r;
	return 0;
}

void mbox_close(struct mbox_reader **rp)
{
	struct mbox_reader *r = *rp;

	if (r == NULL)
		return;
	*rp = NULL;
	fclose(r->fp);
	free(r->line);
	free(r->from_line);
	free(r);
}

/* "From sender Sun Nov 22 10:00:00 2026": the sender may be missing or odd,
 * so try the date at every word. asctime has no zone: taken as UTC, as
 * Dovecot does. */
static time_t from_line_date(const char *line)
{
	for (const char *p = strchr(line, ' '); p != NULL; p = strchr(p + 1, ' ')) {
		struct tm tm;
		const char *end;

		memset(&tm, 0, sizeof(tm));
		end = strptime(p + 1, "%a %b %d %H:%M:%S %Y", &tm);
		if (end != NULL && (*end == '\0' || *end == '\n' || *end == '\r' || *end == ' '))
			return timegm(&tm);
	}
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

struct mbox_out {
	int fd;
	struct buf b;
	EVP_MD_CTX *md;
	uint64_t size;
};

static int out_add(struct mbox_out *o, const char *data, size_t len)
{
	buf_append(&o->b, data, len);
	EVP_DigestUpdate(o->md, data, len);
	o->size += len;
	if (o->b.len < MBOX_FLUSH_SIZE)
		return 0;
	if (write_all(o->fd, o->b.data, o->b.len) < 0)
		return -1;
	buf_reset(&o->b);
	return 0;
}

static bool line_is_blank(const char *line, size_t len)
{
	return (len == 1 && line[0] == '\n') || (len == 2 && line[0] == '\r' && line[1] == '\n');
}

int mbox_next(struct mbox_reader *r, int out_fd, uint64_t *size_r, time_t *date_r,
              unsigned char digest_r[32])
{
	struct mbox_out o = {.fd = out_fd};
	char pending[2]; /* the held-back empty line: maybe a separator */
	size_t pending_len = 0;
	unsigned md_len = 0;
	ssize_t len;
	int ret = -1;

	if (r->from_line == NULL)
		return 0;
	*date_r = from_line_date(r->from_line);
	free(r->from_line);
	r->from_line = NULL;
	buf_init(&o.b);
	o.md = EVP_MD_CTX_new();
	if (o.md == NULL || EVP_DigestInit_ex(o.md, EVP_sha256(), NULL) != 1)
		fatal("EVP sha256 unavailable");
	while ((len = getline(&r->line, &r->line_cap, r->fp)) > 0) {
		const char *line = r->line;
		size_t n = (size_t)len, gt = 0;

		if (pending_len > 0 && strncmp(line, "From ", 5) == 0) {
			r->from_line = xstrdup(line);
			pending_len = 0;
			break;
		}
		if (pending_len > 0 && out_add(&o, pending, pending_len) < 0)
			goto out;
		pending_len = 0;
		if (line_is_blank(line, n)) {
			memcpy(pending, line, n);
			pending_len = n;
			continue;
		}
		while (gt < n && line[gt] == '>')
			gt++;
		if (gt > 0 && n - gt >= 5 && memcmp(line + gt, "From ", 5) == 0) {
			line++;
			n--;
		}
		if (out_add(&o, line, n) < 0)
			goto out;
	}
	if (len < 0 && ferror(r->fp))
		goto out;
	/* the empty line before the end of the file is a separator too */
	if (o.b.len > 0 && write_all(out_fd, o.b.data, o.b.len) < 0)
		goto out;
	if (EVP_DigestFinal_ex(o.md, digest_r, &md_len) != 1 || md_len != 32)
		goto out;
	*size_r = o.size;
	ret = 1;
out:
	buf_free(&o.b);
	EVP_MD_CTX_free(o.md);
	return ret;
}
