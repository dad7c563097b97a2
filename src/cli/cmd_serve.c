/* roost serve: run the server with the configuration file. */
#include "cli.h"
#include "server/server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

int cli_serve(int argc, char **argv, struct roost_config *cfg)
{
	struct server *srv = NULL;
	char *error = NULL;
	int ret;

	if (argc > 1) {
		fprintf(stderr, "usage: roost serve [-c FILE]\n");
		return EX_USAGE;
	}
	if (server_new(cfg, &srv, &error) < 0) {
		fprintf(stderr, "roost: %s\n", error);
		free(error);
		server_free(&srv);
		return EX_CONFIG;
	}
	ret = server_run(srv);
	server_free(&srv);
	return ret == 0 ? 0 : EX_SOFTWARE;
}
