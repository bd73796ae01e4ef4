/* tornfs MNT: one file "f" whose GETATTR answers alternate (size 100,
 * mtime 1000) and (size 200, mtime 2000), cached for a day.  With
 * processes forcing GETATTRs (statx AT_STATX_FORCE_SYNC), a plain stat
 * served from the cache that pairs one size with the other mtime saw
 * an attribute update half applied. */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static unsigned long calls;

static void fill(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == 1) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	int odd = __atomic_fetch_add(&calls, 1, __ATOMIC_SEQ_CST) & 1;
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = odd ? 200 : 100;
	st->st_mtim.tv_sec = odd ? 2000 : 1000;
}

static void t_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	if (parent != 1 || strcmp(name, "f")) { fuse_reply_err(req, ENOENT); return; }
	memset(&e, 0, sizeof(e));
	e.ino = 2;
	e.attr_timeout = e.entry_timeout = 86400;
	fill(2, &e.attr);
	fuse_reply_entry(req, &e);
}

static void t_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	fill(ino, &st);
	fuse_reply_attr(req, &st, 86400);
}

static const struct fuse_lowlevel_ops ops = {.lookup = t_lookup, .getattr = t_getattr};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_session *se;
	struct fuse_loop_config *cfg;
	int rc;

	fuse_opt_add_arg(&args, argv[0]);
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_session_mount(se, argv[1]))
		return 1;
	cfg = fuse_loop_cfg_create();
	rc = fuse_session_loop_mt(se, cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc;
}
