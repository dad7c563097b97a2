/* Unit tests for base/: buffers, strings, sizes, addresses, the config file. */
#include "base/base.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static void test_buf_grow_and_consume(void **state)
{
	struct buf b;

	buf_init(&b);
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%04d", i);
	assert_int_equal(b.len, 4000);
	assert_memory_equal(b.data, "00000001", 8);
	buf_consume(&b, 3996);
	assert_string_equal(b.data, "0999");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	buf_shrink(&b);
	assert_null(b.data);
	buf_append(&b, "a\0b", 3);
	assert_int_equal(b.len, 3);
	assert_int_equal(b.data[3], '\0');
	buf_free(&b);
}

static void test_str_to_size(void **state)
{
	uint64_t n;

	assert_int_equal(str_to_size("10", &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(str_to_size("64K", &n), 0);
	assert_int_equal(n, 65536);
	assert_int_equal(str_to_size("10m", &n), 0);
	assert_int_equal(n, 10 * 1024 * 1024);
	assert_int_equal(str_to_size("2G", &n), 0);
	assert_int_equal(n, 2ULL * 1024 * 1024 * 1024);
	assert_int_equal(str_to_size("", &n), -1);
	assert_int_equal(str_to_size("K", &n), -1);
	assert_int_equal(str_to_size("-1", &n), -1);
	assert_int_equal(str_to_size("1.5G", &n), -1);
	assert_int_equal(str_to_size("99999999999999999999", &n), -1);
	assert_int_equal(str_to_size("99999999999999T", &n), -1);
	assert_int_equal(str_to_u64("18446744073709551615", &n), 0);
	assert_true(n == UINT64_MAX);
	assert_int_equal(str_to_u64("18446744073709551616", &n), -1);
}

static void test_hostport(void **state)
{
	char *host;
	int port;

	assert_int_equal(net_parse_hostport("127.0.0.1:143", &host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 143);
	free(host);
	assert_int_equal(net_parse_hostport("[::1]:993", &host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 993);
	free(host);
	assert_int_equal(net_parse_hostport("*:0", &host, &port), 0);
	assert_string_equal(host, "0.0.0.0");
	free(host);
	assert_int_equal(net_parse_hostport("127.0.0.1", &host, &port), -1);
	assert_int_equal(net_parse_hostport(":143", &host, &port), -1);
	assert_int_equal(net_parse_hostport("a:65536", &host, &port), -1);
	assert_int_equal(net_parse_hostport("[::1]993", &host, &port), -1);
	assert_int_equal(net_parse_hostport("x:1a", &host, &port), -1);
}

static void test_sanitize(void **state)
{
	char *s = str_sanitize("ab\r\nc\x80", 6, 100);
	assert_string_equal(s, "ab??c?");
	free(s);
	s = str_sanitize("abcdef", 6, 3);
	assert_string_equal(s, "abc...");
	free(s);
	assert_true(mem_equal_ct("abc", "abc", 3));
	assert_false(mem_equal_ct("abc", "abd", 3));
}

static char *write_config(const char *text)
{
	char *path = xstrdup("/tmp/roost-test-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static int load(const char *text, struct roost_config *cfg, char **error_r)
{
	char *path = write_config(text);
	int r;

	config_init_defaults(cfg);
	*error_r = NULL;
	r = config_load(cfg, path, error_r);
	unlink(path);
	free(path);
	return r;
}

static void test_config_full(void **state)
{
	struct roost_config cfg;
	char *error;

	assert_int_equal(load("; comment\n"
	                      "[server]\n"
	                      "data_dir = /var/lib/x\n"
	                      "user = roost\n"
	                      "group = mail\n"
	                      "log_level = debug\n"
	                      "[imap]\n"
	                      "listen = 127.0.0.1:143, [::1]:143\n"
	                      "[imaps]\n"
	                      "listen =\n"
	                      "[lmtp]\n"
	                      "listen = unix:/run/roost/lmtp\n"
	                      "[tls]\n"
	                      "cert = /etc/c.pem\n"
	                      "key = /etc/k.pem\n"
	                      "[auth]\n"
	                      "allow_plaintext = yes\n"
	                      "fail_delay_ms = 10\n"
	                      "[limits]\n"
	                      "max_line = 128K\n"
	                      "max_message_size = 10M\n"
	                      "max_connections_per_ip = 7\n"
	                      "preauth_timeout = 5\n",
	                      &cfg, &error),
	                 0);
	assert_string_equal(cfg.data_dir, "/var/lib/x");
	assert_string_equal(cfg.user, "roost");
	assert_string_equal(cfg.group, "mail");
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(cfg.imap_listen_count, 2);
	assert_string_equal(cfg.imap_listen[0], "127.0.0.1:143");
	assert_string_equal(cfg.imap_listen[1], "[::1]:143");
	assert_int_equal(cfg.imaps_listen_count, 0);
	assert_string_equal(cfg.lmtp_listen, "unix:/run/roost/lmtp");
	assert_string_equal(cfg.tls_cert, "/etc/c.pem");
	assert_true(cfg.allow_plaintext);
	assert_int_equal(cfg.auth_fail_delay_ms, 10);
	assert_int_equal(cfg.max_line, 128 * 1024);
	assert_int_equal(cfg.max_message_size, 10 * 1024 * 1024);
	assert_int_equal(cfg.max_connections_per_ip, 7);
	assert_int_equal(cfg.preauth_timeout, 5);
	/* untouched keys keep their defaults */
	assert_int_equal(cfg.idle_timeout, ROOST_DEFAULT_IDLE_TIMEOUT);
	config_free(&cfg);
}

static void expect_error(const char *text, const char *needle)
{
	struct roost_config cfg;
	char *error;

	assert_int_equal(load(text, &cfg, &error), -1);
	assert_non_null(error);
	if (strstr(error, needle) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", error, needle);
	free(error);
	config_free(&cfg);
}

static void test_config_errors(void **state)
{
	/* file and line of the first error, and why */
	expect_error("[server]\nlog_level = loud\n", ":2: log_level must be");
	expect_error("[server]\n\n\nnope = 1\n", ":4: unknown key in [server]");
	expect_error("[nosuch]\nx = 1\n", ":2: unknown section");
	expect_error("[imap]\nlisten = 127.0.0.1\n", ":2: listen must be");
	expect_error("[auth]\nallow_plaintext = maybe\n", "allow_plaintext must be yes or no");
	expect_error("[limits]\nmax_line = 10\n", "max_line must be");
	expect_error("[server]\ndata_dir = relative/path\n", "absolute");
	expect_error("[server\n", ":1: syntax error");
	expect_error("[lmtp]\nlisten = nowhere\n", "unix:PATH or address:port");
}

static void test_config_missing_file(void **state)
{
	struct roost_config cfg;
	char *error = NULL;

	config_init_defaults(&cfg);
	assert_int_equal(config_load(&cfg, "/nonexistent/roost.conf", &error), -1);
	assert_non_null(strstr(error, "/nonexistent/roost.conf"));
	free(error);
	/* a certificate that does not exist is refused by config_check */
	free(cfg.tls_cert);
	free(cfg.tls_key);
	cfg.tls_cert = xstrdup("/nonexistent/cert.pem");
	cfg.tls_key = xstrdup("/nonexistent/key.pem");
	assert_int_equal(config_check(&cfg, &error), -1);
	assert_non_null(strstr(error, "/nonexistent/cert.pem"));
	free(error);
	config_free(&cfg);
}

/* The sample etc/roost.conf documents every key: it must load as it is. */
static void test_config_sample(void **state)
{
	struct roost_config cfg;
	char *error = NULL;

	config_init_defaults(&cfg);
	if (config_load(&cfg, ROOST_SOURCE_DIR "/etc/roost.conf", &error) < 0)
		fail_msg("%s", error);
	assert_string_equal(cfg.data_dir, "/var/lib/roost");
	assert_string_equal(cfg.user, "roost");
	assert_int_equal(cfg.imap_listen_count, 1);
	assert_int_equal(cfg.imaps_listen_count, 1);
	assert_string_equal(cfg.lmtp_listen, "");
	assert_false(cfg.allow_plaintext);
	assert_int_equal(cfg.max_line, ROOST_DEFAULT_MAX_LINE);
	assert_int_equal(cfg.preauth_timeout, ROOST_DEFAULT_PREAUTH_TIMEOUT);
	assert_int_equal(cfg.idle_timeout, ROOST_DEFAULT_IDLE_TIMEOUT);
	config_free(&cfg);
}

static void test_split_list(void **state)
{
	char **list;
	size_t n;

	config_split_list(" a , b,,c ,", &list, &n);
	assert_int_equal(n, 3);
	assert_string_equal(list[0], "a");
	assert_string_equal(list[1], "b");
	assert_string_equal(list[2], "c");
	config_free_list(list, n);
	config_split_list("", &list, &n);
	assert_int_equal(n, 0);
	config_free_list(list, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_buf_grow_and_consume),
	    cmocka_unit_test(test_str_to_size),
	    cmocka_unit_test(test_hostport),
	    cmocka_unit_test(test_sanitize),
	    cmocka_unit_test(test_config_full),
	    cmocka_unit_test(test_config_errors),
	    cmocka_unit_test(test_config_missing_file),
	    cmocka_unit_test(test_config_sample),
	    cmocka_unit_test(test_split_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
