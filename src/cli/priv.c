/* The tools that write to the data dir run as the server's account, so that
 * no file they make is out of the server's reach after its own drop. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_become_server_user(const struct roost_config *cfg)
{
	char *error = NULL;
	uid_t uid;
	gid_t gid;
	int r;

	if (geteuid() != 0)
		return 0;
	r = proc_lookup_user(cfg->user, cfg->group, &uid, &gid, &error);
	if (r == 0) {
		if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
			fprintf(stderr, "roost: mkdir %s: %s\n", cfg->data_dir, strerror(errno));
			return -1;
		}
		if (chown(cfg->data_dir, uid, gid) < 0) {
			fprintf(stderr, "roost: chown %s: %s\n", cfg->data_dir, strerror(errno));
			return -1;
		}
		r = proc_set_ids(uid, gid, &error);
	}
	if (r < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		return -1;
	}
	return 0;
}
