/* Unit tests for store/: concurrent writers (group commit), readers during
 * writes, two stores on one data directory (as two processes would be),
 * and change notification (hub, control socket). */
#include "store_test_util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/un.h>

#define THREADS 8
#define PER_THREAD 25

struct writer {
	struct fixture *f;
	struct store_account *acct;
	int64_t mailbox_id;
	int index;
	uint32_t uids[PER_THREAD];
	int failures;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		char *text = xasprintf("Subject: t%d m%d\r\n\r\nbody\r\n", w->index, i);
		struct store_append_msg msg = {.data = text, .fd = -1, .size = strlen(text)};
		struct store_error err;
		if (store_append(w->acct, w->mailbox_id, &msg, 1, &w->uids[i], &err) < 0)
			w->failures++;
		free(text);
	}
	return NULL;
}

static int uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void check_unique(struct writer *w, size_t nw, uint32_t total)
{
	uint32_t *all = xcalloc(nw * PER_THREAD, sizeof(*all));
	size_t n = 0;

	for (size_t t = 0; t < nw; t++) {
		assert_int_equal(w[t].failures, 0);
		for (int i = 0; i < PER_THREAD; i++) {
			/* each writer sees its own UIDs ascending */
			if (i > 0)
				assert_true(w[t].uids[i] > w[t].uids[i - 1]);
			all[n++] = w[t].uids[i];
		}
	}
	qsort(all, n, sizeof(*all), uid_cmp);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(all[i], i + 1); /* unique and without gaps */
	assert_int_equal(n, total);
	free(all);
}

static void test_concurrent_appends(void **state)
{
	struct fixture *f = *state;
	struct writer w[THREADS];
	pthread_t th[THREADS];
	struct store_stats before, after;
	struct store_message_list list;
	int64_t inbox = mbox_id(f, "INBOX");

	store_account_stats(f->acct, &before);
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct writer){.f = f, .mailbox_id = inbox, .index = t};
		/* every session opens the account: they share one handle */
		assert_int_equal(store_account_open(f->store, TEST_ACCOUNT, &w[t].acct, &f->err),
		                 0);
		assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		store_account_close(&w[t].acct);
	}
	store_account_stats(f->acct, &after);
	check_unique(w, THREADS, THREADS * PER_THREAD);

	assert_int_equal(store_message_list(f->acct, inbox, &list, &f->err), 0);
	assert_int_equal(list.count, THREADS * PER_THREAD);
	store_message_list_free(&list);
	assert_int_equal(mbox(f, "INBOX").messages, THREADS * PER_THREAD);
	assert_int_equal(mbox(f, "INBOX").uidnext, THREADS * PER_THREAD + 1);

	/* group commit: every append was carried, by fewer commits */
	assert_int_equal(after.operations - before.operations, THREADS * PER_THREAD);
	print_message("%d appends in %llu commits\n", THREADS * PER_THREAD,
	              (unsigned long long)(after.commits - before.commits));
	assert_true(after.commits - before.commits < THREADS * PER_THREAD);
}

/* A failing job (mailbox gone) rolls back alone: the jobs committed in the
 * same batch are not affected. */
static void test_batch_isolation(void **state)
{
	struct fixture *f = *state;
	struct writer w[THREADS];
	pthread_t th[THREADS];
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_stats before, after;

	store_account_stats(f->acct, &before);
	for (int t = 0; t < THREADS; t++) {
		w[t] = (struct writer){
		    .f = f, .acct = f->acct, .mailbox_id = t % 2 ? 999999 : inbox, .index = t};
		assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int t = 0; t < THREADS; t++) {
		if (t % 2) {
			assert_int_equal(w[t].failures, PER_THREAD);
		} else {
			assert_int_equal(w[t].failures, 0);
		}
	}
	store_account_stats(f->acct, &after);
	assert_int_equal(after.operations - before.operations, THREADS / 2 * PER_THREAD);
	assert_int_equal(mbox(f, "INBOX").messages, THREADS / 2 * PER_THREAD);
	assert_int_equal(mbox(f, "INBOX").uidnext, THREADS / 2 * PER_THREAD + 1);
	/* no file of a failed append stays behind */
	assert_int_equal(count_blob_files(f), THREADS / 2 * PER_THREAD);
}

struct reader {
	struct fixture *f;
	int64_t mailbox_id;
	atomic_bool *stop;
	int lists;
	int errors;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	size_t last = 0;

	while (!atomic_load(r->stop)) {
		struct store_message_list list;
		struct store_error err;
		if (store_message_list(r->f->acct, r->mailbox_id, &list, &err) < 0) {
			r->errors++;
			continue;
		}
		/* a reader only ever sees whole commits, growing */
		if (list.count < last)
			r->errors++;
		for (size_t i = 0; i < list.count; i++) {
			if (list.uids[i] != i + 1)
				r->errors++;
		}
		last = list.count;
		store_message_list_free(&list);
		r->lists++;
		usleep(2000); /* leave the writers room (valgrind runs one thread at a time) */
	}
	return NULL;
}

static void test_readers_during_writes(void **state)
{
	struct fixture *f = *state;
	struct writer w[4];
	pthread_t wt[4], rt[2];
	struct reader r[2];
	atomic_bool stop = false;
	int64_t inbox = mbox_id(f, "INBOX");

	for (int i = 0; i < 2; i++) {
		r[i] = (struct reader){.f = f, .mailbox_id = inbox, .stop = &stop};
		assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &r[i]), 0);
	}
	for (int t = 0; t < 4; t++) {
		w[t] = (struct writer){.f = f, .acct = f->acct, .mailbox_id = inbox, .index = t};
		assert_int_equal(pthread_create(&wt[t], NULL, writer_main, &w[t]), 0);
	}
	for (int t = 0; t < 4; t++)
		pthread_join(wt[t], NULL);
	atomic_store(&stop, true);
	for (int i = 0; i < 2; i++) {
		pthread_join(rt[i], NULL);
		assert_int_equal(r[i].errors, 0);
		assert_true(r[i].lists > 0);
	}
	check_unique(w, 4, 4 * PER_THREAD);
}

/* Two stores on one data directory behave like two processes (roost serve
 * and roost deliver): SQLite's file locks serialize their commits. */
static void test_two_stores(void **state)
{
	struct fixture *f = *state;
	struct store *other;
	struct writer w[4];
	pthread_t th[4];
	int64_t inbox = mbox_id(f, "INBOX");

	assert_int_equal(store_open(f->data_dir, NULL, &other, &f->err), 0);
	for (int t = 0; t < 4; t++) {
		w[t] = (struct writer){.f = f, .mailbox_id = inbox, .index = t};
		assert_int_equal(
		    store_account_open(t % 2 ? other : f->store, TEST_ACCOUNT, &w[t].acct, &f->err),
		    0);
		assert_int_equal(pthread_create(&th[t], NULL, writer_main, &w[t]), 0);
	}
	for (int t = 0; t < 4; t++) {
		pthread_join(th[t], NULL);
		store_account_close(&w[t].acct);
	}
	store_close(&other);
	check_unique(w, 4, 4 * PER_THREAD);
	assert_int_equal(mbox(f, "INBOX").messages, 4 * PER_THREAD);
}

/* ---- notification ---- */

struct seen {
	pthread_mutex_t lock;
	struct store_change last;
	int calls;
};

static void on_change(const struct store_change *change, void *ctx)
{
	struct seen *s = ctx;

	pthread_mutex_lock(&s->lock);
	s->last = *change;
	s->calls++;
	pthread_mutex_unlock(&s->lock);
}

static void test_hub(void **state)
{
	struct fixture *f = *state;
	struct seen all = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct seen inbox_only = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct seen other_account = {.lock = PTHREAD_MUTEX_INITIALIZER};
	int64_t inbox = mbox_id(f, "INBOX"), sent = mbox_id(f, "Sent");
	struct store_subscription *s1, *s2, *s3;
	struct store_flags_update seen_flag = {.mode = STORE_FLAGS_ADD, .flags = STORE_FLAG_SEEN};
	uint32_t uid;

	s1 = store_subscribe(f->store, TEST_ACCOUNT, 0, on_change, &all);
	s2 = store_subscribe(f->store, TEST_ACCOUNT, inbox, on_change, &inbox_only);
	s3 = store_subscribe(f->store, TEST_ACCOUNT + 1, 0, on_change, &other_account);

	uid = append_text(f, inbox, "x\r\n", 0);
	assert_int_equal(all.calls, 1);
	assert_int_equal(inbox_only.calls, 1);
	assert_int_equal(all.last.account_id, TEST_ACCOUNT);
	assert_int_equal(all.last.mailbox_id, inbox);
	assert_int_equal(all.last.kinds, STORE_CHANGE_APPEND);
	assert_int_equal(all.last.uidnext, uid + 1);
	assert_int_equal(all.last.changes, mbox(f, "INBOX").changes);
	assert_int_equal(all.last.highestmodseq, mbox(f, "INBOX").highestmodseq);

	append_text(f, sent, "y\r\n", 0);
	assert_int_equal(all.calls, 2);
	assert_int_equal(all.last.mailbox_id, sent);
	assert_int_equal(inbox_only.calls, 1);

	assert_int_equal(store_flags(f->acct, inbox, &uid, 1, &seen_flag, NULL, NULL, &f->err), 0);
	assert_int_equal(inbox_only.calls, 2);
	assert_int_equal(inbox_only.last.kinds, STORE_CHANGE_FLAGS);

	assert_int_equal(store_mailbox_create(f->acct, "New", 0, &f->err), 0);
	assert_int_equal(all.last.kinds, STORE_CHANGE_MAILBOX);
	assert_int_equal(all.last.mailbox_id, mbox_id(f, "New"));

	/* a failed operation publishes nothing */
	int calls = all.calls;
	assert_int_equal(store_mailbox_create(f->acct, "New", 0, &f->err), -1);
	assert_int_equal(all.calls, calls);

	store_unsubscribe(&s2);
	assert_null(s2);
	append_text(f, inbox, "z\r\n", 0);
	assert_int_equal(inbox_only.calls, 2);
	assert_int_equal(other_account.calls, 0);
	store_unsubscribe(&s1);
	store_unsubscribe(&s3);
}

static void test_notify_external(void **state)
{
	struct fixture *f = *state;
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct store_subscription *sub;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	char *path = store_control_socket_path(f->data_dir);
	char buf[256];
	ssize_t n;
	int fd;

	/* nobody listens: best effort fails quietly */
	assert_int_equal(store_notify_external(f->data_dir, TEST_ACCOUNT, 3), -1);

	/* the server's side: a datagram socket whose input goes to the hub */
	fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	strcpy(sun.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	sub = store_subscribe(f->store, TEST_ACCOUNT, 3, on_change, &s);

	assert_int_equal(store_notify_external(f->data_dir, TEST_ACCOUNT, 3), 0);
	n = recv(fd, buf, sizeof(buf), 0);
	assert_true(n > 0);
	assert_int_equal(store_notify_feed(f->store, buf, (size_t)n), 0);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.last.account_id, TEST_ACCOUNT);
	assert_int_equal(s.last.mailbox_id, 3);
	assert_int_equal(s.last.kinds, STORE_CHANGE_EXTERNAL);

	/* garbage is refused */
	assert_int_equal(store_notify_feed(f->store, "hello", 5), -1);
	assert_int_equal(store_notify_feed(f->store, "roost-changed 7", 15), -1);
	assert_int_equal(store_notify_feed(f->store, "roost-changed 7 x\n", 18), -1);
	assert_int_equal(store_notify_feed(f->store, "roost-changed 0 1\n", 18), -1);
	assert_int_equal(store_notify_feed(f->store, "roost-changed 99999999999999999999 1", 36),
	                 -1);
	assert_int_equal(s.calls, 1);

	store_unsubscribe(&sub);
	close(fd);
	unlink(path);
	free(path);
}

/* The timer fallback: changes made by another process (here: a second
 * store on the same data dir) whose notice never came are found by
 * store_recheck, once, and changes published here need no recheck. */
static void test_recheck(void **state)
{
	struct fixture *f = *state;
	struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
	int64_t inbox = mbox_id(f, "INBOX");
	struct store_subscription *sub;
	struct store_account *other_acct = NULL;
	struct store *other = NULL;
	struct store_append_msg msg = {.data = "from afar\r\n", .fd = -1, .size = 11};
	unsigned published = 99;
	uint32_t uid;

	sub = store_subscribe(f->store, TEST_ACCOUNT, inbox, on_change, &s);
	store_subscription_known(sub, mbox(f, "INBOX").changes);
	assert_int_equal(store_recheck(f->store, &published), 0);
	assert_int_equal(published, 0);
	assert_int_equal(s.calls, 0);

	assert_int_equal(store_open(f->data_dir, NULL, &other, &f->err), 0);
	assert_int_equal(store_account_open(other, TEST_ACCOUNT, &other_acct, &f->err), 0);
	assert_int_equal(store_append(other_acct, inbox, &msg, 1, &uid, &f->err), 0);
	assert_int_equal(s.calls, 0); /* another process: our hub heard nothing */

	assert_int_equal(store_recheck(f->store, &published), 0);
	assert_int_equal(published, 1);
	assert_int_equal(s.calls, 1);
	assert_int_equal(s.last.kinds, STORE_CHANGE_EXTERNAL);
	assert_int_equal(s.last.mailbox_id, inbox);
	assert_int_equal(s.last.changes, mbox(f, "INBOX").changes);
	/* only once */
	assert_int_equal(store_recheck(f->store, &published), 0);
	assert_int_equal(published, 0);
	assert_int_equal(s.calls, 1);

	/* a change made here reaches the watcher directly and moves what it
	 * knows: the recheck finds nothing new */
	append_text(f, inbox, "local\r\n", 0);
	assert_int_equal(s.calls, 2);
	assert_int_equal(store_recheck(f->store, &published), 0);
	assert_int_equal(published, 0);

	store_account_close(&other_acct);
	store_close(&other);
	store_unsubscribe(&sub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_concurrent_appends, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_recheck, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_batch_isolation, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_readers_during_writes, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_two_stores, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_hub, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_notify_external, store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
