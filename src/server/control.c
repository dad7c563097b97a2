/*
 * The control socket, DATA/control.sock: a unix datagram socket on which
 * other processes of ours (roost deliver, roost import) say that they
 * changed a mailbox. Each notice goes into the store's change hub, where the
 * sessions that have that mailbox selected learn of it at once. Notices can
 * be lost (a full queue, no server running): the sessions re-check on a
 * timer as well, so nothing depends on them.
 */
#include "server/server_private.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* notices handled per wake-up, so a flood cannot starve the loop */
#define CONTROL_BURST 64

static void control_on_readable(uv_poll_t *h, int status, int events)
{
	struct server *srv = h->data;
	char msg[256];

	if (status < 0)
		return;
	for (int i = 0; i < CONTROL_BURST; i++) {
		ssize_t n = recv(srv->control_fd, msg, sizeof(msg), 0);
		if (n < 0)
			break;
		if (store_notify_feed(srv->store, msg, (size_t)n) < 0) {
			log_warn("control: malformed notice (%zd bytes) ignored", n);
		} else if (log_get_level() >= LOG_DEBUG) {
			char *safe = str_sanitize(msg, (size_t)n, 80);
			log_debug("control: %s", safe);
			free(safe);
		}
	}
}

int control_open(struct server *srv, char **error_r)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *path = store_control_socket_path(srv->cfg->data_dir);
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		*error_r = xasprintf("%s: path too long for a unix socket", path);
		free(path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	/* a socket left by a server that did not stop cleanly */
	(void)unlink(path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(path, 0660) < 0) {
		*error_r = xasprintf("control socket %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return -1;
	}
	srv->control_fd = fd;
	srv->control_path = path;
	uv_poll_init(srv->loop, &srv->control_poll, fd);
	srv->control_poll.data = srv;
	uv_poll_start(&srv->control_poll, UV_READABLE, control_on_readable);
	return 0;
}

static void control_on_closed(uv_handle_t *h)
{
	struct server *srv = h->data;
	close(srv->control_fd);
	srv->control_fd = -1;
}

void control_close(struct server *srv)
{
	if (srv->control_path == NULL)
		return;
	uv_poll_stop(&srv->control_poll);
	uv_close((uv_handle_t *)&srv->control_poll, control_on_closed);
	(void)unlink(srv->control_path);
	free(srv->control_path);
	srv->control_path = NULL;
}
