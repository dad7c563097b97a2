/*
 * The server process: data dir, account db, certificate, listeners, the
 * drop of privileges, signals and the event loop.
 */
#include "server/server_private.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int mkdir_p(const char *path, mode_t mode, char **error_r)
{
	char *tmp = xstrdup(path);

	for (char *p = tmp + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST) {
			*error_r = xasprintf("mkdir %s: %s", tmp, strerror(errno));
			free(tmp);
			return -1;
		}
		*p = '/';
	}
	free(tmp);
	if (mkdir(path, mode) < 0 && errno != EEXIST) {
		*error_r = xasprintf("mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Bind first, then become the unprivileged account of [server] user/group. */
static int drop_privileges(const struct roost_config *cfg, char **error_r)
{
	static const char *const owned[] = {"", "/spool", "/roost.db", "/roost.db-wal",
	                                    "/roost.db-shm"};
	uid_t uid;
	gid_t gid;
	int r = proc_lookup_user(cfg->user, cfg->group, &uid, &gid, error_r);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (getuid() == uid && geteuid() == uid)
		return 0;
	/* the data the server writes must stay its own after the drop */
	for (size_t i = 0; i < ARRAY_SIZE(owned); i++) {
		char *f = xasprintf("%s%s", cfg->data_dir, owned[i]);
		if (chown(f, uid, gid) < 0 && errno != ENOENT) {
			*error_r = xasprintf("chown %s: %s", f, strerror(errno));
			free(f);
			return -1;
		}
		free(f);
	}
	if (proc_set_ids(uid, gid, error_r) < 0)
		return -1;
	log_info("running as user %s (uid %u, gid %u)", cfg->user, (unsigned)uid, (unsigned)gid);
	return 0;
}

static void server_on_sighup(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;
	char *error = NULL;
	SSL_CTX *ctx = tls_ctx_new(srv->cfg->tls_cert, srv->cfg->tls_key, &error);

	if (ctx == NULL) {
		log_err("SIGHUP: keeping the old certificate: %s", error);
		free(error);
		return;
	}
	/* connections hold a reference to the context they started with */
	SSL_CTX_free(srv->tls_ctx);
	srv->tls_ctx = ctx;
	log_info("SIGHUP: certificate reloaded from %s", srv->cfg->tls_cert);
}

static void server_recheck_work(uv_work_t *w)
{
	struct server *srv = w->data;
	unsigned published = 0;

	store_recheck(srv->store, &published);
	if (published > 0)
		log_debug("recheck: %u mailboxes changed by other processes", published);
}

static void server_recheck_done(uv_work_t *w, int status)
{
	struct server *srv = w->data;
	srv->recheck_running = false;
}

/* The fallback for lost change notices (control.c), off the loop thread. */
static void server_on_recheck_timer(uv_timer_t *t)
{
	struct server *srv = t->data;

	if (srv->recheck_running || srv->shutting_down)
		return;
	srv->recheck_work.data = srv;
	if (uv_queue_work(srv->loop, &srv->recheck_work, server_recheck_work,
	                  server_recheck_done) == 0)
		srv->recheck_running = true;
}

static void server_on_shutdown_timer(uv_timer_t *t)
{
	struct server *srv = t->data;
	log_warn("shutdown: %u connections did not close in time", srv->conn_count);
	uv_stop(srv->loop);
}

static void server_on_sigterm(uv_signal_t *h, int signum)
{
	struct server *srv = h->data;

	if (srv->shutting_down) {
		log_warn("second signal: stopping now");
		uv_stop(srv->loop);
		return;
	}
	log_info("signal %d: shutting down, %u connections", signum, srv->conn_count);
	srv->shutting_down = true;
	listeners_close(srv);
	control_close(srv);
	uv_timer_stop(&srv->recheck_timer);
	conn_shutdown_all(srv);
	if (srv->conn_count == 0) {
		uv_stop(srv->loop);
		return;
	}
	uv_timer_start(&srv->shutdown_timer, server_on_shutdown_timer,
	               SERVER_SHUTDOWN_GRACE_MS + 1000, 0);
}

int server_new(const struct roost_config *cfg, struct server **srv_r, char **error_r)
{
	struct server *srv = xcalloc(1, sizeof(*srv));
	struct auth_hash_params params = {cfg->argon2_ops, cfg->argon2_mem_kib};
	char workers[16];

	srv->control_fd = -1;

	*srv_r = srv;
	srv->cfg = cfg;
	/* libuv's pool is the worker pool; its size is read at first use */
	snprintf(workers, sizeof(workers), "%u", cfg->workers);
	setenv("UV_THREADPOOL_SIZE", workers, 1);
	signal(SIGPIPE, SIG_IGN);
	{
		/* one descriptor per connection: allow as many as we may */
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}

	if (config_check(cfg, error_r) < 0)
		return -1;
	if (mkdir_p(cfg->data_dir, 0700, error_r) < 0)
		return -1;
	srv->spool_dir = xasprintf("%s/spool", cfg->data_dir);
	if (mkdir_p(srv->spool_dir, 0700, error_r) < 0)
		return -1;
	srv->tls_ctx = tls_ctx_new(cfg->tls_cert, cfg->tls_key, error_r);
	if (srv->tls_ctx == NULL)
		return -1;
	if (auth_db_open(cfg->data_dir, &params, &srv->auth, error_r) < 0)
		return -1;
	if (auth_db_prepare_logins(srv->auth) < 0) {
		*error_r = xstrdup("cannot make password hashes: see [auth] argon2_*");
		return -1;
	}
	srv->env.cfg = cfg;
	srv->env.auth = srv->auth;
	srv->env.spool_dir = srv->spool_dir;

	srv->loop = xmalloc(sizeof(*srv->loop));
	uv_loop_init(srv->loop);
	if (listeners_open(srv, error_r) < 0)
		return -1;
	if (drop_privileges(cfg, error_r) < 0)
		return -1;
	/* after the drop: what the store creates belongs to the server */
	{
		struct store_error err;
		if (store_open(cfg->data_dir, NULL, &srv->store, &err) < 0) {
			*error_r = xasprintf("store: %s", err.text);
			return -1;
		}
	}
	if (control_open(srv, error_r) < 0)
		return -1;
	srv->env.store = srv->store;

	uv_signal_init(srv->loop, &srv->sig_hup);
	uv_signal_init(srv->loop, &srv->sig_term);
	uv_signal_init(srv->loop, &srv->sig_int);
	uv_timer_init(srv->loop, &srv->shutdown_timer);
	uv_timer_init(srv->loop, &srv->recheck_timer);
	srv->recheck_timer.data = srv;
	uv_timer_start(&srv->recheck_timer, server_on_recheck_timer, SERVER_RECHECK_MS,
	               SERVER_RECHECK_MS);
	srv->sig_hup.data = srv->sig_term.data = srv->sig_int.data = srv;
	srv->shutdown_timer.data = srv;
	uv_signal_start(&srv->sig_hup, server_on_sighup, SIGHUP);
	uv_signal_start(&srv->sig_term, server_on_sigterm, SIGTERM);
	uv_signal_start(&srv->sig_int, server_on_sigterm, SIGINT);
	srv->handles_ready = true;
	return 0;
}

int server_run(struct server *srv)
{
	log_info("roost %s ready", ROOST_VERSION);
	uv_run(srv->loop, UV_RUN_DEFAULT);
	log_info("stopped");
	return 0;
}

int server_port(const struct server *srv, bool tls)
{
	for (size_t i = 0; i < srv->listener_count; i++) {
		if (srv->listeners[i]->tls == tls)
			return srv->listeners[i]->port;
	}
	return 0;
}

void server_free(struct server **srvp)
{
	struct server *srv = *srvp;

	if (srv == NULL)
		return;
	*srvp = NULL;
	if (srv->loop != NULL) {
		/* connections past the grace period are closed (one whose
		 * command still runs closes when it returns), then every other
		 * handle, and the loop runs until all of them are gone */
		listeners_close(srv);
		control_close(srv);
		conn_close_all(srv);
		if (srv->handles_ready) {
			uv_close((uv_handle_t *)&srv->sig_hup, NULL);
			uv_close((uv_handle_t *)&srv->sig_term, NULL);
			uv_close((uv_handle_t *)&srv->sig_int, NULL);
			uv_close((uv_handle_t *)&srv->shutdown_timer, NULL);
			uv_close((uv_handle_t *)&srv->recheck_timer, NULL);
		}
		/* a closing connection may stop the loop (conn_close during
		 * shutdown): run until nothing is left, close callbacks too */
		while (uv_loop_alive(srv->loop))
			uv_run(srv->loop, UV_RUN_DEFAULT);
		uv_loop_close(srv->loop);
		free(srv->loop);
	}
	for (size_t i = 0; i < SERVER_IP_TABLE_SIZE; i++) {
		while (srv->ip_table[i] != NULL) {
			struct ip_count *e = srv->ip_table[i];
			srv->ip_table[i] = e->next;
			free(e);
		}
	}
	free(srv->listeners);
	auth_db_close(&srv->auth);
	store_close(&srv->store);
	SSL_CTX_free(srv->tls_ctx);
	free(srv->spool_dir);
	free(srv);
}
