/*
 * hello.c: the floor for `make bench`: the smallest useful FastCGI
 * program (libfcgi, the same thread-pool shape as ours, no work), so the
 * figures of the real endpoints read as a ratio of what the web server
 * and FastCGI cost by themselves.
 */
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

static pthread_mutex_t	lock = PTHREAD_MUTEX_INITIALIZER;

static void *
worker(void *arg)
{
	FCGX_Request	r;
	int		rc;

	(void)arg;
	FCGX_InitRequest(&r, 0, 0);
	for (;;) {
		pthread_mutex_lock(&lock);
		rc = FCGX_Accept_r(&r);
		pthread_mutex_unlock(&lock);
		if (rc < 0)
			break;
		FCGX_PutS("Status: 200 OK\r\nContent-Type: application/json\r\n"
		    "\r\n{\"hello\":\"world\"}\n", r.out);
		FCGX_Finish_r(&r);
	}
	return NULL;
}

int
main(void)
{
	const char	*env = getenv("DIFYCGI_THREADS");
	int		 i, n = env ? atoi(env) : 8;
	pthread_t	 t[64];

	if (n < 1 || n > 64)
		n = 8;
	FCGX_Init();
	/*
	 * libfcgi catches SIGTERM only to set a flag that a thread blocked
	 * in accept() never looks at: lighttpd's SIGTERM at shutdown would
	 * leave us running.
	 */
	signal(SIGTERM, SIG_DFL);
	for (i = 0; i < n; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	return 0;
}
