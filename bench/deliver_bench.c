/*
 * deliver_bench: store_append() throughput, in messages/s and MB/s, with 1
 * and 8 writer threads (or the counts given with -t), on a deterministic,
 * realistic mix of message sizes:
 *
 *   70%   2 KB .. 10 KB   (log-uniform within the band)
 *   25%  10 KB .. 100 KB
 *    5% 100 KB .. 2 MB
 *
 * Each message has ordinary headers and LF line ends (so the store's CRLF
 * normalization and hashing run as for real deliveries); every message is
 * distinct (no blob sharing). Each run uses a fresh data dir under -d (a
 * temp dir; removed afterwards unless -k), with the store's normal
 * durability: every acknowledged append is fsync'ed (blob, directory, WAL).
 * The messages are generated in memory before the clock starts; each thread
 * appends its share one message per store_append() call, as concurrent
 * deliveries and APPENDs do, and the store's group commit batches them.
 *
 * Not a test: bench/README.md says how to build and run it.
 *
 *   deliver_bench [-n MESSAGES] [-t THREADS[,THREADS...]] [-s SEED] [-d DIR] [-k]
 */
#include "store/store.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct msg {
	char *data;
	size_t size;
};

struct run {
	struct store_account *acct;
	int64_t mailbox_id;
	struct msg *msgs;
	size_t count;
	unsigned threads;
	unsigned next; /* the next message to take (atomic) */
	unsigned failures;
};

/* ---- deterministic generator (xorshift64*) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static double rng_unit(void)
{
	return (double)(rng_next() >> 11) / (double)(1ULL << 53);
}

static size_t log_uniform(double lo, double hi)
{
	return (size_t)(lo * pow(hi / lo, rng_unit()));
}

static size_t pick_size(void)
{
	double r = rng_unit();

	if (r < 0.70)
		return log_uniform(2e3, 10e3);
	if (r < 0.95)
		return log_uniform(10e3, 100e3);
	return log_uniform(100e3, 2e6);
}

static const char *const words[] = {
    "the",     "of",      "and",      "to",       "in",     "is",       "it",       "you",
    "that",    "was",     "for",      "on",       "are",    "with",     "as",       "they",
    "meeting", "invoice", "report",   "budget",   "review", "deadline", "attached", "please",
    "regards", "thanks",  "tomorrow", "schedule", "draft",  "project",  "customer", "update",
};

static void gen_message(struct msg *m, unsigned index)
{
	size_t target = pick_size();
	size_t cap = target + 1024, len = 0;
	char *p = malloc(cap);

	if (p == NULL)
		abort();
	len += (size_t)snprintf(p + len, cap - len,
	                        "Return-Path: <sender%u@example.org>\n"
	                        "Received: from mx.example.org (mx.example.org [192.0.2.1])\n"
	                        "\tby mail.example.net with ESMTPS id %016" PRIx64 ";\n"
	                        "\tSun, 22 Nov 2026 10:00:00 +0000\n"
	                        "From: Sender %u <sender%u@example.org>\n"
	                        "To: Alice <alice@example.net>\n"
	                        "Subject: benchmark message %u\n"
	                        "Date: Sun, 22 Nov 2026 10:00:00 +0000\n"
	                        "Message-ID: <%u.%016" PRIx64 "@example.org>\n"
	                        "MIME-Version: 1.0\n"
	                        "Content-Type: text/plain; charset=utf-8\n"
	                        "\n",
	                        index % 97, rng_next(), index % 97, index % 97, index, index,
	                        rng_next());
	while (len < target) {
		size_t line_words = 3 + rng_next() % 12;
		for (size_t w = 0; w < line_words && len + 16 < cap; w++) {
			const char *word = words[rng_next() % (sizeof(words) / sizeof(words[0]))];
			size_t wl = strlen(word);
			if (w > 0)
				p[len++] = ' ';
			memcpy(p + len, word, wl);
			len += wl;
		}
		if (len + 1 < cap)
			p[len++] = '\n';
	}
	m->data = p;
	m->size = len;
}

/* ---- the run ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *writer(void *arg)
{
	struct run *run = arg;
	struct store_error err;

	for (;;) {
		unsigned i = __atomic_fetch_add(&run->next, 1, __ATOMIC_RELAXED);
		struct store_append_msg am;
		uint32_t uid;

		if (i >= run->count)
			break;
		memset(&am, 0, sizeof(am));
		am.fd = -1;
		am.data = run->msgs[i].data;
		am.size = run->msgs[i].size;
		if (store_append(run->acct, run->mailbox_id, &am, 1, &uid, &err) < 0) {
			fprintf(stderr, "store_append: %s\n", err.text);
			__atomic_fetch_add(&run->failures, 1, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int run_once(const char *base, bool keep, struct msg *msgs, size_t count, unsigned threads,
                    uint64_t total_bytes)
{
	char dir[4096];
	struct store *store = NULL;
	struct store_account *acct = NULL;
	struct store_mailbox_status st;
	struct store_stats stats;
	struct store_error err;
	struct run run;
	pthread_t *tids;
	double t0, t1;

	snprintf(dir, sizeof(dir), "%s/deliver-bench-XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (store_open(dir, NULL, &store, &err) < 0 ||
	    store_account_open(store, 1, &acct, &err) < 0 ||
	    store_mailbox_status(acct, "INBOX", &st, &err) < 0) {
		fprintf(stderr, "store: %s\n", err.text);
		return -1;
	}
	memset(&run, 0, sizeof(run));
	run.acct = acct;
	run.mailbox_id = st.id;
	run.msgs = msgs;
	run.count = count;
	run.threads = threads;
	tids = calloc(threads, sizeof(*tids));

	t0 = now_s();
	for (unsigned i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, writer, &run);
	for (unsigned i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	t1 = now_s();

	store_account_stats(acct, &stats);
	printf("threads=%-2u messages=%zu MB=%.1f seconds=%.2f msgs/s=%.0f MB/s=%.1f "
	       "commits=%" PRIu64 " (%.1f appends/commit) failures=%u\n",
	       threads, count, (double)total_bytes / 1e6, t1 - t0, (double)count / (t1 - t0),
	       (double)total_bytes / 1e6 / (t1 - t0), stats.commits,
	       stats.commits ? (double)stats.operations / (double)stats.commits : 0.0,
	       run.failures);
	fflush(stdout);
	free(tids);
	store_account_close(&acct);
	store_close(&store);
	if (!keep)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("  data dir kept: %s\n", dir);
	return run.failures ? -1 : 0;
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	const char *thread_list = "1,8";
	size_t count = 2000;
	uint64_t seed = 20261122, total = 0;
	size_t bands[3] = {0, 0, 0};
	bool keep = false;
	struct msg *msgs;
	int opt, ret = 0;

	while ((opt = getopt(argc, argv, "n:t:s:d:k")) != -1) {
		switch (opt) {
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 't':
			thread_list = optarg;
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 'd':
			base = optarg;
			break;
		case 'k':
			keep = true;
			break;
		default:
			fprintf(stderr,
			        "usage: deliver_bench [-n MESSAGES] [-t THREADS[,THREADS...]] "
			        "[-s SEED] [-d DIR] [-k]\n");
			return 2;
		}
	}
	if (count == 0)
		return 2;
	rng_state = seed ? seed : 1;
	msgs = calloc(count, sizeof(*msgs));
	for (size_t i = 0; i < count; i++) {
		gen_message(&msgs[i], (unsigned)i);
		total += msgs[i].size;
		bands[msgs[i].size < 10000 ? 0 : msgs[i].size < 100000 ? 1 : 2]++;
	}
	printf("deliver_bench: %zu messages, %.1f MB (mean %.1f KB; %zu under 10 KB, %zu 10-100 KB,"
	       " %zu over 100 KB), seed %" PRIu64 ", data dirs under %s, fsync on\n",
	       count, (double)total / 1e6, (double)total / 1e3 / (double)count, bands[0], bands[1],
	       bands[2], seed, base);
	for (const char *p = thread_list; *p != '\0';) {
		char *end;
		unsigned long t = strtoul(p, &end, 10);
		if (end == p || t == 0 || t > 1024) {
			fprintf(stderr, "bad thread count in %s\n", thread_list);
			return 2;
		}
		if (run_once(base, keep, msgs, count, (unsigned)t, total) < 0)
			ret = 1;
		p = *end == ',' ? end + 1 : end;
	}
	for (size_t i = 0; i < count; i++)
		free(msgs[i].data);
	free(msgs);
	return ret;
}
