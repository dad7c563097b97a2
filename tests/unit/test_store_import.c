/* Unit tests for store/'s import support (roost import): appending with the
 * source's UIDs, setting UIDVALIDITY and raising UIDNEXT
 * (store_mailbox_import_uids), and skipping messages the mailbox holds
 * already (store_append_msg.copy_number). */
#include "store_test_util.h"

static const char msg_a[] = "From: a@example.com\r\nSubject: A\r\n\r\nbody a\r\n";
static const char msg_b[] = "From: b@example.com\r\nSubject: B\r\n\r\nbody b\r\n";
static const char msg_b_lf[] = "From: b@example.com\nSubject: B\n\nbody b\n";

static struct store_append_msg text_msg(const char *text, uint32_t uid, uint32_t copy_number)
{
	return (struct store_append_msg){
	    .data = text, .fd = -1, .size = strlen(text), .uid = uid, .copy_number = copy_number};
}

/* Append one message; returns its UID (0: skipped as a copy). */
static uint32_t append_import(struct fixture *f, int64_t mailbox_id, const char *text, uint32_t uid,
                              uint32_t copy_number)
{
	struct store_append_msg msg = text_msg(text, uid, copy_number);
	uint32_t got = 99;

	if (store_append(f->acct, mailbox_id, &msg, 1, &got, &f->err) < 0)
		fail_msg("append: %s", f->err.text);
	return got;
}

static void test_import_keeps_uids(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status st;
	struct store_append_msg msgs[4];
	uint32_t uids[4];
	int64_t id;

	assert_int_equal(store_mailbox_create(f->acct, "Imported/Sub", 0, &f->err), 0);
	id = mbox_id(f, "Imported/Sub");
	assert_int_equal(store_mailbox_import_uids(f->acct, id, 12345, 0, &f->err), 0);
	st = mbox(f, "Imported/Sub");
	assert_int_equal(st.uidvalidity, 12345);
	assert_int_equal(st.uidnext, 1);

	/* 150 comes after 200: it cannot keep its UID and gets the next one */
	msgs[0] = text_msg(msg_a, 100, 0);
	msgs[1] = text_msg(msg_b, 200, 0);
	msgs[2] = text_msg(msg_a, 150, 0);
	msgs[3] = text_msg(msg_b, 0, 0);
	assert_int_equal(store_append(f->acct, id, msgs, 4, uids, &f->err), 0);
	assert_int_equal(uids[0], 100);
	assert_int_equal(uids[1], 200);
	assert_int_equal(uids[2], 201);
	assert_int_equal(uids[3], 202);
	st = mbox(f, "Imported/Sub");
	assert_int_equal(st.uidnext, 203);
	assert_int_equal(st.messages, 4);

	/* UIDNEXT only grows */
	assert_int_equal(store_mailbox_import_uids(f->acct, id, 0, 5000, &f->err), 0);
	assert_int_equal(mbox(f, "Imported/Sub").uidnext, 5000);
	assert_int_equal(store_mailbox_import_uids(f->acct, id, 0, 10, &f->err), 0);
	assert_int_equal(mbox(f, "Imported/Sub").uidnext, 5000);
	assert_int_equal(append_import(f, id, msg_a, 4999, 0), 5000);

	/* the biggest UID there is, and then the mailbox is full */
	assert_int_equal(append_import(f, id, msg_a, 0xfffffffeu, 0), 0xfffffffeu);
	msgs[0] = text_msg(msg_b, 0, 0);
	assert_int_equal(store_append(f->acct, id, msgs, 1, uids, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_LIMIT);

	/* what check verifies holds */
	struct store_check_options opts = {.min_orphan_age_secs = 3600};
	struct store_check_report report;
	assert_int_equal(store_check(f->acct, &opts, &report, &f->err), 0);
	assert_int_equal(report.bad_uidnext + report.bad_counters + report.bad_refcounts, 0);
	store_check_report_free(&report);
}

static void test_import_uidvalidity_rules(void **state)
{
	struct fixture *f = *state;
	int64_t inbox = mbox_id(f, "INBOX");
	uint32_t current = mbox(f, "INBOX").uidvalidity;
	uint32_t uid;
	size_t count = 0;

	assert_int_equal(store_mailbox_import_uids(f->acct, 424242, 5, 0, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);

	uid = append_text(f, inbox, msg_a, STORE_FLAG_DELETED);
	assert_int_equal(store_mailbox_import_uids(f->acct, inbox, 777, 0, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	/* its own value, and raising UIDNEXT, are fine */
	assert_int_equal(store_mailbox_import_uids(f->acct, inbox, current, 50, &f->err), 0);
	assert_int_equal(mbox(f, "INBOX").uidnext, 50);
	/* a tombstone counts as a used UID too */
	assert_int_equal(store_expunge(f->acct, inbox, &uid, 1, NULL, &count, &f->err), 0);
	assert_int_equal(count, 1);
	assert_int_equal(mbox(f, "INBOX").messages, 0);
	assert_int_equal(store_mailbox_import_uids(f->acct, inbox, 777, 0, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	assert_int_equal(mbox(f, "INBOX").uidvalidity, current);

	/* an imported UIDVALIDITY from the future: later mailboxes go above it */
	assert_int_equal(
	    store_mailbox_import_uids(f->acct, mbox_id(f, "Junk"), 4000000000u, 0, &f->err), 0);
	assert_int_equal(mbox(f, "Junk").uidvalidity, 4000000000u);
	assert_int_equal(store_mailbox_create(f->acct, "Later", 0, &f->err), 0);
	assert_true(mbox(f, "Later").uidvalidity > 4000000000u);
}

static void test_import_skips_copies(void **state)
{
	struct fixture *f = *state;
	int64_t id = mbox_id(f, "Archive");
	struct store_mailbox_status before, after;
	struct store_append_msg two[2];
	uint32_t uids[2];

	/* with a UID: the same UID with the same bytes is a copy */
	assert_int_equal(append_import(f, id, msg_a, 10, 1), 10);
	before = mbox(f, "Archive");
	assert_int_equal(append_import(f, id, msg_a, 10, 1), 0);
	after = mbox(f, "Archive");
	assert_int_equal(after.messages, 1);
	assert_int_equal(after.uidnext, before.uidnext);
	assert_int_equal(after.highestmodseq, before.highestmodseq);
	assert_int_equal(after.changes, before.changes);
	/* same bytes under another UID: another message */
	assert_int_equal(append_import(f, id, msg_a, 11, 1), 11);
	/* different bytes under a used UID: a new message with a new UID */
	assert_int_equal(append_import(f, id, msg_b, 10, 1), 12);
	assert_int_equal(mbox(f, "Archive").messages, 3);

	/* without UIDs: the n-th identical message of the source is a copy when
	 * the mailbox holds n of them */
	id = mbox_id(f, "Sent");
	two[0] = text_msg(msg_b, 0, 1);
	two[1] = text_msg(msg_b, 0, 2);
	assert_int_equal(store_append(f->acct, id, two, 2, uids, &f->err), 0);
	assert_int_equal(uids[0], 1);
	assert_int_equal(uids[1], 2);
	assert_int_equal(store_append(f->acct, id, two, 2, uids, &f->err), 0);
	assert_int_equal(uids[0], 0);
	assert_int_equal(uids[1], 0);
	/* the LF form is the same blob */
	assert_int_equal(append_import(f, id, msg_b_lf, 0, 2), 0);
	assert_int_equal(append_import(f, id, msg_b_lf, 0, 3), 3);
	/* copy_number 0: APPEND as ever */
	assert_int_equal(append_import(f, id, msg_b, 0, 0), 4);
	assert_int_equal(mbox(f, "Sent").messages, 4);
	assert_int_equal(count_blob_files(f), 2);
	assert_int_equal(index_sql(f, "SELECT count(*) FROM blobs WHERE refcount = 0"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_import_keeps_uids, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_import_uidvalidity_rules, store_setup,
	                                    store_teardown),
	    cmocka_unit_test_setup_teardown(test_import_skips_copies, store_setup, store_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
