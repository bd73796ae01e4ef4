/*
 * ops_batch.c - `_batch` sessions: a stream of JSON Lines, each line one
 * write request (ops.h), applied in order, each atomically on its own.
 *
 * Stream.  Bytes arrive in arbitrary pieces (write() calls).  A line
 * that ends inside the piece is parsed straight from the caller's
 * buffer; only a line split across pieces is copied, into `tail`, which
 * holds the unterminated end of the stream and grows to the longest
 * line (at most OPS_LINE_MAX; a longer line is rejected and skipped up
 * to its newline without being stored).
 *
 * Groups.  A journal record and (with fsync=always) an fsync per line
 * would cap a bulk import at the disk's sync rate, so consecutive lines
 * are collected into a group of up to group_max requests on distinct
 * items and applied with one apply of the sink (the engine's: one
 * db_apply(); over the backend face: be_apply, see backend/backend.h).  This changes nothing a user
 * can observe about the outcome: every line's effect depends only on
 * its own item, no two lines of a group share one, so applying the group
 * at once equals applying its lines in order.  When db_apply() fails at
 * op f, the group is split: the lines before f are applied (as a group
 * again), line f alone is rejected, and the lines after it go on as the
 * next group; a failure that belongs to no single op (-EIO, -ENOMEM)
 * rejects the whole range.  A line whose item is already in the group,
 * a rejected line and the end of each feed close the group, so lines
 * are applied in order, reports come in line order, and every line
 * completed by a write() is applied before the write returns.
 *
 * Groups that need not be atomic (ops_batch_set_each: a service, where
 * a transaction costs twice and fails whole, but BatchWriteItem sends 25
 * puts and deletes in one call) go to the sink's apply_each instead:
 * applied in order, each line on its own, so when line f fails the
 * lines before it stay applied (not applied again), f alone is
 * rejected, and the lines after it go on as the next group.
 *
 * One journal sync per feed.  A feed runs in a db_defer_begin() bracket
 * (db.h: the thread's db_apply() calls journal without waiting for the
 * sync, whatever layers - a sink, a backend face - lie between), and the
 * journal is synced once, when the feed ends (so one write() of
 * a bulk import costs one fdatasync with fsync=always, however many
 * groups it held), or before a line is reported failed, so that reports
 * stay in line order and a line is never reported before the lines
 * ahead of it are durable.  If that sync fails, every line applied since
 * the last one is reported failed (-EIO: the store has stopped accepting
 * writes, db.h) and no longer counted as applied.
 *
 * Stopping at a bad line (ops_batch_feed_some).  A front end that must
 * tell its writer exactly how many bytes were consumed (fs/batch.c: a
 * write() count) feeds with stop set: the first rejected line ends the
 * feed right after its newline (stop_at), and the lines after it that
 * were already parsed into the group are dropped unapplied and their
 * numbers given back, so that the same bytes fed again later are lines
 * seen for the first time.  Each group entry records where its line ends
 * in the current feed (lend); a group never outlives a feed.
 *
 * Memory.  A bare item (the line of a bulk import) is parsed into one of
 * the session's two arenas (item.h item_parse_value_arena: no allocation
 * or free per value); its request only borrows that memory.  Lines go to
 * arena[cur]; when a group has been applied, cur switches to the other
 * arena, which is reset: what it held belonged to requests of groups
 * applied already.  (One arena would not do: the line that closes a
 * group by naming an item already in it is parsed before the group is
 * applied and joins the next one, so a stream of puts of one item would
 * never find the arena free.)  Lines being similar, each arena settles
 * on one block.
 *
 * Parsing ahead (ops_ahead.c).  A feed of at least ahead_min bytes (a
 * bulk import's write(): 128 KiB to 1 MiB) has its lines' stored-form
 * parse (the first half of a line's cost; ops_line_parse_stored) done
 * by a helper thread of the session, line after line, while this thread binds,
 * groups and applies the lines before: the two cores work at once.  The
 * helper only parses: this thread still takes every line in order,
 * exactly as without it (numbers, groups, reports, stops), and merely
 * finds the parse done -- the line's stored record and index entries
 * included (db.h db_stored_rec, db_stored_ents), which db_apply takes as
 * they are, so their fresh memory is touched by the helper, not by this
 * thread, the import's critical path; a line the helper did not take
 * (declined, before its start, past its last slot) is parsed here as
 * always.  What
 * the helper parsed lives in its own arena, reset when the next feed
 * starts (a group never outlives a feed); lines it parsed past a stop
 * are dropped when the feed ends, which waits for it.
 *
 * Invariants: req[0..n) are parsed, bound and not yet applied, on
 * pairwise distinct items, all indexed in hash[]; `in` is empty between
 * lines; stopped implies stop.
 */
#include "opsint.h"
#include "item.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HASH_SLOTS 256 /* open addressing over at most DB_MAX_TX_OPS slots */
#define AHEAD_MIN_DEFAULT (64 * 1024) /* feeds this long are parsed ahead */

struct ops_fail {
	uint64_t line; /* 1-based line number */
	char *msg;     /* reason (owned, UTF-8 sanitized) */
};

struct ops_batch {
	struct ops_sink sink;		  /* where lines go */
	void *t;			  /* the sink's table (borrowed) */
	ops_report_fn report;		  /* may be NULL */
	void *rctx;			  /* its context */
	size_t group_max;		  /* 1..DB_MAX_TX_OPS */
	bool each;			  /* groups go to sink.apply_each */
	char *tail;			  /* unterminated last line */
	size_t tail_len;		  /* bytes in tail */
	size_t tail_cap;		  /* allocated */
	bool skipping;			  /* dropping an overlong line up to '\n' */
	uint64_t line;			  /* complete lines seen */
	uint64_t applied;		  /* lines applied */
	uint64_t failed;		  /* lines rejected */
	uint64_t applies;		  /* sink apply calls */
	struct ops_fail *errs;		  /* first OPS_BATCH_KEEP_ERRORS failures */
	size_t nerrs;			  /* used */
	size_t errs_cap;		  /* allocated */
	int worst;			  /* result of the current feed (negative) */
	struct item_arena *arena[2];	  /* bare items' values, or NULL (malloc) */
	int cur;			  /* the arena lines are parsed into */
	struct ops_req in;		  /* the line being parsed */
	struct ops_write in_op;		  /* its write */
	size_t n;			  /* requests in the group */
	struct ops_req req[DB_MAX_TX_OPS]; /* the group */
	struct ops_write op[DB_MAX_TX_OPS]; /* their writes */
	uint64_t lno[DB_MAX_TX_OPS];	  /* their line numbers */
	size_t lend[DB_MAX_TX_OPS];	  /* where their lines end in the feed */
	bool stop;			  /* this feed stops at the first bad line */
	bool stopped;			  /* ... and it has */
	size_t stop_at;			  /* bytes of the feed consumed, once stopped */
	size_t cur_end;			  /* end of the line being processed */
	uint8_t hash[HASH_SLOTS];	  /* slot + 1 by key hash, 0 = free */
	uint64_t *unsynced;		  /* applied lines not yet synced */
	size_t nunsynced;		  /* used */
	size_t unsynced_cap;		  /* allocated */
	size_t unsynced_lend;		  /* where the first of them ends */
	bool unsynced_oom;		  /* unsynced lost lines (out of memory) */
	bool sync_stopped;		  /* the feed stopped at a failed sync */
	uint64_t syncs;			  /* journal syncs waited for */
	/* bare items straight into their stored form (ops_line_parse_stored) */
	bool stored;			  /* on: the sink takes them, arenas exist */
	uint64_t nstored;		  /* lines taken that way */
	uint64_t nahead;		  /* ... of which the helper parsed */
	struct item_stored st;		  /* the parse's scratch */
	const struct key_attr *ka, *kb;	  /* the table's key attributes (kattr) */
	struct key_attr kattr[2];	  /* copied when the session began: the parse
					   * and the bind never read the table's, which
					   * may change; the apply refuses a delete,
					   * update or check they no longer fit */
	char attrs[ITEM_STORED_CAP][DB_ATTR_NAME_MAX + 1]; /* index key attributes */
	const char *attr[ITEM_STORED_CAP]; /* pointers to them (st.cap_names) */
	struct table_schema ix;		  /* the table's indexes (db_stored_ents) */
	bool have_ix;			  /* ix holds them (the sink gave them) */
	size_t ahead_min;		  /* feeds this long are parsed ahead; 0: never */
	struct ops_ahead *ahead;	  /* the helper, once a feed wanted it */
	bool ahead_on;			  /* this feed's lines are being parsed ahead */
	bool ahead_wait;		  /* a line waits for the helper (tests) */
};

/* ---- parsing ahead (ops_ahead.c) ---- */

/* The table's indexes for the parse's index entries, or NULL. */
static const struct table_schema *ix_of(const struct ops_batch *b)
{
	return b->have_ix ? &b->ix : NULL;
}

/* Start parsing the lines of buf ahead, when it is worth it. */
static void ahead_start(struct ops_batch *b, const char *buf, size_t len)
{
	b->ahead_on = false;
	if (!b->stored || !b->ahead_min || len < b->ahead_min)
		return;
	if (!b->ahead &&
	    !(b->ahead = ops_ahead_new(b->ka, b->kb, ix_of(b), b->st.cap_names, b->st.ncap)))
		return;
	b->ahead_on = ops_ahead_start(b->ahead, b->ka, b->kb, ix_of(b), b->st.cap_names,
				      b->st.ncap, buf, len, b->ahead_wait);
}

static struct ahead_slot *ahead_take(struct ops_batch *b, size_t off)
{
	return b->ahead_on ? ops_ahead_take(b->ahead, off) : NULL;
}

static void ahead_end(struct ops_batch *b)
{
	if (b->ahead_on)
		ops_ahead_end(b->ahead);
	b->ahead_on = false;
}

void ops_batch_set_ahead(ops_batch_t *b, size_t min_bytes, bool wait)
{
	b->ahead_min = min_bytes;
	b->ahead_wait = wait;
}

int ops_batch_new_sink(const struct ops_sink *sink, void *t, ops_report_fn report, void *ctx,
		       ops_batch_t **out)
{
	struct ops_batch *b = calloc(1, sizeof(*b));
	size_t i;

	if (!b)
		return -ENOMEM;
	b->sink = *sink;
	b->t = t;
	b->ka = &b->kattr[0];
	b->kb = b->sink.keys(b->sink.ctx, t, b->kattr) ? &b->kattr[1] : NULL;
	b->report = report;
	b->rctx = ctx;
	b->group_max = DB_MAX_TX_OPS;
	b->arena[0] = item_arena_new(); /* NULL: values are malloc'd */
	b->arena[1] = b->arena[0] ? item_arena_new() : NULL;
	if (!b->arena[1]) {
		item_arena_free(b->arena[0]);
		b->arena[0] = NULL;
	}
	if (b->sink.bulk)
		b->sink.bulk(b->sink.ctx, t, true);
	item_stored_init(&b->st);
	b->ahead_min = AHEAD_MIN_DEFAULT;
	ops_batch_set_stored(b, true);
	ops_req_init(&b->in);
	for (i = 0; i < DB_MAX_TX_OPS; i++)
		ops_req_init(&b->req[i]);
	*out = b;
	return 0;
}

int ops_batch_new(db_t *db, table_t *t, ops_report_fn report, void *ctx, ops_batch_t **out)
{
	struct ops_sink sink;

	ops_sink_db(db, &sink);
	return ops_batch_new_sink(&sink, t, report, ctx, out);
}

void ops_batch_free(ops_batch_t *b)
{
	size_t i;

	if (!b)
		return;
	ops_ahead_free(b->ahead);
	for (i = 0; i < b->n; i++)
		ops_req_free(&b->req[i]);
	ops_req_free(&b->in);
	item_arena_free(b->arena[0]);
	item_arena_free(b->arena[1]);
	for (i = 0; i < b->nerrs; i++)
		free(b->errs[i].msg);
	free(b->errs);
	free(b->tail);
	free(b->unsynced);
	item_stored_free(&b->st);
	if (b->have_ix)
		schema_free(&b->ix);
	if (b->sink.bulk)
		b->sink.bulk(b->sink.ctx, b->t, false);
	free(b);
}

void ops_batch_set_group(ops_batch_t *b, size_t max)
{
	b->group_max = max < 1 ? 1 : max > DB_MAX_TX_OPS ? DB_MAX_TX_OPS : max;
	b->each = false;
}

void ops_batch_set_stored(ops_batch_t *b, bool on)
{
	int n, i;

	if (b->line)
		return; /* queued lines borrow b->attr */
	b->stored = false;
	if (!on || !b->arena[0] || !b->sink.stored_attrs)
		return;
	n = b->sink.stored_attrs(b->sink.ctx, b->t, b->attrs, ITEM_STORED_CAP);
	if (n < 0)
		return;
	for (i = 0; i < n; i++)
		b->attr[i] = b->attrs[i];
	b->st.cap_names = b->attr;
	b->st.ncap = (size_t)n;
	b->stored = true;
	if (b->have_ix)
		schema_free(&b->ix);
	b->have_ix = b->sink.stored_schema && b->sink.stored_schema(b->sink.ctx, b->t, &b->ix) == 0;
}

void ops_batch_set_each(ops_batch_t *b, size_t max)
{
	ops_batch_set_group(b, max);
	b->each = b->sink.apply_each != NULL;
}

size_t ops_batch_pending(const ops_batch_t *b)
{
	return b->skipping ? 0 : b->tail_len;
}

bool ops_batch_pending_incomplete(const ops_batch_t *b)
{
	return !b->skipping && b->tail_len && ops_json_incomplete(b->tail, b->tail_len);
}

void ops_batch_stats(const ops_batch_t *b, struct ops_batch_stats *out)
{
	out->lines = b->line;
	out->applied = b->applied;
	out->failed = b->failed;
	out->applies = b->applies;
	out->syncs = b->syncs;
	out->arena_bytes = item_arena_bytes(b->arena[0]) + item_arena_bytes(b->arena[1]);
	out->stored = b->nstored;
	out->ahead = b->nahead;
}

/* ---- failures ---- */

/* Errno of the feed: severe ones win, else the first line's. */
static int severity(int code)
{
	/* the store's failures (journal: EIO, a full disk...) say the most */
	if (code == EIO || code == ENOSPC || code == EDQUOT || code == EROFS)
		return 3;
	return code == ENOMEM ? 2 : code == ENOENT ? 1 : 0;
}

static void record_fail(struct ops_batch *b, uint64_t line, int code, const char *msg);
static void batch_sync(struct ops_batch *b);

static void fail_line(struct ops_batch *b, uint64_t line, int code, const char *msg)
{
	batch_sync(b); /* the lines before it first */
	if (b->stopped)
		return; /* the feed stopped at one of them */
	record_fail(b, line, code, msg);
}

/* fail_line() without the sync. */
static void record_fail(struct ops_batch *b, uint64_t line, int code, const char *msg)
{
	struct ops_fail *nv;
	char *copy;

	int mapped = code == ECANCELED || code == EEXIST ? EINVAL : code ? code : EIO;

	b->failed++;
	if (b->stop) {
		b->stopped = true;
		b->stop_at = b->cur_end;
	}
	if (!b->worst || severity(mapped) > severity(-b->worst))
		b->worst = -mapped;
	if (b->nerrs < OPS_BATCH_KEEP_ERRORS) {
		if (b->nerrs == b->errs_cap) {
			size_t ncap = b->errs_cap ? b->errs_cap * 2 : 16;

			nv = realloc(b->errs, ncap * sizeof(*nv));
			if (nv) {
				b->errs = nv;
				b->errs_cap = ncap;
			}
		}
		copy = strdup(msg);
		if (copy && b->nerrs < b->errs_cap) {
			ops_utf8_sanitize(copy);
			b->errs[b->nerrs].line = line;
			b->errs[b->nerrs++].msg = copy;
		} else {
			free(copy);
		}
	}
	if (b->report)
		b->report(b->rctx, line, code, msg);
}

static void fail_err_raw(struct ops_batch *b, uint64_t line, int rc, const struct dyn_err *err)
{
	char buf[sizeof(err->msg) + sizeof(err->path) + 64];

	if (err->code)
		err_format(err, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", strerror(-rc));
	record_fail(b, line, -rc, buf);
}

static void fail_err(struct ops_batch *b, uint64_t line, int rc, const struct dyn_err *err)
{
	char buf[sizeof(err->msg) + sizeof(err->path) + 64];

	if (err->code)
		err_format(err, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "%s", strerror(-rc));
	fail_line(b, line, -rc, buf);
}

/* ---- the group ---- */

/* err_clear() without clearing 800 bytes per line: what err_set and
 * err_format look at. */
static void err_reset(struct dyn_err *e)
{
	e->code = e->line = e->col = 0;
	e->path[0] = e->msg[0] = 0;
}

/* Lines applied with their journal sync deferred, that the next sync covers. */
static void note_unsynced(struct ops_batch *b, size_t k, size_t e)
{
	size_t need = b->nunsynced + (e - k), ncap;
	uint64_t *nv;

	if (!b->nunsynced)
		b->unsynced_lend = b->lend[k];
	if (need > b->unsynced_cap) {
		ncap = b->unsynced_cap ? b->unsynced_cap : 256;
		while (ncap < need)
			ncap *= 2;
		nv = realloc(b->unsynced, ncap * sizeof(*nv));
		if (!nv) {
			b->unsynced_oom = true; /* a failed sync then names no lines */
			b->nunsynced = need;
			return;
		}
		b->unsynced = nv;
		b->unsynced_cap = ncap;
	}
	for (; k < e; k++)
		b->unsynced[b->nunsynced++] = b->lno[k];
}

/* Wait for the journal to hold every line applied so far (see the file
 * comment); on failure those lines are reported failed. */
static void batch_sync(struct ops_batch *b)
{
	size_t i, n = b->nunsynced;
	uint64_t first;
	struct dyn_err err;
	bool pending = db_defer_pending();
	int rc;

	if (!n && !pending)
		return;
	b->nunsynced = 0;
	err_reset(&err);
	rc = db_defer_sync(&err);
	b->syncs += pending;
	if (rc == 0) {
		b->unsynced_oom = false;
		return;
	}
	b->applied -= n;
	if (b->unsynced_oom) {
		b->unsynced_oom = false;
		n = 0; /* (only -ENOMEM lost the numbers) */
		fail_err_raw(b, b->line, rc, &err);
		return;
	}
	first = b->unsynced[0];
	for (i = 0; i < n; i++) {
		fail_err_raw(b, b->unsynced[i], rc, &err);
		if (b->stop) { /* the rest is fed again later (and refused) */
			b->stop_at = b->unsynced_lend;
			b->line = first;
			b->sync_stopped = true;
			break;
		}
	}
}


static uint64_t hash_bytes(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t hash_key(const struct val *v, uint64_t h)
{
	unsigned char t = (unsigned char)v->type;

	h = hash_bytes(h, &t, 1);
	if (v->type == VAL_N) {
		h = hash_bytes(h, &v->n.neg, 1);
		h = hash_bytes(h, &v->n.exp, sizeof(v->n.exp));
		return hash_bytes(h, v->n.digit, v->n.ndigits);
	}
	if (v->type == VAL_S || v->type == VAL_B)
		return hash_bytes(h, v->s.p, v->s.len);
	return h;
}

static bool same_key(const struct ops_write *a, const struct ops_write *b)
{
	if (!val_equal(a->pk, b->pk))
		return false;
	return (!a->sk && !b->sk) || (a->sk && b->sk && val_equal(a->sk, b->sk));
}

/* Find op's slot in hash: returns the hash position; *hit if an op on
 * the same item is in the group. */
static size_t hash_find(struct ops_batch *b, const struct ops_write *op, bool *hit)
{
	uint64_t h = hash_key(op->pk, 0xcbf29ce484222325ull);
	size_t pos;

	if (op->sk)
		h = hash_key(op->sk, h);
	pos = (size_t)(h ^ h >> 29) & (HASH_SLOTS - 1);
	*hit = false;
	while (b->hash[pos]) {
		if (same_key(&b->op[b->hash[pos] - 1], op)) {
			*hit = true;
			break;
		}
		pos = (pos + 1) & (HASH_SLOTS - 1);
	}
	return pos;
}

/* Line i of the group failed and the feed stops there (b->stop): the
 * lines after it are dropped unapplied and their numbers given back. */
static void group_stop(struct ops_batch *b, size_t i)
{
	if (b->sync_stopped)
		return; /* at an earlier line already */
	b->stop_at = b->lend[i];
	b->line = b->lno[i];
}

/* Apply the group (see the file comment) and empty it. */
static void group_flush(struct ops_batch *b)
{
	size_t k = 0, e = b->n, failed, f, i;
	struct dyn_err err;
	int rc;

	while (k < b->n && !b->stopped) {
		err_reset(&err);
		failed = e - k;
		rc = (b->each ? b->sink.apply_each : b->sink.apply)(b->sink.ctx, &b->op[k], e - k,
								    &failed, &err);
		b->applies++;
		if (rc < 0 && b->each && failed < e - k) {
			/* not atomic: the lines before the failed one are applied */
			f = k + failed;
			if (f > k) {
				note_unsynced(b, k, f);
				b->applied += f - k;
			}
			fail_err(b, b->lno[f], rc, &err);
			if (b->stop) {
				group_stop(b, f);
				break;
			}
			k = f + 1;
			e = b->n;
			continue;
		}
		if (rc == 0) {
			note_unsynced(b, k, e);
			b->applied += e - k;
			k = e;
			e = b->n;
		} else if (failed < e - k) {
			f = k + failed;
			if (f > k) {
				e = f; /* the lines before it first */
				continue;
			}
			fail_err(b, b->lno[k], rc, &err);
			if (b->stop) {
				group_stop(b, k);
				break;
			}
			k++;
			e = b->n;
		} else {
			for (i = k; i < e; i++) {
				fail_err(b, b->lno[i], rc, &err);
				if (b->stop) { /* the rest is fed again later */
					group_stop(b, i);
					break;
				}
			}
			if (b->stop)
				break;
			k = e;
			e = b->n;
		}
	}
	for (i = 0; i < b->n; i++)
		ops_req_free(&b->req[i]);
	b->n = 0;
	memset(b->hash, 0, sizeof(b->hash));
	/* a line parsed but not yet in a group is in arena[cur] (the file
	 * comment): lines go on into the other, no longer used one */
	b->cur ^= 1;
	item_arena_reset(b->arena[b->cur]);
}

/* Move the parsed line into the group. */
static void group_add(struct ops_batch *b, uint64_t line)
{
	size_t i, pos;
	bool hit;

	pos = hash_find(b, &b->in_op, &hit);
	if (hit || b->n == b->group_max) {
		group_flush(b);
		if (b->stopped) { /* this line comes after the bad one */
			ops_req_free(&b->in);
			ops_req_init(&b->in);
			return;
		}
		pos = hash_find(b, &b->in_op, &hit);
	}
	i = b->n++;
	b->req[i] = b->in;
	b->op[i] = b->in_op;
	if (b->op[i].item)
		b->op[i].item = &b->req[i].v;
	if (b->op[i].stored)
		b->op[i].stored = &b->req[i].stored;
	b->lno[i] = line;
	b->lend[i] = b->cur_end;
	b->hash[pos] = (uint8_t)(i + 1);
	ops_req_init(&b->in);
	if (b->n == b->group_max)
		group_flush(b);
}

/* One complete line (without its newline); pre: the helper's parse of
 * it, or NULL. */
static void process_line(struct ops_batch *b, const char *text, size_t len,
			 struct ahead_slot *pre)
{
	uint64_t line = ++b->line;
	struct dyn_err err;
	int rc;

	err_reset(&err);
	if (pre) {
		rc = pre->rc;
		if (rc == 0) {
			b->in = pre->req;
			ops_req_init(&pre->req);
			b->nahead++;
		}
	} else {
		rc = b->stored ? ops_line_parse_stored(text, len, b->arena[b->cur], &b->st, b->ka,
						       b->kb, ix_of(b), &b->in)
			       : 1;
	}
	if (rc == 0)
		b->nstored++;
	else
		rc = ops_line_parse_arena(text, len, b->arena[b->cur], &b->in, &err);
	if (rc == 1)
		return;
	if (rc == 0) {
		rc = ops_req_bind(&b->in, &b->sink, b->t, b->ka, b->kb, &b->in_op, &err);
		if (rc < 0)
			ops_req_free(&b->in);
	}
	if (rc < 0) {
		group_flush(b); /* keeps reports in line order */
		if (!b->stopped) /* else this line comes after the bad one */
			fail_err(b, line, rc, &err);
		return;
	}
	group_add(b, line);
}

static int tail_append(struct ops_batch *b, const char *p, size_t n)
{
	size_t need = b->tail_len + n, ncap;
	char *nt;

	if (need > b->tail_cap) {
		ncap = b->tail_cap ? b->tail_cap : 4096;
		while (ncap < need)
			ncap *= 2;
		nt = realloc(b->tail, ncap);
		if (!nt)
			return -ENOMEM;
		b->tail = nt;
		b->tail_cap = ncap;
	}
	memcpy(b->tail + b->tail_len, p, n);
	b->tail_len = need;
	return 0;
}

/* Flush the group before a line is rejected outside it; false if the
 * feed stopped at a line of the group instead. */
static bool flush_before_fail(struct ops_batch *b)
{
	group_flush(b);
	return !b->stopped;
}

static int feed(struct ops_batch *b, const char *buf, size_t len, bool stop, size_t *used)
{
	const char *p = buf, *end = buf + len, *nl;
	size_t seg;

	b->worst = 0;
	b->stop = stop;
	b->stopped = false;
	db_defer_begin();
	ahead_start(b, buf, len);
	while (p < end && !b->stopped) {
		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (size_t)((nl ? nl : end) - p);
		b->cur_end = (size_t)(p - buf) + seg + (nl != NULL);
		if (b->skipping) {
			if (nl) {
				b->skipping = false;
				b->line++;
			}
		} else if (b->tail_len + seg > OPS_LINE_MAX) {
			if (!flush_before_fail(b))
				break;
			b->tail_len = 0;
			fail_line(b, b->line + 1, EINVAL, "line too long (over 8 MiB)");
			if (nl)
				b->line++;
			else
				b->skipping = true;
		} else if (!nl) {
			if (tail_append(b, p, seg) < 0) {
				if (!flush_before_fail(b))
					break;
				b->tail_len = 0;
				fail_line(b, b->line + 1, ENOMEM, "out of memory");
				b->skipping = true;
			}
		} else if (b->tail_len) {
			if (tail_append(b, p, seg) < 0) {
				if (flush_before_fail(b)) {
					b->line++;
					fail_line(b, b->line, ENOMEM, "out of memory");
				}
			} else {
				process_line(b, b->tail, b->tail_len, NULL);
			}
			b->tail_len = 0;
		} else {
			process_line(b, p, seg, ahead_take(b, (size_t)(p - buf)));
		}
		p += seg + (nl != NULL);
	}
	ahead_end(b);
	if (!b->stopped)
		group_flush(b);
	if (!b->stopped)
		batch_sync(b); /* the one sync of this feed */
	db_defer_end(NULL); /* nothing left: every stop synced first */
	if (b->stopped && b->stop_at < len) {
		/* whatever followed the bad line is not consumed: an unterminated
		 * end appended to tail, an overlong line being skipped */
		b->tail_len = 0;
		b->skipping = false;
	}
	*used = b->stopped ? b->stop_at : len;
	b->stop = b->stopped = b->sync_stopped = false;
	return b->worst;
}

int ops_batch_feed(ops_batch_t *b, const char *buf, size_t len)
{
	size_t used;

	return feed(b, buf, len, false, &used);
}

int ops_batch_feed_some(ops_batch_t *b, const char *buf, size_t len, size_t *used)
{
	return feed(b, buf, len, true, used);
}

int ops_batch_finish(ops_batch_t *b)
{
	b->worst = 0;
	db_defer_begin();
	if (b->skipping) {
		b->skipping = false;
		b->line++;
	} else if (b->tail_len) {
		process_line(b, b->tail, b->tail_len, NULL);
		b->tail_len = 0;
	}
	group_flush(b);
	batch_sync(b);
	db_defer_end(NULL);
	return b->worst;
}

/* ---- the summary ---- */

int ops_batch_summary(const ops_batch_t *b, char **out, size_t *len)
{
	struct ops_out o = {0};
	size_t i;

	ops_out_fmt(&o, "{\"applied\": %llu, \"failed\": %llu, \"errors\": [",
		    (unsigned long long)b->applied, (unsigned long long)b->failed);
	for (i = 0; i < b->nerrs; i++) {
		ops_out_fmt(&o, "%s{\"line\": %llu, \"error\": ", i ? ", " : "",
			    (unsigned long long)b->errs[i].line);
		ops_out_json_string(&o, b->errs[i].msg);
		ops_out_add(&o, "}", 1);
	}
	ops_out_add(&o, "]}\n", 3);
	if (o.oom) {
		free(o.p);
		return -ENOMEM;
	}
	*out = o.p;
	*len = o.len;
	return 0;
}
