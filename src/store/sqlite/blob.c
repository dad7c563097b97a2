/*
 * Blobs: one immutable file per distinct message content, named by the
 * SHA-256 of its CRLF form: blobs/<first two hex digits>/<64 hex digits>.
 *
 * Delivery writes a temp file in blobs/tmp (normalizing line ends and
 * hashing on the way), fsyncs it and parses it, all outside any lock and in
 * parallel with other deliveries. Inside the commit (sq_blob_install) the
 * temp file is renamed to its final name unless that exists already, and
 * the directory is fsync'ed by the leader before COMMIT.
 *
 * Files are only ever created and removed by the group-commit leader while
 * it holds index.db's write lock, which is what makes "the row's refcount
 * is above 0 implies the file exists" hold across processes: removal
 * happens in sq_blob_gc() after the commit that dropped the last reference,
 * in a transaction of its own, and an append that finds a row at refcount 0
 * puts the file (back) in place itself.
 */
#include "sqlite_private.h"
#include "mime/mime.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOB_CHUNK (64 * 1024)

char *sq_blob_path(struct sq_account *a, const char *hash)
{
	return xasprintf("%s/%.2s/%s", a->blob_dir, hash, hash);
}

int sq_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = fsync(fd);
	close(fd);
	return ret;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read exactly len bytes at off; -1 with errno, or EIO when the file ends
 * early (the caller said it was bigger). */
static int pread_all(int fd, char *data, size_t len, uint64_t off)
{
	while (len > 0) {
		ssize_t n = pread(fd, data, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		data += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static char *buf_take(struct buf *b)
{
	char *s = b->data != NULL ? b->data : xstrdup("");

	buf_init(b);
	return s;
}

static char *strdup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* The one place where delivery calls mime/: parse once, keep the results. */
void sq_blob_parse(const void *data, size_t len, struct sq_blob_new *blob)
{
	struct mime_message *msg = mime_parse(data, len);
	struct mime_summary sum;
	struct buf b;

	buf_init(&b);
	mime_parts_encode(msg, &b);
	blob->parts_size = b.len;
	blob->parts = buf_take(&b);
	mime_write_envelope(msg, &b);
	blob->envelope = buf_take(&b);
	mime_write_bodystructure(msg, false, &b);
	blob->body = buf_take(&b);
	mime_write_bodystructure(msg, true, &b);
	blob->bodystructure = buf_take(&b);

	memset(&sum, 0, sizeof(sum));
	mime_summary_get(msg, &sum);
	blob->date = (int64_t)sum.date;
	blob->date_tz = sum.date_tz;
	blob->subject = strdup_or_null(sum.subject);
	blob->from = strdup_or_null(sum.from);
	blob->to = strdup_or_null(sum.to);
	blob->cc = strdup_or_null(sum.cc);
	blob->bcc = strdup_or_null(sum.bcc);
	blob->message_id = strdup_or_null(sum.message_id);
	blob->in_reply_to = strdup_or_null(sum.in_reply_to);
	blob->references = strdup_or_null(sum.references);
	mime_summary_free(&sum);
	mime_message_free(&msg);
}

void sq_blob_new_free(struct sq_blob_new *blob)
{
	if (blob->tmp_path != NULL) {
		unlink(blob->tmp_path);
		free(blob->tmp_path);
	}
	free(blob->parts);
	free(blob->envelope);
	free(blob->body);
	free(blob->bodystructure);
	free(blob->subject);
	free(blob->from);
	free(blob->to);
	free(blob->cc);
	free(blob->bcc);
	free(blob->message_id);
	free(blob->in_reply_to);
	free(blob->references);
	memset(blob, 0, sizeof(*blob));
}

static void hash_hex(const unsigned char *md, char out[SQ_HASH_HEX + 1])
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < SQ_HASH_HEX / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[SQ_HASH_HEX] = '\0';
}

/* Copy msg into the open temp file tfd in CRLF form, hashing what is
 * written and noting whether the original used bare LF only. */
static int blob_stream(int tfd, const struct store_append_msg *msg, struct sq_blob_new *blob,
                       unsigned char md_r[EVP_MAX_MD_SIZE])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	struct mime_crlf crlf;
	struct buf out;
	char *chunk = msg->data == NULL ? xmalloc(BLOB_CHUNK) : NULL;
	uint64_t off = 0, n_crlf = 0, n_lf = 0;
	bool prev_cr = false;
	unsigned md_len;
	int ret = -1;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		fatal("EVP sha256 unavailable");
	mime_crlf_init(&crlf);
	buf_init(&out);
	while (off < msg->size) {
		size_t n = msg->size - off > BLOB_CHUNK ? BLOB_CHUNK : (size_t)(msg->size - off);
		const char *p;

		if (msg->data != NULL) {
			p = (const char *)msg->data + off;
		} else {
			if (pread_all(msg->fd, chunk, n, off) < 0)
				goto out;
			p = chunk;
		}
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '\n') {
				if (prev_cr)
					n_crlf++;
				else
					n_lf++;
			}
			prev_cr = p[i] == '\r';
		}
		buf_reset(&out);
		mime_crlf_normalize(&crlf, p, n, &out);
		if (EVP_DigestUpdate(md, out.data, out.len) != 1 ||
		    write_all(tfd, out.data, out.len) < 0)
			goto out;
		blob->size += out.len;
		off += n;
	}
	if (EVP_DigestFinal_ex(md, md_r, &md_len) != 1 || md_len != SQ_HASH_HEX / 2)
		goto out;
	blob->only_lf = n_lf > 0 && n_crlf == 0;
	ret = 0;
out:
	EVP_MD_CTX_free(md);
	buf_free(&out);
	free(chunk);
	return ret;
}

int sq_blob_prepare(struct sq_account *a, const struct store_append_msg *msg,
                    struct sq_blob_new *blob, struct store_error *err)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char rnd[26];
	void *map = NULL;
	int tfd;

	memset(blob, 0, sizeof(*blob));
	sq_random_id('t', rnd);
	blob->tmp_path = xasprintf("%s/%s", a->tmp_dir, rnd);
	tfd = open(blob->tmp_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (tfd < 0) {
		store_error_set(err, STORE_ERR_SERVERBUG, "create %s: %s", blob->tmp_path,
		                strerror(errno));
		free(blob->tmp_path);
		blob->tmp_path = NULL;
		return -1;
	}
	if (blob_stream(tfd, msg, blob, md) < 0) {
		store_error_set(err, STORE_ERR_SERVERBUG, "writing the message: %s",
		                strerror(errno));
		goto fail;
	}
	if (fsync(tfd) < 0) {
		store_error_set(err, STORE_ERR_SERVERBUG, "fsync %s: %s", blob->tmp_path,
		                strerror(errno));
		goto fail;
	}
	hash_hex(md, blob->hash);
	if (blob->size > 0) {
		map = mmap(NULL, blob->size, PROT_READ, MAP_SHARED, tfd, 0);
		if (map == MAP_FAILED) {
			store_error_set(err, STORE_ERR_SERVERBUG, "mmap: %s", strerror(errno));
			goto fail;
		}
	}
	sq_blob_parse(map != NULL ? map : "", blob->size, blob);
	if (map != NULL)
		munmap(map, blob->size);
	close(tfd);
	return 0;
fail:
	close(tfd);
	sq_blob_new_free(blob);
	return -1;
}

static void bind_text_or_null(sqlite3_stmt *stmt, int col, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, col);
	else
		sqlite3_bind_text(stmt, col, s, -1, SQLITE_STATIC);
}

int sq_blob_install(struct sq_account *a, struct sq_batch *batch, struct sq_blob_new *blob,
                    struct store_error *err)
{
	char *path = sq_blob_path(a, blob->hash);
	char *dir = xstrndup(path, strlen(path) - SQ_HASH_HEX - 1);
	sqlite3_stmt *stmt;
	struct stat st;
	int ret = -1;

	if (blob->tmp_path == NULL) {
		/* installed by an earlier message of the same append */
	} else if (stat(path, &st) == 0) {
		/* same content, same name: the file we have is the one. It
		 * may be the leftover of a delivery killed before its COMMIT,
		 * whose directory entries were never fsync'ed: sync them now,
		 * or a power cut could lose a message acknowledged below */
		unlink(blob->tmp_path);
		free(blob->tmp_path);
		blob->tmp_path = NULL;
		sq_batch_fsync_dir(batch, dir);
		sq_batch_fsync_dir(batch, a->blob_dir);
	} else {
		if (mkdir(dir, 0700) == 0)
			sq_batch_fsync_dir(batch, a->blob_dir);
		else if (errno != EEXIST) {
			store_error_set(err, STORE_ERR_SERVERBUG, "mkdir %s: %s", dir,
			                strerror(errno));
			goto out;
		}
		if (rename(blob->tmp_path, path) < 0) {
			store_error_set(err, STORE_ERR_SERVERBUG, "rename to %s: %s", path,
			                strerror(errno));
			goto out;
		}
		free(blob->tmp_path);
		blob->tmp_path = NULL;
		sq_batch_fsync_dir(batch, dir);
	}

	stmt = sdb_stmt(&a->wdb,
	                "INSERT OR IGNORE INTO blobs (hash, size, parts, envelope, body,"
	                " bodystructure, date, date_tz, subject, from_, to_, cc, bcc, message_id,"
	                " in_reply_to, references_)"
	                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
	                err);
	if (stmt == NULL)
		goto out;
	sqlite3_bind_text(stmt, 1, blob->hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)blob->size);
	sqlite3_bind_blob(stmt, 3, blob->parts, (int)blob->parts_size, SQLITE_STATIC);
	bind_text_or_null(stmt, 4, blob->envelope);
	bind_text_or_null(stmt, 5, blob->body);
	bind_text_or_null(stmt, 6, blob->bodystructure);
	sqlite3_bind_int64(stmt, 7, blob->date);
	sqlite3_bind_int(stmt, 8, blob->date_tz);
	bind_text_or_null(stmt, 9, blob->subject);
	bind_text_or_null(stmt, 10, blob->from);
	bind_text_or_null(stmt, 11, blob->to);
	bind_text_or_null(stmt, 12, blob->cc);
	bind_text_or_null(stmt, 13, blob->bcc);
	bind_text_or_null(stmt, 14, blob->message_id);
	bind_text_or_null(stmt, 15, blob->in_reply_to);
	bind_text_or_null(stmt, 16, blob->references);
	ret = sdb_step_done(&a->wdb, stmt, err);
out:
	free(dir);
	free(path);
	return ret;
}

int sq_blob_map(struct sq_account *a, const char *hash, struct store_blob *blob_r,
                struct store_error *err)
{
	char *path = sq_blob_path(a, hash);
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		/* ENOENT: expunged (and its blob removed) since the caller
		 * looked it up, or lost (roost check reports that) */
		store_error_set(err, errno == ENOENT ? STORE_ERR_NONEXISTENT : STORE_ERR_SERVERBUG,
		                "message file %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return -1;
	}
	free(path);
	blob_r->fd = fd;
	blob_r->size = (uint64_t)st.st_size;
	blob_r->data = NULL;
	if (st.st_size > 0) {
		void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			store_error_set(err, STORE_ERR_SERVERBUG, "mmap: %s", strerror(errno));
			close(fd);
			blob_r->fd = -1;
			return -1;
		}
		blob_r->data = map;
	}
	return 0;
}

void store_blob_close(struct store_blob *blob)
{
	if (blob->data != NULL)
		munmap((void *)blob->data, blob->size);
	if (blob->fd >= 0)
		close(blob->fd);
	blob->data = NULL;
	blob->fd = -1;
	blob->size = 0;
}

int sq_blob_gc(struct sq_account *a, struct store_error *err)
{
	sqlite3_stmt *stmt;
	char **hashes = NULL;
	size_t count = 0;
	int rc;

	if (sdb_exec(&a->wdb, "BEGIN IMMEDIATE", err) < 0)
		return -1;
	stmt = sdb_stmt(&a->wdb, "SELECT hash FROM blobs WHERE refcount <= 0", err);
	if (stmt == NULL)
		goto rollback;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		hashes = xrealloc(hashes, (count + 1) * sizeof(*hashes));
		hashes[count++] = sq_column_strdup(stmt, 0);
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		sq_db_error(&a->wdb, "listing unused blobs", err);
		goto rollback;
	}
	for (size_t i = 0; i < count; i++) {
		char *path = sq_blob_path(a, hashes[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("unlink %s: %s", path, strerror(errno));
		free(path);
	}
	if (sdb_exec(&a->wdb, "DELETE FROM blobs WHERE refcount <= 0", err) < 0 ||
	    sdb_exec(&a->wdb, "COMMIT", err) < 0)
		goto rollback;
	for (size_t i = 0; i < count; i++)
		free(hashes[i]);
	free(hashes);
	return 0;
rollback:
	sqlite3_exec(a->wdb.db, "ROLLBACK", NULL, NULL, NULL);
	for (size_t i = 0; i < count; i++)
		free(hashes[i]);
	free(hashes);
	return -1;
}
