/*
 * changes.c - /_changes and /<table>/_changes: following the change feed
 * (changes.h has the contract; engine/feed.h the feed).
 *
 * Parked reads.  A read that finds nothing is not answered: the request
 * is kept in its descriptor (one per descriptor; a second concurrent read
 * on the same descriptor gets EBUSY) and the descriptor joins the hub's
 * list.  The feed calls our subscriber after every commit; it only sets
 * `kick` and signals the hub thread, which walks the list and answers
 * every parked read that now has lines (and every poll handle).  So a
 * writer pays one uncontended mutex and a signal, never a rendering, and
 * no FUSE worker thread sleeps in a read (libfuse's pool would otherwise
 * grow a thread per `tail -f`).
 *
 * Pacing.  The hub thread pauses CHG_GATHER_US (2 ms) after a wake-up
 * before answering, so a burst of commits reaches a parked reader as one
 * answer.  A reader that reads back to back while commits keep coming
 * would otherwise get a few lines per read, each a FUSE round trip and
 * two wake-ups taken from the writer's two cores: so a read that finds
 * lines, but fewer than it asks for, within CHG_GATHER_US of the
 * descriptor's last answer is parked too, and the hub kicked (no commit
 * may follow to do it): at most one short answer per 2 ms per reader
 * (a full answer, e.g. a reader catching up, is never held back).  A
 * change thus reaches a waiting reader about 2 ms after its commit (plus
 * the time the hub thread takes to be scheduled).
 *
 * Interrupts.  fuse_req_interrupt_func() may call our callback at once,
 * inside itself, holding the request's lock: answering the request there
 * would free it under libfuse's feet.  So a read is parked in two steps:
 * PARKING while the callback is being registered (an interrupt then only
 * sets `intr`, and the reading thread answers EINTR itself afterwards),
 * then PARKED (an interrupt answers EINTR from the callback, which
 * libfuse calls holding a reference).
 *
 * Text.  Each descriptor has a buffer of rendered lines not yet read
 * (buf[off..len)); reads take whole or partial lines from it, topped up
 * from the cursor.  `delivered` counts bytes read so far: fstat reports
 * delivered + buffered after topping up (at most CHG_STAT_MAX), which is
 * what `tail -f` on FUSE (a "remote" file system to tail: no inotify)
 * compares once a second to decide to read.
 */
#include "changes.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../engine/feed.h"
#include "ops.h"

#define CHG_STAT_MAX (4u << 20) /* fstat renders at most this much ahead */
#define CHG_KEEP (1u << 20)	/* bytes kept behind the read position */
#define CHG_GATHER_US 2000	/* the feed thread's pause after a wake-up, and
				 * the least time between two short answers */
#define CHG_NAME "_changes"

enum park {
	PARK_NONE,    /* no read waiting */
	PARK_PARKING, /* registering the interrupt callback */
	PARK_PARKED,  /* waiting for lines */
};

struct chg {
	struct fsx *fs;	      /* immutable */
	struct node *node;    /* immutable, borrowed: the handle holds it */
	feed_cursor_t *cur;   /* lock */
	bool with_table;      /* immutable: root /_changes */
	int refs;	      /* the handle + changes_attr callers (atomic) */
	pthread_mutex_t lock; /* protects everything below */
	char *buf;	      /* bytes [base, base + len) of the stream */
	size_t len, cap;
	uint64_t base;		    /* stream offset of buf[0] */
	uint64_t rd;		    /* highest offset read so far */
	uint64_t fill_to;	    /* fill()'s target: pull stops there */
	bool ended;		    /* the fell-behind line is queued: EOF after it */
	bool asked_end;		    /* the size was asked through the descriptor */
	enum park park;		    /* state of the parked read */
	fuse_req_t req;		    /* the parked read */
	uint64_t want_off;	    /* its offset */
	size_t want;		    /* its size */
	bool intr;		    /* interrupted while PARKING */
	int64_t answered_ns;	    /* when a read last got lines (monotonic) */
	struct fuse_pollhandle *ph; /* poll handle to notify, or NULL */
	bool listed;		    /* in hub.list (hub.lock) */
	struct chg *prev, *next;    /* hub.list (hub.lock) */
};

struct chg_hub {
	pthread_mutex_t lock;	 /* protects list, stop */
	struct chg *list;	 /* descriptors with a parked read or a poll handle */
	bool stop;		 /* changes_stop: the thread must exit */
	pthread_mutex_t kick_mu; /* protects kick, and the cond */
	pthread_cond_t kick_cv;	 /* signalled by the subscriber and stop */
	bool kick;		 /* the feed moved since the thread last looked */
	int nwaiting;		 /* descriptors in list (atomic, for the subscriber) */
	bool running;		 /* thread started */
	pthread_t thread;
};

/* ---- nodes ---- */

/* since=SEQ from "_changes?since=SEQ" (0: none; since=0 is FEED_OLDEST).
 * -EINVAL. */
static int parse_params(const char *p, uint64_t *since)
{
	char *end;

	*since = 0;
	if (!*p)
		return 0;
	if (strncmp(p, "since=", 6) != 0)
		return -EINVAL;
	p += 6;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	*since = strtoull(p, &end, 10);
	if (errno || *end || *since == FEED_OLDEST)
		return -EINVAL;
	if (*since == 0)
		*since = FEED_OLDEST; /* everything still retained */
	return 0;
}

int changes_resolve(struct fsx *fs, struct node *dir, be_table_t *t, const char *name,
		    struct node **out)
{
	size_t nlen = strlen(CHG_NAME);
	const char *params;
	char path[512];
	uint64_t since;
	struct node *n;

	if (strncmp(name, CHG_NAME, nlen) != 0 || (name[nlen] && name[nlen] != '?'))
		return 1;
	params = name[nlen] ? name + nlen + 1 : "";
	if (!be_feed(fs->be)) {
		node_path(fs, dir, path, sizeof(path));
		errlog_add(fs, path, "%s: this backend (%s) has no change feed", name,
			   be_name(fs->be));
		return -ENOTSUP;
	}
	if (parse_params(params, &since) < 0) {
		node_path(fs, dir, path, sizeof(path));
		errlog_add(fs, path,
			   "%s: the only parameter is since=SEQ (a sequence number; 0: the "
			   "oldest retained)",
			   name);
		return -EINVAL;
	}
	n = node_new_plain(fs, NK_CHANGES, dir->ino, t);
	if (!n)
		return -ENOMEM;
	n->since = since;
	*out = n;
	return 0;
}

/* ---- descriptors ---- */

static void chg_unref(struct chg *c)
{
	if (__atomic_sub_fetch(&c->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (c->ph)
		fuse_pollhandle_destroy(c->ph);
	feed_cursor_free(c->cur);
	free(c->buf);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int changes_open(struct fsx *fs, struct node *n, int flags, struct chg **out)
{
	struct dyn_err err;
	char path[512];
	struct chg *c;
	int rc;

	if ((flags & O_ACCMODE) != O_RDONLY)
		return -EACCES;
	if (n->table && !be_table_alive(n->table))
		return -ENOENT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fs = fs;
	c->node = n;
	c->refs = 1;
	c->with_table = n->table == NULL;
	err_clear(&err);
	rc = feed_cursor_new(be_feed(fs->be), n->table ? be_table_id(n->table) : 0, n->since,
			     &c->cur, &err);
	if (rc < 0) {
		node_path(fs, n, path, sizeof(path));
		errlog_err(fs, path, &err, rc);
		free(c);
		return rc;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_lock(&fs->ilock);
	n->chg = c; /* the node's size is this descriptor's (changes_attr) */
	pthread_mutex_unlock(&fs->ilock);
	*out = c;
	return 0;
}

static uint64_t end_of(const struct chg *c)
{
	return c->base + c->len;
}

/* Append to the stream, dropping what was read more than CHG_KEEP ago. */
static int buf_add(struct chg *c, const char *s, size_t n)
{
	uint64_t keep_from = c->rd > CHG_KEEP ? c->rd - CHG_KEEP : 0;
	size_t drop, cap;
	char *nb;

	if (c->len + n > c->cap && keep_from > c->base) {
		drop = (size_t)(keep_from - c->base);
		if (drop > c->len)
			drop = c->len;
		memmove(c->buf, c->buf + drop, c->len - drop);
		c->len -= drop;
		c->base += drop;
	}
	if (c->len + n > c->cap) {
		cap = c->cap ? c->cap : 4096;
		while (cap < c->len + n)
			cap *= 2;
		nb = realloc(c->buf, cap);
		if (!nb)
			return -ENOMEM;
		c->buf = nb;
		c->cap = cap;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	return 0;
}

/* One line more; 1 (enough) once the stream reaches fill()'s target, so
 * that a pull adds at most one line past it, however big the lines. */
static int take_line(void *ctx, const char *line, size_t len)
{
	struct chg *c = ctx;
	int rc = buf_add(c, line, len);

	return rc < 0 ? rc : end_of(c) >= c->fill_to;
}

/* Add the next lines to the stream (c->lock held; up to FEED_TAKE_MAX,
 * at most one past fill()'s target, copied straight from the feed's
 * shared rendering): 1, 0 (none), -errno. */
static int pull(struct chg *c)
{
	char tmp[128];
	size_t len;
	int rc;

	if (c->ended)
		return 0;
	rc = feed_next_lines(c->cur, c->with_table, take_line, c);
	if (rc == -EOVERFLOW) {
		len = (size_t)snprintf(tmp, sizeof(tmp),
				       "{\"fell_behind\":true,\"lost\":%" PRIu64
				       ",\"since\":%" PRIu64 "}\n",
				       feed_cursor_lost(c->cur), feed_cursor_pos(c->cur));
		c->ended = true;
		return buf_add(c, tmp, len) < 0 ? -ENOMEM : 1;
	}
	return rc > 0 ? 1 : rc;
}

/* Render lines until the stream reaches offset `to` or none are ready. */
static void fill(struct chg *c, uint64_t to)
{
	c->fill_to = to;
	while (end_of(c) < to && pull(c) > 0)
		;
}

/*
 * What a read at (off, size) gets now (c->lock held): 1 with *p, *n set
 * (n may be 0: end of file), 0 if it must wait, -errno.
 */
static int answer(struct chg *c, uint64_t off, size_t size, const char **p, size_t *n)
{
	fill(c, off + size);
	if (off < c->base)
		return -EIO; /* seeked back beyond what is kept */
	if (off < end_of(c)) {
		*n = (size_t)(end_of(c) - off);
		if (*n > size)
			*n = size;
		*p = c->buf + (off - c->base);
		if (off + *n > c->rd)
			c->rd = off + *n;
		return 1;
	}
	if (c->ended || c->asked_end) {
		/* The reader asked where the end is (tail's lseek SEEK_END):
		 * this is it, once.  After the fell-behind line: for good. */
		c->asked_end = false;
		*p = NULL;
		*n = 0;
		return 1;
	}
	return 0;
}

static struct chg_hub *hub_of(struct fsx *fs)
{
	return fs->changes;
}

/* Join the hub's list (hub.lock held). */
static void list_add(struct chg_hub *h, struct chg *c)
{
	if (c->listed)
		return;
	c->prev = NULL;
	c->next = h->list;
	if (h->list)
		h->list->prev = c;
	h->list = c;
	c->listed = true;
	__atomic_add_fetch(&h->nwaiting, 1, __ATOMIC_RELEASE);
}

static void list_del(struct chg_hub *h, struct chg *c)
{
	if (!c->listed)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		h->list = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->listed = false;
	__atomic_sub_fetch(&h->nwaiting, 1, __ATOMIC_RELEASE);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Wake the hub thread (it serves what can be served after its pause). */
static void hub_kick(struct chg_hub *h)
{
	pthread_mutex_lock(&h->kick_mu);
	h->kick = true;
	pthread_cond_signal(&h->kick_cv);
	pthread_mutex_unlock(&h->kick_mu);
}

/* The parked read of c, if it can be answered now (c->lock held): *req
 * set and the text copied; the caller replies outside the lock. */
static void serve_locked(struct chg *c, fuse_req_t *req, char **text, size_t *n)
{
	const char *p;
	int rc;

	*req = NULL;
	*text = NULL;
	*n = 0;
	if (c->park != PARK_PARKED)
		return;
	rc = answer(c, c->want_off, c->want, &p, n);
	if (rc == 0)
		return;
	if (rc > 0 && *n) {
		*text = malloc(*n);
		if (!*text)
			return; /* try again with the next change */
		memcpy(*text, p, *n);
		c->answered_ns = now_ns();
	}
	*req = c->req;
	c->req = NULL;
	c->park = PARK_NONE;
}

static void interrupted(fuse_req_t req, void *data)
{
	struct chg *c = data;
	bool reply = false;

	pthread_mutex_lock(&c->lock);
	if (c->req == req) {
		if (c->park == PARK_PARKING) {
			c->intr = true; /* the parking thread answers */
		} else {
			c->req = NULL;
			c->park = PARK_NONE;
			reply = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	if (reply)
		fuse_reply_err(req, EINTR);
}

void changes_read(fuse_req_t req, struct chg *c, size_t size, off_t off, int flags)
{
	struct chg_hub *h = hub_of(c->fs);
	bool defer = false;
	fuse_req_t r;
	const char *p;
	char *text;
	int64_t now;
	size_t n;
	int rc;

	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&c->lock);
	rc = answer(c, (uint64_t)off, size, &p, &n);
	if (rc > 0 && n > 0 && n < size && !(flags & O_NONBLOCK) && c->park == PARK_NONE) {
		/* Lines are there but fewer than asked for: while changes keep
		 * coming, a reader reading back to back would get a few at a
		 * time, each a round trip and a wake-up.  At most one short
		 * answer per CHG_GATHER_US: a later one waits for the hub's
		 * next round (kicked below), which takes what gathered. */
		now = now_ns();
		defer = now - c->answered_ns < CHG_GATHER_US * 1000LL;
		if (!defer)
			c->answered_ns = now;
	} else if (rc > 0 && n > 0) {
		c->answered_ns = now_ns();
	}
	if (!defer && (rc != 0 || (flags & O_NONBLOCK) || c->park != PARK_NONE)) {
		if (rc > 0)
			fuse_reply_buf(req, p, n);
		else
			fuse_reply_err(req, rc < 0 ? -rc : c->park != PARK_NONE ? EBUSY : EAGAIN);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	c->park = PARK_PARKING;
	c->req = req;
	c->want_off = (uint64_t)off;
	c->want = size;
	c->intr = false;
	pthread_mutex_unlock(&c->lock);

	pthread_mutex_lock(&h->lock);
	if (h->stop) {
		pthread_mutex_unlock(&h->lock);
		pthread_mutex_lock(&c->lock);
		c->park = PARK_NONE;
		c->req = NULL;
		pthread_mutex_unlock(&c->lock);
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	list_add(h, c);
	pthread_mutex_unlock(&h->lock);

	fuse_req_interrupt_func(req, interrupted, c);

	pthread_mutex_lock(&c->lock);
	if (c->intr) {
		c->park = PARK_NONE;
		c->req = NULL;
		pthread_mutex_unlock(&c->lock);
		fuse_reply_err(req, EINTR);
		return;
	}
	c->park = PARK_PARKED;
	r = NULL;
	if (!defer)
		serve_locked(c, &r, &text, &n); /* lines may have come meanwhile */
	pthread_mutex_unlock(&c->lock);
	if (defer)
		hub_kick(h); /* no commit may come to do it */
	if (r) {
		fuse_reply_buf(r, text, n);
		free(text);
	}
}

void changes_poll(fuse_req_t req, struct chg *c, struct fuse_pollhandle *ph)
{
	struct chg_hub *h = hub_of(c->fs);
	unsigned revents = 0;

	pthread_mutex_lock(&h->lock);
	pthread_mutex_lock(&c->lock);
	fill(c, c->rd + 1);
	if (end_of(c) > c->rd || c->ended) {
		revents = POLLIN | POLLRDNORM;
	} else if (ph) {
		if (c->ph)
			fuse_pollhandle_destroy(c->ph);
		c->ph = ph;
		ph = NULL;
		list_add(h, c);
	}
	pthread_mutex_unlock(&c->lock);
	pthread_mutex_unlock(&h->lock);
	if (ph)
		fuse_pollhandle_destroy(ph);
	fuse_reply_poll(req, revents);
}

off_t changes_size(struct chg *c, bool asked)
{
	off_t size;

	pthread_mutex_lock(&c->lock);
	fill(c, c->rd + CHG_STAT_MAX);
	size = (off_t)end_of(c);
	if (asked)
		c->asked_end = true;
	pthread_mutex_unlock(&c->lock);
	return size;
}

void changes_attr(struct fsx *fs, struct node *n, struct stat *st)
{
	struct chg *c;

	st->st_mode = S_IFREG | 0444;
	st->st_size = 0;
	st->st_mtim.tv_sec = fs->start_ns / 1000000000;
	st->st_mtim.tv_nsec = fs->start_ns % 1000000000;
	st->st_ctim = st->st_atim = st->st_mtim;
	pthread_mutex_lock(&fs->ilock);
	c = n->chg;
	if (c)
		__atomic_add_fetch(&c->refs, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&fs->ilock);
	if (c) { /* fstat() comes without the descriptor: `tail -f` polls this */
		st->st_size = changes_size(c, false);
		chg_unref(c);
	}
}

void changes_release(struct chg *c)
{
	struct fsx *fs;
	struct chg_hub *h;
	fuse_req_t r;

	if (!c)
		return;
	fs = c->fs;
	h = hub_of(fs);
	pthread_mutex_lock(&fs->ilock);
	if (c->node->chg == c)
		c->node->chg = NULL;
	pthread_mutex_unlock(&fs->ilock);
	pthread_mutex_lock(&h->lock);
	list_del(h, c);
	pthread_mutex_unlock(&h->lock);
	pthread_mutex_lock(&c->lock);
	r = c->park == PARK_PARKED ? c->req : NULL; /* cannot happen: reads hold the file */
	c->req = NULL;
	c->park = PARK_NONE;
	pthread_mutex_unlock(&c->lock);
	if (r)
		fuse_reply_buf(r, NULL, 0);
	chg_unref(c);
}

/* ---- the hub ---- */

static void on_feed(void *ctx, uint64_t last_seq)
{
	struct chg_hub *h = ctx;

	(void)last_seq;
	if (__atomic_load_n(&h->nwaiting, __ATOMIC_ACQUIRE) == 0)
		return; /* nobody parked: a writer pays one load */
	hub_kick(h);
}

/* Answer what can be answered (hub.lock held).  final: EOF to every read. */
static void serve_all(struct chg_hub *h, bool final)
{
	struct chg *c, *next;
	fuse_req_t r;
	char *text;
	size_t n;

	for (c = h->list; c; c = next) {
		next = c->next;
		text = NULL;
		n = 0;
		pthread_mutex_lock(&c->lock);
		serve_locked(c, &r, &text, &n);
		if (!r && final && c->park == PARK_PARKED) {
			r = c->req;
			c->req = NULL;
			c->park = PARK_NONE;
		}
		if (c->ph && (final || end_of(c) > c->rd || feed_cursor_ready(c->cur))) {
			fuse_lowlevel_notify_poll(c->ph);
			fuse_pollhandle_destroy(c->ph);
			c->ph = NULL;
		}
		if (c->park == PARK_NONE && !c->ph)
			list_del(h, c);
		pthread_mutex_unlock(&c->lock);
		if (r) {
			fuse_reply_buf(r, text, n);
			free(text);
		}
	}
}

static void *hub_main(void *arg)
{
	struct chg_hub *h = arg;
	bool stop;

	for (;;) {
		pthread_mutex_lock(&h->kick_mu);
		while (!h->kick)
			pthread_cond_wait(&h->kick_cv, &h->kick_mu);
		h->kick = false;
		pthread_mutex_unlock(&h->kick_mu);
		/* Let a burst of commits gather: readers then get many lines
		 * per read instead of one wake-up per commit each. */
		usleep(CHG_GATHER_US);
		pthread_mutex_lock(&h->lock);
		stop = h->stop;
		serve_all(h, stop);
		pthread_mutex_unlock(&h->lock);
		if (stop)
			return NULL;
	}
}

int changes_init(struct fsx *fs)
{
	struct chg_hub *h = calloc(1, sizeof(*h));

	if (!h)
		return -ENOMEM;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->kick_mu, NULL);
	pthread_cond_init(&h->kick_cv, NULL);
	fs->changes = h;
	return 0;
}

int changes_start(struct fsx *fs)
{
	struct chg_hub *h = hub_of(fs);
	int rc;

	if (!be_feed(fs->be))
		return 0; /* no feed: no _changes (changes_resolve) */
	rc = feed_subscribe(be_feed(fs->be), on_feed, h);
	if (rc < 0)
		return rc;
	rc = pthread_create(&h->thread, NULL, hub_main, h);
	if (rc != 0)
		return -rc;
	h->running = true;
	return 0;
}

void changes_stop(struct fsx *fs)
{
	struct chg_hub *h = hub_of(fs);

	if (!h || !h->running)
		return;
	pthread_mutex_lock(&h->lock);
	h->stop = true;
	pthread_mutex_unlock(&h->lock);
	hub_kick(h);
	pthread_join(h->thread, NULL);
	h->running = false;
}

void changes_fini(struct fsx *fs)
{
	struct chg_hub *h = hub_of(fs);

	if (!h)
		return;
	pthread_cond_destroy(&h->kick_cv);
	pthread_mutex_destroy(&h->kick_mu);
	pthread_mutex_destroy(&h->lock);
	free(h);
	fs->changes = NULL;
}
