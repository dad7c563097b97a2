/*
 * Messages: append, copy, move, expunge (write jobs) and the reads FETCH,
 * SELECT and QRESYNC need.
 *
 * MODSEQ: each write job that changes a mailbox takes the next MODSEQ of
 * that mailbox once (highestmodseq + 1) and gives it to every message it
 * touches and every tombstone it leaves, so MODSEQs grow strictly per
 * mailbox and are never reused. UIDs come from the persisted UIDNEXT, which
 * only grows, so no UID is ever reused either (RFC 9051 2.3.1.1).
 */
#include "sqlite_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Over this the mailbox is full: RFC 9051 says UIDs are 32-bit. */
#define SQ_UID_MAX 0xfffffffeu

static int uid_take(struct sq_mailbox *mb, uint32_t *uid_r, struct store_error *err)
{
	if (mb->uidnext == 0 || mb->uidnext > SQ_UID_MAX)
		return store_error_set(err, STORE_ERR_LIMIT, "Mailbox has run out of UIDs");
	*uid_r = mb->uidnext++;
	return 0;
}

int sq_message_expunge_one(struct sdb *c, int64_t mailbox_id, uint32_t uid, uint64_t modseq,
                           struct store_error *err)
{
	sqlite3_stmt *stmt =
	    sdb_stmt(c, "DELETE FROM messages WHERE mailbox_id = ? AND uid = ?", err);

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	if (sdb_step_done(c, stmt, err) < 0)
		return -1;
	stmt = sdb_stmt(
	    c, "INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) VALUES (?, ?, ?)", err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)modseq);
	return sdb_step_done(c, stmt, err);
}

/* ---- append ---- */

struct append_job {
	int64_t mailbox_id;
	const struct store_append_msg *msgs;
	struct sq_blob_new *blobs;
	size_t count;
	uint32_t *uids;
};

/* Imports: does the mailbox hold this message already (see copy_number in
 * store.h)? 1 yes, 0 no, -1 error. Inside the job, so messages appended
 * earlier in the same call count too. */
static int append_is_copy(struct sdb *c, const struct sq_mailbox *mb,
                          const struct store_append_msg *msg, const char *hash,
                          struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(c,
	                              "SELECT count(*) FROM messages WHERE mailbox_id = ?1"
	                              " AND blob = ?2 AND (?3 = 0 OR uid = ?3)",
	                              err);
	int64_t n;
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, mb->id);
	sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, msg->uid);
	rc = sqlite3_step(stmt);
	n = sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW)
		return sq_db_error(c, "looking for a copy", err);
	return n >= (msg->uid != 0 ? 1 : (int64_t)msg->copy_number);
}

/* *uid_r is 0 when the message was skipped as a copy. */
static int append_one(struct sq_account *a, struct sq_batch *batch, struct sq_mailbox *mb,
                      const struct store_append_msg *msg, struct sq_blob_new *blob, int64_t now,
                      uint32_t *uid_r, struct store_error *err)
{
	sqlite3_stmt *stmt;
	char emailid[26];
	char *keywords;
	int ret;

	*uid_r = 0;
	if (msg->copy_number != 0) {
		ret = append_is_copy(&a->wdb, mb, msg, blob->hash, err);
		if (ret != 0)
			return ret < 0 ? -1 : 0;
	}
	/* an import keeps its UID when no UID at or above it was used: UIDs
	 * stay ascending and UIDNEXT only grows (RFC 9051 2.3.1.1) */
	if (msg->uid != 0 && msg->uid >= mb->uidnext && msg->uid <= SQ_UID_MAX) {
		*uid_r = msg->uid;
		mb->uidnext = msg->uid + 1;
	} else if (uid_take(mb, uid_r, err) < 0) {
		return -1;
	}
	if (sq_blob_install(a, batch, blob, err) < 0)
		return -1;
	/* RFC 8474 EMAILID: the same for every copy of the same bytes */
	snprintf(emailid, sizeof(emailid), "M%.24s", blob->hash);
	stmt = sdb_stmt(&a->wdb,
	                "INSERT INTO messages (mailbox_id, uid, blob, emailid, internaldate,"
	                " savedate, size, flags, keywords, modseq, only_lf)"
	                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                err);
	if (stmt == NULL)
		return -1;
	keywords = sq_keywords_join(msg->keywords, msg->keyword_count);
	sqlite3_bind_int64(stmt, 1, mb->id);
	sqlite3_bind_int64(stmt, 2, *uid_r);
	sqlite3_bind_text(stmt, 3, blob->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, emailid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, msg->internaldate != 0 ? (int64_t)msg->internaldate : now);
	sqlite3_bind_int64(stmt, 6, now);
	sqlite3_bind_int64(stmt, 7, (sqlite3_int64)blob->size);
	sqlite3_bind_int(stmt, 8, (int)msg->flags);
	if (keywords != NULL)
		sqlite3_bind_text(stmt, 9, keywords, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 10, (sqlite3_int64)mb->highestmodseq);
	sqlite3_bind_int(stmt, 11, blob->only_lf);
	ret = sdb_step_done(&a->wdb, stmt, err);
	free(keywords);
	if (ret == 0)
		ret = sq_mailbox_keywords_add(&a->wdb, mb->id, msg->keywords, msg->keyword_count,
		                              err);
	return ret;
}

static int job_append(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                      struct store_error *err)
{
	struct append_job *ctx = job->ctx;
	struct sq_mailbox mb;
	int64_t now = (int64_t)time(NULL);
	size_t appended = 0;

	if (sq_mailbox_get(&a->wdb, ctx->mailbox_id, &mb, STORE_ERR_TRYCREATE, err) < 0)
		return -1;
	mb.highestmodseq++;
	for (size_t i = 0; i < ctx->count; i++) {
		if (append_one(a, batch, &mb, &ctx->msgs[i], &ctx->blobs[i], now, &ctx->uids[i],
		               err) < 0)
			return -1;
		appended += ctx->uids[i] != 0;
	}
	if (appended == 0)
		return 0; /* all were copies (imports): nothing changed */
	if (sq_mailbox_bump(&a->wdb, &mb, err) < 0)
		return -1;
	sq_job_change(job, a, mb.id, STORE_CHANGE_APPEND);
	return 0;
}

/*
 * The slow parts (writing, fsync'ing and parsing each message) happen here,
 * in the caller's thread and outside the queue, so concurrent deliveries do
 * them in parallel and only wait together for the commit.
 */
int sq_append(void *be, int64_t mailbox_id, const struct store_append_msg *msgs, size_t count,
              uint32_t *uids_r, struct store_error *err)
{
	struct sq_account *a = be;
	struct append_job ctx = {.mailbox_id = mailbox_id, .msgs = msgs, .count = count};
	struct sq_job job = {.run = job_append, .ctx = &ctx};
	int ret = 0;

	ctx.blobs = xcalloc(count, sizeof(*ctx.blobs));
	ctx.uids = xcalloc(count, sizeof(*ctx.uids));
	for (size_t i = 0; i < count && ret == 0; i++)
		ret = sq_blob_prepare(a, &msgs[i], &ctx.blobs[i], err);
	if (ret == 0)
		ret = sq_write(a, &job, err);
	if (ret == 0 && uids_r != NULL)
		memcpy(uids_r, ctx.uids, count * sizeof(*uids_r));
	for (size_t i = 0; i < count; i++)
		sq_blob_new_free(&ctx.blobs[i]);
	free(ctx.blobs);
	free(ctx.uids);
	return ret;
}

/* ---- copy and move ---- */

struct copy_job {
	int64_t src, dst;
	const uint32_t *uids;
	size_t count;
	bool move;
	uint32_t *new_uids;
	size_t copied;
};

static int copy_one(struct sq_account *a, struct copy_job *ctx, struct sq_mailbox *src,
                    struct sq_mailbox *dst, uint32_t uid, int64_t now, uint32_t *new_uid_r,
                    struct store_error *err)
{
	sqlite3_stmt *stmt;
	uint32_t new_uid = dst->uidnext;

	*new_uid_r = 0;
	if (dst->uidnext == 0 || dst->uidnext > SQ_UID_MAX)
		return store_error_set(err, STORE_ERR_LIMIT, "Mailbox has run out of UIDs");
	if (ctx->move) {
		stmt = sdb_stmt(&a->wdb,
		                "UPDATE messages SET mailbox_id = ?1, uid = ?2, modseq = ?3,"
		                " savedate = ?4 WHERE mailbox_id = ?5 AND uid = ?6",
		                err);
	} else {
		stmt = sdb_stmt(&a->wdb,
		                "INSERT INTO messages (mailbox_id, uid, blob, emailid, threadid,"
		                " internaldate, savedate, size, flags, keywords, modseq, only_lf)"
		                " SELECT ?1, ?2, blob, emailid, threadid, internaldate, ?4, size,"
		                " flags, keywords, ?3, only_lf FROM messages"
		                " WHERE mailbox_id = ?5 AND uid = ?6",
		                err);
	}
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, dst->id);
	sqlite3_bind_int64(stmt, 2, new_uid);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)dst->highestmodseq);
	sqlite3_bind_int64(stmt, 4, now);
	sqlite3_bind_int64(stmt, 5, src->id);
	sqlite3_bind_int64(stmt, 6, uid);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	if (sqlite3_changes(a->wdb.db) == 0)
		return 0; /* no such UID: skipped (RFC 9051 6.4.7) */
	dst->uidnext++;
	*new_uid_r = new_uid;
	if (ctx->move) {
		stmt = sdb_stmt(&a->wdb,
		                "INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq)"
		                " VALUES (?, ?, ?)",
		                err);
		if (stmt == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, src->id);
		sqlite3_bind_int64(stmt, 2, uid);
		sqlite3_bind_int64(stmt, 3, (sqlite3_int64)src->highestmodseq);
		if (sdb_step_done(&a->wdb, stmt, err) < 0)
			return -1;
	}
	return 0;
}

static int job_copy(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                    struct store_error *err)
{
	struct copy_job *ctx = job->ctx;
	struct sq_mailbox src, dst;
	sqlite3_stmt *stmt;
	int64_t now = (int64_t)time(NULL);

	ctx->copied = 0;
	if (sq_mailbox_get(&a->wdb, ctx->src, &src, STORE_ERR_NONEXISTENT, err) < 0 ||
	    sq_mailbox_get(&a->wdb, ctx->dst, &dst, STORE_ERR_TRYCREATE, err) < 0)
		return -1;
	dst.highestmodseq++;
	src.highestmodseq++;
	for (size_t i = 0; i < ctx->count; i++) {
		if (copy_one(a, ctx, &src, &dst, ctx->uids[i], now, &ctx->new_uids[i], err) < 0)
			return -1;
		if (ctx->new_uids[i] != 0)
			ctx->copied++;
	}
	if (ctx->copied == 0)
		return 0;
	stmt = sdb_stmt(&a->wdb,
	                "INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)"
	                " SELECT ?2, keyword FROM mailbox_keywords WHERE mailbox_id = ?1",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, src.id);
	sqlite3_bind_int64(stmt, 2, dst.id);
	if (sdb_step_done(&a->wdb, stmt, err) < 0 || sq_mailbox_bump(&a->wdb, &dst, err) < 0)
		return -1;
	sq_job_change(job, a, dst.id, STORE_CHANGE_APPEND);
	if (ctx->move) {
		if (sq_mailbox_bump(&a->wdb, &src, err) < 0)
			return -1;
		sq_job_change(job, a, src.id, STORE_CHANGE_EXPUNGE);
	}
	return 0;
}

int sq_copy(void *be, int64_t src, const uint32_t *uids, size_t count, int64_t dst, bool move,
            uint32_t *new_uids_r, size_t *copied_r, struct store_error *err)
{
	struct copy_job ctx = {.src = src, .dst = dst, .uids = uids, .count = count, .move = move};
	struct sq_job job = {.run = job_copy, .ctx = &ctx};
	int ret;

	ctx.new_uids = xcalloc(count + 1, sizeof(*ctx.new_uids));
	ret = sq_write(be, &job, err);
	if (ret == 0) {
		if (new_uids_r != NULL)
			memcpy(new_uids_r, ctx.new_uids, count * sizeof(*new_uids_r));
		*copied_r = ctx.copied;
	}
	free(ctx.new_uids);
	return ret;
}

/* ---- expunge ---- */

struct expunge_job {
	int64_t mailbox_id;
	const uint32_t *uids;
	size_t count;
	uint32_t *expunged;
	size_t expunged_count;
};

static int expunge_collect(struct sq_account *a, struct expunge_job *ctx, struct store_error *err)
{
	sqlite3_stmt *stmt;
	int rc;

	if (ctx->uids == NULL) {
		stmt = sdb_stmt(&a->wdb,
		                "SELECT uid FROM messages WHERE mailbox_id = ? AND (flags & 8) != 0"
		                " ORDER BY uid",
		                err);
		if (stmt == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, ctx->mailbox_id);
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			ctx->expunged = xrealloc(ctx->expunged, (ctx->expunged_count + 1) *
			                                            sizeof(*ctx->expunged));
			ctx->expunged[ctx->expunged_count++] =
			    (uint32_t)sqlite3_column_int64(stmt, 0);
		}
		sqlite3_reset(stmt);
		return rc == SQLITE_DONE ? 0 : sq_db_error(&a->wdb, "listing messages", err);
	}
	stmt = sdb_stmt(&a->wdb,
	                "SELECT 1 FROM messages WHERE mailbox_id = ? AND uid = ?"
	                " AND (flags & 8) != 0",
	                err);
	if (stmt == NULL)
		return -1;
	ctx->expunged = xcalloc(ctx->count + 1, sizeof(*ctx->expunged));
	for (size_t i = 0; i < ctx->count; i++) {
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, ctx->mailbox_id);
		sqlite3_bind_int64(stmt, 2, ctx->uids[i]);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			ctx->expunged[ctx->expunged_count++] = ctx->uids[i];
		else if (rc != SQLITE_DONE)
			return sq_db_error(&a->wdb, "reading a message", err);
	}
	sqlite3_reset(stmt);
	return 0;
}

static int job_expunge(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                       struct store_error *err)
{
	struct expunge_job *ctx = job->ctx;
	struct sq_mailbox mb;

	ctx->expunged_count = 0;
	if (sq_mailbox_get(&a->wdb, ctx->mailbox_id, &mb, STORE_ERR_NONEXISTENT, err) < 0 ||
	    expunge_collect(a, ctx, err) < 0)
		return -1;
	if (ctx->expunged_count == 0)
		return 0;
	mb.highestmodseq++;
	for (size_t i = 0; i < ctx->expunged_count; i++) {
		if (sq_message_expunge_one(&a->wdb, mb.id, ctx->expunged[i], mb.highestmodseq,
		                           err) < 0)
			return -1;
	}
	if (sq_mailbox_bump(&a->wdb, &mb, err) < 0)
		return -1;
	batch->gc_needed = true;
	sq_job_change(job, a, mb.id, STORE_CHANGE_EXPUNGE);
	return 0;
}

static int uint32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int sq_expunge(void *be, int64_t mailbox_id, const uint32_t *uids, size_t count,
               uint32_t **expunged_r, size_t *expunged_count_r, struct store_error *err)
{
	struct expunge_job ctx = {.mailbox_id = mailbox_id, .uids = uids, .count = count};
	struct sq_job job = {.run = job_expunge, .ctx = &ctx};
	int ret = sq_write(be, &job, err);

	if (ret == 0 && ctx.expunged_count > 0)
		qsort(ctx.expunged, ctx.expunged_count, sizeof(*ctx.expunged), uint32_cmp);
	if (ret == 0 && expunged_r != NULL) {
		*expunged_r = ctx.expunged;
		ctx.expunged = NULL;
	}
	if (ret == 0 && expunged_count_r != NULL)
		*expunged_count_r = ctx.expunged_count;
	free(ctx.expunged);
	return ret;
}

/* ---- reads ---- */

/* Check the mailbox exists (inside the reader's transaction). */
static int read_mailbox(struct sdb *c, int64_t id, uint64_t *highestmodseq_r,
                        struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(c, "SELECT highestmodseq FROM mailboxes WHERE id = ?", err);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && highestmodseq_r != NULL)
		*highestmodseq_r = (uint64_t)sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	if (rc == SQLITE_DONE)
		return store_error_set(err, STORE_ERR_NONEXISTENT, "Mailbox does not exist");
	return rc == SQLITE_ROW ? 0 : sq_db_error(c, "reading a mailbox", err);
}

static void list_grow(struct store_message_list *l, size_t *cap)
{
	*cap = *cap == 0 ? 256 : *cap * 2;
	l->uids = xrealloc(l->uids, *cap * sizeof(*l->uids));
	l->flags = xrealloc(l->flags, *cap * sizeof(*l->flags));
	l->modseqs = xrealloc(l->modseqs, *cap * sizeof(*l->modseqs));
	l->internaldates = xrealloc(l->internaldates, *cap * sizeof(*l->internaldates));
	l->sizes = xrealloc(l->sizes, *cap * sizeof(*l->sizes));
	l->keywords = xrealloc(l->keywords, *cap * sizeof(*l->keywords));
}

/* Stream the rows of stmt into list's arrays. Keywords are copied into one
 * pool; list->keywords holds offsets + 1 (0: none) until the pool stops
 * moving, then pointers. */
static int list_fill(struct sdb *c, sqlite3_stmt *stmt, struct store_message_list *l,
                     struct store_error *err)
{
	struct buf pool;
	size_t cap = 0;
	int rc;

	buf_init(&pool);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const unsigned char *kw = sqlite3_column_text(stmt, 5);
		size_t i = l->count;

		if (i == cap)
			list_grow(l, &cap);
		l->uids[i] = (uint32_t)sqlite3_column_int64(stmt, 0);
		l->flags[i] = (uint8_t)sqlite3_column_int(stmt, 1);
		l->modseqs[i] = (uint64_t)sqlite3_column_int64(stmt, 2);
		l->internaldates[i] = sqlite3_column_int64(stmt, 3);
		l->sizes[i] = (uint64_t)sqlite3_column_int64(stmt, 4);
		l->keywords[i] = NULL;
		if (kw != NULL) {
			l->keywords[i] = (const char *)(uintptr_t)(pool.len + 1);
			buf_append(&pool, kw, strlen((const char *)kw) + 1);
		}
		l->count++;
	}
	sqlite3_reset(stmt);
	for (size_t i = 0; i < l->count; i++) {
		if (l->keywords[i] != NULL)
			l->keywords[i] = pool.data + ((uintptr_t)l->keywords[i] - 1);
	}
	l->keyword_pool = pool.data;
	if (rc != SQLITE_DONE)
		return sq_db_error(c, "listing messages", err);
	return 0;
}

#define LIST_COLUMNS "SELECT uid, flags, modseq, internaldate, size, keywords FROM messages"

int sq_message_list(void *be, int64_t mailbox_id, struct store_message_list *list_r,
                    struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	int ret = -1;

	if (r == NULL)
		return -1;
	if (sdb_exec(&r->c, "BEGIN", err) < 0 || read_mailbox(&r->c, mailbox_id, NULL, err) < 0)
		goto out;
	stmt = sdb_stmt(&r->c, LIST_COLUMNS " WHERE mailbox_id = ? ORDER BY uid", err);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	ret = list_fill(&r->c, stmt, list_r, err);
out:
	sq_reader_put(a, r);
	if (ret < 0)
		store_message_list_free(list_r);
	return ret;
}

int sq_changes_since(void *be, int64_t mailbox_id, uint64_t modseq, struct store_changes *changes_r,
                     struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc, ret = -1;

	if (r == NULL)
		return -1;
	if (sdb_exec(&r->c, "BEGIN", err) < 0 ||
	    read_mailbox(&r->c, mailbox_id, &changes_r->highestmodseq, err) < 0)
		goto out;
	stmt =
	    sdb_stmt(&r->c, LIST_COLUMNS " WHERE mailbox_id = ? AND modseq > ? ORDER BY uid", err);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)modseq);
	if (list_fill(&r->c, stmt, &changes_r->changed, err) < 0)
		goto out;
	stmt = sdb_stmt(&r->c,
	                "SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ?"
	                " ORDER BY uid",
	                err);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)modseq);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (changes_r->vanished_count == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			changes_r->vanished =
			    xrealloc(changes_r->vanished, cap * sizeof(*changes_r->vanished));
		}
		changes_r->vanished[changes_r->vanished_count++] =
		    (uint32_t)sqlite3_column_int64(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		sq_db_error(&r->c, "listing expunged messages", err);
	else
		ret = 0;
out:
	sq_reader_put(a, r);
	if (ret < 0)
		store_changes_free(changes_r);
	return ret;
}

int sq_message_open(void *be, int64_t mailbox_id, uint32_t uid, struct store_blob *blob_r,
                    struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	char *hash = NULL;
	int rc, ret = -1;

	if (r == NULL)
		return -1;
	stmt = sdb_stmt(&r->c, "SELECT blob FROM messages WHERE mailbox_id = ? AND uid = ?", err);
	if (stmt != NULL) {
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_int64(stmt, 2, uid);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			hash = sq_column_strdup(stmt, 0);
		else if (rc == SQLITE_DONE)
			store_error_set(err, STORE_ERR_NONEXISTENT, "No such message");
		else
			sq_db_error(&r->c, "reading a message", err);
		sqlite3_reset(stmt);
	}
	sq_reader_put(a, r);
	/* the file outlives the row for as long as this fd/mapping is open,
	 * even if the message is expunged meanwhile */
	if (hash != NULL)
		ret = sq_blob_map(a, hash, blob_r, err);
	free(hash);
	return ret;
}

int sq_message_info(void *be, int64_t mailbox_id, uint32_t uid, struct store_message_info *info,
                    struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	int rc, ret = -1;

	if (r == NULL)
		return -1;
	stmt = sdb_stmt(&r->c,
	                "SELECT m.flags, m.keywords, m.modseq, m.internaldate, m.savedate, m.size,"
	                " m.only_lf, m.emailid, m.threadid, b.envelope, b.body, b.bodystructure,"
	                " b.parts, b.date, b.date_tz, b.subject, b.from_, b.to_, b.cc, b.bcc,"
	                " b.message_id, b.in_reply_to, b.references_"
	                " FROM messages m LEFT JOIN blobs b ON b.hash = m.blob"
	                " WHERE m.mailbox_id = ? AND m.uid = ?",
	                err);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *emailid = (const char *)sqlite3_column_text(stmt, 7);
		int parts_size = sqlite3_column_bytes(stmt, 12);
		info->uid = uid;
		info->flags = (unsigned)sqlite3_column_int(stmt, 0);
		info->keywords = sq_column_strdup(stmt, 1);
		info->modseq = (uint64_t)sqlite3_column_int64(stmt, 2);
		info->internaldate = sqlite3_column_int64(stmt, 3);
		info->savedate = sqlite3_column_int64(stmt, 4);
		info->size = (uint64_t)sqlite3_column_int64(stmt, 5);
		info->only_lf = sqlite3_column_int(stmt, 6) != 0;
		snprintf(info->emailid, sizeof(info->emailid), "%s",
		         emailid != NULL ? emailid : "");
		info->threadid = sq_column_strdup(stmt, 8);
		info->envelope = sq_column_strdup(stmt, 9);
		info->body = sq_column_strdup(stmt, 10);
		info->bodystructure = sq_column_strdup(stmt, 11);
		info->parts = xmalloc((size_t)parts_size + 1);
		if (parts_size > 0)
			memcpy(info->parts, sqlite3_column_blob(stmt, 12), (size_t)parts_size);
		info->parts_size = (size_t)parts_size;
		info->date = sqlite3_column_int64(stmt, 13);
		info->date_tz = sqlite3_column_int(stmt, 14);
		info->subject = sq_column_strdup(stmt, 15);
		info->from = sq_column_strdup(stmt, 16);
		info->to = sq_column_strdup(stmt, 17);
		info->cc = sq_column_strdup(stmt, 18);
		info->bcc = sq_column_strdup(stmt, 19);
		info->message_id = sq_column_strdup(stmt, 20);
		info->in_reply_to = sq_column_strdup(stmt, 21);
		info->references = sq_column_strdup(stmt, 22);
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "No such message");
	} else {
		sq_db_error(&r->c, "reading a message", err);
	}
	sqlite3_reset(stmt);
out:
	sq_reader_put(a, r);
	return ret;
}
