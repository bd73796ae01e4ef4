/*
 * fuzz_batch.c - libFuzzer target for `_batch` streams and /_tx
 * documents (engine/ops.h).
 *
 * The first byte picks how the rest is cut into write()-sized pieces;
 * the rest is fed as a `_batch` stream to two fresh databases, one
 * applying each line with its own db_apply() (group 1) and one grouping
 * lines (the default), and then run as one /_tx document on the second.
 * The tables (users: username S, with an index on email; quiz-stats:
 * id#level S / week S) are those of the design notes.
 *
 * Beyond the sanitizers, the target checks the module's contracts:
 *   - grouping is invisible: both databases end with the same items, the
 *     same summary and the same feed results;
 *   - so is the stored path (ops_line_parse_stored): the one-by-one side
 *     parses every line into a value tree, the grouped side takes bare
 *     items straight into their stored form where it can;
 *   - every table and index is consistent (db_check_integrity);
 *   - the summary and the transaction outcome are valid JSON (they parse
 *     with the item codec), and the summary counts every reported line;
 *   - a transaction that fails changes nothing;
 *   - ops_json_incomplete() never calls a value that parses unfinished.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "item.h"
#include "ops.h"

struct side {
	db_t *db;
	table_t *users, *quiz;
	uint64_t reports;
};

static void die(const char *what)
{
	fprintf(stderr, "fuzz_batch: %s\n", what);
	abort();
}

static void setup(struct side *s)
{
	struct table_schema sc;
	struct index_def idx;

	memset(s, 0, sizeof(*s));
	if (db_new(&s->db))
		die("db_new");
	memset(&sc, 0, sizeof(sc));
	memset(&idx, 0, sizeof(idx));
	strcpy(sc.pk.name, "username");
	sc.pk.type = VAL_S;
	strcpy(idx.name, "email-index");
	strcpy(idx.pk.name, "email");
	idx.pk.type = VAL_S;
	idx.proj = PROJ_ALL;
	sc.index = &idx;
	sc.nindex = 1;
	if (db_create_table(s->db, "users", &sc, NULL))
		die("create users");
	memset(&sc, 0, sizeof(sc));
	strcpy(sc.pk.name, "id#level");
	sc.pk.type = VAL_S;
	strcpy(sc.sk.name, "week");
	sc.sk.type = VAL_S;
	sc.has_sk = true;
	if (db_create_table(s->db, "quiz-stats", &sc, NULL))
		die("create quiz-stats");
	if (db_table_open(s->db, "users", &s->users) || db_table_open(s->db, "quiz-stats", &s->quiz))
		die("open");
}

static void teardown(struct side *s)
{
	char *why = NULL;

	if (db_check_integrity(s->db, &why)) {
		fprintf(stderr, "integrity: %s\n", why ? why : "?");
		abort();
	}
	tbl_close(s->users);
	tbl_close(s->quiz);
	db_free(s->db);
}

static void count(void *ctx, uint64_t line, int code, const char *msg)
{
	struct side *s = ctx;

	if (!line || !code || !msg[0])
		die("report without line, code or message");
	s->reports++;
}

struct dump {
	char *p;
	size_t len;
};

static int dump_item(void *ctx, const struct item_ref *r)
{
	struct dump *d = ctx;
	char *text, *np;
	size_t len;

	if (iref_render(r, &text, &len))
		die("render");
	np = realloc(d->p, d->len + len + 1);
	if (!np)
		die("oom");
	memcpy(np + d->len, text, len);
	d->p = np;
	d->len += len;
	d->p[d->len] = 0;
	free(text);
	return 0;
}

static struct dump dump_all(struct side *s)
{
	struct dump d = {0};
	struct tbl_scan sc = {0};

	tbl_scan(s->users, &sc, dump_item, &d, NULL);
	tbl_scan(s->quiz, &sc, dump_item, &d, NULL);
	return d;
}

static void check_json(const char *text, size_t len)
{
	struct val v;

	if (item_parse_value(text, len, &v, NULL))
		die("output is not valid JSON");
	val_free(&v);
}

/* Feed data in pieces; returns the OR-ed feed results and the summary. */
static int run_batch(struct side *s, size_t group, const uint8_t *data, size_t size,
		     unsigned cut, char **summary, size_t *slen)
{
	struct ops_batch_stats st;
	ops_batch_t *b;
	size_t off = 0, n, piece = cut ? cut : 1;
	unsigned acc = 0; /* wraps: a fingerprint of the results, not a sum */
	int rc;

	if (ops_batch_new(s->db, s->users, count, s, &b))
		die("ops_batch_new");
	ops_batch_set_group(b, group);
	ops_batch_set_stored(b, group != 1); /* the one-by-one side: the value tree only */
	while (off < size) {
		n = size - off < piece ? size - off : piece;
		rc = ops_batch_feed(b, (const char *)data + off, n);
		acc = acc * 31 + (unsigned)rc;
		off += n;
		piece = piece * 7 % 61 + 1; /* vary the cuts */
	}
	acc = acc * 31 + (unsigned)ops_batch_finish(b);
	ops_batch_stats(b, &st);
	if (st.failed != s->reports || st.applied + st.failed > st.lines)
		die("counts disagree");
	if (ops_batch_summary(b, summary, slen))
		die("summary");
	check_json(*summary, *slen);
	ops_batch_free(b);
	return (int)acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct side a, b;
	struct dump da, db2, before, after;
	struct ops_tx_result res;
	char *sa, *sb, *js;
	size_t la, lb, jl;
	unsigned cut;
	int ra, rb, rc;

	if (size < 1)
		return 0;
	cut = data[0] % 64;
	data++;
	size--;
	setup(&a);
	setup(&b);
	ra = run_batch(&a, 1, data, size, cut, &sa, &la);
	rb = run_batch(&b, DB_MAX_TX_OPS, data, size, cut, &sb, &lb);
	da = dump_all(&a);
	db2 = dump_all(&b);
	if (ra != rb || la != lb || memcmp(sa, sb, la) ||
	    (da.len != db2.len || (da.len && memcmp(da.p, db2.p, da.len))))
		die("grouping changed the outcome");
	free(sa);
	free(sb);
	free(da.p);
	free(db2.p);

	{ /* a value that parses is never "still being written" */
		struct val v;

		if (item_parse_value((const char *)data, size, &v, NULL) == 0) {
			val_free(&v);
			if (ops_json_incomplete((const char *)data, size))
				die("ops_json_incomplete on a complete value");
		}
	}

	before = dump_all(&b);
	rc = ops_tx_run(b.db, (const char *)data, size, &res);
	if (ops_tx_result_json(&res, &js, &jl))
		die("tx json");
	check_json(js, jl);
	free(js);
	after = dump_all(&b);
	if ((rc == 0) != (res.status == OPS_TX_COMMITTED) || (rc && !res.reason[0]))
		die("tx result inconsistent");
	if (rc && (before.len != after.len || (before.len && memcmp(before.p, after.p, before.len))))
		die("a failed transaction changed something");
	free(before.p);
	free(after.p);
	teardown(&a);
	teardown(&b);
	return 0;
}
