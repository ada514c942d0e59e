/*
 * chatflow.h: the door of lib/chatflow/, advanced-chat apps: a workflow
 * run inside a conversation.  Above both lib/app/ and lib/workflow/.
 */
#ifndef CHATFLOW_H
#define CHATFLOW_H

#include "http/http.h"

/*
 * POST /chat-messages for advanced-chat apps, after the end user check:
 * the chatflow engine (lib/chatflow/chatflow.c).
 */
int	 chatflow_messages(struct req *, struct resp *);

#endif
