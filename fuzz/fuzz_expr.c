/*
 * fuzz_expr.c - libFuzzer target for the expression language.
 *
 * Each input is parsed as a condition, an update and a projection
 * expression, with a fixed set of shared bindings (so inputs that use
 * #n, :v and friends get past name resolution).  Whatever parses is
 * evaluated, applied or projected against a fixed item holding every
 * type and against an absent item.  Beyond the sanitizers, the target
 * checks the module's contracts: an error always carries a message, a
 * success never does, and every item an update or projection produces
 * satisfies the val invariants (sorted maps, non-empty sorted sets).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "item.h"

static const char item_json[] =
    "{\"id\": \"x\", \"a\": 1, \"s\": \"hello\", \"b\": {\"$B\": \"aGVsbG8=\"}, \"t\": true,"
    " \"z\": null, \"l\": [1, \"two\", {\"x\": 3}, [4, 5], {\"$SS\": [\"q\"]}],"
    " \"m\": {\"a\": 1, \"b\": {\"c\": [5, 6]}, \"e\": {}}, \"ss\": {\"$SS\": [\"a\", \"b\"]},"
    " \"ns\": {\"$NS\": [1, 2.5]}, \"bs\": {\"$BS\": [\"AQ==\"]}, \"el\": [],"
    " \"big\": {\"$N\": \"9.9999999999999999999999999999999999999E+125\"}}";
static const char names_json[] = "{\"#n\": \"a\", \"#m\": \"m\", \"#d\": \"x-y\"}";
static const char values_json[] =
    "{\":v\": 1, \":s\": \"he\", \":l\": [1], \":ss\": {\"$SS\": [\"a\", \"c\"]},"
    " \":ns\": {\"$NS\": [1]}, \":m\": {\"k\": 2}, \":t\": \"N\", \":big\": {\"$N\": \"9E+125\"}}";

static struct val item, names, values;

static void load(const char *json, struct val *out)
{
	if (item_parse_value(json, strlen(json), out, NULL))
		abort();
}

static void check_err(int rc, const struct dyn_err *err)
{
	if ((rc != 0) != (err->code != 0))
		abort();
	if (rc && (!err->msg[0] || memchr(err->msg, 0, sizeof(err->msg)) == NULL))
		abort();
}

static void check_result(int rc, struct val *out)
{
	if (!rc && val_check(out, NULL))
		abort();
	if (rc && out->type != VAL_NULL)
		abort();
	val_free(out);
}

static void run(const char *text, size_t len, const struct expr_bind *bind)
{
	struct dyn_err err;
	struct val out;
	expr_t *e;
	bool r;
	int rc;

	err_clear(&err);
	rc = expr_parse_condition(text, len, bind, &e, &err);
	check_err(rc, &err);
	if (!rc) {
		if (expr_eval(e, &item, &r, NULL) || expr_eval(e, NULL, &r, NULL))
			abort();
		expr_check_unused(bind, (const expr_t *const *)&e, 1, NULL);
		expr_free(e);
	}

	err_clear(&err);
	rc = expr_parse_update(text, len, bind, &e, &err);
	check_err(rc, &err);
	if (!rc) {
		bool touches;

		err_clear(&err);
		rc = expr_apply_update(e, &item, &out, &err);
		check_err(rc, &err);
		check_result(rc, &out);
		err_clear(&err);
		rc = expr_apply_update(e, NULL, &out, &err);
		check_err(rc, &err);
		check_result(rc, &out);
		if (expr_update_touches(e, "id", &touches))
			abort();
		expr_free(e);
	}

	err_clear(&err);
	rc = expr_parse_projection(text, len, bind, &e, &err);
	check_err(rc, &err);
	if (!rc) {
		rc = expr_project(e, &item, &out, NULL);
		check_result(rc, &out);
		rc = expr_project(e, NULL, &out, NULL);
		check_result(rc, &out);
		expr_free(e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool loaded;
	struct expr_bind shared = {&names, &values, EXPR_BIND_SHARED};
	struct expr_bind strict = {&names, &values, 0};
	char *text;

	if (!loaded) {
		load(item_json, &item);
		load(names_json, &names);
		load(values_json, &values);
		loaded = true;
	}
	/* A copy without a terminator, so reads past the end are caught. */
	text = malloc(size ? size : 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	run(text, size, &shared);
	run(text, size, NULL);
	if (size && data[0] == '#')
		run(text, size, &strict);
	free(text);
	return 0;
}
