/* Unit tests for auth/: names, password hashing, the account database,
 * SASL PLAIN and LOGIN, base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/auth.h"
#include "base/base.h"

#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fast argon2id: these tests check behaviour, not strength. */
static const struct auth_hash_params test_params = {.ops = 1, .mem_kib = 64};

struct fixture {
	char tmp[64];
	char *data_dir;
	struct auth_db *db;
};

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	char *error = NULL;

	strcpy(f->tmp, "/tmp/roost-test-auth-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	/* a level that does not exist yet: auth_db_open creates it */
	f->data_dir = xasprintf("%s/data", f->tmp);
	assert_int_equal(auth_db_open(f->data_dir, &test_params, &f->db, &error), 0);
	assert_null(error);
	assert_non_null(f->db);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	auth_db_close(&f->db);
	assert_null(f->db);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f->data_dir);
	free(f);
	return 0;
}

/* ---- names ---- */

static void test_username_valid(void **state)
{
	char long_name[AUTH_USERNAME_MAX + 2];

	assert_true(auth_username_valid("alice"));
	assert_true(auth_username_valid("a"));
	assert_true(auth_username_valid("Alice.Smith+tag@example.org"));
	assert_true(auth_username_valid("user_1-2"));
	assert_true(auth_username_valid("a.."));

	memset(long_name, 'x', sizeof(long_name));
	long_name[AUTH_USERNAME_MAX] = '\0';
	assert_true(auth_username_valid(long_name));
	long_name[AUTH_USERNAME_MAX] = 'x';
	long_name[AUTH_USERNAME_MAX + 1] = '\0';
	assert_false(auth_username_valid(long_name));

	assert_false(auth_username_valid(""));
	assert_false(auth_username_valid("a b"));
	assert_false(auth_username_valid(" alice"));
	assert_false(auth_username_valid("alice\t"));
	assert_false(auth_username_valid("al\x01ice"));
	assert_false(auth_username_valid("al\x7fice"));
	assert_false(auth_username_valid("alice\r\n"));
	assert_false(auth_username_valid("../x"));
	assert_false(auth_username_valid("a/b"));
	assert_false(auth_username_valid(".hidden"));
	assert_false(auth_username_valid("-option"));
	assert_false(auth_username_valid("quote\"d"));
	assert_false(auth_username_valid("star*"));
	assert_false(auth_username_valid("per%cent"));
	assert_false(auth_username_valid("caf\xc3\xa9"));
}

/* ---- password hashing ---- */

static void test_password_hash_roundtrip(void **state)
{
	char *hash = NULL, *hash2 = NULL;

	assert_int_equal(auth_password_hash("correct horse", &test_params, &hash), 0);
	assert_non_null(hash);
	assert_true(strncmp(hash, "$argon2id$", 10) == 0);
	assert_non_null(strstr(hash, "m=64,t=1,"));
	assert_true(auth_password_check(hash, "correct horse"));
	assert_false(auth_password_check(hash, "correct horsE"));
	assert_false(auth_password_check(hash, "correct hors"));
	assert_false(auth_password_check(hash, ""));

	/* random salt: the same password never hashes the same twice */
	assert_int_equal(auth_password_hash("correct horse", &test_params, &hash2), 0);
	assert_string_not_equal(hash, hash2);
	assert_true(auth_password_check(hash2, "correct horse"));

	assert_false(auth_password_check("", "x"));
	assert_false(auth_password_check("$argon2id$garbage", "x"));
	assert_false(auth_password_check("plain-text", "plain-text"));
	free(hash);
	free(hash2);
}

static void test_password_hash_bad_params(void **state)
{
	struct auth_hash_params p = {.ops = 1, .mem_kib = 4}; /* below 8 KiB */
	char *hash = (char *)"untouched";

	assert_int_equal(auth_password_hash("x", &p, &hash), -1);
	assert_null(hash);
	p.ops = 0;
	p.mem_kib = 64;
	assert_int_equal(auth_password_hash("x", &p, &hash), -1);
	assert_null(hash);
}

/* ---- the database ---- */

static void test_db_files(void **state)
{
	struct fixture *f = *state;
	struct stat st;
	char *path = xasprintf("%s/roost.db", f->data_dir);
	sqlite3 *db;
	sqlite3_stmt *stmt;

	assert_int_equal(stat(f->data_dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(stmt, 0), 1);
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_prepare_v2(db,
	                                    "SELECT id, name, password_hash, created, imap_password"
	                                    " FROM users",
	                                    -1, &stmt, NULL),
	                 SQLITE_OK);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	free(path);
}

static void test_db_reopen(void **state)
{
	struct fixture *f = *state;
	struct auth_db *db2 = NULL;
	char *error = NULL, *user = NULL;

	assert_int_equal(auth_user_add(f->db, "alice", "pw1", &error), 0);
	auth_db_close(&f->db);
	assert_null(f->db);
	auth_db_close(&f->db); /* closing NULL is harmless */

	assert_int_equal(auth_db_open(f->data_dir, &test_params, &db2, &error), 0);
	assert_int_equal(auth_verify(db2, "alice", "pw1", &user), AUTH_OK);
	assert_string_equal(user, "alice");
	free(user);
	f->db = db2;
}

static void test_db_open_newer_schema(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/roost.db", f->data_dir);
	struct auth_db *db2 = NULL;
	char *error = NULL;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(auth_db_open(f->data_dir, &test_params, &db2, &error), -1);
	assert_null(db2);
	assert_non_null(error);
	assert_non_null(strstr(error, "schema version 99"));
	free(error);
	free(path);
}

static void test_db_open_unwritable(void **state)
{
	struct fixture *f = *state;
	struct auth_db *db2 = NULL;
	char *error = NULL;
	char *file = xasprintf("%s/file", f->tmp);
	char *dir = xasprintf("%s/file/data", f->tmp);
	FILE *fp = fopen(file, "w");

	/* the data dir would have to live below a regular file */
	assert_non_null(fp);
	fclose(fp);
	assert_int_equal(auth_db_open(dir, &test_params, &db2, &error), -1);
	assert_null(db2);
	assert_non_null(error);
	free(error);
	free(dir);
	free(file);
}

struct name_list {
	char *names[16];
	size_t count;
};

static void collect_name(const char *name, void *ctx)
{
	struct name_list *l = ctx;

	assert_true(l->count < ARRAY_SIZE(l->names));
	l->names[l->count++] = xstrdup(name);
}

static void name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->count; i++)
		free(l->names[i]);
	l->count = 0;
}

static void test_user_add_list_delete(void **state)
{
	struct fixture *f = *state;
	struct name_list l = {0};
	char *error = NULL;

	assert_int_equal(auth_user_list(f->db, collect_name, &l, &error), 0);
	assert_int_equal(l.count, 0);

	assert_int_equal(auth_user_add(f->db, "bob", "pw-bob", &error), 0);
	assert_null(error);
	assert_int_equal(auth_user_add(f->db, "Carol", "pw-carol", &error), 0);
	assert_int_equal(auth_user_add(f->db, "alice", "pw-alice", &error), 0);

	assert_int_equal(auth_user_list(f->db, collect_name, &l, &error), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.names[0], "alice");
	assert_string_equal(l.names[1], "bob");
	assert_string_equal(l.names[2], "Carol");
	name_list_free(&l);

	assert_int_equal(auth_user_delete(f->db, "BOB", &error), 1);
	assert_null(error);
	assert_int_equal(auth_user_delete(f->db, "bob", &error), 0);
	assert_int_equal(auth_user_delete(f->db, "nobody", &error), 0);
	assert_int_equal(auth_user_delete(f->db, "../x", &error), 0);

	assert_int_equal(auth_user_list(f->db, collect_name, &l, &error), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.names[0], "alice");
	assert_string_equal(l.names[1], "Carol");
	name_list_free(&l);
}

static void test_user_lookup(void **state)
{
	struct fixture *f = *state;
	char *error = NULL, *name = NULL;

	assert_int_equal(auth_user_add(f->db, "Alice", "pw", &error), 0);
	assert_int_equal(auth_user_lookup(f->db, "aLiCe", &name, &error), 1);
	assert_string_equal(name, "Alice");
	free(name);
	assert_int_equal(auth_user_lookup(f->db, "alice", NULL, &error), 1);
	assert_int_equal(auth_user_lookup(f->db, "bob", &name, &error), 0);
	assert_null(name);
	assert_int_equal(auth_user_lookup(f->db, "", &name, &error), 0);
	assert_null(error);
}

static void test_user_add_duplicate(void **state)
{
	struct fixture *f = *state;
	struct name_list l = {0};
	char *error = NULL, *user = NULL;

	assert_int_equal(auth_user_add(f->db, "Alice", "first", &error), 0);
	assert_int_equal(auth_user_add(f->db, "alice", "second", &error), -1);
	assert_non_null(error);
	assert_non_null(strstr(error, "exists"));
	free(error);
	error = NULL;
	assert_int_equal(auth_user_add(f->db, "ALICE", "third", &error), -1);
	assert_non_null(strstr(error, "exists"));
	free(error);

	/* the first one is untouched */
	assert_int_equal(auth_user_list(f->db, collect_name, &l, &error), 0);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.names[0], "Alice");
	name_list_free(&l);
	assert_int_equal(auth_verify(f->db, "alice", "first", &user), AUTH_OK);
	free(user);
	assert_int_equal(auth_verify(f->db, "alice", "second", &user), AUTH_FAILED);
	assert_null(user);
}

static void test_user_add_invalid(void **state)
{
	struct fixture *f = *state;
	struct name_list l = {0};
	char long_name[AUTH_USERNAME_MAX + 2];
	char long_pw[AUTH_PASSWORD_MAX + 2];
	const char *bad[] = {"",     "a b", "tab\there", "ctl\x01", "nl\n",
	                     "../x", ".x",  "-x",        "a/b",     long_name};
	char *error = NULL;

	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0'; /* 256 bytes */
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(auth_user_add(f->db, bad[i], "pw", &error), -1);
		assert_non_null(error);
		assert_non_null(strstr(error, "invalid"));
		free(error);
		error = NULL;
	}

	/* passwords: not empty, not over the limit */
	assert_int_equal(auth_user_add(f->db, "alice", "", &error), -1);
	assert_non_null(error);
	free(error);
	memset(long_pw, 'p', sizeof(long_pw) - 1);
	long_pw[sizeof(long_pw) - 1] = '\0';
	assert_int_equal(auth_user_add(f->db, "alice", long_pw, &error), -1);
	assert_non_null(error);
	free(error);
	long_pw[AUTH_PASSWORD_MAX] = '\0'; /* exactly at the limit: fine */
	assert_int_equal(auth_user_add(f->db, "alice", long_pw, &error), 0);

	assert_int_equal(auth_user_list(f->db, collect_name, &l, &error), 0);
	assert_int_equal(l.count, 1);
	name_list_free(&l);
}

static void test_user_set_password(void **state)
{
	struct fixture *f = *state;
	char *error = NULL, *user = NULL;

	assert_int_equal(auth_user_add(f->db, "alice", "old", &error), 0);
	assert_int_equal(auth_user_set_password(f->db, "ALICE", "new", &error), 1);
	assert_null(error);
	assert_int_equal(auth_verify(f->db, "alice", "old", &user), AUTH_FAILED);
	assert_null(user);
	assert_int_equal(auth_verify(f->db, "alice", "new", &user), AUTH_OK);
	assert_string_equal(user, "alice");
	free(user);

	assert_int_equal(auth_user_set_password(f->db, "bob", "new", &error), 0);
	assert_int_equal(auth_user_set_password(f->db, "bad name", "new", &error), 0);
	assert_int_equal(auth_user_set_password(f->db, "alice", "", &error), -1);
	assert_non_null(error);
	free(error);
	assert_int_equal(auth_verify(f->db, "alice", "new", &user), AUTH_OK);
	free(user);
}

static void test_verify(void **state)
{
	struct fixture *f = *state;
	char long_pw[AUTH_PASSWORD_MAX + 2];
	char *error = NULL, *user = NULL;

	assert_int_equal(auth_user_add(f->db, "Alice.Smith", "s3cret", &error), 0);

	assert_int_equal(auth_verify(f->db, "Alice.Smith", "s3cret", &user), AUTH_OK);
	assert_string_equal(user, "Alice.Smith");
	free(user);
	user = NULL;
	/* names are case-insensitive; the stored spelling comes back */
	assert_int_equal(auth_verify(f->db, "alice.smith", "s3cret", &user), AUTH_OK);
	assert_string_equal(user, "Alice.Smith");
	free(user);
	user = NULL;
	assert_int_equal(auth_verify(f->db, "ALICE.SMITH", "s3cret", &user), AUTH_OK);
	assert_string_equal(user, "Alice.Smith");
	free(user);
	user = NULL;

	/* passwords are not */
	assert_int_equal(auth_verify(f->db, "Alice.Smith", "S3CRET", &user), AUTH_FAILED);
	assert_null(user);
	assert_int_equal(auth_verify(f->db, "Alice.Smith", "", &user), AUTH_FAILED);
	assert_int_equal(auth_verify(f->db, "Alice.Smith", "s3cret ", &user), AUTH_FAILED);
	assert_int_equal(auth_verify(f->db, "bob", "s3cret", &user), AUTH_FAILED);
	assert_null(user);
	assert_int_equal(auth_verify(f->db, "", "s3cret", &user), AUTH_FAILED);
	assert_int_equal(auth_verify(f->db, "Alice Smith", "s3cret", &user), AUTH_FAILED);
	assert_int_equal(auth_verify(f->db, "Alice.Smith'--", "s3cret", &user), AUTH_FAILED);
	assert_null(user);

	memset(long_pw, 'p', sizeof(long_pw) - 1);
	long_pw[sizeof(long_pw) - 1] = '\0';
	assert_int_equal(auth_verify(f->db, "Alice.Smith", long_pw, &user), AUTH_FAILED);
	assert_int_equal(auth_verify(f->db, "nobody", long_pw, &user), AUTH_FAILED);
	assert_null(user);
}

static void test_verify_imap_password_off(void **state)
{
	struct fixture *f = *state;
	char *path = xasprintf("%s/roost.db", f->data_dir);
	char *error = NULL, *user = NULL;
	sqlite3 *db;

	assert_int_equal(auth_user_add(f->db, "alice", "pw", &error), 0);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE users SET imap_password = 0", NULL, NULL, NULL),
	                 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(auth_verify(f->db, "alice", "pw", &user), AUTH_FAILED);
	assert_null(user);
	free(path);
}

#define VERIFY_THREADS 4
#define VERIFY_ROUNDS 12

struct verify_job {
	struct auth_db *db;
	int index;
	int failures;
};

static void *verify_thread(void *arg)
{
	struct verify_job *job = arg;
	char name[32], password[32], *user;

	for (int i = 0; i < VERIFY_ROUNDS; i++) {
		int who = (job->index + i) % VERIFY_THREADS;
		snprintf(name, sizeof(name), "User%d", who);
		snprintf(password, sizeof(password), "password-%d", who);
		user = NULL;
		switch (i % 3) {
		case 0: /* right password, name in another case */
			name[0] = 'u';
			if (auth_verify(job->db, name, password, &user) != AUTH_OK ||
			    user == NULL || strncmp(user, "User", 4) != 0)
				job->failures++;
			break;
		case 1: /* wrong password */
			password[0] = 'X';
			if (auth_verify(job->db, name, password, &user) != AUTH_FAILED ||
			    user != NULL)
				job->failures++;
			break;
		default: /* unknown user */
			if (auth_verify(job->db, "ghost", password, &user) != AUTH_FAILED ||
			    user != NULL)
				job->failures++;
			break;
		}
		free(user);
	}
	return NULL;
}

static void test_verify_threads(void **state)
{
	struct fixture *f = *state;
	struct verify_job jobs[VERIFY_THREADS];
	pthread_t threads[VERIFY_THREADS];
	char name[32], password[32], *error = NULL;

	for (int i = 0; i < VERIFY_THREADS; i++) {
		snprintf(name, sizeof(name), "User%d", i);
		snprintf(password, sizeof(password), "password-%d", i);
		assert_int_equal(auth_user_add(f->db, name, password, &error), 0);
	}
	for (int i = 0; i < VERIFY_THREADS; i++) {
		jobs[i] = (struct verify_job){.db = f->db, .index = i};
		assert_int_equal(pthread_create(&threads[i], NULL, verify_thread, &jobs[i]), 0);
	}
	for (int i = 0; i < VERIFY_THREADS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_int_equal(jobs[i].failures, 0);
	}
}

/* ---- SASL ---- */

static void test_sasl_lookup(void **state)
{
	enum sasl_mech_id id;

	assert_int_equal(sasl_mech_lookup("PLAIN", &id), 0);
	assert_int_equal(id, SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_lookup("plain", &id), 0);
	assert_int_equal(id, SASL_MECH_PLAIN);
	assert_int_equal(sasl_mech_lookup("Login", &id), 0);
	assert_int_equal(id, SASL_MECH_LOGIN);
	assert_int_equal(sasl_mech_lookup("CRAM-MD5", &id), -1);
	assert_int_equal(sasl_mech_lookup("PLAINX", &id), -1);
	assert_int_equal(sasl_mech_lookup("", &id), -1);
}

/* Run one PLAIN step with an initial response of len bytes. */
static enum sasl_step_result plain_once(const char *msg, size_t len, struct sasl_exchange **ex_r)
{
	const unsigned char *ch;
	size_t ch_len;

	*ex_r = sasl_exchange_new(SASL_MECH_PLAIN);
	return sasl_exchange_step(*ex_r, (const unsigned char *)msg, len, &ch, &ch_len);
}

#define PLAIN(s) plain_once(s, sizeof(s) - 1, &ex)

static void test_sasl_plain_valid(void **state)
{
	struct sasl_exchange *ex;
	const unsigned char *ch;
	size_t ch_len;

	/* initial response (SASL-IR) */
	assert_int_equal(PLAIN("\0alice\0secret"), SASL_STEP_DONE);
	assert_null(sasl_exchange_authzid(ex));
	assert_string_equal(sasl_exchange_authcid(ex), "alice");
	assert_string_equal(sasl_exchange_password(ex), "secret");
	sasl_exchange_free(&ex);
	assert_null(ex);

	/* no initial response: empty challenge first */
	ex = sasl_exchange_new(SASL_MECH_PLAIN);
	assert_int_equal(sasl_exchange_step(ex, NULL, 0, &ch, &ch_len), SASL_STEP_CHALLENGE);
	assert_non_null(ch);
	assert_int_equal(ch_len, 0);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"\0bob\0pw with spaces", 19,
	                                    &ch, &ch_len),
	                 SASL_STEP_DONE);
	assert_string_equal(sasl_exchange_authcid(ex), "bob");
	assert_string_equal(sasl_exchange_password(ex), "pw with spaces");
	/* nothing more is expected */
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"", 0, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	sasl_exchange_free(&ex);
}

static void test_sasl_plain_authzid(void **state)
{
	struct sasl_exchange *ex;

	assert_int_equal(PLAIN("admin\0alice\0secret"), SASL_STEP_DONE);
	assert_string_equal(sasl_exchange_authzid(ex), "admin");
	assert_string_equal(sasl_exchange_authcid(ex), "alice");
	assert_string_equal(sasl_exchange_password(ex), "secret");
	sasl_exchange_free(&ex);
}

static void test_sasl_plain_malformed(void **state)
{
	struct sasl_exchange *ex;
	char big[AUTH_PASSWORD_MAX + 16];
	const unsigned char *ch;
	size_t ch_len, n;

	assert_int_equal(PLAIN("alicesecret"), SASL_STEP_ERROR); /* no NUL */
	assert_null(sasl_exchange_authcid(ex));
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("alice\0secret"), SASL_STEP_ERROR); /* one NUL */
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("\0alice\0sec\0ret"), SASL_STEP_ERROR); /* three */
	assert_null(sasl_exchange_password(ex));
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("\0alice\0secret\0"), SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("\0alice\0"), SASL_STEP_ERROR); /* empty password */
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("\0\0secret"), SASL_STEP_ERROR); /* empty authcid */
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("admin\0\0secret"), SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN("\0\0"), SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	assert_int_equal(PLAIN(""), SASL_STEP_ERROR); /* empty initial response */
	sasl_exchange_free(&ex);

	/* authcid over the limit */
	memset(big, 'a', sizeof(big));
	big[0] = '\0';
	big[AUTH_USERNAME_MAX + 2] = '\0';
	assert_int_equal(plain_once(big, AUTH_USERNAME_MAX + 5, &ex), SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	big[AUTH_USERNAME_MAX + 1] = '\0'; /* authcid of exactly 255: fine */
	big[AUTH_USERNAME_MAX + 2] = 'a';
	assert_int_equal(plain_once(big, AUTH_USERNAME_MAX + 5, &ex), SASL_STEP_DONE);
	assert_int_equal(strlen(sasl_exchange_authcid(ex)), AUTH_USERNAME_MAX);
	sasl_exchange_free(&ex);

	/* password over the limit */
	memset(big, 'p', sizeof(big));
	memcpy(big, "\0u\0", 3);
	n = 3 + AUTH_PASSWORD_MAX;
	assert_int_equal(plain_once(big, n, &ex), SASL_STEP_DONE);
	sasl_exchange_free(&ex);
	assert_int_equal(plain_once(big, n + 1, &ex), SASL_STEP_ERROR);
	sasl_exchange_free(&ex);

	/* after the empty challenge, a missing response is an error */
	ex = sasl_exchange_new(SASL_MECH_PLAIN);
	assert_int_equal(sasl_exchange_step(ex, NULL, 0, &ch, &ch_len), SASL_STEP_CHALLENGE);
	assert_int_equal(sasl_exchange_step(ex, NULL, 0, &ch, &ch_len), SASL_STEP_ERROR);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"\0a\0b", 4, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
}

static void test_sasl_login(void **state)
{
	struct sasl_exchange *ex = sasl_exchange_new(SASL_MECH_LOGIN);
	const unsigned char *ch;
	size_t ch_len;

	assert_int_equal(sasl_exchange_step(ex, NULL, 0, &ch, &ch_len), SASL_STEP_CHALLENGE);
	assert_int_equal(ch_len, 9);
	assert_memory_equal(ch, "Username:", 9);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"alice", 5, &ch, &ch_len),
	                 SASL_STEP_CHALLENGE);
	assert_int_equal(ch_len, 9);
	assert_memory_equal(ch, "Password:", 9);
	assert_null(sasl_exchange_authcid(ex)); /* not done yet */
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"s3cret", 6, &ch, &ch_len),
	                 SASL_STEP_DONE);
	assert_string_equal(sasl_exchange_authcid(ex), "alice");
	assert_string_equal(sasl_exchange_password(ex), "s3cret");
	assert_null(sasl_exchange_authzid(ex));
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"x", 1, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
}

static void test_sasl_login_initial_response(void **state)
{
	struct sasl_exchange *ex = sasl_exchange_new(SASL_MECH_LOGIN);
	const unsigned char *ch;
	size_t ch_len;

	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"bob", 3, &ch, &ch_len),
	                 SASL_STEP_CHALLENGE);
	assert_int_equal(ch_len, 9);
	assert_memory_equal(ch, "Password:", 9);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"pw", 2, &ch, &ch_len),
	                 SASL_STEP_DONE);
	assert_string_equal(sasl_exchange_authcid(ex), "bob");
	assert_string_equal(sasl_exchange_password(ex), "pw");
	sasl_exchange_free(&ex);
}

static void test_sasl_login_malformed(void **state)
{
	struct sasl_exchange *ex;
	const unsigned char *ch;
	size_t ch_len;

	/* empty username, as initial response and as answer */
	ex = sasl_exchange_new(SASL_MECH_LOGIN);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"", 0, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	ex = sasl_exchange_new(SASL_MECH_LOGIN);
	assert_int_equal(sasl_exchange_step(ex, NULL, 0, &ch, &ch_len), SASL_STEP_CHALLENGE);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"", 0, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	sasl_exchange_free(&ex);

	/* NULs */
	ex = sasl_exchange_new(SASL_MECH_LOGIN);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"al\0ice", 6, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
	ex = sasl_exchange_new(SASL_MECH_LOGIN);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"alice", 5, &ch, &ch_len),
	                 SASL_STEP_CHALLENGE);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"p\0w", 3, &ch, &ch_len),
	                 SASL_STEP_ERROR);
	assert_null(sasl_exchange_authcid(ex));
	sasl_exchange_free(&ex);

	/* a missing response */
	ex = sasl_exchange_new(SASL_MECH_LOGIN);
	assert_int_equal(sasl_exchange_step(ex, (const unsigned char *)"alice", 5, &ch, &ch_len),
	                 SASL_STEP_CHALLENGE);
	assert_int_equal(sasl_exchange_step(ex, NULL, 0, &ch, &ch_len), SASL_STEP_ERROR);
	sasl_exchange_free(&ex);
}

/* The whole path a login takes: base64 from the wire, PLAIN, verify. */
static void test_sasl_plain_verify(void **state)
{
	struct fixture *f = *state;
	struct sasl_exchange *ex = sasl_exchange_new(SASL_MECH_PLAIN);
	const unsigned char *ch;
	unsigned char *msg;
	size_t ch_len, len;
	char *error = NULL, *user = NULL;

	assert_int_equal(auth_user_add(f->db, "Alice", "secret", &error), 0);
	assert_int_equal(auth_base64_decode("AGFsaWNlAHNlY3JldA==", 20, &msg, &len), 0);
	assert_int_equal(sasl_exchange_step(ex, msg, len, &ch, &ch_len), SASL_STEP_DONE);
	assert_int_equal(
	    auth_verify(f->db, sasl_exchange_authcid(ex), sasl_exchange_password(ex), &user),
	    AUTH_OK);
	assert_string_equal(user, "Alice");
	free(user);
	free(msg);
	sasl_exchange_free(&ex);
}

/* ---- base64 ---- */

static void test_base64_known(void **state)
{
	static const struct {
		const char *plain, *b64;
	} vectors[] = {
	    /* RFC 4648 10 */
	    {"", ""},
	    {"f", "Zg=="},
	    {"fo", "Zm8="},
	    {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="},
	    {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	unsigned char *out;
	size_t len;
	char *enc;

	for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
		enc = auth_base64_encode((const unsigned char *)vectors[i].plain,
		                         strlen(vectors[i].plain));
		assert_string_equal(enc, vectors[i].b64);
		free(enc);
		assert_int_equal(
		    auth_base64_decode(vectors[i].b64, strlen(vectors[i].b64), &out, &len), 0);
		assert_int_equal(len, strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, len);
		assert_int_equal(out[len], '\0');
		free(out);
	}

	enc = auth_base64_encode((const unsigned char *)"\0alice\0secret", 13);
	assert_string_equal(enc, "AGFsaWNlAHNlY3JldA==");
	free(enc);

	/* only b64_len bytes are read */
	assert_int_equal(auth_base64_decode("Zm9vYmFy!!!", 8, &out, &len), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(out, "foobar", 6);
	free(out);
}

static void test_base64_roundtrip(void **state)
{
	unsigned char data[300], *out;
	size_t len;
	char *enc;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (unsigned char)(i * 131 + 7);
	for (size_t n = 0; n <= sizeof(data); n += (n < 10 ? 1 : 37)) {
		enc = auth_base64_encode(data, n);
		assert_int_equal(strlen(enc), (n + 2) / 3 * 4);
		assert_int_equal(auth_base64_decode(enc, strlen(enc), &out, &len), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, data, n);
		free(out);
		free(enc);
	}
}

static void test_base64_invalid(void **state)
{
	static const char *const bad[] = {
	    "abc",      /* missing padding */
	    "YQ",       /* ditto */
	    "@@@@",     /* not the alphabet */
	    "ab=c",     /* padding inside */
	    "abc==",    /* too much padding */
	    "a===",     /* ditto */
	    "====",     /* nothing but padding */
	    "YR==",     /* bits after the last byte */
	    "Zm9=",     /* ditto */
	    "Zg==Zg==", /* data after padding */
	    "Zm9v\n",   /* whitespace */
	    " Zm9v",    /* ditto */
	    "Zm 9v",    /* ditto */
	    "Zm9v-_==", /* URL alphabet */
	    "Z",        /* a lone character */
	};
	unsigned char *out = (unsigned char *)"untouched";
	size_t len = 99;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(auth_base64_decode(bad[i], strlen(bad[i]), &out, &len), -1);
		assert_null(out);
		assert_int_equal(len, 0);
	}
	/* an embedded NUL inside the counted bytes */
	assert_int_equal(auth_base64_decode("Zm\0v", 4, &out, &len), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_username_valid),
	    cmocka_unit_test(test_password_hash_roundtrip),
	    cmocka_unit_test(test_password_hash_bad_params),
	    cmocka_unit_test_setup_teardown(test_db_files, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_reopen, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_open_newer_schema, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_db_open_unwritable, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_add_list_delete, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_lookup, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_add_duplicate, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_add_invalid, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_user_set_password, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_imap_password_off, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_verify_threads, setup, teardown),
	    cmocka_unit_test(test_sasl_lookup),
	    cmocka_unit_test(test_sasl_plain_valid),
	    cmocka_unit_test(test_sasl_plain_authzid),
	    cmocka_unit_test(test_sasl_plain_malformed),
	    cmocka_unit_test(test_sasl_login),
	    cmocka_unit_test(test_sasl_login_initial_response),
	    cmocka_unit_test(test_sasl_login_malformed),
	    cmocka_unit_test_setup_teardown(test_sasl_plain_verify, setup, teardown),
	    cmocka_unit_test(test_base64_known),
	    cmocka_unit_test(test_base64_roundtrip),
	    cmocka_unit_test(test_base64_invalid),
	};

	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
