/*
 * serve.c: running a program.  Under a FastCGI server: a pool of worker
 * threads, each with its own SQLite connection, taking turns in
 * FCGX_Accept_r; SIGTERM or SIGINT lets requests in flight finish, then
 * the workers stop at their next accept (a second signal exits at once).
 * Started as plain CGI (fd 0 is not a socket): one request from the
 * environment, stdin and stdout.  Every request goes through serve_one().
 *
 * Two things keep one app from starving the others of a process's
 * threads.  A generation holds its worker for its app (serve_hold) only
 * within the app's share of the threads and outside the reserve kept for
 * short requests such as a stop; the process knows exactly what its own
 * threads are doing, which no shared count could.  And work the client
 * does not wait for (naming a conversation: a second model call) runs on
 * one background thread per process with a bounded queue (serve_defer),
 * not on the worker that served the reply.
 */
#include <errno.h>
#include <fcntl.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>

#include "http/http.h"

extern char	**environ;

struct worker {
	pthread_t		 tid;
	int			 n;
	atomic_int		 in_accept;
	atomic_int		 done;
	const char		*prog;
	const struct route	*routes;
	char			 holds[UUID_LEN + 1];	/* app, or "" */
};

/* A job of the background thread (serve_defer). */
struct job {
	void	(*fn)(struct db *, void *);
	void	*arg;
	char	 reqid[9];
};

/* A job deferred to after the reply under plain CGI. */
struct after_job {
	void			(*fn)(struct db *, void *);
	void			*arg;
	struct after_job	*next;
};

static pthread_mutex_t	 accept_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int	 stopping;

/*
 * The process's workers, for serve_hold: the array is set before any
 * worker starts, the holds fields are under hold_lock.  Each worker
 * knows itself through "self" (NULL outside the pool).
 */
static pthread_mutex_t	 hold_lock = PTHREAD_MUTEX_INITIALIZER;
static struct worker	*workers;
static int		 nworkers;
static __thread struct worker	*self;

/*
 * The background queue: a ring of cfg->background_queue jobs under
 * bg_lock, served by one thread that runs only while the pool does.
 */
static pthread_mutex_t	 bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 bg_cond = PTHREAD_COND_INITIALIZER;
static struct job	*bg_ring;
static int		 bg_head, bg_len, bg_running;
static atomic_int	 bg_stopping;

/* ---- the two transports ---- */

static int
fcgx_read(void *ctx, char *p, int n)
{
	return FCGX_GetStr(p, n, ((FCGX_Request *)ctx)->in);
}

static int
fcgx_write(void *ctx, const char *p, int n)
{
	return FCGX_PutStr(p, n, ((FCGX_Request *)ctx)->out) == n ? n : -1;
}

static int
fcgx_flush(void *ctx)
{
	FCGX_Stream	*out = ((FCGX_Request *)ctx)->out;

	return FCGX_FFlush(out) == 0 && !FCGX_HasSeenEOF(out) &&
	    FCGX_GetError(out) == 0 ? 0 : -1;
}

static int
cgi_read(void *ctx, char *p, int n)
{
	(void)ctx;
	return (int)fread(p, 1, (size_t)n, stdin);
}

static int
cgi_write(void *ctx, const char *p, int n)
{
	(void)ctx;
	return fwrite(p, 1, (size_t)n, stdout) == (size_t)n ? n : -1;
}

static int
cgi_flush(void *ctx)
{
	(void)ctx;
	return fflush(stdout) == 0 && !ferror(stdout) ? 0 : -1;
}

/*
 * Read what is left of the request body: Apache's mod_cgi writes the
 * whole body before it reads the reply, and a CGI that exits without
 * reading it (a refused 413) leaves Apache with a broken pipe and the
 * client with no answer.
 */
static void
cgi_drain(void)
{
	char	chunk[65536];
	size_t	total = 0;

	while (total < ((size_t)1 << 30) &&
	    fread(chunk, 1, sizeof(chunk), stdin) == sizeof(chunk))
		total += sizeof(chunk);
}

/* End the reply early: the web server sees the end of our output. */
static void
cgi_finish(void *ctx)
{
	int	fd;

	(void)ctx;
	cgi_drain();
	fflush(stdout);
	/* mod_cgid hands one socket as stdin and stdout: end it for both */
	shutdown(STDOUT_FILENO, SHUT_WR);
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
}

/* ---- fair share and deferred work ---- */

int
serve_hold(const char *app_id, int *limit)
{
	struct worker	*w = self;
	int		 share, cap, mine = 0, busy = 0, i, rc;

	*limit = 0;
	if (w == NULL)
		return SERVE_HOLD_OK;
	share = nworkers * cfg->app_share_percent / 100;
	if (share < 1)
		share = 1;
	/* at least one thread for generations, whatever the reserve */
	cap = nworkers - cfg->reserved_threads;
	if (cap < 1)
		cap = 1;
	pthread_mutex_lock(&hold_lock);
	for (i = 0; i < nworkers; i++) {
		if (&workers[i] == w || workers[i].holds[0] == '\0')
			continue;
		busy++;
		if (strcmp(workers[i].holds, app_id) == 0)
			mine++;
	}
	if (mine >= share) {
		rc = SERVE_HOLD_APP;
		*limit = share;
	} else if (busy >= cap) {
		rc = SERVE_HOLD_FULL;
		*limit = mine;
	} else {
		rc = SERVE_HOLD_OK;
		*limit = share;
		snprintf(w->holds, sizeof(w->holds), "%s", app_id);
	}
	pthread_mutex_unlock(&hold_lock);
	return rc;
}

static void
release_hold(struct worker *w)
{
	pthread_mutex_lock(&hold_lock);
	w->holds[0] = '\0';
	pthread_mutex_unlock(&hold_lock);
}

int
serve_stopping(void)
{
	return bg_stopping;
}

/* Plain CGI: the deferred jobs of this request, after its reply. */
static void
run_after_jobs(struct req *rq)
{
	struct after_job	*j;

	for (j = rq->after_arg; j != NULL; j = j->next) {
		j->fn(rq->db, j->arg);
		free(j->arg);
	}
}

int
serve_defer(struct req *rq, void (*fn)(struct db *, void *), void *arg)
{
	struct after_job	*aj;
	struct job		*j;
	int			 rc = -1;

	pthread_mutex_lock(&bg_lock);
	if (!bg_running) {
		pthread_mutex_unlock(&bg_lock);
		if (rq->after != NULL && rq->after != run_after_jobs) {
			log_error("deferred work: the request has other "
			    "after-work; job dropped");
			free(arg);
			return -1;
		}
		aj = pool_alloc(&rq->pool, sizeof(*aj));
		aj->fn = fn;
		aj->arg = arg;
		aj->next = rq->after_arg;
		rq->after = run_after_jobs;
		rq->after_arg = aj;
		return 0;
	}
	if (!bg_stopping && bg_len < cfg->background_queue) {
		j = &bg_ring[(bg_head + bg_len) % cfg->background_queue];
		j->fn = fn;
		j->arg = arg;
		snprintf(j->reqid, sizeof(j->reqid), "%s", rq->reqid);
		bg_len++;
		pthread_cond_signal(&bg_cond);
		rc = 0;
	}
	pthread_mutex_unlock(&bg_lock);
	if (rc == -1) {
		log_warn("background queue full (%d jobs) or stopping: job "
		    "dropped", cfg->background_queue);
		free(arg);
	}
	return rc;
}

static void *
background_main(void *arg)
{
	struct db	*db;
	struct job	 j;
	int		 dropped;

	(void)arg;
	db = db_open_default();
	for (;;) {
		pthread_mutex_lock(&bg_lock);
		while (bg_len == 0 && !bg_stopping) {
			struct timespec	 until;

			/*
			 * idle: every DIFYCGI_TASK_STALE_S, give a final
			 * status to generations whose process (on any node)
			 * died, so a listing shows them ended without
			 * waiting for the next generation to start
			 */
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += cfg->task_stale_s;
			if (pthread_cond_timedwait(&bg_cond, &bg_lock,
			    &until) == ETIMEDOUT && bg_len == 0 &&
			    !bg_stopping) {
				pthread_mutex_unlock(&bg_lock);
				if (db == NULL)
					db = db_open_default();
				if (db != NULL && db_sweep_stale(db,
				    cfg->task_stale_s) > 0)
					log_info("gave a final status to "
					    "generations of a dead process");
				pthread_mutex_lock(&bg_lock);
			}
		}
		if (bg_stopping) {
			pthread_mutex_unlock(&bg_lock);
			break;
		}
		j = bg_ring[bg_head];
		bg_head = (bg_head + 1) % cfg->background_queue;
		bg_len--;
		pthread_mutex_unlock(&bg_lock);
		log_set_request(j.reqid);
		if (db == NULL)
			db = db_open_default();	/* try again */
		if (db != NULL)
			j.fn(db, j.arg);
		free(j.arg);
		log_set_request(NULL);
	}
	/* stopping: what has not started is dropped (it was optional) */
	pthread_mutex_lock(&bg_lock);
	for (dropped = 0; bg_len > 0; dropped++, bg_len--) {
		free(bg_ring[bg_head].arg);
		bg_head = (bg_head + 1) % cfg->background_queue;
	}
	pthread_mutex_unlock(&bg_lock);
	if (dropped > 0)
		log_info("stopping: %d background jobs not run", dropped);
	db_close(db);
	return NULL;
}

/* ---- one request ---- */

static void
preflight(struct req *rq, struct resp *rs)
{
	resp_empty(rs, 200);
	resp_header(rs, "Access-Control-Allow-Headers",
	    "Content-Type, Authorization, X-App-Code");
	resp_header(rs, "Access-Control-Allow-Methods",
	    "GET, PUT, POST, DELETE, OPTIONS, PATCH");
	resp_header(rs, "Access-Control-Max-Age", "86400");
	(void)rq;
}

void
serve_one(struct io *io, struct db *db, const char *prog,
    const struct route *routes)
{
	struct req		 rq;
	struct resp		 rs;
	const struct route	*r = NULL;
	const char		*cl;
	unsigned char		 rid[4];
	long long		 len;

	memset(&rq, 0, sizeof(rq));
	rq.io = *io;
	rq.db = db;
	rq.prog = prog;
	rq.started = now_mono();
	random_bytes(rid, sizeof(rid));
	snprintf(rq.reqid, sizeof(rq.reqid), "%02x%02x%02x%02x", rid[0],
	    rid[1], rid[2], rid[3]);
	log_set_request(rq.reqid);
	resp_init(&rs);

	rq.method = req_env(&rq, "REQUEST_METHOD");
	if (rq.method == NULL)
		rq.method = "GET";
	rq.path = req_derive_path(&rq.pool, req_env(&rq, "SCRIPT_NAME"),
	    req_env(&rq, "PATH_INFO"), req_env(&rq, "REQUEST_URI"));
	rq.query = req_env(&rq, "QUERY_STRING");
	rq.content_type = req_env(&rq, "CONTENT_TYPE");
	cl = req_env(&rq, "CONTENT_LENGTH");
	rq.content_length = -1;
	if (cl != NULL && *cl != '\0') {
		if (parse_int(cl, 0, (long long)1 << 50, &len) == 0)
			rq.content_length = len;
	}
	if (rq.content_length < 0)
		rq.content_length = 0;	/* FastCGI servers always send it */

	if (strcmp(rq.method, "OPTIONS") == 0)
		preflight(&rq, &rs);
	else if (db == NULL)
		resp_error(&rs, ERR_INTERNAL);
	else {
		switch (route_match(routes, &rq, rq.method, rq.path, &r)) {
		case ROUTE_NO_PATH:
			resp_error(&rs, ERR_NOT_FOUND);
			break;
		case ROUTE_NO_METHOD:
			resp_error(&rs, ERR_METHOD_NOT_ALLOWED);
			break;
		default:
			if ((r->flags & ROUTE_NOAUTH) ||
			    ((r->flags & ROUTE_DATASET) ?
			    auth_dataset_request(&rq, &rs) :
			    auth_request(&rq, &rs)) == 0)
				r->handler(&rq, &rs);
		}
	}
	if (!rs.committed && rs.status >= 500)
		log_error("%s %s -> %d", rq.method, rq.path, rs.status);
	resp_finish(&rq, &rs);
	if (rq.after != NULL) {
		if (io->finish != NULL)
			io->finish(io->ctx);
		rq.after(&rq);
	}
	if (rq.have_app)
		app_release(&rq.app);
	json_object_put(rq.body);
	buf_free(&rq.raw);
	resp_free(&rs);
	pool_free_all(&rq.pool);
	log_set_request(NULL);
}

/* ---- FastCGI workers ---- */

static void
on_usr1(int sig)
{
	(void)sig;	/* only here to interrupt accept() */
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	FCGX_Request	 fr;
	struct db	*db;
	struct io	 io;
	int		 rc;

	self = w;
	db = NULL;	/* opened on the first request: idle threads hold none */
	if (FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_error("worker %d: FCGX_InitRequest failed", w->n);
		db_close(db);
		w->done = 1;
		return NULL;
	}
	while (!stopping) {
		pthread_mutex_lock(&accept_lock);
		if (stopping) {
			pthread_mutex_unlock(&accept_lock);
			break;
		}
		w->in_accept = 1;
		rc = FCGX_Accept_r(&fr);
		w->in_accept = 0;
		pthread_mutex_unlock(&accept_lock);
		if (rc < 0) {
			if (stopping)
				break;
			log_warn("accept: %d", rc);
			continue;
		}
		if (db == NULL)
			db = db_open_default();	/* try again */
		io.ctx = &fr;
		io.read = fcgx_read;
		io.write = fcgx_write;
		io.flush = fcgx_flush;
		io.finish = (void (*)(void *))FCGX_Finish_r;
		io.envp = fr.envp;
		serve_one(&io, db, w->prog, w->routes);
		release_hold(w);
		FCGX_Finish_r(&fr);
	}
	FCGX_Free(&fr, 0);
	db_close(db);
	w->done = 1;
	return NULL;
}

static int
run_fastcgi(const char *prog, const struct route *routes)
{
	struct worker		*ws;
	struct sigaction	 sa;
	sigset_t		 set;
	struct timespec		 tick = { 0, 100 * 1000 * 1000 };
	pthread_t		 bg_tid;
	int			 i, sig, alive;

	if (FCGX_Init() != 0) {
		log_error("FCGX_Init failed");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;	/* no SA_RESTART: accept must fail */
	sigaction(SIGUSR1, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	ws = xcalloc((size_t)cfg->threads, sizeof(*ws));
	workers = ws;
	nworkers = cfg->threads;
	bg_ring = xcalloc((size_t)cfg->background_queue, sizeof(*bg_ring));
	if (pthread_create(&bg_tid, NULL, background_main, NULL) != 0) {
		log_error("pthread_create failed");
		return 1;
	}
	bg_running = 1;
	for (i = 0; i < cfg->threads; i++) {
		ws[i].n = i;
		ws[i].prog = prog;
		ws[i].routes = routes;
		if (pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) != 0) {
			log_error("pthread_create failed");
			return 1;
		}
	}
	while ((sig = sigwaitinfo(&set, NULL)) < 0 && errno == EINTR)
		;
	log_info("signal %d: finishing requests in flight", sig);
	stopping = 1;
	FCGX_ShutdownPending();
	for (;;) {
		alive = 0;
		for (i = 0; i < cfg->threads; i++) {
			if (ws[i].done)
				continue;
			alive++;
			if (ws[i].in_accept)
				pthread_kill(ws[i].tid, SIGUSR1);
		}
		if (alive == 0)
			break;
		if (sigtimedwait(&set, NULL, &tick) > 0) {
			log_warn("second signal: exiting now");
			_exit(1);
		}
	}
	for (i = 0; i < cfg->threads; i++)
		pthread_join(ws[i].tid, NULL);
	/* no request can defer work now: the background thread ends */
	pthread_mutex_lock(&bg_lock);
	bg_stopping = 1;
	pthread_cond_signal(&bg_cond);
	pthread_mutex_unlock(&bg_lock);
	pthread_join(bg_tid, NULL);
	free(bg_ring);
	free(ws);
	log_info("stopped");
	return 0;
}

/* ---- CGI ---- */

static int
run_cgi(const char *prog, const struct route *routes)
{
	struct db	*db;
	struct io	 io;

	db = db_open_default();
	if (db != NULL && db_migrate(db) == -1) {
		db_close(db);
		db = NULL;
	}
	memset(&io, 0, sizeof(io));
	io.read = cgi_read;
	io.write = cgi_write;
	io.flush = cgi_flush;
	io.finish = cgi_finish;
	io.envp = environ;
	serve_one(&io, db, prog, routes);
	cgi_drain();
	fflush(stdout);
	db_close(db);
	return 0;
}

static void
usage(const char *prog, FILE *f)
{
	fprintf(f, "usage: %s [--help | --version]\n"
	    "A FastCGI program of difycgi, the Dify Service API in C.\n"
	    "Run it under a web server: as FastCGI (lighttpd mod_fastcgi,\n"
	    "Apache mod_fcgid, spawn-fcgi) or as plain CGI.  Configuration\n"
	    "comes from DIFYCGI_* environment variables (see README).\n",
	    prog);
}

int
serve_main(int argc, char *argv[], const char *prog,
    const struct route *routes)
{
	struct db	*db;

	if (argc > 1) {
		if (strcmp(argv[1], "--version") == 0) {
			printf("%s (difycgi) %s\n", prog, DIFYCGI_VERSION);
			return 0;
		}
		usage(prog, strcmp(argv[1], "--help") == 0 ? stdout : stderr);
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	log_init(prog);
	signal(SIGPIPE, SIG_IGN);
	if (config_load() == -1)
		return 1;
	if (FCGX_IsCGI()) {
		if (getenv("REQUEST_METHOD") == NULL) {
			usage(prog, stderr);
			return 2;
		}
		return run_cgi(prog, routes);
	}
	/* migrate once per process, before any worker serves */
	db = db_open_default();
	if (db == NULL || db_migrate(db) == -1)
		log_error("database %s not ready; requests will fail",
		    db_config_where());
	else if (db_sweep_stale(db, cfg->task_stale_s) > 0)
		log_info("gave a final status to generations of a killed "
		    "process");
	db_close(db);
	return run_fastcgi(prog, routes);
}
