/*
 * The mailbox commands of the authenticated state: CREATE, DELETE, RENAME,
 * SUBSCRIBE, UNSUBSCRIBE, LIST, LSUB, NAMESPACE, STATUS (RFC 9051 6.3,
 * RFC 3501 6.3). Names travel in modified UTF-7 (rev1) or UTF-8 (rev2) and
 * are the store's UTF-8 inside; '/' is the hierarchy separator.
 *
 * Not yet here (issue 4): LIST-EXTENDED selection and return options,
 * LIST-STATUS, CREATE-SPECIAL-USE, LSUB's \Noselect parents for '%'.
 * Their syntax is answered BAD, as a server without them must.
 */
#include "imap/session_private.h"

#include <stdlib.h>
#include <string.h>

bool imap_session_utf8(const struct imap_session *s)
{
	return s->rev2;
}

void imap_reply_store_error(struct imap_session *s, const char *tag, const struct store_error *err)
{
	const char *code = store_error_code_name(err->code);

	/* the store's texts are its own, never client bytes */
	imap_reply_tagged(s, tag, "NO", code[0] != '\0' ? code : NULL, "%s", err->text);
}

char *imap_arg_mailbox(struct imap_session *s, const char *tag, const struct imap_arg *arg)
{
	const char *name, *error;
	size_t len;
	char *utf8;

	if (!imap_arg_string(arg, &name, &len)) {
		imap_reply_tagged(s, tag, "BAD", NULL, "Mailbox name expected");
		return NULL;
	}
	if (imap_mailbox_name_decode(name, len, imap_session_utf8(s), &utf8, &error) < 0) {
		imap_reply_tagged(s, tag, "NO", "CANNOT", "%s", error);
		return NULL;
	}
	return utf8;
}

/* A name as the client reads it, quoted or as a literal. */
static void write_mailbox(struct imap_session *s, const char *utf8_name)
{
	char *wire = imap_mailbox_name_encode(utf8_name, imap_session_utf8(s));
	imap_write_string(&s->out, wire, strlen(wire), imap_session_utf8(s));
	free(wire);
}

void cmd_create(struct imap_session *s, const struct imap_command *cmd)
{
	struct store_error err;
	char *name;
	size_t len;

	if (cmd->nargs != 1) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "CREATE takes one mailbox name");
		return;
	}
	if ((name = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		return;
	/* RFC 9051 6.3.4: a trailing separator declares the intent to create
	 * names under it; the name itself is created without it */
	len = strlen(name);
	if (len > 1 && name[len - 1] == STORE_HIERARCHY_SEP)
		name[len - 1] = '\0';
	if (str_case_eq(name, "INBOX")) {
		imap_reply_tagged(s, cmd->tag, "NO", "ALREADYEXISTS", "INBOX always exists");
	} else if (store_mailbox_create(s->acct, name, 0, &err) < 0) {
		imap_reply_store_error(s, cmd->tag, &err);
	} else {
		imap_reply_tagged(s, cmd->tag, "OK", NULL, "CREATE completed");
	}
	free(name);
}

void cmd_delete(struct imap_session *s, const struct imap_command *cmd)
{
	struct store_error err;
	char *name;

	if (cmd->nargs != 1) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "DELETE takes one mailbox name");
		return;
	}
	if ((name = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		return;
	if (store_mailbox_delete(s->acct, name, &err) < 0)
		imap_reply_store_error(s, cmd->tag, &err);
	else
		imap_reply_tagged(s, cmd->tag, "OK", NULL, "DELETE completed");
	free(name);
}

void cmd_rename(struct imap_session *s, const struct imap_command *cmd)
{
	struct store_error err;
	char *from, *to;

	if (cmd->nargs != 2) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "RENAME takes two mailbox names");
		return;
	}
	if ((from = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		return;
	if ((to = imap_arg_mailbox(s, cmd->tag, &cmd->args[1])) == NULL) {
		free(from);
		return;
	}
	if (store_mailbox_rename(s->acct, from, to, &err) < 0)
		imap_reply_store_error(s, cmd->tag, &err);
	else
		imap_reply_tagged(s, cmd->tag, "OK", NULL, "RENAME completed");
	free(from);
	free(to);
}

static void subscribe(struct imap_session *s, const struct imap_command *cmd, bool on)
{
	struct store_error err;
	char *name;

	if (cmd->nargs != 1) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "%s takes one mailbox name",
		                  on ? "SUBSCRIBE" : "UNSUBSCRIBE");
		return;
	}
	if ((name = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		return;
	if (store_mailbox_subscribe(s->acct, name, on, &err) < 0)
		imap_reply_store_error(s, cmd->tag, &err);
	else
		imap_reply_tagged(s, cmd->tag, "OK", NULL, "%s completed",
		                  on ? "SUBSCRIBE" : "UNSUBSCRIBE");
	free(name);
}

void cmd_subscribe(struct imap_session *s, const struct imap_command *cmd)
{
	subscribe(s, cmd, true);
}

void cmd_unsubscribe(struct imap_session *s, const struct imap_command *cmd)
{
	subscribe(s, cmd, false);
}

static void write_list_attrs(struct imap_session *s, const struct store_list_entry *e, bool lsub)
{
	bool first = true;

#define ATTR(text)                                                                                 \
	do {                                                                                       \
		buf_append_str(&s->out, first ? text : " " text);                                  \
		first = false;                                                                     \
	} while (0)
	buf_append_byte(&s->out, '(');
	if ((e->attrs & (STORE_ATTR_NOSELECT | STORE_ATTR_NONEXISTENT)) != 0)
		ATTR("\\Noselect");
	if (!lsub) {
		/* RFC 9051 7.3.1 (CHILDREN of RFC 3348, SPECIAL-USE of RFC 6154) */
		if ((e->attrs & STORE_ATTR_HASCHILDREN) != 0)
			ATTR("\\HasChildren");
		else if ((e->attrs & STORE_ATTR_HASNOCHILDREN) != 0)
			ATTR("\\HasNoChildren");
		for (unsigned bit = 1; bit <= STORE_SPECIAL_TRASH; bit <<= 1) {
			const char *su = store_special_use_name(bit);
			if ((e->special_use & bit) != 0 && su != NULL) {
				buf_append_str(&s->out, first ? "" : " ");
				buf_append_str(&s->out, su);
				first = false;
			}
		}
	}
#undef ATTR
	buf_append_byte(&s->out, ')');
}

/* LIST/LSUB reference mailbox: RFC 9051 6.3.9. */
static void list_common(struct imap_session *s, const struct imap_command *cmd, bool lsub)
{
	const char *what = lsub ? "LSUB" : "LIST";
	struct store_list list;
	struct store_error err;
	char *ref, *pat, *pattern;

	if (cmd->nargs != 2 || cmd->args[0].type == IMAP_ARG_LIST ||
	    cmd->args[1].type == IMAP_ARG_LIST) {
		/* LIST-EXTENDED's selection and return options are not
		 * advertised yet */
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "%s takes a reference and a pattern",
		                  what);
		return;
	}
	if ((ref = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		return;
	if ((pat = imap_arg_mailbox(s, cmd->tag, &cmd->args[1])) == NULL) {
		free(ref);
		return;
	}
	if (pat[0] == '\0') {
		/* the hierarchy separator and the root of the reference */
		if (!lsub)
			imap_reply_untagged(s, "LIST (\\Noselect) \"/\" \"\"");
		imap_reply_tagged(s, cmd->tag, "OK", NULL, "%s completed", what);
		free(ref);
		free(pat);
		return;
	}
	pattern = xasprintf("%s%s", pat[0] == STORE_HIERARCHY_SEP ? "" : ref, pat);
	free(ref);
	free(pat);
	if (store_mailbox_list(s->acct, pattern, lsub ? STORE_LIST_SUBSCRIBED : 0, &list, &err) <
	    0) {
		imap_reply_store_error(s, cmd->tag, &err);
		free(pattern);
		return;
	}
	free(pattern);
	for (size_t i = 0; i < list.count; i++) {
		const struct store_list_entry *e = &list.entries[i];
		if (lsub && (e->attrs & STORE_ATTR_SUBSCRIBED) == 0)
			continue;
		buf_printf(&s->out, "* %s ", what);
		write_list_attrs(s, e, lsub);
		buf_append_str(&s->out, " \"/\" ");
		write_mailbox(s, e->name);
		buf_append_str(&s->out, "\r\n");
	}
	store_list_free(&list);
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "%s completed", what);
}

void cmd_list(struct imap_session *s, const struct imap_command *cmd)
{
	list_common(s, cmd, false);
}

void cmd_lsub(struct imap_session *s, const struct imap_command *cmd)
{
	list_common(s, cmd, true);
}

void cmd_namespace(struct imap_session *s, const struct imap_command *cmd)
{
	if (cmd->nargs != 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL, "NAMESPACE takes no arguments");
		return;
	}
	/* RFC 2342: one personal namespace, no other users', no shared */
	imap_reply_untagged(s, "NAMESPACE ((\"\" \"/\")) NIL NIL");
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "NAMESPACE completed");
}

enum status_item {
	STATUS_MESSAGES = 1 << 0,
	STATUS_UIDNEXT = 1 << 1,
	STATUS_UIDVALIDITY = 1 << 2,
	STATUS_UNSEEN = 1 << 3,
	STATUS_DELETED = 1 << 4,
	STATUS_SIZE = 1 << 5,
};

static const struct {
	const char *name;
	enum status_item item;
} status_items[] = {
    {"MESSAGES", STATUS_MESSAGES}, {"UIDNEXT", STATUS_UIDNEXT}, {"UIDVALIDITY", STATUS_UIDVALIDITY},
    {"UNSEEN", STATUS_UNSEEN},     {"DELETED", STATUS_DELETED}, {"SIZE", STATUS_SIZE},
};

void cmd_status(struct imap_session *s, const struct imap_command *cmd)
{
	struct store_mailbox_status st;
	struct store_error err;
	const struct imap_arg *items;
	unsigned want = 0;
	char *name;

	if (cmd->nargs != 2 || cmd->args[1].type != IMAP_ARG_LIST || cmd->args[1].count == 0) {
		imap_reply_tagged(s, cmd->tag, "BAD", NULL,
		                  "STATUS takes a mailbox name and a list of items");
		return;
	}
	items = &cmd->args[1];
	for (size_t i = 0; i < items->count; i++) {
		unsigned found = 0;
		for (size_t k = 0;
		     k < ARRAY_SIZE(status_items) && items->list[i].type == IMAP_ARG_ATOM; k++) {
			if (str_case_eq(items->list[i].str, status_items[k].name))
				found = status_items[k].item;
		}
		if (found == 0) {
			/* RECENT needs per-session \Recent, which comes with
			 * SELECT (issue 4); until then it is not offered */
			imap_reply_tagged(s, cmd->tag, "BAD", NULL,
			                  "Unknown or unsupported STATUS item");
			return;
		}
		want |= found;
	}
	if ((name = imap_arg_mailbox(s, cmd->tag, &cmd->args[0])) == NULL)
		return;
	if (store_mailbox_status(s->acct, name, &st, &err) < 0) {
		imap_reply_store_error(s, cmd->tag, &err);
		free(name);
		return;
	}
	if (st.noselect) {
		imap_reply_tagged(s, cmd->tag, "NO", "NONEXISTENT", "That name is not selectable");
		free(name);
		return;
	}
	buf_append_str(&s->out, "* STATUS ");
	write_mailbox(s, name);
	buf_append_str(&s->out, " (");
	const char *sep = "";
	/* in the order the client asked */
	for (size_t i = 0; i < items->count; i++) {
		for (size_t k = 0; k < ARRAY_SIZE(status_items); k++) {
			if (!str_case_eq(items->list[i].str, status_items[k].name))
				continue;
			unsigned long long v = 0;
			switch (status_items[k].item) {
			case STATUS_MESSAGES:
				v = st.messages;
				break;
			case STATUS_UIDNEXT:
				v = st.uidnext;
				break;
			case STATUS_UIDVALIDITY:
				v = st.uidvalidity;
				break;
			case STATUS_UNSEEN:
				v = st.unseen;
				break;
			case STATUS_DELETED:
				v = st.deleted;
				break;
			case STATUS_SIZE:
				v = st.size;
				break;
			}
			buf_printf(&s->out, "%s%s %llu", sep, status_items[k].name, v);
			sep = " ";
		}
	}
	buf_append_str(&s->out, ")\r\n");
	imap_reply_tagged(s, cmd->tag, "OK", NULL, "STATUS completed");
	free(name);
}
