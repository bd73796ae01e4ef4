/*
 * discard.c - scratch files are never lost without a word (SPEC §5).
 *
 * Scratch files live in memory only.  A user who saves notes.txt into a
 * table, or x.json into a directory where items cannot be, must learn
 * that it is not stored: _stats.json lists the non-empty scratch files
 * of its table now ("scratch_files", "scratch": paths relative to the
 * table, at most SCRATCH_LIST of them), and at unmount every directory
 * that still holds some gets one line on stderr (or syslog) and in
 * /_errors: "/users: 2 scratch files not stored, discarded at unmount:
 * notes.txt, p/draft.txt".  Empty files (editor lock and probe files)
 * and directories are not worth a word.
 *
 * The walks hold ilock (scratch data and children are "ilock" fields)
 * and never call the engine.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

#define SCRATCH_LIST 100     /* names listed in _stats.json */
#define SCRATCH_LINE_NAMES 20 /* names listed in an unmount line */
#define SCRATCH_DEPTH 16     /* scratch directories walked into */

struct dcount {
	size_t files;	/* non-empty scratch files */
	size_t listed;	/* names in buf */
	size_t max;	/* names to list */
	bool json;	/* buf is a JSON array body, else "a, b" */
	char *buf;	/* the names (owned) */
	size_t len;	/* used */
	size_t cap;	/* allocated */
};

static void put(struct dcount *c, const char *s, size_t n)
{
	char *p;

	if (c->len + n + 1 > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 256;

		while (ncap < c->len + n + 1)
			ncap *= 2;
		p = realloc(c->buf, ncap);
		if (!p)
			return;
		c->buf = p;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, s, n);
	c->len += n;
	c->buf[c->len] = 0;
}

/* One name, JSON-escaped if c->json (bytes that are not UTF-8: '?'). */
static void put_name(struct dcount *c, const char *prefix, const char *name)
{
	char full[2 * NAME_BUF + 8], esc[8];
	size_t i, n;

	snprintf(full, sizeof(full), "%s%s", prefix, name);
	n = strlen(full);
	if (c->listed)
		put(c, ", ", 2);
	if (!c->json) {
		put(c, full, n);
		return;
	}
	if (!val_utf8_valid(full, n))
		for (i = 0; i < n; i++)
			if ((unsigned char)full[i] >= 0x80)
				full[i] = '?';
	put(c, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)full[i];

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			put(c, esc, 2);
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", ch);
			put(c, esc, 6);
		} else {
			put(c, full + i, 1);
		}
	}
	put(c, "\"", 1);
}

/* Count (and list) the non-empty scratch files under dir (ilock held). */
static void walk_locked(struct node *dir, const char *prefix, struct dcount *c, int depth)
{
	char sub[2 * NAME_BUF + 8];
	size_t i;

	for (i = 0; i < dir->kids.n; i++) {
		struct node *k = dir->kids.v[i].node;

		if (k->kind != NK_SCRATCH || !k->scr)
			continue;
		if (S_ISDIR(k->scr->mode) && depth < SCRATCH_DEPTH) {
			snprintf(sub, sizeof(sub), "%s%s/", prefix, dir->kids.v[i].name);
			walk_locked(k, sub, c, depth + 1);
		} else if (S_ISREG(k->scr->mode) && k->scr->len) {
			c->files++;
			if (c->listed < c->max) {
				put_name(c, prefix, dir->kids.v[i].name);
				c->listed++;
			}
		}
	}
}

/* Table and partition nodes (of table tid, or of any table if 0) that have
 * scratch children, each with a reference (new array). */
static size_t dirs_with_kids(struct fsx *fs, uint64_t tid, struct node ***out)
{
	struct node **v = NULL, **nv, *n;
	size_t i, cnt = 0, cap = 0;

	pthread_mutex_lock(&fs->ilock);
	for (i = 0; i < fs->ino_cap; i++) {
		for (n = fs->ino_tab[i]; n; n = n->ino_next) {
			if ((n->kind != NK_TABLE && n->kind != NK_PART) || !n->kids.n ||
			    (tid && n->tid != tid))
				continue;
			if (cnt == cap) {
				cap = cap ? 2 * cap : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					goto out;
				v = nv;
			}
			n->refs++;
			v[cnt++] = n;
		}
	}
out:
	pthread_mutex_unlock(&fs->ilock);
	*out = v;
	return cnt;
}

void scratch_discard_report(struct fsx *fs)
{
	char path[3 * NAME_BUF + 16];
	struct node **dirs;
	size_t i, nd = dirs_with_kids(fs, 0, &dirs);

	for (i = 0; i < nd; i++) {
		struct dcount c = {.max = SCRATCH_LINE_NAMES};

		node_path(fs, dirs[i], path, sizeof(path));
		pthread_mutex_lock(&fs->ilock);
		walk_locked(dirs[i], "", &c, 0);
		pthread_mutex_unlock(&fs->ilock);
		if (c.files)
			errlog_add(fs, path,
				   "%zu scratch file%s not stored, discarded at unmount: %s%s",
				   c.files, c.files == 1 ? "" : "s", c.buf ? c.buf : "",
				   c.files > c.listed ? ", ..." : "");
		free(c.buf);
		node_put(fs, dirs[i]);
	}
	free(dirs);
}

int scratch_stats_json(struct fsx *fs, be_table_t *t, char **out, size_t *len)
{
	struct dcount c = {.max = SCRATCH_LIST, .json = true};
	char name[NAME_BUF], prefix[NAME_BUF + 2], *s;
	struct node **dirs;
	size_t i, nd = dirs_with_kids(fs, be_table_id(t), &dirs);
	int n;

	for (i = 0; i < nd; i++) {
		prefix[0] = 0;
		if (dirs[i]->kind == NK_PART && name_make(&dirs[i]->pk, false, name) >= 0)
			snprintf(prefix, sizeof(prefix), "%s/", name);
		pthread_mutex_lock(&fs->ilock);
		walk_locked(dirs[i], prefix, &c, 0);
		pthread_mutex_unlock(&fs->ilock);
		node_put(fs, dirs[i]);
	}
	free(dirs);
	n = asprintf(&s, ",\n  \"scratch_files\": %zu,\n  \"scratch\": [%s],\n  \"nodes\": %zu",
		     c.files, c.buf ? c.buf : "", nodes_count(fs));
	free(c.buf);
	if (n < 0)
		return -ENOMEM;
	*out = s;
	*len = (size_t)n;
	return 0;
}

/* Append the API's counts of t, if the API runs and has any, to *extra. */
static int api_stats_json(struct fsx *fs, be_table_t *t, char **extra, size_t *el)
{
	int (*fn)(void *, const char *, char **) = __atomic_load_n(&fs->api_stats, __ATOMIC_ACQUIRE);
	char *api, *p;
	size_t n;

	if (!fn)
		return 0;
	if (fn(fs->api_ctx, be_table_name(t), &api) < 0) {
		free(*extra);
		return -ENOMEM;
	}
	if (!api)
		return 0;
	n = strlen(api);
	p = realloc(*extra, *el + n + 1);
	if (!p) {
		free(api);
		free(*extra);
		return -ENOMEM;
	}
	memcpy(p + *el, api, n + 1);
	*extra = p;
	*el += n;
	free(api);
	return 0;
}

int stats_text_fs(struct fsx *fs, be_table_t *t, char **out, size_t *len)
{
	char *base, *extra, *p;
	size_t bl, el;
	int rc = stats_text(t, &base, &bl);

	if (rc < 0)
		return rc;
	rc = scratch_stats_json(fs, t, &extra, &el);
	if (rc == 0)
		rc = api_stats_json(fs, t, &extra, &el);
	if (rc < 0 || bl < 3 || memcmp(base + bl - 3, "\n}\n", 3)) {
		free(base);
		if (rc == 0)
			free(extra);
		return rc < 0 ? rc : -EIO;
	}
	/* base ends in "\n}\n": the extra members go before it */
	p = malloc(bl + el + 1);
	if (!p) {
		free(base);
		free(extra);
		return -ENOMEM;
	}
	memcpy(p, base, bl - 3);
	memcpy(p + bl - 3, extra, el);
	memcpy(p + bl - 3 + el, "\n}\n", 4);
	*out = p;
	*len = bl + el;
	free(base);
	free(extra);
	return 0;
}
