/*
 * The account database, DATA/roost.db.
 *
 * One SQLite connection opened in serialized mode (SQLITE_OPEN_FULLMUTEX) is
 * shared by all worker threads. Every call prepares and finalizes its own
 * statement, so no statement is ever shared; SQLite's connection mutex is
 * held only while a statement runs. Password hashing, the slow part, always
 * happens before or after the SQL, never while the connection is busy, so
 * logins verify in parallel.
 *
 * Schema changes go through PRAGMA user_version: schema_steps[i] takes the
 * database from version i to i + 1. Append steps; never edit old ones.
 */
#include "auth.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define AUTH_DB_FILE "roost.db"
#define AUTH_DB_BUSY_TIMEOUT_MS 5000

struct auth_db {
	sqlite3 *db;
	struct auth_hash_params params;
	/* a hash of a random password nobody knows, made with params: unknown
	 * users are verified against it so that they cost the same time. Made
	 * at the first need (auth_db_prepare_logins), so that the tools that
	 * never check a password (deliver, import, check) do not pay for it */
	pthread_mutex_t dummy_lock;
	char *dummy_hash;
};

static const char *const schema_steps[] = {
    /* 0 -> 1: accounts. imap_password = 0 will mean "only app passwords
     * may log in" once those exist. */
    "CREATE TABLE users ("
    " id INTEGER PRIMARY KEY,"
    " name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    " password_hash TEXT NOT NULL,"
    " created INTEGER NOT NULL,"
    " imap_password INTEGER NOT NULL DEFAULT 1"
    ");",
};
#define AUTH_SCHEMA_VERSION ((int)ARRAY_SIZE(schema_steps))

bool auth_username_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > AUTH_USERNAME_MAX)
		return false;
	/* no hidden files, nothing that looks like an option */
	if (name[0] == '.' || name[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
			continue;
		if (strchr("._@+-", c) == NULL)
			return false;
	}
	return true;
}

/* mkdir -p with mode 0700 for the parts that are created. */
static int auth_mkdir_p(const char *path, char **error_r)
{
	char *p = xstrdup(path);
	size_t len = strlen(p);

	while (len > 1 && p[len - 1] == '/')
		p[--len] = '\0';
	for (char *s = p + 1;; s++) {
		bool last = *s == '\0';
		if (*s != '/' && !last)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			*error_r = xasprintf("cannot create directory %s: %s", p, strerror(errno));
			free(p);
			return -1;
		}
		if (last)
			break;
		*s = '/';
	}
	free(p);
	return 0;
}

/*
 * Make sure the database file exists with mode 0600 before SQLite opens it
 * (SQLite would create it 0644). SQLite gives the -wal and -shm files the
 * main file's mode and, when running as root, its owner. When root creates
 * the file (`roost user add` before the first start), it goes to the owner
 * of the data directory, who is the account the server drops to.
 */
static int auth_db_create_file(const char *dir, const char *path, char **error_r)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		*error_r = xasprintf("cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (geteuid() == 0 && stat(dir, &st) == 0 && st.st_uid != 0) {
		if (fchown(fd, st.st_uid, st.st_gid) < 0)
			log_warn("cannot give %s to uid %u: %s", path, (unsigned)st.st_uid,
			         strerror(errno));
	}
	close(fd);
	return 0;
}

static int auth_db_exec(sqlite3 *db, const char *sql, char **error_r)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*error_r = xstrdup(msg != NULL ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int auth_db_user_version(sqlite3 *db, int *version_r, char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW)
			*version_r = sqlite3_column_int(stmt, 0);
		sqlite3_finalize(stmt);
	}
	if (rc != SQLITE_ROW) {
		*error_r = xasprintf("reading the schema version: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/* Bring the schema up to AUTH_SCHEMA_VERSION in one transaction. BEGIN
 * IMMEDIATE takes the write lock first, so two processes opening a fresh
 * database at once do not both try to create it. */
static int auth_db_migrate(sqlite3 *db, char **error_r)
{
	int version = 0;
	char *sql;

	if (auth_db_user_version(db, &version, error_r) < 0)
		return -1;
	if (version == AUTH_SCHEMA_VERSION)
		return 0;
	if (auth_db_exec(db, "BEGIN IMMEDIATE", error_r) < 0)
		return -1;
	if (auth_db_user_version(db, &version, error_r) < 0)
		goto rollback;
	if (version > AUTH_SCHEMA_VERSION || version < 0) {
		*error_r =
		    xasprintf("schema version %d is unknown to this roost (it knows up to %d)",
		              version, AUTH_SCHEMA_VERSION);
		goto rollback;
	}
	for (; version < AUTH_SCHEMA_VERSION; version++) {
		if (auth_db_exec(db, schema_steps[version], error_r) < 0)
			goto rollback;
	}
	sql = xasprintf("PRAGMA user_version = %d", AUTH_SCHEMA_VERSION);
	if (auth_db_exec(db, sql, error_r) < 0) {
		free(sql);
		goto rollback;
	}
	free(sql);
	return auth_db_exec(db, "COMMIT", error_r);

rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

int auth_db_open(const char *data_dir, const struct auth_hash_params *params, struct auth_db **db_r,
                 char **error_r)
{
	struct auth_db *adb;
	char *path;
	int rc;

	*db_r = NULL;
	*error_r = NULL;
	if (!sqlite3_threadsafe()) {
		*error_r = xstrdup("SQLite was built without thread support");
		return -1;
	}
	if (auth_mkdir_p(data_dir, error_r) < 0)
		return -1;
	path = xasprintf("%s/%s", data_dir, AUTH_DB_FILE);
	if (auth_db_create_file(data_dir, path, error_r) < 0) {
		free(path);
		return -1;
	}

	adb = xcalloc(1, sizeof(*adb));
	adb->params = *params;
	pthread_mutex_init(&adb->dummy_lock, NULL);
	rc = sqlite3_open_v2(path, &adb->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		*error_r =
		    xasprintf("cannot open %s: %s", path,
		              adb->db != NULL ? sqlite3_errmsg(adb->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(adb->db, 1);
	sqlite3_busy_timeout(adb->db, AUTH_DB_BUSY_TIMEOUT_MS);
	/* WAL: readers (logins) never wait for a writer (`roost user add`);
	 * FULL: an account change is on disk when the command returns */
	if (auth_db_exec(adb->db, "PRAGMA journal_mode = WAL", error_r) < 0 ||
	    auth_db_exec(adb->db, "PRAGMA synchronous = FULL", error_r) < 0 ||
	    auth_db_migrate(adb->db, error_r) < 0) {
		char *inner = *error_r;
		*error_r = xasprintf("%s: %s", path, inner);
		free(inner);
		goto fail;
	}

	free(path);
	*db_r = adb;
	return 0;

fail:
	free(path);
	auth_db_close(&adb);
	return -1;
}

void auth_db_close(struct auth_db **dbp)
{
	struct auth_db *adb = *dbp;

	if (adb == NULL)
		return;
	*dbp = NULL;
	/* every statement is finalized by the call that made it */
	if (adb->db != NULL && sqlite3_close(adb->db) != SQLITE_OK)
		log_err("roost.db: close: %s", sqlite3_errmsg(adb->db));
	free(adb->dummy_hash);
	pthread_mutex_destroy(&adb->dummy_lock);
	free(adb);
}

/* Error text for rc; sqlite3_errstr is safe where the connection's last
 * message may already belong to another thread. */
static char *auth_db_error(const char *what, int rc)
{
	return xasprintf("roost.db: %s: %s", what, sqlite3_errstr(rc));
}

static int auth_prepare(struct auth_db *db, const char *sql, sqlite3_stmt **stmt_r, char **error_r)
{
	int rc = sqlite3_prepare_v2(db->db, sql, -1, stmt_r, NULL);

	if (rc != SQLITE_OK) {
		*error_r = auth_db_error("prepare", rc);
		return -1;
	}
	return 0;
}

static int auth_check_password_arg(const char *password, char **error_r)
{
	size_t len = strlen(password);

	if (len == 0) {
		*error_r = xstrdup("empty password");
		return -1;
	}
	if (len > AUTH_PASSWORD_MAX) {
		*error_r = xasprintf("password longer than %d bytes", AUTH_PASSWORD_MAX);
		return -1;
	}
	return 0;
}

static int auth_hash(struct auth_db *db, const char *password, char **hash_r, char **error_r)
{
	if (auth_password_hash(password, &db->params, hash_r) < 0) {
		*error_r = xasprintf("cannot hash with argon2id t=%u m=%u KiB", db->params.ops,
		                     db->params.mem_kib);
		return -1;
	}
	return 0;
}

int auth_user_add(struct auth_db *db, const char *name, const char *password, char **error_r)
{
	sqlite3_stmt *stmt;
	char *hash;
	int rc;

	*error_r = NULL;
	if (!auth_username_valid(name)) {
		*error_r = xstrdup("invalid user name");
		return -1;
	}
	if (auth_check_password_arg(password, error_r) < 0)
		return -1;
	if (auth_hash(db, password, &hash, error_r) < 0)
		return -1;
	if (auth_prepare(db, "INSERT INTO users (name, password_hash, created) VALUES (?1, ?2, ?3)",
	                 &stmt, error_r) < 0) {
		free(hash);
		return -1;
	}
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)time(NULL));
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	free(hash);
	if (rc == SQLITE_CONSTRAINT_UNIQUE) {
		*error_r = xasprintf("user %s already exists", name);
		return -1;
	}
	if (rc != SQLITE_DONE) {
		*error_r = auth_db_error("adding user", rc);
		return -1;
	}
	return 0;
}

/* Run a statement whose ?1 is a user name and that returns a row per changed
 * user (RETURNING: sqlite3_changes() would race with other threads). */
static int auth_user_change(struct auth_db *db, const char *sql, const char *name, const char *hash,
                            const char *what, char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	if (auth_prepare(db, sql, &stmt, error_r) < 0)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if (hash != NULL)
		sqlite3_bind_text(stmt, 2, hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_DONE)
			rc = SQLITE_ROW;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	*error_r = auth_db_error(what, rc);
	return -1;
}

int auth_user_delete(struct auth_db *db, const char *name, char **error_r)
{
	*error_r = NULL;
	if (!auth_username_valid(name))
		return 0;
	return auth_user_change(db, "DELETE FROM users WHERE name = ?1 RETURNING id", name, NULL,
	                        "deleting user", error_r);
}

int auth_user_set_password(struct auth_db *db, const char *name, const char *password,
                           char **error_r)
{
	char *hash;
	int ret;

	*error_r = NULL;
	if (!auth_username_valid(name))
		return 0;
	if (auth_check_password_arg(password, error_r) < 0)
		return -1;
	if (auth_hash(db, password, &hash, error_r) < 0)
		return -1;
	ret =
	    auth_user_change(db, "UPDATE users SET password_hash = ?2 WHERE name = ?1 RETURNING id",
	                     name, hash, "changing password", error_r);
	free(hash);
	return ret;
}

int auth_user_list(struct auth_db *db, void (*cb)(const char *name, void *ctx), void *ctx,
                   char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	*error_r = NULL;
	if (auth_prepare(db, "SELECT name FROM users ORDER BY name", &stmt, error_r) < 0)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		cb((const char *)sqlite3_column_text(stmt, 0), ctx);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		*error_r = auth_db_error("listing users", rc);
		return -1;
	}
	return 0;
}

int auth_user_id(struct auth_db *db, const char *name, int64_t *id_r, char **canonical_r,
                 char **error_r)
{
	sqlite3_stmt *stmt;
	int rc;

	*error_r = NULL;
	*id_r = 0;
	if (canonical_r != NULL)
		*canonical_r = NULL;
	if (!auth_username_valid(name))
		return 0;
	if (auth_prepare(db, "SELECT id, name FROM users WHERE name = ?1", &stmt, error_r) < 0)
		return -1;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*id_r = sqlite3_column_int64(stmt, 0);
		if (canonical_r != NULL)
			*canonical_r = xstrdup((const char *)sqlite3_column_text(stmt, 1));
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	*error_r = auth_db_error("looking up user", rc);
	return -1;
}

int auth_user_lookup(struct auth_db *db, const char *name, char **name_r, char **error_r)
{
	int64_t id;

	return auth_user_id(db, name, &id, name_r, error_r);
}

/*
 * Look name up and copy out what verification needs, so that the statement
 * is finished before the slow hash starts. 1 found, 0 not, -1 error.
 */
static int auth_user_fetch(struct auth_db *db, const char *name, char **name_r, char **hash_r,
                           bool *imap_password_r)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = sqlite3_prepare_v2(
	    db->db, "SELECT name, password_hash, imap_password FROM users WHERE name = ?1", -1,
	    &stmt, NULL);
	if (rc != SQLITE_OK) {
		log_err("roost.db: prepare: %s", sqlite3_errstr(rc));
		return -1;
	}
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *n = (const char *)sqlite3_column_text(stmt, 0);
		const char *h = (const char *)sqlite3_column_text(stmt, 1);
		*name_r = xstrdup(n != NULL ? n : "");
		*hash_r = xstrdup(h != NULL ? h : "");
		*imap_password_r = sqlite3_column_int(stmt, 2) != 0;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	log_err("roost.db: looking up a user: %s", sqlite3_errstr(rc));
	return -1;
}

int auth_db_prepare_logins(struct auth_db *db)
{
	unsigned char secret[32];
	char secret_hex[sizeof(secret) * 2 + 1];
	int rc = 0;

	pthread_mutex_lock(&db->dummy_lock);
	if (db->dummy_hash == NULL) {
		randombytes_buf(secret, sizeof(secret));
		sodium_bin2hex(secret_hex, sizeof(secret_hex), secret, sizeof(secret));
		sodium_memzero(secret, sizeof(secret));
		rc = auth_password_hash(secret_hex, &db->params, &db->dummy_hash);
		sodium_memzero(secret_hex, sizeof(secret_hex));
		if (rc < 0)
			log_err("roost.db: cannot hash with argon2id t=%u m=%u KiB", db->params.ops,
			        db->params.mem_kib);
	}
	pthread_mutex_unlock(&db->dummy_lock);
	return rc;
}

enum auth_result auth_verify(struct auth_db *db, const char *name, const char *password,
                             char **user_r)
{
	char *canonical = NULL, *hash = NULL;
	bool imap_password = false, too_long, match;
	int found = 0;

	*user_r = NULL;
	if (auth_db_prepare_logins(db) < 0)
		return AUTH_INTERNAL;
	/* an invalid name cannot be in the table: skip the query, not the hash */
	if (auth_username_valid(name)) {
		found = auth_user_fetch(db, name, &canonical, &hash, &imap_password);
		if (found < 0)
			return AUTH_INTERNAL;
	}

	/* Same work on every path: an over-long password is replaced by an
	 * empty one (hashing megabytes would both cost and tell), an unknown
	 * user is checked against the dummy hash. */
	too_long = strnlen(password, AUTH_PASSWORD_MAX + 1) > AUTH_PASSWORD_MAX;
	match = auth_password_check(found ? hash : db->dummy_hash, too_long ? "" : password);

	free(hash);
	if (found && match && !too_long && imap_password) {
		*user_r = canonical;
		return AUTH_OK;
	}
	free(canonical);
	return AUTH_FAILED;
}
