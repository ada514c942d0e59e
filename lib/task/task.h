/*
 * task.h: the door of lib/task/, what a generation does before it runs,
 * whatever runs it: its response_mode and a task slot within the app's
 * share and limit (Dify's 429 otherwise).  Below both lib/app/ and
 * lib/workflow/.
 */
#ifndef TASK_H
#define TASK_H

#include "http/http.h"

/* ---- task.c ---- */

/* The body fields chat, completion and chatflow requests check. */
extern const struct field task_request_fields[];

/* response_mode of the body: absent/null blocking; 0, or -1 with a 400. */
int	 task_response_mode(struct req *, struct resp *, int *streaming);
/* The app's limit of generations in flight (0: none). */
int	 task_max_active(const struct app *);
/*
 * Seconds between a running task's heartbeats: often enough that a task
 * is never thought dead while it runs (a third of DIFYCGI_TASK_STALE_S),
 * at most every 5 s.
 */
double	 task_beat_interval(void);
/*
 * Take a slot for a new task (a fresh task_id): within the app's share
 * of this process's threads (serve_hold), then within its limit of
 * tasks across processes (task_max_active).  0, or -1 with Dify's 429
 * too_many_requests (or a 500) in "rs".
 */
int	 task_start(struct req *, struct resp *, const struct scope *,
	    const char *kind, char task_id[UUID_LEN + 1]);

#endif
