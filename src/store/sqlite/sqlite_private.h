/*
 * The embedded backend: one SQLite database per account
 * (DATA/accounts/<id>/index.db, WAL) plus one immutable file per distinct
 * message under DATA/accounts/<id>/blobs/. docs/storage.md has the picture.
 *
 * Writes go through a group-commit queue (account.c): a writer wraps its
 * work in a struct sq_job and calls sq_write(); the first writer to find no
 * commit running becomes the leader, runs every queued job in one
 * transaction (each in its own SAVEPOINT, so one job's failure does not fail
 * the others), fsyncs the blob directories they touched, commits once, and
 * wakes the others. Only the leader touches the write connection.
 *
 * Reads take a connection from a pool (sq_reader_get/put); under WAL they see
 * the last commit and never wait for the writer.
 */
#ifndef ROOST_STORE_SQLITE_PRIVATE_H
#define ROOST_STORE_SQLITE_PRIVATE_H

#include "store/store_private.h"
#include "base/base.h"

#include <sqlite3.h>

#define SQ_BUSY_TIMEOUT_MS 30000
#define SQ_HASH_HEX 64

/* A connection with a cache of prepared statements, keyed by the SQL
 * string's address (every SQL text is a string literal, so the cache holds
 * at most one statement per literal in the code and never evicts: a
 * statement may be in use while another is prepared). */
struct sdb {
	sqlite3 *db;
	struct sdb_cached {
		const char *sql;
		sqlite3_stmt *stmt;
	} * cache;
	unsigned count, cap;
};

struct sq_reader {
	struct sdb c;
	struct sq_reader *next;
};

struct sq_job;

/* What the leader collects from the jobs of one batch. */
struct sq_batch {
	char **fsync_dirs; /* directories to fsync before COMMIT */
	size_t fsync_dir_count;
	bool gc_needed; /* a blob's refcount may have dropped to 0 */
};

struct sq_account {
	struct store *store;
	int64_t id;
	char *dir;      /* DATA/accounts/<id> */
	char *blob_dir; /* .../blobs */
	char *tmp_dir;  /* .../blobs/tmp */
	char *db_path;

	struct sdb wdb; /* the write connection: the leader's alone */

	pthread_mutex_t queue_lock;
	pthread_cond_t queue_cond;
	struct sq_job *queue_head, **queue_tail;
	bool leader_active;
	uint64_t commits, operations; /* under queue_lock */

	pthread_mutex_t readers_lock;
	struct sq_reader *readers;
};

/*
 * One write operation. run() executes inside the batch transaction on
 * a->wdb; it returns 0 or -1 with err set, and may add hub changes to
 * publish after the commit (sq_job_change).
 */
struct sq_job {
	int (*run)(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
	           struct store_error *err);
	void *ctx;

	int ret;
	struct store_error err;
	struct store_change *changes;
	size_t change_count;
	bool done;
	struct sq_job *next;
};

/* account.c */
int sq_write(struct sq_account *a, struct sq_job *job, struct store_error *err);
/* Record that the mailbox changed (published after the commit). */
void sq_job_change(struct sq_job *job, struct sq_account *a, int64_t mailbox_id, unsigned kinds);
struct sq_reader *sq_reader_get(struct sq_account *a, struct store_error *err);
void sq_reader_put(struct sq_account *a, struct sq_reader *r);
/* Prepared, reset and cleared statement for sql; NULL (err set) on failure. */
sqlite3_stmt *sdb_stmt(struct sdb *c, const char *sql, struct store_error *err);
int sdb_exec(struct sdb *c, const char *sql, struct store_error *err);
/* Step a statement that returns no rows (or whose rows do not matter). */
int sdb_step_done(struct sdb *c, sqlite3_stmt *stmt, struct store_error *err);
int sq_db_error(struct sdb *c, const char *what, struct store_error *err);
char *sq_column_strdup(sqlite3_stmt *stmt, int col);
void sq_batch_fsync_dir(struct sq_batch *batch, const char *dir);

/* schema.c */
int sq_schema_migrate(struct sdb *c, struct store_error *err);
/* A new UIDVALIDITY, above every one handed out before in this account. */
int sq_uidvalidity_next(struct sdb *c, uint32_t *uidvalidity_r, struct store_error *err);
/* A new mailbox row with a fresh UIDVALIDITY and MAILBOXID; *id_r its id. */
int sq_mailbox_insert(struct sdb *c, const char *name, unsigned special_use, int64_t *id_r,
                      struct store_error *err);
void sq_random_id(char prefix, char out[26]);

/* blob.c */

/* What delivery learns from a message: its blob and the parse results. */
struct sq_blob_new {
	char hash[SQ_HASH_HEX + 1];
	char *tmp_path; /* fsync'ed temp file, until installed */
	uint64_t size;  /* CRLF form */
	bool only_lf;
	/* mime results */
	void *parts;
	size_t parts_size;
	char *envelope, *body, *bodystructure;
	int64_t date;
	int date_tz;
	char *subject, *from, *to, *cc, *bcc, *message_id, *in_reply_to, *references;
};
/* Stream a message into a temp blob (CRLF, SHA-256, fsync) and parse it. */
int sq_blob_prepare(struct sq_account *a, const struct store_append_msg *msg,
                    struct sq_blob_new *blob_r, struct store_error *err);
/* Parse bytes already in CRLF form into blob's cache fields. */
void sq_blob_parse(const void *data, size_t len, struct sq_blob_new *blob);
void sq_blob_new_free(struct sq_blob_new *blob);
/* In a job: move the temp file to its final name (or drop it when that
 * exists already), and insert the blob row if new. */
int sq_blob_install(struct sq_account *a, struct sq_batch *batch, struct sq_blob_new *blob,
                    struct store_error *err);
char *sq_blob_path(struct sq_account *a, const char *hash);
int sq_blob_map(struct sq_account *a, const char *hash, struct store_blob *blob_r,
                struct store_error *err);
/* After the commit: unlink the blobs whose refcount is 0, in a transaction
 * of its own (see account.c). */
int sq_blob_gc(struct sq_account *a, struct store_error *err);
int sq_fsync_dir(const char *dir);

/* mailbox.c */
struct sq_mailbox {
	int64_t id;
	uint32_t uidnext;
	uint64_t highestmodseq;
	bool noselect;
};
/* Read a mailbox row on c; NONEXISTENT (or code_if_missing) when absent or
 * \Noselect. */
int sq_mailbox_get(struct sdb *c, int64_t id, struct sq_mailbox *mb_r,
                   enum store_error_code code_if_missing, struct store_error *err);
/* Persist uidnext/highestmodseq and count one change. */
int sq_mailbox_bump(struct sdb *c, const struct sq_mailbox *mb, struct store_error *err);
int sq_mailbox_create(void *be, const char *name, unsigned special_use, struct store_error *err);
int sq_mailbox_delete(void *be, const char *name, struct store_error *err);
int sq_mailbox_rename(void *be, const char *old_name, const char *new_name,
                      struct store_error *err);
int sq_mailbox_subscribe(void *be, const char *name, bool subscribe, struct store_error *err);
int sq_mailbox_status(void *be, const char *name, int64_t id, struct store_mailbox_status *st,
                      char **name_r, struct store_error *err);
int sq_mailbox_list(void *be, struct store_list *list_r, struct store_error *err);
int sq_mailbox_keywords(void *be, int64_t mailbox_id, char ***keywords_r, size_t *count_r,
                        struct store_error *err);
int sq_mailbox_changes(void *be, int64_t mailbox_id, uint64_t *changes_r, struct store_error *err);
int sq_mailbox_import_uids(void *be, int64_t mailbox_id, uint32_t uidvalidity, uint32_t uidnext,
                           struct store_error *err);

/* message.c */
int sq_append(void *be, int64_t mailbox_id, const struct store_append_msg *msgs, size_t count,
              uint32_t *uids_r, struct store_error *err);
int sq_copy(void *be, int64_t src, const uint32_t *uids, size_t count, int64_t dst, bool move,
            uint32_t *new_uids_r, size_t *copied_r, struct store_error *err);
int sq_expunge(void *be, int64_t mailbox_id, const uint32_t *uids, size_t count,
               uint32_t **expunged_r, size_t *expunged_count_r, struct store_error *err);
int sq_message_list(void *be, int64_t mailbox_id, struct store_message_list *list_r,
                    struct store_error *err);
int sq_changes_since(void *be, int64_t mailbox_id, uint64_t modseq, struct store_changes *changes_r,
                     struct store_error *err);
int sq_message_open(void *be, int64_t mailbox_id, uint32_t uid, struct store_blob *blob_r,
                    struct store_error *err);
int sq_message_info(void *be, int64_t mailbox_id, uint32_t uid, struct store_message_info *info_r,
                    struct store_error *err);
/* Delete one message row and leave a tombstone at modseq. */
int sq_message_expunge_one(struct sdb *c, int64_t mailbox_id, uint32_t uid, uint64_t modseq,
                           struct store_error *err);

/* flags.c */
int sq_flags(void *be, int64_t mailbox_id, const uint32_t *uids, size_t count,
             const struct store_flags_update *upd, struct store_flags_result **results_r,
             size_t *result_count_r, struct store_error *err);
/* Keywords as stored: sorted, space-separated, NULL when none. */
char *sq_keywords_join(const char *const *kws, size_t count);
/* Remember keywords used in a mailbox (for FLAGS/PERMANENTFLAGS). */
int sq_mailbox_keywords_add(struct sdb *c, int64_t mailbox_id, const char *const *kws, size_t count,
                            struct store_error *err);

/* check.c */
int sq_check(void *be, const struct store_check_options *opts, struct store_check_report *report,
             struct store_error *err);

#endif
