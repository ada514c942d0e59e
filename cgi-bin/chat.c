/* chat.c: chat messages.  Mirrors Dify service_api/app/completion.py
 * (ChatApi, ChatStopApi): chat, agent-chat and advanced-chat apps. */
#include <string.h>

#include "app/app.h"
#include "chatflow/chatflow.h"

static int	create(struct req *, struct resp *);
static int	stop(struct req *, struct resp *);

static const struct route routes[] = {
	{ "POST", "/v1/chat-messages",			create,	0 },
	{ "POST", "/v1/chat-messages/{task_id}/stop",	stop,	0 },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "chat.fcgi", routes);
}

static int
create(struct req *rq, struct resp *rs)
{
	/* the end user comes before the mode check, as in Dify */
	if (auth_end_user(rq, rs, 'j', 1) == -1)
		return -1;
	if (strcmp(rq->app.mode, "advanced-chat") == 0)
		return chatflow_messages(rq, rs);
	return gen_chat_messages(rq, rs);
}

static int
stop(struct req *rq, struct resp *rs)
{
	return gen_stop(rq, rs, 1);
}
