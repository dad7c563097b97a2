/* Logging: one line per event on stderr, with time and level. */
#include "base.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level current_level = LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *name)
{
	if (str_case_eq(name, "warning"))
		return LOG_WARN;
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (str_case_eq(name, level_names[i]))
			return (int)i;
	}
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[2048];
	char stamp[32];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n;

	if (level > current_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "%s.%03ldZ roost[%s]: ", stamp, ts.tv_nsec / 1000000,
	             level_names[level]);
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(line))
		vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one fputs under the stream lock: lines from threads never interleave */
	flockfile(stderr);
	fputs(line, stderr);
	fputc('\n', stderr);
	funlockfile(stderr);
}
