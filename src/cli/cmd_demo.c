/*
 * roost demo: the real server on loopback ports with a throw-away data dir,
 * a self-signed certificate made through OpenSSL's API and a demo account.
 * Ctrl-C stops it and removes the data dir.
 */
#include "auth/auth.h"
#include "cli.h"
#include "server/server.h"

#include <ftw.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#define DEMO_USER "demo"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A readable random password: 16 characters from an unambiguous set. */
static void demo_password(char out[17])
{
	static const char set[] = "abcdefghjkmnpqrstuvwxyz23456789";

	if (sodium_init() < 0)
		fatal("sodium_init failed");
	for (int i = 0; i < 16; i++)
		out[i] = set[randombytes_uniform(sizeof(set) - 1)];
	out[16] = '\0';
}

static void set_listen(char ***list, size_t *count, int port)
{
	char *spec = xasprintf("127.0.0.1:%d", port);
	config_free_list(*list, *count);
	config_split_list(spec, list, count);
	free(spec);
}

static int demo_prepare(struct roost_config *cfg, const char *dir, const char *password)
{
	struct auth_hash_params params = {cfg->argon2_ops, cfg->argon2_mem_kib};
	struct auth_db *db = NULL;
	char *error = NULL;

	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->data_dir);
	cfg->tls_cert = xasprintf("%s/cert.pem", dir);
	cfg->tls_key = xasprintf("%s/key.pem", dir);
	cfg->data_dir = xasprintf("%s/data", dir);
	if (tls_make_self_signed(cfg->tls_cert, cfg->tls_key, &error) < 0 ||
	    auth_db_open(cfg->data_dir, &params, &db, &error) < 0 ||
	    auth_user_add(db, DEMO_USER, password, &error) < 0) {
		fprintf(stderr, "roost demo: %s\n", error);
		free(error);
		auth_db_close(&db);
		return -1;
	}
	auth_db_close(&db);
	return 0;
}

int cli_demo(int argc, char **argv, struct roost_config *cfg)
{
	char dir[] = "/tmp/roost-demo-XXXXXX";
	char password[17];
	struct server *srv = NULL;
	char *error = NULL;
	int imap_port = 1143, imaps_port = 1993;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--imap-port") == 0 && i + 1 < argc)
			imap_port = atoi(argv[++i]);
		else if (strcmp(argv[i], "--imaps-port") == 0 && i + 1 < argc)
			imaps_port = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: roost demo [--imap-port N] [--imaps-port N]\n");
			return EX_USAGE;
		}
	}
	if (mkdtemp(dir) == NULL) {
		perror("roost demo: mkdtemp");
		return EX_CANTCREAT;
	}
	demo_password(password);
	if (demo_prepare(cfg, dir, password) < 0) {
		remove_tree(dir);
		return EX_SOFTWARE;
	}
	free(cfg->user);
	cfg->user = xstrdup("");
	set_listen(&cfg->imap_listen, &cfg->imap_listen_count, imap_port);
	set_listen(&cfg->imaps_listen, &cfg->imaps_listen_count, imaps_port);
	if (server_new(cfg, &srv, &error) < 0) {
		/* the usual ports are taken: let the kernel pick free ones */
		free(error);
		error = NULL;
		server_free(&srv);
		set_listen(&cfg->imap_listen, &cfg->imap_listen_count, 0);
		set_listen(&cfg->imaps_listen, &cfg->imaps_listen_count, 0);
		if (server_new(cfg, &srv, &error) < 0) {
			fprintf(stderr, "roost demo: %s\n", error);
			free(error);
			server_free(&srv);
			remove_tree(dir);
			return EX_SOFTWARE;
		}
	}
	imap_port = server_port(srv, false);
	imaps_port = server_port(srv, true);
	printf("\nRoost %s demo is running (Ctrl-C stops it and deletes its data).\n\n"
	       "  IMAP with STARTTLS   127.0.0.1 port %d\n"
	       "  IMAP over TLS        127.0.0.1 port %d\n"
	       "  user                 %s\n"
	       "  password             %s\n"
	       "  certificate          %s (self-signed, for localhost)\n"
	       "  data                 %s\n\n"
	       "Try it:\n"
	       "  openssl s_client -quiet -connect localhost:%d\n"
	       "      then type: a LOGIN %s %s\n"
	       "  openssl s_client -quiet -starttls imap -connect localhost:%d\n"
	       "  neomutt -f imaps://%s@localhost:%d/\n"
	       "  curl -k --user %s:%s imaps://localhost:%d/\n"
	       "Thunderbird: server localhost, port %d, SSL/TLS, normal password,\n"
	       "  user %s; accept the self-signed certificate when asked.\n\n",
	       ROOST_VERSION, imap_port, imaps_port, DEMO_USER, password, cfg->tls_cert,
	       cfg->data_dir, imaps_port, DEMO_USER, password, imap_port, DEMO_USER, imaps_port,
	       DEMO_USER, password, imaps_port, imaps_port, DEMO_USER);
	fflush(stdout);
	if (server_run(srv) != 0)
		ret = EX_SOFTWARE;
	server_free(&srv);
	remove_tree(dir);
	return ret;
}
