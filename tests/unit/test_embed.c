/*
 * test_embed.c: unit tests of the offline demo embedding and rerank
 * models, and of upstream_embed's answers that need no network (the
 * offline provider, an unknown one).  tests/e2e/380-embeddings.sh runs
 * the HTTP client against tests/fake-upstream.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model.h"
#include "unit.h"

#define DIM	UPSTREAM_OFFLINE_DIM

static double
dot(const float *a, const float *b)
{
	double	s = 0;
	int	i;

	for (i = 0; i < DIM; i++)
		s += (double)a[i] * b[i];
	return s;
}

static double
cosine(const char *x, const char *y)
{
	float	a[DIM], b[DIM];

	upstream_offline_embed(x, a);
	upstream_offline_embed(y, b);
	return dot(a, b);
}

static void
test_offline_vectors(void)
{
	static const char *const texts[] = {
		"the cat sat on the mat", "a", "", "   ...  ",
		"Dify is an LLM app development platform.",
		/* 你好世界 */
		"\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\xe7\x95\x8c",
		NULL
	};
	float	a[DIM], b[DIM];
	int	i;

	TEST("offline vectors are deterministic and of unit length") {
		for (i = 0; texts[i] != NULL; i++) {
			upstream_offline_embed(texts[i], a);
			upstream_offline_embed(texts[i], b);
			CHECK_ROW(memcmp(a, b, sizeof(a)) == 0, i);
			CHECK_ROW(fabs(dot(a, a) - 1) < 1e-5, i);
		}
	}
	TEST("an empty text is the first unit vector, as is one of only "
	    "punctuation") {
		upstream_offline_embed("", a);
		CHECK(a[0] == 1.0f && dot(a, a) == 1.0);
		upstream_offline_embed(" .,; ", b);
		CHECK(memcmp(a, b, sizeof(a)) == 0);
		upstream_offline_embed(NULL, b);
		CHECK(memcmp(a, b, sizeof(a)) == 0);
	}
	TEST("case, punctuation and spacing do not change the vector") {
		upstream_offline_embed("Hello, World!", a);
		upstream_offline_embed("  hello   world ", b);
		CHECK(memcmp(a, b, sizeof(a)) == 0);
	}
	TEST("different texts give different vectors") {
		CHECK(cosine("the cat sat on the mat", "cats") < 0.99);
		CHECK(cosine("abc", "abd") < 0.99);
	}
}

static void
test_offline_nearness(void)
{
	static const struct {
		const char	*q, *near, *far;
		int		 line;
	} rows[] = {
		{ "the cat sat on the mat", "a cat sat on a mat",
		    "stock markets fell sharply", __LINE__ },
		{ "How do I reset my password?",
		    "Resetting your password: open settings",
		    "The weather in Paris is mild", __LINE__ },
		{ "knowledge base retrieval", "retrieval from a knowledge base",
		    "chocolate cake recipe", __LINE__ },
		/* 机器学习; 机器学习算法; 今天天气 */
		{ "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0",
		    "\xe6\x9c\xba\xe5\x99\xa8\xe5\xad\xa6\xe4\xb9\xa0"
		    "\xe7\xae\x97\xe6\xb3\x95",
		    "\xe4\xbb\x8a\xe5\xa4\xa9\xe5\xa4\xa9\xe6\xb0\x94",
		    __LINE__ },
	};
	size_t	i;

	TEST("similar texts are nearer than unrelated ones") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			CHECK_ROW(cosine(rows[i].q, rows[i].near) >
			    cosine(rows[i].q, rows[i].far), rows[i].line);
			CHECK_ROW(cosine(rows[i].q, rows[i].near) > 0.3,
			    rows[i].line);
			CHECK_ROW(fabs(cosine(rows[i].q, rows[i].far)) < 0.3,
			    rows[i].line);
		}
	}
}

static void
test_offline_provider(void)
{
	static const char *const texts[] = { "alpha beta", "gamma", "" };
	static const char *const docs[] = { "stock markets fell",
	    "a cat sat on a mat", "the cat sat on the mat", "cats" };
	struct embed_result	er;
	struct rerank_result	rr;
	float			v[DIM];
	int			i;

	TEST("upstream_embed offline: rows are upstream_offline_embed's") {
		embed_result_init(&er);
		CHECK(upstream_embed("offline", "any", texts, 3, &er) == 0);
		CHECK(er.n == 3 && er.dim == DIM && er.vec != NULL);
		CHECK(er.requests == 0 && er.err == ERR__MAX);
		CHECK(er.tokens == upstream_estimate_tokens("alpha beta") +
		    upstream_estimate_tokens("gamma") +
		    upstream_estimate_tokens(""));
		for (i = 0; i < 3 && er.vec != NULL; i++) {
			upstream_offline_embed(texts[i], v);
			CHECK_ROW(memcmp(er.vec + (size_t)i * DIM, v,
			    sizeof(v)) == 0, i);
		}
		embed_result_free(&er);
		CHECK(er.vec == NULL);
	}
	TEST("upstream_embed offline of no texts") {
		embed_result_init(&er);
		CHECK(upstream_embed("offline", NULL, texts, 0, &er) == 0);
		CHECK(er.n == 0 && er.tokens == 0);
		embed_result_free(&er);
	}
	TEST("upstream_rerank offline: best first, cut to top_n") {
		rerank_result_init(&rr);
		CHECK(upstream_rerank("offline", "any",
		    "the cat sat on the mat", docs, 4, 2, &rr) == 0);
		CHECK(rr.nhits == 2);
		CHECK(rr.nhits == 2 && rr.hits[0].index == 2 &&
		    rr.hits[1].index == 1);
		CHECK(rr.nhits == 2 && fabs(rr.hits[0].score - 1) < 1e-5 &&
		    rr.hits[0].score >= rr.hits[1].score);
		rerank_result_free(&rr);
		rerank_result_init(&rr);
		CHECK(upstream_rerank("offline", NULL, "cat", docs, 4, 0,
		    &rr) == 0);
		CHECK(rr.nhits == 4);
		for (i = 1; i < rr.nhits; i++)
			CHECK_ROW(rr.hits[i - 1].score >= rr.hits[i].score, i);
		rerank_result_free(&rr);
	}
	TEST("an unknown provider fails at once as upstream_chat's does") {
		embed_result_init(&er);
		CHECK(upstream_embed("nowhere", "m", texts, 1, &er) == -1);
		CHECK(er.err == ERR_PROVIDER_NOT_INITIALIZE);
		CHECK(STREQ(er.errmsg,
		    err_table[ERR_PROVIDER_NOT_INITIALIZE].message));
		CHECK(er.requests == 0 && er.vec == NULL);
		embed_result_free(&er);
		rerank_result_init(&rr);
		CHECK(upstream_rerank("nowhere", "m", "q", texts, 1, 1,
		    &rr) == -1);
		CHECK(rr.err == ERR_PROVIDER_NOT_INITIALIZE);
		CHECK(rr.hits == NULL && rr.nhits == 0);
		rerank_result_free(&rr);
	}
}

int
main(void)
{
	setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
	setenv("DIFYCGI_DB", "/tmp/unused.db", 1);
	unsetenv("DIFYCGI_PROVIDER_NOWHERE_BASE_URL");
	if (config_load() == -1)
		return 1;
	log_init("test_embed");
	test_offline_vectors();
	test_offline_nearness();
	test_offline_provider();
	UNIT_DONE();
}
