/*
 * app.h: the door of lib/app/, the apps that answer with one model:
 * completion, chat and agent chat (gen.c: the generation pipeline,
 * agent tool rounds, conversation naming) and the app metadata bodies
 * (appinfo.c), and the datasets of the Knowledge API (dataset.c).
 */
#ifndef APP_H
#define APP_H

#include "model/model.h"
#include "files/files.h"
#include "tool/tool.h"
#include "task/task.h"

/* ---- gen.c ---- */

/* Handlers of the generation endpoints (chat.fcgi, completion.fcgi). */
int	 gen_chat_messages(struct req *, struct resp *);
int	 gen_completion_messages(struct req *, struct resp *);
int	 gen_stop(struct req *, struct resp *, int chat);
/*
 * Name a new conversation from its first query with the app's model,
 * off the request's thread (serve_defer): the client and the worker do
 * not wait for the model.  The job copies what it needs; when it fails
 * or is dropped the conversation keeps its default name.
 */
void	 gen_name_later(struct req *, const char *conversation_id,
	    const char *query);
/* Generate a conversation title from its first query; "" on failure. */
char	*gen_conversation_title(struct req *, const char *query);

/* ---- appinfo.c: app metadata bodies (shared by app.fcgi and tests) ---- */

json_object *appinfo_info(const struct app *);
json_object *appinfo_parameters(const struct app *);
json_object *appinfo_site(const struct app *);
json_object *appinfo_meta(const struct app *);
int	 app_configured(struct db *, const struct app *);

/* ---- dataset.c: /v1/datasets (ROUTE_DATASET routes of app.fcgi) ---- */

int	 dataset_list(struct req *, struct resp *);
int	 dataset_create(struct req *, struct resp *);
int	 dataset_get(struct req *, struct resp *);
int	 dataset_update(struct req *, struct resp *);
int	 dataset_delete(struct req *, struct resp *);

#endif
