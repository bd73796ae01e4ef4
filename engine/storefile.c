/*
 * storefile.c - safe opens of store files (rules in storefile.h).
 */
#include "storefile.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_stat(const struct stat *sb, const char *path, const char *what,
		      bool check_owner, struct dyn_err *err)
{
	if (S_ISDIR(sb->st_mode))
		return err_set(err, EISDIR,
			       "%s %s is a directory, not a file; move it away (the store "
			       "cannot be opened while it is there)",
			       what, path);
	if (!S_ISREG(sb->st_mode))
		return err_set(err, EINVAL, "%s %s is not a regular file; refusing to use it",
			       what, path);
	if (check_owner && sb->st_uid != geteuid())
		return err_set(err, EPERM,
			       "%s %s is owned by uid %u, not by the user opening the store "
			       "(uid %u); refusing to use it (chown it if it is yours)",
			       what, path, (unsigned)sb->st_uid, (unsigned)geteuid());
	return 0;
}

int stf_open(const char *path, const char *what, int flags, bool check_owner,
	     struct dyn_err *err)
{
	struct stat sb;
	int fd, rc;

	fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		rc = errno;
		if (rc == ENOENT)
			return -ENOENT;
		if (rc == ELOOP)
			return err_set(err, ELOOP,
				       "%s %s is a symbolic link; store files must be regular "
				       "files in the store directory, refusing to follow it",
				       what, path);
		if (rc == EISDIR)
			return err_set(err, EISDIR,
				       "%s %s is a directory, not a file; move it away (the store "
				       "cannot be opened while it is there)",
				       what, path);
		return err_set(err, rc, "%s %s: %s", what, path, strerror(rc));
	}
	if (fstat(fd, &sb) < 0) {
		rc = err_set(err, errno, "%s %s: %s", what, path, strerror(errno));
		close(fd);
		return rc;
	}
	rc = check_stat(&sb, path, what, check_owner, err);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int stf_create(const char *path)
{
	int fd;

	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, STF_FILE_MODE);
	return fd < 0 ? -errno : fd;
}

int stf_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		rc = -errno;
	close(fd);
	return rc;
}

int stf_check_dir(const char *dir, struct dyn_err *err)
{
	struct stat sb;

	if (stat(dir, &sb) < 0)
		return err_set(err, errno, "store %s: %s", dir, strerror(errno));
	if (sb.st_uid != geteuid())
		return err_set(err, EPERM,
			       "store %s is owned by uid %u, not by the user opening it (uid %u); "
			       "refusing to open it read-write",
			       dir, (unsigned)sb.st_uid, (unsigned)geteuid());
	return 0;
}
