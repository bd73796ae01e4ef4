/*
 * main.c - `dynfs [options] STORE MOUNTPOINT`: options, startup, the
 * FUSE operations table, shutdown.
 *
 * Startup checks everything a user can get wrong before touching the
 * kernel (store directory, mount point missing / not a directory / not
 * empty / a stale mount, /dev/fuse) and says what to do about it.  In the
 * background mode dynfs forks first and opens the store in the child (a
 * store's lock and threads do not survive fork()); the parent waits on a
 * pipe until the child has mounted, and prints the child's error if it
 * could not, so a failed mount never looks like a successful one.
 *
 * Threads: the FUSE loop's workers (fuse_session_loop_mt), the
 * invalidation thread (inval.c), the thread that answers parked
 * _changes reads (changes.c), the TTL sweeper (engine/ttl.h; not on
 * -o ro), and one thread that waits for SIGUSR1 and writes a snapshot
 * (be_snapshot: store_snapshot locally, which is not async-signal-safe,
 * so the signal is taken synchronously with sigwait; it is blocked
 * everywhere else).  What is mounted is reached through the backend face
 * (backend/backend.h): open_source() makes a local store's backend, or
 * (open_remote) a remote service's.  Everything per mount lives in one struct fsx, reached through
 * fuse_req_userdata() (fsx_of), never through a global.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "../api/api.h"
#include "../engine/session.h"
#include "../remote/rbe.h"
#include "changes.h"
#include "cli.h"
#include "fh.h"
#include "ops.h"

#ifndef DYNFS_VERSION
#define DYNFS_VERSION "0.1.0"
#endif

static const struct fuse_lowlevel_ops dynfs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.access = op_access,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.create = op_create,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.poll = op_poll,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.fsyncdir = op_fsyncdir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
};

/* ---- options ---- */

struct opts {
	char *store;	  /* first non-option argument */
	char *mountpoint; /* second */
	char *fsync;	  /* -o fsync=always|batch|off */
	char *api;	  /* -o api=HOST:PORT: serve DynamoDB's API too */
	char *api_auth;	  /* -o api_auth=FILE: SigV4 keys for the API */
	int foreground;	  /* -f (or -d) */
	int debug;	  /* -d */
	int single;	  /* -s */
	int readonly;	  /* -o ro */
	int multiuser;	  /* -o allow_other, allow_root or default_permissions:
			     the kernel checks permissions (perm.c) */
	int noxattr;	  /* 1 (default, -o noxattr) or 0 (-o xattr) */
	char *scratch_max; /* -o scratch_max=SIZE */
	int help;	  /* -h, --help */
	int version;	  /* -V, --version */
	int extra;	  /* a third non-option argument */
	char *ropts[32];  /* remote mounts' -o options (rbe_parse_option), in order */
	int nropts;	  /* entries */
};

/* -o options of a remote mount (SPEC §10); FUSE must not see them. */
static bool remote_option(const char *arg)
{
	static const char *const names[] = {"region", "profile", "tables", "cache", "max_list",
					    "allow_schema_changes", "allow_table_create",
					    "allow_table_delete"};
	size_t n = strcspn(arg, "=");

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && !strncmp(arg, names[i], n))
			return true;
	return false;
}

/* Flags (options without '=') a word after tables= may be: dynfs's own,
 * and libfuse's and the kernel's mount flags. */
static bool option_flag(const char *w, size_t n)
{
	static const char *const flags[] = {
		"ro", "rw", "debug", "xattr", "noxattr", "allow_schema_changes",
		"allow_table_create", "allow_table_delete", "allow_other", "allow_root",
		"auto_unmount", "default_permissions", "blkdev", "nonempty", "clone_fd", "dev",
		"nodev", "suid", "nosuid", "exec", "noexec", "sync", "async", "dirsync", "atime",
		"noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime",
		"nostrictatime", "lazytime", "nolazytime"};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (strlen(flags[i]) == n && !strncmp(w, flags[i], n))
			return true;
	return false;
}

/*
 * SPEC §10 writes `-o region=R,tables=a,b,cache=1,ro`: the table names
 * after tables= are separated by the same commas as the options.  An
 * option string with the words after a tables= item joined by ':' (the
 * form rbe_parse_option takes; no table name has one) up to the next
 * option: a word with '=' or a known flag (option_flag).  A table named
 * like a flag is written tables=a:ro.  NULL: nothing to join
 * (or no memory: the string goes to libfuse as it was and fails there).
 */
static char *join_tables(const char *opts)
{
	char *out = strdup(opts), *w, *end;
	bool in_tables = false, joined = false;

	if (!out)
		return NULL;
	for (w = out; *w; w = end + 1) {
		end = w;
		while (*end && *end != ',')
			end += *end == '\\' && end[1] ? 2 : 1;
		if (in_tables && w > out && !memchr(w, '=', (size_t)(end - w)) &&
		    !option_flag(w, (size_t)(end - w))) {
			w[-1] = ':';
			joined = true;
		} else {
			in_tables = !strncmp(w, "tables=", 7);
		}
		if (!*end)
			break;
	}
	if (!joined) {
		free(out);
		return NULL;
	}
	return out;
}

/* argv with join_tables applied to every -o option string; the strings it
 * made are listed in made (free both after fuse_opt_parse copied them). */
static char **argv_join_tables(int argc, char **argv, char **made, int *nmade)
{
	char **av = calloc((size_t)argc + 1, sizeof(*av)), *j;

	if (!av)
		return NULL;
	*nmade = 0;
	for (int i = 0; i < argc; i++) {
		av[i] = argv[i];
		if (i > 0 && !strcmp(argv[i - 1], "-o") && (j = join_tables(argv[i])))
			av[i] = made[(*nmade)++] = j;
		else if (!strncmp(argv[i], "-o", 2) && argv[i][2] && (j = join_tables(argv[i] + 2))) {
			char *full;

			if (asprintf(&full, "-o%s", j) >= 0)
				av[i] = made[(*nmade)++] = full;
			free(j);
		}
	}
	return av;
}

enum { KEY_HELP, KEY_VERSION, KEY_FG, KEY_DEBUG, KEY_SINGLE, KEY_RO };

static const struct fuse_opt opt_spec[] = {
	{"fsync=%s", offsetof(struct opts, fsync), 0},
	{"api=%s", offsetof(struct opts, api), 0},
	{"api_auth=%s", offsetof(struct opts, api_auth), 0},
	{"noxattr", offsetof(struct opts, noxattr), 1},
	{"xattr", offsetof(struct opts, noxattr), 0},
	{"scratch_max=%s", offsetof(struct opts, scratch_max), 0},
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FG),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-s", KEY_SINGLE),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_END,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (!o->store)
			o->store = strdup(arg);
		else if (!o->mountpoint)
			o->mountpoint = strdup(arg);
		else
			o->extra = 1;
		return 0;
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case KEY_FG:
		o->foreground = 1;
		return 0;
	case KEY_DEBUG:
		o->debug = o->foreground = 1;
		return 1; /* libfuse prints the requests too */
	case KEY_SINGLE:
		o->single = 1;
		return 0;
	case KEY_RO:
		o->readonly = 1;
		return 1; /* also a kernel mount flag */
	default:
		if (!strcmp(arg, "allow_other") || !strcmp(arg, "allow_root") ||
		    !strcmp(arg, "default_permissions"))
			o->multiuser = 1; /* and libfuse's (below) */
		if (remote_option(arg)) {
			if (o->nropts == (int)(sizeof(o->ropts) / sizeof(o->ropts[0])) ||
			    !(o->ropts[o->nropts] = strdup(arg)))
				return -1;
			o->nropts++;
			return 0;
		}
		return 1; /* allow_other and friends: libfuse's */
	}
}

static void usage(FILE *f)
{
	fputs("usage: dynfs [options] STORE MOUNTPOINT\n"
	      "       dynfs [options] http://HOST:PORT|https://HOST|dynamodb://REGION MOUNTPOINT\n"
	      "       dynfs serve STORE [--listen HOST:PORT] [--auth FILE]\n"
	      "       dynfs import|export ...   (see dynfs import --help)\n", f);
}

static void help(void)
{
	usage(stdout);
	fputs("\n"
	      "Mount the database in directory STORE (created empty if the directory has\n"
	      "no store yet) at MOUNTPOINT, an empty directory.  Unmount with\n"
	      "`fusermount3 -u MOUNTPOINT`.  Or mount a DynamoDB-API service: AWS\n"
	      "DynamoDB (dynamodb://REGION; dynamodb:// takes the region from the\n"
	      "environment; AWS_ENDPOINT_URL_DYNAMODB or the profile's endpoint_url\n"
	      "replaces AWS's endpoint), or an endpoint (DynamoDB Local, ScyllaDB Alternator,\n"
	      "dynalite, dynfs serve); credentials from the AWS chain (environment,\n"
	      "~/.aws files, credential_process, container and instance metadata).\n"
	      "\n"
	      "Options:\n"
	      "  -f                 stay in the foreground (log to stderr)\n"
	      "  -d                 debug: foreground, and log every FUSE request\n"
	      "  -s                 single-threaded\n"
	      "  -o ro              read-only: every write fails with EROFS\n"
	      "  -o fsync=always    every change is on disk before it returns (default;\n"
	      "                     concurrent writers share one fsync)\n"
	      "  -o fsync=batch     fsync at most once a second\n"
	      "  -o fsync=off       leave syncing to the operating system\n"
	      "  -o api=HOST:PORT   also serve DynamoDB's API (JSON 1.0 over HTTP) on this\n"
	      "                     address, over the same store: SDKs and the AWS CLI\n"
	      "                     with --endpoint-url http://HOST:PORT; a non-loopback\n"
	      "                     address needs api_auth\n"
	      "  -o api_auth=FILE   verify SigV4 signatures against FILE's keys, one\n"
	      "                     \"ACCESS_KEY_ID SECRET\" per line\n"
	      "  -o xattr           extended attributes on scratch files (editor\n"
	      "                     temporaries); costs `ls -l` two getxattr round\n"
	      "                     trips per file.  Default: none (-o noxattr), and\n"
	      "                     getxattr fails with ENOTSUP without asking dynfs\n"
	      "  -o scratch_max=SIZE  memory all scratch files (editor temporaries) may\n"
	      "                     take together, e.g. 64M or 2G (default 512M); writing\n"
	      "                     past it fails with ENOSPC\n"
	      "Remote mounts (docs/remote.md):\n"
	      "  -o region=R, profile=P  the AWS region and profile\n"
	      "  -o tables=a,b      only these tables (no ListTables)\n"
	      "  -o cache=SECONDS   how long the kernel keeps names and attributes\n"
	      "                     (default 1: other writers are seen after that)\n"
	      "  -o max_list=N      items a table-level listing (a full Scan) reads before\n"
	      "                     it stops with an /_errors line (default 100000)\n"
	      "  -o allow_table_create, allow_table_delete, allow_schema_changes\n"
	      "                     let mkdir, rm -r and _schema.json change the service\n"
	      "  -o allow_other     let other users see the mount (needs user_allow_other\n"
	      "                     in /etc/fuse.conf); the kernel then checks permissions\n"
	      "                     (default_permissions), else dynfs does; other -o\n"
	      "                     options go to FUSE\n"
	      "  -h, --help         this text\n"
	      "  -V, --version      versions of dynfs and libfuse\n"
	      "\n"
	      "The tree:\n"
	      "  /                          one directory per table; mkdir makes a table\n"
	      "  /_errors                   recent rejected writes, one line each\n"
	      "  /_tx                       write a transaction, read its outcome\n"
	      "  /_changes                  every committed change, as it happens (tail -f)\n"
	      "  /<table>/_schema.json      key schema and indexes (keys: only while empty)\n"
	      "  /<table>/_stats.json       item, byte and per-index counts\n"
	      "  /<table>/_batch            write JSON Lines of puts, updates, deletes\n"
	      "  /<table>/_changes[?since=SEQ]  the table's changes: JSON lines with\n"
	      "                             old and new images; since= replays\n"
	      "  /<table>/_index/<index>/<ipk>/   index lookups: symlinks to the items\n"
	      "  /<table>/_query?PARAMS     a scan (filter=, limit=, segment=, as=jsonl...)\n"
	      "  /<table>/<pk>.json         an item, in a table without sort key\n"
	      "  /<table>/<pk>/<sk>.json    an item, in a table with a sort key\n"
	      "  /<table>/<pk>/_query?PARAMS    a range query (ge= le= prefix= order=desc...)\n"
	      "\n"
	      "Items are JSON; edit them with any editor or tool.  A write is checked and\n"
	      "committed at close or fsync; rejected content fails with EINVAL and is\n"
	      "explained in /_errors.  Key values become names: '%', '/', '~', control\n"
	      "bytes and a leading '.' or '_' are written %XX.\n"
	      "\n"
	      "A table whose _schema.json names a \"ttl_attribute\" loses items whose\n"
	      "value for it is a number of epoch seconds in the past (within a second).\n"
	      "\n"
	      "SIGUSR1 writes a snapshot of the store now.\n"
	      "\n"
	      "`dynfs serve STORE` serves the API without mounting (dynfs serve --help).\n"
	      "\n"
	      "See man dynfs for the whole story.\n",
	      stdout);
}

/* ---- startup errors ---- */

static int report_fd = -1; /* background: the pipe to the waiting parent */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (report_fd >= 0) {
		if (write(report_fd, msg, (size_t)n) < 0)
			fprintf(stderr, "dynfs: %s\n", msg);
	} else {
		fprintf(stderr, "dynfs: %s\n", msg);
	}
	exit(1);
}

static void check_mountpoint(const char *mp)
{
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (stat(mp, &st) < 0) {
		if (errno == ENOTCONN)
			die("%s is a stale mount (its filesystem died); unmount it with: "
			    "fusermount3 -u %s",
			    mp, mp);
		if (errno == ENOENT)
			die("mount point %s does not exist; create it with: mkdir -p %s", mp, mp);
		die("cannot use mount point %s: %s", mp, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		die("mount point %s is not a directory; dynfs mounts on an empty directory", mp);
	d = opendir(mp);
	if (!d && errno == ENOTCONN)
		die("%s is a stale mount (its filesystem died); unmount it with: "
		    "fusermount3 -u %s",
		    mp, mp);
	if (!d)
		die("cannot read mount point %s: %s", mp, strerror(errno));
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			char first[256];

			snprintf(first, sizeof(first), "%s", de->d_name);
			closedir(d);
			die("mount point %s is not empty (it holds %s); dynfs mounts on an "
			    "empty directory, so nothing in it gets hidden",
			    mp, first);
		}
	closedir(d);
}

/* Replace *path (malloc'd, existing) by its absolute form. */
static void absolute(char **path)
{
	char *abs = realpath(*path, NULL);

	if (!abs)
		die("cannot resolve %s: %s", *path, strerror(errno));
	free(*path);
	*path = abs;
}

static void check_store(const char *dir)
{
	struct stat st;

	if (stat(dir, &st) < 0) {
		if (errno == ENOENT)
			die("store directory %s does not exist; an empty directory becomes a "
			    "new store: mkdir -p %s",
			    dir, dir);
		die("cannot use store %s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		die("store %s is not a directory: a store is a directory that holds a "
		    "snapshot and a journal",
		    dir);
}

static void check_dev_fuse(void)
{
	if (access("/dev/fuse", R_OK | W_OK) < 0) {
		if (errno == ENOENT)
			die("/dev/fuse is missing: load the FUSE module (modprobe fuse), or in a "
			    "container run with --device /dev/fuse");
		die("cannot open /dev/fuse: %s (is your user allowed to use FUSE?)",
		    strerror(errno));
	}
}

static enum store_fsync parse_fsync(const char *s)
{
	if (!s || !strcmp(s, "always"))
		return STORE_FSYNC_ALWAYS;
	if (!strcmp(s, "batch"))
		return STORE_FSYNC_BATCH;
	if (!strcmp(s, "off"))
		return STORE_FSYNC_OFF;
	die("-o fsync=%s: use always, batch or off", s);
}

/* -o scratch_max=SIZE: bytes, or with a K, M or G suffix (powers of 1024). */
static void parse_scratch_max(const char *s)
{
	unsigned long long v;
	char *end;

	if (!s)
		return;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (end != s && *end && !end[1]) {
		int sh = *end == 'K' || *end == 'k' ? 10 : *end == 'M' || *end == 'm' ? 20
			 : *end == 'G' || *end == 'g' ? 30 : -1;

		if (sh > 0 && v <= (~0ULL >> sh)) {
			v <<= sh;
			end++;
		}
	}
	if (end == s || *end || errno || v == 0 || v > SIZE_MAX)
		die("-o scratch_max=%s: a size such as 64M or 2G", s);
	scratch_set_max((size_t)v);
}

/* The store's health changed (store.h): one line in /_errors and the log. */
static void store_status(void *ctx, int code, const char *msg)
{
	errlog_add(ctx, "/", "%s", msg);
}

/*
 * What the mount serves, behind the backend face (backend/backend.h): a
 * local store opened as a session (engine/session.h), or a remote
 * DynamoDB-API service named by a URL.  fs/ sees only src->be.
 */
struct source {
	be_t *be;	   /* the face (owned) */
	bool local;	   /* a local store: ss is open */
	struct session ss; /* the local store's session */
};

/* STORE is a remote service: http://HOST:PORT, https://..., dynamodb://REGION. */
static bool is_remote(const char *store)
{
	return !strncmp(store, "http://", 7) || !strncmp(store, "https://", 8) ||
	       !strncmp(store, "dynamodb://", 11);
}

/* A remote backend's report: one line in /_errors. */
static void remote_report(void *ctx, const char *what, const char *msg)
{
	errlog_add(ctx, what, "%s", msg);
}

/*
 * A remote service (SPEC §10): the DynamoDB client (remote/remote.h)
 * from the URL and the -o options, and the remote backend over it
 * (remote/rbe.h).  The service is contacted once now (rbe_probe), so
 * that a wrong endpoint or missing credentials fail the mount instead of
 * every ls.
 */
static void open_remote(struct fsx *fs, struct source *src, const struct opts *o)
{
	struct rmt_opts co = {0};
	struct rbe_opts ro = {.cache_s = -1};
	struct dyn_err err;
	rmt_t *c;
	char *eq;
	int i, rc;

	err_clear(&err);
	if (rbe_parse_target(o->store, &co, &err) < 0)
		die("%s", err.msg);
	for (i = 0; i < o->nropts; i++) {
		eq = strchr(o->ropts[i], '=');
		if (eq)
			*eq = 0;
		rc = rbe_parse_option(o->ropts[i], eq ? eq + 1 : NULL, &co, &ro, &err);
		if (rc < 0)
			die("%s", err.msg);
	}
	if (o->api)
		die("-o api: only beside a local store");
	ro.ro = o->readonly;
	ro.report = remote_report;
	ro.report_ctx = fs;
	/* other writers are not seen: the kernel keeps names and attributes
	 * cache= seconds (default 1), not until invalidated */
	fs->timeout = ro.cache_s >= 0 ? ro.cache_s : 1;
	rc = rmt_open(&co, &c, &err);
	if (rc < 0)
		die("%s: %s", o->store, err.code ? err.msg : strerror(-rc));
	if (rbe_open(c, &ro, &src->be) < 0)
		die("out of memory");
	fs->be = src->be;
	rc = rbe_probe(fs->be, &err);
	if (rc < 0)
		die("%s: cannot list its tables: %s", o->store, err.code ? err.msg : strerror(-rc));
}

/*
 * The store, its change feed numbering and TTL expiry at open, as for
 * `dynfs serve` (engine/session.h).
 */
static void open_store(struct fsx *fs, struct source *src, const struct opts *o)
{
	struct session *ss = &src->ss;
	struct store_opts so = {.fsync = parse_fsync(o->fsync), .readonly = o->readonly,
				.create = true};
	struct dyn_err err;
	int rc;

	err_clear(&err);
	rc = session_open(o->store, &so, ss, &err);
	if (rc == -EBUSY)
		die("%s (a store is mounted by one dynfs at a time: fusermount3 -u its mount "
		    "point, or stop that process)",
		    err.code ? err.msg : "the store is in use by another dynfs process");
	if (rc == -EPROTO)
		die("store %s was written by a newer dynfs: %s", o->store,
		    err.code ? err.msg : strerror(-rc));
	if (rc < 0)
		die("cannot open store %s: %s", o->store, err.code ? err.msg : strerror(-rc));
	if (be_local_open(ss->db, ss->store, &src->be) < 0)
		die("out of memory");
	src->local = true;
	fs->be = src->be;
	be_set_status(fs->be, store_status, fs);
}

static void open_source(struct fsx *fs, struct source *src, const struct opts *o)
{
	memset(src, 0, sizeof(*src));
	if (is_remote(o->store))
		open_remote(fs, src, o);
	else if (o->nropts)
		die("-o %s: only for a remote mount (http://, https://, dynamodb://)", o->ropts[0]);
	else
		open_store(fs, src, o);
}

/* ---- background mode ---- */

/* Fork; the parent waits for the child's verdict and exits with it. */
static void daemonize_early(void)
{
	char msg[2048];
	ssize_t n;
	int p[2];
	pid_t pid;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid > 0) {
		close(p[1]);
		n = read(p[0], msg, sizeof(msg) - 1);
		if (n <= 0)
			exit(n == 0 ? 1 : 1); /* child died without a word */
		msg[n] = 0;
		if (msg[0] == 0)
			exit(0);
		fprintf(stderr, "dynfs: %s\n", msg);
		exit(1);
	}
	close(p[0]);
	report_fd = p[1];
	setsid();
}

/* The child mounted: release the parent, detach from the terminal. */
static void daemonize_done(struct fsx *fs)
{
	int nul;

	if (report_fd < 0)
		return;
	if (write(report_fd, "", 1) < 0)
		exit(1);
	close(report_fd);
	report_fd = -1;
	if (chdir("/") < 0)
		exit(1);
	nul = open("/dev/null", O_RDWR);
	if (nul >= 0) {
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
	}
	openlog("dynfs", LOG_PID, LOG_DAEMON);
	fs->errlog.to_syslog = true;
}

/* ---- SIGUSR1: snapshot ---- */

struct snapper {
	struct fsx *fs;		 /* the mount */
	pthread_t thread;	 /* waits in sigwait */
	volatile sig_atomic_t stop; /* set before the wake-up signal */
};

static void *snap_main(void *arg)
{
	struct snapper *sn = arg;
	struct dyn_err err;
	sigset_t set;
	int sig, rc;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) != 0 || sn->stop)
			return NULL;
		err_clear(&err);
		rc = be_snapshot(sn->fs->be, &err);
		if (rc == -ENOTSUP)
			fsx_log(sn->fs, "SIGUSR1: the %s backend has no snapshots",
				be_name(sn->fs->be));
		else if (rc < 0)
			fsx_log(sn->fs, "snapshot failed: %s", err.code ? err.msg : "error");
		else
			fsx_log(sn->fs, "snapshot written (SIGUSR1)");
	}
}

/* ---- the API beside the mount ---- */

/* A rejected API write goes to /_errors like a rejected file write. */
static void api_error(void *ctx, const char *what, const char *msg)
{
	errlog_add(ctx, what, "%s", msg);
}

static int api_stats_fn(void *ctx, const char *table, char **out)
{
	return api_table_stats(ctx, table, out);
}

static api_t *start_api(struct fsx *fs, struct source *src, const struct opts *o)
{
	struct api_opts ao = {.listen = o->api, .auth_file = o->api_auth,
			      .on_error = api_error, .ctx = fs};
	struct dyn_err err;
	api_t *a = NULL;
	int rc;

	if (!o->api)
		return NULL;
	if (!src->local)
		die("-o api: only beside a local store");
	err_clear(&err);
	rc = api_new(src->ss.db, &ao, &a, &err);
	if (rc == 0)
		rc = api_start(a, &err);
	if (rc < 0)
		die("-o api=%s: %s", o->api, err.code ? err.msg : strerror(-rc));
	return a;
}

/* ---- the mount ---- */

static struct fsx *fsx_new(const struct opts *o)
{
	struct fsx *fs = calloc(1, sizeof(*fs));
	char real[PATH_MAX];

	if (!fs)
		die("out of memory");
	fs->readonly = o->readonly;
	fs->kernel_perms = o->multiuser;
	fs->noxattr = o->noxattr;
	fs->debug = o->debug;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->start_ns = fsx_now_ns();
	fs->timeout = FSX_TIMEOUT;
	fs->gen = (uint64_t)fs->start_ns / 1000000; /* differs between mounts */
	if (!is_remote(o->store))
		fs->store_dir = strdup(realpath(o->store, real) ? real : o->store);
	if (nodes_init(fs) < 0 || errlog_init(&fs->errlog) < 0 || inval_init(fs) < 0 ||
	    changes_init(fs) < 0)
		die("out of memory");
	return fs;
}

static void fsx_free(struct fsx *fs)
{
	nodes_fini(fs);
	inval_fini(fs);
	changes_fini(fs);
	errlog_fini(&fs->errlog);
	item_mtimes_free(fs);
	free(fs->store_dir);
	free(fs);
}

static int run_loop(struct fuse_session *se, const struct opts *o)
{
	struct fuse_loop_config *cfg;
	int rc;

	if (o->single)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_idle_threads(cfg, 16);
	fuse_loop_cfg_set_max_threads(cfg, 64);
	rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

static int mount_and_serve(struct fuse_args *args, const struct opts *o)
{
	struct snapper sn = {0};
	struct source src;
	struct fuse_session *se;
	api_t *api;
	struct dyn_err err;
	struct fsx *fs;
	sigset_t set;
	int rc, sig = 0;

	/* SIGUSR1 only for the snapshot thread: block it before any thread */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	fs = fsx_new(o);
	open_source(fs, &src, o);
	se = fuse_session_new(args, &dynfs_ops, sizeof(dynfs_ops), fs);
	if (!se)
		die("bad FUSE options (see dynfs --help)");
	if (fuse_set_signal_handlers(se) != 0)
		die("cannot install signal handlers");
	if (fuse_session_mount(se, o->mountpoint) != 0)
		die("cannot mount on %s (see the message above; is another filesystem "
		    "mounted there?)",
		    o->mountpoint);
	fs->se = se;
	be_watch(fs->be, fsx_observe, fs);
	if (inval_start(fs) < 0)
		die("cannot start the invalidation thread");
	if (changes_start(fs) < 0)
		die("cannot start the _changes thread");
	if (src.local && session_start(&src.ss) < 0)
		die("cannot start the TTL sweeper");
	sn.fs = fs;
	if (pthread_create(&sn.thread, NULL, snap_main, &sn) != 0)
		die("cannot start the snapshot thread");
	api = start_api(fs, &src, o);
	if (api) {
		fs->api_ctx = api;
		__atomic_store_n(&fs->api_stats, api_stats_fn, __ATOMIC_RELEASE);
	}
	daemonize_done(fs);
	if (o->foreground)
		fsx_log(fs, "mounted %s on %s", o->store, o->mountpoint);

	rc = run_loop(se, o);
	/* libfuse's handlers of SIGTERM, SIGINT and SIGHUP end the loop with
	 * the signal's number: asked to stop, which is a clean exit */
	if (rc == SIGTERM || rc == SIGINT || rc == SIGHUP) {
		sig = rc;
		rc = 0;
	}

	__atomic_store_n(&fs->api_stats, NULL, __ATOMIC_RELEASE);
	api_free(api); /* finishes the requests in flight */
	if (src.local)
		session_stop(&src.ss);
	changes_stop(fs);
	sn.stop = 1;
	pthread_kill(sn.thread, SIGUSR1);
	pthread_join(sn.thread, NULL);
	fuse_session_unmount(se);
	inval_stop(fs);
	be_watch(fs->be, NULL, NULL);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	fs->se = NULL;
	fh_free_unreleased(fs); /* no request runs any more */
	err_clear(&err);
	if (src.local && session_close(&src.ss, &err) < 0) {
		fsx_log(fs, "closing the store failed: %s", err.code ? err.msg : "error");
		rc = rc ? rc : 1;
	} else if (sig) {
		fsx_log(fs, "unmounted %s (%s)", o->mountpoint, strsignal(sig));
	} else if (rc == 0) {
		fsx_log(fs, "unmounted %s", o->mountpoint);
	}
	fsx_free(fs); /* closes the nodes' table handles */
	be_close(src.be);
	return rc ? 1 : 0;
}

/*
 * glibc's malloc gives free memory at the top of a heap back to the kernel
 * once it exceeds the trim threshold (128 KB at first), and serves blocks
 * over the mmap threshold with mmap/munmap.  dynfs's FUSE worker threads
 * allocate and free tens of KB per request (journal records, rendered
 * items, parsed values), so a bulk `_batch` import spent most of its time
 * page-faulting the same memory back in (kernel time in the profile:
 * sysmalloc, grow_heap's mprotect, madvise).  Keep up to 64 MB of free
 * heap and serve blocks below 32 MB from the heaps: `cat 30k users >
 * _batch` went from 4.1-4.6 s to 2.3-2.4 s.  Memory that is really free
 * beyond that still goes back.
 */
static void malloc_tune(void)
{
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
}

int main(int argc, char **argv)
{
	struct opts o = {.noxattr = 1};
	char **made = NULL, **av = NULL;
	int rc = 0, nmade = 0, parsed;

	malloc_tune();
	if (argc > 1 && (!strcmp(argv[1], "import") || !strcmp(argv[1], "export")))
		return cli_main(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return api_serve_main(argc, argv);
	if ((made = calloc((size_t)argc + 1, sizeof(*made))))
		av = argv_join_tables(argc, argv, made, &nmade);
	struct fuse_args args = FUSE_ARGS_INIT(argc, av ? av : argv);
	parsed = fuse_opt_parse(&args, &o, opt_spec, opt_proc);
	for (int i = 0; i < nmade; i++)
		free(made[i]);
	free(made);
	free(av);
	if (parsed < 0) {
		usage(stderr);
		rc = 2;
	} else if (o.help) {
		help();
	} else if (o.version) {
		printf("dynfs %s\n", DYNFS_VERSION);
		fflush(stdout);
		fuse_lowlevel_version();
	} else if (!o.store || !o.mountpoint || o.extra) {
		usage(stderr);
		fprintf(stderr, "(dynfs --help for more)\n");
		rc = 2;
	} else {
		if (!is_remote(o.store))
			check_store(o.store);
		check_mountpoint(o.mountpoint);
		/* In the background the daemon runs in /: use absolute paths. */
		if (!is_remote(o.store))
			absolute(&o.store);
		absolute(&o.mountpoint);
		check_dev_fuse();
		parse_fsync(o.fsync);
		parse_scratch_max(o.scratch_max);
		/* A mount others may enter keeps the kernel's permission
		 * checks; a private one is checked by dynfs (perm.c), which
		 * spares a directory GETATTR per path walk after a change. */
		if (fuse_opt_add_arg(&args, "-ofsname=dynfs,subtype=dynfs") < 0 ||
		    (o.multiuser && fuse_opt_add_arg(&args, "-odefault_permissions") < 0))
			die("out of memory");
		if (!o.foreground)
			daemonize_early();
		rc = mount_and_serve(&args, &o);
	}
	fuse_opt_free_args(&args);
	free(o.store);
	free(o.mountpoint);
	free(o.fsync);
	free(o.api);
	free(o.api_auth);
	free(o.scratch_max);
	for (int i = 0; i < o.nropts; i++)
		free(o.ropts[i]);
	return rc;
}
