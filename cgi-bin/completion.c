/* completion.c: completion messages.  Mirrors Dify
 * service_api/app/completion.py (CompletionApi, CompletionStopApi). */
#include "app/app.h"

static int	create(struct req *, struct resp *);
static int	stop(struct req *, struct resp *);

static const struct route routes[] = {
	{ "POST", "/v1/completion-messages",			create,	0 },
	{ "POST", "/v1/completion-messages/{task_id}/stop",	stop,	0 },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "completion.fcgi", routes);
}

static int
create(struct req *rq, struct resp *rs)
{
	return gen_completion_messages(rq, rs);
}

static int
stop(struct req *rq, struct resp *rs)
{
	return gen_stop(rq, rs, 0);
}
