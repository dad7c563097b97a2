/*
 * roost import -u USER --maildir DIR
 * roost import -u USER --mbox FILE [-m MAILBOX]
 *
 * Moves a user's mail in from another server. A Maildir++ tree keeps its
 * folders (modified UTF-7 names decoded), flags and Dovecot keywords, and,
 * where dovecot-uidlist or courierimapuiddb says so, each mailbox's
 * UIDVALIDITY and every message's UID: clients that synced against the old
 * server do not download everything again. Importing the same source twice
 * adds nothing twice (store_append_msg.copy_number). An mbox goes into one
 * mailbox, with the From_ lines' dates as INTERNALDATE.
 *
 * Exit codes (sysexits.h): 0 done, 64 usage, 66 no such source, 67 no such
 * user, 65 some messages or folders could not be imported, 74 the source
 * could not be read, 75 the store failed (run it again: nothing is added
 * twice).
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

#define IMPORT_BATCH_MAX 64                   /* messages per store_append */
#define IMPORT_BATCH_BYTES (32 * 1024 * 1024) /* or this many bytes */
#define IMPORT_PROGRESS_MS 200                /* terminal line updates */
#define IMPORT_WARNINGS_MAX 10                /* per kind, then a count */

static const char prog[] = "roost import";

/* How often each content was seen in the source mailbox so far: the n-th
 * identical message is skipped only when the mailbox holds n copies. */
struct digest_table {
	struct digest_slot {
		unsigned char d[32];
		uint32_t n;
	} * slots;
	size_t cap, used;
};

struct import_batch {
	struct store_append_msg msgs[IMPORT_BATCH_MAX];
	const char *kws[IMPORT_BATCH_MAX][MAILDIR_KEYWORDS_MAX];
	uint32_t uids[IMPORT_BATCH_MAX];
	size_t count;
	uint64_t bytes;
};

struct import_ctx {
	struct roost_config *cfg;
	struct store_account *acct;
	int64_t account_id;
	int64_t mailbox_id;
	char mailbox[STORE_MAILBOX_NAME_MAX + 1]; /* for messages and progress */
	bool tty;
	uint64_t total; /* messages in the source; 0: not known (mbox) */
	uint64_t done, imported, copies, failed, new_uids;
	unsigned mailboxes, bad_folders;
	uint64_t last_progress_ms;
	struct digest_table digests;
	struct import_batch batch;
};

static uint32_t digest_next(struct digest_table *t, const unsigned char d[32])
{
	size_t i;

	if (t->used * 2 >= t->cap) {
		struct digest_table grown = {.cap = t->cap == 0 ? 1024 : t->cap * 2};
		grown.slots = xcalloc(grown.cap, sizeof(*grown.slots));
		for (size_t j = 0; j < t->cap; j++) {
			if (t->slots[j].n == 0)
				continue;
			memcpy(&i, t->slots[j].d, sizeof(i));
			for (i %= grown.cap; grown.slots[i].n != 0; i = (i + 1) % grown.cap)
				;
			grown.slots[i] = t->slots[j];
		}
		grown.used = t->used;
		free(t->slots);
		*t = grown;
	}
	memcpy(&i, d, sizeof(i));
	for (i %= t->cap; t->slots[i].n != 0; i = (i + 1) % t->cap) {
		if (memcmp(t->slots[i].d, d, 32) == 0)
			return ++t->slots[i].n;
	}
	memcpy(t->slots[i].d, d, 32);
	t->used++;
	return t->slots[i].n = 1;
}

static void digest_reset(struct digest_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static void progress(struct import_ctx *c, bool force)
{
	uint64_t now = time_now_ms();

	if (!c->tty || (!force && now - c->last_progress_ms < IMPORT_PROGRESS_MS))
		return;
	c->last_progress_ms = now;
	if (c->total > 0)
		printf("\rimported %llu of %llu messages (mailbox %s)\033[K",
		       (unsigned long long)c->done, (unsigned long long)c->total, c->mailbox);
	else
		printf("\rimported %llu messages (mailbox %s)\033[K", (unsigned long long)c->done,
		       c->mailbox);
	fflush(stdout);
}

static int store_exit_code(const struct store_error *err)
{
	return err->code == STORE_ERR_SERVERBUG ? EX_TEMPFAIL : EX_DATAERR;
}

/* Append what is queued; the batch's fds are closed either way. */
static int batch_flush(struct import_ctx *c)
{
	struct import_batch *b = &c->batch;
	struct store_error err;
	int ret = 0;

	if (b->count == 0)
		return 0;
	if (store_append(c->acct, c->mailbox_id, b->msgs, b->count, b->uids, &err) < 0) {
		fprintf(stderr, "%s: mailbox %s: %s\n", prog, c->mailbox, err.text);
		ret = store_exit_code(&err);
	}
	for (size_t i = 0; i < b->count; i++) {
		close(b->msgs[i].fd);
		if (ret != 0)
			continue;
		if (b->uids[i] == 0) {
			c->copies++;
			continue;
		}
		c->imported++;
		if (b->msgs[i].uid != 0 && b->uids[i] != b->msgs[i].uid &&
		    c->new_uids++ < IMPORT_WARNINGS_MAX)
			fprintf(stderr,
			        "%s: mailbox %s: UID %u was taken; the message got UID %u\n", prog,
			        c->mailbox, b->msgs[i].uid, b->uids[i]);
	}
	c->done += b->count;
	b->count = 0;
	b->bytes = 0;
	progress(c, false);
	return ret;
}

/* After an error: close what is queued without appending it. */
static void batch_discard(struct import_ctx *c)
{
	for (size_t i = 0; i < c->batch.count; i++)
		close(c->batch.msgs[i].fd);
	c->batch.count = 0;
	c->batch.bytes = 0;
}

/* Queue one message (fd is the batch's from now on). */
static int batch_add(struct import_ctx *c, const struct store_append_msg *msg)
{
	struct import_batch *b = &c->batch;

	b->msgs[b->count++] = *msg;
	b->bytes += msg->size;
	if (b->count == IMPORT_BATCH_MAX || b->bytes >= IMPORT_BATCH_BYTES)
		return batch_flush(c);
	return 0;
}

/* Make the mailbox if needed and select it for the batch. */
static int mailbox_begin(struct import_ctx *c, const char *name, struct store_mailbox_status *st)
{
	struct store_error err;

	if (store_mailbox_create(c->acct, name, 0, &err) < 0 &&
	    err.code != STORE_ERR_ALREADYEXISTS) {
		fprintf(stderr, "%s: mailbox %s: %s\n", prog, name, err.text);
		return store_exit_code(&err);
	}
	if (store_mailbox_status(c->acct, name, st, &err) < 0) {
		fprintf(stderr, "%s: mailbox %s: %s\n", prog, name, err.text);
		return store_exit_code(&err);
	}
	c->mailbox_id = st->id;
	snprintf(c->mailbox, sizeof(c->mailbox), "%s", name);
	c->mailboxes++;
	digest_reset(&c->digests);
	progress(c, true);
	return 0;
}

static void mailbox_end(struct import_ctx *c)
{
	/* a running server tells its IDLE sessions at once */
	(void)store_notify_external(c->cfg->data_dir, c->account_id, c->mailbox_id);
}

/* ---- Maildir++ ---- */

struct folder_ref {
	char *dir;
	char *mailbox;
};

static bool is_maildir(const char *dir)
{
	struct stat st;
	char *cur = xasprintf("%s/cur", dir), *new = xasprintf("%s/new", dir);
	bool yes = (stat(cur, &st) == 0 && S_ISDIR(st.st_mode)) ||
	           (stat(new, &st) == 0 && S_ISDIR(st.st_mode));

	free(cur);
	free(new);
	return yes;
}

static uint64_t count_files(const char *dir, const char *sub)
{
	char *path = xasprintf("%s/%s", dir, sub);
	DIR *d = opendir(path);
	struct dirent *de;
	uint64_t n = 0;

	free(path);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static int folder_cmp(const void *a, const void *b)
{
	const struct folder_ref *x = a, *y = b;
	bool xi = strcmp(x->mailbox, "INBOX") == 0, yi = strcmp(y->mailbox, "INBOX") == 0;

	if (xi != yi)
		return xi ? -1 : 1;
	return strcmp(x->mailbox, y->mailbox);
}

/* INBOX (DIR itself) and every DIR/.Name that is a maildir, parents first. */
static struct folder_ref *maildir_folders(const char *root, size_t *count_r)
{
	struct folder_ref *folders = NULL;
	size_t count = 0;
	DIR *d = opendir(root);
	struct dirent *de;

	if (is_maildir(root)) {
		folders = xrealloc(folders, (count + 1) * sizeof(*folders));
		folders[count++] = (struct folder_ref){xstrdup(root), xstrdup("INBOX")};
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		char *dir;
		if (de->d_name[0] != '.' || strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		dir = xasprintf("%s/%s", root, de->d_name);
		if (!is_maildir(dir)) {
			free(dir);
			continue;
		}
		folders = xrealloc(folders, (count + 1) * sizeof(*folders));
		folders[count++] = (struct folder_ref){dir, maildir_folder_to_mailbox(de->d_name)};
	}
	if (d != NULL)
		closedir(d);
	if (count > 0)
		qsort(folders, count, sizeof(*folders), folder_cmp);
	*count_r = count;
	return folders;
}

/*
 * UIDs are kept when the mailbox has the source's UIDVALIDITY already (a
 * second import) or can take it (it is new, or empty and never used).
 */
static bool folder_keep_uids(struct import_ctx *c, const struct maildir_folder *f,
                             const struct store_mailbox_status *st)
{
	struct store_error err;

	if (f->uidvalidity == 0)
		return false;
	if (st->uidvalidity == f->uidvalidity)
		return true;
	if (store_mailbox_import_uids(c->acct, st->id, f->uidvalidity, 0, &err) == 0)
		return true;
	fprintf(stderr,
	        "%s: mailbox %s already has messages under UIDVALIDITY %u (%s);"
	        " imported messages get new UIDs\n",
	        prog, c->mailbox, st->uidvalidity, err.text);
	return false;
}

static int import_folder(struct import_ctx *c, const struct folder_ref *ref)
{
	struct maildir_folder f;
	struct store_mailbox_status st;
	struct store_error err;
	char *error = NULL;
	size_t not_listed = 0;
	bool keep_uids;
	int ret;

	if (maildir_folder_read(ref->dir, prog, &f, &error) < 0) {
		fprintf(stderr, "%s: %s\n", prog, error);
		free(error);
		c->bad_folders++;
		return 0;
	}
	ret = mailbox_begin(c, ref->mailbox, &st);
	if (ret != 0) {
		c->failed += f.count;
		c->done += f.count;
		c->bad_folders++;
		maildir_folder_free(&f);
		return ret == EX_TEMPFAIL ? ret : 0;
	}
	keep_uids = folder_keep_uids(c, &f, &st);
	for (size_t i = 0; i < f.count && ret == 0; i++) {
		const struct maildir_msg *m = &f.msgs[i];
		const char **kws = c->batch.kws[c->batch.count];
		struct store_append_msg msg = {.flags = m->flags, .internaldate = m->mtime};
		unsigned char digest[32];

		msg.fd = open(m->path, O_RDONLY | O_CLOEXEC);
		if (msg.fd < 0) {
			if (c->failed++ < IMPORT_WARNINGS_MAX)
				fprintf(stderr, "%s: %s: %s\n", prog, m->path, strerror(errno));
			c->done++;
			continue;
		}
		msg.size = m->size;
		for (size_t k = 0; k < MAILDIR_KEYWORDS_MAX; k++) {
			if ((m->keywords & (1u << k)) != 0)
				kws[msg.keyword_count++] = f.keyword_names[k];
		}
		msg.keywords = kws;
		if (keep_uids && m->uid != 0) {
			msg.uid = m->uid;
			msg.copy_number = 1;
		} else {
			not_listed += keep_uids;
			if (mailsrc_file_digest(msg.fd, digest) < 0) {
				fprintf(stderr, "%s: %s: %s\n", prog, m->path, strerror(errno));
				close(msg.fd);
				ret = EX_IOERR;
				break;
			}
			msg.copy_number = digest_next(&c->digests, digest);
		}
		ret = batch_add(c, &msg);
	}
	if (ret == 0)
		ret = batch_flush(c);
	batch_discard(c);
	if (ret == 0 && keep_uids && f.uidnext != 0 &&
	    store_mailbox_import_uids(c->acct, st.id, 0, f.uidnext, &err) < 0) {
		fprintf(stderr, "%s: mailbox %s: %s\n", prog, c->mailbox, err.text);
		ret = store_exit_code(&err);
	}
	if (f.bad_uidlist_lines > 0 || (f.uidlist_name != NULL && f.uidvalidity == 0))
		fprintf(stderr, "%s: %s/%s: %u line%s not understood\n", prog, f.dir,
		        f.uidlist_name, f.bad_uidlist_lines, f.bad_uidlist_lines == 1 ? "" : "s");
	if (not_listed > 0)
		fprintf(stderr, "%s: mailbox %s: %zu message%s not in %s got new UIDs\n", prog,
		        c->mailbox, not_listed, not_listed == 1 ? "" : "s", f.uidlist_name);
	mailbox_end(c);
	maildir_folder_free(&f);
	return ret;
}

static int import_maildir(struct import_ctx *c, const char *root)
{
	struct folder_ref *folders;
	struct stat st;
	size_t count;
	int ret = 0;

	if (stat(root, &st) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, root, strerror(errno));
		return EX_NOINPUT;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: not a directory\n", prog, root);
		return EX_NOINPUT;
	}
	folders = maildir_folders(root, &count);
	if (count == 0) {
		fprintf(stderr, "%s: %s: not a Maildir (no cur/, new/ or .Folder/)\n", prog, root);
		free(folders);
		return EX_DATAERR;
	}
	for (size_t i = 0; i < count; i++)
		c->total += count_files(folders[i].dir, "cur") + count_files(folders[i].dir, "new");
	for (size_t i = 0; i < count && ret == 0; i++)
		ret = import_folder(c, &folders[i]);
	for (size_t i = 0; i < count; i++) {
		free(folders[i].dir);
		free(folders[i].mailbox);
	}
	free(folders);
	return ret;
}

/* ---- mbox ---- */

static int spool_file(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		char *tmpl = xasprintf("%s/import-XXXXXX", dir);
		fd = mkstemp(tmpl);
		if (fd >= 0)
			unlink(tmpl);
		free(tmpl);
	}
	return fd;
}

static int import_mbox(struct import_ctx *c, const char *path, const char *mailbox)
{
	struct mbox_reader *r;
	struct store_mailbox_status st;
	char *spool;
	int ret;

	if (mbox_open(path, &r) < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return EX_NOINPUT;
	}
	ret = mailbox_begin(c, mailbox, &st);
	spool = xasprintf("%s/spool", c->cfg->data_dir);
	mkdir(spool, 0700);
	while (ret == 0) {
		struct store_append_msg msg = {.fd = spool_file(spool)};
		unsigned char digest[32];
		int r_next;

		if (msg.fd < 0) {
			fprintf(stderr, "%s: cannot make a spool file in %s: %s\n", prog, spool,
			        strerror(errno));
			ret = EX_TEMPFAIL;
			break;
		}
		r_next = mbox_next(r, msg.fd, &msg.size, &msg.internaldate, digest);
		if (r_next <= 0) {
			if (r_next < 0) {
				fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
				ret = EX_IOERR;
			}
			close(msg.fd);
			break;
		}
		msg.copy_number = digest_next(&c->digests, digest);
		ret = batch_add(c, &msg);
	}
	if (ret == 0)
		ret = batch_flush(c);
	batch_discard(c);
	if (c->mailbox_id != 0)
		mailbox_end(c);
	free(spool);
	mbox_close(&r);
	return ret;
}

/* ---- the command ---- */

static int usage(void)
{
	fprintf(stderr, "usage: roost import [-c FILE] -u USER --maildir DIR\n"
	                "       roost import [-c FILE] -u USER --mbox FILE [-m MAILBOX]\n");
	return EX_USAGE;
}

int cli_import(int argc, char **argv, struct roost_config *cfg)
{
	const char *user = NULL, *maildir = NULL, *mbox = NULL, *mailbox = NULL;
	struct import_ctx c = {.cfg = cfg};
	struct store *store = NULL;
	int ret;

	for (int i = 1; i < argc; i++) {
		const char **target = NULL;
		if (strcmp(argv[i], "-u") == 0)
			target = &user;
		else if (strcmp(argv[i], "--maildir") == 0)
			target = &maildir;
		else if (strcmp(argv[i], "--mbox") == 0)
			target = &mbox;
		else if (strcmp(argv[i], "-m") == 0)
			target = &mailbox;
		if (target == NULL || i + 1 >= argc || *target != NULL)
			return usage();
		*target = argv[++i];
	}
	if (user == NULL || (maildir == NULL) == (mbox == NULL) ||
	    (mailbox != NULL && mbox == NULL))
		return usage();
	ret = cli_account_open(cfg, prog, user, &store, &c.acct, &c.account_id);
	if (ret != 0)
		return ret;
	c.tty = isatty(STDOUT_FILENO);
	if (maildir != NULL)
		ret = import_maildir(&c, maildir);
	else
		ret = import_mbox(&c, mbox, mailbox != NULL ? mailbox : "INBOX");
	if (c.tty && c.mailboxes > 0) {
		progress(&c, true);
		printf("\n");
	}
	if (c.mailboxes > 0 || c.done > 0)
		printf("%llu messages in %u mailboxes: %llu imported, %llu already there, "
		       "%llu failed, %llu with new UIDs\n",
		       (unsigned long long)c.done, c.mailboxes, (unsigned long long)c.imported,
		       (unsigned long long)c.copies, (unsigned long long)c.failed,
		       (unsigned long long)c.new_uids);
	if (ret == 0 && (c.failed > 0 || c.bad_folders > 0))
		ret = EX_DATAERR;
	digest_reset(&c.digests);
	store_account_close(&c.acct);
	store_close(&store);
	return ret;
}
