# t_install.sh - the man page and `make install` with mount(8) /
# mount.fuse3 / fstab, on the demo store (split from t_scripts.sh).
#
#  - docs/dynfs.1: renders without groff/man warnings, has the sections,
#    lists every option of `dynfs --help`, `import --help`, `export
#    --help`, and has no -o option that --help lacks;
#  - make install PREFIX=...: binary, man page and Hedy's schemas (found
#    by the installed binary); mount.fuse3 (what
#    `mount -t fuse.dynfs` runs) with the installed binary and options;
#    as root, mount(8) and an fstab line (-T) through mount.fuse3.
need_local "the man page and make install, on the local demo store"

source "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"
export LC_ALL=C

# the demo store, for the mounts below
demo_mount
demo_unmount

section "docs/dynfs.1"
out=$(groff -man -ww -z "$REPO/docs/dynfs.1" 2>&1)
expect_eq "groff -man -ww warnings" "$out" ""
out=$(MANWIDTH=80 man --warnings -l "$REPO/docs/dynfs.1" 2>&1 >/dev/null)
expect_eq "man --warnings" "$out" ""
MANWIDTH=250 man -l "$REPO/docs/dynfs.1" 2>/dev/null | col -bx >"$T/man.txt"
for sec in NAME SYNOPSIS DESCRIPTION OPTIONS FILES SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"; do
	grep -q "^$sec\$" "$T/man.txt" || fail "man page: no $sec section"
done
# Every option the binary's help lists, in the man page.
for sub in "" import export; do
	"$DYNFS" $sub --help 2>&1 | python3 -c '
import re, sys
for line in sys.stdin:
    m = re.match(r"^  +(-\S.*?)(  |$)", line)
    if not m:
        continue
    for alt in m.group(1).split(", "):
        w = alt.split()
        print(" ".join(w[:2]) if w[0] == "-o" and len(w) > 1 else w[0])
'
done | sort -u >"$T/help.opts"
[ "$(wc -l <"$T/help.opts")" -ge 15 ] || fail "only $(wc -l <"$T/help.opts") options found in --help"
while IFS= read -r o; do
	grep -qE -- "(^|[ ,\[(])$o([] ,.)]|$)" "$T/man.txt" || fail "man page lacks option '$o' of --help"
done <"$T/help.opts"
# and no -o option in the man page that --help does not know (both cut
# to the option's name and a lower-case value: `-o api=HOST:PORT` is
# `-o api`, `-o fsync=off` stays; not in a pipeline's subshell, where a
# fail would not count)
sed -E 's/^(-o [a-z_]+(=[a-z]+)?).*/\1/' "$T/help.opts" >"$T/help.names"
while IFS= read -r o; do
	grep -qxF -- "$o" "$T/help.names" || fail "man page has '$o', dynfs --help does not"
done < <(sed -n '/^OPTIONS$/,/^[A-Z]/p' "$T/man.txt" | grep -oE -- '^ +-o [a-z_]+(=[a-z]+)?' |
	sed 's/^ *//')

section "make install; mount.fuse3, mount -t, fstab"
BUILD_DIR=$(dirname "$DYNFS")
if [ "$(basename "$DYNFS")" != dynfs ]; then
	echo "skipped: make install needs DYNFS to be <build dir>/dynfs"
else
	# -o: install this binary as it is, never rebuild it here
	run "make install" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$REPO" install PREFIX="$T/prefix" BUILD="$BUILD_DIR" -o "$DYNFS"
	P=$T/prefix
	[ -x "$P/bin/dynfs" ] || fail "make install: no $P/bin/dynfs"
	cmp -s "$P/bin/dynfs" "$DYNFS" || fail "make install: installed binary differs"
	expect_eq "man page installed" "$(MANPATH=$P/share/man man -w dynfs 2>&1)" "$P/share/man/man1/dynfs.1"
	run "installed dynfs --version" "$P/bin/dynfs" --version
	# Hedy's schemas are installed and found by the installed binary
	cmp -s "$P/share/dynfs/hedy.json" "$REPO/schemas/hedy.json" || fail "make install: no hedy.json"
	echo '{"classes": [{"id": "c1", "teacher": "t"}]}' >"$T/hedy-one.json"
	run "installed dynfs: Hedy's schemas by default" "$P/bin/dynfs" import "$T/s-inst" "$T/hedy-one.json" \
		--format hedy
	"$P/bin/dynfs" export "$T/s-inst" --schema-out "$T/inst-schema.json" --schema-only ||
		fail "export --schema-only"
	expect_eq "installed: classes indexes" "$(jq -c '[.classes.indexes[].name]' "$T/inst-schema.json")" \
		'["link-index","teacher-index"]'
	mkdir -p "$T/m5"
	EXTRA_MNTS+=("$T/m5")
	# What `mount -t fuse.dynfs STORE MNT -o ...` runs: mount.fuse3, which
	# runs `dynfs STORE MNT -o OPTIONS` found in PATH.
	fuse3=$(command -v mount.fuse3 || echo /sbin/mount.fuse3)
	run "mount.fuse3 -t fuse.dynfs" env PATH="$P/bin:$PATH" "$fuse3" "$STORE" "$T/m5" \
		-t fuse.dynfs -o rw,nodev,nosuid,noatime,fsync=batch
	expect_eq "mount.fuse3: type" "$(findmnt -no FSTYPE "$T/m5")" "fuse.dynfs"
	expect_eq "mount.fuse3: data" "$(jq -r .email "$T/m5/users/hedy.json")" "hedy@hedy.org"
	echo '{"via": "mount.fuse3"}' >"$T/m5/users/mf.json" || fail "write through mount.fuse3 mount"
	unmount_at "$T/m5" "$STORE"
	run "mount.fuse3 -o ro" env PATH="$P/bin:$PATH" "$fuse3" "$STORE" "$T/m5" -t fuse.dynfs -o ro
	refuse "a ro mount through mount.fuse3" 1 "Read-only file system" touch "$T/m5/users/x.json"
	unmount_at "$T/m5" "$STORE"
	if [ "$(id -u)" = 0 ]; then
		# mount(8) runs helpers without the caller's PATH; the legacy
		# "PROGRAM#SOURCE" form names the installed binary by path.
		run "mount -t fuse" mount -t fuse "$P/bin/dynfs#$STORE" "$T/m5" -o fsync=off
		expect_eq "mount -t fuse: data" "$(jq -r .via "$T/m5/users/mf.json")" "mount.fuse3"
		unmount_at "$T/m5" "$STORE"
		printf '%s %s fuse defaults,ro 0 0\n' "$P/bin/dynfs#$STORE" "$T/m5" >"$T/fstab"
		run "an fstab line" mount -T "$T/fstab" "$T/m5"
		expect_eq "fstab: ro" "$(findmnt -no OPTIONS "$T/m5" | tr ',' '\n' | grep -x ro)" ro
		unmount_at "$T/m5" "$STORE"
		if command -v dynfs >/dev/null && [ "$(command -v dynfs)" != "$P/bin/dynfs" ] &&
			env -i /bin/sh -c 'command -v dynfs' >/dev/null; then
			run "mount -t fuse.dynfs (installed dynfs)" mount -t fuse.dynfs "$STORE" "$T/m5"
			unmount_at "$T/m5" "$STORE"
		else
			echo "skipped: mount -t fuse.dynfs itself (no dynfs in the default PATH)"
		fi
	else
		echo "skipped: mount(8) and fstab (not root)"
	fi
fi

done_test
