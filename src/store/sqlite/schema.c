/*
 * The schema of index.db, versioned with PRAGMA user_version:
 * schema_steps[i] takes a database from version i to i + 1. Append steps;
 * never edit old ones. A new account also gets its default mailboxes in the
 * same transaction as its schema.
 *
 * The mailbox counters (messages, unseen, deleted, size) and the blob
 * refcounts are kept by triggers on messages, so every statement that adds,
 * removes, moves or re-flags a message updates them in its own transaction
 * and no code path can forget to.
 */
#include "sqlite_private.h"

#include <stdio.h>

#include <openssl/rand.h>
#include <string.h>
#include <time.h>

static const char *const schema_steps[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta ("
    " key TEXT PRIMARY KEY,"
    " value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    "INSERT INTO meta (key, value) VALUES ('last_uidvalidity', 0);"
    /* AUTOINCREMENT: an id is never reused, even after the last row goes */
    "CREATE TABLE mailboxes ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " name TEXT NOT NULL UNIQUE,"
    " mailboxid TEXT NOT NULL UNIQUE,"
    " noselect INTEGER NOT NULL DEFAULT 0,"
    " special_use INTEGER NOT NULL DEFAULT 0,"
    " uidvalidity INTEGER NOT NULL,"
    " uidnext INTEGER NOT NULL DEFAULT 1,"
    " highestmodseq INTEGER NOT NULL DEFAULT 1,"
    " changes INTEGER NOT NULL DEFAULT 0,"
    " messages INTEGER NOT NULL DEFAULT 0,"
    " unseen INTEGER NOT NULL DEFAULT 0,"
    " deleted INTEGER NOT NULL DEFAULT 0,"
    " size INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE subscriptions (name TEXT PRIMARY KEY) WITHOUT ROWID;"
    /* one row per distinct message content; the parse results live here,
     * so copies share them with the file */
    "CREATE TABLE blobs ("
    " hash TEXT PRIMARY KEY,"
    " refcount INTEGER NOT NULL DEFAULT 0,"
    " size INTEGER NOT NULL,"
    " parts BLOB,"
    " envelope TEXT, body TEXT, bodystructure TEXT,"
    " date INTEGER, date_tz INTEGER,"
    " subject TEXT, from_ TEXT, to_ TEXT, cc TEXT, bcc TEXT,"
    " message_id TEXT, in_reply_to TEXT, references_ TEXT"
    ") WITHOUT ROWID;"
    "CREATE TABLE messages ("
    " mailbox_id INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " blob TEXT NOT NULL,"
    " emailid TEXT NOT NULL,"
    " threadid TEXT,"
    " internaldate INTEGER NOT NULL,"
    " savedate INTEGER NOT NULL,"
    " size INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " keywords TEXT,"
    " modseq INTEGER NOT NULL,"
    " only_lf INTEGER NOT NULL DEFAULT 0,"
    " PRIMARY KEY (mailbox_id, uid)"
    ");"
    "CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);"
    "CREATE INDEX messages_blob ON messages (blob);"
    "CREATE TABLE tombstones ("
    " mailbox_id INTEGER NOT NULL,"
    " uid INTEGER NOT NULL,"
    " modseq INTEGER NOT NULL,"
    " PRIMARY KEY (mailbox_id, uid)"
    ") WITHOUT ROWID;"
    "CREATE TABLE mailbox_keywords ("
    " mailbox_id INTEGER NOT NULL,"
    " keyword TEXT NOT NULL COLLATE NOCASE,"
    " PRIMARY KEY (mailbox_id, keyword)"
    ") WITHOUT ROWID;"
    "CREATE TRIGGER messages_ins AFTER INSERT ON messages BEGIN"
    " UPDATE mailboxes SET messages = messages + 1,"
    "  unseen = unseen + ((NEW.flags & 1) = 0), deleted = deleted + ((NEW.flags & 8) != 0),"
    "  size = size + NEW.size WHERE id = NEW.mailbox_id;"
    " UPDATE blobs SET refcount = refcount + 1 WHERE hash = NEW.blob;"
    " END;"
    "CREATE TRIGGER messages_del AFTER DELETE ON messages BEGIN"
    " UPDATE mailboxes SET messages = messages - 1,"
    "  unseen = unseen - ((OLD.flags & 1) = 0), deleted = deleted - ((OLD.flags & 8) != 0),"
    "  size = size - OLD.size WHERE id = OLD.mailbox_id;"
    " UPDATE blobs SET refcount = refcount - 1 WHERE hash = OLD.blob;"
    " END;"
    "CREATE TRIGGER messages_upd AFTER UPDATE OF flags, mailbox_id ON messages"
    " WHEN OLD.flags != NEW.flags OR OLD.mailbox_id != NEW.mailbox_id BEGIN"
    " UPDATE mailboxes SET messages = messages - 1,"
    "  unseen = unseen - ((OLD.flags & 1) = 0), deleted = deleted - ((OLD.flags & 8) != 0),"
    "  size = size - OLD.size WHERE id = OLD.mailbox_id;"
    " UPDATE mailboxes SET messages = messages + 1,"
    "  unseen = unseen + ((NEW.flags & 1) = 0), deleted = deleted + ((NEW.flags & 8) != 0),"
    "  size = size + NEW.size WHERE id = NEW.mailbox_id;"
    " END;",
};
#define SQ_SCHEMA_VERSION ((int)ARRAY_SIZE(schema_steps))

static const struct {
	const char *name;
	unsigned special_use;
} default_mailboxes[] = {
    {"INBOX", 0},
    {"Drafts", STORE_SPECIAL_DRAFTS},
    {"Sent", STORE_SPECIAL_SENT},
    {"Trash", STORE_SPECIAL_TRASH},
    {"Junk", STORE_SPECIAL_JUNK},
    {"Archive", STORE_SPECIAL_ARCHIVE},
};

void sq_random_id(char prefix, char out[26])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[12];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		fatal("RAND_bytes failed");
	out[0] = prefix;
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[1 + 2 * i] = hex[rnd[i] >> 4];
		out[2 + 2 * i] = hex[rnd[i] & 15];
	}
	out[25] = '\0';
}

/*
 * RFC 9051 2.3.1.1: UIDVALIDITY must change whenever a name is reused by a
 * different mailbox. Values come from the clock but never go backwards and
 * never repeat within the account (the last one is persisted).
 */
int sq_uidvalidity_next(struct sdb *c, uint32_t *uidvalidity_r, struct store_error *err)
{
	sqlite3_stmt *stmt;
	uint64_t last = 0, now = (uint64_t)time(NULL), next;

	stmt = sdb_stmt(c, "SELECT value FROM meta WHERE key = 'last_uidvalidity'", err);
	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) == SQLITE_ROW)
		last = (uint64_t)sqlite3_column_int64(stmt, 0);
	sqlite3_reset(stmt);
	next = now > last ? now : last + 1;
	if (next > UINT32_MAX)
		next = 1; /* 2106: wraps once, still distinct from recent values */
	stmt = sdb_stmt(c, "UPDATE meta SET value = ? WHERE key = 'last_uidvalidity'", err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, (sqlite3_int64)next);
	if (sdb_step_done(c, stmt, err) < 0)
		return -1;
	*uidvalidity_r = (uint32_t)next;
	return 0;
}

static int schema_create_defaults(struct sdb *c, struct store_error *err)
{
	for (size_t i = 0; i < ARRAY_SIZE(default_mailboxes); i++) {
		sqlite3_stmt *stmt;
		int64_t id;

		if (sq_mailbox_insert(c, default_mailboxes[i].name,
		                      default_mailboxes[i].special_use, &id, err) < 0)
			return -1;
		stmt = sdb_stmt(c, "INSERT INTO subscriptions (name) VALUES (?)", err);
		if (stmt == NULL)
			return -1;
		sqlite3_bind_text(stmt, 1, default_mailboxes[i].name, -1, SQLITE_STATIC);
		if (sdb_step_done(c, stmt, err) < 0)
			return -1;
	}
	return 0;
}

static int schema_version(struct sdb *c, int *version_r, struct store_error *err)
{
	sqlite3_stmt *stmt = sdb_stmt(c, "PRAGMA user_version", err);

	if (stmt == NULL)
		return -1;
	if (sqlite3_step(stmt) != SQLITE_ROW)
		return sq_db_error(c, "reading the schema version", err);
	*version_r = sqlite3_column_int(stmt, 0);
	sqlite3_reset(stmt);
	return 0;
}

/* BEGIN IMMEDIATE first, so that two processes opening a new account at
 * once do not both create it. */
int sq_schema_migrate(struct sdb *c, struct store_error *err)
{
	int version = 0;
	char sql[64];

	if (schema_version(c, &version, err) < 0)
		return -1;
	if (version == SQ_SCHEMA_VERSION)
		return 0;
	if (sdb_exec(c, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	if (schema_version(c, &version, err) < 0)
		goto rollback;
	if (version < 0 || version > SQ_SCHEMA_VERSION) {
		store_error_set(err, STORE_ERR_SERVERBUG,
		                "index.db has schema version %d; this roost knows up to %d",
		                version, SQ_SCHEMA_VERSION);
		goto rollback;
	}
	if (version == 0) {
		if (sdb_exec(c, schema_steps[0], err) < 0 || schema_create_defaults(c, err) < 0)
			goto rollback;
		version = 1;
	}
	for (; version < SQ_SCHEMA_VERSION; version++) {
		if (sdb_exec(c, schema_steps[version], err) < 0)
			goto rollback;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SQ_SCHEMA_VERSION);
	if (sdb_exec(c, sql, err) < 0)
		goto rollback;
	return sdb_exec(c, "COMMIT", err);

rollback:
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
