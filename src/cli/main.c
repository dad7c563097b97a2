/* roost: one binary, one subcommand per job. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv, struct roost_config *cfg);
	bool needs_config; /* the config file must exist */
	const char *usage;
};

static const struct cli_command commands[] = {
    {"serve", cli_serve, true, "serve [-c FILE]            run the server"},
    {"demo", cli_demo, false, "demo                       run a throw-away demo server"},
    {"user", cli_user, true, "user add|del|passwd|list   manage accounts"},
    {"deliver", cli_deliver, true, "deliver -u USER [-m MBOX]  store a message read on stdin"},
    {"check", cli_check, true, "check [-u USER] [--repair] reconcile index and blobs"},
    {"import", cli_import, true,
     "import -u USER --maildir DIR | --mbox FILE [-m MBOX]  import mail (Maildir++, mbox)"},
    {"export", cli_export, true, "export -u USER --maildir DIR [--force]  write mail as Maildir++"},
};

static void usage(FILE *out)
{
	fprintf(out, "usage: roost <command> [-c FILE] [arguments]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  roost %s\n", commands[i].usage);
	fprintf(out, "\n-c FILE names the configuration (default %s).\n", ROOST_DEFAULT_CONFIG);
}

/* Take "-c FILE", "-cFILE", "--config FILE" or "--config=FILE" out of argv,
 * wherever it stands. Returns -1 if the option has no value. */
static int take_config_option(int *argc, char **argv, const char **path_r)
{
	int out = 0;

	for (int i = 0; i < *argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (i + 1 >= *argc)
				return -1;
			*path_r = argv[++i];
		} else if (strncmp(a, "-c", 2) == 0 && a[2] != '\0') {
			*path_r = a + 2;
		} else if (strncmp(a, "--config=", 9) == 0) {
			*path_r = a + 9;
		} else {
			argv[out++] = argv[i];
		}
	}
	*argc = out;
	argv[out] = NULL;
	return 0;
}

int main(int argc, char **argv)
{
	const char *config_path = NULL;
	const struct cli_command *cmd = NULL;
	struct roost_config cfg;
	char *error = NULL;
	int ret;

	if (take_config_option(&argc, argv, &config_path) < 0) {
		fprintf(stderr, "roost: -c needs a file name\n");
		return EX_USAGE;
	}
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
		printf("roost %s\n", ROOST_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			cmd = &commands[i];
	}
	if (cmd == NULL) {
		fprintf(stderr, "roost: unknown command \"%s\"\n\n", argv[1]);
		usage(stderr);
		return EX_USAGE;
	}

	config_init_defaults(&cfg);
	if (config_path != NULL || cmd->needs_config) {
		if (config_path == NULL)
			config_path = ROOST_DEFAULT_CONFIG;
		if (config_load(&cfg, config_path, &error) < 0) {
			fprintf(stderr, "roost: %s\n", error);
			free(error);
			config_free(&cfg);
			return EX_CONFIG;
		}
	}
	log_set_level((enum log_level)cfg.log_level);
	ret = cmd->run(argc - 1, argv + 1, &cfg);
	config_free(&cfg);
	return ret;
}
