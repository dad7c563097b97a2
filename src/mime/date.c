/* RFC 5322 3.3 dates, with the obsolete forms of 4.3 (two- and three-digit
 * years, zone names, military zones, missing seconds) and comments. */
#include "mime/mime_private.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const months[12] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec"};

static const struct {
	const char *name;
	int minutes;
} zones[] = {
    {"UT", 0},        {"UTC", 0},       {"GMT", 0},       {"Z", 0},
    {"EST", -5 * 60}, {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},
    {"MST", -7 * 60}, {"MDT", -6 * 60}, {"PST", -8 * 60}, {"PDT", -7 * 60},
};

struct dscan {
	const unsigned char *p, *end;
};

static void skip(struct dscan *d)
{
	struct mime_lex lx = {d->p, d->end};

	mime_lex_skip_cfws(&lx);
	d->p = lx.p;
}

/* up to max digits; -1 if none */
static long number(struct dscan *d, unsigned max, unsigned *ndigits)
{
	long n = 0;
	unsigned k = 0;

	skip(d);
	while (d->p < d->end && isdigit(*d->p) && k < max) {
		n = n * 10 + (*d->p++ - '0');
		k++;
	}
	if (ndigits != NULL)
		*ndigits = k;
	return k == 0 ? -1 : n;
}

static size_t word(struct dscan *d, char *w, size_t size)
{
	size_t n = 0;

	skip(d);
	while (d->p < d->end && isalpha(*d->p)) {
		if (n + 1 < size)
			w[n++] = (char)*d->p;
		d->p++;
	}
	w[n] = '\0';
	return n;
}

/* days since 1970-01-01 of a civil date (Howard Hinnant's algorithm) */
static long days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (long)doe - 719468;
}

int mime_date_parse(const char *s, size_t len, time_t *time_r, int *tz_r)
{
	struct dscan d = {(const unsigned char *)s, (const unsigned char *)s + len};
	char w[16];
	long day, year, hour, min, sec = 0;
	int month = -1, tz = 0;
	unsigned nd;

	/* [day-of-week ","] */
	const unsigned char *save = d.p;

	if (word(&d, w, sizeof(w)) > 0) {
		skip(&d);
		if (d.p < d.end && *d.p == ',')
			d.p++;
	} else {
		d.p = save;
	}
	day = number(&d, 2, NULL);
	if (day < 1 || day > 31)
		return -1;
	skip(&d);
	if (d.p < d.end && *d.p == '-')
		d.p++; /* "1-Jan-2024" */
	if (word(&d, w, sizeof(w)) < 3)
		return -1;
	for (int i = 0; i < 12; i++) {
		if (strncasecmp(w, months[i], 3) == 0)
			month = i;
	}
	if (month < 0)
		return -1;
	skip(&d);
	if (d.p < d.end && *d.p == '-')
		d.p++;
	year = number(&d, 4, &nd);
	if (year < 0)
		return -1;
	if (nd == 2)
		year += year < 50 ? 2000 : 1900; /* RFC 5322 4.3 */
	else if (nd == 3)
		year += 1900;
	hour = number(&d, 2, NULL);
	skip(&d);
	if (hour < 0 || hour > 23 || d.p >= d.end || *d.p != ':')
		return -1;
	d.p++;
	min = number(&d, 2, NULL);
	if (min < 0 || min > 59)
		return -1;
	skip(&d);
	if (d.p < d.end && *d.p == ':') {
		d.p++;
		sec = number(&d, 2, NULL);
		if (sec < 0 || sec > 60)
			return -1;
	}
	skip(&d);
	if (d.p < d.end && (*d.p == '+' || *d.p == '-')) {
		int sign = *d.p++ == '-' ? -1 : 1;
		long z = number(&d, 4, &nd);

		if (z >= 0 && nd == 4 && z % 100 < 60)
			tz = sign * (int)(z / 100 * 60 + z % 100);
	} else if (word(&d, w, sizeof(w)) > 0) {
		for (size_t i = 0; i < ARRAY_SIZE(zones); i++) {
			if (strcasecmp(w, zones[i].name) == 0)
				tz = zones[i].minutes;
		}
		/* other military zones: RFC 5322 4.3 says treat as 0 */
	}
	long days = days_from_civil(year, (unsigned)month + 1, (unsigned)day);

	*time_r = (time_t)(days * 86400 + hour * 3600 + min * 60 + sec) - (time_t)tz * 60;
	*tz_r = tz;
	return 0;
}
