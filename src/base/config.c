/*
 * The configuration file: INI read with inih. Unknown sections or keys and
 * bad values are refused with the file, the line and the reason, so that a
 * typo never silently leaves a default in force.
 */
#include "base.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct config_parse {
	struct roost_config *cfg;
	char *error; /* the first error's reason */
};

void config_init_defaults(struct roost_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->data_dir = xstrdup("/var/lib/roost");
	cfg->user = xstrdup("");
	cfg->group = xstrdup("");
	cfg->log_level = LOG_INFO;
	cfg->workers = ROOST_DEFAULT_WORKERS;
	config_split_list("0.0.0.0:143", &cfg->imap_listen, &cfg->imap_listen_count);
	config_split_list("0.0.0.0:993", &cfg->imaps_listen, &cfg->imaps_listen_count);
	cfg->lmtp_listen = xstrdup("");
	cfg->tls_cert = xstrdup("");
	cfg->tls_key = xstrdup("");
	cfg->allow_plaintext = false;
	cfg->auth_fail_delay_ms = ROOST_DEFAULT_AUTH_FAIL_DELAY_MS;
	cfg->argon2_ops = 2;
	cfg->argon2_mem_kib = 19 * 1024;
	cfg->max_line = ROOST_DEFAULT_MAX_LINE;
	cfg->max_literal_preauth = ROOST_DEFAULT_MAX_LITERAL_PREAUTH;
	cfg->max_message_size = ROOST_DEFAULT_MAX_MESSAGE_SIZE;
	cfg->max_depth = ROOST_DEFAULT_MAX_DEPTH;
	cfg->max_connections = ROOST_DEFAULT_MAX_CONNECTIONS;
	cfg->max_connections_per_ip = ROOST_DEFAULT_MAX_CONNECTIONS_PER_IP;
	cfg->preauth_timeout = ROOST_DEFAULT_PREAUTH_TIMEOUT;
	cfg->idle_timeout = ROOST_DEFAULT_IDLE_TIMEOUT;
	cfg->max_auth_failures = ROOST_DEFAULT_MAX_AUTH_FAILURES;
	cfg->spool_threshold = ROOST_DEFAULT_SPOOL_THRESHOLD;
}

void config_split_list(const char *value, char ***list_r, size_t *count_r)
{
	char **list = NULL;
	size_t count = 0;
	const char *p = value;

	while (*p != '\0') {
		const char *start, *end;
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		start = p;
		while (*p != '\0' && *p != ',')
			p++;
		end = p;
		while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		list = xrealloc(list, (count + 1) * sizeof(*list));
		list[count++] = xstrndup(start, (size_t)(end - start));
	}
	*list_r = list;
	*count_r = count;
}

void config_free_list(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		free(list[i]);
	free(list);
}

static void set_str(char **dst, const char *value)
{
	free(*dst);
	*dst = xstrdup(value);
}

static int parse_bool(const char *v, bool *out)
{
	if (str_case_eq(v, "yes") || str_case_eq(v, "true") || str_case_eq(v, "on") ||
	    strcmp(v, "1") == 0) {
		*out = true;
		return 0;
	}
	if (str_case_eq(v, "no") || str_case_eq(v, "false") || str_case_eq(v, "off") ||
	    strcmp(v, "0") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

static int parse_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
	uint64_t n;
	if (str_to_u64(v, &n) < 0 || n < min || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int parse_size(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t n;
	if (str_to_size(v, &n) < 0 || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int check_listen_list(char **list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		char *host;
		int port;
		if (net_parse_hostport(list[i], &host, &port) < 0)
			return -1;
		free(host);
	}
	return 0;
}

/* Returns NULL when accepted, else the reason. */
static const char *config_set(struct roost_config *cfg, const char *section, const char *name,
                              const char *v)
{
	if (str_case_eq(section, "server")) {
		if (str_case_eq(name, "data_dir")) {
			if (*v != '/')
				return "data_dir must be an absolute path";
			set_str(&cfg->data_dir, v);
		} else if (str_case_eq(name, "user")) {
			set_str(&cfg->user, v);
		} else if (str_case_eq(name, "group")) {
			set_str(&cfg->group, v);
		} else if (str_case_eq(name, "log_level")) {
			int level = log_level_parse(v);
			if (level < 0)
				return "log_level must be error, warn, info or debug";
			cfg->log_level = level;
		} else if (str_case_eq(name, "workers")) {
			if (parse_uint(v, 1, 256, &cfg->workers) < 0)
				return "workers must be a number from 1 to 256";
		} else {
			return "unknown key in [server]";
		}
	} else if (str_case_eq(section, "imap") || str_case_eq(section, "imaps")) {
		bool tls = str_case_eq(section, "imaps");
		char ***list = tls ? &cfg->imaps_listen : &cfg->imap_listen;
		size_t *count = tls ? &cfg->imaps_listen_count : &cfg->imap_listen_count;
		if (!str_case_eq(name, "listen"))
			return tls ? "unknown key in [imaps]" : "unknown key in [imap]";
		config_free_list(*list, *count);
		config_split_list(v, list, count);
		if (check_listen_list(*list, *count) < 0)
			return "listen must be a comma-separated list of address:port";
	} else if (str_case_eq(section, "lmtp")) {
		if (!str_case_eq(name, "listen"))
			return "unknown key in [lmtp]";
		if (*v != '\0' && strncmp(v, "unix:", 5) != 0) {
			char *host;
			int port;
			if (net_parse_hostport(v, &host, &port) < 0)
				return "listen must be unix:PATH or address:port";
			free(host);
		}
		set_str(&cfg->lmtp_listen, v);
	} else if (str_case_eq(section, "tls")) {
		if (str_case_eq(name, "cert"))
			set_str(&cfg->tls_cert, v);
		else if (str_case_eq(name, "key"))
			set_str(&cfg->tls_key, v);
		else
			return "unknown key in [tls]";
	} else if (str_case_eq(section, "auth")) {
		if (str_case_eq(name, "allow_plaintext")) {
			if (parse_bool(v, &cfg->allow_plaintext) < 0)
				return "allow_plaintext must be yes or no";
		} else if (str_case_eq(name, "fail_delay_ms")) {
			if (parse_uint(v, 0, 60000, &cfg->auth_fail_delay_ms) < 0)
				return "fail_delay_ms must be a number from 0 to 60000";
		} else if (str_case_eq(name, "argon2_iterations")) {
			if (parse_uint(v, 1, 100, &cfg->argon2_ops) < 0)
				return "argon2_iterations must be from 1 to 100";
		} else if (str_case_eq(name, "argon2_memory_kib")) {
			if (parse_uint(v, 8, 4 * 1024 * 1024, &cfg->argon2_mem_kib) < 0)
				return "argon2_memory_kib must be from 8 to 4194304";
		} else {
			return "unknown key in [auth]";
		}
	} else if (str_case_eq(section, "limits")) {
		if (str_case_eq(name, "max_line")) {
			if (parse_size(v, 1024, 16ULL * 1024 * 1024, &cfg->max_line) < 0)
				return "max_line must be a size from 1K to 16M";
		} else if (str_case_eq(name, "max_literal_preauth")) {
			if (parse_size(v, 256, 1024 * 1024, &cfg->max_literal_preauth) < 0)
				return "max_literal_preauth must be a size from 256 to 1M";
		} else if (str_case_eq(name, "max_message_size")) {
			if (parse_size(v, 1024, 4ULL * 1024 * 1024 * 1024, &cfg->max_message_size) <
			    0)
				return "max_message_size must be a size from 1K to 4G";
		} else if (str_case_eq(name, "max_depth")) {
			if (parse_uint(v, 2, 1000, &cfg->max_depth) < 0)
				return "max_depth must be a number from 2 to 1000";
		} else if (str_case_eq(name, "max_connections")) {
			if (parse_uint(v, 1, 10000000, &cfg->max_connections) < 0)
				return "max_connections must be a number from 1 to 10000000";
		} else if (str_case_eq(name, "max_connections_per_ip")) {
			if (parse_uint(v, 1, 10000000, &cfg->max_connections_per_ip) < 0)
				return "max_connections_per_ip must be a number from 1 to 10000000";
		} else if (str_case_eq(name, "preauth_timeout")) {
			if (parse_uint(v, 1, 3600, &cfg->preauth_timeout) < 0)
				return "preauth_timeout must be seconds from 1 to 3600";
		} else if (str_case_eq(name, "idle_timeout")) {
			if (parse_uint(v, 1, 86400, &cfg->idle_timeout) < 0)
				return "idle_timeout must be seconds from 1 to 86400";
		} else if (str_case_eq(name, "max_auth_failures")) {
			if (parse_uint(v, 1, 100, &cfg->max_auth_failures) < 0)
				return "max_auth_failures must be a number from 1 to 100";
		} else if (str_case_eq(name, "spool_threshold")) {
			if (parse_size(v, 1024, 1024ULL * 1024 * 1024, &cfg->spool_threshold) < 0)
				return "spool_threshold must be a size from 1K to 1G";
		} else {
			return "unknown key in [limits]";
		}
	} else {
		return "unknown section";
	}
	return NULL;
}

static int config_ini_handler(void *user, const char *section, const char *name, const char *value)
{
	struct config_parse *ctx = user;
	const char *reason;

	if (name == NULL)
		return 1; /* a section header alone */
	reason = config_set(ctx->cfg, section, name, value);
	if (reason == NULL)
		return 1;
	if (ctx->error == NULL)
		ctx->error = xasprintf("%s (key \"%s\" in [%s])", reason, name, section);
	return 0;
}

int config_load(struct roost_config *cfg, const char *path, char **error_r)
{
	struct config_parse ctx = {.cfg = cfg};
	FILE *f;
	int line;

	f = fopen(path, "r");
	if (f == NULL) {
		*error_r = xasprintf("%s: cannot open: %m", path);
		return -1;
	}
	line = ini_parse_file(f, config_ini_handler, &ctx);
	fclose(f);
	if (line != 0) {
		if (line < 0)
			*error_r = xasprintf("%s: cannot read", path);
		else if (ctx.error != NULL)
			*error_r = xasprintf("%s:%d: %s", path, line, ctx.error);
		else
			*error_r = xasprintf("%s:%d: syntax error", path, line);
		free(ctx.error);
		return -1;
	}
	set_str(&cfg->path, path);
	return 0;
}

int config_check(const struct roost_config *cfg, char **error_r)
{
	const char *where = cfg->path != NULL ? cfg->path : "config";

	if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		*error_r = xasprintf("%s: [tls] cert and key must be set", where);
		return -1;
	}
	if (access(cfg->tls_cert, R_OK) < 0) {
		*error_r = xasprintf("%s: [tls] cert %s: %m", where, cfg->tls_cert);
		return -1;
	}
	if (access(cfg->tls_key, R_OK) < 0) {
		*error_r = xasprintf("%s: [tls] key %s: %m", where, cfg->tls_key);
		return -1;
	}
	return 0;
}

void config_free(struct roost_config *cfg)
{
	free(cfg->path);
	free(cfg->data_dir);
	free(cfg->user);
	free(cfg->group);
	config_free_list(cfg->imap_listen, cfg->imap_listen_count);
	config_free_list(cfg->imaps_listen, cfg->imaps_listen_count);
	free(cfg->lmtp_listen);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	memset(cfg, 0, sizeof(*cfg));
}
