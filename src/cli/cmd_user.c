/* roost user add|del|passwd|list: account administration on DATA/roost.db. */
#include "cli.h"
#include "auth/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <termios.h>
#include <unistd.h>

/* Why reading a password failed: the exit code differs. */
enum cli_pw_error {
	CLI_PW_OK,
	CLI_PW_INVALID, /* empty, too long, mismatch: EX_DATAERR */
	CLI_PW_IO,      /* no terminal, read error, interrupted: EX_IOERR */
};

static void cli_user_usage(FILE *out)
{
	fprintf(out, "usage: roost user add NAME       create an account (asks for a password)\n"
	             "       roost user del NAME       delete an account (alias: delete)\n"
	             "       roost user passwd NAME    set a new password\n"
	             "       roost user list           print all account names\n"
	             "\n"
	             "The password is read from standard input when it is not a terminal\n"
	             "(one line), otherwise asked for twice without echo.\n");
}

static void free_password(char **pw)
{
	if (*pw != NULL) {
		sodium_memzero(*pw, strlen(*pw));
		free(*pw);
		*pw = NULL;
	}
}

/* One line from a pipe or file: the newline (and a CR before it) removed. */
static char *read_password_stdin(enum cli_pw_error *err_r)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	errno = 0;
	n = getline(&line, &cap, stdin);
	if (n < 0) {
		if (errno != 0) {
			fprintf(stderr, "roost: reading the password: %s\n", strerror(errno));
			*err_r = CLI_PW_IO;
		} else {
			fprintf(stderr, "roost: no password on standard input\n");
			*err_r = CLI_PW_INVALID;
		}
		free(line);
		return NULL;
	}
	if (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (n > 0 && line[n - 1] == '\r')
		line[--n] = '\0';
	if ((size_t)n != strlen(line)) {
		fprintf(stderr, "roost: the password contains a NUL byte\n");
		*err_r = CLI_PW_INVALID;
		sodium_memzero(line, cap);
		free(line);
		return NULL;
	}
	*err_r = CLI_PW_OK;
	return line;
}

static volatile sig_atomic_t tty_signal;

static void tty_signal_handler(int signo)
{
	tty_signal = signo;
}

static const int tty_signals[] = {SIGINT, SIGHUP, SIGQUIT, SIGTERM, SIGTSTP};

/*
 * Prompt on the terminal and read one line with echo off. A signal that
 * would kill or stop us is held off until the terminal is restored, then
 * delivered (otherwise ^C would leave the shell without echo). Returns the
 * line, or NULL with *err_r set.
 */
static char *read_password_tty(int fd, const char *prompt, enum cli_pw_error *err_r)
{
	struct sigaction sa, old_sa[ARRAY_SIZE(tty_signals)];
	struct termios old_tio, tio;
	char buf[AUTH_PASSWORD_MAX + 2];
	size_t len = 0;
	bool too_long = false, eof = false;
	char *ret = NULL;

	if (tcgetattr(fd, &old_tio) < 0) {
		fprintf(stderr, "roost: /dev/tty: %s\n", strerror(errno));
		*err_r = CLI_PW_IO;
		return NULL;
	}
	tty_signal = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tty_signal_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the read below must return EINTR */
	for (size_t i = 0; i < ARRAY_SIZE(tty_signals); i++)
		sigaction(tty_signals[i], &sa, &old_sa[i]);

	tio = old_tio;
	tio.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	tio.c_lflag |= ECHONL | ICANON;
	if (write(fd, prompt, strlen(prompt)) < 0 || tcsetattr(fd, TCSAFLUSH, &tio) < 0) {
		fprintf(stderr, "roost: /dev/tty: %s\n", strerror(errno));
		*err_r = CLI_PW_IO;
		goto restore;
	}

	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);
		if (n < 0 && errno == EINTR && tty_signal == 0)
			continue;
		if (n < 0 || tty_signal != 0) {
			if (tty_signal == 0)
				fprintf(stderr, "roost: /dev/tty: %s\n", strerror(errno));
			*err_r = CLI_PW_IO;
			break;
		}
		if (n == 0 && len == 0) {
			eof = true;
			*err_r = CLI_PW_IO;
			break;
		}
		if (n == 0 || c == '\n') {
			*err_r = CLI_PW_OK;
			break;
		}
		if (len < sizeof(buf) - 1)
			buf[len++] = c;
		else
			too_long = true;
	}
	if (*err_r == CLI_PW_OK) {
		if (len > 0 && buf[len - 1] == '\r')
			len--;
		buf[len] = '\0';
		if (too_long || len > AUTH_PASSWORD_MAX) {
			fprintf(stderr, "roost: password longer than %d bytes\n",
			        AUTH_PASSWORD_MAX);
			*err_r = CLI_PW_INVALID;
		} else if (strlen(buf) != len) {
			fprintf(stderr, "roost: the password contains a NUL byte\n");
			*err_r = CLI_PW_INVALID;
		} else {
			ret = xstrdup(buf);
		}
	} else if (eof) {
		fprintf(stderr, "\nroost: no password given\n");
	}
	sodium_memzero(buf, sizeof(buf));
	tcsetattr(fd, TCSAFLUSH, &old_tio);

restore:
	for (size_t i = 0; i < ARRAY_SIZE(tty_signals); i++)
		sigaction(tty_signals[i], &old_sa[i], NULL);
	if (tty_signal != 0) {
		if (write(fd, "\n", 1) < 0) {
			/* the terminal is gone; nothing to tidy up */
		}
		free_password(&ret);
		raise(tty_signal);
		*err_r = CLI_PW_IO;
	}
	return ret;
}

static char *cli_read_password_err(const char *prompt, bool confirm, enum cli_pw_error *err_r)
{
	char *pw, *again;
	int fd;

	if (!isatty(STDIN_FILENO))
		pw = read_password_stdin(err_r);
	else {
		fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			fprintf(stderr, "roost: /dev/tty: %s\n", strerror(errno));
			*err_r = CLI_PW_IO;
			return NULL;
		}
		pw = read_password_tty(fd, prompt, err_r);
		if (pw != NULL && pw[0] != '\0' && confirm) {
			again = read_password_tty(fd, "Retype to confirm: ", err_r);
			if (again != NULL && strcmp(pw, again) != 0) {
				fprintf(stderr, "roost: the passwords do not match\n");
				*err_r = CLI_PW_INVALID;
			}
			if (again == NULL || *err_r != CLI_PW_OK)
				free_password(&pw);
			free_password(&again);
		}
		close(fd);
	}
	if (pw != NULL && pw[0] == '\0') {
		fprintf(stderr, "roost: empty password refused\n");
		*err_r = CLI_PW_INVALID;
		free_password(&pw);
	}
	if (pw != NULL && strlen(pw) > AUTH_PASSWORD_MAX) {
		fprintf(stderr, "roost: password longer than %d bytes\n", AUTH_PASSWORD_MAX);
		*err_r = CLI_PW_INVALID;
		free_password(&pw);
	}
	return pw;
}

char *cli_read_password(const char *prompt, bool confirm)
{
	enum cli_pw_error err;

	return cli_read_password_err(prompt, confirm, &err);
}

/* A name from the command line, safe to print. */
static char *cli_user_shown(const char *name)
{
	return str_sanitize(name, strlen(name), AUTH_USERNAME_MAX + 1);
}

static int cli_user_check_name(const char *name)
{
	char *shown;

	if (auth_username_valid(name))
		return 0;
	shown = cli_user_shown(name);
	fprintf(stderr,
	        "roost: invalid user name \"%s\": use 1 to %d letters, digits and ._@+- "
	        "(not starting with . or -)\n",
	        shown, AUTH_USERNAME_MAX);
	free(shown);
	return -1;
}

/* EX_CANTCREAT if the database did not exist yet (opening would have made
 * it), else EX_IOERR. */
static int cli_user_open(const struct roost_config *cfg, struct auth_db **db_r)
{
	struct auth_hash_params params = {cfg->argon2_ops, cfg->argon2_mem_kib};
	char *path = xasprintf("%s/roost.db", cfg->data_dir);
	struct stat st;
	bool existed = stat(path, &st) == 0;
	char *error;

	free(path);
	if (cli_become_server_user(cfg) < 0)
		return EX_NOPERM;
	if (auth_db_open(cfg->data_dir, &params, db_r, &error) < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		return existed ? EX_IOERR : EX_CANTCREAT;
	}
	return 0;
}

static void cli_user_print(const char *name, void *ctx)
{
	FILE *out = ctx;
	fprintf(out, "%s\n", name);
}

static int cli_user_list(struct auth_db *db)
{
	char *error;

	if (auth_user_list(db, cli_user_print, stdout, &error) < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		return EX_SOFTWARE;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "roost: writing the list: %s\n", strerror(errno));
		return EX_IOERR;
	}
	return 0;
}

static int cli_user_delete(struct auth_db *db, const char *name)
{
	char *error, *shown;
	int ret = auth_user_delete(db, name, &error);

	if (ret < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		return EX_SOFTWARE;
	}
	if (ret == 0) {
		shown = cli_user_shown(name);
		fprintf(stderr, "roost: no such user: %s\n", shown);
		free(shown);
		return EX_NOUSER;
	}
	return 0;
}

/* 1 exists (canonical name in *name_r if not NULL), 0 not, -1 error
 * (reported on stderr). */
static int cli_user_exists(struct auth_db *db, const char *name, char **name_r)
{
	char *error;
	int ret = auth_user_lookup(db, name, name_r, &error);

	if (ret < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
	}
	return ret;
}

static int cli_user_add_or_passwd(struct auth_db *db, const char *name, bool add)
{
	enum cli_pw_error pw_err;
	char *password, *error, *shown, *prompt, *existing;
	int ret;

	ret = cli_user_exists(db, name, &existing);
	if (ret < 0)
		return EX_SOFTWARE;
	if (add && ret == 1) {
		/* names are case-insensitive: say which spelling is taken */
		fprintf(stderr, "roost: user %s already exists\n", existing);
		free(existing);
		return EX_DATAERR;
	}
	free(existing);
	shown = cli_user_shown(name);
	if (!add && ret == 0) {
		fprintf(stderr, "roost: no such user: %s\n", shown);
		free(shown);
		return EX_NOUSER;
	}

	prompt = xasprintf("%s for %s: ", add ? "Password" : "New password", shown);
	password = cli_read_password_err(prompt, true, &pw_err);
	free(prompt);
	if (password == NULL) {
		free(shown);
		return pw_err == CLI_PW_INVALID ? EX_DATAERR : EX_IOERR;
	}

	if (add) {
		ret = auth_user_add(db, name, password, &error) < 0 ? -1 : 1;
	} else {
		ret = auth_user_set_password(db, name, password, &error);
	}
	free_password(&password);
	if (ret < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		/* lost a race with another `roost user add`? */
		ret = add && cli_user_exists(db, name, NULL) == 1 ? EX_DATAERR : EX_SOFTWARE;
	} else if (ret == 0) {
		fprintf(stderr, "roost: no such user: %s\n", shown);
		ret = EX_NOUSER;
	} else {
		ret = 0;
	}
	free(shown);
	return ret;
}

int cli_user(int argc, char **argv, struct roost_config *cfg)
{
	struct auth_db *db;
	const char *sub, *name = NULL;
	int ret;

	if (argc < 2) {
		cli_user_usage(stderr);
		return EX_USAGE;
	}
	sub = argv[1];
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		cli_user_usage(stdout);
		return 0;
	}
	if (strcmp(sub, "list") == 0) {
		if (argc != 2) {
			cli_user_usage(stderr);
			return EX_USAGE;
		}
	} else if (strcmp(sub, "add") == 0 || strcmp(sub, "del") == 0 ||
	           strcmp(sub, "delete") == 0 || strcmp(sub, "passwd") == 0) {
		if (argc != 3) {
			cli_user_usage(stderr);
			return EX_USAGE;
		}
		name = argv[2];
		if (cli_user_check_name(name) < 0)
			return EX_DATAERR;
	} else {
		fprintf(stderr, "roost: unknown user command \"%s\"\n", sub);
		cli_user_usage(stderr);
		return EX_USAGE;
	}

	ret = cli_user_open(cfg, &db);
	if (ret != 0)
		return ret;
	if (strcmp(sub, "list") == 0)
		ret = cli_user_list(db);
	else if (strcmp(sub, "add") == 0)
		ret = cli_user_add_or_passwd(db, name, true);
	else if (strcmp(sub, "passwd") == 0)
		ret = cli_user_add_or_passwd(db, name, false);
	else
		ret = cli_user_delete(db, name);
	auth_db_close(&db);
	return ret;
}
