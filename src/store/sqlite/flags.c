/*
 * STORE: system flags (bits) and keywords (a space-separated, sorted
 * string per message; keywords compare case-insensitively, RFC 9051 2.3.2)
 * with CONDSTORE's per-message MODSEQ and UNCHANGEDSINCE (RFC 7162 3.1.3).
 */
#include "sqlite_private.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

char *sq_keywords_join(const char *const *kws, size_t count)
{
	struct buf b;

	if (count == 0)
		return NULL;
	buf_init(&b);
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			buf_append_byte(&b, ' ');
		buf_append_str(&b, kws[i]);
	}
	return b.data;
}

int sq_mailbox_keywords_add(struct sdb *c, int64_t mailbox_id, const char *const *kws, size_t count,
                            struct store_error *err)
{
	for (size_t i = 0; i < count; i++) {
		sqlite3_stmt *stmt = sdb_stmt(
		    c, "INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword) VALUES (?, ?)",
		    err);
		if (stmt == NULL)
			return -1;
		sqlite3_bind_int64(stmt, 1, mailbox_id);
		sqlite3_bind_text(stmt, 2, kws[i], -1, SQLITE_STATIC);
		if (sdb_step_done(c, stmt, err) < 0)
			return -1;
	}
	return 0;
}

static int kw_cmp(const void *a, const void *b)
{
	return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

static bool kw_in(const char *kw, const char *const *set, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if (strcasecmp(kw, set[i]) == 0)
			return true;
	}
	return false;
}

/* The keyword string after applying upd to old (NULL: none). */
static char *keywords_apply(const char *old, const struct store_flags_update *upd)
{
	char *copy = old != NULL ? xstrdup(old) : NULL;
	const char **out;
	size_t n = 0, cap = upd->keyword_count + 1;
	char *result, *save = NULL;

	for (const char *p = old; p != NULL && *p != '\0'; p++)
		cap += *p == ' ';
	out = xcalloc(cap + 1, sizeof(*out));
	if (upd->mode != STORE_FLAGS_SET) {
		for (char *k = copy != NULL ? strtok_r(copy, " ", &save) : NULL; k != NULL;
		     k = strtok_r(NULL, " ", &save)) {
			if (upd->mode == STORE_FLAGS_REMOVE &&
			    kw_in(k, upd->keywords, upd->keyword_count))
				continue;
			out[n++] = k;
		}
	}
	if (upd->mode != STORE_FLAGS_REMOVE) {
		for (size_t i = 0; i < upd->keyword_count; i++) {
			if (!kw_in(upd->keywords[i], out, n))
				out[n++] = upd->keywords[i];
		}
	}
	qsort(out, n, sizeof(*out), kw_cmp);
	result = sq_keywords_join(out, n);
	free(out);
	free(copy);
	return result;
}

struct flags_job {
	int64_t mailbox_id;
	const uint32_t *uids;
	size_t count;
	const struct store_flags_update *upd;
	struct store_flags_result *results;
	size_t result_count;
};

static void results_reset(struct flags_job *ctx)
{
	for (size_t i = 0; i < ctx->result_count; i++)
		free(ctx->results[i].keywords);
	ctx->result_count = 0;
}

static int flags_one(struct sq_account *a, struct flags_job *ctx, struct sq_mailbox *mb,
                     uint32_t uid, bool *changed_r, struct store_error *err)
{
	const struct store_flags_update *upd = ctx->upd;
	struct store_flags_result *res;
	sqlite3_stmt *stmt;
	unsigned old_flags, new_flags;
	uint64_t old_modseq;
	char *old_kw, *new_kw;
	int rc;

	stmt = sdb_stmt(
	    &a->wdb,
	    "SELECT flags, keywords, modseq FROM messages WHERE mailbox_id = ? AND uid = ?", err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, mb->id);
	sqlite3_bind_int64(stmt, 2, uid);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		return rc == SQLITE_DONE ? 0 : sq_db_error(&a->wdb, "reading flags", err);
	}
	old_flags = (unsigned)sqlite3_column_int(stmt, 0);
	old_kw = sq_column_strdup(stmt, 1);
	old_modseq = (uint64_t)sqlite3_column_int64(stmt, 2);
	sqlite3_reset(stmt);

	res = &ctx->results[ctx->result_count++];
	memset(res, 0, sizeof(*res));
	res->uid = uid;
	res->modified = true;
	if (upd->unchanged_since != 0 && old_modseq > upd->unchanged_since) {
		/* RFC 7162 3.1.3: changed since the client looked: refuse */
		res->modified = false;
		res->flags = old_flags;
		res->keywords = old_kw;
		res->modseq = old_modseq;
		return 0;
	}
	new_flags = upd->mode == STORE_FLAGS_SET   ? upd->flags
	            : upd->mode == STORE_FLAGS_ADD ? old_flags | upd->flags
	                                           : old_flags & ~upd->flags;
	new_kw = keywords_apply(old_kw, upd);
	res->flags = new_flags;
	res->keywords = new_kw;
	res->modseq = old_modseq;
	if (new_flags == old_flags && (old_kw == NULL) == (new_kw == NULL) &&
	    (old_kw == NULL || strcmp(old_kw, new_kw) == 0)) {
		free(old_kw);
		return 0;
	}
	free(old_kw);
	stmt = sdb_stmt(&a->wdb,
	                "UPDATE messages SET flags = ?, keywords = ?, modseq = ?"
	                " WHERE mailbox_id = ? AND uid = ?",
	                err);
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, (int)new_flags);
	if (new_kw != NULL)
		sqlite3_bind_text(stmt, 2, new_kw, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)mb->highestmodseq);
	sqlite3_bind_int64(stmt, 4, mb->id);
	sqlite3_bind_int64(stmt, 5, uid);
	if (sdb_step_done(&a->wdb, stmt, err) < 0)
		return -1;
	res->modseq = mb->highestmodseq;
	res->changed = true;
	*changed_r = true;
	return 0;
}

static int job_flags(struct sq_account *a, struct sq_job *job, struct sq_batch *batch,
                     struct store_error *err)
{
	struct flags_job *ctx = job->ctx;
	struct sq_mailbox mb;
	bool changed = false;

	results_reset(ctx);
	if (sq_mailbox_get(&a->wdb, ctx->mailbox_id, &mb, STORE_ERR_NONEXISTENT, err) < 0)
		return -1;
	mb.highestmodseq++;
	for (size_t i = 0; i < ctx->count; i++) {
		if (flags_one(a, ctx, &mb, ctx->uids[i], &changed, err) < 0)
			return -1;
	}
	if (!changed)
		return 0;
	if (sq_mailbox_bump(&a->wdb, &mb, err) < 0)
		return -1;
	if (ctx->upd->mode != STORE_FLAGS_REMOVE &&
	    sq_mailbox_keywords_add(&a->wdb, mb.id, ctx->upd->keywords, ctx->upd->keyword_count,
	                            err) < 0)
		return -1;
	sq_job_change(job, a, mb.id, STORE_CHANGE_FLAGS);
	return 0;
}

int sq_flags(void *be, int64_t mailbox_id, const uint32_t *uids, size_t count,
             const struct store_flags_update *upd, struct store_flags_result **results_r,
             size_t *result_count_r, struct store_error *err)
{
	struct flags_job ctx = {.mailbox_id = mailbox_id, .uids = uids, .count = count, .upd = upd};
	struct sq_job job = {.run = job_flags, .ctx = &ctx};
	int ret;

	ctx.results = xcalloc(count + 1, sizeof(*ctx.results));
	ret = sq_write(be, &job, err);
	if (ret == 0 && results_r != NULL) {
		*results_r = ctx.results;
		if (result_count_r != NULL)
			*result_count_r = ctx.result_count;
		return 0;
	}
	if (ret == 0 && result_count_r != NULL)
		*result_count_r = ctx.result_count;
	results_reset(&ctx);
	free(ctx.results);
	return ret;
}

int sq_mailbox_keywords(void *be, int64_t mailbox_id, char ***keywords_r, size_t *count_r,
                        struct store_error *err)
{
	struct sq_account *a = be;
	struct sq_reader *r = sq_reader_get(a, err);
	sqlite3_stmt *stmt;
	char **kws = NULL;
	size_t count = 0;
	int rc = SQLITE_ERROR;

	if (r == NULL)
		return -1;
	stmt = sdb_stmt(&r->c,
	                "SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?"
	                " ORDER BY keyword COLLATE NOCASE",
	                err);
	if (stmt == NULL) {
		sq_reader_put(a, r);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, mailbox_id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		kws = xrealloc(kws, (count + 1) * sizeof(*kws));
		kws[count++] = sq_column_strdup(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		sq_db_error(&r->c, "listing keywords", err);
		sq_reader_put(a, r);
		store_keywords_free(kws, count);
		return -1;
	}
	sq_reader_put(a, r);
	*keywords_r = kws;
	*count_r = count;
	return 0;
}
