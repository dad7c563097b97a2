/*
 * store/ — where mail lives. Accounts hold mailboxes (UTF-8 names, '/' as the
 * hierarchy separator, INBOX always present), mailboxes hold messages (UID,
 * flags, keywords, MODSEQ, dates, size) whose bytes are immutable blobs shared
 * by copies. Every change is durable when the call returns and is published
 * to an in-process hub that the protocol layers subscribe to.
 *
 * This header is the whole interface; the backend behind it (store/sqlite/,
 * the embedded default; store/pg/ later) is chosen by store_open() and is
 * invisible to callers. Nothing here formats IMAP: errors carry a category
 * (enum store_error_code) that imap/ maps to a response code, and text.
 *
 * Thread safety: one struct store per process; its functions and those of an
 * account handle may be called from any thread at once. Writers of one
 * account share commits (group commit); readers never wait for writers.
 *
 * docs/storage.md describes the layout on disk, the schema and the
 * durability rules.
 */
#ifndef ROOST_STORE_H
#define ROOST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Limits (docs/limits.md). */
#define STORE_MAILBOX_NAME_MAX 512 /* bytes of UTF-8 */
#define STORE_KEYWORD_MAX 128      /* bytes of one keyword */
#define STORE_KEYWORDS_MAX 256     /* distinct keywords per message */
#define STORE_HIERARCHY_SEP '/'

/* ---- errors ---- */

enum store_error_code {
	STORE_ERR_NONE = 0,
	STORE_ERR_NONEXISTENT,   /* no such mailbox / message */
	STORE_ERR_ALREADYEXISTS, /* the target name exists */
	STORE_ERR_CANNOT,        /* not allowed (delete INBOX, bad name, ...) */
	STORE_ERR_OVERQUOTA,     /* reserved for quotas */
	STORE_ERR_SERVERBUG,     /* I/O or database failure */
	STORE_ERR_TRYCREATE,     /* target mailbox of APPEND/COPY/MOVE is missing */
	STORE_ERR_LIMIT,         /* a limit was hit (too many keywords, ...) */
};

struct store_error {
	enum store_error_code code;
	char text[256]; /* human-readable, for "NO [CODE] text" */
};

/* "NONEXISTENT", "ALREADYEXISTS", ... (IMAP response code names; "" for NONE). */
const char *store_error_code_name(enum store_error_code code);

/* ---- the process-wide store ---- */

struct store;
struct store_account;

struct store_settings {
	const char *backend; /* "sqlite" (NULL: the default) */
};

/* Open the store under data_dir (DATA/accounts/ is created as needed). */
int store_open(const char *data_dir, const struct store_settings *set, struct store **store_r,
               struct store_error *err);
/* All account handles must have been released. */
void store_close(struct store **store);

/*
 * Accounts are named by their numeric id (auth_user_id() turns a login name
 * into it); their data is DATA/accounts/<id>/. The first open of an account
 * creates it with INBOX, Drafts, Sent, Trash, Junk and Archive (with their
 * special-use attributes, subscribed). Handles are reference-counted and
 * shared: every session of an account uses the same one.
 */
int store_account_open(struct store *store, int64_t account_id, struct store_account **acct_r,
                       struct store_error *err);
void store_account_close(struct store_account **acct);
int64_t store_account_id(const struct store_account *acct);

/* ---- mailbox names ---- */

/* Validate and normalize a name: INBOX in any case (also as the first
 * component) becomes "INBOX"; empty components, leading or trailing '/',
 * control characters, '*', '%', invalid UTF-8 and names over
 * STORE_MAILBOX_NAME_MAX bytes are refused (-1, CANNOT). */
int store_mailbox_name_normalize(const char *name, char **normalized_r, struct store_error *err);
/* IMAP LIST matching: '*' matches anything, '%' anything but '/'; the
 * INBOX component matches case-insensitively. */
bool store_mailbox_name_match(const char *pattern, const char *name);

/* ---- mailboxes ---- */

/* RFC 6154 special-use attributes. */
enum store_special_use {
	STORE_SPECIAL_ALL = 1 << 0,
	STORE_SPECIAL_ARCHIVE = 1 << 1,
	STORE_SPECIAL_DRAFTS = 1 << 2,
	STORE_SPECIAL_FLAGGED = 1 << 3,
	STORE_SPECIAL_JUNK = 1 << 4,
	STORE_SPECIAL_SENT = 1 << 5,
	STORE_SPECIAL_TRASH = 1 << 6,
};
/* "\\Archive", ... for one bit; NULL for anything else. */
const char *store_special_use_name(unsigned bit);

/* Everything SELECT and STATUS need, from the mailbox row (no scan). */
struct store_mailbox_status {
	int64_t id;         /* internal id: never reused, stays over RENAME */
	char mailboxid[32]; /* RFC 8474 MAILBOXID: random, stays over RENAME */
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint64_t changes; /* change counter (store_mailbox_changed_since) */
	uint32_t messages;
	uint32_t unseen;
	uint32_t deleted;
	uint64_t size;        /* sum of RFC822.SIZE */
	unsigned special_use; /* enum store_special_use bits */
	bool noselect;
	bool subscribed;
};

/* Create a mailbox (and any missing parents). Creating over a \Noselect
 * name makes it selectable with a new UIDVALIDITY. */
int store_mailbox_create(struct store_account *acct, const char *name, unsigned special_use,
                         struct store_error *err);
/* Delete. INBOX: CANNOT. With children: messages go, the name stays as
 * \Noselect. A \Noselect name with children: CANNOT. */
int store_mailbox_delete(struct store_account *acct, const char *name, struct store_error *err);
/* Rename, with its children; keeps UIDVALIDITY and MAILBOXID. Renaming
 * INBOX creates the target and moves INBOX's messages into it. */
int store_mailbox_rename(struct store_account *acct, const char *old_name, const char *new_name,
                         struct store_error *err);
/* Names need not exist (RFC 9051 6.3.7). */
int store_mailbox_subscribe(struct store_account *acct, const char *name, bool subscribe,
                            struct store_error *err);
/* 0 and *st filled; -1 with NONEXISTENT when there is no such mailbox. */
int store_mailbox_status(struct store_account *acct, const char *name,
                         struct store_mailbox_status *st, struct store_error *err);
/* The same by internal id (a selected mailbox that may have been renamed).
 * name_r (allocated) may be NULL. */
int store_mailbox_status_by_id(struct store_account *acct, int64_t mailbox_id,
                               struct store_mailbox_status *st, char **name_r,
                               struct store_error *err);

enum store_list_flags {
	STORE_LIST_SUBSCRIBED = 1 << 0, /* only subscribed names (LSUB, LIST (SUBSCRIBED)) */
};
enum store_mailbox_attr {
	STORE_ATTR_NOSELECT = 1 << 0,
	STORE_ATTR_HASCHILDREN = 1 << 1,
	STORE_ATTR_HASNOCHILDREN = 1 << 2,
	STORE_ATTR_SUBSCRIBED = 1 << 3,
	STORE_ATTR_NONEXISTENT = 1 << 4, /* subscribed but not existing */
};
struct store_list_entry {
	char *name;
	unsigned attrs;       /* enum store_mailbox_attr */
	unsigned special_use; /* enum store_special_use */
	int64_t id;           /* 0 for NONEXISTENT */
};
struct store_list {
	struct store_list_entry *entries; /* sorted by name, INBOX first */
	size_t count;
};
/* List names matching pattern (store_mailbox_name_match; the caller joins
 * LIST's reference and pattern). */
int store_mailbox_list(struct store_account *acct, const char *pattern, unsigned flags,
                       struct store_list *list_r, struct store_error *err);
void store_list_free(struct store_list *list);

/* The keywords ever set in a mailbox (for FLAGS and PERMANENTFLAGS), sorted;
 * *keywords_r is allocated (store_keywords_free). */
int store_mailbox_keywords(struct store_account *acct, int64_t mailbox_id, char ***keywords_r,
                           size_t *count_r, struct store_error *err);
void store_keywords_free(char **keywords, size_t count);

/* Has the mailbox changed since the counter the caller saw? One row read:
 * the server's timer calls it for mailboxes changed by other processes. */
int store_mailbox_changed_since(struct store_account *acct, int64_t mailbox_id,
                                uint64_t known_changes, bool *changed_r, uint64_t *changes_r,
                                struct store_error *err);

/* ---- messages ---- */

/* System flags as bits (\Recent is per session, not stored). */
enum store_flag {
	STORE_FLAG_SEEN = 1 << 0,
	STORE_FLAG_ANSWERED = 1 << 1,
	STORE_FLAG_FLAGGED = 1 << 2,
	STORE_FLAG_DELETED = 1 << 3,
	STORE_FLAG_DRAFT = 1 << 4,
};
#define STORE_FLAGS_ALL 0x1fu

/* One message to append: its bytes from memory (data, size) or from a file
 * descriptor (fd >= 0: size bytes read from offset 0 with pread; the fd is
 * not closed). Line ends are normalized to CRLF on the way in. */
struct store_append_msg {
	const void *data;
	int fd;
	uint64_t size;
	unsigned flags;
	const char *const *keywords;
	size_t keyword_count;
	time_t internaldate; /* 0: now */
	/* For imports (roost import); APPEND and delivery leave both 0. */
	uint32_t uid;         /* keep this UID if it is >= UIDNEXT (else, and for 0:
	                       * the next UID); UIDNEXT becomes uid + 1 */
	uint32_t copy_number; /* skip the message (its UID reported as 0) when
	                       * the mailbox holds it already: with uid set, a
	                       * message with that UID and the same bytes; else at
	                       * least copy_number messages with the same bytes
	                       * (the source's n-th identical message passes n).
	                       * 0: never skip */
};

/* Append count messages in one transaction; uids_r (count entries, may be
 * NULL) gets their UIDs (APPENDUID), 0 for a message skipped as a copy
 * (copy_number). All or nothing. Errors: TRYCREATE (no such mailbox),
 * CANNOT (\Noselect, invalid keyword), LIMIT, SERVERBUG. */
int store_append(struct store_account *acct, int64_t mailbox_id,
                 const struct store_append_msg *msgs, size_t count, uint32_t *uids_r,
                 struct store_error *err);

/*
 * For imports that keep the source's UIDs: uidvalidity (0: leave it) becomes
 * the mailbox's UIDVALIDITY, which is allowed only while the mailbox has
 * neither messages nor tombstones (else CANNOT, unless it is the value the
 * mailbox has already); later new UIDVALIDITYs of the account stay above it.
 * uidnext raises UIDNEXT to at least that (never lowers it; 0: leave it), at
 * any time. Call it with the UIDVALIDITY before appending with source UIDs
 * (store_append_msg.uid) and with the source's UIDNEXT after.
 */
int store_mailbox_import_uids(struct store_account *acct, int64_t mailbox_id, uint32_t uidvalidity,
                              uint32_t uidnext, struct store_error *err);

/* Copy/move the given UIDs (ascending; missing ones are skipped). The blobs
 * are shared. new_uids_r (count entries, may be NULL) gets the new UID of
 * each source UID or 0 if it did not exist; *copied_r how many were copied. */
int store_copy(struct store_account *acct, int64_t src_mailbox_id, const uint32_t *uids,
               size_t count, int64_t dst_mailbox_id, uint32_t *new_uids_r, size_t *copied_r,
               struct store_error *err);
int store_move(struct store_account *acct, int64_t src_mailbox_id, const uint32_t *uids,
               size_t count, int64_t dst_mailbox_id, uint32_t *new_uids_r, size_t *moved_r,
               struct store_error *err);

enum store_flags_mode {
	STORE_FLAGS_SET,
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
};
struct store_flags_update {
	enum store_flags_mode mode;
	unsigned flags;
	const char *const *keywords;
	size_t keyword_count;
	uint64_t unchanged_since; /* RFC 7162 UNCHANGEDSINCE; 0: none */
};
struct store_flags_result {
	uint32_t uid;
	unsigned flags;
	char *keywords; /* space-separated, or NULL */
	uint64_t modseq;
	bool modified; /* false: failed UNCHANGEDSINCE (goes to [MODIFIED]) */
	bool changed;  /* the flags were actually changed */
};
/* Change flags of the given UIDs; every message that changes gets the same
 * new MODSEQ. *results_r (allocated, one per existing UID) may be NULL. */
int store_flags(struct store_account *acct, int64_t mailbox_id, const uint32_t *uids, size_t count,
                const struct store_flags_update *upd, struct store_flags_result **results_r,
                size_t *result_count_r, struct store_error *err);
void store_flags_results_free(struct store_flags_result *results, size_t count);

/* Expunge messages flagged \Deleted: all of them (uids NULL) or only those
 * among uids (UID EXPUNGE). *expunged_r (allocated, ascending) may be NULL. */
int store_expunge(struct store_account *acct, int64_t mailbox_id, const uint32_t *uids,
                  size_t count, uint32_t **expunged_r, size_t *expunged_count_r,
                  struct store_error *err);

/* All messages of a mailbox in UID order, in parallel arrays, from one
 * query. keywords[i] is NULL or space-separated (points into the list). */
struct store_message_list {
	size_t count;
	uint32_t *uids;
	uint8_t *flags;
	uint64_t *modseqs;
	int64_t *internaldates;
	uint64_t *sizes;
	const char **keywords;
	char *keyword_pool; /* private */
};
int store_message_list(struct store_account *acct, int64_t mailbox_id,
                       struct store_message_list *list_r, struct store_error *err);
void store_message_list_free(struct store_message_list *list);

/* The bytes of a message (CRLF form, mmap'ed read-only) for FETCH. */
struct store_blob {
	const unsigned char *data;
	uint64_t size;
	int fd; /* open read-only, for sendfile-like use */
};
int store_message_open(struct store_account *acct, int64_t mailbox_id, uint32_t uid,
                       struct store_blob *blob_r, struct store_error *err);
void store_blob_close(struct store_blob *blob);

/* What was cached at delivery, allocated (store_message_info_free). */
struct store_message_info {
	uint32_t uid;
	unsigned flags;
	char *keywords;
	uint64_t modseq;
	int64_t internaldate;
	int64_t savedate;
	uint64_t size;       /* RFC822.SIZE (CRLF form) */
	bool only_lf;        /* the original had bare LF line ends only */
	char emailid[32];    /* RFC 8474 EMAILID: same for copies */
	char *threadid;      /* NULL until threading fills it */
	char *envelope;      /* IMAP ENVELOPE syntax */
	char *body;          /* BODY */
	char *bodystructure; /* BODYSTRUCTURE */
	void *parts;         /* mime_parts_encode() output */
	size_t parts_size;
	/* summary, for SORT and SEARCH */
	int64_t date;
	int date_tz;
	char *subject, *from, *to, *cc, *bcc, *message_id, *in_reply_to, *references;
};
int store_message_info(struct store_account *acct, int64_t mailbox_id, uint32_t uid,
                       struct store_message_info *info_r, struct store_error *err);
void store_message_info_free(struct store_message_info *info);

/* CONDSTORE/QRESYNC: messages whose MODSEQ is above modseq (in UID order)
 * and UIDs expunged at a MODSEQ above it. */
struct store_changes {
	struct store_message_list changed;
	uint32_t *vanished;
	size_t vanished_count;
	uint64_t highestmodseq;
};
int store_changes_since(struct store_account *acct, int64_t mailbox_id, uint64_t modseq,
                        struct store_changes *changes_r, struct store_error *err);
void store_changes_free(struct store_changes *changes);

/* ---- change notification ---- */

enum store_change_kind {
	STORE_CHANGE_APPEND = 1 << 0,
	STORE_CHANGE_FLAGS = 1 << 1,
	STORE_CHANGE_EXPUNGE = 1 << 2,
	STORE_CHANGE_MAILBOX = 1 << 3,  /* created, renamed, deleted */
	STORE_CHANGE_EXTERNAL = 1 << 4, /* from another process: re-read */
};
struct store_change {
	int64_t account_id;
	int64_t mailbox_id;
	unsigned kinds;   /* enum store_change_kind bits */
	uint64_t changes; /* the mailbox's change counter after it (0: unknown) */
	uint64_t highestmodseq;
	uint32_t uidnext;
};
/* Called after each committed change, from the committing thread (any
 * thread). It must be quick (wake a loop, set a flag) and must not call
 * store_subscribe/store_unsubscribe nor any store function that writes
 * (the committing thread is still the account's group-commit leader). */
typedef void store_change_cb(const struct store_change *change, void *ctx);
struct store_subscription;
/* mailbox_id 0: every mailbox of the account. */
struct store_subscription *store_subscribe(struct store *store, int64_t account_id,
                                           int64_t mailbox_id, store_change_cb *cb, void *ctx);
/* After this returns the callback is not running and will not run again. */
void store_unsubscribe(struct store_subscription **sub);
/* Tell the hub which change counter the subscriber has seen (e.g. the
 * `changes` of store_mailbox_status at SELECT); published changes raise it. */
void store_subscription_known(struct store_subscription *sub, uint64_t changes);
/* The timer fallback for other processes' changes whose notice was lost:
 * for each watched mailbox whose counter moved past what its watchers know,
 * publish an EXTERNAL change. *published_r (may be NULL) counts them. */
int store_recheck(struct store *store, unsigned *published_r);

/* Another process (roost deliver/import) tells a running server that a
 * mailbox changed: a datagram to DATA/control.sock. Best effort: -1 if no
 * server listens (the server's timer finds the change anyway). */
int store_notify_external(const char *data_dir, int64_t account_id, int64_t mailbox_id);
/* DATA/control.sock, allocated. */
char *store_control_socket_path(const char *data_dir);
/* Server side: feed one received datagram into the hub. -1 if malformed. */
int store_notify_feed(struct store *store, const void *msg, size_t len);

/* ---- roost check ---- */

struct store_check_options {
	bool repair;
	/* Orphan and temporary blob files younger than this are left alone:
	 * a delivery may be about to commit them. */
	unsigned min_orphan_age_secs;
};
struct store_check_report {
	unsigned missing_blobs;   /* referenced, file gone */
	unsigned orphan_blobs;    /* file without a reference */
	unsigned bad_refcounts;   /* refcount differs from the references */
	unsigned bad_uidnext;     /* UIDNEXT not above the highest UID */
	unsigned bad_counters;    /* STATUS counters differ from a count */
	unsigned stale_tempfiles; /* leftovers of interrupted deliveries */
	unsigned repaired;
	char **lines; /* one human-readable line per finding */
	size_t line_count;
};
int store_check(struct store_account *acct, const struct store_check_options *opts,
                struct store_check_report *report_r, struct store_error *err);
void store_check_report_free(struct store_check_report *report);

/* ---- for tests and monitoring ---- */

struct store_stats {
	uint64_t commits;    /* write transactions committed */
	uint64_t operations; /* successful write operations carried by them */
};
void store_account_stats(struct store_account *acct, struct store_stats *stats_r);

#endif
