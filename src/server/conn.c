/*
 * Connections: the event-loop side of one client. Bytes are read, decrypted
 * (TLS) and handed to the IMAP session; the session's commands run in the
 * libuv worker pool one at a time; its output is encrypted and written with
 * flow control. Everything here runs on the loop thread except conn_work().
 */
#include "server/server_private.h"

#include <stdlib.h>
#include <string.h>

enum conn_timer_mode {
	CONN_TIMER_IDLE,  /* no input for too long */
	CONN_TIMER_DELAY, /* holding back an answer (failed login) */
	CONN_TIMER_CLOSE, /* BYE sent; the client does not read it */
};

struct conn {
	struct conn *prev, *next;
	struct server *srv;
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_work_t work;
	unsigned id;
	char peer[64];
	char ip[48];
	bool tls_port;
	struct tls_conn *tls;
	struct imap_session *session;

	enum conn_timer_mode timer_mode;
	unsigned open_handles;
	size_t write_pending; /* bytes handed to uv_write, not yet written */
	bool exec_running;
	bool delaying;
	bool closing; /* close once the output is written */
	bool closed;  /* uv_close called (or wanted, while exec runs) */
	bool close_wanted;
	bool shutdown_wanted;
	bool reading;
	bool counted_ip;
};

struct write_req {
	uv_write_t req;
	struct conn *conn;
	size_t len;
	char data[];
};

static void conn_advance(struct conn *c);
static void conn_close(struct conn *c);
static void conn_stop_reading(struct conn *c);
static void conn_idle_timer(struct conn *c);

/* One read buffer for the whole loop: libuv calls alloc and read back to
 * back on this thread, so idle connections hold no read buffer. */
static char read_buffer[64 * 1024];

/* ---- per-IP connection counts ---- */

static unsigned ip_hash(const char *ip)
{
	unsigned h = 2166136261u;
	for (; *ip != '\0'; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h % SERVER_IP_TABLE_SIZE;
}

static struct ip_count **ip_find(struct server *srv, const char *ip)
{
	struct ip_count **p = &srv->ip_table[ip_hash(ip)];
	while (*p != NULL && strcmp((*p)->ip, ip) != 0)
		p = &(*p)->next;
	return p;
}

static unsigned ip_acquire(struct server *srv, const char *ip)
{
	struct ip_count **p = ip_find(srv, ip);
	if (*p == NULL) {
		*p = xcalloc(1, sizeof(**p));
		snprintf((*p)->ip, sizeof((*p)->ip), "%s", ip);
	}
	return ++(*p)->count;
}

static void ip_release(struct server *srv, const char *ip)
{
	struct ip_count **p = ip_find(srv, ip);
	struct ip_count *e = *p;
	if (e == NULL)
		return;
	if (--e->count == 0) {
		*p = e->next;
		free(e);
	}
}

/* ---- writing ---- */

static void conn_on_write(uv_write_t *req, int status)
{
	struct write_req *wr = (struct write_req *)req;
	struct conn *c = wr->conn;
	bool was_blocked = c->write_pending >= SERVER_OUTPUT_HIGH_WATER;

	c->write_pending -= wr->len;
	free(wr);
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->closing && c->write_pending == 0) {
		conn_close(c);
		return;
	}
	if (was_blocked && c->write_pending < SERVER_OUTPUT_HIGH_WATER)
		conn_advance(c);
}

static void conn_send_raw(struct conn *c, const char *data, size_t len)
{
	struct write_req *wr;
	uv_buf_t b;
	int r;

	if (len == 0 || c->closed)
		return;
	wr = xmalloc(sizeof(*wr) + len);
	wr->conn = c;
	wr->len = len;
	memcpy(wr->data, data, len);
	b = uv_buf_init(wr->data, (unsigned)len);
	c->write_pending += len;
	r = uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, conn_on_write);
	if (r < 0) {
		c->write_pending -= len;
		free(wr);
		conn_close(c);
	}
}

/* Whatever OpenSSL has produced (handshake, records, alerts) goes out. */
static void conn_send_tls_pending(struct conn *c)
{
	struct buf out;

	buf_init(&out);
	tls_conn_pending(c->tls, &out);
	conn_send_raw(c, out.data, out.len);
	buf_free(&out);
}

/* Send the session's output (encrypted when TLS is up). */
static void conn_flush(struct conn *c)
{
	struct buf *out;

	if (c->session == NULL)
		return;
	out = imap_session_output(c->session);
	if (out->len == 0)
		return;
	if (c->tls != NULL) {
		if (!c->tls->handshake_done)
			return; /* the greeting waits for the handshake */
		if (tls_conn_write(c->tls, out->data, out->len) < 0) {
			conn_close(c);
			return;
		}
		conn_send_tls_pending(c);
	} else {
		conn_send_raw(c, out->data, out->len);
	}
	buf_reset(out);
}

/* ---- timers ---- */

static void conn_on_timer(uv_timer_t *t)
{
	struct conn *c = t->data;

	switch (c->timer_mode) {
	case CONN_TIMER_DELAY:
		c->delaying = false;
		conn_advance(c);
		break;
	case CONN_TIMER_CLOSE:
		conn_close(c);
		break;
	case CONN_TIMER_IDLE:
		if (c->exec_running || c->delaying)
			break;
		log_info("conn %u: idle timeout", c->id);
		if ((c->tls != NULL && !c->tls->handshake_done) ||
		    c->write_pending >= SERVER_OUTPUT_HIGH_WATER) {
			/* no handshake, or a client that does not read: a
			 * BYE would never arrive */
			conn_close(c);
			break;
		}
		imap_session_bye(c->session, NULL, "Autologout; idle for too long");
		conn_advance(c);
		break;
	}
}

static void conn_timer_start(struct conn *c, enum conn_timer_mode mode, uint64_t ms)
{
	c->timer_mode = mode;
	uv_timer_start(&c->timer, conn_on_timer, ms, 0);
}

static void conn_idle_timer(struct conn *c)
{
	const struct roost_config *cfg = c->srv->cfg;
	unsigned secs = c->session != NULL && imap_session_authenticated(c->session)
	                    ? cfg->idle_timeout
	                    : cfg->preauth_timeout;
	conn_timer_start(c, CONN_TIMER_IDLE, (uint64_t)secs * 1000);
}

/* ---- closing ---- */

static void conn_on_handle_closed(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->open_handles > 0)
		return;
	imap_session_free(&c->session);
	tls_conn_free(&c->tls);
	free(c);
}

static void conn_close(struct conn *c)
{
	struct server *srv = c->srv;

	if (c->closed)
		return;
	if (c->exec_running) {
		/* the worker still uses the session: finish after it */
		c->close_wanted = true;
		return;
	}
	c->closed = true;
	const char *user = c->session != NULL ? imap_session_user(c->session) : NULL;
	log_info("conn %u: disconnect user=%s", c->id, user != NULL ? user : "-");
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	srv->conn_count--;
	if (c->counted_ip)
		ip_release(srv, c->ip);
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_on_handle_closed);
	uv_close((uv_handle_t *)&c->tcp, conn_on_handle_closed);
	if (srv->shutting_down && srv->conn_count == 0)
		uv_stop(srv->loop);
}

/* Close after the output has gone out; give up after a grace period. */
static void conn_close_after_flush(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	conn_stop_reading(c);
	if (c->write_pending == 0) {
		conn_close(c);
		return;
	}
	conn_timer_start(c, CONN_TIMER_CLOSE, SERVER_SHUTDOWN_GRACE_MS);
}

/* ---- reading ---- */

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
	*b = uv_buf_init(read_buffer, sizeof(read_buffer));
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
	struct conn *c = stream->data;

	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("conn %u: read: %s", c->id, uv_strerror((int)nread));
		conn_close(c);
		return;
	}
	if (nread == 0 || c->closing)
		return;
	if (c->tls != NULL) {
		bool was_done = c->tls->handshake_done;
		struct buf plain;

		buf_init(&plain);
		if (tls_conn_input(c->tls, b->base, (size_t)nread, &plain) < 0) {
			log_info("conn %u: TLS %s failed", c->id,
			         was_done ? "session" : "handshake");
			conn_send_tls_pending(c); /* the alert, if any */
			buf_free(&plain);
			conn_close_after_flush(c);
			return;
		}
		conn_send_tls_pending(c);
		if (!was_done && c->tls->handshake_done) {
			char desc[128];
			log_info("conn %u: TLS established: %s", c->id,
			         tls_conn_describe(c->tls, desc, sizeof(desc)));
			if (!c->tls_port)
				imap_session_tls_started(c->session);
		}
		if (plain.len > 0)
			imap_session_input(c->session, plain.data, plain.len);
		buf_free(&plain);
		if (!c->tls->handshake_done)
			return;
		if (!was_done)
			conn_flush(c); /* the greeting of an implicit-TLS connection */
	} else {
		imap_session_input(c->session, b->base, (size_t)nread);
	}
	if (c->exec_running || c->delaying || c->write_pending >= SERVER_OUTPUT_HIGH_WATER) {
		/* the command in progress (or the output) goes first; stop
		 * reading if the client piles up too much behind it */
		if (imap_session_input_pending(c->session) > SERVER_INPUT_HIGH_WATER)
			conn_stop_reading(c);
		return;
	}
	conn_advance(c);
}

static void conn_stop_reading(struct conn *c)
{
	if (c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
}

static void conn_start_reading(struct conn *c)
{
	if (c->reading || c->closing || c->closed)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) == 0)
		c->reading = true;
}

/* ---- running commands ---- */

static void conn_work(uv_work_t *w)
{
	struct conn *c = w->data;
	imap_session_exec(c->session);
}

static void conn_after_work(uv_work_t *w, int status)
{
	struct conn *c = w->data;
	unsigned delay;

	c->exec_running = false;
	if (c->close_wanted) {
		conn_close(c);
		return;
	}
	if (c->shutdown_wanted)
		imap_session_bye(c->session, NULL, "Server shutting down");
	delay = imap_session_take_delay_ms(c->session);
	if (delay > 0 && !c->shutdown_wanted) {
		c->delaying = true;
		conn_timer_start(c, CONN_TIMER_DELAY, delay);
		return;
	}
	conn_advance(c);
}

/* Let the session go as far as it can: parse, answer, run, or close. */
static void conn_advance(struct conn *c)
{
	for (;;) {
		enum imap_step step;

		if (c->closed || c->closing || c->exec_running || c->delaying)
			return;
		if (c->tls != NULL && !c->tls->handshake_done)
			return;
		if (c->write_pending >= SERVER_OUTPUT_HIGH_WATER) {
			/* the client does not read: read no more from it either,
			 * and give it the idle time to catch up (conn_on_write
			 * resumes) */
			conn_stop_reading(c);
			conn_idle_timer(c);
			return;
		}
		step = imap_session_step(c->session);
		conn_flush(c);
		if (c->closed)
			return;
		switch (step) {
		case IMAP_STEP_READ:
			imap_session_compact(c->session);
			conn_idle_timer(c);
			conn_start_reading(c);
			return;
		case IMAP_STEP_EXEC:
			uv_timer_stop(&c->timer);
			c->exec_running = true;
			c->work.data = c;
			if (uv_queue_work(c->srv->loop, &c->work, conn_work, conn_after_work) < 0) {
				c->exec_running = false;
				conn_close(c);
			}
			return;
		case IMAP_STEP_STARTTLS:
			/* the OK went out in clear above; all that follows is TLS */
			c->tls = tls_conn_new(c->srv->tls_ctx);
			conn_idle_timer(c);
			conn_start_reading(c);
			return;
		case IMAP_STEP_CLOSE:
			conn_close_after_flush(c);
			return;
		}
	}
}

/* ---- accepting ---- */

void conn_accept(struct listener *l)
{
	struct server *srv = l->srv;
	const struct roost_config *cfg = srv->cfg;
	struct conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	struct imap_conn_info info;
	const char *reject = NULL;

	c->srv = srv;
	c->id = ++srv->next_conn_id;
	c->tls_port = l->tls;
	uv_tcp_init(srv->loop, &c->tcp);
	c->tcp.data = c;
	uv_timer_init(srv->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	/* in the list from here on, so conn_close() can always unlink it */
	c->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = c;
	srv->conns = c;
	srv->conn_count++;
	if (uv_accept((uv_stream_t *)&l->tcp, (uv_stream_t *)&c->tcp) != 0) {
		conn_close(c);
		return;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	snprintf(c->ip, sizeof(c->ip), "unknown");
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET6) {
			uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
			snprintf(c->peer, sizeof(c->peer), "[%s]:%d", c->ip,
			         ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
		} else {
			uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
			snprintf(c->peer, sizeof(c->peer), "%s:%d", c->ip,
			         ntohs(((struct sockaddr_in *)&ss)->sin_port));
		}
	}
	c->counted_ip = true;
	if (ip_acquire(srv, c->ip) > cfg->max_connections_per_ip)
		reject = "Too many connections from your address";
	else if (srv->conn_count > cfg->max_connections)
		reject = "Too many connections";
	else if (srv->shutting_down)
		reject = "Server shutting down";
	log_info("conn %u: connect from %s on %s port %d%s", c->id, c->peer,
	         l->tls ? "imaps" : "imap", l->port, reject != NULL ? " (refused: limit)" : "");

	info.tls = l->tls; /* the session speaks only after the handshake */
	info.starttls_offered = !l->tls;
	info.peer = c->peer;
	info.conn_id = c->id;
	if (reject != NULL)
		c->session = imap_session_new_reject(&srv->env, &info, "UNAVAILABLE", reject);
	else
		c->session = imap_session_new(&srv->env, &info);
	if (l->tls) /* the greeting waits in the output for the handshake */
		c->tls = tls_conn_new(srv->tls_ctx);
	conn_idle_timer(c);
	conn_start_reading(c);
	if (!l->tls)
		conn_advance(c);
}

void conn_shutdown_all(struct server *srv)
{
	struct conn *c = srv->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		if (c->closed || c->closing)
			continue;
		if (c->exec_running) {
			c->shutdown_wanted = true;
			continue;
		}
		if (c->tls != NULL && !c->tls->handshake_done) {
			conn_close(c);
			continue;
		}
		imap_session_bye(c->session, NULL, "Server shutting down");
		if (c->delaying) {
			uv_timer_stop(&c->timer);
			c->delaying = false;
		}
		conn_advance(c);
	}
}

void conn_close_all(struct server *srv)
{
	struct conn *c = srv->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		conn_close(c);
	}
}
