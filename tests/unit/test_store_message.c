/* Unit tests for store/: messages (append, copy, move, flags, expunge),
 * blobs and their refcounts, MODSEQ and tombstones, and a randomized
 * differential test of the STATUS counters. */
#include "store_test_util.h"

#include <fcntl.h>

static const char msg_lf[] = "From: a@example.com\nSubject: Hello\n\nline 1\nline 2\n";
static const char msg_crlf[] = "From: a@example.com\r\nSubject: Hello\r\n\r\nline 1\r\nline 2\r\n";

static void test_append_fetch(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_message_info info;
	struct store_blob blob;
	struct store_mailbox_status st;
	uint32_t u1, u2;

	u1 = append_text(f, inbox, msg_lf, STORE_FLAG_FLAGGED);
	u2 = append_text(f, inbox, msg_crlf, 0);
	assert_int_equal(u1, 1);
	assert_int_equal(u2, 2);

	/* the blob is the CRLF form */
	assert_int_equal(store_message_open(f->acct, inbox, u1, &blob, &f->err), 0);
	assert_int_equal(blob.size, strlen(msg_crlf));
	assert_memory_equal(blob.data, msg_crlf, blob.size);
	assert_true(blob.fd >= 0);
	store_blob_close(&blob);
	assert_int_equal(blob.fd, -1);

	assert_int_equal(store_message_info(f->acct, inbox, u1, &info, &f->err), 0);
	assert_int_equal(info.size, strlen(msg_crlf));
	assert_true(info.only_lf);
	assert_int_equal(info.flags, STORE_FLAG_FLAGGED);
	assert_null(info.keywords);
	assert_string_equal(info.subject, "Hello");
	assert_string_equal(info.from, "a@example.com");
	assert_non_null(info.envelope);
	assert_non_null(info.bodystructure);
	assert_non_null(info.body);
	assert_true(info.parts_size > 0);
	assert_true(info.internaldate > 0);
	assert_true(info.savedate > 0);
	assert_int_equal(info.emailid[0], 'M');
	assert_null(info.threadid);
	char emailid[32];
	strcpy(emailid, info.emailid);
	store_message_info_free(&info);

	/* same bytes: same blob, same EMAILID; but this one was CRLF already */
	assert_int_equal(store_message_info(f->acct, inbox, u2, &info, &f->err), 0);
	assert_false(info.only_lf);
	assert_string_equal(info.emailid, emailid);
	store_message_info_free(&info);
	assert_int_equal(count_blob_files(f), 1);
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs"), 2);

	st = mbox(f, "INBOX");
	assert_int_equal(st.messages, 2);
	assert_int_equal(st.unseen, 2);
	assert_int_equal(st.size, 2 * strlen(msg_crlf));
	assert_int_equal(st.uidnext, 3);

	assert_int_equal(store_message_open(f->acct, inbox, 99, &blob, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_message_info(f->acct, inbox, 99, &info, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
}

static void test_append_errors(void **state)
{
	struct fixture *f = *state;
	struct store_append_msg msg = {.data = "x", .fd = -1, .size = 1};
	const char *bad_kw[] = {"ok", "no good"};

	assert_int_equal(store_append(f->acct, 424242, &msg, 1, NULL, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_TRYCREATE);
	msg.keywords = bad_kw;
	msg.keyword_count = 2;
	assert_int_equal(store_append(f->acct, mbox_id(f, "INBOX"), &msg, 1, NULL, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	/* nothing was left behind */
	assert_int_equal(mbox(f, "INBOX").messages, 0);
	assert_int_equal(count_blob_files(f), 0);
	/* several messages are all or nothing: the second one's file is
	 * shorter than it claims */
	struct store_append_msg two[2] = {{.data = "one\r\n", .fd = -1, .size = 5},
	                                  {.fd = -1, .size = 100}};
	char *path = xasprintf("%s/short-XXXXXX", f->tmp);
	two[1].fd = mkstemp(path);
	assert_true(two[1].fd >= 0);
	assert_int_equal(write(two[1].fd, "short", 5), 5);
	assert_int_equal(store_append(f->acct, mbox_id(f, "INBOX"), two, 2, NULL, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_SERVERBUG);
	close(two[1].fd);
	unlink(path);
	free(path);
	assert_int_equal(mbox(f, "INBOX").messages, 0);
	assert_int_equal(mbox(f, "INBOX").uidnext, 1);
	assert_int_equal(count_blob_files(f), 0);
	char *tmpdir = xasprintf("%s/accounts/%d/blobs/tmp", f->data_dir, TEST_ACCOUNT);
	assert_int_equal(rmdir(tmpdir), 0); /* empty: the temp files went too */
	assert_int_equal(mkdir(tmpdir, 0700), 0);
	free(tmpdir);

	/* an empty message is a message */
	assert_int_equal(append_text(f, mbox_id(f, "INBOX"), "", 0), 1);
}

/* APPEND literals over 256 KiB arrive as an unlinked spool file. */
static void test_append_fd(void **state)
{
	struct fixture *f = *state;
	size_t size = 600 * 1024;
	char *data = xmalloc(size), *path = xasprintf("%s/spool-XXXXXX", f->tmp);
	struct store_append_msg msg = {.fd = -1};
	struct store_blob blob;
	uint32_t uid;
	int fd;

	memcpy(data, "Subject: big\n\n", 14);
	for (size_t i = 14; i < size; i++)
		data[i] = (i % 61 == 60) ? '\n' : (char)('a' + i % 26);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_int_equal(write(fd, data, size), (ssize_t)size);
	msg.fd = fd;
	msg.size = size;
	assert_int_equal(store_append(f->acct, mbox_id(f, "INBOX"), &msg, 1, &uid, &f->err), 0);
	close(fd);

	assert_int_equal(store_message_open(f->acct, mbox_id(f, "INBOX"), uid, &blob, &f->err), 0);
	/* every LF became CRLF */
	size_t lfs = 0;
	for (size_t i = 0; i < size; i++)
		lfs += data[i] == '\n';
	assert_int_equal(blob.size, size + lfs);
	for (size_t i = 0, j = 0; i < size; i++, j++) {
		if (data[i] == '\n')
			assert_int_equal(blob.data[j++], '\r');
		assert_int_equal(blob.data[j], data[i]);
	}
	store_blob_close(&blob);

	/* a file shorter than it claims is an error, not a short message */
	fd = open(f->tmp, O_RDONLY | O_DIRECTORY);
	msg.fd = fd;
	assert_int_equal(store_append(f->acct, mbox_id(f, "INBOX"), &msg, 1, &uid, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_SERVERBUG);
	close(fd);
	free(data);
	free(path);
}

static void test_append_many(void **state)
{
	struct fixture *f = *state;
	enum { N = 300 };
	struct store_append_msg msgs[N];
	char *texts[N];
	uint32_t uids[N];
	struct store_stats before, after;
	struct store_message_list list;
	const char *kws[] = {"$Forwarded", "Work"};

	store_account_stats(f->acct, &before);
	for (int i = 0; i < N; i++) {
		texts[i] = xasprintf("Subject: %d\r\n\r\nbody %d\r\n", i, i);
		msgs[i] = (struct store_append_msg){.data = texts[i],
		                                    .fd = -1,
		                                    .size = strlen(texts[i]),
		                                    .flags = i % 2 ? STORE_FLAG_SEEN : 0,
		                                    .keywords = i % 3 == 0 ? kws : NULL,
		                                    .keyword_count = i % 3 == 0 ? 2 : 0,
		                                    .internaldate = 1000000 + i};
	}
	assert_int_equal(store_append(f->acct, mbox_id(f, "INBOX"), msgs, N, uids, &f->err), 0);
	store_account_stats(f->acct, &after);
	/* one transaction */
	assert_int_equal(after.commits - before.commits, 1);
	for (int i = 0; i < N; i++)
		assert_int_equal(uids[i], i + 1);
	assert_int_equal(count_blob_files(f), N);

	assert_int_equal(store_message_list(f->acct, mbox_id(f, "INBOX"), &list, &f->err), 0);
	assert_int_equal(list.count, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(list.uids[i], i + 1);
		assert_int_equal(list.flags[i], i % 2 ? STORE_FLAG_SEEN : 0);
		assert_int_equal(list.internaldates[i], 1000000 + i);
		assert_int_equal(list.sizes[i], strlen(texts[i]));
		if (i % 3 == 0)
			assert_string_equal(list.keywords[i], "$Forwarded Work");
		else
			assert_null(list.keywords[i]);
		/* all of one append share one MODSEQ */
		assert_int_equal(list.modseqs[i], list.modseqs[0]);
	}
	store_message_list_free(&list);
	struct store_mailbox_status st = mbox(f, "INBOX");
	assert_int_equal(st.messages, N);
	assert_int_equal(st.unseen, N / 2);
	for (int i = 0; i < N; i++)
		free(texts[i]);
}

static void test_copy_shares_blob(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX"), arch = mbox_id(f, "Archive");
	uint32_t src[3], dst[3] = {9, 9, 9};
	size_t copied;
	struct store_message_list list;

	src[0] = append_text(f, inbox, "Subject: c\r\n\r\ncopy me\r\n", STORE_FLAG_SEEN);
	src[1] = 50; /* does not exist: skipped */
	src[2] = append_text(f, inbox, "Subject: d\r\n\r\nanother\r\n", 0);
	src[2] = 51;
	(void)src;
	uint32_t uids[2] = {1, 50};
	assert_int_equal(store_copy(f->acct, inbox, uids, 2, arch, dst, &copied, &f->err), 0);
	assert_int_equal(copied, 1);
	assert_int_equal(dst[0], 1);
	assert_int_equal(dst[1], 0);
	/* one file, refcount 2 */
	assert_int_equal(count_blob_files(f), 2);
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs b WHERE EXISTS (SELECT 1 FROM"
	                              " messages m WHERE m.blob = b.hash AND m.mailbox_id != 1)"),
	                 2);
	assert_int_equal(store_message_list(f->acct, arch, &list, &f->err), 0);
	assert_int_equal(list.count, 1);
	assert_int_equal(list.flags[0], STORE_FLAG_SEEN);
	store_message_list_free(&list);
	assert_int_equal(mbox(f, "Archive").messages, 1);
	assert_int_equal(mbox(f, "INBOX").messages, 2);

	/* copy into a mailbox that does not exist */
	assert_int_equal(store_copy(f->acct, inbox, uids, 1, 9999, NULL, &copied, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_TRYCREATE);
	assert_int_equal(store_copy(f->acct, 9999, uids, 1, inbox, NULL, &copied, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
	/* copy into the same mailbox is allowed, move is not */
	assert_int_equal(store_copy(f->acct, inbox, uids, 1, inbox, dst, &copied, &f->err), 0);
	assert_int_equal(dst[0], 3);
	assert_int_equal(store_move(f->acct, inbox, uids, 1, inbox, dst, &copied, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
}

static void test_move(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX"), trash = mbox_id(f, "Trash");
	struct store_mailbox_status before = mbox(f, "INBOX");
	struct store_changes ch;
	uint32_t uids[2], dst[2];
	size_t moved;

	uids[0] = append_text(f, inbox, "Subject: m1\r\n\r\n1\r\n", 0);
	uids[1] = append_text(f, inbox, "Subject: m2\r\n\r\n2\r\n", STORE_FLAG_DELETED);
	before = mbox(f, "INBOX");
	assert_int_equal(store_move(f->acct, inbox, uids, 2, trash, dst, &moved, &f->err), 0);
	assert_int_equal(moved, 2);
	assert_int_equal(dst[0], 1);
	assert_int_equal(dst[1], 2);
	assert_int_equal(mbox(f, "INBOX").messages, 0);
	assert_int_equal(mbox(f, "INBOX").deleted, 0);
	assert_int_equal(mbox(f, "Trash").messages, 2);
	assert_int_equal(mbox(f, "Trash").deleted, 1);
	assert_int_equal(mbox(f, "Trash").unseen, 2);
	assert_int_equal(count_blob_files(f), 2);
	assert_int_equal(index_sql(f, "SELECT sum(refcount) FROM blobs"), 2);
	/* the source shows the UIDs as vanished at a new MODSEQ */
	assert_int_equal(store_changes_since(f->acct, inbox, before.highestmodseq, &ch, &f->err),
	                 0);
	assert_int_equal(ch.vanished_count, 2);
	assert_int_equal(ch.changed.count, 0);
	assert_true(ch.highestmodseq > before.highestmodseq);
	store_changes_free(&ch);
}

static void test_expunge_blob_refcount(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX"), arch = mbox_id(f, "Archive");
	struct store_flags_update del = {.mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_DELETED};
	uint32_t uid, *expunged;
	size_t n, copied;

	uid = append_text(f, inbox, "Subject: e\r\n\r\nexpunge me\r\n", 0);
	assert_int_equal(store_copy(f->acct, inbox, &uid, 1, arch, NULL, &copied, &f->err), 0);
	assert_int_equal(count_blob_files(f), 1);

	/* not \Deleted: nothing happens */
	assert_int_equal(store_expunge(f->acct, inbox, NULL, 0, &expunged, &n, &f->err), 0);
	assert_int_equal(n, 0);
	free(expunged);

	assert_int_equal(store_flags(f->acct, inbox, &uid, 1, &del, NULL, NULL, &f->err), 0);
	assert_int_equal(store_expunge(f->acct, inbox, NULL, 0, &expunged, &n, &f->err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(expunged[0], uid);
	free(expunged);
	/* still used by the copy */
	assert_int_equal(count_blob_files(f), 1);
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs"), 1);

	/* UID EXPUNGE only touches the given UIDs */
	struct store_blob open_blob;
	assert_int_equal(store_message_open(f->acct, arch, uid, &open_blob, &f->err), 0);
	assert_int_equal(store_flags(f->acct, arch, &uid, 1, &del, NULL, NULL, &f->err), 0);
	uint32_t other = 77;
	assert_int_equal(store_expunge(f->acct, arch, &other, 1, NULL, &n, &f->err), 0);
	assert_int_equal(n, 0);
	assert_int_equal(store_expunge(f->acct, arch, &uid, 1, NULL, &n, &f->err), 0);
	assert_int_equal(n, 1);
	/* refcount 0: the file and the row are gone */
	assert_int_equal(count_blob_files(f), 0);
	assert_int_equal(index_sql(f, "SELECT count(*) FROM blobs"), 0);
	assert_int_equal(mbox(f, "Archive").messages, 0);
	assert_int_equal(mbox(f, "Archive").deleted, 0);
	/* a FETCH that opened the message before still reads it whole */
	assert_memory_equal(open_blob.data, "Subject: e\r\n\r\nexpunge me\r\n", open_blob.size);
	store_blob_close(&open_blob);
	assert_int_equal(store_message_open(f->acct, arch, uid, &open_blob, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
}

static void test_flags_modseq(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	const char *kw_a[] = {"Work", "$label1", "work"};
	const char *kw_b[] = {"WORK"};
	struct store_flags_update upd = {.mode = STORE_FLAGS_ADD,
	                                 .flags = STORE_FLAG_SEEN | STORE_FLAG_ANSWERED,
	                                 .keywords = kw_a,
	                                 .keyword_count = 3};
	struct store_flags_result *res;
	size_t n;
	uint32_t uids[3];
	uint64_t m0, m1, m2;

	uids[0] = append_text(f, inbox, "a\r\n", 0);
	uids[1] = append_text(f, inbox, "b\r\n", STORE_FLAG_SEEN);
	uids[2] = 500; /* not there */
	m0 = mbox(f, "INBOX").highestmodseq;

	assert_int_equal(store_flags(f->acct, inbox, uids, 3, &upd, &res, &n, &f->err), 0);
	assert_int_equal(n, 2);
	m1 = mbox(f, "INBOX").highestmodseq;
	assert_true(m1 > m0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(res[i].uid, uids[i]);
		assert_int_equal(res[i].flags, STORE_FLAG_SEEN | STORE_FLAG_ANSWERED);
		assert_string_equal(res[i].keywords, "$label1 Work"); /* deduplicated, sorted */
		assert_int_equal(res[i].modseq, m1);
		assert_true(res[i].changed);
		assert_true(res[i].modified);
	}
	store_flags_results_free(res, n);
	assert_int_equal(mbox(f, "INBOX").unseen, 0);

	/* a no-op store changes nothing, not even HIGHESTMODSEQ */
	assert_int_equal(store_flags(f->acct, inbox, uids, 2, &upd, &res, &n, &f->err), 0);
	assert_false(res[0].changed);
	assert_int_equal(res[0].modseq, m1);
	store_flags_results_free(res, n);
	assert_int_equal(mbox(f, "INBOX").highestmodseq, m1);

	/* remove is case-insensitive for keywords */
	upd = (struct store_flags_update){.mode = STORE_FLAGS_REMOVE,
	                                  .flags = STORE_FLAG_SEEN,
	                                  .keywords = kw_b,
	                                  .keyword_count = 1};
	assert_int_equal(store_flags(f->acct, inbox, uids, 1, &upd, &res, &n, &f->err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(res[0].flags, STORE_FLAG_ANSWERED);
	assert_string_equal(res[0].keywords, "$label1");
	m2 = res[0].modseq;
	assert_true(m2 > m1);
	store_flags_results_free(res, n);
	assert_int_equal(mbox(f, "INBOX").unseen, 1);

	/* RFC 7162 UNCHANGEDSINCE: message 1 changed after m1, message 2 not */
	upd = (struct store_flags_update){
	    .mode = STORE_FLAGS_SET, .flags = STORE_FLAG_DRAFT, .unchanged_since = m1};
	assert_int_equal(store_flags(f->acct, inbox, uids, 2, &upd, &res, &n, &f->err), 0);
	assert_false(res[0].modified);
	assert_int_equal(res[0].modseq, m2);
	assert_true(res[1].modified);
	assert_int_equal(res[1].flags, STORE_FLAG_DRAFT);
	assert_null(res[1].keywords);
	assert_true(res[1].modseq > m2);
	store_flags_results_free(res, n);

	/* changes since m1: both (one by REMOVE, one by SET) */
	struct store_changes ch;
	assert_int_equal(store_changes_since(f->acct, inbox, m1, &ch, &f->err), 0);
	assert_int_equal(ch.changed.count, 2);
	assert_int_equal(ch.vanished_count, 0);
	store_changes_free(&ch);
	assert_int_equal(store_changes_since(f->acct, inbox, m2, &ch, &f->err), 0);
	assert_int_equal(ch.changed.count, 1);
	assert_int_equal(ch.changed.uids[0], uids[1]);
	store_changes_free(&ch);

	/* the mailbox remembers the keywords used in it */
	char **kws;
	size_t kw_count;
	assert_int_equal(store_mailbox_keywords(f->acct, inbox, &kws, &kw_count, &f->err), 0);
	assert_int_equal(kw_count, 2);
	assert_string_equal(kws[0], "$label1");
	assert_string_equal(kws[1], "Work");
	store_keywords_free(kws, kw_count);

	/* invalid keywords and unknown mailboxes */
	const char *bad[] = {"\\Seen"};
	upd = (struct store_flags_update){
	    .mode = STORE_FLAGS_ADD, .keywords = bad, .keyword_count = 1};
	assert_int_equal(store_flags(f->acct, inbox, uids, 1, &upd, NULL, NULL, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	upd.keyword_count = 0;
	assert_int_equal(store_flags(f->acct, 4242, uids, 1, &upd, NULL, NULL, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
}

static void test_tombstones_uidnext(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_flags_update del = {.mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_DELETED};
	struct store_changes ch;
	uint32_t u1, u2, u3;
	uint64_t m;

	u1 = append_text(f, inbox, "1\r\n", 0);
	u2 = append_text(f, inbox, "2\r\n", 0);
	u3 = append_text(f, inbox, "3\r\n", 0);
	m = mbox(f, "INBOX").highestmodseq;
	/* expunge the last message */
	assert_int_equal(store_flags(f->acct, inbox, &u3, 1, &del, NULL, NULL, &f->err), 0);
	assert_int_equal(store_expunge(f->acct, inbox, NULL, 0, NULL, NULL, &f->err), 0);
	assert_int_equal(mbox(f, "INBOX").uidnext, u3 + 1);
	assert_int_equal(store_changes_since(f->acct, inbox, m, &ch, &f->err), 0);
	assert_int_equal(ch.vanished_count, 1);
	assert_int_equal(ch.vanished[0], u3);
	assert_int_equal(ch.changed.count, 0); /* the flag change was on an expunged message */
	uint64_t tomb = (uint64_t)index_sql(f, "SELECT modseq FROM tombstones");
	assert_int_equal(tomb, ch.highestmodseq);
	assert_true(tomb > m + 1); /* flags at m+1, expunge after */
	store_changes_free(&ch);

	/* UIDNEXT and MODSEQ survive a reopen; no UID is reused */
	uint64_t hms = mbox(f, "INBOX").highestmodseq;
	uint32_t uidvalidity = mbox(f, "INBOX").uidvalidity;
	fixture_close(f);
	fixture_open(f);
	assert_int_equal(mbox(f, "INBOX").uidnext, u3 + 1);
	assert_int_equal(mbox(f, "INBOX").uidvalidity, uidvalidity);
	assert_int_equal(mbox(f, "INBOX").highestmodseq, hms);
	assert_int_equal(append_text(f, inbox, "4\r\n", 0), u3 + 1);
	assert_true(mbox(f, "INBOX").highestmodseq > hms);
	(void)u1;
	(void)u2;
}

/* ---- randomized differential test ---- */

#define RND_BOXES 3
#define RND_MAX 400

struct model_msg {
	uint32_t uid;
	unsigned flags;
	uint64_t size;
};
struct model_box {
	int64_t id;
	struct model_msg msgs[RND_MAX];
	size_t count;
	uint32_t uidnext;
};

static void model_check(struct fixture *f, struct model_box *b, const char *name)
{
	struct store_mailbox_status st = mbox(f, name);
	struct store_message_list list;
	uint32_t unseen = 0, deleted = 0;
	uint64_t size = 0;

	assert_int_equal(store_message_list(f->acct, b->id, &list, &f->err), 0);
	assert_int_equal(list.count, b->count);
	for (size_t i = 0; i < b->count; i++) {
		assert_int_equal(list.uids[i], b->msgs[i].uid);
		assert_int_equal(list.flags[i], b->msgs[i].flags);
		assert_int_equal(list.sizes[i], b->msgs[i].size);
		unseen += (b->msgs[i].flags & STORE_FLAG_SEEN) == 0;
		deleted += (b->msgs[i].flags & STORE_FLAG_DELETED) != 0;
		size += b->msgs[i].size;
		assert_true(list.modseqs[i] <= st.highestmodseq);
	}
	store_message_list_free(&list);
	assert_int_equal(st.messages, b->count);
	assert_int_equal(st.unseen, unseen);
	assert_int_equal(st.deleted, deleted);
	assert_int_equal(st.size, size);
	assert_int_equal(st.uidnext, b->uidnext);
}

static void test_random_counters(void **state)
{
	struct fixture *f = *state;
	static const char *names[RND_BOXES] = {"INBOX", "Archive", "Trash"};
	struct model_box *boxes = xcalloc(RND_BOXES, sizeof(*boxes));
	unsigned seed = 12345;

	for (int i = 0; i < RND_BOXES; i++) {
		boxes[i].id = mbox_id(f, names[i]);
		boxes[i].uidnext = 1;
	}
	for (int step = 0; step < 600; step++) {
		struct model_box *b = &boxes[rand_r(&seed) % RND_BOXES];
		int op = rand_r(&seed) % 10;

		if (op < 4 && b->count < RND_MAX) {
			/* append; sometimes the same text again (shared blob) */
			char *text = xasprintf("Subject: %u\r\n\r\nx\r\n", rand_r(&seed) % 50);
			unsigned flags = rand_r(&seed) & STORE_FLAGS_ALL;
			uint32_t uid = append_text(f, b->id, text, flags);
			assert_int_equal(uid, b->uidnext);
			b->msgs[b->count++] =
			    (struct model_msg){.uid = uid, .flags = flags, .size = strlen(text)};
			b->uidnext++;
			free(text);
		} else if (op < 7 && b->count > 0) {
			/* flags on a random subset */
			struct store_flags_update upd = {.mode = rand_r(&seed) % 3,
			                                 .flags = rand_r(&seed) & STORE_FLAGS_ALL};
			uint32_t uids[8];
			size_t n = 0;
			for (size_t i = 0; i < b->count && n < 8; i++) {
				if (rand_r(&seed) % 3 == 0)
					uids[n++] = b->msgs[i].uid;
			}
			assert_int_equal(
			    store_flags(f->acct, b->id, uids, n, &upd, NULL, NULL, &f->err), 0);
			for (size_t i = 0, k = 0; i < b->count && k < n; i++) {
				struct model_msg *m = &b->msgs[i];
				if (m->uid != uids[k])
					continue;
				k++;
				m->flags = upd.mode == STORE_FLAGS_SET   ? upd.flags
				           : upd.mode == STORE_FLAGS_ADD ? m->flags | upd.flags
				                                         : m->flags & ~upd.flags;
			}
		} else if (op < 8) {
			assert_int_equal(
			    store_expunge(f->acct, b->id, NULL, 0, NULL, NULL, &f->err), 0);
			size_t out = 0;
			for (size_t i = 0; i < b->count; i++) {
				if (!(b->msgs[i].flags & STORE_FLAG_DELETED))
					b->msgs[out++] = b->msgs[i];
			}
			b->count = out;
		} else if (b->count > 0) {
			/* copy or move the first message elsewhere */
			struct model_box *d = &boxes[rand_r(&seed) % RND_BOXES];
			bool move = op == 9 && d != b;
			uint32_t uid = b->msgs[0].uid, nuid = 0;
			size_t n;
			if (d->count >= RND_MAX)
				continue;
			assert_int_equal(
			    move ? store_move(f->acct, b->id, &uid, 1, d->id, &nuid, &n, &f->err)
			         : store_copy(f->acct, b->id, &uid, 1, d->id, &nuid, &n, &f->err),
			    0);
			assert_int_equal(nuid, d->uidnext);
			d->msgs[d->count] = b->msgs[0];
			d->msgs[d->count++].uid = nuid;
			d->uidnext++;
			if (move) {
				memmove(&b->msgs[0], &b->msgs[1],
				        (b->count - 1) * sizeof(b->msgs[0]));
				b->count--;
			}
		}
		if (step % 50 == 49) {
			for (int i = 0; i < RND_BOXES; i++)
				model_check(f, &boxes[i], names[i]);
		}
	}
	for (int i = 0; i < RND_BOXES; i++)
		model_check(f, &boxes[i], names[i]);
	/* refcounts equal the uses; check agrees that all is well */
	assert_int_equal(index_sql(f, "SELECT count(*) FROM blobs b WHERE refcount !="
	                              " (SELECT count(*) FROM messages m WHERE m.blob = b.hash)"),
	                 0);
	struct store_check_options opts = {0};
	struct store_check_report rep;
	assert_int_equal(store_check(f->acct, &opts, &rep, &f->err), 0);
	for (size_t i = 0; i < rep.line_count; i++)
		print_message("check: %s\n", rep.lines[i]);
	assert_int_equal(rep.line_count, 0);
	store_check_report_free(&rep);
	assert_int_equal(count_blob_files(f), (unsigned)index_sql(f, "SELECT count(*) FROM blobs"));
	free(boxes);
}

/* 100,000 messages: one query, streamed into arrays. The rows are made
 * with SQL (one blob shared by all; the triggers keep counters and the
 * refcount), since 100,000 real deliveries would be 100,000 fsyncs. */
static void test_list_100k(void **state)
{
	struct fixture *f = *state;
	enum { N = 100000 };
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_message_list list;
	struct store_changes ch;
	uint64_t start;

	append_text(f, inbox, "Subject: many\r\n\r\nx\r\n", 0);
	index_sql(f,
	          "WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)"
	          " INSERT INTO messages (mailbox_id, uid, blob, emailid, internaldate, savedate,"
	          " size, flags, keywords, modseq, only_lf)"
	          " SELECT m.mailbox_id, n.i, m.blob, m.emailid, m.internaldate, m.savedate,"
	          " m.size, n.i % 2, CASE WHEN n.i % 10 = 0 THEN 'Work' END, m.modseq + n.i % 7, 0"
	          " FROM n, messages m WHERE m.uid = 1 AND m.mailbox_id = 1");
	index_sql(f, "UPDATE mailboxes SET uidnext = 100001, highestmodseq = highestmodseq + 7"
	             " WHERE id = 1");
	assert_int_equal(mbox(f, "INBOX").messages, N);
	assert_int_equal(mbox(f, "INBOX").unseen, N / 2 + 1); /* uid 1 and the even ones */
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs"), N);

	start = time_now_ms();
	assert_int_equal(store_message_list(f->acct, inbox, &list, &f->err), 0);
	print_message("listed %zu messages in %llu ms\n", list.count,
	              (unsigned long long)(time_now_ms() - start));
	assert_int_equal(list.count, N);
	for (size_t i = 0; i < list.count; i++) {
		assert_int_equal(list.uids[i], i + 1);
		if (list.uids[i] % 10 == 0)
			assert_string_equal(list.keywords[i], "Work");
		else
			assert_null(list.keywords[i]);
	}
	store_message_list_free(&list);
	/* changes since a MODSEQ uses the (mailbox, modseq) index */
	uint64_t base = (uint64_t)index_sql(f, "SELECT modseq FROM messages WHERE uid = 1");
	assert_int_equal(store_changes_since(f->acct, inbox, base + 5, &ch, &f->err), 0);
	assert_true(ch.changed.count > N / 7 - 10 && ch.changed.count < N / 7 + 10);
	store_changes_free(&ch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_append_fetch, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_append_errors, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_append_fd, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_append_many, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_copy_shares_blob, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_move, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_expunge_blob_refcount, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_flags_modseq, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_tombstones_uidnext, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_random_counters, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_list_100k, store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
