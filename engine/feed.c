/*
 * feed.c - the change feed (feed.h): a ring of change records fed by
 * db_apply() under its locks, cursors that follow it, the persisted
 * sequence counter.
 *
 * A record (struct feed_ent) is one small malloc holding a reference to
 * the old stored record (struct rec: key + blob) and one to the new one:
 * stored records are immutable and their references atomic (dbint.h), so
 * taking a change under the table locks costs no copy and no decoding,
 * and an import does not keep a second copy of every item it writes (the
 * ring retains up to FEED_RING_DEFAULT of them: a copy each was a third
 * of the memory a bulk `_batch` import touched, and the fresh pages were
 * most of its cost on a virtual machine).  The
 * key schema needed to decode them later (rec_decode wants the key
 * attribute names) is a small reference-counted struct feed_tab that the
 * table caches (t->ftab, replaced when the key schema changes).
 *
 * Publishing is two-phase, like the rest of db_apply(): feed_prepare()
 * (can fail, before the journal) builds the records; feed_commit() (after
 * the journal accepted the change, cannot fail) numbers them and puts
 * them in the ring.  Records are reference counted (atomically) so a
 * reader can decode one outside the feed mutex while the ring drops it.
 */
#include "feed.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dbint.h"
#include "item.h"

#define SEQ_FILE "changes.seq"

/* The key schema of a table at the time of a change. */
struct feed_tab {
	int refs;		  /* atomic */
	char *name;		  /* table name */
	uint64_t id;		  /* tbl_id */
	struct table_schema keys; /* pk/sk only (no indexes) */
};

struct feed_ent {
	int refs;	      /* ring + readers (atomic) */
	uint64_t seq;	      /* assigned at commit */
	int64_t time_ns;      /* commit time */
	uint64_t tx;	      /* 0 or the first seq of its db_apply */
	bool by_ttl;	      /* TTL delete */
	bool is_put;	      /* put (new != NULL) or delete */
	struct feed_tab *tab; /* a reference */
	struct rec *old;      /* a reference, or NULL */
	struct rec *new;      /* a reference, or NULL */
	size_t charge;	      /* bytes counted against the ring's budget */
	char *line[2];	      /* rendered once (feed_next_line), without and
			       * with "table"; published with a CAS */
};

struct feed_batch {
	size_t n;	      /* records */
	struct feed_ent *e[]; /* owned until commit */
};

struct feed_sub {
	feed_sub_fn fn; /* called after appends */
	void *ctx;
};

struct feed {
	pthread_mutex_t mu;	 /* protects everything below but subs */
	struct feed_ent **ring;	 /* cap slots; seq s at ring[s & (cap - 1)] */
	size_t cap;		 /* power of two >= max_recs */
	size_t max_recs;	 /* retention bound, records */
	size_t max_bytes;	 /* retention bound, bytes */
	size_t bytes;		 /* charges of the retained records */
	uint64_t first_seq;	 /* oldest retained */
	uint64_t next_seq;	 /* next to assign (written under mu, atomically) */
	uint64_t reserved;	 /* seqs below this are reserved on disk */
	feed_reserve_fn reserve; /* called when next_seq reaches reserved */
	void *reserve_ctx;
	char *seq_path;			     /* feed_seqfile_open: dir/changes.seq */
	uint64_t notified;		     /* last seq subscribers were told of */
	struct feed_sub subs[FEED_MAX_SUBS]; /* set at startup */
	size_t nsubs;
};

struct feed_cursor {
	struct feed *f; /* the feed */
	uint64_t tid;	/* table filter, 0 = all */
	uint64_t pos;	/* next seq to look at */
	bool cut;	/* fell behind: only -EOVERFLOW from now on */
	uint64_t lost;	/* cut: the first seq it missed */
};

/* ---- records ---- */

static void tab_unref(struct feed_tab *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(t->name);
		free(t);
	}
}

void feed_tab_unref(struct feed_tab *t)
{
	tab_unref(t);
}

static void ent_unref(struct feed_ent *e)
{
	if (e && __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		tab_unref(e->tab);
		rec_unref(e->old);
		rec_unref(e->new);
		free(e->line[0]);
		free(e->line[1]);
		free(e);
	}
}

static size_t rec_bytes(const struct rec *r)
{
	return r ? sizeof(*r) + r->key_len + r->blob_len : 0;
}

/* The table's feed_tab, made on first use (t->lock held for writing). */
static struct feed_tab *tab_of(struct table *t)
{
	struct feed_tab *ft = t->ftab;

	if (!ft) {
		ft = calloc(1, sizeof(*ft));
		if (!ft)
			return NULL;
		ft->name = strdup(t->name);
		if (!ft->name) {
			free(ft);
			return NULL;
		}
		ft->refs = 1;
		ft->id = t->id;
		ft->keys.pk = t->schema.pk;
		ft->keys.sk = t->schema.sk;
		ft->keys.has_sk = t->schema.has_sk;
		t->ftab = ft;
	}
	__atomic_add_fetch(&ft->refs, 1, __ATOMIC_RELAXED);
	return ft;
}

int feed_prepare(struct feed *f, const struct feed_in *in, size_t n, struct feed_batch **out)
{
	struct feed_batch *b;
	struct feed_ent *e;
	size_t i;

	(void)f;
	b = calloc(1, sizeof(*b) + n * sizeof(b->e[0]));
	if (!b)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		e = calloc(1, sizeof(*e));
		if (!e)
			goto out_nomem;
		b->e[b->n++] = e;
		e->refs = 1;
		e->by_ttl = in[i].by_ttl;
		e->is_put = in[i].new != NULL;
		/* the images' bytes, as when they were copies: the bytes bound
		 * keeps its meaning (a record the table dropped lives on here) */
		e->charge = sizeof(*e) + rec_bytes(in[i].old) + rec_bytes(in[i].new);
		e->tab = tab_of(in[i].t);
		if (!e->tab)
			goto out_nomem;
		if ((e->old = in[i].old))
			rec_ref(e->old);
		if ((e->new = in[i].new))
			rec_ref(e->new);
	}
	*out = b;
	return 0;
out_nomem:
	feed_abort(b);
	return -ENOMEM;
}

void feed_abort(struct feed_batch *b)
{
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		ent_unref(b->e[i]);
	free(b);
}

/* Drop the oldest record (mu held). */
static void drop_oldest(struct feed *f)
{
	struct feed_ent **slot = &f->ring[f->first_seq & (f->cap - 1)];

	f->bytes -= (*slot)->charge;
	ent_unref(*slot);
	*slot = NULL;
	f->first_seq++;
}

void feed_commit(struct feed *f, struct feed_batch *b, int64_t now_ns)
{
	uint64_t tx;
	size_t i;

	if (!b)
		return;
	pthread_mutex_lock(&f->mu);
	tx = b->n > 1 ? f->next_seq : 0;
	for (i = 0; i < b->n; i++) {
		struct feed_ent *e = b->e[i];

		if (f->reserve && f->next_seq >= f->reserved)
			f->reserved = f->reserve(f->reserve_ctx, f->next_seq);
		while (f->next_seq - f->first_seq >= f->max_recs ||
		       (f->next_seq > f->first_seq && f->bytes + e->charge > f->max_bytes))
			drop_oldest(f);
		e->seq = f->next_seq;
		e->time_ns = now_ns;
		e->tx = tx;
		f->ring[e->seq & (f->cap - 1)] = e;
		f->bytes += e->charge;
		/* feed_cursor_ready() reads it without the mutex */
		__atomic_store_n(&f->next_seq, e->seq + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&f->mu);
	free(b);
}

void feed_notify(struct feed *f)
{
	uint64_t last;
	size_t i;

	if (!f->nsubs)
		return;
	pthread_mutex_lock(&f->mu);
	last = f->next_seq - 1;
	if (last == f->notified) {
		pthread_mutex_unlock(&f->mu);
		return; /* another writer told them already */
	}
	f->notified = last;
	pthread_mutex_unlock(&f->mu);
	for (i = 0; i < f->nsubs; i++)
		f->subs[i].fn(f->subs[i].ctx, last);
}

/* ---- the feed ---- */

static int ring_alloc(size_t max_recs, struct feed_ent ***ring, size_t *cap)
{
	size_t c = 16;

	while (c < max_recs)
		c *= 2;
	*ring = calloc(c, sizeof(**ring));
	if (!*ring)
		return -ENOMEM;
	*cap = c;
	return 0;
}

struct feed *feed_new(void)
{
	struct feed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	pthread_mutex_init(&f->mu, NULL);
	f->max_recs = FEED_RING_DEFAULT;
	f->max_bytes = FEED_BYTES_DEFAULT;
	f->first_seq = f->next_seq = 1;
	if (ring_alloc(f->max_recs, &f->ring, &f->cap) < 0) {
		free(f);
		return NULL;
	}
	return f;
}

void feed_free(struct feed *f)
{
	if (!f)
		return;
	while (f->first_seq < f->next_seq)
		drop_oldest(f);
	free(f->ring);
	free(f->seq_path);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

feed_t *db_feed(db_t *db)
{
	return db->feed;
}

void feed_set_limits(feed_t *f, size_t max_recs, size_t max_bytes)
{
	struct feed_ent **ring;
	size_t cap;
	uint64_t s;

	if (max_recs < 2)
		max_recs = 2;
	if (ring_alloc(max_recs, &ring, &cap) < 0)
		return;
	pthread_mutex_lock(&f->mu);
	f->max_recs = max_recs;
	f->max_bytes = max_bytes ? max_bytes : FEED_BYTES_DEFAULT;
	while (f->next_seq - f->first_seq > max_recs || f->bytes > f->max_bytes)
		drop_oldest(f);
	for (s = f->first_seq; s < f->next_seq; s++)
		ring[s & (cap - 1)] = f->ring[s & (f->cap - 1)];
	free(f->ring);
	f->ring = ring;
	f->cap = cap;
	pthread_mutex_unlock(&f->mu);
}

void feed_bounds(feed_t *f, uint64_t *first_seq, uint64_t *next_seq)
{
	pthread_mutex_lock(&f->mu);
	*first_seq = f->first_seq;
	*next_seq = f->next_seq;
	pthread_mutex_unlock(&f->mu);
}

void feed_set_next_seq(feed_t *f, uint64_t seq)
{
	pthread_mutex_lock(&f->mu);
	while (f->first_seq < f->next_seq)
		drop_oldest(f);
	f->first_seq = f->next_seq = f->notified = seq ? seq : 1;
	f->notified--;
	pthread_mutex_unlock(&f->mu);
}

void feed_set_reserve(feed_t *f, uint64_t limit, feed_reserve_fn fn, void *ctx)
{
	pthread_mutex_lock(&f->mu);
	f->reserved = limit;
	f->reserve = fn;
	f->reserve_ctx = ctx;
	pthread_mutex_unlock(&f->mu);
}

int feed_subscribe(feed_t *f, feed_sub_fn fn, void *ctx)
{
	if (f->nsubs == FEED_MAX_SUBS)
		return -ENOSPC;
	f->subs[f->nsubs].fn = fn;
	f->subs[f->nsubs].ctx = ctx;
	f->nsubs++;
	return 0;
}

/* ---- cursors ---- */

int feed_cursor_new(feed_t *f, uint64_t table_id, uint64_t since, feed_cursor_t **out,
		    struct dyn_err *err)
{
	struct feed_cursor *c;
	int rc = 0;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->f = f;
	c->tid = table_id;
	pthread_mutex_lock(&f->mu);
	if (!since)
		c->pos = f->next_seq;
	else if (since == FEED_OLDEST)
		c->pos = f->first_seq;
	else if (since < f->first_seq)
		rc = err_set(err, ERANGE,
			     "changes before seq %" PRIu64
			     " are no longer retained (asked for since=%" PRIu64 ")",
			     f->first_seq, since);
	else if (since > f->next_seq)
		rc = err_set(err, ERANGE,
			     "seq %" PRIu64 " was never assigned: the next change will be %" PRIu64,
			     since, f->next_seq);
	else
		c->pos = since;
	pthread_mutex_unlock(&f->mu);
	if (rc < 0) {
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void feed_cursor_free(feed_cursor_t *c)
{
	free(c);
}

uint64_t feed_cursor_pos(const feed_cursor_t *c)
{
	return c->pos;
}

uint64_t feed_cursor_lost(const feed_cursor_t *c)
{
	return c->cut ? c->lost : 0;
}

bool feed_cursor_ready(feed_cursor_t *c)
{
	uint64_t next;

	if (c->cut)
		return true;
	next = __atomic_load_n(&c->f->next_seq, __ATOMIC_ACQUIRE);
	return c->pos < next;
}

/*
 * The next records for c (references), at most max, under one lock of
 * the feed (which writers take to publish): how many (0: none yet),
 * -EOVERFLOW.
 */
static int next_ents(struct feed_cursor *c, struct feed_ent **out, int max)
{
	struct feed *f = c->f;
	struct feed_ent *e;
	int n = 0;

	if (c->cut)
		return -EOVERFLOW;
	pthread_mutex_lock(&f->mu);
	if (c->pos < f->first_seq) {
		/* Its next record was dropped: say from where changes are lost
		 * and from where they are still there. */
		c->cut = true;
		c->lost = c->pos;
		c->pos = f->first_seq;
		pthread_mutex_unlock(&f->mu);
		return -EOVERFLOW;
	}
	while (n < max && c->pos < f->next_seq) {
		e = f->ring[c->pos & (f->cap - 1)];
		c->pos++;
		if (c->tid && e->tab->id != c->tid)
			continue; /* another table's */
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
		out[n++] = e;
	}
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* The next record for c (a reference), NULL if none; -EOVERFLOW. */
static int next_ent(struct feed_cursor *c, struct feed_ent **out)
{
	int n = next_ents(c, out, 1);

	if (n <= 0)
		*out = NULL;
	return n < 0 ? n : 0;
}

void feed_change_free(struct feed_change *c)
{
	free(c->table);
	free(c->pk_name);
	free(c->sk_name);
	val_free(&c->keys);
	val_free(&c->old);
	val_free(&c->new);
	memset(c, 0, sizeof(*c));
}

static int decode_ent(const struct feed_ent *e, struct feed_change *out)
{
	const struct table_schema *s = &e->tab->keys;
	const struct rec *kr = e->new ? e->new : e->old;
	struct val pk, sk;
	int rc;

	memset(out, 0, sizeof(*out));
	val_init_null(&out->keys);
	val_init_null(&out->old);
	val_init_null(&out->new);
	out->seq = e->seq;
	out->time_ns = e->time_ns;
	out->tx = e->tx;
	out->op = e->is_put ? FEED_PUT : FEED_DELETE;
	out->by_ttl = e->by_ttl;
	out->table_id = e->tab->id;
	out->table = strdup(e->tab->name);
	out->pk_name = strdup(s->pk.name);
	out->sk_name = s->has_sk ? strdup(s->sk.name) : NULL;
	if (!out->table || !out->pk_name || (s->has_sk && !out->sk_name))
		goto out_nomem;
	rc = rec_key_vals(s, kr, &pk, &sk);
	if (rc < 0)
		goto out_rc;
	val_init_map(&out->keys);
	rc = val_map_set(&out->keys, s->pk.name, strlen(s->pk.name), &pk);
	if (rc == 0 && s->has_sk)
		rc = val_map_set(&out->keys, s->sk.name, strlen(s->sk.name), &sk);
	else if (rc < 0 && s->has_sk)
		val_free(&sk);
	if (rc == 0 && e->old)
		rc = rec_decode(s, e->old, &out->old);
	if (rc == 0 && e->new)
		rc = rec_decode(s, e->new, &out->new);
	if (rc < 0)
		goto out_rc;
	return 0;
out_nomem:
	rc = -ENOMEM;
out_rc:
	feed_change_free(out);
	return rc;
}

int feed_next(feed_cursor_t *c, struct feed_change *out)
{
	struct feed_ent *e;
	int rc = next_ent(c, &e);

	if (rc < 0 || !e)
		return rc;
	rc = decode_ent(e, out);
	if (rc < 0) {
		c->pos = e->seq; /* retry this one */
		ent_unref(e);
		return rc;
	}
	ent_unref(e);
	return 1;
}

static int render_ent(const struct feed_ent *e, bool with_table, char **out, size_t *len);

/* e's line (borrowed from e), rendered once for every reader: 0, -errno. */
static int line_of(struct feed_ent *e, bool with_table, const char **out)
{
	char *line = NULL, *cached, *expect = NULL;
	size_t len;
	int rc;

	cached = __atomic_load_n(&e->line[with_table], __ATOMIC_ACQUIRE);
	if (!cached) {
		rc = render_ent(e, with_table, &line, &len);
		if (rc < 0)
			return rc;
		/* Another reader may have rendered it meanwhile: keep one. */
		if (__atomic_compare_exchange_n(&e->line[with_table], &expect, line, false,
						__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			cached = line;
		else {
			free(line);
			cached = expect;
		}
	}
	*out = cached;
	return 0;
}

int feed_next_line(feed_cursor_t *c, bool with_table, char **out, size_t *len)
{
	struct feed_ent *e;
	const char *line;
	int rc = next_ent(c, &e);

	if (rc < 0 || !e)
		return rc;
	rc = line_of(e, with_table, &line);
	if (rc < 0) {
		c->pos = e->seq; /* retry this one */
		ent_unref(e);
		return rc;
	}
	*len = strlen(line);
	*out = malloc(*len + 1);
	if (*out)
		memcpy(*out, line, *len + 1);
	ent_unref(e);
	return *out ? 1 : -ENOMEM;
}

int feed_next_lines(feed_cursor_t *c, bool with_table, feed_take_fn take, void *ctx)
{
	struct feed_ent *e[FEED_TAKE_MAX];
	const char *line;
	int n = next_ents(c, e, FEED_TAKE_MAX), i, j, rc = 0;

	if (n <= 0)
		return n;
	for (i = 0; i < n; i++) {
		rc = line_of(e[i], with_table, &line);
		if (rc == 0)
			rc = take(ctx, line, strlen(line));
		if (rc < 0)
			break;
		if (rc > 0) { /* taken, and the taker has enough */
			i++;
			break;
		}
	}
	if (i < n)
		c->pos = e[i]->seq; /* the one not taken comes next again */
	for (j = 0; j < n; j++)
		ent_unref(e[j]);
	return i > 0 ? i : rc;
}

/* ---- the JSON line ---- */

static size_t time_text_ref(int64_t ns, char *out);

struct lbuf {
	char *p;
	size_t len, cap;
	int err;
};

/* Room for n more bytes and the NUL: false (b->err set) if none. */
static bool lb_room(struct lbuf *b, size_t n)
{
	char *np;
	size_t cap;

	if (b->err)
		return false;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + n + 1)
			cap *= 2;
		np = realloc(b->p, cap);
		if (!np) {
			b->err = -ENOMEM;
			return false;
		}
		b->p = np;
		b->cap = cap;
	}
	return true;
}

static void lb_add(struct lbuf *b, const char *s, size_t n)
{
	if (!lb_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

/* Append n bytes the buffer holds already, from offset at. */
static void lb_again(struct lbuf *b, size_t at, size_t n)
{
	if (!lb_room(b, n))
		return;
	memcpy(b->p + b->len, b->p + at, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void lb_adds(struct lbuf *b, const char *s)
{
	lb_add(b, s, strlen(s));
}

static void lb_image(struct lbuf *b, const char *name, const struct val *v,
		     const struct feed_change *c)
{
	char *text;
	size_t len;

	if (b->err)
		return;
	if (item_render_compact(v, c->pk_name, c->sk_name, &text, &len) < 0) {
		b->err = -ENOMEM;
		return;
	}
	lb_adds(b, name);
	lb_add(b, text, len);
	free(text);
}

int feed_change_line(const struct feed_change *c, bool with_table, char **out, size_t *len)
{
	struct lbuf b = {0};
	struct val tname;
	char tmp[96], ts[FEED_TIME_MAX];

	time_text_ref(c->time_ns, ts);
	snprintf(tmp, sizeof(tmp), "{\"seq\":%" PRIu64 ",\"time\":\"%s\"", c->seq, ts);
	lb_adds(&b, tmp);
	if (with_table) {
		if (val_init_str(&tname, c->table, strlen(c->table)) < 0) {
			b.err = -ENOMEM;
		} else {
			lb_image(&b, ",\"table\":", &tname, c);
			val_free(&tname);
		}
	}
	lb_adds(&b, c->op == FEED_PUT ? ",\"op\":\"put\"" : ",\"op\":\"delete\"");
	lb_image(&b, ",\"keys\":", &c->keys, c);
	if (c->old.type != VAL_NULL)
		lb_image(&b, ",\"old\":", &c->old, c);
	if (c->new.type != VAL_NULL)
		lb_image(&b, ",\"new\":", &c->new, c);
	if (c->tx) {
		snprintf(tmp, sizeof(tmp), ",\"tx\":%" PRIu64, c->tx);
		lb_adds(&b, tmp);
	}
	if (c->by_ttl)
		lb_adds(&b, ",\"by\":\"ttl\"");
	lb_adds(&b, "}\n");
	if (b.err) {
		free(b.p);
		return b.err;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* The reference "time" text (gmtime_r + strftime); the fallback of
 * feed_time_text() outside years 1970..9999. */
static size_t time_text_ref(int64_t ns, char *out)
{
	char ts[40];
	struct tm tm;
	time_t sec = (time_t)(ns / 1000000000);

	gmtime_r(&sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	return (size_t)snprintf(out, FEED_TIME_MAX, "%s.%06ldZ", ts, (long)(ns % 1000000000 / 1000));
}

static char *put_digits(char *p, uint64_t v, int width)
{
	char t[20];
	int n = 0;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n < width)
		t[n++] = '0';
	while (n)
		*p++ = t[--n];
	return p;
}

/* "YYYY-MM-DDTHH:MM:SS" of the second last_sec (-1: none), per thread */
static __thread int64_t last_sec = -1;
static __thread char last_text[19];

size_t feed_time_text(int64_t ns, char *out)
{
	int64_t sec = ns / 1000000000, z, era, y;
	unsigned doe, yoe, doy, mp, m, d, tod;
	char *p = out;

	if (ns < 0 || sec >= 253402300800LL) /* 10000-01-01 */
		return time_text_ref(ns, out);
	if (sec == last_sec) { /* the same second as this thread's last line */
		memcpy(p, last_text, 19);
		p += 19;
		goto frac;
	}
	/* days to the civil date (H. Hinnant's days_from_civil, inverted) */
	z = sec / 86400 + 719468;
	era = z / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = (int64_t)yoe + era * 400 + (m <= 2);
	tod = (unsigned)(sec % 86400);
	p = put_digits(p, (uint64_t)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, tod / 3600, 2);
	*p++ = ':';
	p = put_digits(p, tod / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, tod % 60, 2);
	memcpy(last_text, out, 19);
	last_sec = sec;
frac:
	*p++ = '.';
	p = put_digits(p, (uint64_t)(ns % 1000000000 / 1000), 6);
	*p++ = 'Z';
	*p = 0;
	return (size_t)(p - out);
}

/*
 * name, then the image of r (a record of the change whose keys' text is
 * b->p[keys, keys + nkeys)): the keys' text without its '}', then the
 * rest of the item, instead of rendering the keys again - unless the
 * keys' text may be a "$M" wrapping.  0, -errno.
 */
static int image(struct lbuf *b, const char *name, const struct table_schema *s,
		 const struct rec *r, size_t keys, size_t nkeys)
{
	lb_adds(b, name);
	if (b->err)
		return b->err;
	if (nkeys < 2 || strncmp(b->p + keys, "{\"$M\":", 6) == 0)
		return rec_render_compact_append(s, r, false, &b->p, &b->len, &b->cap);
	lb_again(b, keys, nkeys - 1);
	if (b->err)
		return b->err;
	return item_render_blob_rest_append(rec_blob(r), r->blob_len, &b->p, &b->len, &b->cap);
}

/*
 * e's line straight from its records (rec_render_compact_append: no val
 * tree), the same bytes as feed_change_line() of feed_next()'s change.
 */
static int render_ent(const struct feed_ent *e, bool with_table, char **out, size_t *len)
{
	const struct table_schema *s = &e->tab->keys;
	const struct rec *kr = e->new ? e->new : e->old;
	struct lbuf b = {0};
	struct val tname;
	char head[64 + FEED_TIME_MAX], *p;
	size_t keys, nkeys;
	int rc = 0;

	b.cap = 96 + 2 * (rec_bytes(kr) + rec_bytes(e->old) + rec_bytes(e->new));
	b.p = malloc(b.cap);
	if (!b.p)
		return -ENOMEM;
	p = head;
	memcpy(p, "{\"seq\":", 7);
	p = put_digits(p + 7, e->seq, 1);
	memcpy(p, ",\"time\":\"", 9);
	p += 9;
	p += feed_time_text(e->time_ns, p);
	*p++ = '"';
	lb_add(&b, head, (size_t)(p - head));
	if (with_table) {
		if (val_init_str(&tname, e->tab->name, strlen(e->tab->name)) < 0) {
			b.err = -ENOMEM;
		} else {
			lb_adds(&b, ",\"table\":");
			if (!b.err)
				rc = item_render_compact_append(&tname, NULL, NULL, &b.p, &b.len, &b.cap);
			val_free(&tname);
		}
	}
	lb_adds(&b, e->is_put ? ",\"op\":\"put\",\"keys\":" : ",\"op\":\"delete\",\"keys\":");
	keys = b.len;
	if (!b.err && rc == 0)
		rc = rec_render_compact_append(s, kr, true, &b.p, &b.len, &b.cap);
	nkeys = b.len - keys;
	if (e->old && !b.err && rc == 0)
		rc = image(&b, ",\"old\":", s, e->old, keys, nkeys);
	if (e->new && !b.err && rc == 0)
		rc = image(&b, ",\"new\":", s, e->new, keys, nkeys);
	if (e->tx) {
		p = head;
		memcpy(p, ",\"tx\":", 6);
		p = put_digits(p + 6, e->tx, 1);
		lb_add(&b, head, (size_t)(p - head));
	}
	if (e->by_ttl)
		lb_adds(&b, ",\"by\":\"ttl\"");
	lb_adds(&b, "}\n");
	if (b.err || rc < 0) {
		free(b.p);
		return b.err ? b.err : rc;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- the persisted counter ---- */

static int seq_write(const char *path, uint64_t seq)
{
	char tmp[4096], line[32];
	int fd, n, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	n = snprintf(line, sizeof(line), "%" PRIu64 "\n", seq);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, line, (size_t)n) != n || fsync(fd) < 0)
		rc = -EIO;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

/* feed_reserve_fn: the next block (mu held; once per FEED_SEQ_BLOCK). */
static uint64_t seq_reserve(void *ctx, uint64_t next)
{
	struct feed *f = ctx;
	uint64_t limit = next + FEED_SEQ_BLOCK;

	if (seq_write(f->seq_path, limit) < 0)
		return next + 1; /* try again with the next change */
	return limit;
}

int feed_seqfile_open(feed_t *f, const char *dir, bool readonly, struct dyn_err *err)
{
	char buf[32], *end;
	unsigned long long v = 1;
	ssize_t n;
	int fd, rc;

	if (asprintf(&f->seq_path, "%s/%s", dir, SEQ_FILE) < 0) {
		f->seq_path = NULL;
		return -ENOMEM;
	}
	fd = open(f->seq_path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = 0;
		v = strtoull(buf, &end, 10);
		if (n <= 0 || end == buf || v == 0)
			return err_set(err, EINVAL, "%s: not a sequence number", f->seq_path);
	} else if (errno != ENOENT) {
		return err_set(err, errno, "%s: %s", f->seq_path, strerror(errno));
	}
	feed_set_next_seq(f, v);
	if (readonly)
		return 0;
	rc = seq_write(f->seq_path, v + FEED_SEQ_BLOCK);
	if (rc < 0)
		return err_set(err, -rc, "%s: cannot write: %s", f->seq_path, strerror(-rc));
	feed_set_reserve(f, v + FEED_SEQ_BLOCK, seq_reserve, f);
	return 0;
}

void feed_seqfile_close(feed_t *f)
{
	uint64_t next;

	if (!f->seq_path || !f->reserve)
		return;
	pthread_mutex_lock(&f->mu);
	next = f->next_seq;
	f->reserve = NULL;
	pthread_mutex_unlock(&f->mu);
	seq_write(f->seq_path, next);
}
