/* Listeners: one libuv TCP handle per configured address:port. */
#include "server/server_private.h"

#include <stdlib.h>
#include <string.h>

static void listener_on_connection(uv_stream_t *stream, int status)
{
	struct listener *l = stream->data;

	if (status < 0) {
		log_warn("accept on %s:%d: %s", l->addr, l->port, uv_strerror(status));
		return;
	}
	conn_accept(l);
}

static int listener_open(struct server *srv, const char *spec, bool tls, char **error_r)
{
	struct listener *l;
	struct sockaddr_storage ss;
	char *host;
	int port, r;

	if (net_parse_hostport(spec, &host, &port) < 0) {
		*error_r = xasprintf("bad listen address \"%s\"", spec);
		return -1;
	}
	if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
	    uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
		*error_r = xasprintf("bad listen address \"%s\": not an IP address", spec);
		free(host);
		return -1;
	}
	l = xcalloc(1, sizeof(*l));
	l->srv = srv;
	l->tls = tls;
	l->addr = host;
	uv_tcp_init(srv->loop, &l->tcp);
	l->tcp.data = l;
	/* [::] next to 0.0.0.0 on the same port: each family its own socket */
	r = uv_tcp_bind(&l->tcp, (const struct sockaddr *)&ss,
	                ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&l->tcp, 511, listener_on_connection);
	if (r != 0) {
		*error_r = xasprintf("cannot listen on %s: %s", spec, uv_strerror(r));
		srv->listeners =
		    xrealloc(srv->listeners, (srv->listener_count + 1) * sizeof(*srv->listeners));
		srv->listeners[srv->listener_count++] = l; /* closed with the others */
		return -1;
	}
	{
		struct sockaddr_storage bound;
		int len = sizeof(bound);
		uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &len);
		l->port =
		    ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
		                                      : ((struct sockaddr_in *)&bound)->sin_port);
	}
	srv->listeners =
	    xrealloc(srv->listeners, (srv->listener_count + 1) * sizeof(*srv->listeners));
	srv->listeners[srv->listener_count++] = l;
	if (strchr(l->addr, ':') != NULL)
		log_info("listening on [%s]:%d (%s)", l->addr, l->port, tls ? "imaps" : "imap");
	else
		log_info("listening on %s:%d (%s)", l->addr, l->port, tls ? "imaps" : "imap");
	return 0;
}

int listeners_open(struct server *srv, char **error_r)
{
	const struct roost_config *cfg = srv->cfg;

	for (size_t i = 0; i < cfg->imap_listen_count; i++) {
		if (listener_open(srv, cfg->imap_listen[i], false, error_r) < 0)
			return -1;
	}
	for (size_t i = 0; i < cfg->imaps_listen_count; i++) {
		if (listener_open(srv, cfg->imaps_listen[i], true, error_r) < 0)
			return -1;
	}
	if (srv->listener_count == 0) {
		*error_r = xstrdup("no listeners: [imap] and [imaps] listen are both empty");
		return -1;
	}
	return 0;
}

static void listener_on_close(uv_handle_t *h)
{
	struct listener *l = h->data;
	free(l->addr);
	free(l);
}

void listeners_close(struct server *srv)
{
	for (size_t i = 0; i < srv->listener_count; i++)
		uv_close((uv_handle_t *)&srv->listeners[i]->tcp, listener_on_close);
	free(srv->listeners);
	srv->listeners = NULL;
	srv->listener_count = 0;
}
