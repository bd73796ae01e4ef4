/*
 * check_xfer.c - import and export: DynamoDB JSON, JSON Lines and Hedy's
 * dev_database.json, round trips of every type (38-digit numbers,
 * binary, sets, nested maps), schema files, error positions, gzip input.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "ddbschema.h"
#include "fix_store.h"
#include "item.h"
#include "num.h"
#include "xfer.h"

/* An item with every type, in document form. */
static const char every_type[] =
	"{\"username\":\"every-type\",\"s\":\"h\\u00e9llo \\\"q\\\" \\n\\t\\u0001 \\ud83d\\ude00\","
	"\"n38\":{\"$N\":\"12345678901234567890123456789012345678\"},"
	"\"tiny\":{\"$N\":\"1e-130\"},"
	"\"huge\":{\"$N\":\"9.9999999999999999999999999999999999999e+125\"},"
	"\"neg\":-0.1,\"int\":42,\"bin\":{\"$B\":\"AAEC/w==\"},\"empty_s\":\"\","
	"\"ss\":{\"$SS\":[\"a\",\"b\"]},\"ns\":{\"$NS\":[1,2.5,-3,\"0.12345678901234567890\"]},"
	"\"bs\":{\"$BS\":[\"AA==\",\"AQ==\"]},"
	"\"l\":[1,\"x\",null,true,{\"m\":{\"deep\":[[{\"$SS\":[\"z\"]}]]}},{\"$B\":\"\"}],"
	"\"m\":{\"$M\":{\"$N\":\"not a number\"}},"
	"\"hedyish\":{\"$type\":\"set\",\"elements\":[1]},"
	"\"nul\":null,\"f\":false,\"emptyl\":[],\"emptym\":{}}";

static void parse(const char *json, struct val *out)
{
	struct dyn_err err;

	err_clear(&err);
	ck_assert_msg(item_parse(json, strlen(json), out, &err) == 0, "parse: %s", err.msg);
}

static db_t *new_db(void)
{
	db_t *db;

	ck_assert_int_eq(db_new(&db), 0);
	return db;
}

static void put(db_t *db, const char *table, const char *json)
{
	struct val item;
	table_t *t;

	parse(json, &item);
	ck_assert_int_eq(db_table_open(db, table, &t), 0);
	ck_assert_int_eq(tbl_put(t, &item, 0, NULL), 0);
	tbl_close(t);
	val_free(&item);
}

/* Run an import of text into db. */
static int import_text(db_t *db, const char *text, enum xfer_format f, const char *table,
		       const struct xfer_schemas *sch, uint64_t *n, struct dyn_err *err)
{
	struct xfer_import_opts o = {0};
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	int rc;

	o.format = f;
	o.table = table;
	o.schemas = sch;
	o.source = "input";
	ck_assert_ptr_nonnull(fp);
	err_clear(err);
	rc = xfer_import(db, fp, &o, n, err);
	fclose(fp);
	return rc;
}

/* Export to a string (new). */
static char *export_text(db_t *db, enum xfer_format f, const char *table, uint64_t *n)
{
	struct xfer_export_opts o = {f, table, NULL, NULL};
	struct dyn_err err;
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	err_clear(&err);
	ck_assert_msg(xfer_export(db, fp, &o, n, &err) == 0, "export: %s", err.msg);
	fclose(fp);
	return buf;
}

struct items {
	struct val v[64]; /* items */
	size_t n;	  /* used */
};

static int items_cb(void *ctx, const struct item_ref *r)
{
	struct items *it = ctx;

	ck_assert_uint_lt(it->n, 64);
	ck_assert_int_eq(iref_decode(r, &it->v[it->n++]), 0);
	return 0;
}

static void assert_tables_equal(db_t *a, db_t *b, const char *name)
{
	struct items ia = {.n = 0}, ib = {.n = 0};
	struct tbl_scan sc = {0};
	table_t *ta, *tb;
	size_t i;

	ck_assert_int_eq(db_table_open(a, name, &ta), 0);
	ck_assert_int_eq(db_table_open(b, name, &tb), 0);
	ck_assert_int_eq(tbl_scan(ta, &sc, items_cb, &ia, NULL), 0);
	ck_assert_int_eq(tbl_scan(tb, &sc, items_cb, &ib, NULL), 0);
	ck_assert_uint_eq(ia.n, ib.n);
	for (i = 0; i < ia.n; i++) {
		ck_assert_msg(val_equal(&ia.v[i], &ib.v[i]), "%s: item %zu differs", name, i);
		val_free(&ia.v[i]);
		val_free(&ib.v[i]);
	}
	tbl_close(ta);
	tbl_close(tb);
}

static void del_item(db_t *db, const char *table, const struct val *pk)
{
	table_t *t;

	ck_assert_int_eq(db_table_open(db, table, &t), 0);
	ck_assert_int_eq(tbl_delete(t, pk, NULL, 0, NULL), 0);
	tbl_close(t);
}

static void fill_hedy(db_t *db)
{
	create_table(db, "users", "username", NULL);
	create_table(db, "quiz-stats", "id#level", "week");
	put(db, "users", "{\"username\":\"hedy\",\"email\":\"hedy@hedy.org\",\"created\":1681239902406,"
			 "\"password\":\"$2b$09$riZem.ck\"}");
	put(db, "users", "{\"username\":\"felienne\",\"email\":\"felienne@felienne.com\","
			 "\"created\":1637851898173,\"classes\":{\"$SS\":[\"c1\",\"c2\"]}}");
	put(db, "users", every_type);
	put(db, "quiz-stats", "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\",\"id\":\"hedy\","
			      "\"level\":1,\"finished\":1,\"scores\":{\"$NS\":[60]}}");
	put(db, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-08\",\"id\":\"felienne\","
			      "\"level\":3,\"finished\":0}");
	put(db, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-09\",\"id\":\"felienne\","
			      "\"level\":3,\"finished\":1,\"scores\":{\"$NS\":[95]}}");
	put(db, "quiz-stats", "{\"id#level\":\"student123#9\",\"week\":\"2023-23\",\"id\":\"student123\","
			      "\"level\":9,\"finished\":1,\"scores\":{\"$NS\":[40,80]}}");
}

START_TEST(test_ddb_every_type_round_trip)
{
	struct sf_buf b = SF_BUF_INIT;
	struct dyn_err err;
	struct val a, back;

	parse(every_type, &a);
	ck_assert_int_eq(xfer_ddb_render(&b, &a, "username", NULL), 0);
	ck_assert(!strncmp(b.p, "{\"Item\":{\"username\":{\"S\":\"every-type\"},", 38));
	ck_assert_ptr_nonnull(
		strstr(b.p, "\"n38\":{\"N\":\"12345678901234567890123456789012345678\"}"));
	ck_assert_ptr_nonnull(strstr(b.p, "\"bin\":{\"B\":\"AAEC/w==\"}"));
	ck_assert_ptr_nonnull(strstr(b.p, "\"nul\":{\"NULL\":true}"));
	ck_assert_ptr_nonnull(strstr(b.p, "\"f\":{\"BOOL\":false}"));
	ck_assert_ptr_nonnull(strstr(b.p, "\"ss\":{\"SS\":[\"a\",\"b\"]}"));
	ck_assert_ptr_nonnull(strstr(b.p, "\"emptym\":{\"M\":{}}"));
	err_clear(&err);
	ck_assert_msg(xfer_ddb_parse(b.p, b.len, &back, &err) == 0, "parse back: %s", err.msg);
	ck_assert(val_equal(&a, &back));
	val_free(&a);
	val_free(&back);
	sf_buf_free(&b);
}
END_TEST

START_TEST(test_ddb_numbers_stay_exact)
{
	static const char line[] =
		"{\"Item\":{\"id\":{\"S\":\"x\"},\"a\":{\"N\":\"12345678901234567890123456789012345678\"},"
		"\"b\":{\"N\":\"0.1\"},\"c\":{\"N\":\"-12345678901234567890.5\"},"
		"\"d\":{\"NS\":[\"1\",\"1.50\",\"1E2\"]}}}\n";
	char text[NUM_TEXT_MAX];
	struct dyn_err err;
	struct val v, *x;

	err_clear(&err);
	ck_assert_msg(xfer_ddb_parse(line, strlen(line), &v, &err) == 0, "%s", err.msg);
	x = val_map_get(&v, "a", 1);
	ck_assert_int_eq(x->type, VAL_N);
	ck_assert_int_eq(x->n.ndigits, 38);
	x = val_map_get(&v, "b", 1);
	num_format(&x->n, text);
	ck_assert_str_eq(text, "0.1");
	x = val_map_get(&v, "c", 1);
	num_format(&x->n, text);
	ck_assert_str_eq(text, "-12345678901234567890.5");
	x = val_map_get(&v, "d", 1);
	ck_assert_int_eq(x->type, VAL_NS);
	ck_assert_uint_eq(x->l.len, 3);
	num_format(&x->l.v[2].n, text);
	ck_assert_str_eq(text, "100");
	val_free(&v);
}
END_TEST

START_TEST(test_ddb_rejects_malformed)
{
	static const char *const bad[] = {
		"{\"Item\":{\"id\":{\"N\":12.5}}}",	      /* N must be a string */
		"{\"Item\":{\"id\":{\"SS\":[]}}}",	      /* empty set */
		"{\"Item\":{\"id\":{\"SS\":[\"a\",\"a\"]}}}", /* duplicate */
		"{\"Item\":{\"id\":{\"X\":\"a\"}}}",	      /* unknown type */
		"{\"Item\":{\"id\":{\"S\":\"a\",\"N\":\"1\"}}}", /* two types */
		"{\"Item\":{\"id\":{\"B\":\"***\"}}}",	      /* bad base64 */
		"{\"Item\":{\"id\":{\"NULL\":false}}}",
		"{\"Item\":{\"id\":{\"N\":\"1e500\"}}}",      /* out of range */
		"{\"Item\":{\"id\":{\"S\":\"a\"},\"id\":{\"S\":\"b\"}}}", /* duplicate attr */
		"{\"Item\":{\"id\":{\"S\":\"a\"}}",	      /* unterminated */
		"[1]",
	};
	struct dyn_err err;
	struct val v;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&err);
		ck_assert_msg(xfer_ddb_parse(bad[i], strlen(bad[i]), &v, &err) < 0,
			      "accepted %s", bad[i]);
		ck_assert_msg(err.msg[0], "no message for %s", bad[i]);
	}
}
END_TEST

START_TEST(test_ddb_s3_export_sample)
{
	/* the shape DynamoDB's export to S3 writes, one item per line */
	static const char text[] =
		"{\"Item\":{\"week\":{\"S\":\"2022-09\"},\"id#level\":{\"S\":\"felienne#3\"},"
		"\"finished\":{\"N\":\"1\"},\"scores\":{\"NS\":[\"95\"]},\"id\":{\"S\":\"felienne\"},"
		"\"level\":{\"N\":\"3\"}}}\n"
		"\n"
		"{\"Item\":{\"week\":{\"S\":\"2022-08\"},\"id#level\":{\"S\":\"felienne#3\"},"
		"\"finished\":{\"N\":\"0\"},\"id\":{\"S\":\"felienne\"},\"level\":{\"N\":\"3\"}}}\n";
	struct dyn_err err;
	uint64_t n;
	db_t *db = new_db(), *want = new_db();

	create_table(db, "quiz-stats", "id#level", "week");
	create_table(want, "quiz-stats", "id#level", "week");
	put(want, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-08\",\"id\":\"felienne\","
				"\"level\":3,\"finished\":0}");
	put(want, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-09\",\"id\":\"felienne\","
				"\"level\":3,\"finished\":1,\"scores\":{\"$NS\":[95]}}");
	ck_assert_msg(import_text(db, text, XFER_DYNAMODB, "quiz-stats", NULL, &n, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(n, 2);
	assert_tables_equal(db, want, "quiz-stats");
	db_free(db);
	db_free(want);
}
END_TEST

START_TEST(test_round_trips_through_every_format)
{
	static const enum xfer_format fmts[] = {XFER_JSONL, XFER_DYNAMODB};
	struct xfer_schemas sch;
	struct dyn_err err;
	uint64_t n, m;
	char *text;
	db_t *db = new_db(), *d2;
	size_t i;

	fill_hedy(db);
	for (i = 0; i < 2; i++) {
		d2 = new_db();
		create_table(d2, "users", "username", NULL);
		text = export_text(db, fmts[i], "users", &n);
		ck_assert_uint_eq(n, 3);
		ck_assert_msg(import_text(d2, text, fmts[i], "users", NULL, &m, &err) == 0,
			      "%s: %s", xfer_format_name(fmts[i]), err.msg);
		ck_assert_uint_eq(m, 3);
		assert_tables_equal(db, d2, "users");
		free(text);
		db_free(d2);
	}
	/* hedy: all tables in one file; schemas from --schema-out */
	{
		struct sf_buf sb = SF_BUF_INIT;

		ck_assert_int_eq(xfer_schemas_render(db, NULL, &sb, &err), 0);
		err_clear(&err);
		ck_assert_msg(xfer_schemas_parse(sb.p, sb.len, NULL, &sch, &err) == 0, "%s",
			      err.msg);
		ck_assert_uint_eq(sch.n, 2);
		sf_buf_free(&sb);
	}
	/* Hedy's file has no binary type: the every-type item cannot go there */
	{
		struct xfer_export_opts o = {XFER_HEDY, NULL, NULL, NULL};
		FILE *fp = fopen("/dev/null", "w");
		struct val k = {0};

		err_clear(&err);
		ck_assert_int_eq(xfer_export(db, fp, &o, &n, &err), -EINVAL);
		ck_assert_msg(strstr(err.msg, "table users, item {\"username\":\"every-type\"}: bin: "
					      "a binary value") != NULL,
			      "%s", err.msg);
		fclose(fp);
		ck_assert_int_eq(item_parse_value("\"every-type\"", 12, &k, NULL), 0);
		del_item(db, "users", &k);
		val_free(&k);
	}
	text = export_text(db, XFER_HEDY, NULL, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_ptr_nonnull(strstr(text, "\"$type\": \"set\""));
	d2 = new_db();
	ck_assert_msg(import_text(d2, text, XFER_HEDY, NULL, &sch, &m, &err) == 0, "hedy: %s",
		      err.msg);
	ck_assert_uint_eq(m, 6);
	assert_tables_equal(db, d2, "users");
	assert_tables_equal(db, d2, "quiz-stats");
	free(text);
	xfer_schemas_free(&sch);
	db_free(d2);
	db_free(db);
}
END_TEST

/* What Hedy's MemoryStorage writes: json.dump(indent=2), ASCII escapes. */
static const char hedy_file[] =
	"{\n"
	"  \"users\": [\n"
	"    {\n"
	"      \"username\": \"hedy\",\n"
	"      \"email\": \"hedy@hedy.org\",\n"
	"      \"created\": 1681239902406,\n"
	"      \"password\": \"$2b$09$riZem.ck\",\n"
	"      \"language\": \"nl\",\n"
	"      \"display\": \"H\\u00e9dy\"\n"
	"    },\n"
	"    {\n"
	"      \"username\": \"felienne\",\n"
	"      \"created\": 1637851898173,\n"
	"      \"teacher_request\": true,\n"
	"      \"classes\": {\n"
	"        \"$type\": \"set\",\n"
	"        \"elements\": [\n"
	"          \"c1\",\n"
	"          \"c2\"\n"
	"        ]\n"
	"      },\n"
	"      \"removed\": {\n"
	"        \"$type\": \"set\",\n"
	"        \"elements\": []\n"
	"      }\n"
	"    }\n"
	"  ],\n"
	"  \"quiz-stats\": [\n"
	"    {\n"
	"      \"id#level\": \"felienne#3\",\n"
	"      \"week\": \"2022-09\",\n"
	"      \"id\": \"felienne\",\n"
	"      \"level\": 3,\n"
	"      \"finished\": 1,\n"
	"      \"scores\": {\"$type\": \"set\", \"elements\": [95, 100.5]}\n"
	"    },\n"
	"    {\"id#level\": \"hedy#1\", \"week\": \"2023-31\", \"finished\": 0}\n"
	"  ]\n"
	"}\n";

static const char hedy_schema[] =
	"{\"users\": {\"partition_key\": {\"name\": \"username\", \"type\": \"S\"}},\n"
	" \"quiz-stats\": {\"partition_key\": {\"name\": \"id#level\", \"type\": \"S\"},\n"
	"                \"sort_key\": {\"name\": \"week\", \"type\": \"S\"}}}\n";

START_TEST(test_hedy_dev_database_import)
{
	struct xfer_schemas sch;
	struct dyn_err err;
	uint64_t n;
	db_t *db = new_db(), *want = new_db();

	err_clear(&err);
	ck_assert_int_eq(xfer_schemas_parse(hedy_schema, strlen(hedy_schema), NULL, &sch, &err), 0);
	ck_assert_msg(import_text(db, hedy_file, XFER_HEDY, NULL, &sch, &n, &err) == 0, "%s",
		      err.msg);
	ck_assert_uint_eq(n, 4);
	create_table(want, "users", "username", NULL);
	create_table(want, "quiz-stats", "id#level", "week");
	put(want, "users", "{\"username\":\"hedy\",\"email\":\"hedy@hedy.org\",\"created\":1681239902406,"
			   "\"password\":\"$2b$09$riZem.ck\",\"language\":\"nl\",\"display\":\"Hédy\"}");
	/* the empty set is dropped, as DynamoDB drops a set that becomes empty */
	put(want, "users", "{\"username\":\"felienne\",\"created\":1637851898173,"
			   "\"teacher_request\":true,\"classes\":{\"$SS\":[\"c1\",\"c2\"]}}");
	put(want, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-09\",\"id\":\"felienne\","
				"\"level\":3,\"finished\":1,\"scores\":{\"$NS\":[95,100.5]}}");
	put(want, "quiz-stats", "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\",\"finished\":0}");
	assert_tables_equal(db, want, "users");
	assert_tables_equal(db, want, "quiz-stats");
	/* --table picks one table */
	db_free(db);
	db = new_db();
	ck_assert_int_eq(import_text(db, hedy_file, XFER_HEDY, "users", &sch, &n, &err), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(db_table_count(db), 1);
	xfer_schemas_free(&sch);
	db_free(db);
	db_free(want);
}
END_TEST

START_TEST(test_hedy_export_layout)
{
	uint64_t n;
	char *text;
	db_t *db = new_db();

	create_table(db, "quiz-stats", "id#level", "week");
	create_table(db, "empty-table", "id", NULL);
	put(db, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-09\",\"finished\":1,"
			      "\"scores\":{\"$NS\":[95]}}");
	text = export_text(db, XFER_HEDY, NULL, &n);
	ck_assert_str_eq(text, "{\n"
			       "  \"empty-table\": [],\n"
			       "  \"quiz-stats\": [\n"
			       "    {\n"
			       "      \"id#level\": \"felienne#3\",\n"
			       "      \"week\": \"2022-09\",\n"
			       "      \"finished\": 1,\n"
			       "      \"scores\": {\n"
			       "        \"$type\": \"set\",\n"
			       "        \"elements\": [\n"
			       "          95\n"
			       "        ]\n"
			       "      }\n"
			       "    }\n"
			       "  ]\n"
			       "}\n");
	free(text);
	db_free(db);
}
END_TEST


/* Warnings an import printed, one per line. */
static void collect_warning(void *ctx, const char *msg)
{
	struct sf_buf *b = ctx;

	ck_assert_int_eq(sf_buf_adds(b, msg), 0);
	ck_assert_int_eq(sf_buf_addc(b, '\n'), 0);
}

static int import_hedy_opts(db_t *db, const char *text, struct xfer_import_opts *o,
			    struct sf_buf *warnings, uint64_t *n, struct dyn_err *err)
{
	FILE *fp = fmemopen((void *)text, strlen(text), "r");
	int rc;

	ck_assert_ptr_nonnull(fp);
	o->format = XFER_HEDY;
	o->source = "dev.json";
	o->warn.fn = collect_warning;
	o->warn.ctx = warnings;
	err_clear(err);
	rc = xfer_import(db, fp, o, n, err);
	fclose(fp);
	return rc;
}

/* Hedy's loader is Python's json.load with a set hook: read what it reads. */
static const char hedy_quirks[] =
	"{\n"
	"  \"users\": [\n"
	"    {\"username\": \"a\", \"keyword_language\": \"en\", \"keyword_language\": \"nl\",\n"
	"     \"prefs\": {\"x\": 1, \"x\": {\"deep\": true}},\n"
	"     \"classes\": {\"$type\": \"set\", \"note\": 1, \"elements\": [\"c2\", \"c1\", \"c2\"]},\n"
	"     \"gone\": {\"$type\": \"set\", \"elements\": []},\n"
	"     \"tags\": [\"x\"], \"tags\": {\"$type\": \"set\", \"elements\": []},\n"
	"     \"tagged\": {\"$B\": \"AAEC\", \"$M\": {\"$N\": \"1\"}}},\n"
	"    {\"username\": \"b\", \"n\": 100.0},\n"
	"    {\"username\": \"a\", \"second\": true}\n"
	"  ],\n"
	"  \"programs\": [{\"id\": \"old\"}],\n"
	"  \"programs\": [{\"id\": \"p1\"}, {\"id\": \"p2\"}, {\"id\": \"p1\", \"dup\": 1}]\n"
	"}\n";

START_TEST(test_hedy_reads_as_hedy_does)
{
	struct xfer_import_opts o = {0};
	struct sf_buf w = SF_BUF_INIT;
	struct xfer_schemas sch;
	struct dyn_err err;
	uint64_t n;
	char *text;
	db_t *db = new_db();
	static const char schema[] =
		"{\"users\": {\"partition_key\": {\"name\": \"username\", \"type\": \"S\"}},"
		" \"programs\": {\"partition_key\": {\"name\": \"id\", \"type\": \"S\"}}}";

	err_clear(&err);
	ck_assert_int_eq(xfer_schemas_parse(schema, strlen(schema), NULL, &sch, &err), 0);
	o.schemas = &sch;
	ck_assert_msg(import_hedy_opts(db, hedy_quirks, &o, &w, &n, &err) == 0, "%s", err.msg);
	/* the count is what was stored: 2 users, 2 programs */
	ck_assert_uint_eq(n, 4);
	text = export_text(db, XFER_JSONL, "users", &n);
	ck_assert_str_eq(text,
			 "{\"username\":\"a\",\"classes\":{\"$SS\":[\"c1\",\"c2\"]},"
			 "\"keyword_language\":\"nl\",\"prefs\":{\"x\":{\"deep\":true}},"
			 "\"tagged\":{\"$B\":\"AAEC\",\"$M\":{\"$M\":{\"$N\":\"1\"}}}}\n"
			 "{\"username\":\"b\",\"n\":100}\n");
	free(text);
	text = export_text(db, XFER_JSONL, "programs", &n);
	ck_assert_str_eq(text, "{\"id\":\"p1\"}\n{\"id\":\"p2\"}\n");
	free(text);
	/* one line for each thing not kept as written */
	ck_assert_msg(strstr(w.p, "dev.json: table programs appears more than once: the last "
				  "one is kept") != NULL, "%s", w.p);
	ck_assert_msg(strstr(w.p, "dev.json:3: users[0].keyword_language: attribute repeated") !=
			      NULL, "%s", w.p);
	ck_assert_msg(strstr(w.p, "users[0].prefs.x: attribute repeated") != NULL, "%s", w.p);
	ck_assert_msg(strstr(w.p, "users[0].classes: members of a {\"$type\": \"set\"}") != NULL,
		      "%s", w.p);
	ck_assert_msg(strstr(w.p, "users[0].classes: set element \"c2\" appears more than once") !=
			      NULL, "%s", w.p);
	ck_assert_msg(strstr(w.p, "users[0].gone: empty set dropped") != NULL, "%s", w.p);
	ck_assert_msg(strstr(w.p, "users[0].tags: empty set dropped") != NULL, "%s", w.p);
	ck_assert_msg(strstr(w.p, "dev.json:10: users[2] has the key of users[0]: skipped") != NULL,
		      "%s", w.p);
	ck_assert_msg(strstr(w.p, "programs[2] has the key of programs[0]: skipped") != NULL, "%s",
		      w.p);
	sf_buf_free(&w);
	xfer_schemas_free(&sch);
	db_free(db);
}
END_TEST

START_TEST(test_hedy_unknown_table_needs_guess_keys)
{
	struct xfer_import_opts o = {0};
	struct sf_buf w = SF_BUF_INIT;
	struct dyn_err err;
	struct table_schema s;
	uint64_t n;
	table_t *t;
	db_t *db = new_db();
	static const char file[] = "{\"surveys2\": [{\"name\": \"q\", \"id\": \"s1\"}, {\"id\": \"s2\"}],"
				   " \"stats\": [{\"level\": 1, \"n\": \"x\"}, {\"level\": 2}]}";

	ck_assert_int_eq(import_hedy_opts(db, file, &o, &w, &n, &err), -ENOENT);
	ck_assert_msg(strstr(err.msg, "table surveys2 is in no schema") &&
			      strstr(err.msg, "--guess-keys"),
		      "%s", err.msg);
	o.guess_keys = true;
	ck_assert_msg(import_hedy_opts(db, file, &o, &w, &n, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(n, 4);
	ck_assert_int_eq(db_table_open(db, "surveys2", &t), 0);
	ck_assert_int_eq(tbl_schema(t, &s), 0);
	ck_assert_str_eq(s.pk.name, "id");
	ck_assert_int_eq(s.pk.type, VAL_S);
	schema_free(&s);
	tbl_close(t);
	ck_assert_int_eq(db_table_open(db, "stats", &t), 0);
	ck_assert_str_eq(tbl_pk(t)->name, "level");
	ck_assert_int_eq(tbl_pk(t)->type, VAL_N);
	tbl_close(t);
	ck_assert_ptr_nonnull(strstr(w.p, "created with partition key id (S), guessed"));
	sf_buf_free(&w);
	db_free(db);
}
END_TEST

START_TEST(test_hedy_replace_makes_tables_equal_to_the_file)
{
	struct xfer_import_opts o = {0};
	struct sf_buf w = SF_BUF_INIT;
	struct xfer_schemas sch;
	struct dyn_err err;
	uint64_t n;
	char *text;
	db_t *db = new_db();
	static const char schema[] =
		"{\"users\": {\"partition_key\": {\"name\": \"username\", \"type\": \"S\"},"
		"  \"indexes\": [{\"name\": \"email-index\", \"partition_key\": {\"name\": \"email\","
		"   \"type\": \"S\"}}]},"
		" \"programs\": {\"partition_key\": {\"name\": \"id\", \"type\": \"S\"}}}";

	err_clear(&err);
	ck_assert_int_eq(xfer_schemas_parse(schema, strlen(schema), NULL, &sch, &err), 0);
	o.schemas = &sch;
	ck_assert_int_eq(import_hedy_opts(db,
					  "{\"users\": [{\"username\": \"a\", \"email\": \"a@x\"},"
					  " {\"username\": \"b\"}], \"programs\": [{\"id\": \"p\"}]}",
					  &o, &w, &n, &err),
			 0);
	create_table(db, "extra", "id", NULL);
	/* upsert: b stays */
	ck_assert_int_eq(import_hedy_opts(db, "{\"users\": [{\"username\": \"a\", \"v\": 2}]}", &o,
					  &w, &n, &err),
			 0);
	text = export_text(db, XFER_JSONL, "users", &n);
	ck_assert_str_eq(text, "{\"username\":\"a\",\"v\":2}\n{\"username\":\"b\"}\n");
	free(text);
	/* --replace: b is gone, programs and extra are not in the file and stay */
	o.replace = XFER_REPLACE_TABLES;
	ck_assert_int_eq(import_hedy_opts(db, "{\"users\": [{\"username\": \"a\", \"email\": \"e\"}]}",
					  &o, &w, &n, &err),
			 0);
	text = export_text(db, XFER_JSONL, "users", &n);
	ck_assert_str_eq(text, "{\"username\":\"a\",\"email\":\"e\"}\n");
	free(text);
	ck_assert_uint_eq(db_table_count(db), 3);
	/* the table kept its index through the replace */
	{
		table_t *t;
		struct table_schema s;

		ck_assert_int_eq(db_table_open(db, "users", &t), 0);
		ck_assert_int_eq(tbl_schema(t, &s), 0);
		ck_assert_uint_eq(s.nindex, 1);
		schema_free(&s);
		tbl_close(t);
	}
	/* --replace=all: tables the file does not have are dropped */
	o.replace = XFER_REPLACE_ALL;
	ck_assert_int_eq(import_hedy_opts(db, "{\"users\": []}", &o, &w, &n, &err), 0);
	ck_assert_uint_eq(db_table_count(db), 1);
	text = export_text(db, XFER_HEDY, NULL, &n);
	ck_assert_str_eq(text, "{\n  \"users\": []\n}\n");
	free(text);
	ck_assert_ptr_nonnull(strstr(w.p, "table extra is not in the file: dropped"));
	sf_buf_free(&w);
	xfer_schemas_free(&sch);
	db_free(db);
}
END_TEST

START_TEST(test_hedy_export_refuses_what_hedy_misreads)
{
	struct xfer_export_opts o = {XFER_HEDY, NULL, NULL, NULL};
	struct dyn_err err;
	uint64_t n;
	FILE *fp = fopen("/dev/null", "w");
	char *text;
	db_t *db = new_db();

	create_table(db, "t-a", "id", NULL);
	put(db, "t-a", "{\"id\":\"x\",\"m\":{\"$type\":\"set\",\"elements\":[1]}}");
	err_clear(&err);
	ck_assert_int_eq(xfer_export(db, fp, &o, &n, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "table t-a, item {\"id\":\"x\"}: m: a map with \"$type\"") !=
			      NULL, "%s", err.msg);
	db_free(db);
	db = new_db();
	create_table(db, "t-b", "id", NULL);
	put(db, "t-b", "{\"id\":\"x\",\"l\":[{\"$BS\":[\"AA==\"]}]}");
	err_clear(&err);
	ck_assert_int_eq(xfer_export(db, fp, &o, &n, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "binary value"));
	db_free(db);
	/* tag-like member names are plain maps to Hedy: written as they are */
	db = new_db();
	create_table(db, "t-c", "id", NULL);
	put(db, "t-c", "{\"id\":\"x\",\"m\":{\"$M\":{\"$B\":\"not binary\"}}}");
	text = export_text(db, XFER_HEDY, NULL, &n);
	ck_assert_msg(strstr(text, "\"m\": {\n        \"$B\": \"not binary\"\n      }") != NULL,
		      "%s", text);
	free(text);
	fclose(fp);
	db_free(db);
}
END_TEST

START_TEST(test_hedy_export_numbers_read_back_by_python)
{
	uint64_t n;
	char *text;
	db_t *db = new_db();

	create_table(db, "nums", "id", NULL);
	put(db, "nums", "{\"id\":\"x\",\"big\":{\"$N\":\"12345678901234567890123\"},"
			"\"e\":{\"$N\":\"1e+3\"},\"neg\":-42,\"zero\":0,\"f\":100.0,"
			"\"dec\":0.1,\"tiny\":{\"$N\":\"1e-130\"},\"ns\":{\"$NS\":[1e2,2.5]}}");
	text = export_text(db, XFER_HEDY, NULL, &n);
	/* integers with every digit (Python: int), the rest canonical (float) */
	ck_assert_msg(strstr(text, "\"big\": 12345678901234567890123,") &&
			      strstr(text, "\"e\": 1000,") && strstr(text, "\"neg\": -42,") &&
			      strstr(text, "\"zero\": 0\n") && strstr(text, "\"f\": 100,") &&
			      strstr(text, "\"dec\": 0.1,") && strstr(text, "\"tiny\": 1e-130,\n") &&
			      strstr(text, "          2.5,\n          100\n"),
		      "%s", text);
	free(text);
	db_free(db);
}
END_TEST

#define ID_SCHEMA "{\"partition_key\": {\"name\": \"id\", \"type\": \"S\"}}"
#define KEY_SCHEMA "{\"partition_key\": {\"name\": \"key\", \"type\": \"S\"}}"
#define BAD_SCHEMA "{\"partition_key\": {\"name\": \"key\", \"type\": \"X\"}}"

static int schemas(const char *text, struct xfer_schemas *sch, struct dyn_err *err)
{
	err_clear(err);
	return xfer_schemas_parse(text, strlen(text), "things", sch, err);
}

START_TEST(test_import_needs_table_and_schema)
{
	struct xfer_schemas sch;
	struct dyn_err err;
	uint64_t n;
	db_t *db = new_db();

	ck_assert_int_eq(import_text(db, "{\"id\":\"a\"}\n", XFER_JSONL, NULL, NULL, &n, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "--table"));
	ck_assert_int_eq(import_text(db, "{\"id\":\"a\"}\n", XFER_JSONL, "things", NULL, &n, &err),
			 -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "--schema"));
	/* a single-table schema file is for --table */
	err_clear(&err);
	ck_assert_int_eq(schemas(ID_SCHEMA, &sch, &err), 0);
	ck_assert_int_eq(import_text(db, "{\"id\":\"a\"}\n{\"id\":\"b\",\"n\":1}\n", XFER_JSONL,
				     "things", &sch, &n, &err),
			 0);
	ck_assert_uint_eq(n, 2);
	xfer_schemas_free(&sch);
	/* an existing table must agree with the schema file */
	ck_assert_int_eq(schemas(KEY_SCHEMA, &sch, &err), 0);
	ck_assert_int_eq(import_text(db, "{\"key\":\"a\"}\n", XFER_JSONL, "things", &sch, &n, &err),
			 -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "different key schema"));
	xfer_schemas_free(&sch);
	ck_assert_int_eq(schemas(BAD_SCHEMA, &sch, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "type must be S, N or B"));
	db_free(db);
}
END_TEST

START_TEST(test_import_errors_name_line_and_column)
{
	struct xfer_schemas sch;
	struct dyn_err err;
	uint64_t n;
	db_t *db = new_db();

	create_table(db, "users", "username", NULL);
	ck_assert_int_eq(import_text(db, "{\"username\":\"a\"}\n{\"username\":\"b\"}\n"
					 "{\"username\":\"c\",\"x\":tru}\n",
				     XFER_JSONL, "users", NULL, &n, &err),
			 -EINVAL);
	ck_assert_msg(!strncmp(err.msg, "input:3:", 8), "%s", err.msg);
	ck_assert_int_eq(import_text(db, "{\"Item\":{\"username\":{\"S\":\"a\"}}}\n"
					 "{\"Item\":{\"username\":{\"N\":\"1\"}}}\n",
				     XFER_DYNAMODB, "users", NULL, &n, &err),
			 -EINVAL);
	ck_assert_msg(!strncmp(err.msg, "input:2", 7), "%s", err.msg);
	err_clear(&err);
	ck_assert_int_eq(xfer_schemas_parse(hedy_schema, strlen(hedy_schema), NULL, &sch, &err), 0);
	ck_assert_int_eq(import_text(db, "{\n  \"users\": [\n    {\"username\": \"x\",\n"
					 "     \"bad\": {\"$type\": \"set\", \"elements\": [1, \"a\"]}}\n"
					 "  ]\n}\n",
				     XFER_HEDY, NULL, &sch, &n, &err),
			 -EINVAL);
	/* line and column of the offending element */
	ck_assert_msg(!strncmp(err.msg, "input:4:46: users[0].bad: a set mixes", 37), "%s", err.msg);
	xfer_schemas_free(&sch);
	db_free(db);
}
END_TEST

START_TEST(test_export_needs_one_table)
{
	struct xfer_export_opts o = {XFER_JSONL, NULL, NULL, NULL};
	struct dyn_err err;
	uint64_t n;
	FILE *fp = fopen("/dev/null", "w");
	db_t *db = new_db();

	fill_hedy(db);
	err_clear(&err);
	ck_assert_int_eq(xfer_export(db, fp, &o, &n, &err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "--table"));
	o.table = "nope";
	err_clear(&err);
	ck_assert_int_eq(xfer_export(db, fp, &o, &n, &err), -ENOENT);
	fclose(fp);
	db_free(db);
}
END_TEST

START_TEST(test_gzip_input_is_decompressed)
{
	char dir[] = "/tmp/check-xfer.XXXXXX", cmd[256], path[128];
	struct xfer_in in;
	struct dyn_err err;
	char line[64];
	FILE *fp;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/data.json", dir);
	fp = fopen(path, "w");
	fputs("{\"Item\":{\"id\":{\"S\":\"gz\"}}}\n", fp);
	fclose(fp);
	snprintf(cmd, sizeof(cmd), "gzip %s", path);
	ck_assert_int_eq(system(cmd), 0);
	strcat(path, ".gz");
	err_clear(&err);
	ck_assert_int_eq(xfer_in_open(path, &in, &err), 0);
	ck_assert_int_gt(in.child, 0);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), in.fp));
	ck_assert_str_eq(line, "{\"Item\":{\"id\":{\"S\":\"gz\"}}}\n");
	ck_assert_int_eq(xfer_in_close(&in, path, &err), 0);
	/* a damaged archive is reported */
	fp = fopen(path, "r+");
	fseek(fp, 12, SEEK_SET);
	fputs("garbage!garbage!", fp);
	fclose(fp);
	ck_assert_int_eq(xfer_in_open(path, &in, &err), 0);
	while (fgets(line, sizeof(line), in.fp))
		;
	ck_assert_int_eq(xfer_in_close(&in, path, &err), -EIO);
	rm_rf(dir);
}
END_TEST

/* The schema rendering shared by DescribeTable (api/) and CreateTable
 * (remote/): a name used by the table and an index is defined once, an
 * index keeps its projection. */
START_TEST(test_ddb_schema_rendering)
{
	struct index_def ix[2] = {{.name = "email-index",
				   .pk = {.name = "email", .type = VAL_S},
				   .proj = PROJ_KEYS_ONLY},
				  {.name = "by-week",
				   .pk = {.name = "id#level", .type = VAL_S},
				   .sk = {.name = "score", .type = VAL_N},
				   .has_sk = true,
				   .proj = PROJ_INCLUDE,
				   .include = (char *[]){"username"},
				   .ninclude = 1}};
	struct table_schema s = {.pk = {.name = "id#level", .type = VAL_S},
				 .sk = {.name = "week", .type = VAL_S},
				 .has_sk = true,
				 .index = ix,
				 .nindex = 2};
	struct sf_buf b = SF_BUF_INIT;

	ck_assert_int_eq(ddb_render_attr_defs(&b, &s), 0);
	ck_assert_int_eq(sf_buf_addc(&b, '|'), 0);
	ck_assert_int_eq(ddb_render_index_open(&b, &ix[1]), 0);
	ck_assert_str_eq(b.p,
			 "[{\"AttributeName\":\"id#level\",\"AttributeType\":\"S\"},"
			 "{\"AttributeName\":\"week\",\"AttributeType\":\"S\"},"
			 "{\"AttributeName\":\"email\",\"AttributeType\":\"S\"},"
			 "{\"AttributeName\":\"score\",\"AttributeType\":\"N\"}]|"
			 "{\"IndexName\":\"by-week\",\"KeySchema\":[{\"AttributeName\":"
			 "\"id#level\",\"KeyType\":\"HASH\"},{\"AttributeName\":\"score\","
			 "\"KeyType\":\"RANGE\"}],\"Projection\":{\"ProjectionType\":"
			 "\"INCLUDE\",\"NonKeyAttributes\":[\"username\"]}");
	sf_buf_free(&b);
}
END_TEST

Suite *xfer_suite(void);
Suite *xfer_suite(void)
{
	Suite *s = suite_create("xfer");
	TCase *tc;

	tc = tcase_create("xfer_ddb");
	tcase_add_test(tc, test_ddb_every_type_round_trip);
	tcase_add_test(tc, test_ddb_numbers_stay_exact);
	tcase_add_test(tc, test_ddb_rejects_malformed);
	tcase_add_test(tc, test_ddb_s3_export_sample);
	tcase_add_test(tc, test_ddb_schema_rendering);
	suite_add_tcase(s, tc);

	tc = tcase_create("xfer_import");
	tcase_add_test(tc, test_round_trips_through_every_format);
	tcase_add_test(tc, test_hedy_dev_database_import);
	tcase_add_test(tc, test_hedy_export_layout);
	tcase_add_test(tc, test_hedy_reads_as_hedy_does);
	tcase_add_test(tc, test_hedy_unknown_table_needs_guess_keys);
	tcase_add_test(tc, test_hedy_replace_makes_tables_equal_to_the_file);
	tcase_add_test(tc, test_hedy_export_refuses_what_hedy_misreads);
	tcase_add_test(tc, test_hedy_export_numbers_read_back_by_python);
	tcase_add_test(tc, test_import_needs_table_and_schema);
	tcase_add_test(tc, test_import_errors_name_line_and_column);
	tcase_add_test(tc, test_export_needs_one_table);
	tcase_add_test(tc, test_gzip_input_is_decompressed);
	suite_add_tcase(s, tc);
	return s;
}
