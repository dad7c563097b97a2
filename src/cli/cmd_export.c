/*
 * roost export -u USER --maildir DIR [--force]
 *
 * Writes a user's mail as Maildir++ that Dovecot (and roost import) read
 * back with the same UIDs: INBOX in DIR/{cur,new,tmp}, "Foo/Bar" in
 * DIR/.Foo.Bar/ (modified UTF-7), each message as
 * cur/<internaldate>.R<uid>.roost:2,<flags> with INTERNALDATE as its mtime,
 * and per folder a dovecot-uidlist (version 3: UIDVALIDITY, UIDNEXT and each
 * file's UID) and dovecot-keywords (the letters a-z). A message that came in
 * with LF line ends goes out with LF line ends, so import then export gives
 * back every message byte for byte.
 *
 * A non-empty DIR is refused unless --force. Exit codes (sysexits.h): 0
 * done, 64 usage, 67 no such user, 73 DIR cannot be made or is not empty,
 * 65 some mailboxes or messages cannot be written as Maildir++ (a '.' in a
 * name, more than 26 keywords in a folder), 74 write errors, 75 the store
 * failed.
 */
#include "cli.h"
#include "mailsrc.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#define EXPORT_CHUNK (64 * 1024)

static const char prog[] = "roost export";

struct export_ctx {
	struct store_account *acct;
	const char *root;
	bool tty;
	uint64_t messages;
	unsigned mailboxes, problems;
};

/* The keywords used in a folder, sorted; the first 26 get letters. */
struct kw_table {
	char **names;
	size_t count;
};

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void kw_table_build(struct kw_table *t, const struct store_message_list *list)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < list->count; i++) {
		const char *p = list->keywords[i];
		while (p != NULL && *p != '\0') {
			size_t len = strcspn(p, " ");
			bool known = false;
			for (size_t k = 0; k < t->count && !known; k++)
				known =
				    strlen(t->names[k]) == len && memcmp(t->names[k], p, len) == 0;
			if (!known) {
				t->names = xrealloc(t->names, (t->count + 1) * sizeof(*t->names));
				t->names[t->count++] = xstrndup(p, len);
			}
			p += len;
			p += *p == ' ';
		}
	}
	if (t->count > 0)
		qsort(t->names, t->count, sizeof(*t->names), str_cmp);
}

static void kw_table_free(struct kw_table *t)
{
	for (size_t i = 0; i < t->count; i++)
		free(t->names[i]);
	free(t->names);
}

/* The letters of a message's keywords (space-separated). */
static size_t kw_letters(const struct kw_table *t, const char *keywords,
                         char letters[MAILDIR_KEYWORDS_MAX])
{
	size_t n = 0;

	for (const char *p = keywords; p != NULL && *p != '\0';) {
		size_t len = strcspn(p, " ");
		for (size_t k = 0; k < t->count && k < MAILDIR_KEYWORDS_MAX; k++) {
			if (strlen(t->names[k]) == len && memcmp(t->names[k], p, len) == 0)
				letters[n++] = (char)('a' + k);
		}
		p += len;
		p += *p == ' ';
	}
	return n;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The stored CRLF form, or LF where the original had LF only. */
static int write_message(int fd, const struct store_blob *blob, bool only_lf)
{
	struct buf b;
	int ret = 0;

	if (!only_lf)
		return write_all(fd, blob->data, blob->size);
	buf_init(&b);
	for (uint64_t i = 0; i < blob->size && ret == 0; i++) {
		if (blob->data[i] == '\r' && i + 1 < blob->size && blob->data[i + 1] == '\n')
			continue;
		buf_append_byte(&b, (char)blob->data[i]);
		if (b.len >= EXPORT_CHUNK) {
			ret = write_all(fd, b.data, b.len);
			buf_reset(&b);
		}
	}
	if (ret == 0)
		ret = write_all(fd, b.data, b.len);
	buf_free(&b);
	return ret;
}

/* Write data to dir/name through a temporary name. */
static int write_file(const char *dir, const char *name, const struct buf *data)
{
	char *tmp = xasprintf("%s/.%s.tmp", dir, name), *path = xasprintf("%s/%s", dir, name);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret = -1;

	if (fd >= 0) {
		ret = write_all(fd, data->data, data->len);
		if (close(fd) < 0)
			ret = -1;
		if (ret == 0)
			ret = rename(tmp, path);
	}
	if (ret < 0)
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	free(tmp);
	free(path);
	return ret;
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		fprintf(stderr, "%s: mkdir %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	return 0;
}

static int make_maildir(const char *dir, bool subfolder)
{
	static const char *const subs[] = {"cur", "new", "tmp"};

	if (make_dir(dir) < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
		char *path = xasprintf("%s/%s", dir, subs[i]);
		int ret = make_dir(path);
		free(path);
		if (ret < 0)
			return -1;
	}
	if (subfolder) {
		/* Maildir++ marks folders with this empty file */
		char *path = xasprintf("%s/maildirfolder", dir);
		int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		free(path);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return 0;
}

/* One message into dir/cur; its line for the uidlist goes to uidlist. */
static int export_message(struct export_ctx *c, const char *dir, int64_t mailbox_id,
                          const struct store_message_list *list, size_t i,
                          const struct kw_table *kws, struct buf *uidlist)
{
	struct store_message_info info;
	struct store_blob blob;
	struct store_error err;
	struct timespec times[2];
	char letters[MAILDIR_KEYWORDS_MAX];
	struct buf flags;
	char *base, *tmp, *path;
	int fd, ret = EX_IOERR;

	if (store_message_info(c->acct, mailbox_id, list->uids[i], &info, &err) < 0)
		return err.code == STORE_ERR_NONEXISTENT ? 0 : EX_TEMPFAIL; /* expunged meanwhile */
	if (store_message_open(c->acct, mailbox_id, list->uids[i], &blob, &err) < 0) {
		store_message_info_free(&info);
		return err.code == STORE_ERR_NONEXISTENT ? 0 : EX_TEMPFAIL;
	}
	buf_init(&flags);
	maildir_flags_format(list->flags[i], letters, kw_letters(kws, list->keywords[i], letters),
	                     &flags);
	base = xasprintf("%lld.R%u.roost", (long long)list->internaldates[i], list->uids[i]);
	tmp = xasprintf("%s/tmp/%s", dir, base);
	path = xasprintf("%s/cur/%s:2,%.*s", dir, base, (int)flags.len,
	                 flags.data != NULL ? flags.data : "");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		times[0].tv_sec = times[1].tv_sec = (time_t)list->internaldates[i];
		times[0].tv_nsec = times[1].tv_nsec = 0;
		if (write_message(fd, &blob, info.only_lf) == 0 && futimens(fd, times) == 0)
			ret = 0;
		if (close(fd) < 0)
			ret = EX_IOERR;
		if (ret == 0 && rename(tmp, path) < 0)
			ret = EX_IOERR;
	}
	if (ret != 0)
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
	buf_printf(uidlist, "%u :%s\n", list->uids[i], base);
	free(base);
	free(tmp);
	free(path);
	buf_free(&flags);
	store_blob_close(&blob);
	store_message_info_free(&info);
	return ret;
}

static int export_mailbox(struct export_ctx *c, const char *name, int64_t id)
{
	struct store_mailbox_status st;
	struct store_message_list list;
	struct store_error err;
	struct kw_table kws;
	struct buf b;
	char *folder = maildir_mailbox_to_folder(name), *dir;
	int ret = 0;

	if (folder == NULL) {
		fprintf(stderr, "%s: mailbox %s: a '.' in a name cannot be written as Maildir++\n",
		        prog, name);
		c->problems++;
		return 0;
	}
	dir = folder[0] == '\0' ? xstrdup(c->root) : xasprintf("%s/%s", c->root, folder);
	free(folder);
	if (make_maildir(dir, strcmp(name, "INBOX") != 0) < 0) {
		free(dir);
		return EX_IOERR;
	}
	if (store_mailbox_status_by_id(c->acct, id, &st, NULL, &err) < 0 ||
	    store_message_list(c->acct, id, &list, &err) < 0) {
		fprintf(stderr, "%s: mailbox %s: %s\n", prog, name, err.text);
		free(dir);
		return err.code == STORE_ERR_NONEXISTENT ? 0 : EX_TEMPFAIL;
	}
	kw_table_build(&kws, &list);
	if (kws.count > MAILDIR_KEYWORDS_MAX) {
		fprintf(stderr, "%s: mailbox %s: %zu keywords; Maildir keeps the first %d\n", prog,
		        name, kws.count, MAILDIR_KEYWORDS_MAX);
		c->problems++;
	}
	buf_init(&b);
	for (size_t k = 0; k < kws.count && k < MAILDIR_KEYWORDS_MAX; k++)
		buf_printf(&b, "%zu %s\n", k, kws.names[k]);
	if (kws.count > 0 && write_file(dir, MAILDIR_KEYWORDS_FILE, &b) < 0)
		ret = EX_IOERR;
	buf_reset(&b);
	buf_printf(&b, "3 V%u N%u\n", st.uidvalidity, st.uidnext);
	for (size_t i = 0; i < list.count && ret == 0; i++) {
		ret = export_message(c, dir, id, &list, i, &kws, &b);
		c->messages++;
		if (c->tty && c->messages % 100 == 0) {
			printf("\rexported %llu messages (mailbox %s)\033[K",
			       (unsigned long long)c->messages, name);
			fflush(stdout);
		}
	}
	if (ret == 0 && write_file(dir, MAILDIR_UIDLIST, &b) < 0)
		ret = EX_IOERR;
	c->mailboxes++;
	buf_free(&b);
	kw_table_free(&kws);
	store_message_list_free(&list);
	free(dir);
	return ret;
}

/* 0 when the target may be written: missing (made here), empty, or forced. */
static int export_target(const char *root, bool force)
{
	DIR *d;
	struct dirent *de;
	bool empty = true;

	if (mkdir(root, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		fprintf(stderr, "%s: mkdir %s: %s\n", prog, root, strerror(errno));
		return EX_CANTCREAT;
	}
	d = opendir(root);
	if (d == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, root, strerror(errno));
		return EX_CANTCREAT;
	}
	while (empty && (de = readdir(d)) != NULL)
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	if (!empty && !force) {
		fprintf(stderr, "%s: %s is not empty (--force writes into it anyway)\n", prog,
		        root);
		return EX_CANTCREAT;
	}
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: roost export [-c FILE] -u USER --maildir DIR [--force]\n");
	return EX_USAGE;
}

int cli_export(int argc, char **argv, struct roost_config *cfg)
{
	struct export_ctx c = {0};
	const char *user = NULL;
	struct store *store = NULL;
	struct store_list list = {0};
	struct store_error err;
	int64_t account_id;
	bool force = false;
	int ret, fd;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0)
			force = true;
		else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc && user == NULL)
			user = argv[++i];
		else if (strcmp(argv[i], "--maildir") == 0 && i + 1 < argc && c.root == NULL)
			c.root = argv[++i];
		else
			return usage();
	}
	if (user == NULL || c.root == NULL)
		return usage();
	ret = cli_account_open(cfg, prog, user, &store, &c.acct, &account_id);
	if (ret != 0)
		return ret;
	c.tty = isatty(STDOUT_FILENO);
	ret = export_target(c.root, force);
	if (ret == 0 && store_mailbox_list(c.acct, "*", 0, &list, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err.text);
		ret = EX_TEMPFAIL;
	}
	for (size_t i = 0; i < list.count && ret == 0; i++) {
		if ((list.entries[i].attrs & (STORE_ATTR_NOSELECT | STORE_ATTR_NONEXISTENT)) == 0)
			ret = export_mailbox(&c, list.entries[i].name, list.entries[i].id);
	}
	store_list_free(&list);
	/* the files are written; make them durable before saying so */
	fd = open(c.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (ret == 0 && syncfs(fd) < 0)
			ret = EX_IOERR;
		close(fd);
	}
	if (c.tty && c.messages > 0)
		printf("\n");
	if (ret == 0 || c.mailboxes > 0)
		printf("exported %llu messages in %u mailboxes to %s\n",
		       (unsigned long long)c.messages, c.mailboxes, c.root);
	if (ret == 0 && c.problems > 0)
		ret = EX_DATAERR;
	store_account_close(&c.acct);
	store_close(&store);
	return ret;
}
