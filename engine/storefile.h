/*
 * storefile.h - opening the files of a store directory safely.
 *
 * Every store file (snapshot.json, journal, lock, their temporaries, the
 * set-aside torn tails) is opened with O_NOFOLLOW: a symlink planted in
 * the store directory is refused, never followed.  A file that is a
 * directory, not a regular file, or (for a read-write open) not owned by
 * the user opening the store is refused with a message that says so.
 * Temporaries are created with O_CREAT|O_EXCL|O_NOFOLLOW after removing
 * any leftover of the same name (unlink removes a symlink, not its
 * target).  Everything dynfs creates in a store is mode 0600, and a
 * store directory it creates is 0700, as with PostgreSQL's data
 * directory: a database is private to the user who runs it.
 */
#ifndef DYNFS_STOREFILE_H
#define DYNFS_STOREFILE_H

#include <stdbool.h>

#include "err.h"

#define STF_FILE_MODE 0600 /* store files */
#define STF_DIR_MODE 0700  /* store directories dynfs creates */

/*
 * Open an existing store file (flags: O_RDONLY, O_WRONLY or O_RDWR; O_NOFOLLOW
 * and O_CLOEXEC are added) and check it: a regular file, and with
 * check_owner owned by geteuid().  Returns the fd, or -errno with err
 * naming the file (what is "journal", "snapshot", ...): -ENOENT (err not
 * set), -ELOOP a symlink, -EISDIR a directory, -EINVAL not a regular file,
 * -EPERM owned by someone else.
 */
int stf_open(const char *path, const char *what, int flags, bool check_owner,
	     struct dyn_err *err);

/*
 * Create a fresh temporary at path (O_RDWR, mode 0600) with O_EXCL|O_NOFOLLOW,
 * after unlinking any leftover of that name.  Returns the fd or -errno.
 */
int stf_create(const char *path);

/* fsync the directory dir.  0 or -errno. */
int stf_sync_dir(const char *dir);

/*
 * Check the store directory itself for a read-write open: owned by
 * geteuid().  0, or -EPERM with err set.
 */
int stf_check_dir(const char *dir, struct dyn_err *err);

#endif
