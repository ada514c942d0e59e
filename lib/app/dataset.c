/*
 * dataset.c: the datasets of the Knowledge API, as Dify's
 * service_api/dataset/dataset.py (DatasetListApi, DatasetApi) with the
 * rules of services/dataset_service.py.  The install is the workspace
 * and a dataset key acts as its owner: every dataset is visible to it,
 * whatever its permission.  Documents come later: every dataset is
 * empty, and the counts that would need them are 0.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"

#define DS_NAME_MAX	40	/* characters, as pydantic counts them */
#define DS_DESC_MAX	400

static const char *const techniques[] = { "high_quality", "economy", NULL };
static const char *const permissions[] = { "only_me", "all_team_members",
	"partial_members", NULL };
static const char *const providers[] = { "vendor", "external", NULL };
static const char *const search_methods[] = { "keyword_search",
	"semantic_search", "full_text_search", "hybrid_search", NULL };

/* Code points of a valid UTF-8 string: Python's len(). */
static size_t
chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

static int
one_of(const char *v, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(v, *set) == 0)
			return 1;
	return 0;
}

/* A 400 invalid_param "FIELD: WHAT", pydantic's words for the error. */
static int
bad(struct resp *rs, const char *field, const char *what)
{
	char	msg[256];

	snprintf(msg, sizeof(msg), "%s: %s", field, what);
	return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
}

/*
 * A string member of the body: 0 with *out (NULL when absent, or null
 * and "nullable"), or -1 with the 400.  "set" is where it was present.
 */
static int
get_str(struct req *rq, struct resp *rs, const char *name, int nullable,
    const char **out, int *set)
{
	json_object	*v;

	*out = NULL;
	if (set != NULL)
		*set = 0;
	if (!json_object_object_get_ex(rq->body, name, &v))
		return 0;
	if (set != NULL)
		*set = 1;
	if (v == NULL && nullable)
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return bad(rs, name, "Input should be a valid string");
	*out = json_object_get_string(v);
	if (strlen(*out) != (size_t)json_object_get_string_len(v))
		return bad(rs, name, "String should not contain NUL characters");
	return 0;
}

/* A string member that must be one of "set" ("what" lists them). */
static int
get_choice(struct req *rq, struct resp *rs, const char *name, int nullable,
    const char *const *set, const char *what, const char **out)
{
	if (get_str(rq, rs, name, nullable, out, NULL) == -1)
		return -1;
	if (*out != NULL && !one_of(*out, set))
		return bad(rs, name, what);
	return 0;
}

static int
check_name(struct resp *rs, const char *name)
{
	size_t	n = chars(name);

	if (n < 1)
		return bad(rs, "name", "String should have at least 1 character");
	if (n > DS_NAME_MAX)
		return bad(rs, "name",
		    "String should have at most 40 characters");
	return 0;
}

static int
check_description(struct resp *rs, const char *d)
{
	if (d != NULL && chars(d) > DS_DESC_MAX)
		return bad(rs, "description",
		    "String should have at most 400 characters");
	return 0;
}

static int
is_bool(json_object *v)
{
	return v != NULL && json_object_is_type(v, json_type_boolean);
}

/* An optional member that must be null or of type "t". */
static int
opt_type(json_object *o, const char *k, json_type t, json_object **out)
{
	*out = NULL;
	if (!json_object_object_get_ex(o, k, out) || *out == NULL)
		return 0;
	if (json_object_is_type(*out, t) || (t == json_type_double &&
	    json_object_is_type(*out, json_type_int)))
		return 0;
	return -1;
}

/*
 * Dify's RetrievalModel, checked and dumped as model_dump() stores it:
 * NULL with the 400 in "rs" when "v" is not one.
 */
static json_object *
retrieval_model(struct resp *rs, json_object *v)
{
	json_object	*o, *sm, *re, *tk, *ste, *rm, *mode, *st, *w, *x;
	const char	*k;

	if (!json_object_is_type(v, json_type_object)) {
		bad(rs, "retrieval_model", "Input should be a valid "
		    "dictionary or instance of RetrievalModel");
		return NULL;
	}
	sm = json_get(v, "search_method");
	re = json_get(v, "reranking_enable");
	tk = json_get(v, "top_k");
	ste = json_get(v, "score_threshold_enabled");
	if (sm == NULL || !json_object_is_type(sm, json_type_string) ||
	    !one_of(json_object_get_string(sm), search_methods)) {
		bad(rs, "retrieval_model.search_method", "Input should be "
		    "'keyword_search', 'semantic_search', 'full_text_search' "
		    "or 'hybrid_search'");
		return NULL;
	}
	if (!is_bool(re)) {
		bad(rs, "retrieval_model.reranking_enable",
		    "Input should be a valid boolean");
		return NULL;
	}
	if (tk == NULL || !json_object_is_type(tk, json_type_int)) {
		bad(rs, "retrieval_model.top_k",
		    "Input should be a valid integer");
		return NULL;
	}
	if (!is_bool(ste)) {
		bad(rs, "retrieval_model.score_threshold_enabled",
		    "Input should be a valid boolean");
		return NULL;
	}
	if (opt_type(v, "reranking_model", json_type_object, &rm) == -1 ||
	    opt_type(v, "reranking_mode", json_type_string, &mode) == -1 ||
	    opt_type(v, "score_threshold", json_type_double, &st) == -1 ||
	    opt_type(v, "weights", json_type_object, &w) == -1) {
		bad(rs, "retrieval_model", "Input should be a valid "
		    "dictionary or instance of RetrievalModel");
		return NULL;
	}
	o = json_object_new_object();
	json_object_object_add(o, "search_method", json_object_get(sm));
	json_object_object_add(o, "reranking_enable", json_object_get(re));
	if (rm != NULL) {
		x = json_object_new_object();
		k = "reranking_provider_name";
		json_object_object_add(x, k, json_object_get(json_get(rm, k)));
		k = "reranking_model_name";
		json_object_object_add(x, k, json_object_get(json_get(rm, k)));
		rm = x;
	}
	json_object_object_add(o, "reranking_model", rm);
	json_object_object_add(o, "reranking_mode", mode != NULL ?
	    json_object_get(mode) : json_object_new_string("reranking_model"));
	json_object_object_add(o, "top_k", json_object_get(tk));
	json_object_object_add(o, "score_threshold_enabled",
	    json_object_get(ste));
	json_object_object_add(o, "score_threshold", json_object_get(st));
	json_object_object_add(o, "weights", json_object_get(w));
	return o;
}

static json_object *
str_or_null(const char *s)
{
	return s != NULL ? json_object_new_string(s) : NULL;
}

/* Member "k" of "from", or "dflt" (taken) when it has none. */
static void
copy_member(json_object *to, json_object *from, const char *k,
    json_object *dflt)
{
	json_object	*v = NULL;

	if (from != NULL && json_object_object_get_ex(from, k, &v)) {
		json_object_put(dflt);
		json_object_object_add(to, k, json_object_get(v));
	} else
		json_object_object_add(to, k, dflt);
}

/*
 * Dify's retrieval_model_dict: the stored model, or its default, in the
 * shape of DatasetRetrievalModelResponse.
 */
static json_object *
retrieval_dict(const struct dataset *d, int keyword_search)
{
	json_object	*o = json_object_new_object(), *m = d->retrieval_model,
			*rm;

	if (keyword_search)
		json_object_object_add(o, "search_method",
		    json_object_new_string("keyword_search"));
	else
		copy_member(o, m, "search_method",
		    json_object_new_string("semantic_search"));
	copy_member(o, m, "reranking_enable", json_object_new_boolean(0));
	copy_member(o, m, "reranking_mode", NULL);
	rm = json_object_new_object();
	json_object_object_add(rm, "reranking_provider_name",
	    json_object_new_string(""));
	json_object_object_add(rm, "reranking_model_name",
	    json_object_new_string(""));
	copy_member(o, m, "reranking_model", rm);
	copy_member(o, m, "weights", NULL);
	copy_member(o, m, "top_k", json_object_new_int(2));
	copy_member(o, m, "score_threshold_enabled",
	    json_object_new_boolean(0));
	copy_member(o, m, "score_threshold", NULL);
	return o;
}

enum view { V_WRITE, V_GET, V_LIST };

/* str(ModelProviderID(p)): a bare provider name is langgenius's plugin */
static json_object *
provider_id(const char *p)
{
	char	buf[512];

	if (p == NULL || strchr(p, '/') != NULL)
		return str_or_null(p);
	snprintf(buf, sizeof(buf), "langgenius/%s/%s", p, p);
	return json_object_new_string(buf);
}

/*
 * dataset_detail_fields, every key in Dify's order.  embedding_available
 * is what the GET and list handlers compute; create and update leave it
 * null, as Dify's do.  No model list is kept here, so a high_quality
 * dataset counts as available when it names its model and provider.
 */
static json_object *
dataset_json(const struct dataset *d, enum view view)
{
	json_object	*o = json_object_new_object(), *avail = NULL;
	int		 hq = d->indexing_technique != NULL &&
			    strcmp(d->indexing_technique, "high_quality") == 0;

	if (view != V_WRITE)
		avail = json_object_new_boolean(!hq ||
		    (d->embedding_model != NULL &&
		    d->embedding_model_provider != NULL));
	json_object_object_add(o, "id", json_object_new_string(d->id));
	json_object_object_add(o, "name", json_object_new_string(d->name));
	json_object_object_add(o, "description", str_or_null(d->description));
	json_object_object_add(o, "provider",
	    json_object_new_string(d->provider));
	json_object_object_add(o, "permission",
	    json_object_new_string(d->permission));
	json_object_object_add(o, "data_source_type",
	    str_or_null(d->data_source_type));
	json_object_object_add(o, "indexing_technique",
	    str_or_null(d->indexing_technique));
	json_object_object_add(o, "app_count", json_object_new_int(0));
	json_object_object_add(o, "document_count", json_object_new_int(0));
	json_object_object_add(o, "word_count", json_object_new_int(0));
	json_object_object_add(o, "created_by",
	    json_object_new_string(d->created_by));
	json_object_object_add(o, "author_name", NULL);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(d->created_at));
	json_object_object_add(o, "updated_by", str_or_null(d->updated_by));
	json_object_object_add(o, "updated_at",
	    json_object_new_int64(d->updated_at));
	json_object_object_add(o, "embedding_model",
	    str_or_null(d->embedding_model));
	json_object_object_add(o, "embedding_model_provider",
	    view == V_LIST && hq ? provider_id(d->embedding_model_provider) :
	    str_or_null(d->embedding_model_provider));
	json_object_object_add(o, "embedding_available", avail);
	/* Dify's GET shows an economy dataset's search as keyword search */
	json_object_object_add(o, "retrieval_model_dict",
	    retrieval_dict(d, view == V_GET && !hq));
	json_object_object_add(o, "summary_index_setting", NULL);
	json_object_object_add(o, "tags", json_object_new_array());
	json_object_object_add(o, "doc_form", NULL);
	json_object_object_add(o, "external_knowledge_info", NULL);
	json_object_object_add(o, "external_retrieval_model", NULL);
	json_object_object_add(o, "doc_metadata", json_object_new_array());
	json_object_object_add(o, "built_in_field_enabled",
	    json_object_new_boolean(0));
	json_object_object_add(o, "pipeline_id", NULL);
	json_object_object_add(o, "runtime_mode",
	    json_object_new_string("general"));
	json_object_object_add(o, "chunk_structure", NULL);
	json_object_object_add(o, "icon_info", NULL);
	json_object_object_add(o, "is_published", json_object_new_boolean(0));
	json_object_object_add(o, "total_documents", json_object_new_int(0));
	json_object_object_add(o, "total_available_documents",
	    json_object_new_int(0));
	json_object_object_add(o, "enable_api", json_object_new_boolean(1));
	json_object_object_add(o, "is_multimodal", json_object_new_boolean(0));
	return o;
}

/* ---- GET /v1/datasets ---- */

/* pydantic's lax bool from a query string: 1 or 0, -1 when neither */
static int
query_bool(const char *v)
{
	static const char *const yes[] = { "1", "on", "t", "true", "y",
		"yes", NULL };
	static const char *const no[] = { "0", "off", "f", "false", "n",
		"no", NULL };
	int	i;

	for (i = 0; yes[i] != NULL; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return 1;
	for (i = 0; no[i] != NULL; i++)
		if (strcasecmp(v, no[i]) == 0)
			return 0;
	return -1;
}

static int
query_int(struct req *rq, struct resp *rs, const char *name, long long dflt,
    long long *out)
{
	const char	*v = req_query(rq, name);

	*out = dflt;
	if (v != NULL && parse_int(v, -((long long)1 << 40),
	    (long long)1 << 40, out) == -1)
		return bad(rs, name, "Input should be a valid integer, "
		    "unable to parse string as an integer");
	return 0;
}

static int
add_item(const struct dataset *d, void *arg)
{
	json_object_array_add(arg, dataset_json(d, V_LIST));
	return 0;
}

int
dataset_list(struct req *rq, struct resp *rs)
{
	json_object	*o, *data;
	const char	*kw = NULL, *all;
	long long	 page, limit, per_page, qpage;
	int64_t		 total = 0;
	int		 i;

	if (query_int(rq, rs, "page", 1, &page) == -1 ||
	    query_int(rq, rs, "limit", 20, &limit) == -1)
		return -1;
	if (req_query_exact(rq, "keyword", &kw) == -1)
		return bad(rs, "keyword", "String should not contain NUL "
		    "characters");
	all = req_query(rq, "include_all");
	if (all != NULL && query_bool(all) == -1)
		return bad(rs, "include_all", "Input should be a valid "
		    "boolean, unable to interpret input");
	if (limit > 100)
		limit = 100;
	/* flask-sqlalchemy's paginate(error_out=False) */
	qpage = page < 1 ? 1 : page;
	per_page = limit < 1 ? 20 : limit;
	data = json_object_new_array();
	/* Dify: tag_ids that no dataset is bound to give nothing at all */
	for (i = 0; i < rq->nqs; i++)
		if (strcmp(rq->qs[i].key, "tag_ids") == 0 &&
		    rq->qs[i].val[0] != '\0')
			break;
	if (i == rq->nqs && db_dataset_list(rq->db, &rq->pool, kw,
	    (qpage - 1) * per_page, per_page, &total, add_item, data) == -1) {
		json_object_put(data);
		return resp_error(rs, ERR_INTERNAL);
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	json_object_object_add(o, "has_more",
	    json_object_new_boolean(page * limit < total));
	json_object_object_add(o, "limit", json_object_new_int64(limit));
	json_object_object_add(o, "total", json_object_new_int64(total));
	json_object_object_add(o, "page", json_object_new_int64(page));
	return resp_json(rs, 200, o);
}

/* ---- POST /v1/datasets ---- */

int
dataset_create(struct req *rq, struct resp *rs)
{
	struct dataset	 d;
	json_object	*v;
	char		 id[UUID_LEN + 1];
	const char	*ext_api;
	int		 rc;

	if (req_json(rq, rs) == -1)
		return -1;
	memset(&d, 0, sizeof(d));
	if (!json_object_object_get_ex(rq->body, "name", NULL))
		return bad(rs, "name", "Field required");
	if (get_str(rq, rs, "name", 0, &d.name, NULL) == -1 ||
	    check_name(rs, d.name) == -1 ||
	    get_str(rq, rs, "description", 0, &d.description, NULL) == -1 ||
	    check_description(rs, d.description) == -1 ||
	    get_choice(rq, rs, "indexing_technique", 1, techniques,
	    "Input should be 'high_quality' or 'economy'",
	    &d.indexing_technique) == -1 ||
	    get_choice(rq, rs, "permission", 1, permissions,
	    "Input should be 'only_me', 'all_team_members' or "
	    "'partial_members'", &d.permission) == -1 ||
	    get_choice(rq, rs, "provider", 0, providers,
	    "Input should be 'vendor' or 'external'", &d.provider) == -1 ||
	    get_str(rq, rs, "embedding_model", 1, &d.embedding_model,
	    NULL) == -1 ||
	    get_str(rq, rs, "embedding_model_provider", 1,
	    &d.embedding_model_provider, NULL) == -1 ||
	    get_str(rq, rs, "external_knowledge_api_id", 1, &ext_api,
	    NULL) == -1)
		return -1;
	if (d.description == NULL)
		d.description = "";
	if (d.permission == NULL)
		d.permission = "only_me";
	if (d.provider == NULL)
		d.provider = "vendor";
	/* no external knowledge API is ever registered here */
	if (strcmp(d.provider, "external") == 0 && ext_api != NULL &&
	    *ext_api != '\0')
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "External API template not found.");
	v = json_get(rq->body, "retrieval_model");
	if (v != NULL && (d.retrieval_model = retrieval_model(rs, v)) == NULL)
		return -1;
	/* Dify keeps an embedding model only for high quality indexing */
	if (d.indexing_technique == NULL ||
	    strcmp(d.indexing_technique, "high_quality") != 0)
		d.embedding_model = d.embedding_model_provider = NULL;
	d.created_by = d.updated_by = rq->dataset_key_id;
	rc = db_dataset_create(rq->db, &d, id);
	if (rc == DB_CONFLICT) {
		dataset_release(&d);
		return resp_error(rs, ERR_DATASET_NAME_DUPLICATE);
	}
	if (rc != DB_OK) {
		dataset_release(&d);
		return resp_error(rs, ERR_INTERNAL);
	}
	v = dataset_json(&d, V_WRITE);
	dataset_release(&d);
	return resp_json(rs, 200, v);
}

/* ---- GET, PATCH, DELETE /v1/datasets/{id} ---- */

static int
load(struct req *rq, struct resp *rs, struct dataset *d)
{
	int	rc = db_dataset_get(rq->db, &rq->pool, req_param(rq, "id"), d);

	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_DATASET_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return 0;
}

int
dataset_get(struct req *rq, struct resp *rs)
{
	struct dataset	 d;
	json_object	*o;

	if (load(rq, rs, &d) == -1)
		return -1;
	o = dataset_json(&d, V_GET);
	if (strcmp(d.permission, "partial_members") == 0)
		json_object_object_add(o, "partial_member_list",
		    json_object_new_array());
	dataset_release(&d);
	return resp_json(rs, 200, o);
}

/* The PATCH body onto "d": 0, or -1 with the 400 in "rs". */
static int
apply(struct req *rq, struct resp *rs, struct dataset *d)
{
	const char	*name, *desc, *it, *perm, *em, *emp;
	json_object	*v;
	int		 desc_set, hq;

	if (get_str(rq, rs, "name", 1, &name, NULL) == -1 ||
	    (name != NULL && check_name(rs, name) == -1) ||
	    get_str(rq, rs, "description", 1, &desc, &desc_set) == -1 ||
	    check_description(rs, desc) == -1 ||
	    get_choice(rq, rs, "indexing_technique", 1, techniques,
	    "Input should be 'high_quality' or 'economy'", &it) == -1 ||
	    get_choice(rq, rs, "permission", 1, permissions,
	    "Input should be 'only_me', 'all_team_members' or "
	    "'partial_members'", &perm) == -1 ||
	    get_str(rq, rs, "embedding_model", 1, &em, NULL) == -1 ||
	    get_str(rq, rs, "embedding_model_provider", 1, &emp, NULL) == -1)
		return -1;
	v = json_get(rq->body, "retrieval_model");
	if (v != NULL) {
		json_object	*m = retrieval_model(rs, v);

		if (m == NULL)
			return -1;
		dataset_release(d);
		d->retrieval_model = m;
	}
	/* Dify: members given None are left alone, but description */
	if (name != NULL)
		d->name = name;
	if (desc_set)
		d->description = desc;
	if (perm != NULL)
		d->permission = perm;
	if (it != NULL)
		d->indexing_technique = it;
	hq = d->indexing_technique != NULL &&
	    strcmp(d->indexing_technique, "high_quality") == 0;
	if (!hq)
		d->embedding_model = d->embedding_model_provider = NULL;
	else if (em != NULL && emp != NULL) {
		d->embedding_model = em;
		d->embedding_model_provider = emp;
	}
	d->updated_by = rq->dataset_key_id;
	return 0;
}

int
dataset_update(struct req *rq, struct resp *rs)
{
	struct dataset	 d;
	json_object	*o;
	int		 rc;

	if (req_json(rq, rs) == -1 || load(rq, rs, &d) == -1)
		return -1;
	if (apply(rq, rs, &d) == -1) {
		dataset_release(&d);
		return -1;
	}
	rc = db_dataset_update(rq->db, &d);
	if (rc != DB_OK) {
		dataset_release(&d);
		if (rc == DB_CONFLICT)
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "Dataset name already exists");
		return resp_error(rs, rc == DB_NOT_FOUND ?
		    ERR_DATASET_NOT_FOUND : ERR_INTERNAL);
	}
	o = dataset_json(&d, V_WRITE);
	json_object_object_add(o, "partial_member_list",
	    json_object_new_array());
	dataset_release(&d);
	return resp_json(rs, 200, o);
}

int
dataset_delete(struct req *rq, struct resp *rs)
{
	int	rc = db_dataset_delete(rq->db, req_param(rq, "id"));

	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_DATASET_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return resp_empty(rs, 204);
}
