/*
 * usage.c: the usage block of a model call as Dify reports it (tokens,
 * unit prices per 1000 tokens from the provider's configuration, prices,
 * currency, latency), shared by chat, completion and workflow LLM nodes.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/model.h"
#include "core/core.h"

/* A provider setting: DIFYCGI_PROVIDER_<NAME>_<what>. */
static const char *
provider_conf(const char *provider, const char *what)
{
	char	name[160];
	size_t	i, n;

	n = (size_t)snprintf(name, sizeof(name), "DIFYCGI_PROVIDER_%s_%s",
	    provider, what);
	if (n >= sizeof(name))
		return NULL;
	for (i = 17; i < n; i++)
		name[i] = name[i] == '-' ? '_' :
		    (char)toupper((unsigned char)name[i]);
	return config_get(name);
}

static double
price_of(const char *s)
{
	char	*end;
	double	 d;

	if (s == NULL)
		return 0;
	d = strtod(s, &end);
	return *end == '\0' && d >= 0 ? d : 0;
}

void
usage_json(json_object *usage, const char *provider, int ptok, int ctok,
    double latency, char total_price[32])
{
	const char	*pu = provider_conf(provider, "PROMPT_PRICE");
	const char	*cu = provider_conf(provider, "COMPLETION_PRICE");
	const char	*cur = provider_conf(provider, "CURRENCY");
	double		 pp, cp;
	char		 s[32];

	/* unit prices are per 1000 tokens, as Dify's price_unit 0.001 */
	pp = ptok * price_of(pu) * 0.001;
	cp = ctok * price_of(cu) * 0.001;
	json_object_object_add(usage, "prompt_tokens", json_object_new_int(ptok));
	json_object_object_add(usage, "prompt_unit_price",
	    json_object_new_string(pu ? pu : "0"));
	json_object_object_add(usage, "prompt_price_unit",
	    json_object_new_string("0.001"));
	snprintf(s, sizeof(s), "%.7f", pp);
	json_object_object_add(usage, "prompt_price", json_object_new_string(s));
	json_object_object_add(usage, "completion_tokens",
	    json_object_new_int(ctok));
	json_object_object_add(usage, "completion_unit_price",
	    json_object_new_string(cu ? cu : "0"));
	json_object_object_add(usage, "completion_price_unit",
	    json_object_new_string("0.001"));
	snprintf(s, sizeof(s), "%.7f", cp);
	json_object_object_add(usage, "completion_price",
	    json_object_new_string(s));
	json_object_object_add(usage, "total_tokens",
	    json_object_new_int(ptok + ctok));
	snprintf(total_price, 32, "%.7f", pp + cp);
	json_object_object_add(usage, "total_price",
	    json_object_new_string(total_price));
	json_object_object_add(usage, "currency",
	    json_object_new_string(cur ? cur : "USD"));
	json_object_object_add(usage, "latency", json_object_new_double(latency));
}
