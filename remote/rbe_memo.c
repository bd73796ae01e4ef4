/*
 * rbe_memo.c - the remote backend's write generation and its GetItem
 * memo (see rbe.c, "One FUSE operation, several gets").
 *
 * gen is bumped as every write of this mount starts and ends; every
 * cache of what the service said (the memo here, a listing page's rest
 * and the partition scan in rbe_read.c) is stamped with the generation
 * taken before its request (rbe_gen_now) and answers only while it is
 * fresh (rbe_gen_fresh_locked: the same generation, no write in flight).
 * A put or delete of this mount that succeeded is itself an answer: what
 * the service now holds for that key (rbe_write_end_known).
 */
#include <stdlib.h>
#include <string.h>

#include "item.h"
#include "rbeint.h"

void rbe_write_begin(struct rbe *r)
{
	pthread_mutex_lock(&r->mu);
	r->writing++;
	r->gen++;
	pthread_mutex_unlock(&r->mu);
}

uint64_t rbe_gen_now(struct rbe *r)
{
	uint64_t gen;

	pthread_mutex_lock(&r->mu);
	gen = r->gen;
	pthread_mutex_unlock(&r->mu);
	return gen;
}

void rbe_write_end(struct rbe *r)
{
	rbe_write_end_known(r, NULL, NULL, NULL, NULL);
}

int64_t rbe_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* "table\0key" of a get (new), for the memo. */
char *rbe_memo_key(const struct rtab *t, const struct val *pk, const struct val *sk, size_t *len)
{
	char *a = NULL, *b = NULL, *k = NULL;
	size_t la = 0, lb = 0, lt = strlen(t->name);

	if (item_render_compact(pk, NULL, NULL, &a, &la) == 0 &&
	    (!sk || item_render_compact(sk, NULL, NULL, &b, &lb) == 0) &&
	    (k = malloc(lt + la + lb + 3))) {
		memcpy(k, t->name, lt + 1);
		memcpy(k + lt + 1, a, la);
		k[lt + 1 + la] = '\n';
		if (b)
			memcpy(k + lt + 2 + la, b, lb);
		*len = lt + 2 + la + lb;
	}
	free(a);
	free(b);
	return k;
}

/* The memo's newest answer for key, if fetched less than max_age_ns ago:
 * 1 (*out new, VAL_NULL: absent), or 0.  Newest: a key may have several
 * fresh answers (an open takes one up to cache= seconds old, a lookup
 * fetches again after 100 ms), and the mount must never read backwards
 * from what it last fetched. */
int rbe_memo_find(struct rbe *r, const char *key, size_t len, int64_t max_age_ns,
		  struct val *out)
{
	int64_t now = rbe_mono_ns();
	struct get_memo *best = NULL;
	int found = 0;

	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < sizeof(r->memo) / sizeof(r->memo[0]); i++) {
		struct get_memo *m = &r->memo[i];

		if (m->key && m->klen == len && !memcmp(m->key, key, len) &&
		    rbe_gen_fresh_locked(r, m->gen) && now - m->at_ns < max_age_ns &&
		    (!best || m->at_ns >= best->at_ns))
			best = m;
	}
	if (best)
		found = val_copy(out, &best->item) == 0;
	pthread_mutex_unlock(&r->mu);
	return found;
}

/* Remember item (VAL_NULL: absent) as key's answer at `at` of generation gen. */
void rbe_memo_keep(struct rbe *r, char *key, size_t len, struct val *item, int64_t at,
		   uint64_t gen, bool take)
{
	struct get_memo *m;
	struct val c;

	if (take) {
		val_move(&c, item);
	} else if (val_copy(&c, item) < 0) {
		free(key);
		return;
	}
	pthread_mutex_lock(&r->mu);
	m = &r->memo[r->next_memo];
	r->next_memo = (r->next_memo + 1) % (sizeof(r->memo) / sizeof(r->memo[0]));
	free(m->key);
	val_free(&m->item);
	m->key = key;
	m->klen = len;
	m->item = c;
	m->at_ns = at;
	m->gen = gen;
	pthread_mutex_unlock(&r->mu);
}

void rbe_write_end_known(struct rbe *r, const struct rtab *t, const struct val *pk,
			 const struct val *sk, const struct val *item)
{
	struct val c;
	char *key = NULL;
	size_t klen = 0;
	bool keep = t && pk && r->o.cache_s != 0 && (key = rbe_memo_key(t, pk, sk, &klen)) &&
		    val_copy(&c, item) == 0;

	if (!keep) {
		free(key);
		key = NULL;
	}
	pthread_mutex_lock(&r->mu);
	r->writing--;
	r->gen++;
	if (keep && !r->writing) {
		/* the service now holds exactly what this write left: the
		 * answer of a get made right after it, of this generation */
		struct get_memo *m = &r->memo[r->next_memo];

		r->next_memo = (r->next_memo + 1) % (sizeof(r->memo) / sizeof(r->memo[0]));
		free(m->key);
		val_free(&m->item);
		m->key = key;
		m->klen = klen;
		m->item = c;
		m->at_ns = rbe_mono_ns();
		m->gen = r->gen;
		key = NULL;
	} else if (keep) {
		val_free(&c);
	}
	pthread_mutex_unlock(&r->mu);
	free(key);
}

void rbe_memo_free(struct rbe *r)
{
	for (size_t i = 0; i < sizeof(r->memo) / sizeof(r->memo[0]); i++) {
		free(r->memo[i].key);
		val_free(&r->memo[i].item);
	}
}
