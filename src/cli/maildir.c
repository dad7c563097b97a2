/*
 * Reading Maildir++ folders for roost import, and the name and flag
 * conversions roost export shares: mailsrc.h says what the formats are.
 */
#include "mailsrc.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names ---- */

/* NULL when the input does not convert. */
static char *iconv_string(const char *to, const char *from, const char *in)
{
	iconv_t cd = iconv_open(to, from);
	size_t in_left = strlen(in), cap = in_left * 4 + 16, out_left = cap;
	char *out, *op, *ip = (char *)in;
	size_t r;

	if (cd == (iconv_t)-1)
		return NULL;
	out = xmalloc(cap + 1);
	op = out;
	r = iconv(cd, &ip, &in_left, &op, &out_left);
	if (r != (size_t)-1)
		r = iconv(cd, NULL, NULL, &op, &out_left);
	iconv_close(cd);
	if (r == (size_t)-1 || memchr(out, '\0', (size_t)(op - out)) != NULL) {
		free(out);
		return NULL;
	}
	*op = '\0';
	return out;
}

char *maildir_folder_to_mailbox(const char *dirname)
{
	const char *raw = dirname[0] == '.' ? dirname + 1 : dirname;
	/* '.' is not in modified UTF-7's base64 alphabet, so the whole name
	 * decodes at once and the separators come through unchanged */
	char *name = iconv_string("UTF-8", "UTF-7-IMAP", raw);

	if (name == NULL)
		name = xstrdup(raw);
	for (char *p = name; *p != '\0'; p++) {
		if (*p == '.')
			*p = STORE_HIERARCHY_SEP;
	}
	return name;
}

char *maildir_mailbox_to_folder(const char *name)
{
	char *mapped, *encoded, *folder;

	if (strcmp(name, "INBOX") == 0)
		return xstrdup("");
	if (strchr(name, '.') != NULL)
		return NULL;
	mapped = xstrdup(name);
	for (char *p = mapped; *p != '\0'; p++) {
		if (*p == STORE_HIERARCHY_SEP)
			*p = '.';
	}
	encoded = iconv_string("UTF-7-IMAP", "UTF-8", mapped);
	free(mapped);
	if (encoded == NULL)
		return NULL;
	folder = xasprintf(".%s", encoded);
	free(encoded);
	return folder;
}

/* ---- flags ---- */

static const struct {
	char letter;
	unsigned flag;
} flag_letters[] = {
    {'D', STORE_FLAG_DRAFT}, {'F', STORE_FLAG_FLAGGED}, {'R', STORE_FLAG_ANSWERED},
    {'S', STORE_FLAG_SEEN},  {'T', STORE_FLAG_DELETED},
};

void maildir_flags_format(unsigned flags, const char *kw_letters, size_t kw_count, struct buf *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(flag_letters); i++) {
		if ((flags & flag_letters[i].flag) != 0)
			buf_append_byte(out, flag_letters[i].letter);
	}
	for (char c = 'a'; c <= 'z'; c++) {
		for (size_t i = 0; i < kw_count; i++) {
			if (kw_letters[i] == c) {
				buf_append_byte(out, c);
				break;
			}
		}
	}
}

/* "<base>:2,<letters>": flags and keywords; messages in new/ have none. */
static void msg_parse_info(struct maildir_msg *msg, const char *info,
                           char *const keyword_names[MAILDIR_KEYWORDS_MAX])
{
	if (strncmp(info, "2,", 2) != 0)
		return;
	for (const char *p = info + 2; *p != '\0'; p++) {
		for (size_t i = 0; i < ARRAY_SIZE(flag_letters); i++) {
			if (*p == flag_letters[i].letter)
				msg->flags |= flag_letters[i].flag;
		}
		if (*p >= 'a' && *p <= 'z' && keyword_names[*p - 'a'] != NULL)
			msg->keywords |= 1u << (*p - 'a');
	}
}

/* ---- dovecot-keywords: lines "<0-25> <keyword>" ---- */

static void keywords_read(struct maildir_folder *f)
{
	char *path = xasprintf("%s/%s", f->dir, MAILDIR_KEYWORDS_FILE);
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	free(path);
	if (fp == NULL)
		return;
	while ((len = getline(&line, &cap, fp)) > 0) {
		char *end;
		unsigned long idx;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		idx = strtoul(line, &end, 10);
		if (end == line || *end != ' ' || end[1] == '\0' || idx >= MAILDIR_KEYWORDS_MAX)
			continue;
		free(f->keyword_names[idx]);
		f->keyword_names[idx] = xstrdup(end + 1);
	}
	free(line);
	fclose(fp);
}

/* ---- dovecot-uidlist / courierimapuiddb ---- */

struct uid_entry {
	char *base;
	uint32_t uid;
};

static int parse_u32(const char *s, const char **end_r, uint32_t *v_r)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || v > UINT32_MAX)
		return -1;
	*end_r = end;
	*v_r = (uint32_t)v;
	return 0;
}

/* Version 3: "3 V<uidvalidity> N<uidnext> G<guid> ..." (fields in any
 * order); version 1 (and Courier): "1 <uidvalidity> <uidnext>". */
static int uidlist_header(const char *line, int *version_r, uint32_t *uidvalidity_r,
                          uint32_t *uidnext_r)
{
	const char *p;

	*uidvalidity_r = *uidnext_r = 0;
	if (strncmp(line, "1 ", 2) == 0) {
		*version_r = 1;
		if (parse_u32(line + 2, &p, uidvalidity_r) < 0 || *p != ' ' ||
		    parse_u32(p + 1, &p, uidnext_r) < 0)
			return -1;
		return *uidvalidity_r != 0 ? 0 : -1;
	}
	if (strncmp(line, "3 ", 2) != 0)
		return -1;
	*version_r = 3;
	for (p = line + 2; *p != '\0';) {
		const char *end = p;
		if (*p == 'V' && parse_u32(p + 1, &end, uidvalidity_r) < 0)
			return -1;
		if (*p == 'N' && parse_u32(p + 1, &end, uidnext_r) < 0)
			return -1;
		end = strchr(end, ' ');
		if (end == NULL)
			break;
		p = end + 1;
	}
	return *uidvalidity_r != 0 ? 0 : -1;
}

/* Version 3: "<uid> [<ext fields>] :<base>"; version 1: "<uid> <base>". */
static int uidlist_line(const char *line, int version, struct uid_entry *e)
{
	const char *p, *base;
	uint32_t uid;

	if (parse_u32(line, &p, &uid) < 0 || uid == 0 || uid > 0xfffffffeu || *p != ' ')
		return -1;
	if (version == 3) {
		base = strstr(p, " :");
		if (base == NULL)
			return -1;
		base += 2;
	} else {
		base = p + 1;
	}
	if (*base == '\0' || strchr(base, '/') != NULL || *base == '.')
		return -1;
	e->uid = uid;
	e->base = xstrndup(base, strcspn(base, ":"));
	return 0;
}

static int uid_entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct uid_entry *)a)->base, ((const struct uid_entry *)b)->base);
}

/* Entries sorted by base; *count_r 0 when there is no usable list. */
static struct uid_entry *uidlist_read(struct maildir_folder *f, const char *prog, size_t *count_r)
{
	static const char *const names[] = {MAILDIR_UIDLIST, MAILDIR_COURIER_UIDDB};
	struct uid_entry *entries = NULL;
	size_t count = 0, cap = 0;
	char *line = NULL, *path = NULL;
	size_t line_cap = 0;
	unsigned lineno = 1;
	ssize_t len;
	int version;
	FILE *fp = NULL;

	*count_r = 0;
	for (size_t i = 0; i < ARRAY_SIZE(names) && fp == NULL; i++) {
		free(path);
		path = xasprintf("%s/%s", f->dir, names[i]);
		fp = fopen(path, "r");
		if (fp != NULL)
			f->uidlist_name = names[i];
	}
	if (fp == NULL) {
		free(path);
		return NULL;
	}
	len = getline(&line, &line_cap, fp);
	if (len > 0 && line[len - 1] == '\n')
		line[--len] = '\0';
	if (len <= 0 || uidlist_header(line, &version, &f->uidvalidity, &f->uidnext) < 0) {
		fprintf(stderr, "%s: %s: header not understood; its messages get new UIDs\n", prog,
		        path);
		f->uidvalidity = f->uidnext = 0;
		goto out;
	}
	while ((len = getline(&line, &line_cap, fp)) > 0) {
		struct uid_entry e;
		lineno++;
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if (uidlist_line(line, version, &e) < 0) {
			if (f->bad_uidlist_lines++ < 10)
				fprintf(stderr, "%s: %s line %u: not understood, skipped\n", prog,
				        path, lineno);
			continue;
		}
		if (count == cap) {
			cap = cap == 0 ? 256 : cap * 2;
			entries = xrealloc(entries, cap * sizeof(*entries));
		}
		entries[count++] = e;
	}
	if (count > 0)
		qsort(entries, count, sizeof(*entries), uid_entry_cmp);
	*count_r = count;
out:
	free(line);
	free(path);
	fclose(fp);
	return entries;
}

/* ---- the folder ---- */

static int msg_cmp(const void *a, const void *b)
{
	const struct maildir_msg *x = a, *y = b;
	uint64_t kx = x->uid != 0 ? x->uid : UINT64_MAX, ky = y->uid != 0 ? y->uid : UINT64_MAX;

	if (kx != ky)
		return kx < ky ? -1 : 1;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->base, y->base);
}

static int scan_subdir(struct maildir_folder *f, const char *sub, size_t *cap, char **error_r)
{
	char *dir = xasprintf("%s/%s", f->dir, sub);
	DIR *d = opendir(dir);
	struct dirent *de;

	if (d == NULL) {
		int e = errno;
		free(dir);
		if (e == ENOENT)
			return 0;
		*error_r = xasprintf("%s/%s: %s", f->dir, sub, strerror(e));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		struct maildir_msg *m;
		struct stat st;
		char *path, *colon;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (f->count == *cap) {
			*cap = *cap == 0 ? 256 : *cap * 2;
			f->msgs = xrealloc(f->msgs, *cap * sizeof(*f->msgs));
		}
		m = &f->msgs[f->count++];
		memset(m, 0, sizeof(*m));
		m->path = path;
		m->mtime = st.st_mtime;
		m->size = (uint64_t)st.st_size;
		colon = strchr(de->d_name, ':');
		m->base = colon != NULL ? xstrndup(de->d_name, (size_t)(colon - de->d_name))
		                        : xstrdup(de->d_name);
		if (colon != NULL && strcmp(sub, "cur") == 0)
			msg_parse_info(m, colon + 1, f->keyword_names);
	}
	closedir(d);
	free(dir);
	return 0;
}

int maildir_folder_read(const char *dir, const char *prog, struct maildir_folder *f, char **error_r)
{
	struct uid_entry *uids;
	size_t uid_count, cap = 0;

	memset(f, 0, sizeof(*f));
	f->dir = xstrdup(dir);
	keywords_read(f);
	if (scan_subdir(f, "cur", &cap, error_r) < 0 || scan_subdir(f, "new", &cap, error_r) < 0) {
		maildir_folder_free(f);
		return -1;
	}
	uids = uidlist_read(f, prog, &uid_count);
	for (size_t i = 0; i < f->count && uid_count > 0; i++) {
		struct uid_entry key = {.base = f->msgs[i].base}, *e;
		e = bsearch(&key, uids, uid_count, sizeof(*uids), uid_entry_cmp);
		if (e != NULL)
			f->msgs[i].uid = e->uid;
	}
	for (size_t i = 0; i < uid_count; i++)
		free(uids[i].base);
	free(uids);
	if (f->count > 0)
		qsort(f->msgs, f->count, sizeof(*f->msgs), msg_cmp);
	return 0;
}

void maildir_folder_free(struct maildir_folder *f)
{
	for (size_t i = 0; i < f->count; i++) {
		free(f->msgs[i].path);
		free(f->msgs[i].base);
	}
	free(f->msgs);
	for (size_t i = 0; i < MAILDIR_KEYWORDS_MAX; i++)
		free(f->keyword_names[i]);
	free(f->dir);
	memset(f, 0, sizeof(*f));
}

int mailsrc_file_digest(int fd, unsigned char digest_r[32])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char chunk[65536];
	uint64_t off = 0;
	unsigned md_len = 0;
	int ret = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatal("EVP sha256 unavailable");
	for (;;) {
		ssize_t n = pread(fd, chunk, sizeof(chunk), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		EVP_DigestUpdate(md, chunk, (size_t)n);
		off += (uint64_t)n;
	}
	if (EVP_DigestFinal_ex(md, digest_r, &md_len) == 1 && md_len == 32)
		ret = 0;
out:
	EVP_MD_CTX_free(md);
	return ret;
}
