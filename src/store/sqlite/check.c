/*
 * `roost check`'s engine: reconcile index.db with the blob files.
 *
 * It runs as one write job, so it sees a stable index (no delivery commits
 * meanwhile) and its repairs commit atomically. Findings, in order:
 * blob rows whose refcount differs from the messages that use them (and
 * messages whose blob has no row at all), referenced blob files that are
 * gone (repair: those messages are expunged, with tombstones, since their
 * bytes are lost), files that nothing references (repair: removed, but only
 * when older than min_orphan_age_secs: a delivery in another process may
 * have written it and be about to commit), stale temp files, and mailbox
 * rows whose UIDNEXT, HIGHESTMODSEQ or counters disagree with the messages.
 */
#include "sqlite_private.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct check_job {
	const struct store_check_options *opts;
	struct store_check_report *report;
};

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static bool old_enough(struct check_job *ctx, const struct stat *st)
{
	return (uint64_t)time(NULL) >= (uint64_t)st->st_mtime + ctx->opts->min_orphan_age_secs;
}

/* Messages whose blob has no row: recreate the row from the file. */
static int check_blob_rows(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                           struct store_error *err)
{
	struct check_job *ctx = job->ctx;
	sqlite3_stmt *stmt = sdb_stmt(&a->wdb,
	                              "SELECT DISTINCT blob FROM messages"
	                              " WHERE blob NOT IN (SELECT hash FROM blobs)",
	                              err);
	char **hashes = NULL;
	size_t count = 0;
	int rc, ret = 0;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		hashes = xrealloc(hashes, (count + 1) * sizeof(*hashes));
		hashes[count++] = sq_column_strdup(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		ret = sq_db_error(&a->wdb, "listing blobs", err);
	for (size_t i = 0; i < count && ret == 0; i++) {
		struct store_blob map = {.fd = -1};
		struct sq_blob_new blob;
		struct store_error ignored;

		ctx->report->bad_refcounts++;
		store_check_report_add(ctx->report, "blob %s is used but has no index row",
		                       hashes[i]);
		if (!ctx->opts->repair)
			continue;
		memset(&blob, 0, sizeof(blob));
		snprintf(blob.hash, sizeof(blob.hash), "%s", hashes[i]);
		if (sq_blob_map(a, hashes[i], &map, &ignored) == 0) {
			sq_blob_parse(map.data != NULL ? (const void *)map.data : "", map.size,
			              &blob);
			blob.size = map.size;
			store_blob_close(&map);
		}
		/* without a file the row still lets the next step find it
		 * missing and expunge its messages */
		ret = sq_blob_install(a, batch, &blob, err);
		sq_blob_new_free(&blob);
		ctx->report->repaired++;
	}
	for (size_t i = 0; i < count; i++)
		free(hashes[i]);
	free(hashes);
	return ret;
}

static int check_refcounts(struct sq_account *a, struct sq_job *job, struct store_error *err)
{
	struct check_job *ctx = job->ctx;
	sqlite3_stmt *stmt = sdb_stmt(&a->wdb,
	                              "SELECT b.hash, b.refcount,"
	                              " (SELECT count(*) FROM messages m WHERE m.blob = b.hash)"
	                              " FROM blobs b",
	                              err);
	struct fix {
		char *hash;
		int64_t refs;
	} *fixes = NULL;
	size_t count = 0;
	int rc, ret = 0;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t refcount = sqlite3_column_int64(stmt, 1);
		int64_t refs = sqlite3_column_int64(stmt, 2);
		if (refcount == refs)
			continue;
		ctx->report->bad_refcounts++;
		store_check_report_add(ctx->report, "blob %s has refcount %lld but %lld uses",
		                       (const char *)sqlite3_column_text(stmt, 0),
		                       (long long)refcount, (long long)refs);
		fixes = xrealloc(fixes, (count + 1) * sizeof(*fixes));
		fixes[count].hash = sq_column_strdup(stmt, 0);
		fixes[count++].refs = refs;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		ret = sq_db_error(&a->wdb, "counting blob uses", err);
	for (size_t i = 0; i < count && ret == 0 && ctx->opts->repair; i++) {
		stmt = sdb_stmt(&a->wdb, "UPDATE blobs SET refcount = ? WHERE hash = ?", err);
		if (stmt == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(stmt, 1, fixes[i].refs);
		sqlite3_bind_text(stmt, 2, fixes[i].hash, -1, SQLITE_STATIC);
		ret = sdb_step_done(&a->wdb, stmt, err);
		ctx->report->repaired++;
	}
	for (size_t i = 0; i < count; i++)
		free(fixes[i].hash);
	free(fixes);
	return ret;
}

/* Expunge every message using hash (its bytes are gone). */
static int expunge_blob_users(struct sq_account *a, struct sq_job *job, const char *hash,
                              struct store_error *err)
{
	sqlite3_stmt *stmt =
	    sdb_stmt(&a->wdb, "SELECT mailbox_id, uid FROM messages WHERE blob = ?", err);
	struct {
		int64_t mailbox_id;
		uint32_t uid;
	} *msgs = NULL;
	size_t count = 0;
	int rc, ret = 0;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		msgs = xrealloc(msgs, (count + 1) * sizeof(*msgs));
		msgs[count].mailbox_id = sqlite3_column_int64(stmt, 0);
		msgs[count++].uid = (uint32_t)sqlite3_column_int64(stmt, 1);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		ret = sq_db_error(&a->wdb, "listing messages", err);
	for (size_t i = 0; i < count && ret == 0; i++) {
		struct sq_mailbox mb;
		struct store_error ignored;

		if (sq_mailbox_get(&a->wdb, msgs[i].mailbox_id, &mb, STORE_ERR_NONEXISTENT,
		                   &ignored) < 0) {
			/* a message of a mailbox that is gone: just drop it */
			mb.id = msgs[i].mailbox_id;
			mb.highestmodseq = 0;
		}
		mb.highestmodseq++;
		ret = sq_message_expunge_one(&a->wdb, msgs[i].mailbox_id, msgs[i].uid,
		                             mb.highestmodseq, err);
		if (ret == 0 && mb.highestmodseq > 1) {
			ret = sq_mailbox_bump(&a->wdb, &mb, err);
			sq_job_change(job, a, mb.id, STORE_CHANGE_EXPUNGE);
		}
	}
	free(msgs);
	return ret;
}

static int check_missing(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                         struct store_error *err)
{
	struct check_job *ctx = job->ctx;
	sqlite3_stmt *stmt = sdb_stmt(&a->wdb, "SELECT DISTINCT blob FROM messages", err);
	char **missing = NULL;
	size_t count = 0;
	int rc, ret = 0;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char *path = sq_blob_path(a, (const char *)sqlite3_column_text(stmt, 0));
		if (!file_exists(path)) {
			missing = xrealloc(missing, (count + 1) * sizeof(*missing));
			missing[count++] = sq_column_strdup(stmt, 0);
		}
		free(path);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		ret = sq_db_error(&a->wdb, "listing blobs", err);
	for (size_t i = 0; i < count && ret == 0; i++) {
		ctx->report->missing_blobs++;
		store_check_report_add(ctx->report, "blob %s is missing", missing[i]);
		if (!ctx->opts->repair)
			continue;
		ret = expunge_blob_users(a, job, missing[i], err);
		batch->gc_needed = true;
		ctx->report->repaired++;
	}
	for (size_t i = 0; i < count; i++)
		free(missing[i]);
	free(missing);
	return ret;
}

/* 1 if a message uses hash (the truth; refcounts may be wrong). */
static int blob_used(struct sq_account *a, const char *hash, struct store_error *err)
{
	sqlite3_stmt *stmt =
	    sdb_stmt(&a->wdb, "SELECT 1 FROM messages WHERE blob = ? LIMIT 1", err);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_error(&a->wdb, "looking up a blob", err);
	return rc == SQLITE_ROW;
}

/* Walk one directory: blobs/xx (is_tmp false) or blobs/tmp. */
static int check_dir(struct sq_account *a, struct check_job *ctx, const char *dir, bool is_tmp,
                     struct store_error *err)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int ret = 0;

	if (d == NULL)
		return errno == ENOENT ? 0
		                       : store_error_set(err, STORE_ERR_SERVERBUG, "opendir %s: %s",
		                                         dir, strerror(errno));
	while (ret == 0 && (de = readdir(d)) != NULL) {
		char *path;
		struct stat st;
		int used = 0;

		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || !old_enough(ctx, &st)) {
			free(path);
			continue;
		}
		if (!is_tmp)
			used = blob_used(a, de->d_name, err);
		if (used == 0) {
			if (is_tmp)
				ctx->report->stale_tempfiles++;
			else
				ctx->report->orphan_blobs++;
			store_check_report_add(ctx->report, "%s %s is not used",
			                       is_tmp ? "temp file" : "blob", path);
			if (ctx->opts->repair && unlink(path) == 0)
				ctx->report->repaired++;
		}
		ret = used < 0 ? -1 : 0;
		free(path);
	}
	closedir(d);
	return ret;
}

static int check_files(struct sq_account *a, struct check_job *ctx, struct store_error *err)
{
	DIR *d = opendir(a->blob_dir);
	struct dirent *de;
	int ret = 0;

	if (d == NULL)
		return store_error_set(err, STORE_ERR_SERVERBUG, "opendir %s: %s", a->blob_dir,
		                       strerror(errno));
	while (ret == 0 && (de = readdir(d)) != NULL) {
		char *sub;
		if (de->d_name[0] == '.' || strcmp(de->d_name, "tmp") == 0)
			continue;
		sub = xasprintf("%s/%s", a->blob_dir, de->d_name);
		ret = check_dir(a, ctx, sub, false, err);
		free(sub);
	}
	closedir(d);
	if (ret == 0)
		ret = check_dir(a, ctx, a->tmp_dir, true, err);
	return ret;
}

/* UIDNEXT above every UID used (tombstones included), HIGHESTMODSEQ at or
 * above every MODSEQ, counters equal to a count. */
static int check_mailboxes(struct sq_account *a, struct sq_job *job, struct store_error *err)
{
	struct check_job *ctx = job->ctx;
	sqlite3_stmt *stmt = sdb_stmt(
	    &a->wdb,
	    "SELECT b.id, b.name, b.uidnext, b.highestmodseq, b.messages, b.unseen, b.deleted,"
	    " b.size, max(coalesce(c.maxuid, 0), coalesce(t.maxuid, 0)),"
	    " max(coalesce(c.maxmodseq, 0), coalesce(t.maxmodseq, 0)),"
	    " coalesce(c.n, 0), coalesce(c.unseen, 0), coalesce(c.deleted, 0), coalesce(c.size, 0)"
	    " FROM mailboxes b"
	    " LEFT JOIN (SELECT mailbox_id, max(uid) AS maxuid, max(modseq) AS maxmodseq,"
	    "  count(*) AS n, sum((flags & 1) = 0) AS unseen, sum((flags & 8) != 0) AS deleted,"
	    "  sum(size) AS size FROM messages GROUP BY mailbox_id) c ON c.mailbox_id = b.id"
	    " LEFT JOIN (SELECT mailbox_id, max(uid) AS maxuid, max(modseq) AS maxmodseq"
	    "  FROM tombstones GROUP BY mailbox_id) t ON t.mailbox_id = b.id",
	    err);
	struct fix {
		int64_t id;
		int64_t uidnext, modseq, n, unseen, deleted, size;
	} *fixes = NULL;
	size_t count = 0;
	int rc, ret = 0;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 1);
		int64_t v[14];
		bool bad_uid, bad_counters;

		for (int i = 0; i < 14; i++)
			v[i] = sqlite3_column_int64(stmt, i);
		bad_uid = v[2] <= v[8];
		bad_counters =
		    v[3] < v[9] || v[4] != v[10] || v[5] != v[11] || v[6] != v[12] || v[7] != v[13];
		if (!bad_uid && !bad_counters)
			continue;
		if (bad_uid) {
			ctx->report->bad_uidnext++;
			store_check_report_add(ctx->report,
			                       "mailbox %s: UIDNEXT %lld but UID %lld exists", name,
			                       (long long)v[2], (long long)v[8]);
		}
		if (bad_counters) {
			ctx->report->bad_counters++;
			store_check_report_add(ctx->report, "mailbox %s: counters are wrong", name);
		}
		fixes = xrealloc(fixes, (count + 1) * sizeof(*fixes));
		fixes[count++] = (struct fix){
		    .id = v[0],
		    .uidnext = bad_uid ? v[8] + 1 : v[2],
		    .modseq = v[3] < v[9] ? v[9] + 1 : v[3],
		    .n = v[10],
		    .unseen = v[11],
		    .deleted = v[12],
		    .size = v[13],
		};
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		ret = sq_db_error(&a->wdb, "checking mailboxes", err);
	for (size_t i = 0; i < count && ret == 0 && ctx->opts->repair; i++) {
		stmt = sdb_stmt(&a->wdb,
		                "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?, messages = ?,"
		                " unseen = ?, deleted = ?, size = ?, changes = changes + 1"
		                " WHERE id = ?",
		                err);
		if (stmt == NULL) {
			ret = -1;
			break;
		}
		sqlite3_bind_int64(stmt, 1, fixes[i].uidnext);
		sqlite3_bind_int64(stmt, 2, fixes[i].modseq);
		sqlite3_bind_int64(stmt, 3, fixes[i].n);
		sqlite3_bind_int64(stmt, 4, fixes[i].unseen);
		sqlite3_bind_int64(stmt, 5, fixes[i].deleted);
		sqlite3_bind_int64(stmt, 6, fixes[i].size);
		sqlite3_bind_int64(stmt, 7, fixes[i].id);
		ret = sdb_step_done(&a->wdb, stmt, err);
		sq_job_change(job, a, fixes[i].id, STORE_CHANGE_EXTERNAL);
		ctx->report->repaired++;
	}
	free(fixes);
	return ret;
}

static int job_check(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                     struct store_error *err)
{
	struct check_job *ctx = job->ctx;

	if (check_blob_rows(a, job, batch, err) < 0 || check_refcounts(a, job, err) < 0 ||
	    check_missing(a, job, batch, err) < 0 || check_files(a, ctx, err) < 0 ||
	    check_mailboxes(a, job, err) < 0)
		return -1;
	if (ctx->opts->repair)
		batch->gc_needed = true;
	return 0;
}

int sq_check(void *be, const struct store_check_options *opts, struct store_check_report *report,
             struct store_error *err)
{
	struct check_job ctx = {.opts = opts, .report = report};
	struct sq_job job = {.run = job_check, .ctx = &ctx};

	return sq_write(be, &job, err);
}
