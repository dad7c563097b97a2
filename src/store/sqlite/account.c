/*
 * An open account of the SQLite backend: its directories, the write
 * connection and its group-commit queue, the pool of read connections, and
 * the backend's ops table.
 *
 * Durability: index.db runs in WAL mode with synchronous=FULL, so COMMIT
 * returns after the WAL is fsync'ed; blob files and their directories are
 * fsync'ed before that COMMIT. Checkpoints are SQLite's automatic ones
 * (every 1000 WAL pages, run by the committing leader). docs/storage.md
 * says why.
 */
#include "sqlite_private.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- connections ---- */

int sq_db_error(struct sdb *c, const char *what, struct store_error *err)
{
	return store_error_set(err, STORE_ERR_SERVERBUG, "index.db: %s: %s", what,
	                       sqlite3_errmsg(c->db));
}

sqlite3_stmt *sdb_stmt(struct sdb *c, const char *sql, struct store_error *err)
{
	sqlite3_stmt *stmt;

	for (unsigned i = 0; i < c->count; i++) {
		if (c->cache[i].sql == sql) {
			stmt = c->cache[i].stmt;
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			return stmt;
		}
	}
	if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) !=
	    SQLITE_OK) {
		sq_db_error(c, "prepare", err);
		return NULL;
	}
	if (c->count == c->cap) {
		c->cap = c->cap == 0 ? 32 : c->cap * 2;
		c->cache = xrealloc(c->cache, c->cap * sizeof(c->cache[0]));
	}
	c->cache[c->count].sql = sql;
	c->cache[c->count].stmt = stmt;
	c->count++;
	return stmt;
}

int sdb_exec(struct sdb *c, const char *sql, struct store_error *err)
{
	uint64_t deadline = time_now_ms() + SQ_BUSY_TIMEOUT_MS;
	char *msg = NULL;
	int rc;

	/* Some locks are refused at once, without the busy handler: changing
	 * the journal mode, and WAL recovery after a process was killed while
	 * it held the database (the crash test meets both when deliveries
	 * race to create an account). Those are retried until the timeout. */
	while ((rc = sqlite3_exec(c->db, sql, NULL, NULL, &msg)) != SQLITE_OK &&
	       (rc & 0xff) == SQLITE_BUSY && time_now_ms() < deadline) {
		sqlite3_free(msg);
		msg = NULL;
		sqlite3_sleep(5);
	}
	if (rc != SQLITE_OK) {
		store_error_set(err, STORE_ERR_SERVERBUG, "index.db: %s",
		                msg != NULL ? msg : sqlite3_errmsg(c->db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

int sdb_step_done(struct sdb *c, sqlite3_stmt *stmt, struct store_error *err)
{
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		;
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return sq_db_error(c, "step", err);
	return 0;
}

char *sq_column_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);

	return s == NULL ? NULL : xstrdup((const char *)s);
}

static int sdb_open(struct sdb *c, const char *path, bool writer, struct store_error *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	int rc;

	memset(c, 0, sizeof(*c));
	rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		store_error_set(err, STORE_ERR_SERVERBUG, "cannot open %s: %s", path,
		                c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		sqlite3_close(c->db);
		c->db = NULL;
		return -1;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQ_BUSY_TIMEOUT_MS);
	if (writer) {
		/* WAL: readers never block the writer nor the writer them.
		 * FULL: the WAL is fsync'ed at every COMMIT, so a commit that
		 * returned survives a power cut (NORMAL would not). */
		if (sdb_exec(c, "PRAGMA journal_mode = WAL", err) < 0 ||
		    sdb_exec(c, "PRAGMA synchronous = FULL", err) < 0)
			return -1;
	} else {
		if (sdb_exec(c, "PRAGMA query_only = 1", err) < 0)
			return -1;
	}
	return 0;
}

static void sdb_close(struct sdb *c)
{
	for (unsigned i = 0; i < c->count; i++)
		sqlite3_finalize(c->cache[i].stmt);
	free(c->cache);
	c->cache = NULL;
	c->count = c->cap = 0;
	if (c->db != NULL && sqlite3_close(c->db) != SQLITE_OK)
		log_err("index.db: close: %s", sqlite3_errmsg(c->db));
	c->db = NULL;
}

struct sq_reader *sq_reader_get(struct sq_account *a, struct store_error *err)
{
	struct sq_reader *r;

	pthread_mutex_lock(&a->readers_lock);
	r = a->readers;
	if (r != NULL)
		a->readers = r->next;
	pthread_mutex_unlock(&a->readers_lock);
	if (r != NULL)
		return r;
	r = xcalloc(1, sizeof(*r));
	if (sdb_open(&r->c, a->db_path, false, err) < 0) {
		sdb_close(&r->c);
		free(r);
		return NULL;
	}
	return r;
}

void sq_reader_put(struct sq_account *a, struct sq_reader *r)
{
	/* a read transaction left open would pin the WAL */
	if (!sqlite3_get_autocommit(r->c.db))
		sqlite3_exec(r->c.db, "ROLLBACK", NULL, NULL, NULL);
	pthread_mutex_lock(&a->readers_lock);
	r->next = a->readers;
	a->readers = r;
	pthread_mutex_unlock(&a->readers_lock);
}

/* ---- group commit ---- */

void sq_job_change(struct sq_job *job, struct sq_account *a, int64_t mailbox_id, unsigned kinds)
{
	for (size_t i = 0; i < job->change_count; i++) {
		if (job->changes[i].mailbox_id == mailbox_id) {
			job->changes[i].kinds |= kinds;
			return;
		}
	}
	job->changes = xrealloc(job->changes, (job->change_count + 1) * sizeof(*job->changes));
	memset(&job->changes[job->change_count], 0, sizeof(job->changes[0]));
	job->changes[job->change_count].account_id = a->id;
	job->changes[job->change_count].mailbox_id = mailbox_id;
	job->changes[job->change_count].kinds = kinds;
	job->change_count++;
}

void sq_batch_fsync_dir(struct sq_batch *batch, const char *dir)
{
	for (size_t i = 0; i < batch->fsync_dir_count; i++) {
		if (strcmp(batch->fsync_dirs[i], dir) == 0)
			return;
	}
	batch->fsync_dirs =
	    xrealloc(batch->fsync_dirs, (batch->fsync_dir_count + 1) * sizeof(char *));
	batch->fsync_dirs[batch->fsync_dir_count++] = xstrdup(dir);
}

/* Fill in the counters the hub reports, from the write connection (inside
 * the transaction, so they are those of this commit). */
static void batch_fill_changes(struct sq_account *a, struct sq_job *job)
{
	struct store_error err;

	for (size_t i = 0; i < job->change_count; i++) {
		struct store_change *ch = &job->changes[i];
		sqlite3_stmt *stmt = sdb_stmt(
		    &a->wdb, "SELECT changes, highestmodseq, uidnext FROM mailboxes WHERE id = ?",
		    &err);
		if (stmt == NULL)
			continue;
		sqlite3_bind_int64(stmt, 1, ch->mailbox_id);
		if (sqlite3_step(stmt) == SQLITE_ROW) {
			ch->changes = (uint64_t)sqlite3_column_int64(stmt, 0);
			ch->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 1);
			ch->uidnext = (uint32_t)sqlite3_column_int64(stmt, 2);
		}
		sqlite3_reset(stmt);
	}
}

static void batch_fail_all(struct sq_job *batch, const struct store_error *err)
{
	for (struct sq_job *j = batch; j != NULL; j = j->next) {
		if (j->ret == 0) {
			j->ret = -1;
			j->err = *err;
		}
	}
}

/*
 * The leader's work: one transaction for every job of the batch. Each job
 * runs in a SAVEPOINT so that a failing job (mailbox gone, ...) is rolled
 * back alone. The directories the jobs renamed blobs into are fsync'ed
 * before COMMIT, so an acknowledged message never points to a file that a
 * crash could lose.
 */
static void batch_run(struct sq_account *a, struct sq_job *jobs)
{
	struct sq_batch batch;
	struct store_error err;
	size_t n = 0;

	memset(&batch, 0, sizeof(batch));
	store_error_clear(&err);
	if (sdb_exec(&a->wdb, "BEGIN IMMEDIATE", &err) < 0) {
		batch_fail_all(jobs, &err);
		return;
	}
	for (struct sq_job *j = jobs; j != NULL; j = j->next) {
		store_error_clear(&j->err);
		if (sdb_exec(&a->wdb, "SAVEPOINT job", &j->err) < 0) {
			j->ret = -1;
			continue;
		}
		j->ret = j->run(a, j, &batch, &j->err);
		if (j->ret < 0) {
			sqlite3_exec(a->wdb.db, "ROLLBACK TO job", NULL, NULL, NULL);
			j->change_count = 0;
		} else {
			batch_fill_changes(a, j);
		}
		sqlite3_exec(a->wdb.db, "RELEASE job", NULL, NULL, NULL);
		if (sqlite3_get_autocommit(a->wdb.db)) {
			/* an I/O error made SQLite roll the whole transaction
			 * back: nothing of the batch may be reported done */
			store_error_set(&err, STORE_ERR_SERVERBUG, "index.db: transaction aborted");
			batch_fail_all(jobs, &err);
			goto out;
		}
	}
	for (size_t i = 0; i < batch.fsync_dir_count; i++) {
		if (sq_fsync_dir(batch.fsync_dirs[i]) < 0) {
			store_error_set(&err, STORE_ERR_SERVERBUG, "fsync %s: %s",
			                batch.fsync_dirs[i], strerror(errno));
			batch_fail_all(jobs, &err);
			sqlite3_exec(a->wdb.db, "ROLLBACK", NULL, NULL, NULL);
			goto out;
		}
	}
	if (sdb_exec(&a->wdb, "COMMIT", &err) < 0) {
		batch_fail_all(jobs, &err);
		sqlite3_exec(a->wdb.db, "ROLLBACK", NULL, NULL, NULL);
		goto out;
	}
	for (struct sq_job *j = jobs; j != NULL; j = j->next)
		n += j->ret == 0;
	pthread_mutex_lock(&a->queue_lock);
	a->commits++;
	a->operations += n;
	pthread_mutex_unlock(&a->queue_lock);

	for (struct sq_job *j = jobs; j != NULL; j = j->next) {
		for (size_t i = 0; i < j->change_count; i++)
			store_hub_publish(a->store->hub, &j->changes[i]);
	}
	if (batch.gc_needed && sq_blob_gc(a, &err) < 0)
		log_warn("account %lld: removing unused blobs: %s (roost check will)",
		         (long long)a->id, err.text);
out:
	for (size_t i = 0; i < batch.fsync_dir_count; i++)
		free(batch.fsync_dirs[i]);
	free(batch.fsync_dirs);
}

/*
 * Queue job and wait until it has been committed (or failed). Whoever finds
 * no leader becomes it and commits everything queued so far; writers that
 * arrive meanwhile queue up and are carried by the next batch. So N
 * concurrent writers cost far fewer than N fsyncs.
 */
int sq_write(struct sq_account *a, struct sq_job *job, struct store_error *err)
{
	job->ret = 0;
	job->done = false;
	job->next = NULL;
	job->changes = NULL;
	job->change_count = 0;

	pthread_mutex_lock(&a->queue_lock);
	*a->queue_tail = job;
	a->queue_tail = &job->next;
	while (!job->done) {
		if (a->leader_active) {
			pthread_cond_wait(&a->queue_cond, &a->queue_lock);
			continue;
		}
		struct sq_job *batch = a->queue_head;
		a->queue_head = NULL;
		a->queue_tail = &a->queue_head;
		a->leader_active = true;
		pthread_mutex_unlock(&a->queue_lock);

		batch_run(a, batch);

		pthread_mutex_lock(&a->queue_lock);
		for (struct sq_job *j = batch, *next; j != NULL; j = next) {
			next = j->next;
			j->done = true;
		}
		a->leader_active = false;
		pthread_cond_broadcast(&a->queue_cond);
	}
	pthread_mutex_unlock(&a->queue_lock);

	free(job->changes);
	job->changes = NULL;
	if (job->ret < 0)
		*err = job->err;
	return job->ret;
}

/* ---- open and close ---- */

/* 1 created, 0 existed, -1 error. */
static int mkdir_if_missing(const char *path, struct store_error *err)
{
	if (mkdir(path, 0700) == 0)
		return 1;
	if (errno != EEXIST)
		return store_error_set(err, STORE_ERR_SERVERBUG, "mkdir %s: %s", path,
		                       strerror(errno));
	return 0;
}

/*
 * Create what a new account needs on disk. When something was created, the
 * directories holding it are fsync'ed, so that a new account's first
 * delivery does not rest on directory entries a crash could lose.
 */
static int account_create_dirs(struct sq_account *a, struct store_error *err)
{
	const char *dirs[] = {a->dir, a->blob_dir, a->tmp_dir};
	bool created = false;
	int fd;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		int ret = mkdir_if_missing(dirs[i], err);
		if (ret < 0)
			return -1;
		created = created || ret > 0;
	}
	/* SQLite would create the file 0644; mail is private */
	fd = open(a->db_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		created = true;
		close(fd);
	} else if (errno != EEXIST) {
		return store_error_set(err, STORE_ERR_SERVERBUG, "open %s: %s", a->db_path,
		                       strerror(errno));
	}
	if (created) {
		char *accounts = xasprintf("%s/accounts", a->store->data_dir);
		int ret = sq_fsync_dir(accounts) | sq_fsync_dir(a->dir) | sq_fsync_dir(a->blob_dir);
		free(accounts);
		if (ret < 0)
			return store_error_set(err, STORE_ERR_SERVERBUG, "fsync %s: %s", a->dir,
			                       strerror(errno));
	}
	return 0;
}

static void sq_account_close(void *be)
{
	struct sq_account *a = be;

	if (a == NULL)
		return;
	assert(a->queue_head == NULL && !a->leader_active);
	while (a->readers != NULL) {
		struct sq_reader *r = a->readers;
		a->readers = r->next;
		sdb_close(&r->c);
		free(r);
	}
	sdb_close(&a->wdb);
	pthread_mutex_destroy(&a->queue_lock);
	pthread_cond_destroy(&a->queue_cond);
	pthread_mutex_destroy(&a->readers_lock);
	free(a->dir);
	free(a->blob_dir);
	free(a->tmp_dir);
	free(a->db_path);
	free(a);
}

static int sq_account_open(struct store *store, int64_t account_id, void **be_r,
                           struct store_error *err)
{
	struct sq_account *a = xcalloc(1, sizeof(*a));

	*be_r = NULL;
	a->store = store;
	a->id = account_id;
	a->dir = xasprintf("%s/accounts/%lld", store->data_dir, (long long)account_id);
	a->blob_dir = xasprintf("%s/blobs", a->dir);
	a->tmp_dir = xasprintf("%s/tmp", a->blob_dir);
	a->db_path = xasprintf("%s/index.db", a->dir);
	pthread_mutex_init(&a->queue_lock, NULL);
	pthread_cond_init(&a->queue_cond, NULL);
	pthread_mutex_init(&a->readers_lock, NULL);
	a->queue_tail = &a->queue_head;

	if (account_create_dirs(a, err) < 0)
		goto fail;
	if (sdb_open(&a->wdb, a->db_path, true, err) < 0 || sq_schema_migrate(&a->wdb, err) < 0)
		goto fail;
	*be_r = a;
	return 0;
fail:
	sq_account_close(a);
	return -1;
}

static void sq_account_stats(void *be, struct store_stats *stats_r)
{
	struct sq_account *a = be;

	pthread_mutex_lock(&a->queue_lock);
	stats_r->commits = a->commits;
	stats_r->operations = a->operations;
	pthread_mutex_unlock(&a->queue_lock);
}

const struct store_backend_ops store_sqlite_ops = {
    .name = "sqlite",
    .account_open = sq_account_open,
    .account_close = sq_account_close,
    .account_stats = sq_account_stats,
    .mailbox_create = sq_mailbox_create,
    .mailbox_delete = sq_mailbox_delete,
    .mailbox_rename = sq_mailbox_rename,
    .mailbox_subscribe = sq_mailbox_subscribe,
    .mailbox_status = sq_mailbox_status,
    .mailbox_list = sq_mailbox_list,
    .mailbox_keywords = sq_mailbox_keywords,
    .mailbox_changes = sq_mailbox_changes,
    .mailbox_import_uids = sq_mailbox_import_uids,
    .append = sq_append,
    .copy = sq_copy,
    .flags = sq_flags,
    .expunge = sq_expunge,
    .message_list = sq_message_list,
    .changes_since = sq_changes_since,
    .message_open = sq_message_open,
    .message_info = sq_message_info,
    .check = sq_check,
};
