/*
 * check_snap.c - snapshots: round trips of every type, chunked copies,
 * the line format, and refusal of every damaged or truncated file.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fix_file.h"
#include "crc32c.h"
#include "db.h"
#include "item.h"
#include "snap.h"

static char dir[64];
static char path[128];
static db_t *db;

static void setup(void)
{
	strcpy(dir, "/tmp/check-snap.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/%s", dir, SNAP_NAME);
	ck_assert_int_eq(db_new(&db), 0);
}

static void teardown(void)
{
	char cmd[128], *why = NULL;

	ck_assert_msg(db_check_integrity(db, &why) == 0, "integrity: %s", why);
	db_free(db);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void put(db_t *d, const char *table, const char *json)
{
	struct dyn_err err;
	struct val item;
	table_t *t;

	err_clear(&err);
	ck_assert_int_eq(db_table_open(d, table, &t), 0);
	ck_assert_msg(item_parse(json, strlen(json), &item, &err) == 0, "parse %s: %s", json,
		      err.msg);
	ck_assert_msg(tbl_put(t, &item, 0, &err) == 0, "put: %s", err.msg);
	val_free(&item);
	tbl_close(t);
}

static void create(db_t *d, const char *name, const char *pk, const char *sk)
{
	struct table_schema s;
	struct dyn_err err;

	memset(&s, 0, sizeof(s));
	snprintf(s.pk.name, sizeof(s.pk.name), "%s", pk);
	s.pk.type = VAL_S;
	if (sk) {
		s.has_sk = true;
		snprintf(s.sk.name, sizeof(s.sk.name), "%s", sk);
		s.sk.type = VAL_S;
	}
	err_clear(&err);
	ck_assert_msg(db_create_table(d, name, &s, &err) == 0, "create: %s", err.msg);
}

/* The two Hedy tables, an index, and items holding every type. */
static void fill(db_t *d)
{
	struct table_schema s;
	struct dyn_err err;
	table_t *t;

	create(d, "users", "username", NULL);
	create(d, "quiz-stats", "id#level", "week");
	/* an index on users.email, added to a table with data later */
	put(d, "users", "{\"username\":\"hedy\",\"email\":\"hedy@hedy.org\","
			"\"created\":1681239902406,\"password\":\"$2b$09$riZem.ck\"}");
	ck_assert_int_eq(db_table_open(d, "users", &t), 0);
	ck_assert_int_eq(tbl_schema(t, &s), 0);
	tbl_close(t);
	s.index = calloc(1, sizeof(*s.index));
	s.nindex = 1;
	strcpy(s.index[0].name, "email-index");
	strcpy(s.index[0].pk.name, "email");
	s.index[0].pk.type = VAL_S;
	s.index[0].proj = PROJ_ALL;
	err_clear(&err);
	ck_assert_msg(db_set_schema(d, "users", &s, &err) == 0, "set_schema: %s", err.msg);
	schema_free(&s);
	/* the API's metadata rides along with the schema, verbatim */
	ck_assert_int_eq(db_set_api_meta(d, "users", "{\"created\":1,\"tags\":{\"k\":\"v\"}}",
					 &err), 0);
	put(d, "users", "{\"username\":\"felienne\",\"email\":\"felienne@felienne.com\","
			"\"created\":1637851898173,\"tags\":{\"$SS\":[\"teacher\",\"admin\"]}}");
	put(d, "users", "{\"username\":\"every-type\",\"s\":\"h\\u00e9llo \\\"q\\\" \\n\\t\","
			"\"n38\":{\"$N\":\"12345678901234567890123456789012345678\"},"
			"\"tiny\":{\"$N\":\"1e-130\"},"
			"\"huge\":{\"$N\":\"9.9999999999999999999999999999999999999e+125\"},"
			"\"neg\":-0.1,\"bin\":{\"$B\":\"AAEC/w==\"},"
			"\"ss\":{\"$SS\":[\"a\",\"b\"]},\"ns\":{\"$NS\":[1,2.5,-3]},"
			"\"bs\":{\"$BS\":[\"AA==\",\"AQ==\"]},"
			"\"l\":[1,\"x\",null,true,{\"m\":{\"deep\":[[]]}}],"
			"\"m\":{\"$M\":{\"$N\":\"not a number\"}},"
			"\"nul\":null,\"f\":false,\"emptyl\":[],\"emptym\":{}}");
	put(d, "quiz-stats", "{\"id#level\":\"hedy#1\",\"week\":\"2023-31\",\"id\":\"hedy\","
			     "\"level\":1,\"finished\":1,\"scores\":{\"$NS\":[60]}}");
	put(d, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-08\","
			     "\"id\":\"felienne\",\"level\":3,\"finished\":0}");
	put(d, "quiz-stats", "{\"id#level\":\"felienne#3\",\"week\":\"2022-09\","
			     "\"id\":\"felienne\",\"level\":3,\"finished\":1,"
			     "\"scores\":{\"$NS\":[95]}}");
	put(d, "quiz-stats", "{\"id#level\":\"student123#9\",\"week\":\"2023-23\","
			     "\"id\":\"student123\",\"level\":9,\"finished\":1,"
			     "\"scores\":{\"$NS\":[40,80]}}");
}

/* All items of a table, in key order. */
struct items {
	struct val v[4096]; /* decoded items */
	size_t n;	    /* used */
};

static int items_cb(void *ctx, const struct item_ref *r)
{
	struct items *it = ctx;

	ck_assert_uint_lt(it->n, 4096);
	ck_assert_int_eq(iref_decode(r, &it->v[it->n]), 0);
	it->n++;
	return 0;
}

static struct items *items_of(db_t *d, const char *name)
{
	struct items *it = calloc(1, sizeof(*it));
	struct tbl_scan sc = {0};
	table_t *t;

	ck_assert_int_eq(db_table_open(d, name, &t), 0);
	ck_assert_int_eq(tbl_scan(t, &sc, items_cb, it, NULL), 0);
	tbl_close(t);
	return it;
}

static void items_free(struct items *it)
{
	size_t i;

	for (i = 0; i < it->n; i++)
		val_free(&it->v[i]);
	free(it);
}

struct names {
	char v[16][256]; /* table names */
	int n;		 /* used */
};

static int names_cb(void *ctx, const char *name)
{
	struct names *nm = ctx;

	ck_assert_int_lt(nm->n, 16);
	snprintf(nm->v[nm->n++], 256, "%s", name);
	return 0;
}

/* Same tables, same schemas, same items. */
static void assert_db_equal(db_t *a, db_t *b)
{
	struct names na = {0}, nb = {0};
	struct table_schema sa, sb;
	struct items *ia, *ib;
	table_t *ta, *tb;
	size_t i;
	int k;

	db_list_tables(a, NULL, names_cb, &na);
	db_list_tables(b, NULL, names_cb, &nb);
	ck_assert_int_eq(na.n, nb.n);
	for (k = 0; k < na.n; k++) {
		ck_assert_str_eq(na.v[k], nb.v[k]);
		ck_assert_int_eq(db_table_open(a, na.v[k], &ta), 0);
		ck_assert_int_eq(db_table_open(b, nb.v[k], &tb), 0);
		ck_assert_int_eq(tbl_schema(ta, &sa), 0);
		ck_assert_int_eq(tbl_schema(tb, &sb), 0);
		ck_assert_str_eq(sa.pk.name, sb.pk.name);
		ck_assert_int_eq(sa.pk.type, sb.pk.type);
		ck_assert_int_eq(sa.has_sk, sb.has_sk);
		ck_assert_uint_eq(sa.nindex, sb.nindex);
		for (i = 0; i < sa.nindex; i++) {
			ck_assert_str_eq(sa.index[i].name, sb.index[i].name);
			ck_assert_str_eq(sa.index[i].pk.name, sb.index[i].pk.name);
			ck_assert_int_eq(sa.index[i].proj, sb.index[i].proj);
		}
		ck_assert_int_eq(!sa.api_meta, !sb.api_meta);
		if (sa.api_meta)
			ck_assert_str_eq(sa.api_meta, sb.api_meta);
		schema_free(&sa);
		schema_free(&sb);
		tbl_close(ta);
		tbl_close(tb);
		ia = items_of(a, na.v[k]);
		ib = items_of(b, nb.v[k]);
		ck_assert_uint_eq(ia->n, ib->n);
		for (i = 0; i < ia->n; i++)
			ck_assert_msg(val_equal(&ia->v[i], &ib->v[i]), "table %s item %zu differs",
				      na.v[k], i);
		items_free(ia);
		items_free(ib);
	}
}

static void write_snapshot(uint64_t lsn, struct snap_info *si)
{
	struct dyn_err err;

	err_clear(&err);
	ck_assert_msg(snap_write(dir, db, lsn, si, &err) == 0, "snap_write: %s", err.msg);
	ck_assert_int_eq(snap_commit(dir, &err), 0);
}

START_TEST(test_snapshot_round_trip_every_type)
{
	struct snap_info si, li;
	struct dyn_err err;
	char *why = NULL;
	db_t *d2;

	fill(db);
	write_snapshot(7, &si);
	ck_assert_uint_eq(si.tables, 2);
	ck_assert_uint_eq(si.items, 7);
	ck_assert_int_ne(access(path, F_OK), -1);
	ck_assert_int_ne(access(dir, F_OK), -1);
	ck_assert_int_eq(db_new(&d2), 0);
	err_clear(&err);
	ck_assert_msg(snap_load(path, d2, &li, &err) == 0, "load: %s", err.msg);
	ck_assert_uint_eq(li.lsn, 7);
	ck_assert_uint_eq(li.items, 7);
	ck_assert_uint_eq(li.tables, 2);
	ck_assert_uint_eq(li.bytes, si.bytes);
	assert_db_equal(db, d2);
	ck_assert_msg(db_check_integrity(d2, &why) == 0, "integrity: %s", why);
	db_free(d2);
}
END_TEST

START_TEST(test_snapshot_chunks_resume_after_last_key)
{
	struct snap_info si, li;
	struct dyn_err err;
	char json[128];
	db_t *d2;
	int i;

	create(db, "quiz-stats", "id#level", "week");
	create(db, "users", "username", NULL);
	/* several chunks in one partition and across partitions */
	for (i = 0; i < 3 * SNAP_CHUNK + 5; i++) {
		snprintf(json, sizeof(json), "{\"id#level\":\"p%d\",\"week\":\"w%05d\",\"i\":%d}",
			 i % 3, i, i);
		put(db, "quiz-stats", json);
		snprintf(json, sizeof(json), "{\"username\":\"u%05d\"}", i);
		put(db, "users", json);
	}
	write_snapshot(1, &si);
	ck_assert_uint_eq(si.items, 2 * (3 * SNAP_CHUNK + 5));
	ck_assert_int_eq(db_new(&d2), 0);
	err_clear(&err);
	ck_assert_msg(snap_load(path, d2, &li, &err) == 0, "load: %s", err.msg);
	assert_db_equal(db, d2);
	db_free(d2);
}
END_TEST

/* A table keyed pk_type [sk_type] for test_snapshot_lines_as_rendered_in_place. */
static void create_typed(const char *name, enum val_type pt, enum val_type st)
{
	struct table_schema s;

	memset(&s, 0, sizeof(s));
	strcpy(s.pk.name, "p");
	s.pk.type = pt;
	if (st != VAL_NULL) {
		s.has_sk = true;
		strcpy(s.sk.name, "s");
		s.sk.type = st;
	}
	ck_assert_int_eq(db_create_table(db, name, &s, NULL), 0);
}

/* Base64 of the three bytes a b c. */
static void b64_3(unsigned a, unsigned b, unsigned c, char out[5])
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	unsigned v = (a & 255) << 16 | (b & 255) << 8 | (c & 255);

	out[0] = al[v >> 18];
	out[1] = al[(v >> 12) & 63];
	out[2] = al[(v >> 6) & 63];
	out[3] = al[v & 63];
	out[4] = 0;
}

/* The reference: each item rendered under the scan's lock, as snap.c did. */
struct in_place {
	char *out;	    /* the lines so far (NUL-terminated) */
	size_t len, cap;    /* of out */
	const char *prefix; /* {"t":NAME,"i": */
};

/* Append n bytes to ip->out, growing it by doubling (the test renders
 * thousands of lines: a realloc and strlen per line was quadratic, too
 * slow under ASan for Check's timeout). */
static void ip_append(struct in_place *ip, const char *b, size_t n)
{
	if (ip->len + n + 1 > ip->cap) {
		while (ip->len + n + 1 > ip->cap)
			ip->cap = ip->cap ? ip->cap * 2 : 4096;
		ip->out = realloc(ip->out, ip->cap);
		ck_assert_ptr_nonnull(ip->out);
	}
	memcpy(ip->out + ip->len, b, n);
	ip->len += n;
	ip->out[ip->len] = 0;
}

static int render_in_place(void *ctx, const struct item_ref *r)
{
	struct in_place *ip = ctx;

	ip_append(ip, ip->prefix, strlen(ip->prefix));
	ck_assert_int_eq(iref_render_compact_append(r, &ip->out, &ip->len, &ip->cap), 0);
	ip_append(ip, "}\n", 2);
	return 0;
}

/*
 * snap_write copies each chunk's records under the read lock and renders
 * them after it: the lines are byte for byte those rendered in place from
 * the live records (iref_render_compact_append), across chunk boundaries
 * and partitions, for S, N and B keys, sort keys, and key values holding
 * zero bytes (decoded, not viewed in place).
 */
START_TEST(test_snapshot_lines_as_rendered_in_place)
{
	static const char *const names[] = {"bkeys", "nkeys", "skeys", "snkeys", "sskeys"};
	static const char *const svals[] = {"a", "a\\u0000b", "\\u00e9t\\u00e9", "\\u0000", "zz"};
	struct in_place ip = {NULL, 0, 0, NULL};
	struct snap_info si;
	char json[256], prefix[64], b64[5], *text, *body, *end;
	size_t len, i;
	table_t *t;

	create_typed("bkeys", VAL_B, VAL_NULL);
	create_typed("nkeys", VAL_N, VAL_NULL);
	create_typed("skeys", VAL_S, VAL_NULL);
	create_typed("snkeys", VAL_S, VAL_N);
	create_typed("sskeys", VAL_S, VAL_S);
	for (i = 0; i < 2 * SNAP_CHUNK + 7; i++) {
		b64_3(i % 3 ? 0 : 255, (unsigned)i >> 8, (unsigned)i, b64); /* zeros inside */
		snprintf(json, sizeof(json), "{\"p\":{\"$B\":\"%s\"},\"v\":%zu,\"l\":[\"x\"]}",
			 b64, i);
		put(db, "bkeys", json);
		snprintf(json, sizeof(json), "{\"p\":%s%zu.%zu,\"m\":{\"k\":null}}",
			 i % 2 ? "-" : "", i, i % 7);
		put(db, "nkeys", json);
		snprintf(json, sizeof(json), "{\"p\":\"%s%zu\",\"ss\":{\"$SS\":[\"b\",\"a\"]}}",
			 svals[i % 5], i);
		put(db, "skeys", json);
		snprintf(json, sizeof(json), "{\"p\":\"%s\",\"s\":%zu,\"b\":{\"$B\":\"AA==\"}}",
			 svals[i % 3], i);
		put(db, "snkeys", json);
		snprintf(json, sizeof(json), "{\"p\":\"%s\",\"s\":\"%s%zu\"}", svals[i % 2],
			 svals[(i / 2) % 5], i);
		put(db, "sskeys", json);
	}
	write_snapshot(9, &si);
	ck_assert_uint_eq(si.items, 5 * (2 * SNAP_CHUNK + 7));
	for (i = 0; i < 5; i++) {
		snprintf(prefix, sizeof(prefix), "{\"t\":\"%s\",\"i\":", names[i]);
		ip.prefix = prefix;
		ck_assert_int_eq(db_table_open(db, names[i], &t), 0);
		ck_assert_int_eq(tbl_scan(t, &(struct tbl_scan){0}, render_in_place, &ip, NULL), 0);
		tbl_close(t);
	}
	text = slurp(path, &len);
	body = strchr(text, '\n') + 1; /* after the header line */
	end = strstr(body, "{\"end\":\"snapshot\"");
	ck_assert_ptr_nonnull(end);
	*end = 0;
	ck_assert_str_eq(body, ip.out);
	free(text);
	free(ip.out);
}
END_TEST

START_TEST(test_snapshot_file_is_line_per_item)
{
	struct snap_info si;
	size_t len, lines = 0, i;
	char *text, *last;

	fill(db);
	write_snapshot(3, &si);
	text = slurp(path, &len);
	ck_assert_uint_eq(len, si.bytes);
	for (i = 0; i < len; i++)
		lines += text[i] == '\n';
	ck_assert_uint_eq(lines, si.items + 2);
	ck_assert(!strncmp(text, "{\"dynfs\":\"snapshot\",\"version\":1,\"lsn\":3,", 40));
	ck_assert_ptr_nonnull(strstr(text, "\n{\"t\":\"quiz-stats\",\"i\":{\"id#level\":\"felienne#3\","
					   "\"week\":\"2022-08\","));
	text[len - 1] = 0;
	last = strrchr(text, '\n') + 1;
	ck_assert(!strncmp(last, "{\"end\":\"snapshot\",\"tables\":2,\"items\":7,\"crc32c\":\"", 48));
	free(text);
}
END_TEST

/* Load into a fresh db; returns the error. */
static int try_load(struct dyn_err *err)
{
	struct snap_info li;
	db_t *d2;
	int rc;

	ck_assert_int_eq(db_new(&d2), 0);
	err_clear(err);
	rc = snap_load(path, d2, &li, err);
	db_free(d2);
	return rc;
}

START_TEST(test_every_flipped_byte_is_refused)
{
	struct snap_info si;
	struct dyn_err err;
	size_t len, l2, i;
	char *text, *now;
	int rc;

	fill(db);
	write_snapshot(5, &si);
	text = slurp(path, &len);
	ck_assert_int_eq(try_load(&err), 0);
	for (i = 0; i < len; i++) {
		text[i] ^= 0x01;
		spit(path, text, len);
		rc = try_load(&err);
		ck_assert_msg(rc == -EINVAL || rc == -EPROTO, "flip at %zu: rc %d", i, rc);
		ck_assert_ptr_nonnull(strstr(err.msg, path));
		now = slurp(path, &l2);
		ck_assert_uint_eq(l2, len);
		ck_assert_mem_eq(now, text, len);
		free(now);
		text[i] ^= 0x01;
	}
	free(text);
}
END_TEST

START_TEST(test_every_truncation_is_refused)
{
	struct snap_info si;
	struct dyn_err err;
	size_t len, cut;
	char *text;

	fill(db);
	write_snapshot(5, &si);
	text = slurp(path, &len);
	for (cut = 0; cut < len; cut++) {
		spit(path, text, cut);
		ck_assert_msg(try_load(&err) == -EINVAL, "cut at %zu loaded", cut);
	}
	/* a line boundary names the missing end marker */
	spit(path, text, (size_t)(strchr(text, '\n') - text) + 1);
	try_load(&err);
	ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
	free(text);
}
END_TEST

START_TEST(test_newer_version_is_eproto)
{
	struct dyn_err err;
	const char *v2 = "{\"dynfs\":\"snapshot\",\"version\":2,\"lsn\":0,\"tables\":[],"
			 "\"something\":\"new\"}\n";

	spit(path, v2, strlen(v2));
	ck_assert_int_eq(try_load(&err), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err.msg, "newer"));
	spit(path, "hello\n", 6);
	ck_assert_int_eq(try_load(&err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "not a dynfs snapshot"));
	unlink(path);
	ck_assert_int_eq(try_load(&err), -ENOENT);
}
END_TEST

START_TEST(test_item_of_undeclared_table_is_refused)
{
	struct snap_info si;
	struct dyn_err err;
	size_t len;
	char *text, *p;

	fill(db);
	write_snapshot(5, &si);
	text = slurp(path, &len);
	p = strstr(text, "\"t\":\"users\"");
	ck_assert_ptr_nonnull(p);
	memcpy(p + 5, "USERS", 5);
	spit(path, text, len);
	ck_assert_int_eq(try_load(&err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "line"));
	free(text);
}
END_TEST

/*
 * Replace the first occurrence of `from` in the snapshot at path by `to`
 * and write the trailer's checksum anew, so that only the change itself
 * can make loading fail.
 */
static void edit_resum(const char *from, const char *to)
{
	char *text, *p, *body, *trailer, *out;
	size_t len, blen, flen = strlen(from), tlen = strlen(to);
	char crc[9];

	text = slurp(path, &len);
	p = strstr(text, from);
	ck_assert_ptr_nonnull(p);
	body = malloc(len + tlen + 1);
	ck_assert_ptr_nonnull(body);
	memcpy(body, text, (size_t)(p - text));
	memcpy(body + (p - text), to, tlen);
	memcpy(body + (p - text) + tlen, p + flen, len - (size_t)(p - text) - flen);
	blen = len - flen + tlen;
	body[blen] = 0;
	body[blen - 1] = 0; /* the trailer's newline */
	trailer = strrchr(body, '\n') + 1;
	body[blen - 1] = '\n';
	snprintf(crc, sizeof(crc), "%08x", crc32c(0, body, (size_t)(trailer - body)));
	out = strstr(trailer, "\"crc32c\":\"") + 10;
	memcpy(out, crc, 8);
	spit(path, body, blen);
	free(body);
	free(text);
}

/*
 * Item lines exactly as written are loaded by a fast path; any other
 * valid form of the same line (members reordered, spaces) still loads
 * the same items, and a byte-order mark before the item (which the item
 * parser skips at the start of a document) is refused mid-line.
 */
START_TEST(test_item_lines_in_other_forms)
{
	struct snap_info si, li;
	struct dyn_err err;
	db_t *d2;

	create(db, "users", "id", NULL);
	put(db, "users", "{\"id\":\"a\",\"n\":1}");
	put(db, "users", "{\"id\":\"b\",\"n\":2}");
	write_snapshot(4, &si);
	edit_resum("{\"t\":\"users\",\"i\":{\"id\":\"a\",\"n\":1}}",
		   "{ \"i\" : {\"id\":\"a\",\"n\":1} , \"t\":\"users\" }");
	edit_resum("{\"t\":\"users\",\"i\":{\"id\":\"b\",\"n\":2}}",
		   "{\"t\":\"users\",\"i\":{\"id\":\"b\",\"n\":2} }");
	ck_assert_int_eq(db_new(&d2), 0);
	err_clear(&err);
	ck_assert_msg(snap_load(path, d2, &li, &err) == 0, "load: %s", err.msg);
	ck_assert_uint_eq(li.items, 2);
	assert_db_equal(db, d2);
	db_free(d2);

	write_snapshot(4, &si);
	edit_resum("\"i\":{\"id\":\"a\"", "\"i\":\xef\xbb\xbf{\"id\":\"a\"");
	ck_assert_int_eq(try_load(&err), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err.msg, "line 2"));
}
END_TEST

/* Load into a fresh db, which must equal db (items, counters, integrity). */
static void load_and_compare(void)
{
	struct tbl_stats sa, sb;
	struct snap_info li;
	struct dyn_err err;
	table_t *ta, *tb;
	char *why = NULL;
	db_t *d2;

	ck_assert_int_eq(db_new(&d2), 0);
	err_clear(&err);
	ck_assert_msg(snap_load(path, d2, &li, &err) == 0, "load: %s", err.msg);
	assert_db_equal(db, d2);
	ck_assert_msg(db_check_integrity(d2, &why) == 0, "integrity: %s", why);
	ck_assert_int_eq(db_table_open(db, "plain", &ta), 0);
	ck_assert_int_eq(db_table_open(d2, "plain", &tb), 0);
	tbl_stats(ta, &sa);
	tbl_stats(tb, &sb);
	ck_assert_uint_eq(sa.items, sb.items);
	ck_assert_uint_eq(sa.bytes, sb.bytes);
	ck_assert_uint_eq(sa.partitions, sb.partitions);
	tbl_close(ta);
	tbl_close(tb);
	db_free(d2);
}

/*
 * A table without indexes is loaded through the stored-form path
 * (item_parse_stored): every type, long lists and maps, escapes, and a
 * line in a form that path declines (unsorted names) all load to the
 * same items, sizes and counters as the val-tree path gives.
 */
START_TEST(test_plain_table_loads_every_form)
{
	char big[16384];
	size_t len, i;

	create(db, "plain", "id", "s");
	put(db, "plain", "{\"id\":\"a\",\"s\":\"1\",\"n38\":{\"$N\":\"12345678901234567890123456789012345678\"},"
			 "\"tiny\":{\"$N\":\"1e-130\"},\"neg\":-0.1,\"bin\":{\"$B\":\"AAEC/w==\"},"
			 "\"ss\":{\"$SS\":[\"a\",\"b\"]},\"ns\":{\"$NS\":[1,2.5,-3]},"
			 "\"bs\":{\"$BS\":[\"AA==\",\"AQ==\"]},\"l\":[1,\"x\",null,true,{\"m\":[[]]}],"
			 "\"m\":{\"$M\":{\"$N\":\"not a number\"}},\"e\":\"h\\u00e9 \\\"q\\\"\\n\\u0001\","
			 "\"nul\":null,\"f\":false,\"emptyl\":[],\"emptym\":{}}");
	len = (size_t)sprintf(big, "{\"id\":\"b\",\"s\":\"\\u00e9\",\"l\":[");
	for (i = 0; i < 1000; i++)
		len += (size_t)sprintf(big + len, "%s%zu", i ? "," : "", i);
	len += (size_t)sprintf(big + len, "],\"m\":{");
	for (i = 0; i < 200; i++)
		len += (size_t)sprintf(big + len, "%s\"k%zu\":\"v\"", i ? "," : "", i);
	sprintf(big + len, "}}");
	put(db, "plain", big);
	put(db, "plain", "{\"id\":\"c\",\"s\":\"2\",\"b\":1,\"a\":2}");
	write_snapshot(3, &(struct snap_info){0});
	load_and_compare();
	/* the same line with its names unsorted: declined, loaded the other way */
	edit_resum("{\"id\":\"c\",\"s\":\"2\",\"a\":2,\"b\":1}", "{\"b\":1,\"s\":\"2\",\"a\":2,\"id\":\"c\"}");
	load_and_compare();
}
END_TEST

/* Errors on a plain table's lines are the val-tree path's, word for word. */
START_TEST(test_plain_table_errors)
{
	static const char *const cases[][2] = {
	    {"{\"id\":\"a\",\"s\":\"1\",\"x\":1,\"x\":2}", "duplicate attribute \"x\""},
	    {"{\"id\":5,\"s\":\"1\",\"x\":1}", "must be of type S, not N"},
	    {"{\"s\":\"1\",\"x\":1}", "missing key attribute id"},
	    {"{\"id\":\"a\",\"s\":\"1\",\"x\":[1,]}", "trailing comma"},
	    {"{\"id\":\"a\",\"s\":\"1\",\"x\":{\"$SS\":[]}}", "is empty"},
	};
	struct snap_info si;
	struct dyn_err err;

	create(db, "plain", "id", "s");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(db, "plain", "{\"id\":\"a\",\"s\":\"1\",\"x\":1}");
		write_snapshot(3, &si);
		edit_resum("{\"id\":\"a\",\"s\":\"1\",\"x\":1}", cases[i][0]);
		ck_assert_int_eq(try_load(&err), -EINVAL);
		ck_assert_msg(strstr(err.msg, "line 2") && strstr(err.msg, cases[i][1]),
			      "case %zu: %s", i, err.msg);
	}
}
END_TEST

/*
 * An item whose size is 0 (an empty name and value: no key attribute)
 * is a corrupt line like any other: refused with its line number, its
 * arena-parsed values left to the arena (once freed one by one: an
 * invalid free that aborted the mount).
 */
START_TEST(test_zero_size_item_is_refused)
{
	static const char *const cases[] = {"{\"\":\"\"}", "{\"\":{\"$B\":\"\"}}"};
	struct snap_info si;
	struct dyn_err err;

	create(db, "plain", "id", NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		put(db, "plain", "{\"id\":\"a\",\"x\":1}");
		write_snapshot(2, &si);
		edit_resum("{\"id\":\"a\",\"x\":1}", cases[i]);
		ck_assert_int_eq(try_load(&err), -EINVAL);
		ck_assert_msg(strstr(err.msg, "line 2"), "case %zu: %s", i, err.msg);
	}
}
END_TEST

START_TEST(test_empty_snapshot)
{
	struct dyn_err err;
	struct snap_info li;
	db_t *d2;

	err_clear(&err);
	ck_assert_int_eq(snap_write_empty(dir, 0, &err), 0);
	ck_assert_int_eq(db_new(&d2), 0);
	ck_assert_int_eq(snap_load(path, d2, &li, &err), 0);
	ck_assert_uint_eq(li.tables, 0);
	ck_assert_uint_eq(db_table_count(d2), 0);
	db_free(d2);
}
END_TEST

START_TEST(test_discard_leaves_old_snapshot)
{
	struct snap_info si;
	struct dyn_err err;
	size_t l1, l2;
	char *a, *b, tmp[160];

	fill(db);
	write_snapshot(1, &si);
	a = slurp(path, &l1);
	put(db, "users", "{\"username\":\"new\"}");
	err_clear(&err);
	ck_assert_int_eq(snap_write(dir, db, 2, &si, &err), 0);
	snap_discard(dir);
	snprintf(tmp, sizeof(tmp), "%s/%s", dir, SNAP_TMP_NAME);
	ck_assert_int_ne(access(tmp, F_OK), 0);
	b = slurp(path, &l2);
	ck_assert_uint_eq(l1, l2);
	ck_assert_mem_eq(a, b, l1);
	free(a);
	free(b);
}
END_TEST

Suite *snap_suite(void);
Suite *snap_suite(void)
{
	Suite *s = suite_create("snap");
	TCase *tc;

	tc = tcase_create("snap_write");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_snapshot_round_trip_every_type);
	tcase_add_test(tc, test_snapshot_chunks_resume_after_last_key);
	tcase_add_test(tc, test_snapshot_lines_as_rendered_in_place);
	tcase_add_test(tc, test_snapshot_file_is_line_per_item);
	tcase_add_test(tc, test_zero_size_item_is_refused);
	tcase_add_test(tc, test_empty_snapshot);
	tcase_add_test(tc, test_discard_leaves_old_snapshot);
	suite_add_tcase(s, tc);

	tc = tcase_create("snap_load");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_every_flipped_byte_is_refused);
	tcase_add_test(tc, test_every_truncation_is_refused);
	tcase_add_test(tc, test_newer_version_is_eproto);
	tcase_add_test(tc, test_item_of_undeclared_table_is_refused);
	tcase_add_test(tc, test_item_lines_in_other_forms);
	tcase_add_test(tc, test_plain_table_loads_every_form);
	tcase_add_test(tc, test_plain_table_errors);
	suite_add_tcase(s, tc);
	return s;
}
