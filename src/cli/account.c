/* Opening one user's account from a tool (roost import, roost export). */
#include "auth/auth.h"
#include "cli.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

int cli_account_open(const struct roost_config *cfg, const char *prog, const char *user,
                     struct store **store_r, struct store_account **acct_r, int64_t *account_id_r)
{
	struct auth_hash_params params = {cfg->argon2_ops, cfg->argon2_mem_kib};
	struct auth_db *db = NULL;
	struct store_error err;
	char *error = NULL, *canonical = NULL;
	int ret;

	*store_r = NULL;
	*acct_r = NULL;
	if (cli_become_server_user(cfg) < 0)
		return EX_TEMPFAIL;
	if (auth_db_open(cfg->data_dir, &params, &db, &error) < 0) {
		fprintf(stderr, "%s: %s\n", prog, error);
		free(error);
		return EX_TEMPFAIL;
	}
	ret = auth_user_id(db, user, account_id_r, &canonical, &error);
	auth_db_close(&db);
	free(canonical);
	if (ret <= 0) {
		if (ret < 0)
			fprintf(stderr, "%s: %s\n", prog, error);
		else
			fprintf(stderr, "%s: no such user: %s\n", prog, user);
		free(error);
		return ret < 0 ? EX_TEMPFAIL : EX_NOUSER;
	}
	if (store_open(cfg->data_dir, NULL, store_r, &err) < 0 ||
	    store_account_open(*store_r, *account_id_r, acct_r, &err) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err.text);
		store_close(store_r);
		return EX_TEMPFAIL;
	}
	return 0;
}
