/*
 * roost deliver -u USER [-m MAILBOX]: store one message read from standard
 * input, as an MTA's local delivery agent. Exit codes follow sysexits.h, as
 * MTAs expect: 0 delivered, 67 unknown user, 65 unusable message, 75
 * temporary failure (the MTA retries).
 */
#include "auth/auth.h"
#include "cli.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

/* Copy standard input into an unlinked file, so that a message of any size
 * is never wholly in memory. A leading mbox "From " line is dropped. */
static int spool_stdin(const char *dir, uint64_t max_size, int *fd_r, uint64_t *size_r)
{
	char chunk[65536];
	uint64_t total = 0;
	bool first = true;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		char *tmpl = xasprintf("%s/deliver-XXXXXX", dir);
		fd = mkstemp(tmpl);
		if (fd >= 0)
			unlink(tmpl);
		free(tmpl);
	}
	if (fd < 0) {
		fprintf(stderr, "roost deliver: cannot make a spool file in %s: %s\n", dir,
		        strerror(errno));
		return EX_TEMPFAIL;
	}
	for (;;) {
		ssize_t n = read(STDIN_FILENO, chunk, sizeof(chunk));
		const char *p = chunk;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "roost deliver: reading the message: %s\n",
			        strerror(errno));
			close(fd);
			return EX_TEMPFAIL;
		}
		if (n == 0)
			break;
		if (first && n >= 5 && memcmp(chunk, "From ", 5) == 0) {
			const char *nl = memchr(chunk, '\n', (size_t)n);
			if (nl != NULL) {
				n -= nl + 1 - chunk;
				p = nl + 1;
			}
		}
		first = false;
		total += (uint64_t)n;
		if (total > max_size) {
			fprintf(stderr, "roost deliver: message larger than %llu bytes\n",
			        (unsigned long long)max_size);
			close(fd);
			return EX_DATAERR;
		}
		while (n > 0) {
			ssize_t w = write(fd, p, (size_t)n);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				fprintf(stderr, "roost deliver: spool: %s\n", strerror(errno));
				close(fd);
				return EX_TEMPFAIL;
			}
			p += w;
			n -= w;
		}
	}
	*fd_r = fd;
	*size_r = total;
	return 0;
}

int cli_deliver(int argc, char **argv, struct roost_config *cfg)
{
	struct auth_hash_params params = {cfg->argon2_ops, cfg->argon2_mem_kib};
	const char *user = NULL, *mailbox = "INBOX";
	struct auth_db *db = NULL;
	struct store *store = NULL;
	struct store_account *acct = NULL;
	struct store_mailbox_status st;
	struct store_append_msg msg;
	struct store_error err;
	char *error = NULL, *canonical = NULL, *spool = NULL;
	int64_t account_id;
	uint64_t size;
	uint32_t uid;
	int fd = -1, ret, opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "u:m:")) != -1) {
		switch (opt) {
		case 'u':
			user = optarg;
			break;
		case 'm':
			mailbox = optarg;
			break;
		default:
			fprintf(stderr, "usage: roost deliver [-c FILE] -u USER [-m MAILBOX]\n");
			return EX_USAGE;
		}
	}
	if (user == NULL || optind != argc) {
		fprintf(stderr, "usage: roost deliver [-c FILE] -u USER [-m MAILBOX]\n");
		return EX_USAGE;
	}
	if (cli_become_server_user(cfg) < 0)
		return EX_TEMPFAIL;
	if (auth_db_open(cfg->data_dir, &params, &db, &error) < 0) {
		fprintf(stderr, "roost deliver: %s\n", error);
		free(error);
		return EX_TEMPFAIL;
	}
	ret = auth_user_id(db, user, &account_id, &canonical, &error);
	auth_db_close(&db);
	if (ret <= 0) {
		if (ret < 0)
			fprintf(stderr, "roost deliver: %s\n", error);
		else
			fprintf(stderr, "roost deliver: no such user: %s\n", user);
		free(error);
		return ret < 0 ? EX_TEMPFAIL : EX_NOUSER;
	}
	spool = xasprintf("%s/spool", cfg->data_dir);
	mkdir(spool, 0700);
	ret = spool_stdin(spool, cfg->max_message_size, &fd, &size);
	free(spool);
	if (ret != 0)
		goto out;
	ret = EX_TEMPFAIL;
	if (store_open(cfg->data_dir, NULL, &store, &err) < 0 ||
	    store_account_open(store, account_id, &acct, &err) < 0) {
		fprintf(stderr, "roost deliver: %s\n", err.text);
		goto out;
	}
	if (store_mailbox_status(acct, mailbox, &st, &err) < 0 || st.noselect) {
		/* a mailbox that is not there: INBOX gets the message */
		if (store_mailbox_status(acct, "INBOX", &st, &err) < 0) {
			fprintf(stderr, "roost deliver: %s\n", err.text);
			goto out;
		}
		mailbox = "INBOX";
	}
	memset(&msg, 0, sizeof(msg));
	msg.fd = fd;
	msg.size = size;
	if (store_append(acct, st.id, &msg, 1, &uid, &err) < 0) {
		fprintf(stderr, "roost deliver: %s\n", err.text);
		ret = err.code == STORE_ERR_LIMIT ? EX_DATAERR : EX_TEMPFAIL;
		goto out;
	}
	log_info("deliver: user=%s mailbox=%s uid=%u size=%llu", canonical, mailbox, uid,
	         (unsigned long long)size);
	/* a running server tells its IDLE sessions at once */
	(void)store_notify_external(cfg->data_dir, account_id, st.id);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	store_account_close(&acct);
	store_close(&store);
	free(canonical);
	return ret;
}
