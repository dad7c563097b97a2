/* Unit tests for store/: mailbox names, LIST patterns, and the mailbox
 * operations (create, delete, rename, subscribe, list, status). */
#include "store_test_util.h"

#include "auth/auth.h"

/* ---- names ---- */

static void expect_bad_name(const char *name)
{
	struct store_error err;
	char *norm = (char *)1;

	if (store_mailbox_name_normalize(name, &norm, &err) == 0)
		fail_msg("accepted \"%s\"", name);
	assert_int_equal(err.code, STORE_ERR_CANNOT);
	assert_null(norm);
}

static void expect_name(const char *name, const char *want)
{
	struct store_error err;
	char *norm;

	if (store_mailbox_name_normalize(name, &norm, &err) < 0)
		fail_msg("refused \"%s\": %s", name, err.text);
	assert_string_equal(norm, want);
	free(norm);
}

static void test_names(void **state)
{
	char longname[STORE_MAILBOX_NAME_MAX + 2];

	expect_name("INBOX", "INBOX");
	expect_name("inbox", "INBOX");
	expect_name("InBoX/Sub", "INBOX/Sub");
	expect_name("INBOXes", "INBOXes");
	expect_name("Archive/2024", "Archive/2024");
	expect_name("Entw\xc3\xbcrfe", "Entw\xc3\xbcrfe");
	expect_name("a b", "a b");
	expect_bad_name("");
	expect_bad_name("/a");
	expect_bad_name("a/");
	expect_bad_name("a//b");
	expect_bad_name("a\tb");
	expect_bad_name("a\x7f");
	expect_bad_name("a*");
	expect_bad_name("a%b");
	expect_bad_name("\xc3(");        /* broken UTF-8 */
	expect_bad_name("\xc0\xaf");     /* overlong */
	expect_bad_name("\xed\xa0\x80"); /* surrogate */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	expect_bad_name(longname);
	longname[STORE_MAILBOX_NAME_MAX] = '\0';
	expect_name(longname, longname);
}

static void test_match(void **state)
{
	assert_true(store_mailbox_name_match("*", "a/b/c"));
	assert_true(store_mailbox_name_match("%", "a"));
	assert_false(store_mailbox_name_match("%", "a/b"));
	assert_true(store_mailbox_name_match("a/%", "a/b"));
	assert_false(store_mailbox_name_match("a/%", "a/b/c"));
	assert_true(store_mailbox_name_match("a/*", "a/b/c"));
	assert_false(store_mailbox_name_match("a/*", "a"));
	assert_true(store_mailbox_name_match("a*", "a"));
	assert_true(store_mailbox_name_match("*c", "a/b/c"));
	assert_true(store_mailbox_name_match("%/%/c", "a/b/c"));
	assert_false(store_mailbox_name_match("%/c", "a/b/c"));
	assert_true(store_mailbox_name_match("inbox", "INBOX"));
	assert_true(store_mailbox_name_match("inb%", "INBOX"));
	assert_true(store_mailbox_name_match("Inbox/%", "INBOX/x"));
	assert_false(store_mailbox_name_match("inbox/X", "INBOX/x")); /* only INBOX folds */
	assert_false(store_mailbox_name_match("sent", "Sent"));
	assert_true(store_mailbox_name_match("S%t", "Sent"));
	assert_true(store_mailbox_name_match("**%", "x/y"));
	assert_false(store_mailbox_name_match("", "x"));
	assert_true(store_mailbox_name_match("", ""));
	assert_true(store_mailbox_name_match("a%%b", "axxb"));
	assert_false(store_mailbox_name_match("a%%b", "ax/xb"));
	assert_true(store_mailbox_name_match("a%*b", "ax/xb"));
	assert_true(store_mailbox_name_match("%/%", "a/b"));
	assert_false(store_mailbox_name_match("%/%", "a/b/c"));

	/* a hostile pattern costs pattern x name, not an exponential */
	char pattern[1002], name[STORE_MAILBOX_NAME_MAX + 1];
	for (int i = 0; i < 1000; i++)
		pattern[i] = i % 2 ? 'a' : (i % 4 ? '%' : '*');
	pattern[1000] = '\0';
	memset(name, 'a', STORE_MAILBOX_NAME_MAX);
	name[STORE_MAILBOX_NAME_MAX] = '\0';
	uint64_t start = time_now_ms();
	assert_true(store_mailbox_name_match(pattern, name)); /* 500 a's needed, 512 there */
	strcat(pattern, "b");
	name[400] = 'b';
	name[401] = '\0';
	assert_false(store_mailbox_name_match(pattern, name)); /* 400 a's: too few */
	assert_true(time_now_ms() - start < 2000);
	memset(pattern, '*', 1000);
	assert_true(store_mailbox_name_match(pattern, name));
}

/* ---- mailboxes ---- */

static const struct store_list_entry *list_find(const struct store_list *l, const char *name)
{
	for (size_t i = 0; i < l->count; i++) {
		if (strcmp(l->entries[i].name, name) == 0)
			return &l->entries[i];
	}
	return NULL;
}

static void test_defaults(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *name;
		unsigned use;
	} want[] = {{"INBOX", 0},
	            {"Archive", STORE_SPECIAL_ARCHIVE},
	            {"Drafts", STORE_SPECIAL_DRAFTS},
	            {"Junk", STORE_SPECIAL_JUNK},
	            {"Sent", STORE_SPECIAL_SENT},
	            {"Trash", STORE_SPECIAL_TRASH}};
	struct store_list l;

	assert_int_equal(store_mailbox_list(f->acct, "*", 0, &l, &f->err), 0);
	assert_int_equal(l.count, ARRAY_SIZE(want));
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		/* sorted, INBOX first */
		assert_string_equal(l.entries[i].name, want[i].name);
		assert_int_equal(l.entries[i].special_use, want[i].use);
		assert_true(l.entries[i].attrs & STORE_ATTR_SUBSCRIBED);
		assert_true(l.entries[i].attrs & STORE_ATTR_HASNOCHILDREN);
		assert_false(l.entries[i].attrs & STORE_ATTR_NOSELECT);
	}
	store_list_free(&l);

	struct store_mailbox_status st = mbox(f, "inbox");
	assert_int_equal(st.uidnext, 1);
	assert_int_equal(st.messages, 0);
	assert_true(st.uidvalidity > 0);
	assert_true(st.subscribed);
	assert_int_equal(strlen(st.mailboxid), 25);
	/* every default mailbox has its own UIDVALIDITY and MAILBOXID */
	assert_int_not_equal(mbox(f, "Sent").uidvalidity, st.uidvalidity);
	assert_string_not_equal(mbox(f, "Sent").mailboxid, st.mailboxid);
	assert_string_equal(store_special_use_name(STORE_SPECIAL_JUNK), "\\Junk");
	assert_null(store_special_use_name(3));
}

static void test_create(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status st;

	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &f->err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "Work", 0, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_ALREADYEXISTS);
	assert_string_equal(store_error_code_name(f->err.code), "ALREADYEXISTS");
	assert_int_equal(store_mailbox_create(f->acct, "inbox", 0, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_ALREADYEXISTS);
	assert_int_equal(store_mailbox_create(f->acct, "a*b", 0, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);

	/* missing parents are created */
	assert_int_equal(store_mailbox_create(f->acct, "p/q/r", STORE_SPECIAL_FLAGGED, &f->err), 0);
	st = mbox(f, "p");
	assert_false(st.noselect);
	assert_int_equal(mbox(f, "p/q/r").special_use, STORE_SPECIAL_FLAGGED);
	assert_false(mbox(f, "p/q/r").subscribed);

	/* below INBOX, the INBOX part is normalized */
	assert_int_equal(store_mailbox_create(f->acct, "inbox/Sub", 0, &f->err), 0);
	assert_int_equal(store_mailbox_status(f->acct, "INBOX/Sub", &st, &f->err), 0);
	assert_int_equal(store_mailbox_status(f->acct, "Nope", &st, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
}

static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status st, st2;
	struct store_list l;

	assert_int_equal(store_mailbox_delete(f->acct, "INBOX", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_mailbox_delete(f->acct, "Nope", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);

	/* a leaf goes completely */
	assert_int_equal(store_mailbox_create(f->acct, "Leaf", 0, &f->err), 0);
	append_text(f, mbox_id(f, "Leaf"), "Subject: x\r\n\r\nbody\r\n", 0);
	assert_int_equal(store_mailbox_delete(f->acct, "Leaf", &f->err), 0);
	assert_int_equal(store_mailbox_status(f->acct, "Leaf", &st, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(count_blob_files(f), 0);

	/* with children: messages go, name stays \Noselect */
	assert_int_equal(store_mailbox_create(f->acct, "P/C", 0, &f->err), 0);
	st = mbox(f, "P");
	append_text(f, st.id, "Subject: y\r\n\r\nbody\r\n", 0);
	assert_int_equal(store_mailbox_delete(f->acct, "P", &f->err), 0);
	st2 = mbox(f, "P");
	assert_true(st2.noselect);
	assert_int_equal(st2.messages, 0);
	assert_int_equal(count_blob_files(f), 0);
	assert_int_equal(store_mailbox_list(f->acct, "P", 0, &l, &f->err), 0);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.entries[0].attrs & (STORE_ATTR_NOSELECT | STORE_ATTR_HASCHILDREN),
	                 STORE_ATTR_NOSELECT | STORE_ATTR_HASCHILDREN);
	store_list_free(&l);
	/* appending to it is refused */
	struct store_append_msg msg = {.data = "x", .fd = -1, .size = 1};
	assert_int_equal(store_append(f->acct, st.id, &msg, 1, NULL, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);

	/* a \Noselect with children cannot be deleted */
	assert_int_equal(store_mailbox_delete(f->acct, "P", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	/* once the child is gone it can */
	assert_int_equal(store_mailbox_delete(f->acct, "P/C", &f->err), 0);
	assert_int_equal(store_mailbox_delete(f->acct, "P", &f->err), 0);
	assert_int_equal(store_mailbox_status(f->acct, "P", &st2, &f->err), -1);
}

static void test_recreate_uidvalidity(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status a, b, c;

	assert_int_equal(store_mailbox_create(f->acct, "X", 0, &f->err), 0);
	a = mbox(f, "X");
	append_text(f, a.id, "m1\r\n", 0);
	assert_int_equal(store_mailbox_delete(f->acct, "X", &f->err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "X", 0, &f->err), 0);
	b = mbox(f, "X");
	/* RFC 9051 2.3.1.1: a reused name gets a new, larger UIDVALIDITY */
	assert_true(b.uidvalidity > a.uidvalidity);
	assert_int_not_equal(b.id, a.id);
	assert_string_not_equal(b.mailboxid, a.mailboxid);
	assert_int_equal(b.uidnext, 1);

	/* a \Noselect name made selectable again: also new */
	assert_int_equal(store_mailbox_create(f->acct, "X/child", 0, &f->err), 0);
	assert_int_equal(store_mailbox_delete(f->acct, "X", &f->err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "X", 0, &f->err), 0);
	c = mbox(f, "X");
	assert_false(c.noselect);
	assert_true(c.uidvalidity > b.uidvalidity);
	assert_string_not_equal(c.mailboxid, b.mailboxid);

	/* and it survives a reopen */
	fixture_close(f);
	fixture_open(f);
	assert_int_equal(mbox(f, "X").uidvalidity, c.uidvalidity);
	assert_string_equal(mbox(f, "X").mailboxid, c.mailboxid);
}

static void test_rename_tree(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status p, c, p2, c2;
	struct store_list l;
	uint32_t uid;

	assert_int_equal(store_mailbox_create(f->acct, "Proj/Sub/Deep", 0, &f->err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "Projects", 0, &f->err), 0);
	assert_int_equal(store_mailbox_subscribe(f->acct, "Proj/Sub", true, &f->err), 0);
	p = mbox(f, "Proj");
	c = mbox(f, "Proj/Sub");
	uid = append_text(f, c.id, "Subject: keep\r\n\r\nx\r\n", STORE_FLAG_SEEN);

	assert_int_equal(store_mailbox_rename(f->acct, "Proj", "Old/Proj", &f->err), 0);
	p2 = mbox(f, "Old/Proj");
	c2 = mbox(f, "Old/Proj/Sub");
	assert_int_equal(p2.id, p.id);
	assert_int_equal(p2.uidvalidity, p.uidvalidity);
	assert_string_equal(p2.mailboxid, p.mailboxid);
	assert_int_equal(c2.id, c.id);
	assert_string_equal(c2.mailboxid, c.mailboxid);
	assert_int_equal(c2.messages, 1);
	assert_true(c2.subscribed);
	assert_int_equal(store_mailbox_status(f->acct, "Old/Proj/Sub/Deep", &p2, &f->err), 0);
	assert_int_equal(store_mailbox_status(f->acct, "Proj/Sub", &p2, &f->err), -1);
	/* a sibling sharing the prefix is not a child */
	assert_int_equal(store_mailbox_status(f->acct, "Projects", &p2, &f->err), 0);
	/* status by id follows the rename */
	char *name;
	assert_int_equal(store_mailbox_status_by_id(f->acct, c.id, &p2, &name, &f->err), 0);
	assert_string_equal(name, "Old/Proj/Sub");
	free(name);
	(void)uid;

	/* the new parent "Old" was created */
	assert_int_equal(store_mailbox_list(f->acct, "Old", 0, &l, &f->err), 0);
	assert_int_equal(l.count, 1);
	assert_true(l.entries[0].attrs & STORE_ATTR_HASCHILDREN);
	store_list_free(&l);

	/* errors */
	assert_int_equal(store_mailbox_rename(f->acct, "Old/Proj", "Projects", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_ALREADYEXISTS);
	assert_int_equal(store_mailbox_rename(f->acct, "Nope", "Nope2", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
	assert_int_equal(store_mailbox_rename(f->acct, "Old", "Old/Inside", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_mailbox_rename(f->acct, "Old", "inbox", &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_ALREADYEXISTS);
	/* children whose new names would pass the limit: nothing is renamed */
	char *target = xmalloc(STORE_MAILBOX_NAME_MAX);
	memset(target, 'n', STORE_MAILBOX_NAME_MAX - 5);
	target[STORE_MAILBOX_NAME_MAX - 5] = '\0';
	assert_int_equal(store_mailbox_rename(f->acct, "Old", target, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
	assert_int_equal(store_mailbox_status(f->acct, "Old/Proj/Sub", &p2, &f->err), 0);
	assert_int_equal(store_mailbox_status(f->acct, target, &p2, &f->err), -1);
	free(target);
}

static void test_rename_inbox(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status in, in2, moved;
	struct store_changes ch;
	int64_t inbox = mbox_id(f, "INBOX");
	uint32_t u1, u2;

	assert_int_equal(store_mailbox_create(f->acct, "INBOX/Child", 0, &f->err), 0);
	u1 = append_text(f, inbox, "Subject: one\r\n\r\n1\r\n", 0);
	u2 = append_text(f, inbox, "Subject: two\r\n\r\n2\r\n", STORE_FLAG_SEEN);
	in = mbox(f, "INBOX");
	assert_int_equal(store_mailbox_rename(f->acct, "INBOX", "Saved/Old Inbox", &f->err), 0);

	in2 = mbox(f, "INBOX");
	assert_int_equal(in2.id, in.id);
	assert_int_equal(in2.messages, 0);
	assert_int_equal(in2.unseen, 0);
	assert_int_equal(in2.size, 0);
	assert_int_equal(in2.uidvalidity, in.uidvalidity);
	assert_int_equal(in2.uidnext, in.uidnext); /* UIDs are not reused */
	assert_true(in2.highestmodseq > in.highestmodseq);
	moved = mbox(f, "Saved/Old Inbox");
	assert_int_equal(moved.messages, 2);
	assert_int_equal(moved.unseen, 1);
	assert_int_equal(moved.size, in.size);
	assert_true(moved.uidnext > u2);
	assert_int_not_equal(moved.uidvalidity, in.uidvalidity);
	/* INBOX's children stay where they are */
	assert_int_equal(mbox(f, "INBOX/Child").messages, 0);
	/* INBOX reports the messages as vanished */
	assert_int_equal(store_changes_since(f->acct, inbox, in.highestmodseq, &ch, &f->err), 0);
	assert_int_equal(ch.vanished_count, 2);
	assert_int_equal(ch.vanished[0], u1);
	assert_int_equal(ch.vanished[1], u2);
	store_changes_free(&ch);
	/* and new mail gets fresh UIDs */
	assert_int_equal(append_text(f, inbox, "three\r\n", 0), u2 + 1);
}

static void test_subscribe_list(void **state)
{
	struct fixture *f = *state;
	struct store_list l;
	const struct store_list_entry *e;

	assert_int_equal(store_mailbox_create(f->acct, "a/b/c", 0, &f->err), 0);
	assert_int_equal(store_mailbox_create(f->acct, "a/x", 0, &f->err), 0);
	assert_int_equal(store_mailbox_subscribe(f->acct, "a/b", true, &f->err), 0);
	assert_int_equal(store_mailbox_subscribe(f->acct, "gone", true, &f->err), 0);
	assert_int_equal(store_mailbox_subscribe(f->acct, "Junk", false, &f->err), 0);

	/* '%' stays on one level */
	assert_int_equal(store_mailbox_list(f->acct, "a/%", 0, &l, &f->err), 0);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.entries[0].name, "a/b");
	assert_true(l.entries[0].attrs & STORE_ATTR_HASCHILDREN);
	assert_string_equal(l.entries[1].name, "a/x");
	assert_true(l.entries[1].attrs & STORE_ATTR_HASNOCHILDREN);
	store_list_free(&l);
	assert_int_equal(store_mailbox_list(f->acct, "a/*", 0, &l, &f->err), 0);
	assert_int_equal(l.count, 3);
	store_list_free(&l);
	assert_int_equal(store_mailbox_list(f->acct, "%", 0, &l, &f->err), 0);
	assert_int_equal(l.count, 7); /* 6 defaults + "a" */
	assert_null(list_find(&l, "gone"));
	store_list_free(&l);

	/* subscribed: includes names that do not exist */
	assert_int_equal(store_mailbox_list(f->acct, "*", STORE_LIST_SUBSCRIBED, &l, &f->err), 0);
	assert_null(list_find(&l, "Junk"));
	assert_null(list_find(&l, "a/x"));
	e = list_find(&l, "a/b");
	assert_non_null(e);
	assert_true(e->attrs & STORE_ATTR_SUBSCRIBED);
	e = list_find(&l, "gone");
	assert_non_null(e);
	assert_int_equal(e->attrs, STORE_ATTR_SUBSCRIBED | STORE_ATTR_NONEXISTENT);
	assert_int_equal(l.count, 7); /* 5 defaults + a/b + gone */
	store_list_free(&l);

	/* unsubscribing twice is fine */
	assert_int_equal(store_mailbox_subscribe(f->acct, "gone", false, &f->err), 0);
	assert_int_equal(store_mailbox_subscribe(f->acct, "gone", false, &f->err), 0);
	assert_int_equal(store_mailbox_subscribe(f->acct, "bad%", true, &f->err), -1);
	assert_int_equal(f->err.code, STORE_ERR_CANNOT);
}

static void test_changed_since(void **state)
{
	struct fixture *f = *state;
	struct store_mailbox_status st = mbox(f, "INBOX");
	uint64_t counter;
	bool changed;

	assert_int_equal(
	    store_mailbox_changed_since(f->acct, st.id, st.changes, &changed, &counter, &f->err),
	    0);
	assert_false(changed);
	assert_int_equal(counter, st.changes);
	append_text(f, st.id, "x\r\n", 0);
	assert_int_equal(
	    store_mailbox_changed_since(f->acct, st.id, st.changes, &changed, &counter, &f->err),
	    0);
	assert_true(changed);
	assert_true(counter > st.changes);
	assert_int_equal(store_mailbox_changed_since(f->acct, 99999, 0, &changed, NULL, &f->err),
	                 -1);
	assert_int_equal(f->err.code, STORE_ERR_NONEXISTENT);
}

static void test_account_cache(void **state)
{
	struct fixture *f = *state;
	struct store_account *again;

	/* the same account opened twice is one shared handle */
	assert_int_equal(store_account_open(f->store, TEST_ACCOUNT, &again, &f->err), 0);
	assert_ptr_equal(again, f->acct);
	assert_int_equal(store_account_id(again), TEST_ACCOUNT);
	store_account_close(&again);
	assert_null(again);
	assert_int_equal(store_account_open(f->store, 0, &again, &f->err), -1);
	struct store *other;
	struct store_settings pg = {.backend = "pg"};
	assert_int_equal(store_open(f->data_dir, &pg, &other, &f->err), -1);
	assert_null(other);
	/* and its data is where docs/storage.md says */
	char *dir = account_dir(f);
	char *db = xasprintf("%s/index.db", dir);
	struct stat st;
	assert_int_equal(stat(db, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(index_sql(f, "PRAGMA user_version"), 1);
	assert_int_equal(index_sql(f, "PRAGMA journal_mode"), 0); /* text "wal": 0 as int */
	free(db);
	free(dir);
}

/* Login name -> account id -> DATA/accounts/<id>/ */
static void test_auth_account_id(void **state)
{
	struct fixture *f = *state;
	static const struct auth_hash_params params = {.ops = 1, .mem_kib = 64};
	struct auth_db *db;
	struct store_account *acct;
	char *error = NULL, *canonical;
	int64_t id;

	assert_int_equal(auth_db_open(f->data_dir, &params, &db, &error), 0);
	assert_int_equal(auth_user_add(db, "Alice@example.com", "secret-pw", &error), 0);
	assert_int_equal(auth_user_id(db, "alice@EXAMPLE.com", &id, &canonical, &error), 1);
	assert_string_equal(canonical, "Alice@example.com");
	assert_true(id > 0);
	free(canonical);
	assert_int_equal(auth_user_id(db, "bob", &id, NULL, &error), 0);
	assert_int_equal(auth_user_id(db, "bad name", &id, NULL, &error), 0);
	assert_int_equal(auth_user_id(db, "alice@example.com", &id, NULL, &error), 1);
	auth_db_close(&db);

	assert_int_equal(store_account_open(f->store, id, &acct, &f->err), 0);
	char *path = xasprintf("%s/accounts/%lld/index.db", f->data_dir, (long long)id);
	assert_int_equal(access(path, F_OK), 0);
	free(path);
	store_account_close(&acct);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_match),
	    cmocka_unit_test_setup_teardown(test_defaults, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_create, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_delete, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_recreate_uidvalidity, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_tree, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_rename_inbox, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_subscribe_list, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_changed_since, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_account_cache, store_setup, store_teardown),
	    cmocka_unit_test_setup_teardown(test_auth_account_id, store_setup, store_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
