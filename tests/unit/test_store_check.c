/* Unit tests for store/'s check engine (roost check): orphan, missing and
 * wrongly counted blobs, UIDNEXT and counters, stale temp files; found,
 * then repaired, then clean. */
#include "store_test_util.h"

#include <fcntl.h>
#include <utime.h>

static const struct store_check_options report_only = {.repair = false};
static const struct store_check_options repair = {.repair = true};

static struct store_check_report run_check(struct fixture *f,
                                           const struct store_check_options *opts)
{
	struct store_check_report rep;

	if (store_check(f->acct, opts, &rep, &f->err) < 0)
		fail_msg("check: %s", f->err.text);
	return rep;
}

static void assert_clean(struct fixture *f)
{
	struct store_check_report rep = run_check(f, &report_only);

	for (size_t i = 0; i < rep.line_count; i++)
		print_message("unexpected: %s\n", rep.lines[i]);
	assert_int_equal(rep.line_count, 0);
	assert_int_equal(rep.missing_blobs + rep.orphan_blobs + rep.bad_refcounts +
	                     rep.bad_uidnext + rep.bad_counters + rep.stale_tempfiles,
	                 0);
	store_check_report_free(&rep);
}

static char *write_file(struct fixture *f, const char *rel, const char *content)
{
	char *dir = account_dir(f);
	char *path = xasprintf("%s/%s", dir, rel);
	char *slash = strrchr(path, '/');
	FILE *fp;

	*slash = '\0';
	mkdir(path, 0700);
	*slash = '/';
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(content, fp);
	fclose(fp);
	free(dir);
	return path;
}

static void test_clean(void **state)
{
	struct fixture *f = *state;

	append_text(f, mbox_id(f, "INBOX"), "Subject: a\r\n\r\nx\r\n", 0);
	assert_clean(f);
}

static void test_orphan_blob(void **state)
{
	struct fixture *f = *state;
	static const char hash[] =
	    "ab00000000000000000000000000000000000000000000000000000000000001";
	char *rel = xasprintf("blobs/ab/%s", hash);
	char *path = write_file(f, rel, "lost\r\n");
	struct store_check_report rep;
	struct store_check_options young = {.repair = true, .min_orphan_age_secs = 3600};

	append_text(f, mbox_id(f, "INBOX"), "Subject: a\r\n\r\nx\r\n", 0);
	/* too young: a delivery may be about to commit it */
	rep = run_check(f, &young);
	assert_int_equal(rep.orphan_blobs, 0);
	store_check_report_free(&rep);
	assert_int_equal(access(path, F_OK), 0);

	rep = run_check(f, &report_only);
	assert_int_equal(rep.orphan_blobs, 1);
	assert_int_equal(rep.line_count, 1);
	assert_non_null(strstr(rep.lines[0], hash));
	assert_int_equal(rep.repaired, 0);
	store_check_report_free(&rep);
	assert_int_equal(access(path, F_OK), 0);

	rep = run_check(f, &repair);
	assert_int_equal(rep.orphan_blobs, 1);
	assert_int_equal(rep.repaired, 1);
	store_check_report_free(&rep);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_blob_files(f), 1);
	assert_clean(f);
	free(path);
	free(rel);
}

static void test_missing_blob(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_check_report rep;
	struct store_changes ch;
	struct store_blob blob;
	uint32_t lost, kept;
	uint64_t modseq;
	char *dir = account_dir(f);

	lost = append_text(f, inbox, "Subject: lost\r\n\r\nx\r\n", 0);
	kept = append_text(f, inbox, "Subject: kept\r\n\r\ny\r\n", 0);
	modseq = mbox(f, "INBOX").highestmodseq;
	/* remove the first message's file behind the store's back */
	assert_int_equal(store_message_open(f->acct, inbox, lost, &blob, &f->err), 0);
	store_blob_close(&blob);
	char hash[65];
	{
		char *sql = xasprintf("SELECT blob FROM messages WHERE uid = %u", lost);
		sqlite3 *db;
		sqlite3_stmt *st;
		char *dbpath = xasprintf("%s/index.db", dir);
		assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(st), SQLITE_ROW);
		snprintf(hash, sizeof(hash), "%s", (const char *)sqlite3_column_text(st, 0));
		sqlite3_finalize(st);
		sqlite3_close(db);
		free(dbpath);
		free(sql);
	}
	char *path = xasprintf("%s/blobs/%.2s/%s", dir, hash, hash);
	assert_int_equal(unlink(path), 0);

	rep = run_check(f, &report_only);
	assert_int_equal(rep.missing_blobs, 1);
	store_check_report_free(&rep);
	assert_int_equal(mbox(f, "INBOX").messages, 2);

	rep = run_check(f, &repair);
	assert_int_equal(rep.missing_blobs, 1);
	assert_true(rep.repaired >= 1);
	store_check_report_free(&rep);
	/* the message whose bytes are gone is expunged, visibly */
	assert_int_equal(mbox(f, "INBOX").messages, 1);
	assert_int_equal(store_changes_since(f->acct, inbox, modseq, &ch, &f->err), 0);
	assert_int_equal(ch.vanished_count, 1);
	assert_int_equal(ch.vanished[0], lost);
	store_changes_free(&ch);
	assert_int_equal(store_message_open(f->acct, inbox, kept, &blob, &f->err), 0);
	store_blob_close(&blob);
	assert_clean(f);
	free(path);
	free(dir);
}

static void test_wrong_refcount(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_check_report rep;
	uint32_t uid;
	size_t n;

	uid = append_text(f, inbox, "Subject: r\r\n\r\nx\r\n", 0);
	assert_int_equal(
	    store_copy(f->acct, inbox, &uid, 1, mbox_id(f, "Archive"), NULL, &n, &f->err), 0);
	index_sql(f, "UPDATE blobs SET refcount = 5");

	rep = run_check(f, &report_only);
	assert_int_equal(rep.bad_refcounts, 1);
	store_check_report_free(&rep);
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs"), 5);

	rep = run_check(f, &repair);
	assert_int_equal(rep.bad_refcounts, 1);
	assert_int_equal(rep.repaired, 1);
	store_check_report_free(&rep);
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs"), 2);
	assert_clean(f);

	/* a blob row that vanished is rebuilt from the file */
	index_sql(f, "DELETE FROM blobs");
	rep = run_check(f, &repair);
	assert_true(rep.bad_refcounts >= 1);
	store_check_report_free(&rep);
	assert_int_equal(index_sql(f, "SELECT refcount FROM blobs"), 2);
	struct store_message_info info;
	assert_int_equal(store_message_info(f->acct, inbox, uid, &info, &f->err), 0);
	assert_string_equal(info.subject, "r");
	store_message_info_free(&info);
	assert_clean(f);
}

static void test_uidnext_counters(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_check_report rep;
	uint32_t uid;

	append_text(f, inbox, "Subject: 1\r\n\r\nx\r\n", 0);
	uid = append_text(f, inbox, "Subject: 2\r\n\r\ny\r\n", 0);
	index_sql(f, "UPDATE mailboxes SET uidnext = 1, unseen = 7 WHERE name = 'INBOX'");

	rep = run_check(f, &report_only);
	assert_int_equal(rep.bad_uidnext, 1);
	assert_int_equal(rep.bad_counters, 1);
	store_check_report_free(&rep);

	rep = run_check(f, &repair);
	assert_int_equal(rep.repaired, 1);
	store_check_report_free(&rep);
	assert_int_equal(mbox(f, "INBOX").uidnext, uid + 1);
	assert_int_equal(mbox(f, "INBOX").unseen, 2);
	assert_int_equal(append_text(f, inbox, "Subject: 3\r\n\r\nz\r\n", 0), uid + 1);
	assert_clean(f);
}

static void test_stale_tempfile(void **state)
{
	struct fixture *f = *state;
	char *path = write_file(f, "blobs/tmp/tinterrupted", "half a message");
	struct utimbuf old = {.actime = time(NULL) - 7200, .modtime = time(NULL) - 7200};
	struct store_check_options opts = {.repair = true, .min_orphan_age_secs = 3600};
	struct store_check_report rep;

	assert_int_equal(utime(path, &old), 0);
	rep = run_check(f, &opts);
	assert_int_equal(rep.stale_tempfiles, 1);
	assert_int_equal(rep.repaired, 1);
	store_check_report_free(&rep);
	assert_int_equal(access(path, F_OK), -1);
	assert_clean(f);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_clean, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_orphan_blob, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_missing_blob, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_wrong_refcount, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_uidnext_counters, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_stale_tempfile, store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
