/*
 * mtime.c - item times over a backend that keeps none.
 *
 * The local engine stores each item's commit time (item_meta.mtime_ns).
 * A DynamoDB-API service stores no modification time, so a backend
 * without BE_CAP_ITEM_TIMES hands fs/ a version instead (item_meta.version:
 * a hash of the item's canonical text), and the item's mtime is dated
 * here:
 *
 *   - a version this mount stored (item_commit) is dated by its commit;
 *   - any other version -- another writer's, or the first this mount sees
 *     of an item -- by when this mount first saw it (a stat, a readdirplus
 *     page, a read), so another writer's change moves the mtime forward
 *     once it is seen (after -o cache= seconds), and never back; a rewrite
 *     of the same content is the same version and keeps its time.
 *
 * So `find -newer`, make, rsync's size-and-time check and an editor's
 * "modified since you opened it" see what changed while the mount knew
 * the item.
 *
 * Memory.  The dates are kept in a fixed table, not in the nodes: the
 * kernel forgets nodes under memory pressure (or a drop_caches), and an
 * item it looks up again must keep its time.  VT_SETS x VT_WAYS entries
 * of 40 bytes (65,536 items, 2.5 MB), made at first use, so only a mount
 * without item times pays for it; a full set forgets its least recently
 * used entry.  An item whose entry was forgotten is dated anew when next
 * seen: later, never earlier, so a tool comparing times takes it for
 * changed (a re-read or a copy too many, never a change missed).
 *
 * Entries are keyed by the node's identity hash (table name and key: the
 * same for every node the item ever has) mixed with the table's id (a
 * table dropped and made again is another table).  Locking: the table's
 * own lock, taken under ilock or alone, never the other way round.
 */
#include <stdlib.h>

#include "ops.h"

#define VT_WAYS 4
#define VT_SETS (1u << 14)

struct vt_ent {
	uint64_t key;	  /* 0: free */
	uint64_t version; /* item_meta.version dated at ns */
	int64_t ns;	  /* its mtime */
	uint64_t used;	  /* vtimes.tick at last use */
	uint64_t seen;	  /* version last read by an opener or stored (commit.c,
			   * "Forgotten nodes"); 0: none known */
};

struct vtimes {
	pthread_mutex_t lock; /* protects the fields below */
	uint64_t tick;	      /* uses so far */
	struct vt_ent e[VT_SETS * VT_WAYS];
};

static bool dated_here(struct fsx *fs)
{
	return !(be_caps(fs->be) & BE_CAP_ITEM_TIMES);
}

/* The table (made now if need be; NULL: out of memory).  ilock held. */
static struct vtimes *vtimes_locked(struct fsx *fs)
{
	struct vtimes *vt = fs->vtimes;

	if (vt)
		return vt;
	vt = calloc(1, sizeof(*vt));
	if (!vt)
		return NULL;
	pthread_mutex_init(&vt->lock, NULL);
	fs->vtimes = vt;
	return vt;
}

/* n's key.  ilock held. */
static uint64_t key_locked(const struct node *n)
{
	uint64_t k = n->id_hash ^ (n->tid * 0x9e3779b97f4a7c15ULL);

	k ^= k >> 29;
	return k ? k : 1;
}

/* The entry of key, or a new one in its set (vt->lock held). */
static struct vt_ent *entry(struct vtimes *vt, uint64_t key)
{
	struct vt_ent *set = &vt->e[(key % VT_SETS) * VT_WAYS], *victim = set;

	for (unsigned i = 0; i < VT_WAYS; i++) {
		if (set[i].key == key)
			return &set[i];
		if (set[i].used < victim->used)
			victim = &set[i];
	}
	victim->key = key;
	victim->version = 0;
	victim->seen = 0;
	return victim;
}

/* Date version of key: ns if it is new (stored), else when first seen. */
static int64_t date(struct vtimes *vt, uint64_t key, uint64_t version, int64_t ns)
{
	struct vt_ent *e;

	pthread_mutex_lock(&vt->lock);
	e = entry(vt, key);
	if (!e->version || e->version != version) {
		e->version = version;
		e->ns = ns;
	}
	e->used = ++vt->tick;
	ns = e->ns;
	pthread_mutex_unlock(&vt->lock);
	return ns;
}

int64_t item_mtime(struct fsx *fs, struct node *n, const struct item_meta *meta)
{
	struct vtimes *vt;
	uint64_t key;

	if (!dated_here(fs))
		return meta->mtime_ns;
	pthread_mutex_lock(&fs->ilock);
	vt = vtimes_locked(fs);
	key = key_locked(n);
	pthread_mutex_unlock(&fs->ilock);
	if (!vt)
		return meta->mtime_ns;
	return date(vt, key, meta->version, fsx_now_ns());
}

void item_mtime_stored_locked(struct fsx *fs, struct node *n, const char *text, size_t len)
{
	struct vtimes *vt;
	struct vt_ent *e;

	if (!dated_here(fs) || !(vt = vtimes_locked(fs)))
		return;
	pthread_mutex_lock(&vt->lock);
	e = entry(vt, key_locked(n));
	e->version = be_text_version(text, len);
	e->seen = e->version; /* what this mount stored it has seen */
	e->ns = fsx_now_ns();
	e->used = ++vt->tick;
	pthread_mutex_unlock(&vt->lock);
}

/*
 * The version of n last read by an opener or stored (commit.c), kept
 * here because the node, and its text n->seen, are gone once the kernel
 * forgets it.  ilock held.
 */
void item_seen_set_locked(struct fsx *fs, struct node *n, uint64_t version)
{
	struct vtimes *vt;
	struct vt_ent *e;

	if (!dated_here(fs) || !(vt = vtimes_locked(fs)))
		return;
	pthread_mutex_lock(&vt->lock);
	e = entry(vt, key_locked(n));
	e->seen = version;
	e->used = ++vt->tick;
	pthread_mutex_unlock(&vt->lock);
}

uint64_t item_seen_get_locked(struct fsx *fs, struct node *n)
{
	struct vtimes *vt = fs->vtimes;
	struct vt_ent *set;
	uint64_t key, seen = 0;

	if (!vt)
		return 0;
	key = key_locked(n);
	set = &vt->e[(key % VT_SETS) * VT_WAYS];
	pthread_mutex_lock(&vt->lock);
	for (unsigned i = 0; i < VT_WAYS; i++)
		if (set[i].key == key)
			seen = set[i].seen;
	pthread_mutex_unlock(&vt->lock);
	return seen;
}

void item_mtimes_free(struct fsx *fs)
{
	if (!fs->vtimes)
		return;
	pthread_mutex_destroy(&fs->vtimes->lock);
	free(fs->vtimes);
	fs->vtimes = NULL;
}
