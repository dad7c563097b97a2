/*
 * cli/ — the roost command: argument parsing for each subcommand and calls
 * into the layers below. Every subcommand takes -c FILE (default
 * /etc/roost/roost.conf) so that all tools act on the server's data dir.
 */
#ifndef ROOST_CLI_H
#define ROOST_CLI_H

#include "base/base.h"

/* Exit codes follow sysexits.h. Each subcommand gets argv after its name
 * (argv[0] is the subcommand name) and the loaded configuration. */
int cli_serve(int argc, char **argv, struct roost_config *cfg);
int cli_user(int argc, char **argv, struct roost_config *cfg);
int cli_demo(int argc, char **argv, struct roost_config *cfg);
int cli_deliver(int argc, char **argv, struct roost_config *cfg);
int cli_check(int argc, char **argv, struct roost_config *cfg);
int cli_import(int argc, char **argv, struct roost_config *cfg);
int cli_export(int argc, char **argv, struct roost_config *cfg);

/* Run as [server] user/group when started as root (creating the data dir
 * for it if needed); -1 (reported on stderr) if that fails. */
int cli_become_server_user(const struct roost_config *cfg);

struct store;
struct store_account;
/* Run as the server user, look USER up and open the store and the account:
 * 0, or a sysexits code after a message on stderr prefixed with prog
 * (EX_NOUSER for an unknown user, EX_TEMPFAIL for failures). */
int cli_account_open(const struct roost_config *cfg, const char *prog, const char *user,
                     struct store **store_r, struct store_account **acct_r, int64_t *account_id_r);

/* Read a password: from stdin when it is not a terminal (one line, the
 * newline removed), else prompted twice without echo. NULL on failure. */
char *cli_read_password(const char *prompt, bool confirm);

#endif
