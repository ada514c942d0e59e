#!/bin/bash
# Datasets of the Knowledge API (Dify's service_api/dataset/dataset.py):
# create, list, get, update, delete, with Dify's fields and errors, and
# dataset keys that open datasets and nothing else.
. "$(dirname "$0")/../lib.sh"
plan 47
start_server
read -r A KA <<<"$(new_app chat)"
KD=$("$ADMIN" dataset-key create)

check "dataset-key create prints a dataset- key of 24 alphanumerics" \
    bash -c "printf '%s' '$KD' | grep -qxE 'dataset-[A-Za-z0-9]{24}'"
check "dataset-key list shows its first 16 characters, active" \
    bash -c "'$ADMIN' dataset-key list | grep -qE '  ${KD:0:16}\.\.\.  active\$'"

# ---- create
jreq POST /v1/datasets "$KD" '{"name":"Manuals"}'
check "POST /v1/datasets creates an empty dataset: 200" is_status 200
ID=$(jq -r .id <<<"$BODY")
check "every key of Dify's dataset_detail_fields, in order" body_is \
    '(keys_unsorted) == ["id","name","description","provider","permission","data_source_type","indexing_technique","app_count","document_count","word_count","created_by","author_name","created_at","updated_by","updated_at","embedding_model","embedding_model_provider","embedding_available","retrieval_model_dict","summary_index_setting","tags","doc_form","external_knowledge_info","external_retrieval_model","doc_metadata","built_in_field_enabled","pipeline_id","runtime_mode","chunk_structure","icon_info","is_published","total_documents","total_available_documents","enable_api","is_multimodal"]'
check "an empty dataset's values are Dify's defaults" body_is \
    '.name == "Manuals" and .description == "" and .provider == "vendor" and .permission == "only_me" and .data_source_type == null and .indexing_technique == null and .app_count == 0 and .document_count == 0 and .word_count == 0 and .doc_form == null and .tags == [] and .doc_metadata == [] and .built_in_field_enabled == false and .runtime_mode == "general" and .enable_api == true and .is_multimodal == false and .total_documents == 0 and .embedding_available == null and (.created_at | type) == "number" and .created_at == .updated_at'
check "retrieval_model_dict is Dify's default retrieval model" body_is \
    '.retrieval_model_dict == {"search_method":"semantic_search","reranking_enable":false,"reranking_mode":null,"reranking_model":{"reranking_provider_name":"","reranking_model_name":""},"weights":null,"top_k":2,"score_threshold_enabled":false,"score_threshold":null}'
check "created_by is the dataset key's id" \
    [ "$(jq -r .created_by <<<"$BODY")" = "$("$ADMIN" dataset-key list | awk '{print $1}')" ]

jreq POST /v1/datasets "$KD" '{"name":"Manuals"}'
check "a name taken gets 409 dataset_name_duplicate" expect_error 409 \
    dataset_name_duplicate "The dataset name already exists. Please modify your dataset name."

jreq POST /v1/datasets "$KD" '{"name":"HQ","description":"d","indexing_technique":"high_quality","permission":"all_team_members","embedding_model":"text-embedding-3-small","embedding_model_provider":"openai","retrieval_model":{"search_method":"hybrid_search","reranking_enable":false,"top_k":5,"score_threshold_enabled":true,"score_threshold":0.5}}'
HQ=$(jq -r .id <<<"$BODY")
check "a dataset with every setting keeps them" body_is \
    '.indexing_technique == "high_quality" and .permission == "all_team_members" and .description == "d" and .embedding_model == "text-embedding-3-small" and .embedding_model_provider == "openai"'
check "its retrieval_model_dict is the model given, with its defaults" body_is \
    '.retrieval_model_dict == {"search_method":"hybrid_search","reranking_enable":false,"reranking_mode":"reranking_model","reranking_model":null,"weights":null,"top_k":5,"score_threshold_enabled":true,"score_threshold":0.5}'

# ---- validation
jreq POST /v1/datasets "$KD" '{}'
check "no name: 400 invalid_param" expect_error 400 invalid_param "name: Field required"
jreq POST /v1/datasets "$KD" '{"name":""}'
check "an empty name: 400" expect_error 400 invalid_param "name: String should have at least 1 character"
jreq POST /v1/datasets "$KD" "{\"name\":\"$(printf 'a%.0s' $(seq 41))\"}"
check "a name of 41 characters: 400" expect_error 400 invalid_param "name: String should have at most 40 characters"
jreq POST /v1/datasets "$KD" "{\"name\":\"$(printf 'é%.0s' $(seq 40))\"}"
check "40 characters of two bytes each are a valid name" is_status 200
jreq POST /v1/datasets "$KD" '{"name":"x","indexing_technique":"best"}'
check "an unknown indexing_technique: 400" expect_error 400 invalid_param "indexing_technique: Input should be 'high_quality' or 'economy'"
jreq POST /v1/datasets "$KD" '{"name":"x","permission":"everyone"}'
check "an unknown permission: 400" expect_error 400 invalid_param "permission: Input should be 'only_me', 'all_team_members' or 'partial_members'"
jreq POST /v1/datasets "$KD" '{"name":"x","provider":"cloud"}'
check "an unknown provider: 400" expect_error 400 invalid_param "provider: Input should be 'vendor' or 'external'"
jreq POST /v1/datasets "$KD" '{"name":"x","retrieval_model":{"search_method":"magic","reranking_enable":false,"top_k":2,"score_threshold_enabled":false}}'
check "an unknown search_method: 400" bash -c "[ $STATUS = 400 ] && printf '%s' '$BODY' | jq -e '.code == \"invalid_param\" and (.message | startswith(\"retrieval_model.search_method:\"))' >/dev/null"
JSON='not json' req POST /v1/datasets "$KD"
check "a body that is no JSON: 400 bad_request" expect_error 400 bad_request "Invalid JSON payload received or JSON payload is empty."

# ---- list
for n in 1 2 3 4 5; do jreq POST /v1/datasets "$KD" "{\"name\":\"Paged $n\"}"; done
req GET /v1/datasets "$KD"
check "GET /v1/datasets: Dify's page body" body_is \
    '(keys_unsorted) == ["data","has_more","limit","total","page"] and .total == 8 and .page == 1 and .limit == 20 and .has_more == false and (.data | length) == 8'
check "list items have the detail fields and embedding_available computed" body_is \
    '(.data | map(.embedding_available) | all) and (.data[0] | keys | length) == 35'
check "a high_quality item's provider is shown as its plugin id" body_is \
    '.data[] | select(.name == "HQ") | .embedding_model_provider == "langgenius/openai/openai"'
req GET "/v1/datasets?limit=3&page=1" "$KD"; P1=$(jq -c '[.data[].id]' <<<"$BODY")
check "limit=3: three items, has_more" body_is '(.data | length) == 3 and .has_more == true and .limit == 3 and .total == 8'
req GET "/v1/datasets?limit=3&page=3" "$KD"; P3=$(jq -c '[.data[].id]' <<<"$BODY")
check "the last page holds the rest, has_more false" body_is '(.data | length) == 2 and .has_more == false and .page == 3'
req GET "/v1/datasets?limit=3&page=2" "$KD"; P2=$(jq -c '[.data[].id]' <<<"$BODY")
check "the pages together are every dataset once" \
    [ "$(jq -n --argjson a "$P1" --argjson b "$P2" --argjson c "$P3" '$a + $b + $c | unique | length')" = 8 ]
req GET "/v1/datasets?limit=500" "$KD"
check "limit is capped at 100" body_is '.limit == 100 and (.data | length) == 8'
req GET "/v1/datasets?keyword=paged" "$KD"
check "keyword filters names, case-insensitively" body_is '.total == 5 and ([.data[].name] | all(startswith("Paged")))'
jreq POST /v1/datasets "$KD" '{"name":"100% sure"}'
req GET "/v1/datasets?keyword=%25" "$KD"
check "a keyword's % is a literal character" body_is '.total == 1 and .data[0].name == "100% sure"'
req GET "/v1/datasets?tag_ids=nosuchtag" "$KD"
check "tag_ids no dataset is bound to: nothing" body_is '.total == 0 and .data == []'
req GET "/v1/datasets?include_all=true" "$KD"
check "include_all=true: every dataset" body_is '.total == 9'
req GET "/v1/datasets?page=abc" "$KD"
check "a page that is no integer: 400 invalid_param" bash -c "[ $STATUS = 400 ] && printf '%s' '$BODY' | jq -e '.code == \"invalid_param\"' >/dev/null"

# ---- get
req GET "/v1/datasets/$ID" "$KD"
check "GET /v1/datasets/{id}: the dataset" body_is ".id == \"$ID\" and .name == \"Manuals\" and .embedding_available == true and (has(\"partial_member_list\") | not)"
check "an economy/unset dataset's search shows as keyword_search on GET" body_is '.retrieval_model_dict.search_method == "keyword_search"'
req GET "/v1/datasets/00000000-0000-4000-8000-000000000000" "$KD"
check "an unknown id: 404 'Dataset not found.'" expect_error 404 not_found "Dataset not found."

# ---- patch
jreq PATCH "/v1/datasets/$ID" "$KD" '{"name":"Handbooks","description":null,"permission":"partial_members","indexing_technique":"economy"}'
check "PATCH changes what is given; description null clears it" body_is \
    '.name == "Handbooks" and .description == null and .permission == "partial_members" and .indexing_technique == "economy" and .partial_member_list == [] and .embedding_available == null'
req GET "/v1/datasets/$ID" "$KD"
check "the change is stored; partial_members shows partial_member_list" body_is '.name == "Handbooks" and .partial_member_list == []'
jreq PATCH "/v1/datasets/$ID" "$KD" '{"name":"HQ"}'
check "renaming onto another dataset's name: 400" expect_error 400 invalid_param "Dataset name already exists"
jreq PATCH "/v1/datasets/$HQ" "$KD" '{"indexing_technique":"economy"}'
check "high_quality to economy drops the embedding model" body_is '.indexing_technique == "economy" and .embedding_model == null and .embedding_model_provider == null'
jreq PATCH "/v1/datasets/$ID" "$KD" '{"name":""}'
check "PATCH validates as POST" expect_error 400 invalid_param "name: String should have at least 1 character"

# ---- delete
req DELETE "/v1/datasets/$ID" "$KD"
check "DELETE: 204, no body" bash -c "[ $STATUS = 204 ] && [ -z '$BODY' ]"
req GET "/v1/datasets/$ID" "$KD"
check "then GET is 404" expect_error 404 not_found "Dataset not found."
req DELETE "/v1/datasets/$ID" "$KD"
check "and DELETE again is 404" expect_error 404 not_found "Dataset not found."

# ---- keys
req GET /v1/datasets "$KA"
check "an app key on /v1/datasets: 401 'Access token is invalid'" expect_error 401 unauthorized "Access token is invalid"
req GET /v1/info "$KD"
check "a dataset key on an app endpoint: 401" expect_error 401 unauthorized "Access token is invalid"
req GET /v1/datasets ""
check "no key: 401 as on app endpoints" expect_error 401 unauthorized "Authorization header must be provided and start with 'Bearer'"
KD2=$("$ADMIN" dataset-key create)
"$ADMIN" dataset-key revoke "${KD:0:16}" >/dev/null
req GET /v1/datasets "$KD"; s1=$STATUS
req GET /v1/datasets "$KD2"
check "a revoked dataset key: 401; another key still opens every dataset" \
    bash -c "[ $s1 = 401 ] && [ $STATUS = 200 ] && printf '%s' '$BODY' | jq -e '.total == 8' >/dev/null"
check "dataset keys are stored hashed: the database's files hold no key" \
    bash -c "! grep -r -a -q -e '$KD' -e '$KD2' $(db_files | tr '\n' ' ') 2>/dev/null"
finish
