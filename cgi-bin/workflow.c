/* workflow.c: workflow runs.  Mirrors Dify service_api/app/workflow.py
 * (WorkflowRunApi, WorkflowRunByIdApi, WorkflowRunDetailApi,
 * WorkflowTaskStopApi, WorkflowAppLogApi). */
#include "workflow/workflow.h"

static const struct route routes[] = {
	{ "POST", "/v1/workflows/run",			wf_api_run,	0 },
	{ "GET",  "/v1/workflows/run/{run_id}",		wf_api_run_detail, 0 },
	{ "POST", "/v1/workflows/tasks/{task_id}/stop",	wf_api_stop,	0 },
	{ "GET",  "/v1/workflows/logs",			wf_api_logs,	0 },
	{ "POST", "/v1/workflows/{workflow_id}/run",	wf_api_run,	0 },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "workflow.fcgi", routes);
}
