/* Small string helpers. */
#include "base.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

bool str_case_eq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

bool str_case_prefix(const char *s, const char *prefix)
{
	return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

int str_to_u64(const char *s, uint64_t *num_r)
{
	uint64_t n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		unsigned d = (unsigned)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*num_r = n;
	return 0;
}

int str_to_size(const char *s, uint64_t *size_r)
{
	size_t len = strlen(s);
	uint64_t mult = 1, n;
	char digits[32];

	if (len == 0 || len >= sizeof(digits))
		return -1;
	switch (toupper((unsigned char)s[len - 1])) {
	case 'K':
		mult = 1024ULL;
		len--;
		break;
	case 'M':
		mult = 1024ULL * 1024;
		len--;
		break;
	case 'G':
		mult = 1024ULL * 1024 * 1024;
		len--;
		break;
	case 'T':
		mult = 1024ULL * 1024 * 1024 * 1024;
		len--;
		break;
	default:
		break;
	}
	memcpy(digits, s, len);
	digits[len] = '\0';
	if (str_to_u64(digits, &n) < 0 || n > UINT64_MAX / mult)
		return -1;
	*size_r = n * mult;
	return 0;
}

bool mem_equal_ct(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *pa = a, *pb = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= pa[i] ^ pb[i];
	return diff == 0;
}

char *str_sanitize(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max;
	char *out = xmalloc(n + 4);
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (len > max) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
	return out;
}

int net_parse_hostport(const char *s, char **host_r, int *port_r)
{
	const char *colon;
	const char *host_start = s, *host_end;
	uint64_t port;

	if (*s == '[') {
		host_end = strchr(s, ']');
		if (host_end == NULL || host_end[1] != ':')
			return -1;
		host_start = s + 1;
		colon = host_end + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		host_end = colon;
	}
	if (str_to_u64(colon + 1, &port) < 0 || port > 65535)
		return -1;
	if (host_end == host_start)
		return -1;
	*host_r = xstrndup(host_start, (size_t)(host_end - host_start));
	if (strcmp(*host_r, "*") == 0) {
		free(*host_r);
		*host_r = xstrdup("0.0.0.0");
	}
	*port_r = (int)port;
	return 0;
}

uint64_t time_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}
