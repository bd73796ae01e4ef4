/*
 * item_stored.c - an item's document JSON straight into the stored form
 * (item.h: item_parse_stored), for the snapshot loader and the _batch path.
 *
 * Loading a snapshot used to parse each item into a struct val tree
 * (item_parse_arena), measure it (item_size) and encode it (rec_new:
 * item_encode of the non-key attributes); most of the load's time went
 * into building the tree only to walk it twice.  This parser writes the
 * binary form (item.c's layout) while it reads the text, adds up the size
 * on the way, and keeps only the two key values as struct val.
 *
 * It is a fast path, not a second parser with its own rules: it takes a
 * text only when it is sure item_parse() would accept it and produce
 * exactly the same item, and declines (returns 1) at the first doubt -
 * any syntax error, names or set elements not already in order (the old
 * parser would sort them, or report duplicates), a top-level object that
 * could be a tagged value, a key that is missing or not S or a bare
 * number, nesting at the limit, an item over the size limit.  The caller
 * then parses the text with item_parse(), whose answer - value or error
 * message - is the reference.  So errors stay identical by construction,
 * and what must hold is one direction: taken implies item_parse() gives
 * the same key values, blob bytes and size (fuzz/fuzz_stored.c and
 * check_item's tests compare the two on arbitrary and edge-case input).
 *
 * This file has the item's top level: the keys, the captured attributes
 * (index key values, for the _batch path), and the top-level names and
 * their order (below); item_stored_val.c parses the values.
 */
#include "item_storedint.h"

#include <stdlib.h>
#include <string.h>

/* ---- the item ---- */

/* A key attribute's value (S or a bare number) into kv, its bytes in kb[i]. */
static int sv_key(struct sp *s, int i, struct val *kv, size_t *size)
{
	struct item_stored *st = s->st;
	size_t start = st->blob_len, off, n;
	bool esc;
	char *b;
	int rc;

	val_init_null(kv);
	if (s->ps.p < s->ps.end && (*s->ps.p == '-' || is_digit(*s->ps.p))) {
		kv->type = VAL_N;
		rc = sv_number(s, &kv->n);
		*size = rc ? 0 : item_num_size(&kv->n);
		return rc;
	}
	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE; /* B keys, "$N" keys, wrong types: item_parse */
	rc = ist_string(s, &off, &n, &esc);
	if (rc)
		return rc;
	if (st->kcap[i] < n + 1) {
		b = realloc(st->kb[i], n + 1);
		if (!b)
			return -ENOMEM;
		st->kb[i] = b;
		st->kcap[i] = n + 1;
	}
	memcpy(st->kb[i], st->blob + off, n);
	st->kb[i][n] = 0;
	st->blob_len = start;
	kv->type = VAL_S;
	kv->s.p = st->kb[i];
	kv->s.len = n;
	*size = n;
	return 0;
}

/* Names hold no NUL (ist_name), so prefixes in integer order are names in
 * byte order, up to equal prefixes. */
static inline uint64_t name_prefix(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i, k = n < 8 ? n : 8;

	for (i = 0; i < k; i++)
		v = v << 8 | p[i];
	return k ? v << (8 * (8 - k)) : 0;
}

/* ---- the top level: the names a session has seen ---- */

/*
 * A bulk import's lines (and a snapshot's items) repeat a few top-level
 * names, mostly in the same order from line to line, and an item's
 * members are stored in name order.  struct item_names (st->names) keeps
 * the names seen, each with its rank among them in name order (ranks
 * shift as names join; their order never changes) and the entry that
 * followed it last time.  A member's name is first matched as bytes
 * against the entry expected next: '"' name '"' in the text, equal to a
 * name that was once a plain string (no escapes), is that same valid
 * string, so it needs no scan.  Otherwise the name is scanned and looked
 * up by hash (and joins while there is room).  An item whose names all
 * have entries is put in order by their ranks, a bit each and no
 * comparison; one with other names by an insertion sort.
 */
#define NAMES_MAX 64	/* entries: one bit each in a uint64_t */
#define NAMES_SLOTS 128 /* hash slots, at most half used */
#define NAME_TEXT 32	/* '"' name '"' is matched in the text up to this length */
#define NO_ENT 0xff	/* no entry */

/* What a top-level name is to the parse (struct name_ent's role): */
#define ROLE_NONE (-1)	/* an attribute like any other */
#define ROLE_PK (-2)	/* the partition key */
#define ROLE_SK (-3)	/* the sort key */
#define ROLE_UNSET (-4) /* not worked out yet */
/* ... or >= 0: the index of a captured attribute (cap_names) */

struct name_ent {
	uint64_t q[NAME_TEXT / 8];  /* '"' name '"', zero-padded (if qlen) */
	uint64_t qm[NAME_TEXT / 8]; /* the bytes of q that count */
	uint64_t pfx;		    /* name_prefix() of the name */
	char *name;		    /* the name (owned) */
	size_t n;		    /* its length */
	uint8_t qlen;		    /* n + 2, or 0: never matched as text */
	uint8_t rank;		    /* its place among the entries in name order */
	uint8_t next;		    /* the entry after it in the last item, or NO_ENT */
	int8_t role;		    /* ROLE_*, or a capture's index (for the roles below) */
};

struct item_names {
	struct name_ent e[NAMES_MAX]; /* in the order they came */
	unsigned count;		      /* entries used */
	uint8_t first;		      /* the last item's first entry, or NO_ENT */
	uint8_t slot[NAMES_SLOTS];    /* hash -> entry + 1; 0: free */
	/* the key and captured names the entries' roles are for (copies in
	 * rbuf): compared at each item, the roles worked out again when
	 * they change (a snapshot's next table, an index added) */
	char *rbuf;			  /* the copies (owned), NULL: no roles yet */
	const char *pk, *sk;		  /* key names (sk NULL: none) */
	const char *cap[ITEM_STORED_CAP]; /* captured names */
	size_t ncap;			  /* how many */
};

static struct item_names *names_new(void)
{
	struct item_names *t = calloc(1, sizeof(*t));

	if (t)
		t->first = NO_ENT;
	return t;
}

static void names_free(struct item_names *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < t->count; i++)
		free(t->e[i].name);
	free(t->rbuf);
	free(t);
}

void item_stored_init(struct item_stored *st)
{
	memset(st, 0, sizeof(*st));
	val_init_null(&st->pk);
	val_init_null(&st->sk);
}

void item_stored_free(struct item_stored *st)
{
	size_t i;

	free(st->blob);
	free(st->kb[0]);
	free(st->kb[1]);
	for (i = 0; i < ITEM_STORED_CAP; i++)
		free(st->cb[i]);
	names_free(st->names);
	item_stored_init(st);
}

/* Is the text at p '"' e's name '"'? */
static inline bool name_at(const struct name_ent *e, const char *p, const char *end)
{
	uint64_t w[NAME_TEXT / 8], d;

	if (end - p < NAME_TEXT)
		return e->qlen && end - p >= e->qlen && memcmp(p, e->q, e->qlen) == 0;
	memcpy(w, p, NAME_TEXT);
	d = ((w[0] ^ e->q[0]) & e->qm[0]) | ((w[1] ^ e->q[1]) & e->qm[1]);
	if (e->qlen > 16)
		d |= ((w[2] ^ e->q[2]) & e->qm[2]) | ((w[3] ^ e->q[3]) & e->qm[3]);
	return e->qlen && !d;
}

/*
 * The entry of the name p[0..n) (plain: it was a string without
 * escapes); a new one when it has none and there is room, else NO_ENT.
 */
static uint8_t names_find(struct item_names *t, const uint8_t *p, size_t n, bool plain)
{
	uint64_t pfx = name_prefix(p, n);
	unsigned h = (unsigned)(((pfx ^ n) * 0x9e3779b97f4a7c15ULL) >> 57), i;
	struct name_ent *e;

	for (; t->slot[h]; h = (h + 1) % NAMES_SLOTS) {
		e = &t->e[t->slot[h] - 1];
		if (e->pfx == pfx && e->n == n && memcmp(e->name, p, n) == 0)
			return (uint8_t)(t->slot[h] - 1);
	}
	if (t->count == NAMES_MAX)
		return NO_ENT;
	e = &t->e[t->count];
	memset(e, 0, sizeof(*e));
	e->name = malloc(n + 1);
	if (!e->name)
		return NO_ENT;
	memcpy(e->name, p, n);
	e->name[n] = 0;
	e->n = n;
	e->pfx = pfx;
	e->next = NO_ENT;
	e->role = ROLE_UNSET;
	if (plain && n + 2 <= NAME_TEXT) {
		uint8_t *q = (uint8_t *)e->q;

		q[0] = '"';
		memcpy(q + 1, p, n);
		q[n + 1] = '"';
		memset(e->qm, 0xff, n + 2);
		e->qlen = (uint8_t)(n + 2);
	}
	for (i = 0; i < t->count; i++) {
		if (item_name_cmp(t->e[i].name, t->e[i].n, p, n) < 0)
			e->rank++;
		else
			t->e[i].rank++;
	}
	t->slot[h] = (uint8_t)(t->count + 1);
	return (uint8_t)t->count++;
}

/* A name the text matched with entry e (name_at), and the ':' after it,
 * written at the output's end. */
static int sv_known_name(struct sp *s, const struct name_ent *e, size_t *off, size_t *n)
{
	struct item_stored *st = s->st;

	if (out_reserve(st, NAME_TEXT) < 0)
		return -ENOMEM;
	st->blob[st->blob_len] = (uint8_t)e->n; /* < NAME_TEXT: one byte */
	memcpy(st->blob + st->blob_len + 1, (const uint8_t *)e->q + 1, NAME_TEXT - 1);
	*off = st->blob_len + 1;
	*n = e->n;
	st->blob_len += 1 + e->n;
	s->ps.p += e->qlen;
	return sv_colon(s);
}

/* A top-level member's bytes in the output (name and value), for the sort. */
struct member {
	uint64_t pfx;	   /* the name's first 8 bytes, big-endian, zero-padded */
	size_t start, end; /* [start, end) in st->blob */
	size_t off, n;	   /* its name's bytes */
	uint8_t ent;	   /* its entry in st->names, or NO_ENT */
};

/* val_name_cmp of two members' names (<0, 0, >0): the ranks of their
 * entries, else the prefixes first. */
static inline int member_cmp(const struct item_stored *st, const struct member *a,
			     const struct member *b)
{
	if (a->ent != NO_ENT && b->ent != NO_ENT)
		return (int)st->names->e[a->ent].rank - (int)st->names->e[b->ent].rank;
	if (a->pfx != b->pfx)
		return a->pfx < b->pfx ? -1 : 1;
	return item_name_cmp(st->blob + a->off, a->n, st->blob + b->off, b->n);
}

/* Capture index of a top-level name, or -1. */
static int cap_index(const struct item_stored *st, const uint8_t *name, size_t n)
{
	size_t i;

	for (i = 0; i < st->ncap; i++)
		if (st->cap_len[i] == n && memcmp(st->cap_names[i], name, n) == 0)
			return (int)i;
	return -1;
}

/* The role of the top-level name[0..n): a key's, a capture's or none
 * (the keys first: an index may use a key attribute too). */
static int role_of(const struct item_stored *st, const char *pk, const char *sk,
		   const uint8_t *name, size_t n)
{
	int c;

	if (strlen(pk) == n && memcmp(name, pk, n) == 0)
		return ROLE_PK;
	if (sk && strlen(sk) == n && memcmp(name, sk, n) == 0)
		return ROLE_SK;
	c = cap_index(st, name, n);
	return c < 0 ? ROLE_NONE : c;
}

/* Are the entries' roles those of these key and captured names? */
static bool roles_same(const struct item_names *t, const struct item_stored *st, const char *pk,
		       const char *sk)
{
	size_t i;

	if (!t->rbuf || t->ncap != st->ncap || !t->sk != !sk || strcmp(t->pk, pk) ||
	    (sk && strcmp(t->sk, sk)))
		return false;
	for (i = 0; i < st->ncap; i++)
		if (strcmp(t->cap[i], st->cap_names[i]))
			return false;
	return true;
}

/* Work the roles out for these key and captured names (and st->cap_len). */
static int roles_set(struct item_names *t, struct item_stored *st, const char *pk,
		     const char *sk)
{
	size_t i, len = strlen(pk) + 1 + (sk ? strlen(sk) + 1 : 0);
	char *b;

	for (i = 0; i < st->ncap; i++) {
		st->cap_len[i] = strlen(st->cap_names[i]);
		len += st->cap_len[i] + 1;
	}
	free(t->rbuf);
	t->rbuf = b = malloc(len);
	if (!b)
		return -ENOMEM;
	t->pk = strcpy(b, pk);
	b += strlen(pk) + 1;
	t->sk = NULL;
	if (sk) {
		t->sk = strcpy(b, sk);
		b += strlen(sk) + 1;
	}
	for (i = 0; i < st->ncap; i++) {
		t->cap[i] = memcpy(b, st->cap_names[i], st->cap_len[i] + 1);
		b += st->cap_len[i] + 1;
	}
	t->ncap = st->ncap;
	for (i = 0; i < t->count; i++)
		t->e[i].role = (int8_t)role_of(st, pk, sk, (const uint8_t *)t->e[i].name, t->e[i].n);
	return 0;
}

/* A captured value (cursor at it): S or a bare number, else declines. */
static int sv_capture(struct sp *s, int i, size_t *size)
{
	struct item_stored *st = s->st;
	struct val *v = &st->cap[i];
	size_t off, n;
	bool esc;
	char *b;
	int rc;

	if (v->type != VAL_NULL)
		return DECLINE; /* a duplicate name: item_parse decides */
	if (s->ps.p < s->ps.end && (*s->ps.p == '-' || is_digit(*s->ps.p))) {
		rc = sv_number(s, &v->n);
		if (rc)
			return rc;
		v->type = VAL_N;
		*size = item_num_size(&v->n);
		rc = out_byte(st, VAL_N);
		return rc ? rc : ist_num(st, &v->n);
	}
	if (s->ps.p >= s->ps.end || *s->ps.p != '"')
		return DECLINE; /* other types: item_parse's tree, idx_key's messages */
	rc = out_byte(st, VAL_S);
	if (rc == 0)
		rc = ist_string(s, &off, &n, &esc);
	if (rc)
		return rc;
	if (st->ccap[i] < n + 1) {
		b = realloc(st->cb[i], n + 1);
		if (!b)
			return -ENOMEM;
		st->cb[i] = b;
		st->ccap[i] = n + 1;
	}
	memcpy(st->cb[i], st->blob + off, n);
	st->cb[i][n] = 0;
	v->type = VAL_S;
	v->s.p = st->cb[i];
	v->s.len = n;
	*size = n;
	return 0;
}

/*
 * Put the top-level members m[0..count) (in text order, after the map's
 * header at base) in name order, as item_parse's map holds them: by the
 * ranks of their entries when all have one, else by an insertion sort.
 * Equal names decline (item_parse reports or merges them, its rule).
 */
static int sort_members(struct item_stored *st, const struct member *m, size_t count,
			bool ranked, size_t base)
{
	uint8_t order[NAMES_MAX], by_rank[NAMES_MAX], x;
	uint64_t bits = 0;
	size_t i, j, at;
	unsigned r;

	if (ranked) {
		for (i = 0; i < count; i++) {
			r = st->names->e[m[i].ent].rank;
			if (bits >> r & 1)
				return DECLINE;
			bits |= (uint64_t)1 << r;
			by_rank[r] = (uint8_t)i;
		}
		for (i = 0; bits; bits &= bits - 1)
			order[i++] = by_rank[__builtin_ctzll(bits)];
	} else {
		for (i = 0; i < count; i++) {
			x = (uint8_t)i;
			for (j = i; j > 0 && member_cmp(st, &m[order[j - 1]], &m[x]) > 0; j--)
				order[j] = order[j - 1];
			order[j] = x;
		}
		for (i = 1; i < count; i++)
			if (member_cmp(st, &m[order[i - 1]], &m[order[i]]) == 0)
				return DECLINE;
	}
	/* in order after the output's end, then moved down over the members;
	 * a member is copied in pieces of 16 bytes, the last one past its end
	 * (the next member's copy overwrites that; 16 bytes of room more) */
	if (out_reserve(st, st->blob_len - base + 16) < 0)
		return -ENOMEM;
	for (i = 0, at = st->blob_len; i < count; i++) {
		const struct member *e = &m[order[i]];
		const uint8_t *from = st->blob + e->start;
		size_t len = e->end - e->start;

		if (len > 64 || e->end + 16 > st->blob_len) {
			memcpy(st->blob + at, from, len); /* long, or nothing past it */
		} else {
			for (j = 0; j < len; j += 16)
				memcpy(st->blob + at + j, from + j, 16);
		}
		at += len;
	}
	memcpy(st->blob + base, st->blob + st->blob_len, st->blob_len - base);
	return 0;
}

#define SORT_MAX 64 /* top-level members put in order; more must come in order */
_Static_assert(SORT_MAX <= NAMES_MAX, "sort_members' arrays");

int item_parse_stored(const char *text, size_t len, const char *pk_name, const char *sk_name,
		      struct item_stored *st)
{
	struct sp s; /* not zeroed whole: the lexer's slot array is unused */
	struct member m[SORT_MAX], spill[2], *cur, *prev = NULL;
	size_t pos, off = 0, n = 0, mark, count = 0, vsize, total = 0, i;
	bool have_pk = false, have_sk = false, any = false, sorted = true, ranked = true, is_m;
	struct item_names *t;
	uint8_t ent = NO_ENT, want, last;
	int rc, role;

	if (!st->names && !(st->names = names_new()))
		return -ENOMEM;
	t = st->names;
	if (!roles_same(t, st, pk_name, sk_name) && roles_set(t, st, pk_name, sk_name) < 0)
		return -ENOMEM;
	s.st = st;
	s.ps.text = s.ps.p = text;
	s.ps.end = text + len;
	s.ps.err = NULL;
	s.ps.arena = NULL;
	s.ps.npath = 0;
	st->blob_len = 0;
	val_init_null(&st->pk);
	val_init_null(&st->sk);
	for (i = 0; i < st->ncap; i++)
		val_init_null(&st->cap[i]);
	s.ps.p = skip_ws(s.ps.p, s.ps.end);
	/* a byte-order mark (item_parse skips it) is left to item_parse */
	if (s.ps.p >= s.ps.end || *s.ps.p != '{')
		return DECLINE;
	if (out_reserve(st, 2) < 0)
		return -ENOMEM;
	st->blob[st->blob_len++] = VAL_M;
	pos = st->blob_len++;
	s.ps.p = skip_ws(s.ps.p + 1, s.ps.end);
	s.depth = 1;
	want = t->first;
	for (;;) {
		mark = st->blob_len;
		if (want != NO_ENT && name_at(&t->e[want], s.ps.p, s.ps.end)) {
			ent = want;
			rc = sv_known_name(&s, &t->e[ent], &off, &n);
		} else {
			bool esc;

			last = ent;
			rc = ist_name(&s, &off, &n, &esc);
			if (rc)
				return rc;
			ent = names_find(t, st->blob + off, n, !esc);
			if (ent != NO_ENT && t->e[ent].role == ROLE_UNSET)
				t->e[ent].role =
				    (int8_t)role_of(st, pk_name, sk_name, st->blob + off, n);
			if (!any)
				t->first = ent;
			else if (last != NO_ENT)
				t->e[last].next = ent; /* expected after it next time */
		}
		if (rc)
			return rc;
		if (!any && ist_tag_type(st->blob + off, n, &is_m) != VAL_NULL)
			return DECLINE; /* possibly a tagged value at the top */
		any = true;
		role = ent != NO_ENT ? t->e[ent].role : role_of(st, pk_name, sk_name, st->blob + off, n);
		if (role == ROLE_PK) {
			st->blob_len = mark;
			if (have_pk)
				return DECLINE;
			have_pk = true;
			rc = sv_key(&s, 0, &st->pk, &vsize);
		} else if (role == ROLE_SK) {
			st->blob_len = mark;
			if (have_sk)
				return DECLINE;
			have_sk = true;
			rc = sv_key(&s, 1, &st->sk, &vsize);
		} else {
			/* more than SORT_MAX members are not kept: in order, they
			 * need no sort, and the last two are enough */
			cur = count < SORT_MAX ? &m[count] : &spill[count & 1];
			cur->pfx = ent != NO_ENT ? t->e[ent].pfx : name_prefix(st->blob + off, n);
			cur->start = mark;
			cur->off = off;
			cur->n = n;
			cur->ent = ent;
			ranked = ranked && ent != NO_ENT;
			if (prev && sorted && member_cmp(st, prev, cur) >= 0)
				sorted = false; /* put in order at the end (or declined) */
			if (!sorted && count >= SORT_MAX)
				return DECLINE;
			rc = role < 0 ? ist_value(&s, &vsize) : sv_capture(&s, role, &vsize);
			cur->end = st->blob_len;
			prev = cur;
			count++;
		}
		if (rc)
			return rc;
		total += n + vsize;
		want = ent != NO_ENT ? t->e[ent].next : NO_ENT;
		rc = next_member(&s, '}');
		if (rc == 0)
			break;
		if (rc < 0)
			return rc == -DECLINE ? DECLINE : rc;
	}
	if (skip_ws(s.ps.p, s.ps.end) != s.ps.end || !have_pk || (sk_name && !have_sk) ||
	    total > ITEM_MAX_SIZE)
		return DECLINE;
	if (!sorted) {
		rc = sort_members(st, m, count, ranked, pos + 1);
		if (rc)
			return rc;
	}
	st->size = total;
	return ist_fix_count(st, pos, count);
}
