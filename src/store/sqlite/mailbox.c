/*
 * Mailboxes: create, delete, rename, subscribe (write jobs) and status,
 * list, change counter (reads).
 *
 * Children are found with a range on the UNIQUE name index: the names
 * below "a/b" are exactly those >= "a/b/" and < "a/b0" ('0' follows '/'),
 * since names compare bytewise.
 */
#include "sqlite_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sq_mailbox_get(struct sdb *c, int64_t id, struct sq_mailbox *mb_r,
                   enum store_error_code code_if_missing, struct store_error *err)
{
	sqlite3_stmt *stmt =
	    sdb_stmt(c, "SELECT uidnext, highestmodseq, noselect FROM mailboxes WHERE id = ?", err);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE)
			return sq_db_error(c, "reading a mailbox", err);
		return store_error_set(err, code_if_missing, "Mailbox does not exist");
	}
	mb_r->id = id;
	mb_r->uidnext = (uint32_t)sqlite3_column_int64(stmt, 0);
	mb_r->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 1);
	mb_r->noselect = sqlite3_column_int(stmt, 2) != 0;
	sqlite3_reset(stmt);
	if (mb_r->noselect)
		return store_error_set(err, STORE_ERR_CANNOT, "Mailbox is not selectable");
	return 0;
}

int sq_mailbox_bump(struct sdb *c, const struct sq_mailbox *mb, struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(c,
	                              "UPDATE mailboxes SET uidnext = ?, highestmodseq = ?,"
	                              " changes = changes + 1 WHERE id = ?",
	                              err);

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, mb->uidnext);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)mb->highestmodseq);
	sqlite3_bind_int64(stmt, 3, mb->id);
	return sdb_step_done(c, stmt, err);
}

/* 1 found (id, noselect filled), 0 not, -1 error. */
static int mailbox_lookup(struct sdb *c, const char *name, int64_t *id_r, bool *noselect_r,
                          struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(c, "SELECT id, noselect FROM mailboxes WHERE name = ?", err);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(stmt, 0);
		if (noselect_r != NULL)
			*noselect_r = sqlite3_column_int(stmt, 1) != 0;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_error(c, "looking up a mailbox", err);
	return rc == SQLITE_ROW ? 1 : 0;
}

/* 1 if a mailbox exists below name, 0 if not, -1 error. */
static int mailbox_has_children(struct sdb *c, const char *name, struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(
	    c, "SELECT 1 FROM mailboxes WHERE name >= ?1 || '/' AND name < ?1 || '0' LIMIT 1", err);
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_db_error(c, "looking for children", err);
	return rc == SQLITE_ROW ? 1 : 0;
}

int sq_mailbox_insert(struct sdb *c, const char *name, unsigned special_use, int64_t *id_r,
                      struct store_error *err)
{
	sqlite3_stmt *stmt;
	uint32_t uidvalidity;
	char mailboxid[26];

	if (sq_uidvalidity_next(c, &uidvalidity, err) < 0)
		return -1;
	sq_random_id('F', mailboxid);
	stmt = sdb_stmt(c,
	                "INSERT INTO mailboxes (name, mailboxid, special_use, uidvalidity)"
	                " VALUES (?, ?, ?, ?)",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, mailboxid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, (int)special_use);
	sqlite3_bind_int64(stmt, 4, uidvalidity);
	if (sdb_step_done(c, stmt, err) < 0)
		return -1;
	*id_r = sqlite3_last_insert_rowid(c->db);
	return 0;
}

/* RFC 9051 6.3.4: create the superior names that are missing. */
static int mailbox_create_parents(struct sq_account *a, struct sq_job *job, const char *name,
                                  struct store_error *err)
{
	char *path = xstrdup(name);
	int ret = 0;

	for (char *p = strchr(path, STORE_HIERARCHY_SEP); p != NULL && ret == 0;
	     p = strchr(p + 1, STORE_HIERARCHY_SEP)) {
		int64_t id;
		*p = '\0';
		ret = mailbox_lookup(&a->wdb, path, &id, NULL, err);
		if (ret == 0) {
			ret = sq_mailbox_insert(&a->wdb, path, 0, &id, err);
			if (ret == 0)
				sq_job_change(job, a, id, STORE_CHANGE_MAILBOX);
		}
		ret = ret < 0 ? -1 : 0;
		*p = STORE_HIERARCHY_SEP;
	}
	free(path);
	return ret;
}

struct mailbox_job {
	const char *name;
	const char *new_name;
	unsigned special_use;
	bool subscribe;
};

static int job_create(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                      struct store_error *err)
{
	struct mailbox_job *ctx = job->ctx;
	sqlite3_stmt *stmt;
	int64_t id;
	bool noselect;
	uint32_t uidvalidity;
	char mailboxid[26];
	int ret = mailbox_lookup(&a->wdb, ctx->name, &id, &noselect, err);

	if (ret < 0)
		return -1;
	if (ret > 0 && !noselect)
		return store_error_set(err, STORE_ERR_ALREADYEXISTS, "Mailbox already exists");
	if (ret == 0) {
		if (mailbox_create_parents(a, job, ctx->name, err) < 0 ||
		    sq_mailbox_insert(&a->wdb, ctx->name, ctx->special_use, &id, err) < 0)
			return -1;
		sq_job_change(job, a, id, STORE_CHANGE_MAILBOX);
		return 0;
	}
	/* a \Noselect name becomes a new mailbox: new UIDVALIDITY and id */
	if (sq_uidvalidity_next(&a->wdb, &uidvalidity, err) < 0)
		return -1;
	sq_random_id('F', mailboxid);
	stmt = sdb_stmt(&a->wdb,
	                "UPDATE mailboxes SET noselect = 0, uidvalidity = ?, uidnext = 1,"
	                " mailboxid = ?, special_use = ?, highestmodseq = highestmodseq + 1,"
	                " changes = changes + 1 WHERE id = ?",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, uidvalidity);
	sqlite3_bind_text(stmt, 2, mailboxid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(stmt, 3, (int)ctx->special_use);
	sqlite3_bind_int64(stmt, 4, id);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	sq_job_change(job, a, id, STORE_CHANGE_MAILBOX);
	return 0;
}

int sq_mailbox_create(void *be, const char *name, unsigned special_use, struct store_error *err)
{
	struct mailbox_job ctx = {.name = name, .special_use = special_use};
	struct sq_job job = {.run = job_create, .ctx = &ctx};

	return sq_write(be, &job, err);
}

/* Remove everything a mailbox holds (messages, tombstones, keywords). */
static int mailbox_empty(struct sdb *c, int64_t id, struct store_error *err)
{
	static const char *const sqls[] = {
	    "DELETE FROM messages WHERE mailbox_id = ?",
	    "DELETE FROM tombstones WHERE mailbox_id = ?",
	    "DELETE FROM mailbox_keywords WHERE mailbox_id = ?",
	};
	for (size_t i = 0; i < ARRAY_SIZE(sqls); i++) {
		sqlite3_stmt *stmt = sdb_stmt(c, sqls[i], err);
		if (stmt == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, id);
		if (sdb_step_done(c, stmt, err) < 0)
			return -1;
	}
	return 0;
}

static int job_delete(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                      struct store_error *err)
{
	struct mailbox_job *ctx = job->ctx;
	sqlite3_stmt *stmt;
	int64_t id;
	bool noselect;
	int ret = mailbox_lookup(&a->wdb, ctx->name, &id, &noselect, err);
	int children;

	if (ret < 0)
		return -1;
	if (ret == 0)
		return store_error_set(err, STORE_ERR_NONEXISTENT, "Mailbox does not exist");
	children = mailbox_has_children(&a->wdb, ctx->name, err);
	if (children < 0)
		return -1;
	/* RFC 9051 6.3.5: a \Noselect name with inferiors cannot go */
	if (children > 0 && noselect)
		return store_error_set(err, STORE_ERR_CANNOT,
		                       "Mailbox has children and is not selectable");
	if (mailbox_empty(&a->wdb, id, err) < 0)
		return -1;
	batch->gc_needed = true;
	if (children > 0) {
		/* RFC 9051 6.3.5: the messages go, the name stays \Noselect */
		stmt = sdb_stmt(&a->wdb,
		                "UPDATE mailboxes SET noselect = 1, special_use = 0,"
		                " highestmodseq = highestmodseq + 1, changes = changes + 1"
		                " WHERE id = ?",
		                err);
	} else {
		stmt = sdb_stmt(&a->wdb, "DELETE FROM mailboxes WHERE id = ?", err);
	}
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, id);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	sq_job_change(job, a, id, STORE_CHANGE_MAILBOX | STORE_CHANGE_EXPUNGE);
	return 0;
}

int sq_mailbox_delete(void *be, const char *name, struct store_error *err)
{
	struct mailbox_job ctx = {.name = name};
	struct sq_job job = {.run = job_delete, .ctx = &ctx};

	return sq_write(be, &job, err);
}

/*
 * RFC 9051 6.3.6: renaming INBOX moves its messages to a new mailbox and
 * leaves INBOX empty (its children stay). The messages keep their UIDs and
 * MODSEQs in the new mailbox (it has a fresh UIDVALIDITY, so nothing can
 * clash); INBOX records them as expunged and keeps its UIDNEXT.
 */
static int rename_inbox(struct sq_account *a, struct sq_job *job, int64_t inbox_id, const char *to,
                        struct store_error *err)
{
	struct sq_mailbox inbox;
	sqlite3_stmt *stmt;
	int64_t id;

	if (sq_mailbox_get(&a->wdb, inbox_id, &inbox, STORE_ERR_NONEXISTENT, err) < 0 ||
	    mailbox_create_parents(a, job, to, err) < 0 ||
	    sq_mailbox_insert(&a->wdb, to, 0, &id, err) < 0)
		return -1;
	inbox.highestmodseq++;
	stmt = sdb_stmt(&a->wdb,
	                "INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq)"
	                " SELECT mailbox_id, uid, ?2 FROM messages WHERE mailbox_id = ?1",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, inbox_id);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)inbox.highestmodseq);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	stmt = sdb_stmt(&a->wdb, "UPDATE messages SET mailbox_id = ?2 WHERE mailbox_id = ?1", err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, inbox_id);
	sqlite3_bind_int64(stmt, 2, id);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	stmt = sdb_stmt(&a->wdb,
	                "INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword)"
	                " SELECT ?2, keyword FROM mailbox_keywords WHERE mailbox_id = ?1",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, inbox_id);
	sqlite3_bind_int64(stmt, 2, id);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	if (sq_mailbox_bump(&a->wdb, &inbox, err) < 0)
		return -1;
	stmt = sdb_stmt(&a->wdb, "UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, inbox.uidnext);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)inbox.highestmodseq);
	sqlite3_bind_int64(stmt, 3, id);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	sq_job_change(job, a, inbox_id, STORE_CHANGE_EXPUNGE);
	sq_job_change(job, a, id, STORE_CHANGE_MAILBOX | STORE_CHANGE_APPEND);
	return 0;
}

/* Rename the rows (mailboxes or subscriptions) named from or below it. */
static int rename_tree(struct sq_account *a, struct sq_job *job, bool subscriptions,
                       const char *from, const char *to, struct store_error *err)
{
	sqlite3_stmt *stmt;
	char **names = NULL;
	int64_t *ids = NULL;
	size_t count = 0, from_len = strlen(from);
	int rc, ret = -1;

	stmt = subscriptions ? sdb_stmt(&a->wdb,
	                                "SELECT 0, name FROM subscriptions WHERE name = ?1 OR"
	                                " (name >= ?1 || '/' AND name < ?1 || '0')",
	                                err)
	                     : sdb_stmt(&a->wdb,
	                                "SELECT id, name FROM mailboxes WHERE name = ?1 OR"
	                                " (name >= ?1 || '/' AND name < ?1 || '0')",
	                                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, from, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		names = xrealloc(names, (count + 1) * sizeof(*names));
		ids = xrealloc(ids, (count + 1) * sizeof(*ids));
		ids[count] = sqlite3_column_int64(stmt, 0);
		names[count++] = sq_column_strdup(stmt, 1);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		sq_db_error(&a->wdb, "listing mailboxes", err);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		char *new_name = xasprintf("%s%s", to, names[i] + from_len);
		if (strlen(new_name) > STORE_MAILBOX_NAME_MAX) {
			free(new_name);
			store_error_set(err, STORE_ERR_CANNOT, "Mailbox name too long");
			goto out;
		}
		stmt = subscriptions
		           ? sdb_stmt(&a->wdb, "UPDATE subscriptions SET name = ?1 WHERE name = ?3",
		                      err)
		           : sdb_stmt(&a->wdb,
		                      "UPDATE mailboxes SET name = ?1, changes = changes + 1"
		                      " WHERE id = ?2",
		                      err);
		if (stmt == NULL) {
			free(new_name);
			goto out;
		}
		sqlite3_bind_text(stmt, 1, new_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(stmt, 2, ids[i]);
		sqlite3_bind_text(stmt, 3, names[i], -1, SQLITE_STATIC);
		free(new_name);
		if (sdb_step_done(&a->wdb, stmt, err) < 0)
			goto out;
		if (!subscriptions)
			sq_job_change(job, a, ids[i], STORE_CHANGE_MAILBOX);
	}
	ret = 0;
out:
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
	free(ids);
	return ret;
}

static int job_rename(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                      struct store_error *err)
{
	struct mailbox_job *ctx = job->ctx;
	int64_t id, other;
	int ret = mailbox_lookup(&a->wdb, ctx->name, &id, NULL, err);

	if (ret < 0)
		return -1;
	if (ret == 0)
		return store_error_set(err, STORE_ERR_NONEXISTENT, "Mailbox does not exist");
	ret = mailbox_lookup(&a->wdb, ctx->new_name, &other, NULL, err);
	if (ret < 0)
		return -1;
	if (ret > 0)
		return store_error_set(err, STORE_ERR_ALREADYEXISTS, "Target mailbox exists");
	if (strcmp(ctx->name, "INBOX") == 0)
		return rename_inbox(a, job, id, ctx->new_name, err);
	if (mailbox_create_parents(a, job, ctx->new_name, err) < 0 ||
	    rename_tree(a, job, false, ctx->name, ctx->new_name, err) < 0 ||
	    rename_tree(a, job, true, ctx->name, ctx->new_name, err) < 0)
		return -1;
	return 0;
}

int sq_mailbox_rename(void *be, const char *old_name, const char *new_name, struct store_error *err)
{
	struct mailbox_job ctx = {.name = old_name, .new_name = new_name};
	struct sq_job job = {.run = job_rename, .ctx = &ctx};

	return sq_write(be, &job, err);
}

static int job_subscribe(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                         struct store_error *err)
{
	struct mailbox_job *ctx = job->ctx;
	sqlite3_stmt *stmt =
	    ctx->subscribe
	        ? sdb_stmt(&a->wdb, "INSERT OR IGNORE INTO subscriptions (name) VALUES (?)", err)
	        : sdb_stmt(&a->wdb, "DELETE FROM subscriptions WHERE name = ?", err);

	if (stmt == NULL)
		return -1;
	sqlite3_bind_text(stmt, 1, ctx->name, -1, SQLITE_STATIC);
	return sdb_step_done(&a->wdb, stmt, err);
}

int sq_mailbox_subscribe(void *be, const char *name, bool subscribe, struct store_error *err)
{
	struct mailbox_job ctx = {.name = name, .subscribe = subscribe};
	struct sq_job job = {.run = job_subscribe, .ctx = &ctx};

	return sq_write(be, &job, err);
}

/*
 * Imports keep the source's UIDVALIDITY and UIDs. UIDVALIDITY may change only
 * while no UID has been used in the mailbox (no messages, no tombstones), so
 * RFC 9051 2.3.1.1 holds under the new value. The account's last UIDVALIDITY
 * is raised to it, so a mailbox made later (this name deleted and made again)
 * still gets a new, larger one. UIDNEXT may grow at any time: UIDs need not
 * be contiguous.
 */
struct import_uids_job {
	int64_t id;
	uint32_t uidvalidity, uidnext;
};

static int set_uidvalidity(struct sdb *c, int64_t id, uint32_t uidvalidity, struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(c, "UPDATE mailboxes SET uidvalidity = ? WHERE id = ?", err);

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, uidvalidity);
	sqlite3_bind_int64(stmt, 2, id);
	if (sdb_step_done(c, stmt, err) < 0)
		return -1;
	stmt = sdb_stmt(c, "UPDATE meta SET value = max(value, ?) WHERE key = 'last_uidvalidity'",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, uidvalidity);
	return sdb_step_done(c, stmt, err);
}

static int job_import_uids(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                           struct store_error *err)
{
	struct import_uids_job *ctx = job->ctx;
	struct sq_mailbox mb;
	sqlite3_stmt *stmt;
	uint32_t current;
	bool used, changed = false;
	int rc;

	if (sq_mailbox_get(&a->wdb, ctx->id, &mb, STORE_ERR_NONEXISTENT, err) < 0)
		return -1;
	stmt = sdb_stmt(&a->wdb,
	                "SELECT uidvalidity,"
	                " EXISTS (SELECT 1 FROM messages WHERE mailbox_id = ?1)"
	                " OR EXISTS (SELECT 1 FROM tombstones WHERE mailbox_id = ?1)"
	                " FROM mailboxes WHERE id = ?1",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, mb.id);
	rc = sqlite3_step(stmt);
	current = (uint32_t)sqlite3_column_int64(stmt, 0);
	used = sqlite3_column_int(stmt, 1) != 0;
	sqlite3_reset(stmt);
	if (rc != SQLITE_ROW)
		return sq_db_error(&a->wdb, "reading a mailbox", err);
	if (ctx->uidvalidity != 0 && ctx->uidvalidity != current) {
		if (used)
			return store_error_set(err, STORE_ERR_CANNOT,
			                       "Mailbox has had messages; its UIDVALIDITY stays");
		if (set_uidvalidity(&a->wdb, mb.id, ctx->uidvalidity, err) < 0)
			return -1;
		changed = true;
	}
	if (ctx->uidnext > mb.uidnext) {
		mb.uidnext = ctx->uidnext;
		changed = true;
	}
	if (!changed)
		return 0;
	if (sq_mailbox_bump(&a->wdb, &mb, err) < 0)
		return -1;
	sq_job_change(job, a, mb.id, STORE_CHANGE_MAILBOX);
	return 0;
}

int sq_mailbox_import_uids(void *be, int64_t mailbox_id, uint32_t uidvalidity, uint32_t uidnext,
                           struct store_error *err)
{
	struct import_uids_job ctx = {
	    .id = mailbox_id, .uidvalidity = uidvalidity, .uidnext = uidnext};
	struct sq_job job = {.run = job_import_uids, .ctx = &ctx};

	return sq_write(be, &job, err);
}

/* ---- reads ---- */

#define STATUS_COLUMNS                                                                             \
	"SELECT id, mailboxid, uidvalidity, uidnext, highestmodseq, changes, messages,"            \
	" unseen, deleted, size, special_use, noselect, name,"                                     \
	" EXISTS (SELECT 1 FROM subscriptions s WHERE s.name = m.name) FROM mailboxes m"

int sq_mailbox_status(void *be, const char *name, int64_t id, struct store_mailbox_status *st,
                      char **name_r, struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	int rc, ret = -1;

	if (r == NULL)
		return -1;
	if (name != NULL) {
		stmt = sdb_stmt(&r->c, STATUS_COLUMNS " WHERE name = ?", err);
		if (stmt != NULL)
			sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	} else {
		stmt = sdb_stmt(&r->c, STATUS_COLUMNS " WHERE id = ?", err);
		if (stmt != NULL)
			sqlite3_bind_int64(stmt, 1, id);
	}
	if (stmt == NULL)
		goto out;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *mbid = (const char *)sqlite3_column_text(stmt, 1);
		st->id = sqlite3_column_int64(stmt, 0);
		snprintf(st->mailboxid, sizeof(st->mailboxid), "%s", mbid != NULL ? mbid : "");
		st->uidvalidity = (uint32_t)sqlite3_column_int64(stmt, 2);
		st->uidnext = (uint32_t)sqlite3_column_int64(stmt, 3);
		st->highestmodseq = (uint64_t)sqlite3_column_int64(stmt, 4);
		st->changes = (uint64_t)sqlite3_column_int64(stmt, 5);
		st->messages = (uint32_t)sqlite3_column_int64(stmt, 6);
		st->unseen = (uint32_t)sqlite3_column_int64(stmt, 7);
		st->deleted = (uint32_t)sqlite3_column_int64(stmt, 8);
		st->size = (uint64_t)sqlite3_column_int64(stmt, 9);
		st->special_use = (unsigned)sqlite3_column_int(stmt, 10);
		st->noselect = sqlite3_column_int(stmt, 11) != 0;
		if (name_r != NULL)
			*name_r = sq_column_strdup(stmt, 12);
		st->subscribed = sqlite3_column_int(stmt, 13) != 0;
		ret = 0;
	} else if (rc == SQLITE_DONE) {
		store_error_set(err, STORE_ERR_NONEXISTENT, "Mailbox does not exist");
	} else {
		sq_db_error(&r->c, "reading a mailbox", err);
	}
	sqlite3_reset(stmt);
out:
	sq_reader_put(a, r);
	return ret;
}

static void list_add(struct store_list *list, size_t *cap, const char *name, int64_t id,
                     unsigned attrs, unsigned special_use)
{
	if (list->count == *cap) {
		*cap = *cap == 0 ? 16 : *cap * 2;
		list->entries = xrealloc(list->entries, *cap * sizeof(list->entries[0]));
	}
	list->entries[list->count].name = xstrdup(name);
	list->entries[list->count].id = id;
	list->entries[list->count].attrs = attrs;
	list->entries[list->count].special_use = special_use;
	list->count++;
}

int sq_mailbox_list(void *be, struct store_list *list_r, struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc = SQLITE_ERROR;

	if (r == NULL)
		return -1;
	/* one snapshot for both queries */
	if (sdb_exec(&r->c, "BEGIN", err) < 0)
		goto fail;
	stmt = sdb_stmt(&r->c,
	                "SELECT id, name, noselect, special_use,"
	                " EXISTS (SELECT 1 FROM subscriptions s WHERE s.name = m.name)"
	                " FROM mailboxes m",
	                err);
	if (stmt == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		unsigned attrs = (sqlite3_column_int(stmt, 2) ? STORE_ATTR_NOSELECT : 0) |
		                 (sqlite3_column_int(stmt, 4) ? STORE_ATTR_SUBSCRIBED : 0);
		list_add(list_r, &cap, (const char *)sqlite3_column_text(stmt, 1),
		         sqlite3_column_int64(stmt, 0), attrs,
		         (unsigned)sqlite3_column_int(stmt, 3));
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		goto dberr;
	stmt = sdb_stmt(&r->c,
	                "SELECT name FROM subscriptions"
	                " WHERE name NOT IN (SELECT name FROM mailboxes)",
	                err);
	if (stmt == NULL)
		goto fail;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		list_add(list_r, &cap, (const char *)sqlite3_column_text(stmt, 0), 0,
		         STORE_ATTR_SUBSCRIBED | STORE_ATTR_NONEXISTENT, 0);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		goto dberr;
	sdb_exec(&r->c, "COMMIT", err);
	sq_reader_put(a, r);
	return 0;
dberr:
	sq_db_error(&r->c, "listing mailboxes", err);
fail:
	sq_reader_put(a, r);
	store_list_free(list_r);
	return -1;
}

int sq_mailbox_changes(void *be, int64_t mailbox_id, uint64_t *changes_r, struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	int rc, ret = -1;

	if (r == NULL)
		return -1;
	stmt = sdb_stmt(&r->c, "SELECT changes FROM mailboxes WHERE id = ?", err);
	if (stmt != NULL) {
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			*changes_r = (uint64_t)sqlite3_column_int64(stmt, 0);
			ret = 0;
		} else if (rc == SQLITE_DONE) {
			store_error_set(err, STORE_ERR_NONEXISTENT, "Mailbox does not exist");
		} else {
			sq_db_error(&r->c, "reading a mailbox", err);
		}
		sqlite3_reset(stmt);
	}
	sq_reader_put(a, r);
	return ret;
}
