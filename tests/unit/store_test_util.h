/* Shared helpers of the store/ unit tests (test_store*.c): a fresh data
 * directory per test, an open store and account, and small shortcuts. */
#ifndef ROOST_STORE_TEST_UTIL_H
#define ROOST_STORE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/base.h"
#include "store/store.h"

#include <dirent.h>
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TEST_ACCOUNT 7

struct fixture {
	char tmp[64];
	char *data_dir;
	struct store *store;
	struct store_account *acct;
	struct store_error err;
};

static inline int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static inline void fixture_open(struct fixture *f)
{
	assert_int_equal(store_open(f->data_dir, NULL, &f->store, &f->err), 0);
	assert_int_equal(store_account_open(f->store, TEST_ACCOUNT, &f->acct, &f->err), 0);
}

static inline void fixture_close(struct fixture *f)
{
	store_account_close(&f->acct);
	assert_null(f->acct);
	store_close(&f->store);
	assert_null(f->store);
}

static inline int store_setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	strcpy(f->tmp, "/tmp/roost-test-store-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	f->data_dir = xasprintf("%s/data", f->tmp);
	fixture_open(f);
	*state = f;
	return 0;
}

static inline int store_teardown(void **state)
{
	struct fixture *f = *state;

	fixture_close(f);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->data_dir);
	free(f);
	return 0;
}

/* Status of name, asserting it exists. */
static inline struct store_mailbox_status mbox(struct fixture *f, const char *name)
{
	struct store_mailbox_status st;

	if (store_mailbox_status(f->acct, name, &st, &f->err) < 0)
		fail_msg("status %s: %s", name, f->err.text);
	return st;
}

static inline int64_t mbox_id(struct fixture *f, const char *name)
{
	return mbox(f, name).id;
}

/* Append text (flags) to mailbox id; returns the UID. */
static inline uint32_t append_text(struct fixture *f, int64_t mailbox_id, const char *text,
                                   unsigned flags)
{
	struct store_append_msg msg = {
	    .data = text, .fd = -1, .size = strlen(text), .flags = flags};
	uint32_t uid = 0;

	if (store_append(f->acct, mailbox_id, &msg, 1, &uid, &f->err) < 0)
		fail_msg("append: %s", f->err.text);
	return uid;
}

static inline char *account_dir(struct fixture *f)
{
	return xasprintf("%s/accounts/%d", f->data_dir, TEST_ACCOUNT);
}

/* Number of regular files under blobs/xx/ (not tmp/). */
static inline unsigned count_blob_files(struct fixture *f)
{
	char *dir = xasprintf("%s/accounts/%d/blobs", f->data_dir, TEST_ACCOUNT);
	DIR *d = opendir(dir);
	struct dirent *de;
	unsigned n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strcmp(de->d_name, "tmp") == 0)
			continue;
		char *sub = xasprintf("%s/%s", dir, de->d_name);
		DIR *s = opendir(sub);
		struct dirent *e;
		assert_non_null(s);
		while ((e = readdir(s)) != NULL)
			n += e->d_name[0] != '.';
		closedir(s);
		free(sub);
	}
	closedir(d);
	free(dir);
	return n;
}

/* Run one SQL statement on the account's index.db from outside the store
 * (as a corruption would), returning the first column of the first row. */
static inline int64_t index_sql(struct fixture *f, const char *sql)
{
	char *path = xasprintf("%s/accounts/%d/index.db", f->data_dir, TEST_ACCOUNT);
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int64_t v = -1;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(stmt, 0);
	else if (rc != SQLITE_DONE)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
	return v;
}

#endif
