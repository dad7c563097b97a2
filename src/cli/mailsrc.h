/*
 * Maildir++ and mbox as roost import reads them and roost export writes
 * them (cli/ only). No store calls here: these functions turn files into
 * lists of messages with UIDs, flags and keywords and back.
 *
 * Maildir++ (https://cr.yp.to/proto/maildir.html, Courier's Maildir++ and
 * Dovecot's extensions, doc.dovecot.org "Maildir Mailbox Format"):
 * DIR/{cur,new,tmp} is INBOX, DIR/.Foo.Bar/ the mailbox "Foo/Bar" (names in
 * modified UTF-7, RFC 3501 5.1.3); "<base>:2,<flags>" carries the flags (D F
 * R S T, and a-z for the keywords listed in dovecot-keywords);
 * dovecot-uidlist (or Courier's courierimapuiddb) maps bases to UIDs under a
 * UIDVALIDITY.
 */
#ifndef ROOST_CLI_MAILSRC_H
#define ROOST_CLI_MAILSRC_H

#include "base/base.h"

#include <stdint.h>
#include <time.h>

#define MAILDIR_KEYWORDS_MAX 26 /* the letters a-z */
#define MAILDIR_UIDLIST "dovecot-uidlist"
#define MAILDIR_COURIER_UIDDB "courierimapuiddb"
#define MAILDIR_KEYWORDS_FILE "dovecot-keywords"

/* ---- names ---- */

/* ".Foo.Bar" (the directory name, with its dot) -> "Foo/Bar": modified
 * UTF-7 decoded (left as it is when it does not decode). Allocated. */
char *maildir_folder_to_mailbox(const char *dirname);
/* "Foo/Bar" -> ".Foo.Bar", modified UTF-7; NULL when a name component
 * contains '.' (the Maildir++ separator) or does not encode. INBOX -> "". */
char *maildir_mailbox_to_folder(const char *name);

/* ---- one folder ---- */

struct maildir_msg {
	char *path;        /* DIR/cur/<name> */
	char *base;        /* the name without ":2,..." */
	uint32_t uid;      /* from the uidlist; 0: none */
	unsigned flags;    /* STORE_FLAG_* bits */
	uint32_t keywords; /* bit i: the folder's keyword_names[i] */
	time_t mtime;      /* INTERNALDATE (Dovecot's convention) */
	uint64_t size;
};

struct maildir_folder {
	char *dir;
	/* from dovecot-uidlist / courierimapuiddb; uidvalidity 0: none usable */
	uint32_t uidvalidity, uidnext;
	const char *uidlist_name; /* which file was read, or NULL */
	unsigned bad_uidlist_lines;
	char *keyword_names[MAILDIR_KEYWORDS_MAX]; /* dovecot-keywords; NULL: unused */
	struct maildir_msg *msgs; /* the known UIDs ascending, then the rest by mtime */
	size_t count;
};

/* Read DIR's cur/ and new/, its uidlist and keywords. Problems with the
 * uidlist are warnings (printed with prog as prefix): its messages then get
 * new UIDs. -1 (error_r) when cur/ or new/ cannot be read. */
int maildir_folder_read(const char *dir, const char *prog, struct maildir_folder *folder_r,
                        char **error_r);
void maildir_folder_free(struct maildir_folder *folder);

/* The flag letters of an info suffix, in ASCII order as Maildir wants them:
 * "DFRST" then keyword letters. kw_letters[i] is the letter of the i-th
 * keyword, or 0 when it has none. */
void maildir_flags_format(unsigned flags, const char *kw_letters, size_t kw_count, struct buf *out);

/* ---- mbox ---- */

struct mbox_reader;

/* 0, or -1 with errno (ENOENT: a missing file). */
int mbox_open(const char *path, struct mbox_reader **reader_r);
/*
 * The next message, written to out_fd without its From_ line and with
 * mboxrd's ">From " escaping undone (one '>' off every line matching
 * ^>+From ), and without the empty line that separates it from the next.
 * *date_r is the From_ line's date (asctime form, taken as UTC; 0 when it
 * does not parse) and digest_r the SHA-256 of the bytes written.
 * 1: a message, 0: end of file, -1: error (errno).
 */
int mbox_next(struct mbox_reader *reader, int out_fd, uint64_t *size_r, time_t *date_r,
              unsigned char digest_r[32]);
void mbox_close(struct mbox_reader **reader);

/* SHA-256 of a file's bytes (for counting identical messages). */
int mailsrc_file_digest(int fd, unsigned char digest_r[32]);

#endif
