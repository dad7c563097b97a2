/*
 * The change hub: every committed change is published here, keyed by
 * (account, mailbox), and handed to the callbacks subscribed to it.
 *
 * Subscriptions hang in buckets by account id. Publishing holds the hub's
 * lock while it calls the callbacks, which is what lets store_unsubscribe()
 * promise that a callback no longer runs once it returns; the price is that
 * callbacks must be quick (wake a loop, set a flag) and must not subscribe
 * or unsubscribe themselves.
 *
 * Other processes (roost deliver, roost import) cannot reach the hub; they
 * send a datagram "roost-changed <account> <mailbox>\n" to DATA/control.sock
 * and the server feeds it in with store_notify_feed().
 */
#include "store/store_private.h"
#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define HUB_BUCKETS 256
#define CONTROL_SOCKET_NAME "control.sock"
#define NOTIFY_PREFIX "roost-changed "
#define NOTIFY_MAX 128

struct store_subscription {
	struct store_hub *hub;
	int64_t account_id;
	int64_t mailbox_id;
	store_change_cb *cb;
	void *ctx;
	uint64_t known_changes; /* the mailbox's change counter the owner has seen */
	struct store_subscription *prev, *next;
};

struct store_hub {
	pthread_mutex_t lock;
	struct store_subscription *buckets[HUB_BUCKETS];
};

static unsigned hub_bucket(int64_t account_id)
{
	return (unsigned)((uint64_t)account_id * 0x9e3779b97f4a7c15ULL >> 56) % HUB_BUCKETS;
}

struct store_hub *store_hub_new(void)
{
	struct store_hub *hub = xcalloc(1, sizeof(*hub));

	pthread_mutex_init(&hub->lock, NULL);
	return hub;
}

void store_hub_free(struct store_hub **hubp)
{
	struct store_hub *hub = *hubp;

	if (hub == NULL)
		return;
	*hubp = NULL;
	for (unsigned i = 0; i < HUB_BUCKETS; i++) {
		/* subscriptions the caller forgot: their owners still hold
		 * pointers, so detach rather than free */
		for (struct store_subscription *s = hub->buckets[i]; s != NULL; s = s->next)
			s->hub = NULL;
	}
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

struct store_subscription *store_subscribe(struct store *store, int64_t account_id,
                                           int64_t mailbox_id, store_change_cb *cb, void *ctx)
{
	struct store_hub *hub = store->hub;
	struct store_subscription *sub = xcalloc(1, sizeof(*sub));
	unsigned b = hub_bucket(account_id);

	sub->hub = hub;
	sub->account_id = account_id;
	sub->mailbox_id = mailbox_id;
	sub->cb = cb;
	sub->ctx = ctx;
	pthread_mutex_lock(&hub->lock);
	sub->next = hub->buckets[b];
	if (sub->next != NULL)
		sub->next->prev = sub;
	hub->buckets[b] = sub;
	pthread_mutex_unlock(&hub->lock);
	return sub;
}

void store_unsubscribe(struct store_subscription **subp)
{
	struct store_subscription *sub = *subp;
	struct store_hub *hub;

	if (sub == NULL)
		return;
	*subp = NULL;
	hub = sub->hub;
	if (hub != NULL) {
		pthread_mutex_lock(&hub->lock);
		if (sub->prev != NULL)
			sub->prev->next = sub->next;
		else
			hub->buckets[hub_bucket(sub->account_id)] = sub->next;
		if (sub->next != NULL)
			sub->next->prev = sub->prev;
		pthread_mutex_unlock(&hub->lock);
	}
	free(sub);
}

void store_hub_publish(struct store_hub *hub, const struct store_change *change)
{
	pthread_mutex_lock(&hub->lock);
	for (struct store_subscription *s = hub->buckets[hub_bucket(change->account_id)]; s != NULL;
	     s = s->next) {
		if (s->account_id != change->account_id)
			continue;
		if (s->mailbox_id != 0 && change->mailbox_id != 0 &&
		    s->mailbox_id != change->mailbox_id)
			continue;
		if (change->changes > s->known_changes)
			s->known_changes = change->changes;
		s->cb(change, s->ctx);
	}
	pthread_mutex_unlock(&hub->lock);
}

void store_subscription_known(struct store_subscription *sub, uint64_t changes)
{
	struct store_hub *hub = sub->hub;

	if (hub == NULL)
		return;
	pthread_mutex_lock(&hub->lock);
	if (changes > sub->known_changes)
		sub->known_changes = changes;
	pthread_mutex_unlock(&hub->lock);
}

struct recheck_item {
	int64_t account_id, mailbox_id;
	uint64_t known;
};

/*
 * The fallback for notices that never came (no server was listening, a full
 * socket queue): read the change counter of every mailbox someone watches,
 * and publish an EXTERNAL change where it moved past what its watchers know.
 * One row read per watched mailbox, outside the hub's lock.
 */
int store_recheck(struct store *store, unsigned *published_r)
{
	struct store_hub *hub = store->hub;
	struct recheck_item *items = NULL;
	size_t count = 0, cap = 0;
	unsigned published = 0;

	pthread_mutex_lock(&hub->lock);
	for (unsigned b = 0; b < HUB_BUCKETS; b++) {
		for (struct store_subscription *s = hub->buckets[b]; s != NULL; s = s->next) {
			size_t i;
			if (s->mailbox_id == 0)
				continue; /* account-wide watchers hear of every notice */
			for (i = 0; i < count; i++) {
				if (items[i].account_id == s->account_id &&
				    items[i].mailbox_id == s->mailbox_id)
					break;
			}
			if (i < count) {
				/* the least informed watcher decides */
				if (s->known_changes < items[i].known)
					items[i].known = s->known_changes;
				continue;
			}
			if (count == cap) {
				cap = cap == 0 ? 16 : cap * 2;
				items = xrealloc(items, cap * sizeof(*items));
			}
			items[count++] =
			    (struct recheck_item){s->account_id, s->mailbox_id, s->known_changes};
		}
	}
	pthread_mutex_unlock(&hub->lock);

	for (size_t i = 0; i < count; i++) {
		struct store_account *acct = NULL;
		struct store_error err;
		struct store_change change;
		bool changed = false;
		uint64_t now = 0;

		if (store_account_open(store, items[i].account_id, &acct, &err) < 0)
			continue;
		if (store_mailbox_changed_since(acct, items[i].mailbox_id, items[i].known, &changed,
		                                &now, &err) == 0 &&
		    changed) {
			memset(&change, 0, sizeof(change));
			change.account_id = items[i].account_id;
			change.mailbox_id = items[i].mailbox_id;
			change.kinds = STORE_CHANGE_EXTERNAL;
			change.changes = now;
			store_hub_publish(hub, &change);
			published++;
		}
		store_account_close(&acct);
	}
	free(items);
	if (published_r != NULL)
		*published_r = published;
	return 0;
}

char *store_control_socket_path(const char *data_dir)
{
	return xasprintf("%s/%s", data_dir, CONTROL_SOCKET_NAME);
}

int store_notify_external(const char *data_dir, int64_t account_id, int64_t mailbox_id)
{
	struct sockaddr_un sun;
	char msg[NOTIFY_MAX];
	char *path = store_control_socket_path(data_dir);
	int fd, len, ret = -1;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		free(path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	free(path);
	len = snprintf(msg, sizeof(msg), NOTIFY_PREFIX "%lld %lld\n", (long long)account_id,
	               (long long)mailbox_id);
	/* non-blocking: a server that does not read must not stall a delivery */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	if (sendto(fd, msg, (size_t)len, MSG_NOSIGNAL, (struct sockaddr *)&sun, sizeof(sun)) == len)
		ret = 0;
	close(fd);
	return ret;
}

static int parse_i64(const char **p, int64_t *num_r)
{
	const char *s = *p;
	int64_t num = 0;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (num > (INT64_MAX - 9) / 10)
			return -1;
		num = num * 10 + (*s - '0');
	}
	*p = s;
	*num_r = num;
	return 0;
}

int store_notify_feed(struct store *store, const void *msg, size_t len)
{
	char text[NOTIFY_MAX];
	struct store_change change;
	const char *p;

	if (len >= sizeof(text))
		return -1;
	memcpy(text, msg, len);
	text[len] = '\0';
	if (strncmp(text, NOTIFY_PREFIX, strlen(NOTIFY_PREFIX)) != 0)
		return -1;
	memset(&change, 0, sizeof(change));
	p = text + strlen(NOTIFY_PREFIX);
	if (parse_i64(&p, &change.account_id) < 0 || *p++ != ' ' ||
	    parse_i64(&p, &change.mailbox_id) < 0)
		return -1;
	if (*p == '\n')
		p++;
	if (*p != '\0' || change.account_id <= 0)
		return -1;
	change.kinds = STORE_CHANGE_EXTERNAL;
	store_hub_publish(store->hub, &change);
	return 0;
}
