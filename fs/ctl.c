/*
 * ctl.c - what /<table>/_batch and /_tx descriptors have in common
 * (ctl.h): dispatch to the class, locking, and serving the outcome text
 * relative to the offset of the read that produced it.
 */
#include "ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

int ctl_open(struct fsx *fs, struct node *n, const struct ctl_class *cls, int flags,
	     struct ctl **out)
{
	struct ctl *c;
	int rc;

	if ((flags & O_ACCMODE) != O_RDONLY && fs->readonly)
		return -EROFS;
	c = calloc(1, cls->size);
	if (!c)
		return -ENOMEM;
	c->cls = cls;
	c->fs = fs;
	c->node = n;
	c->writer = (flags & O_ACCMODE) != O_RDONLY;
	pthread_mutex_init(&c->lock, NULL);
	rc = cls->open(c, flags);
	if (rc < 0) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int ctl_write(struct ctl *c, const char *buf, size_t size, off_t off)
{
	int rc;

	if (!c->writer)
		return -EBADF;
	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = c->cls->write(c, buf, size, off);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int ctl_read(struct ctl *c, size_t size, off_t off, char **out, size_t *len)
{
	size_t pos;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	if (!c->out || off != c->rd_next) {
		if (c->writer)
			c->cls->commit(c, CTL_READ); /* its outcome says how it went */
		free(c->out);
		c->out = NULL;
		rc = c->cls->outcome(c, &c->out, &c->out_len);
		if (rc < 0)
			goto out;
		c->rd_base = c->rd_next = off;
	}
	pos = (size_t)(off - c->rd_base);
	if (pos < c->out_len) {
		*len = size < c->out_len - pos ? size : c->out_len - pos;
		*out = malloc(*len);
		if (!*out) {
			*len = 0;
			rc = -ENOMEM;
			goto out;
		}
		memcpy(*out, c->out + pos, *len);
	}
	c->rd_next = off + (off_t)*len;
out:
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int ctl_commit(struct ctl *c, enum ctl_when when)
{
	int rc;

	if (!c->writer)
		return 0;
	pthread_mutex_lock(&c->lock);
	rc = c->cls->commit(c, when);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int ctl_flush(struct ctl *c)
{
	return ctl_commit(c, CTL_FLUSH);
}

int ctl_fsync(struct ctl *c)
{
	return ctl_commit(c, CTL_FSYNC);
}

int ctl_truncate(struct ctl *c, off_t size)
{
	int rc;

	if (!c->writer)
		return -EBADF;
	if (size < 0)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	rc = c->cls->truncate(c, size);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void ctl_release(struct ctl *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->writer)
		c->cls->commit(c, CTL_RELEASE);
	pthread_mutex_unlock(&c->lock);
	c->cls->free(c);
	free(c->out);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void ctl_attr(struct fsx *fs, struct node *n, int64_t mtime_ns, struct stat *st)
{
	st->st_mode = S_IFREG | 0644;
	st->st_size = 0;
	st->st_mtim.tv_sec = (time_t)(mtime_ns / 1000000000);
	st->st_mtim.tv_nsec = (long)(mtime_ns % 1000000000);
	st->st_ctim = st->st_atim = st->st_mtim;
}
