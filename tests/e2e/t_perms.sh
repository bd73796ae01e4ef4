# t_perms.sh - permissions of a mount private to its user:
# mounted without -o default_permissions, dynfs checks what the kernel
# checked (fs/perm.c), for the mounting user and for root.
#
# The mount is made by an ordinary user (nobody), in a private mount
# namespace whose /dev/fuse is a node that user may open (this machine's
# /dev/fuse is root's only; an ordinary Linux has it 0666): the kernel
# then lets only that user in.  As that user: items are writable
# (test -w), dynfs's own read-only files are not, a scratch file
# chmod'ed 0444 refuses writes (EACCES) and a scratch directory chmod'ed
# 0555 refuses new names; root (a mount root made) bypasses all that, as
# the kernel's CAP_DAC_OVERRIDE does.  With allow_other the kernel keeps
# checking (default_permissions).

export LC_ALL=C
need_local "mounts as another user"
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null || ! unshare -m true 2>/dev/null ||
	! [ -u "$(command -v fusermount3)" ]; then
	echo "SKIP: needs root, setpriv, unshare -m and a setuid fusermount3 (to mount as an ordinary user)"
	exit 77
fi
if [ "${PERM_INSIDE_NS:-}" != 1 ]; then
	# again in a private mount namespace: $T, its EXIT trap and its
	# mounts are the inner run's
	rm -rf "$T"
	trap - EXIT
	exec env PERM_INSIDE_NS=1 unshare -m --propagation private bash -c \
		"source '$E2E_HERE/lib.sh'; source '$E2E_HERE/t_perms.sh'"
fi

U=65534 # nobody
chmod 755 "$T"
mknod "$T/fuse" c 10 229 && chmod 666 "$T/fuse" && mount --bind "$T/fuse" /dev/fuse ||
	{ echo "SKIP: cannot make a /dev/fuse the test user may open"; exit 77; }
mkdir -p "$STORE" "$MNT"
chown "$U:$U" "$STORE" "$MNT"

as_user() { setpriv --reuid=$U --regid=$U --clear-groups "$@"; }
as_user sh -c ': 3<>/dev/fuse' 2>/dev/null ||
	{ echo "SKIP: the test user cannot open the /dev/fuse made for it (nodev temp dir?)"; exit 77; }
as_user test -x "$DYNFS" ||
	{ echo "SKIP: the test user cannot run $DYNFS (a directory on its path is private)"; exit 77; }

# mount_as WHO [options...]: mount $STORE at $MNT as user WHO (user, root)
mount_as() {
	local who=$1
	shift
	if [ "$who" = user ]; then
		as_user "$DYNFS" "$STORE" "$MNT" -f "$@" 2>>"$T/dynfs.log" &
	else
		"$DYNFS" "$STORE" "$MNT" -f "$@" 2>>"$T/dynfs.log" &
	fi
	DYNFS_PID=$!
	for _ in $(seq 200); do
		grep -q " $MNT fuse.dynfs " /proc/mounts && return 0
		kill -0 "$DYNFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "mount failed; log:" >&2
	cat "$T/dynfs.log" >&2
	exit 1
}

# sh_as WHO SCRIPT: run SCRIPT in sh in $MNT as WHO; its output and
# messages, lines joined by spaces, "rc=N" after a failing command's
# message where the script says so
sh_as() {
	local who=$1
	shift
	if [ "$who" = user ]; then
		(cd / && as_user sh -c "cd '$MNT' && $1" 2>&1 | sed "s|$MNT/||g; s|^sh: [0-9]*: ||" | tr '\n' ' ')
	else
		(cd / && sh -c "cd '$MNT' && $1" 2>&1 | sed "s|$MNT/||g; s|^sh: [0-9]*: ||" | tr '\n' ' ')
	fi
}

w() { echo "test -w $1 && echo w:yes || echo w:no"; }

section "a private mount: no default_permissions"
mount_as user
expect_eq "mount options" "$(grep " $MNT " /proc/mounts | grep -o 'user_id=[0-9]*\|default_permissions' | tr '\n' ' ')" \
	"user_id=$U "
if [ "$(cat /sys/module/fuse/parameters/allow_sys_admin_access 2>/dev/null)" = Y ]; then
	echo "  (fuse's allow_sys_admin_access is on: root is let in; not checked)"
else
	expect_eq "others are refused by the kernel" "$(lines stat -c %n "$MNT/_errors")" \
		"stat: cannot statx '$MNT/_errors': Permission denied "
fi

section "items, tables and dynfs's own files, as the mounting user"
expect_eq "mkdir, write, read" \
	"$(sh_as user 'mkdir users && echo "{\"a\":1}" >users/hedy.json && jq -c . users/hedy.json && stat -c "%a %u" users users/hedy.json')" \
	'{"id":"hedy","a":1} 755 65534 644 65534 '
expect_eq "test -w item" "$(sh_as user "$(w users/hedy.json); test -r users/hedy.json && echo r:yes")" "w:yes r:yes "
expect_eq "test -w table" "$(sh_as user "$(w users); test -x users && echo x:yes")" "w:yes x:yes "
expect_eq "test -x item" "$(sh_as user 'test -x users/hedy.json && echo x:yes || echo x:no')" "x:no "
expect_eq "_errors" "$(sh_as user "$(w _errors); echo x >_errors; echo >>_errors; truncate -s 0 _errors")" \
	"w:no cannot create _errors: Permission denied cannot create _errors: Permission denied truncate: cannot open '_errors' for writing: Permission denied "
expect_eq "_stats.json" "$(sh_as user "$(w users/_stats.json); echo x >users/_stats.json")" \
	"w:no cannot create users/_stats.json: Permission denied "
expect_eq "_query?" "$(sh_as user "$(w 'users/_query?eq=hedy'); echo x >'users/_query?eq=hedy'")" \
	"w:no cannot create users/_query?eq=hedy: Invalid argument " # as with default_permissions: dynfs refuses the name
expect_eq "_schema.json" "$(sh_as user "$(w users/_schema.json)")" "w:yes "
expect_eq "chmod item" "$(sh_as user 'chmod 600 users/hedy.json; chmod 644 users/hedy.json && echo same:ok')" \
	"chmod: changing permissions of 'users/hedy.json': Operation not permitted same:ok "
expect_eq "rm item" "$(sh_as user 'echo "{}" >users/ada.json && rm users/ada.json && echo rm:ok')" "rm:ok "

section "scratch files and directories, as the mounting user"
expect_eq "chmod 0444 file" \
	"$(sh_as user "echo a >users/.s.swp && chmod 444 users/.s.swp && $(w users/.s.swp); echo b >users/.s.swp; echo b >>users/.s.swp; truncate -s 0 users/.s.swp; cat users/.s.swp")" \
	"w:no cannot create users/.s.swp: Permission denied cannot create users/.s.swp: Permission denied truncate: cannot open 'users/.s.swp' for writing: Permission denied a "
expect_eq "chmod 0644 again" "$(sh_as user "chmod 644 users/.s.swp && $(w users/.s.swp) && echo c >users/.s.swp && cat users/.s.swp")" "w:yes c "
expect_eq "chmod 0000 file" "$(sh_as user "chmod 0 users/.s.swp && cat users/.s.swp; test -r users/.s.swp || echo r:no")" \
	"cat: users/.s.swp: Permission denied r:no "
expect_eq "chmod 0555 directory" \
	"$(sh_as user "mkdir users/.d && echo f >users/.d/f && chmod 555 users/.d && $(w users/.d); touch users/.d/g; mkdir users/.d/e; rm users/.d/f; mv users/.s.swp users/.d/; ln -s x users/.d/l; cat users/.d/f")" \
	"w:no touch: cannot touch 'users/.d/g': Permission denied mkdir: cannot create directory 'users/.d/e': Permission denied rm: cannot remove 'users/.d/f': Permission denied mv: cannot move 'users/.s.swp' to 'users/.d/.s.swp': Permission denied ln: failed to create symbolic link 'users/.d/l': Permission denied f "
expect_eq "chmod 0311 directory: no listing" "$(sh_as user "chmod 311 users/.d && ls users/.d; cat users/.d/f")" \
	"ls: cannot open directory 'users/.d': Permission denied f "
# names cached before (cat, ls -l) must not be reachable after
expect_eq "chmod 0644 directory: names, no way in" \
	"$(sh_as user "chmod 755 users/.d && ls -l users/.d >/dev/null && cat users/.d/f && chmod 644 users/.d && sleep 0.2 && ls users/.d; cat users/.d/f; stat -c %s users/.d/f; ls -l users/.d >/dev/null; cd users/.d")" \
	"f f cat: users/.d/f: Permission denied stat: cannot statx 'users/.d/f': Permission denied ls: cannot access 'users/.d/f': Permission denied cd: can't cd to users/.d "
expect_eq "chmod 0755 again" "$(sh_as user "chmod 755 users/.d && touch users/.d/g && rm users/.d/f users/.d/g && rmdir users/.d && echo ok")" "ok "
expect_eq "a directory without write permission moves only within its parent" \
	"$(sh_as user "mkdir users/.m users/.n && chmod 555 users/.m && mv users/.m users/.m2 && mv users/.m2 users/.n/; chmod 755 users/.m2 && mv users/.m2 users/.n/ && rm -r users/.n && echo ok")" \
	"mv: cannot move 'users/.m2' to 'users/.n/.m2': Permission denied ok "
expect_eq "chown to another user" "$(sh_as user "touch users/.o; chown 0 users/.o; chgrp 0 users/.o; chown $U:$U users/.o && echo same:ok; rm users/.o")" \
	"chown: changing ownership of 'users/.o': Operation not permitted chgrp: changing group of 'users/.o': Operation not permitted same:ok "
unmount

section "exec: the caller's own x bit"
# execve opens the file with __FMODE_EXEC: the kernel checked some x
# bit, dynfs the caller's (an execute-only program runs; one executable
# by others only does not)
mount_as user
expect_eq "0111 and 0655 program" \
	"$(sh_as user "cp /bin/true users/.t && chmod 111 users/.t && users/.t && echo ran; chmod 655 users/.t && users/.t; echo rc=\$?; rm -f users/.t")" \
	"ran users/.t: Permission denied rc=126 "
unmount

section "extended attributes: the mode guards user.* names, not security.*"
# the kernel's xattr_permission checks the mode for user.* (and unknown
# namespaces) only; security.* and system.* are the security modules'
cat >"$T/xa.py" <<'PYEOF'
import errno, os, sys
def t(f):
    try:
        f()
        return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
p = sys.argv[1]
print(t(lambda: os.setxattr(p, "user.k", b"v")), t(lambda: os.getxattr(p, "user.k")),
      t(lambda: os.getxattr(p, "security.selinux")), t(lambda: os.getxattr(p, "system.posix_acl_access")))
PYEOF
chmod 644 "$T/xa.py"
mount_as user -o xattr
expect_eq "0644, 0444 and 0000 scratch file: set user.k, get user.k, security.*, system.*" \
	"$(sh_as user "echo a >users/.x && python3 $T/xa.py users/.x && chmod 444 users/.x && python3 $T/xa.py users/.x && chmod 0 users/.x && python3 $T/xa.py users/.x; rm -f users/.x")" \
	"ok ok ENODATA ENODATA EACCES ok ENODATA ENODATA EACCES EACCES ENODATA ENODATA "
unmount

section "read-only: nothing is writable"
mount_as user -o ro
expect_eq "test -w" "$(sh_as user "$(w users/hedy.json); $(w _errors); echo x >users/hedy.json")" \
	"w:no w:no cannot create users/hedy.json: Read-only file system "
unmount

section "root's own private mount: root bypasses modes"
chown -R 0:0 "$STORE"
mount_as root
expect_eq "mount options" "$(grep " $MNT " /proc/mounts | grep -o 'default_permissions')" ""
expect_eq "0444 scratch file, 0555 directory" \
	"$(sh_as root "echo a >users/.r && chmod 444 users/.r && $(w users/.r) && echo b >users/.r && mkdir users/.rd && chmod 555 users/.rd && touch users/.rd/x && chmod 0 users/.rd && ls users/.rd && cat users/.r && rm -r users/.r users/.rd && echo ok")" \
	"w:yes x b ok "
expect_eq "root: _errors still refused" "$(sh_as root "$(w _errors); echo x >_errors")" \
	"w:yes cannot create _errors: Permission denied "
unmount

section "allow_other: the kernel checks (default_permissions)"
mount_as root -o allow_other
expect_eq "mount options" "$(grep " $MNT " /proc/mounts | grep -o 'default_permissions\|allow_other' | tr '\n' ' ')" \
	"default_permissions allow_other "
expect_eq "another user reads, may not write" \
	"$(sh_as user "jq -c . users/hedy.json; $(w users/hedy.json); echo x >users/hedy.json")" \
	'{"id":"hedy","a":1} w:no cannot create users/hedy.json: Permission denied '
unmount

done_test
