/*
 * rbeint.h - inside the remote backend (rbe.c: the backend, its caches,
 * tables and single items; rbe_memo.c: the write generation and the
 * GetItem memo; rbe_read.c: Query and Scan; rbe_write.c: writes and
 * their conditions).
 */
#ifndef DYNFS_RBEINT_H
#define DYNFS_RBEINT_H

#include <pthread.h>
#include <time.h>

#include "rbe.h"
#include "remoteint.h"

#define PARTS_REUSE_S 30 /* a partition listing's continuation reuses its scan */
#define GET_MEMO_MS 100	 /* a GetItem answers the same key's next get this long */
/* ... and the next open's text for the attribute timeout (rbe.c) */

/* One cached DescribeTable. */
struct sc_ent {
	char *table;	       /* name (owned) */
	struct table_schema s; /* schema (owned) */
	time_t at;	       /* when fetched (monotonic s) */
	struct tbl_stats st;   /* DescribeTable's figures, if st_at */
	time_t st_at;	       /* when fetched (0: not yet) */
	uint64_t ver;	       /* rbe.sc_ver when s was stored: a table handle
				* copied from this s is shared (m_table_dup) */
};

struct rbe {
	struct be base;		 /* methods: first */
	rmt_t *c;		 /* the client (owned) */
	struct rbe_opts o;	 /* options (owned) */
	int64_t t0_ns;		 /* mount time: mtime of items we did not write */
	pthread_mutex_t mu;	 /* guards everything below */
	char **names;		 /* cached table list (sorted, filtered), or NULL */
	size_t nnames;		 /* entries */
	time_t names_at;	 /* when fetched */
	struct sc_ent *sc;	 /* cached schemas */
	size_t nsc;		 /* entries */
	uint64_t sc_ver;	 /* the last sc_ent.ver given */
	uint64_t gen;		 /* bumped as every write of this mount starts and ends */
	unsigned writing;	 /* writes of this mount in flight (rbe_write_begin) */
	char *parts_table;	 /* last partition scan: table (owned) */
	char *parts_index;	 /* and index (owned, NULL: the table) */
	struct val *parts;	 /* distinct partition keys, sorted (owned) */
	size_t nparts;		 /* entries */
	time_t parts_at;	 /* when scanned */
	uint64_t parts_gen;	 /* gen then */
	db_observer_fn watch_fn; /* or NULL */
	void *watch_ctx;	 /* for watch_fn */
	char **idn;		 /* table names with an id (owned) */
	uint64_t *ids;		 /* their ids */
	size_t nids;		 /* entries */
	uint64_t next_id;	 /* the last id given */
	struct scan_count {	 /* where Scans stopped, for the max_list cap */
		uint64_t hash;	 /* of table, index, segment, resume key */
		uint64_t n;	 /* items read so far */
	} counts[16];
	unsigned next_count;	    /* ring position */
	struct page_rest {	    /* the rest of a page a visitor stopped in */
		uint64_t hash;	    /* of the read and where it stopped (0: free) */
		struct rmt_page pg; /* the page (owned) */
		struct rmt_page prev; /* the page before it in the same read (owned; n 0: none) */
		size_t pos;	    /* first item not delivered */
		uint64_t count;	    /* a Scan's items read up to pos (max_list) */
		time_t at;	    /* when kept */
		uint64_t gen;	    /* rbe.gen then: a write of this mount drops it */
	} rests[8];
	unsigned next_rest; /* ring position */
	struct get_memo {   /* the last GetItems (m_get), see rbe.c */
		char *key;  /* table NUL compact key text (owned; NULL: free) */
		size_t klen;	 /* bytes of key */
		struct val item; /* as returned (owned); VAL_NULL: absent */
		int64_t at_ns;	 /* when (monotonic) */
		uint64_t gen;	 /* rbe.gen then: a write of this mount drops it */
	} memo[8];
	unsigned next_memo; /* ring position */
};

struct rtab {
	struct be_table base;  /* first */
	struct rbe *r;	       /* the backend */
	char *name;	       /* table name (owned) */
	struct table_schema s; /* schema when opened (owned) */
	uint64_t id;	       /* id (rbe.ids) */
	uint64_t ver;	       /* the sc_ent.ver s was copied from (0: none) */
	unsigned refs;	       /* __atomic: references (m_table_dup, m_table_close) */
};

struct rrow {
	const struct val *item;	   /* as the service returned it */
	const struct val *pk, *sk; /* the base table's key */
	struct item_meta meta;	   /* metadata */
};

/* Key names of the table or one of its indexes. */
struct keys {
	const char *pk, *sk;   /* of what is read (sk NULL: none) */
	const char *tpk, *tsk; /* of the table (tsk NULL: none) */
};

static inline struct rbe *R(be_t *b)
{
	return (struct rbe *)b;
}

static inline struct rtab *T(const be_table_t *t)
{
	return (struct rtab *)t;
}

static inline time_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* rbe.c */
extern const struct be_methods rbe_methods, rbe_methods_notx;
void rbe_report(struct rbe *r, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
size_t rbe_max_list(const struct rbe *r);
int rbe_deny_write(struct rbe *r, const char *table, struct dyn_err *err);
void rbe_notify(struct rbe *r, const struct db_change *ch, size_t n);
/* A write of this mount starts / has ended (answered or not): both bump
 * gen, and while one is in flight no GetItem answer is memoized or served
 * from the memo (the service may have applied it before we hear so). */
void rbe_write_begin(struct rbe *r);
void rbe_write_end(struct rbe *r);
/* The same after a write that succeeded and left item as the service's
 * version of (t, pk, sk) (VAL_NULL: absent): the memo (rbe.c) answers the
 * next get of that key from it, unless another write is in flight. */
void rbe_write_end_known(struct rbe *r, const struct rtab *t, const struct val *pk,
			 const struct val *sk, const struct val *item);
void rbe_memo_free(struct rbe *r);
int64_t rbe_mono_ns(void);
/* "table\0key" of a get (new), for the memo. */
char *rbe_memo_key(const struct rtab *t, const struct val *pk, const struct val *sk, size_t *len);
/* The memo's answer for key, if fetched less than max_age_ns ago: 1 (*out
 * new, VAL_NULL: absent), or 0. */
int rbe_memo_find(struct rbe *r, const char *key, size_t len, int64_t max_age_ns,
		  struct val *out);
/* Remember item (VAL_NULL: absent) as key's answer (key moved in) at `at`
 * of generation gen: a copy of it, or with take item itself (moved in,
 * *item left VAL_NULL: no copy when the caller needs it no more). */
void rbe_memo_keep(struct rbe *r, char *key, size_t len, struct val *item, int64_t at,
		   uint64_t gen, bool take);
/*
 * Every cache of what the service said (the GetItem memo, a listing
 * page's rest, a partition scan) is stamped with rbe_gen_now() taken
 * before the request that fetched it, and answers only while
 * rbe_gen_fresh_locked() (no write of this mount began or ended since,
 * none is in flight): a write that completes while a read is on the way
 * leaves nothing stale behind it.
 */
uint64_t rbe_gen_now(struct rbe *r);
static inline bool rbe_gen_fresh_locked(const struct rbe *r, uint64_t gen)
{
	return !r->writing && gen == r->gen;
}
int rbe_schema_of(struct rbe *r, const char *table, struct table_schema *out, struct dyn_err *err);
const struct index_def *rbe_find_index(const struct table_schema *s, const char *name);
void rbe_fill_meta(struct rbe *r, const struct table_schema *s, const struct val *item,
		   struct item_meta *meta);
int rbe_key_of(const struct table_schema *s, const struct val *pk, const struct val *sk,
	       struct val *out);
int rbe_get_item(struct rtab *t, const struct val *pk, const struct val *sk, struct val *out,
		 struct dyn_err *err);

/* rbe_read.c */
int rbe_keys_of(const struct table_schema *s, const char *index, struct keys *k,
		struct dyn_err *err);
int rbe_bind_name(struct val *names, const char *ph, const char *name);
int rbe_bind_value(struct val *values, const char *ph, const struct val *v);
int rbe_query(be_table_t *t, const struct tbl_query *q, be_visit_fn fn, void *ctx,
	      struct dyn_err *err);
int rbe_scan(be_table_t *t, const struct tbl_scan *s, be_visit_fn fn, void *ctx,
	     struct dyn_err *err);
int rbe_list_partitions(be_table_t *bt, const char *index, const struct val *after, tbl_pk_fn fn,
			void *ctx, struct dyn_err *err);
int rbe_partition_exists(be_table_t *bt, const char *index, const struct val *pk,
			 struct dyn_err *err);
int rbe_project(be_table_t *bt, const char *index, struct val *item);
void rbe_parts_free(struct val *p, size_t n);
void rbe_rests_free(struct rbe *r);

/* rbe_write.c */
int rbe_check_item(be_table_t *bt, const struct val *item, struct dyn_err *err);
int rbe_apply(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err);
/* Each op on its own, in order; plain puts and deletes as BatchWriteItem (backend.h apply_each). */
int rbe_apply_each(be_t *b, const be_op *ops, size_t n, size_t *failed, struct dyn_err *err);

#endif
