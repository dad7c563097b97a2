/*
 * roost check [-u USER] [--repair]: reconcile each account's index with its
 * blobs (missing blob, orphan blob, wrong refcount, UIDNEXT below the highest
 * UID, counters) and say what was found. Exit 0 when clean (or all
 * repaired), 1 when problems remain.
 */
#include "auth/auth.h"
#include "cli.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

struct name_list {
	char **names;
	size_t count;
};

static void collect_name(const char *name, void *ctx)
{
	struct name_list *l = ctx;
	l->names = xrealloc(l->names, (l->count + 1) * sizeof(*l->names));
	l->names[l->count++] = xstrdup(name);
}

static int check_one(struct store *store, struct auth_db *db, const char *user, bool repair,
                     bool *clean_r)
{
	struct store_check_options opts = {.repair = repair, .min_orphan_age_secs = 3600};
	struct store_check_report report;
	struct store_account *acct = NULL;
	struct store_error err;
	char *error = NULL, *canonical = NULL;
	int64_t id;
	int r = auth_user_id(db, user, &id, &canonical, &error);

	if (r <= 0) {
		fprintf(stderr, "roost check: %s: %s\n", user, r < 0 ? error : "no such user");
		free(error);
		return r < 0 ? EX_SOFTWARE : EX_NOUSER;
	}
	if (store_account_open(store, id, &acct, &err) < 0 ||
	    store_check(acct, &opts, &report, &err) < 0) {
		fprintf(stderr, "roost check: %s: %s\n", canonical, err.text);
		store_account_close(&acct);
		free(canonical);
		return EX_SOFTWARE;
	}
	for (size_t i = 0; i < report.line_count; i++)
		printf("%s: %s\n", canonical, report.lines[i]);
	unsigned found = report.missing_blobs + report.orphan_blobs + report.bad_refcounts +
	                 report.bad_uidnext + report.bad_counters + report.stale_tempfiles;
	printf("%s: %u problem%s found, %u repaired\n", canonical, found, found == 1 ? "" : "s",
	       report.repaired);
	if (found > report.repaired)
		*clean_r = false;
	store_check_report_free(&report);
	store_account_close(&acct);
	free(canonical);
	return 0;
}

int cli_check(int argc, char **argv, struct roost_config *cfg)
{
	struct auth_hash_params params = {cfg->argon2_ops, cfg->argon2_mem_kib};
	struct name_list users = {0};
	struct auth_db *db = NULL;
	struct store *store = NULL;
	struct store_error err;
	const char *only = NULL;
	char *error = NULL;
	bool repair = false, clean = true;
	int ret = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--repair") == 0) {
			repair = true;
		} else if (strcmp(argv[i], "-u") == 0 && i + 1 < argc) {
			only = argv[++i];
		} else {
			fprintf(stderr, "usage: roost check [-c FILE] [-u USER] [--repair]\n");
			return EX_USAGE;
		}
	}
	if (cli_become_server_user(cfg) < 0)
		return EX_SOFTWARE;
	if (auth_db_open(cfg->data_dir, &params, &db, &error) < 0) {
		fprintf(stderr, "roost check: %s\n", error);
		free(error);
		return EX_SOFTWARE;
	}
	if (store_open(cfg->data_dir, NULL, &store, &err) < 0) {
		fprintf(stderr, "roost check: %s\n", err.text);
		auth_db_close(&db);
		return EX_SOFTWARE;
	}
	if (only != NULL)
		collect_name(only, &users);
	else if (auth_user_list(db, collect_name, &users, &error) < 0) {
		fprintf(stderr, "roost check: %s\n", error);
		free(error);
		ret = EX_SOFTWARE;
	}
	for (size_t i = 0; i < users.count && ret == 0; i++)
		ret = check_one(store, db, users.names[i], repair, &clean);
	for (size_t i = 0; i < users.count; i++)
		free(users.names[i]);
	free(users.names);
	store_close(&store);
	auth_db_close(&db);
	if (ret == 0 && !clean)
		ret = 1;
	return ret;
}
