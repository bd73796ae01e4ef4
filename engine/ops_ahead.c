/*
 * ops_ahead.c - the parse-ahead helper of a `_batch` session (opsint.h;
 * ops_batch.c's "Parsing ahead" says what it is for): a thread that
 * parses a feed's lines into their stored form (ops_line_parse_stored),
 * line after line, into slots and an arena of its own, while the feed's
 * thread takes the lines in order.
 *
 * The feed's thread starts a job per feed (ops_ahead_start), asks for
 * each line by its offset (ops_ahead_take: the helper's slot, or NULL
 * when the helper has not got there or took no slot for it; the feed
 * then parses the line itself and the helper skips to the lines after
 * it -- cpos), and ends the job before the feed returns (ops_ahead_end:
 * waits for the helper, frees what no line took).  A slot is published
 * by the release store of `done` after it is written, and read after an
 * acquire load: the helper never touches a published slot again in that
 * job.  The arena is reset when the next job starts: every request of a
 * feed is gone when it ends (a group never outlives a feed).
 */
#include "opsint.h"
#include "item.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define AHEAD_SLOTS 4096 /* lines of one feed parsed ahead, at most */

/* The parse-ahead helper of a session (see the file comment). */
struct ops_ahead {
	pthread_t thread;
	pthread_mutex_t mu;		/* protects running, cancel, quit, the job */
	pthread_cond_t cv;		/* a job, a line done, the job over */
	bool running;			/* a job is on (set by the feed, cleared by the helper) */
	bool cancel;			/* the feed wants the job over (atomic) */
	bool quit;			/* the thread ends */
	const char *buf;		/* the job: the feed's bytes */
	size_t len;			/* their length */
	size_t start;			/* where its first line starts */
	size_t done;			/* slots filled (atomic; the helper writes) */
	size_t cpos;			/* the line the feed is at (atomic; the feed writes) */
	bool wait;			/* the feed waits for each line (tests) */
	size_t next;			/* the next slot the feed takes (the feed's) */
	struct ahead_slot *slot;	/* AHEAD_SLOTS of them */
	struct item_arena *arena;	/* what the slots' requests borrow */
	struct item_stored st;		/* the helper's parse scratch */
	const struct key_attr *ka, *kb; /* the session's, when made */
	const struct table_schema *ix;	/* the session's (index entries), or NULL */
};

static void (*test_hook)(void *ctx); /* ops_ahead_set_test_hook */
static void *test_hook_ctx;

void ops_ahead_set_test_hook(void (*fn)(void *ctx), void *ctx)
{
	test_hook = fn;
	test_hook_ctx = ctx;
}

static void *ahead_main(void *arg)
{
	struct ops_ahead *h = arg;
	struct ahead_slot *sl;
	const char *nl;
	size_t p, k;
	bool over;

	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (!h->quit && !h->running)
			pthread_cond_wait(&h->cv, &h->mu);
		if (h->quit)
			break;
		p = h->start;
		k = 0;
		over = h->cancel;
		pthread_mutex_unlock(&h->mu);
		while (!over && p < h->len && (nl = memchr(h->buf + p, '\n', h->len - p))) {
			if (p <= __atomic_load_n(&h->cpos, __ATOMIC_RELAXED)) {
				p = (size_t)(nl - h->buf) + 1; /* behind: the feed parsed it */
				over = __atomic_load_n(&h->cancel, __ATOMIC_RELAXED);
				continue;
			}
			sl = &h->slot[k];
			sl->off = p;
			ops_req_init(&sl->req);
			sl->rc =
			    (size_t)(nl - (h->buf + p)) > OPS_LINE_MAX
				? 1
				: ops_line_parse_stored(h->buf + p, (size_t)(nl - (h->buf + p)),
							h->arena, &h->st, h->ka, h->kb, h->ix,
							&sl->req);
			p = (size_t)(nl - h->buf) + 1;
			__atomic_store_n(&h->done, ++k, __ATOMIC_RELEASE);
			over = __atomic_load_n(&h->cancel, __ATOMIC_RELAXED) || k == AHEAD_SLOTS;
			if (h->wait) { /* the feed may be waiting for this line */
				pthread_mutex_lock(&h->mu);
				pthread_cond_broadcast(&h->cv);
				pthread_mutex_unlock(&h->mu);
			}
		}
		if (test_hook)
			test_hook(test_hook_ctx);
		pthread_mutex_lock(&h->mu);
		h->running = false;
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

void ops_ahead_free(struct ops_ahead *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->mu);
	h->quit = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	item_stored_free(&h->st);
	item_arena_free(h->arena);
	free(h->slot);
	free(h);
}

struct ops_ahead *ops_ahead_new(const struct key_attr *ka, const struct key_attr *kb,
				const struct table_schema *ix, const char *const *cap_names,
				size_t ncap)
{
	struct ops_ahead *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->slot = malloc(AHEAD_SLOTS * sizeof(*h->slot));
	h->arena = item_arena_new();
	if (!h->slot || !h->arena)
		goto fail;
	item_stored_init(&h->st);
	h->st.cap_names = cap_names;
	h->st.ncap = ncap;
	h->ka = ka;
	h->kb = kb;
	h->ix = ix;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->cv, NULL);
	if (pthread_create(&h->thread, NULL, ahead_main, h) == 0)
		return h;
	pthread_mutex_destroy(&h->mu);
	pthread_cond_destroy(&h->cv);
	item_stored_free(&h->st);
fail:
	item_arena_free(h->arena);
	free(h->slot);
	free(h);
	return NULL;
}

bool ops_ahead_start(struct ops_ahead *h, const struct key_attr *ka, const struct key_attr *kb,
		     const struct table_schema *ix, const char *const *cap_names, size_t ncap,
		     const char *buf, size_t len, bool wait)
{
	const char *nl;

	if (h->ka != ka || h->kb != kb || h->ix != ix || h->st.cap_names != cap_names ||
	    h->st.ncap != ncap)
		return false; /* the session's configuration changed since */
	/* the first line may continue the tail or be skipped: the feed's */
	nl = memchr(buf, '\n', len);
	if (!nl || (size_t)(nl - buf) + 1 >= len)
		return false;
	item_arena_reset(h->arena); /* no request of an earlier feed is left */
	pthread_mutex_lock(&h->mu);
	h->buf = buf;
	h->len = len;
	h->start = (size_t)(nl - buf) + 1;
	h->done = 0;
	h->next = 0;
	h->cpos = 0;
	h->wait = wait;
	h->cancel = false;
	h->running = true;
	pthread_cond_broadcast(&h->cv);
	pthread_mutex_unlock(&h->mu);
	return true;
}

/* The helper's parse of the line at off of this feed, or NULL: parse it
 * here (the helper is not there yet, or took no slot for it; it then
 * skips to the lines after it).  Lines are asked for in order; never
 * waits. */
struct ahead_slot *ops_ahead_take(struct ops_ahead *h, size_t off)
{
	struct ahead_slot *sl;

	if (!h->wait)
		__atomic_store_n(&h->cpos, off, __ATOMIC_RELAXED);
	for (;;) {
		if (__atomic_load_n(&h->done, __ATOMIC_ACQUIRE) <= h->next) {
			if (!h->wait)
				return NULL;
			pthread_mutex_lock(&h->mu);
			while (__atomic_load_n(&h->done, __ATOMIC_ACQUIRE) <= h->next && h->running)
				pthread_cond_wait(&h->cv, &h->mu);
			pthread_mutex_unlock(&h->mu);
			if (__atomic_load_n(&h->done, __ATOMIC_ACQUIRE) <= h->next)
				return NULL; /* it stopped before this line */
		}
		sl = &h->slot[h->next];
		if (sl->off > off)
			return NULL; /* a line before the helper's first */
		h->next++;
		if (sl->off == off)
			return sl;
		ops_req_free(&sl->req); /* a line this thread handled itself */
	}
}

/* End the helper's job (the feed is over): wait for it, drop what it
 * parsed that no line took. */
void ops_ahead_end(struct ops_ahead *h)
{
	size_t done;

	pthread_mutex_lock(&h->mu);
	__atomic_store_n(&h->cancel, true, __ATOMIC_RELAXED);
	while (h->running)
		pthread_cond_wait(&h->cv, &h->mu);
	pthread_mutex_unlock(&h->mu);
	done = __atomic_load_n(&h->done, __ATOMIC_ACQUIRE);
	for (; h->next < done; h->next++)
		ops_req_free(&h->slot[h->next].req);
}
