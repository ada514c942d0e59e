#ifndef API_H
#define API_H
#include "core/core.h"
#include "store/store.h"
#include "http/http.h"
#include "model/model.h"
#include "files/files.h"
#include "template/template.h"
#include "sandbox/sandbox.h"
#include "tool/tool.h"
#include "task/task.h"
#include "app/app.h"
#include "workflow/workflow.h"
#include "chatflow/chatflow.h"
#include "dsl/dsl.h"
#endif
