/*
 * errors.c: every Dify error this API gives, status, code and default
 * message exactly as Dify (and Werkzeug, for the generic ones) spell them.
 * Handlers name an entry; none spells a status or message itself.
 */
#include "http/http.h"

#define WZ_403	"You don't have the permission to access the requested " \
		"resource. It is either read-protected or not readable by " \
		"the server."
#define WZ_404	"The requested URL was not found on the server. If you " \
		"entered the URL manually please check your spelling and try " \
		"again."
#define WZ_500	"The server encountered an internal error and was unable " \
		"to complete your request. Either the server is overloaded " \
		"or there is an error in the application."
#define MODE_MISMATCH	"Please check if your app mode matches the right " \
		"API route."

const struct err_info err_table[ERR__MAX] = {
	[ERR_BAD_JSON] = { 400, "bad_request",
	    "Invalid JSON payload received or JSON payload is empty." },
	[ERR_UNSUPPORTED_MEDIA] = { 415, "unsupported_media_type",
	    "Did not attempt to load JSON data because the request "
	    "Content-Type was not 'application/json'." },
	[ERR_INVALID_PARAM] = { 400, "invalid_param", "" },
	[ERR_BAD_REQUEST] = { 400, "bad_request",
	    "The browser (or proxy) sent a request that this server could "
	    "not understand." },
	[ERR_USER_REQUIRED] = { 400, "invalid_param",
	    "Arg user must be provided." },
	[ERR_APP_UNAVAILABLE] = { 400, "app_unavailable",
	    "App unavailable, please check your app configurations." },
	[ERR_NOT_CHAT_APP] = { 400, "not_chat_app", MODE_MISMATCH },
	[ERR_NOT_WORKFLOW_APP] = { 400, "not_workflow_app", MODE_MISMATCH },
	[ERR_CONVERSATION_COMPLETED] = { 400, "conversation_completed",
	    "The conversation has ended. Please start a new conversation." },
	[ERR_PROVIDER_NOT_INITIALIZE] = { 400, "provider_not_initialize",
	    "No valid model provider credentials found. Please go to "
	    "Settings -> Model Provider to complete your provider "
	    "credentials." },
	[ERR_PROVIDER_QUOTA_EXCEEDED] = { 400, "provider_quota_exceeded",
	    "Your quota for Dify Hosted Model Provider has been exhausted. "
	    "Please go to Settings -> Model Provider to complete your own "
	    "provider credentials." },
	[ERR_MODEL_NOT_SUPPORT] = { 400, "model_currently_not_support",
	    "Dify Hosted OpenAI trial currently not support the GPT-4 "
	    "model." },
	[ERR_COMPLETION_REQUEST] = { 400, "completion_request_error",
	    "Completion request failed." },
	[ERR_AUTH_MISSING] = { 401, "unauthorized",
	    "Authorization header must be provided and start with 'Bearer'" },
	[ERR_AUTH_SCHEME] = { 401, "unauthorized",
	    "Authorization scheme must be 'Bearer'" },
	[ERR_AUTH_INVALID] = { 401, "unauthorized",
	    "Access token is invalid" },
	[ERR_APP_GONE] = { 403, "forbidden", "The app no longer exists." },
	[ERR_APP_ABNORMAL] = { 403, "forbidden",
	    "The app's status is abnormal." },
	[ERR_API_DISABLED] = { 403, "forbidden",
	    "The app's API service has been disabled." },
	[ERR_FORBIDDEN] = { 403, "forbidden", WZ_403 },
	[ERR_NOT_FOUND] = { 404, "not_found", WZ_404 },
	[ERR_CONVERSATION_NOT_FOUND] = { 404, "not_found",
	    "Conversation Not Exists." },
	[ERR_LAST_CONVERSATION_NOT_FOUND] = { 404, "not_found",
	    "Last Conversation Not Exists." },
	[ERR_FIRST_MESSAGE_NOT_FOUND] = { 404, "not_found",
	    "First Message Not Exists." },
	[ERR_MESSAGE_NOT_FOUND] = { 404, "not_found", "Message Not Exists." },
	[ERR_VARIABLE_NOT_FOUND] = { 404, "not_found",
	    "Conversation Variable Not Exists." },
	[ERR_END_USER_NOT_FOUND] = { 404, "end_user_not_found",
	    "End user not found." },
	/* Werkzeug's NotFound("Dataset not found.") */
	[ERR_DATASET_NOT_FOUND] = { 404, "not_found", "Dataset not found." },
	[ERR_DATASET_NAME_DUPLICATE] = { 409, "dataset_name_duplicate",
	    "The dataset name already exists. Please modify your dataset "
	    "name." },
	[ERR_METHOD_NOT_ALLOWED] = { 405, "method_not_allowed",
	    "The method is not allowed for the requested URL." },
	[ERR_TOO_LARGE] = { 413, "request_entity_too_large",
	    "The data value transmitted exceeds the capacity limit." },
	[ERR_NO_FILE_UPLOADED] = { 400, "no_file_uploaded",
	    "Please upload your file." },
	[ERR_TOO_MANY_FILES] = { 400, "too_many_files",
	    "Only one file is allowed." },
	[ERR_UNSUPPORTED_FILE_TYPE] = { 415, "unsupported_file_type",
	    "File type not allowed." },
	[ERR_FILENAME_MISSING] = { 400, "filename_not_exists_error",
	    "The specified filename does not exist." },
	[ERR_FILE_TOO_LARGE] = { 413, "file_too_large", "" },
	[ERR_FILE_ACCESS_DENIED] = { 403, "file_access_denied",
	    "Access to the requested file is denied." },
	[ERR_FILE_NOT_FOUND] = { 404, "file_not_found",
	    "The requested file was not found." },
	[ERR_NO_AUDIO_UPLOADED] = { 400, "no_audio_uploaded",
	    "Please upload your audio." },
	[ERR_AUDIO_TOO_LARGE] = { 413, "audio_too_large",
	    "Audio size larger than 30 mb" },
	[ERR_UNSUPPORTED_AUDIO_TYPE] = { 415, "unsupported_audio_type",
	    "Audio type not allowed." },
	[ERR_STT_DISABLED] = { 400, "speech_to_text_disabled",
	    "Speech to text is disabled." },
	[ERR_PROVIDER_NO_STT] = { 400, "provider_not_support_speech_to_text",
	    "Provider not support speech to text." },
	[ERR_TOO_MANY_REQUESTS] = { 429, "too_many_requests",
	    "Too many requests. Please try again later." },
	[ERR_RATE_LIMIT] = { 429, "rate_limit_error", "Rate Limit Error" },
	[ERR_INTERNAL] = { 500, "internal_server_error", WZ_500 },
	[ERR_INTERNAL_STREAM] = { 500, "internal_server_error",
	    "Internal Server Error, please contact support." },
	[ERR_SERVICE_UNAVAILABLE] = { 503, "service_unavailable",
	    "The server is temporarily unable to service your request due to "
	    "maintenance downtime or capacity problems. Please try again "
	    "later." },
};

json_object *
err_json(enum err e, const char *msg)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "code",
	    json_object_new_string(err_table[e].code));
	json_object_object_add(o, "message",
	    json_object_new_string(msg ? msg : err_table[e].message));
	json_object_object_add(o, "status",
	    json_object_new_int(err_table[e].status));
	return o;
}
