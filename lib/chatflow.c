/*
 * chatflow.c: POST /chat-messages for advanced-chat apps.  The workflow
 * engine is not in this tree yet, so a chatflow app cannot answer: it
 * gets Dify's answer for an app without a usable workflow.
 */
#include "api.h"

int
gen_chatflow(struct req *rq, struct resp *rs)
{
	(void)rq;
	return resp_error(rs, ERR_APP_UNAVAILABLE);
}
