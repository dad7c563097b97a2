/*
 * The store's front door: the process-wide store, the cache of open
 * accounts, argument checks, and dispatch to the backend's ops table.
 *
 * Account handles are shared: the first store_account_open() of an account
 * opens the backend's handle, later ones take a reference, and the last
 * close releases it. So every session of an account shares one write path,
 * which is what lets concurrent deliveries share commits.
 */
#include "store/store_private.h"
#include "base/base.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int store_error_set(struct store_error *err, enum store_error_code code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return -1;
}

void store_error_clear(struct store_error *err)
{
	err->code = STORE_ERR_NONE;
	err->text[0] = '\0';
}

const char *store_error_code_name(enum store_error_code code)
{
	switch (code) {
	case STORE_ERR_NONE:
		return "";
	case STORE_ERR_NONEXISTENT:
		return "NONEXISTENT";
	case STORE_ERR_ALREADYEXISTS:
		return "ALREADYEXISTS";
	case STORE_ERR_CANNOT:
		return "CANNOT";
	case STORE_ERR_OVERQUOTA:
		return "OVERQUOTA";
	case STORE_ERR_SERVERBUG:
		return "SERVERBUG";
	case STORE_ERR_TRYCREATE:
		return "TRYCREATE";
	case STORE_ERR_LIMIT:
		return "LIMIT";
	}
	return "SERVERBUG";
}

int store_open(const char *data_dir, const struct store_settings *set, struct store **store_r,
               struct store_error *err)
{
	struct store *store;
	const char *backend = set != NULL && set->backend != NULL ? set->backend : "sqlite";
	char *dir;

	*store_r = NULL;
	store_error_clear(err);
	if (strcmp(backend, "sqlite") != 0)
		return store_error_set(err, STORE_ERR_SERVERBUG, "Unknown store backend %s",
		                       backend);
	dir = xasprintf("%s/accounts", data_dir);
	if (mkdir(data_dir, 0700) < 0 && errno != EEXIST) {
		store_error_set(err, STORE_ERR_SERVERBUG, "mkdir %s: %s", data_dir,
		                strerror(errno));
		free(dir);
		return -1;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		store_error_set(err, STORE_ERR_SERVERBUG, "mkdir %s: %s", dir, strerror(errno));
		free(dir);
		return -1;
	}
	free(dir);
	store = xcalloc(1, sizeof(*store));
	store->data_dir = xstrdup(data_dir);
	store->ops = &store_sqlite_ops;
	pthread_mutex_init(&store->accounts_lock, NULL);
	store->hub = store_hub_new();
	*store_r = store;
	return 0;
}

void store_close(struct store **storep)
{
	struct store *store = *storep;

	if (store == NULL)
		return;
	*storep = NULL;
	assert(store->accounts == NULL);
	store_hub_free(&store->hub);
	pthread_mutex_destroy(&store->accounts_lock);
	free(store->data_dir);
	free(store);
}

/*
 * The backend handle is opened under accounts_lock, so two sessions opening
 * the same account at once get one handle. Opening is rare (once per
 * account while any session of it is logged in), so holding the lock over
 * the open is fine.
 */
int store_account_open(struct store *store, int64_t account_id, struct store_account **acct_r,
                       struct store_error *err)
{
	struct store_account *acct;
	int ret = 0;

	*acct_r = NULL;
	store_error_clear(err);
	if (account_id <= 0)
		return store_error_set(err, STORE_ERR_NONEXISTENT, "Invalid account id");
	pthread_mutex_lock(&store->accounts_lock);
	for (acct = store->accounts; acct != NULL; acct = acct->next) {
		if (acct->id == account_id)
			break;
	}
	if (acct != NULL) {
		acct->refcount++;
	} else {
		void *be;
		ret = store->ops->account_open(store, account_id, &be, err);
		if (ret == 0) {
			acct = xcalloc(1, sizeof(*acct));
			acct->store = store;
			acct->id = account_id;
			acct->refcount = 1;
			acct->be = be;
			acct->next = store->accounts;
			store->accounts = acct;
		}
	}
	pthread_mutex_unlock(&store->accounts_lock);
	*acct_r = acct;
	return ret;
}

void store_account_close(struct store_account **acctp)
{
	struct store_account *acct = *acctp, **pp;
	struct store *store;

	if (acct == NULL)
		return;
	*acctp = NULL;
	store = acct->store;
	pthread_mutex_lock(&store->accounts_lock);
	assert(acct->refcount > 0);
	if (--acct->refcount > 0) {
		pthread_mutex_unlock(&store->accounts_lock);
		return;
	}
	for (pp = &store->accounts; *pp != acct; pp = &(*pp)->next)
		;
	*pp = acct->next;
	store->ops->account_close(acct->be);
	pthread_mutex_unlock(&store->accounts_lock);
	free(acct);
}

int64_t store_account_id(const struct store_account *acct)
{
	return acct->id;
}

void store_account_stats(struct store_account *acct, struct store_stats *stats_r)
{
	acct->store->ops->account_stats(acct->be, stats_r);
}

/* ---- mailboxes ---- */

#define OPS(acct) ((acct)->store->ops)

int store_mailbox_create(struct store_account *acct, const char *name, unsigned special_use,
                         struct store_error *err)
{
	char *norm;
	int ret;

	store_error_clear(err);
	if (store_mailbox_name_normalize(name, &norm, err) < 0)
		return -1;
	if (strcmp(norm, "INBOX") == 0) {
		free(norm);
		return store_error_set(err, STORE_ERR_ALREADYEXISTS, "INBOX always exists");
	}
	ret = OPS(acct)->mailbox_create(acct->be, norm, special_use & 0x7f, err);
	free(norm);
	return ret;
}

int store_mailbox_delete(struct store_account *acct, const char *name, struct store_error *err)
{
	char *norm;
	int ret;

	store_error_clear(err);
	if (store_mailbox_name_normalize(name, &norm, err) < 0)
		return -1;
	if (strcmp(norm, "INBOX") == 0) {
		free(norm);
		return store_error_set(err, STORE_ERR_CANNOT, "INBOX cannot be deleted");
	}
	ret = OPS(acct)->mailbox_delete(acct->be, norm, err);
	free(norm);
	return ret;
}

int store_mailbox_rename(struct store_account *acct, const char *old_name, const char *new_name,
                         struct store_error *err)
{
	char *from, *to;
	size_t from_len;
	int ret = -1;

	store_error_clear(err);
	if (store_mailbox_name_normalize(old_name, &from, err) < 0)
		return -1;
	if (store_mailbox_name_normalize(new_name, &to, err) < 0) {
		free(from);
		return -1;
	}
	from_len = strlen(from);
	if (strcmp(to, "INBOX") == 0)
		store_error_set(err, STORE_ERR_ALREADYEXISTS, "INBOX always exists");
	else if (strcmp(from, to) == 0)
		store_error_set(err, STORE_ERR_ALREADYEXISTS, "Mailbox names are the same");
	else if (strcmp(from, "INBOX") != 0 && strncmp(to, from, from_len) == 0 &&
	         to[from_len] == STORE_HIERARCHY_SEP)
		store_error_set(err, STORE_ERR_CANNOT, "Cannot rename a mailbox into itself");
	else
		ret = OPS(acct)->mailbox_rename(acct->be, from, to, err);
	free(from);
	free(to);
	return ret;
}

int store_mailbox_subscribe(struct store_account *acct, const char *name, bool subscribe,
                            struct store_error *err)
{
	char *norm;
	int ret;

	store_error_clear(err);
	if (store_mailbox_name_normalize(name, &norm, err) < 0)
		return -1;
	ret = OPS(acct)->mailbox_subscribe(acct->be, norm, subscribe, err);
	free(norm);
	return ret;
}

int store_mailbox_status(struct store_account *acct, const char *name,
                         struct store_mailbox_status *st, struct store_error *err)
{
	char *norm;
	int ret;

	store_error_clear(err);
	memset(st, 0, sizeof(*st));
	if (store_mailbox_name_normalize(name, &norm, err) < 0) {
		err->code = STORE_ERR_NONEXISTENT;
		return -1;
	}
	ret = OPS(acct)->mailbox_status(acct->be, norm, 0, st, NULL, err);
	free(norm);
	return ret;
}

int store_mailbox_status_by_id(struct store_account *acct, int64_t mailbox_id,
                               struct store_mailbox_status *st, char **name_r,
                               struct store_error *err)
{
	store_error_clear(err);
	memset(st, 0, sizeof(*st));
	if (name_r != NULL)
		*name_r = NULL;
	return OPS(acct)->mailbox_status(acct->be, NULL, mailbox_id, st, name_r, err);
}

int store_mailbox_list(struct store_account *acct, const char *pattern, unsigned flags,
                       struct store_list *list_r, struct store_error *err)
{
	store_error_clear(err);
	memset(list_r, 0, sizeof(*list_r));
	if (OPS(acct)->mailbox_list(acct->be, list_r, err) < 0)
		return -1;
	store_list_filter(list_r, pattern, flags);
	return 0;
}

int store_mailbox_keywords(struct store_account *acct, int64_t mailbox_id, char ***keywords_r,
                           size_t *count_r, struct store_error *err)
{
	store_error_clear(err);
	*keywords_r = NULL;
	*count_r = 0;
	return OPS(acct)->mailbox_keywords(acct->be, mailbox_id, keywords_r, count_r, err);
}

void store_keywords_free(char **keywords, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(keywords[i]);
	free(keywords);
}

int store_mailbox_changed_since(struct store_account *acct, int64_t mailbox_id,
                                uint64_t known_changes, bool *changed_r, uint64_t *changes_r,
                                struct store_error *err)
{
	uint64_t changes = 0;

	store_error_clear(err);
	*changed_r = false;
	if (OPS(acct)->mailbox_changes(acct->be, mailbox_id, &changes, err) < 0)
		return -1;
	*changed_r = changes != known_changes;
	if (changes_r != NULL)
		*changes_r = changes;
	return 0;
}

int store_mailbox_import_uids(struct store_account *acct, int64_t mailbox_id, uint32_t uidvalidity,
                              uint32_t uidnext, struct store_error *err)
{
	store_error_clear(err);
	if (uidvalidity == 0 && uidnext == 0)
		return 0;
	return OPS(acct)->mailbox_import_uids(acct->be, mailbox_id, uidvalidity, uidnext, err);
}

/* ---- messages ---- */

int store_append(struct store_account *acct, int64_t mailbox_id,
                 const struct store_append_msg *msgs, size_t count, uint32_t *uids_r,
                 struct store_error *err)
{
	struct store_append_msg *norm;
	const char ***kws;
	int ret = -1;

	store_error_clear(err);
	if (count == 0)
		return 0;
	norm = xcalloc(count, sizeof(*norm));
	kws = xcalloc(count, sizeof(*kws));
	for (size_t i = 0; i < count; i++) {
		norm[i] = msgs[i];
		norm[i].flags &= STORE_FLAGS_ALL;
		if (msgs[i].data == NULL && msgs[i].fd < 0 && msgs[i].size > 0) {
			store_error_set(err, STORE_ERR_SERVERBUG, "Message without a source");
			goto out;
		}
		if (store_keywords_normalize(msgs[i].keywords, msgs[i].keyword_count, &kws[i],
		                             &norm[i].keyword_count, err) < 0)
			goto out;
		norm[i].keywords = kws[i];
	}
	ret = OPS(acct)->append(acct->be, mailbox_id, norm, count, uids_r, err);
out:
	for (size_t i = 0; i < count; i++)
		free(kws[i]);
	free(kws);
	free(norm);
	return ret;
}

static int copy_or_move(struct store_account *acct, int64_t src, const uint32_t *uids, size_t count,
                        int64_t dst, bool move, uint32_t *new_uids_r, size_t *copied_r,
                        struct store_error *err)
{
	size_t copied = 0;
	int ret;

	store_error_clear(err);
	for (size_t i = 1; i < count; i++) {
		if (uids[i] <= uids[i - 1])
			return store_error_set(err, STORE_ERR_SERVERBUG, "UIDs not ascending");
	}
	if (src == dst && move)
		return store_error_set(err, STORE_ERR_CANNOT,
		                       "Cannot move messages into the same mailbox");
	ret = OPS(acct)->copy(acct->be, src, uids, count, dst, move, new_uids_r, &copied, err);
	if (copied_r != NULL)
		*copied_r = copied;
	return ret;
}

int store_copy(struct store_account *acct, int64_t src_mailbox_id, const uint32_t *uids,
               size_t count, int64_t dst_mailbox_id, uint32_t *new_uids_r, size_t *copied_r,
               struct store_error *err)
{
	return copy_or_move(acct, src_mailbox_id, uids, count, dst_mailbox_id, false, new_uids_r,
	                    copied_r, err);
}

int store_move(struct store_account *acct, int64_t src_mailbox_id, const uint32_t *uids,
               size_t count, int64_t dst_mailbox_id, uint32_t *new_uids_r, size_t *moved_r,
               struct store_error *err)
{
	return copy_or_move(acct, src_mailbox_id, uids, count, dst_mailbox_id, true, new_uids_r,
	                    moved_r, err);
}

int store_flags(struct store_account *acct, int64_t mailbox_id, const uint32_t *uids, size_t count,
                const struct store_flags_update *upd, struct store_flags_result **results_r,
                size_t *result_count_r, struct store_error *err)
{
	struct store_flags_update norm = *upd;
	const char **kws;
	int ret;

	store_error_clear(err);
	if (results_r != NULL)
		*results_r = NULL;
	if (result_count_r != NULL)
		*result_count_r = 0;
	norm.flags &= STORE_FLAGS_ALL;
	if (store_keywords_normalize(upd->keywords, upd->keyword_count, &kws, &norm.keyword_count,
	                             err) < 0)
		return -1;
	norm.keywords = kws;
	ret = OPS(acct)->flags(acct->be, mailbox_id, uids, count, &norm, results_r, result_count_r,
	                       err);
	free(kws);
	return ret;
}

void store_flags_results_free(struct store_flags_result *results, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(results[i].keywords);
	free(results);
}

int store_expunge(struct store_account *acct, int64_t mailbox_id, const uint32_t *uids,
                  size_t count, uint32_t **expunged_r, size_t *expunged_count_r,
                  struct store_error *err)
{
	store_error_clear(err);
	if (expunged_r != NULL)
		*expunged_r = NULL;
	if (expunged_count_r != NULL)
		*expunged_count_r = 0;
	return OPS(acct)->expunge(acct->be, mailbox_id, uids, count, expunged_r, expunged_count_r,
	                          err);
}

int store_message_list(struct store_account *acct, int64_t mailbox_id,
                       struct store_message_list *list_r, struct store_error *err)
{
	store_error_clear(err);
	memset(list_r, 0, sizeof(*list_r));
	return OPS(acct)->message_list(acct->be, mailbox_id, list_r, err);
}

void store_message_list_free(struct store_message_list *list)
{
	free(list->uids);
	free(list->flags);
	free(list->modseqs);
	free(list->internaldates);
	free(list->sizes);
	free(list->keywords);
	free(list->keyword_pool);
	memset(list, 0, sizeof(*list));
}

int store_message_open(struct store_account *acct, int64_t mailbox_id, uint32_t uid,
                       struct store_blob *blob_r, struct store_error *err)
{
	store_error_clear(err);
	memset(blob_r, 0, sizeof(*blob_r));
	blob_r->fd = -1;
	return OPS(acct)->message_open(acct->be, mailbox_id, uid, blob_r, err);
}

int store_message_info(struct store_account *acct, int64_t mailbox_id, uint32_t uid,
                       struct store_message_info *info_r, struct store_error *err)
{
	store_error_clear(err);
	memset(info_r, 0, sizeof(*info_r));
	return OPS(acct)->message_info(acct->be, mailbox_id, uid, info_r, err);
}

void store_message_info_free(struct store_message_info *info)
{
	free(info->keywords);
	free(info->threadid);
	free(info->envelope);
	free(info->body);
	free(info->bodystructure);
	free(info->parts);
	free(info->subject);
	free(info->from);
	free(info->to);
	free(info->cc);
	free(info->bcc);
	free(info->message_id);
	free(info->in_reply_to);
	free(info->references);
	memset(info, 0, sizeof(*info));
}

int store_changes_since(struct store_account *acct, int64_t mailbox_id, uint64_t modseq,
                        struct store_changes *changes_r, struct store_error *err)
{
	store_error_clear(err);
	memset(changes_r, 0, sizeof(*changes_r));
	return OPS(acct)->changes_since(acct->be, mailbox_id, modseq, changes_r, err);
}

void store_changes_free(struct store_changes *changes)
{
	store_message_list_free(&changes->changed);
	free(changes->vanished);
	memset(changes, 0, sizeof(*changes));
}

/* ---- check ---- */

void store_check_report_add(struct store_check_report *report, const char *fmt, ...)
{
	va_list ap;
	char *line;

	va_start(ap, fmt);
	if (vasprintf(&line, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	report->lines = xrealloc(report->lines, (report->line_count + 1) * sizeof(char *));
	report->lines[report->line_count++] = line;
}

int store_check(struct store_account *acct, const struct store_check_options *opts,
                struct store_check_report *report_r, struct store_error *err)
{
	store_error_clear(err);
	memset(report_r, 0, sizeof(*report_r));
	return OPS(acct)->check(acct->be, opts, report_r, err);
}

void store_check_report_free(struct store_check_report *report)
{
	for (size_t i = 0; i < report->line_count; i++)
		free(report->lines[i]);
	free(report->lines);
	memset(report, 0, sizeof(*report));
}
