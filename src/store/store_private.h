/*
 * Inside store/: the backend interface and what store.c and the backends
 * share. Nothing outside store/ (and its unit tests) includes this.
 *
 * store.c checks and normalizes arguments (mailbox names, keywords, flags)
 * and then calls the backend through struct store_backend_ops, so every
 * backend gets clean input and only implements storage.
 */
#ifndef ROOST_STORE_PRIVATE_H
#define ROOST_STORE_PRIVATE_H

#include "store/store.h"

#include <pthread.h>
#include <stdarg.h>

struct store_hub;

/* Handles from a backend are opaque to store.c. */
struct store_backend_ops {
	const char *name;

	int (*account_open)(struct store *store, int64_t account_id, void **be_r,
	                    struct store_error *err);
	void (*account_close)(void *be);
	void (*account_stats)(void *be, struct store_stats *stats_r);

	int (*mailbox_create)(void *be, const char *name, unsigned special_use,
	                      struct store_error *err);
	int (*mailbox_delete)(void *be, const char *name, struct store_error *err);
	int (*mailbox_rename)(void *be, const char *old_name, const char *new_name,
	                      struct store_error *err);
	int (*mailbox_subscribe)(void *be, const char *name, bool subscribe,
	                         struct store_error *err);
	/* name NULL: by id */
	int (*mailbox_status)(void *be, const char *name, int64_t id,
	                      struct store_mailbox_status *st, char **name_r,
	                      struct store_error *err);
	/* every mailbox and every subscribed name; store.c matches and sorts */
	int (*mailbox_list)(void *be, struct store_list *list_r, struct store_error *err);
	int (*mailbox_keywords)(void *be, int64_t mailbox_id, char ***keywords_r, size_t *count_r,
	                        struct store_error *err);
	int (*mailbox_changes)(void *be, int64_t mailbox_id, uint64_t *changes_r,
	                       struct store_error *err);
	/* uidvalidity and uidnext: 0 to leave alone (store_mailbox_import_uids) */
	int (*mailbox_import_uids)(void *be, int64_t mailbox_id, uint32_t uidvalidity,
	                           uint32_t uidnext, struct store_error *err);

	int (*append)(void *be, int64_t mailbox_id, const struct store_append_msg *msgs,
	              size_t count, uint32_t *uids_r, struct store_error *err);
	int (*copy)(void *be, int64_t src, const uint32_t *uids, size_t count, int64_t dst,
	            bool move, uint32_t *new_uids_r, size_t *copied_r, struct store_error *err);
	/* keywords in upd are validated, deduplicated and sorted */
	int (*flags)(void *be, int64_t mailbox_id, const uint32_t *uids, size_t count,
	             const struct store_flags_update *upd, struct store_flags_result **results_r,
	             size_t *result_count_r, struct store_error *err);
	int (*expunge)(void *be, int64_t mailbox_id, const uint32_t *uids, size_t count,
	               uint32_t **expunged_r, size_t *expunged_count_r, struct store_error *err);
	int (*message_list)(void *be, int64_t mailbox_id, struct store_message_list *list_r,
	                    struct store_error *err);
	/* changed messages and vanished UIDs from one snapshot */
	int (*changes_since)(void *be, int64_t mailbox_id, uint64_t modseq,
	                     struct store_changes *changes_r, struct store_error *err);
	int (*message_open)(void *be, int64_t mailbox_id, uint32_t uid, struct store_blob *blob_r,
	                    struct store_error *err);
	int (*message_info)(void *be, int64_t mailbox_id, uint32_t uid,
	                    struct store_message_info *info_r, struct store_error *err);

	int (*check)(void *be, const struct store_check_options *opts,
	             struct store_check_report *report, struct store_error *err);
};

extern const struct store_backend_ops store_sqlite_ops;

struct store_account {
	struct store *store;
	int64_t id;
	unsigned refcount; /* under store->accounts_lock */
	void *be;
	struct store_account *next;
};

struct store {
	char *data_dir;
	const struct store_backend_ops *ops;
	pthread_mutex_t accounts_lock;
	struct store_account *accounts; /* open accounts (the cache) */
	struct store_hub *hub;
};

/* Fill err (printf-style); returns -1 so that callers can
 * `return store_error_set(err, ...)`. */
int store_error_set(struct store_error *err, enum store_error_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void store_error_clear(struct store_error *err);

/* hub.c */
struct store_hub *store_hub_new(void);
void store_hub_free(struct store_hub **hub);
void store_hub_publish(struct store_hub *hub, const struct store_change *change);

/* names.c */
/* Sort the backend's full list, keep what pattern and flags select, and
 * add HASCHILDREN/HASNOCHILDREN. */
void store_list_filter(struct store_list *all, const char *pattern, unsigned flags);
/* Validate, sort (case-insensitively) and deduplicate keywords; *out_r
 * (allocated array of the caller's pointers) is NULL when count is 0. */
int store_keywords_normalize(const char *const *in, size_t count, const char ***out_r,
                             size_t *count_r, struct store_error *err);

/* store.c: the check report's text lines */
void store_check_report_add(struct store_check_report *report, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
