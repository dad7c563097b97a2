/*
 * base/ — the bottom layer every other folder stands on: memory helpers that
 * never return NULL, a growable byte buffer, logging to stderr, the INI
 * configuration (inih) and small string helpers. Nothing here knows about
 * IMAP, sockets or storage.
 */
#ifndef ROOST_BASE_H
#define ROOST_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROOST_VERSION "0.1.0"

#if defined(__GNUC__)
#define ROOST_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define ROOST_NORETURN __attribute__((noreturn))
#else
#define ROOST_PRINTF(f, a)
#define ROOST_NORETURN
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- memory: abort on exhaustion, so callers never test for NULL ---- */

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) ROOST_PRINTF(1, 2);
ROOST_NORETURN void fatal(const char *fmt, ...) ROOST_PRINTF(1, 2);

/* ---- buf: a growable byte buffer, always NUL-terminated past len ---- */

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_append_str(struct buf *b, const char *s);
void buf_append_byte(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) ROOST_PRINTF(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) ROOST_PRINTF(2, 0);
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Give back the memory of an empty buffer (idle connections hold none). */
void buf_shrink(struct buf *b);

/* ---- logging: one line per event on stderr ---- */

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* "error", "warn"/"warning", "info", "debug" -> level; -1 if unknown. */
int log_level_parse(const char *name);
void log_msg(enum log_level level, const char *fmt, ...) ROOST_PRINTF(2, 3);
#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* ---- strings ---- */

bool str_case_eq(const char *a, const char *b);
bool str_case_prefix(const char *s, const char *prefix);
/* Parse a decimal unsigned number that must fill the whole string. */
int str_to_u64(const char *s, uint64_t *num_r);
/* Parse "10", "64K", "10M", "2G" (powers of 1024). */
int str_to_size(const char *s, uint64_t *size_r);
/* Constant-time comparison of two equally long buffers. */
bool mem_equal_ct(const void *a, const void *b, size_t len);
/* Copy at most len bytes of s, replacing control bytes and non-ASCII with '?',
 * for safe logging of client-supplied text. */
char *str_sanitize(const char *s, size_t len, size_t max);

/* ---- configuration: the INI file (inih) ---- */

/* Default limits; each can be changed in [limits]. docs/limits.md lists them. */
#define ROOST_DEFAULT_MAX_LINE (64 * 1024)
#define ROOST_DEFAULT_MAX_LITERAL_PREAUTH (8 * 1024)
#define ROOST_DEFAULT_MAX_MESSAGE_SIZE (64ULL * 1024 * 1024)
#define ROOST_DEFAULT_MAX_DEPTH 64
#define ROOST_DEFAULT_MAX_CONNECTIONS 100000
#define ROOST_DEFAULT_MAX_CONNECTIONS_PER_IP 1000
#define ROOST_DEFAULT_PREAUTH_TIMEOUT 60
#define ROOST_DEFAULT_IDLE_TIMEOUT (30 * 60)
#define ROOST_DEFAULT_MAX_AUTH_FAILURES 3
#define ROOST_DEFAULT_AUTH_FAIL_DELAY_MS 2000
#define ROOST_DEFAULT_SPOOL_THRESHOLD (256 * 1024)
#define ROOST_DEFAULT_WORKERS 4

struct roost_config {
	char *path; /* the file it was read from */

	/* [server] */
	char *data_dir;
	char *user;  /* drop to this account after binding; empty: no drop */
	char *group; /* and this group; empty: the user's primary group */
	int log_level;
	unsigned workers; /* worker threads that run commands */

	/* [imap] listen, [imaps] listen: "address:port" each, IPv6 as [addr]:port */
	char **imap_listen;
	size_t imap_listen_count;
	char **imaps_listen;
	size_t imaps_listen_count;

	/* [lmtp] listen: "unix:PATH" or "address:port"; empty: off */
	char *lmtp_listen;

	/* [tls] */
	char *tls_cert;
	char *tls_key;

	/* [auth] */
	bool allow_plaintext;
	unsigned auth_fail_delay_ms;
	unsigned argon2_ops;     /* argon2id iterations for new hashes */
	unsigned argon2_mem_kib; /* argon2id memory for new hashes */

	/* [limits] */
	uint64_t max_line;
	uint64_t max_literal_preauth;
	uint64_t max_message_size;
	unsigned max_depth;
	unsigned max_connections;
	unsigned max_connections_per_ip;
	unsigned preauth_timeout;
	unsigned idle_timeout;
	unsigned max_auth_failures;
	uint64_t spool_threshold;
};

#define ROOST_DEFAULT_CONFIG "/etc/roost/roost.conf"

void config_init_defaults(struct roost_config *cfg);
/* Read FILE over the defaults. On error returns -1 with "FILE:LINE: reason"
 * in *error_r (allocated; the caller frees it). */
int config_load(struct roost_config *cfg, const char *path, char **error_r);
/* Checks that need the file system (certificate readable, ...). */
int config_check(const struct roost_config *cfg, char **error_r);
void config_free(struct roost_config *cfg);
/* Split "a, b,c" into a list (empty value: empty list). */
void config_split_list(const char *value, char ***list_r, size_t *count_r);
void config_free_list(char **list, size_t count);

/* Parse "host:port" or "[v6]:port" into host (allocated) and port. */
int net_parse_hostport(const char *s, char **host_r, int *port_r);

/* ---- process identity ---- */

#include <sys/types.h>
/* The ids of [server] user and group (group empty: the user's primary
 * group). 0 found, 1 no user configured, -1 error. */
int proc_lookup_user(const char *user, const char *group, uid_t *uid_r, gid_t *gid_r,
                     char **error_r);
/* Become uid/gid for good (supplementary groups too); -1 on failure. */
int proc_set_ids(uid_t uid, gid_t gid, char **error_r);

/* ---- time ---- */
uint64_t time_now_ms(void);

#endif
