# lib.sh - helpers for end-to-end tests on real dynfs mounts.
#
# Each test file (tests/e2e/t_*.sh) is run by tests/e2e/run in its own
# bash with this file sourced.  It calls `mount_fresh` (a new store and a
# new mount point under a temp dir), drives the mount with real programs,
# and uses the check helpers below.  The EXIT trap always unmounts and
# removes the temp dir, whether the test passed, failed or timed out.
#
# E2E_TARGET picks what `mount_fresh` mounts (SPEC §10):
#   local     a local store in $STORE (the default);
#   serve     `dynfs serve $STORE`, started by the test's first mount (so
#             data a test imports into $STORE before it is on the service);
#   dynalite  dynalite (tests/api/node_modules), started by the test;
#   ddblocal  DynamoDB Local: one instance for the whole run, started by
#             tests/e2e/run in a private network namespace ($E2E_ENDPOINT);
#             each test gets its own database by its own access key id.
# With a remote target the mount is `dynfs http://127.0.0.1:PORT $MNT -o
# allow_table_create,allow_table_delete,allow_schema_changes,...`, and
# mount_store mounts the same service again (its data is kept).  A test
# that is local by nature (journal, crash, snapshot, API server, change
# feed...) calls `need_local WHY` first: with a remote target it prints a
# SKIP line and exits 77, which tests/e2e/run reports as SKIP.  Where the
# service differs from a local store by design (docs/remote.md), a test
# checks the remote behaviour with `if is_remote` (or `remote_is NAME`).

set -u
: "${DYNFS:?DYNFS must point at the dynfs binary}"

T=$(mktemp -d /tmp/dynfs-e2e.XXXXXX)
STORE=$T/store
MNT=$T/mnt
DYNFS_PID=
FAILS=0
E2E_TARGET=${E2E_TARGET:-local}
E2E_SERVER_PID= # the service this test started (serve, dynalite)
E2E_EP=		# its URL, once started
E2E_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case $E2E_TARGET in
local | serve | dynalite | ddblocal) ;;
*) echo "E2E_TARGET=$E2E_TARGET: local, serve, dynalite or ddblocal" >&2; exit 2 ;;
esac
if [ "$E2E_TARGET" != local ]; then
	# no credentials from the caller, no metadata service: a key id of
	# the test's own (DynamoDB Local keeps one database per key id)
	unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONTAINER_CREDENTIALS_RELATIVE_URI \
		AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_EC2_METADATA_SERVICE_ENDPOINT
	export AWS_ACCESS_KEY_ID=AKE2E$$ AWS_SECRET_ACCESS_KEY=secret AWS_DEFAULT_REGION=us-east-1 \
		AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=$T/none AWS_SHARED_CREDENTIALS_FILE=$T/none
fi

cleanup() {
	if mountpoint -q "$MNT" 2>/dev/null; then
		fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null || true
	fi
	if [ -n "$DYNFS_PID" ] && kill -0 "$DYNFS_PID" 2>/dev/null; then
		# give a clean unmount time to finish its snapshot
		for _ in $(seq 50); do kill -0 "$DYNFS_PID" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$DYNFS_PID" 2>/dev/null || true
	fi
	if [ -n "$E2E_SERVER_PID" ]; then
		kill "$E2E_SERVER_PID" 2>/dev/null
		wait "$E2E_SERVER_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT

# is_remote: the test runs against a remote target.
is_remote() { [ "$E2E_TARGET" != local ]; }
# remote_is NAME...: the target is one of these.
remote_is() {
	local n
	for n in "$@"; do [ "$E2E_TARGET" = "$n" ] && return 0; done
	return 1
}

# need_local WHY: the rest of the test needs a local store.
need_local() {
	if is_remote; then
		echo "SKIP: local store only ($*); E2E_TARGET=$E2E_TARGET"
		exit 77
	fi
}

# need_target TARGET... WHY: the test needs one of these targets.
need_target() {
	local n ok=
	while [ $# -gt 1 ]; do
		[ "$E2E_TARGET" = "$1" ] && ok=1
		shift
	done
	if [ -z "$ok" ]; then
		echo "SKIP: $1; E2E_TARGET=$E2E_TARGET"
		exit 77
	fi
}

# What a target can do differs by design (docs/remote.md, "What differs
# from a local store") or by the service (dynalite, DynamoDB Local).  A
# test asks by capability, never by target name, and a part left out or
# checked differently is never silent:
#   need CAP WHY        the whole test needs CAP: else a SKIP line, exit 77;
#   lacks CAP WHAT      true when the target lacks CAP, and then prints a
#                       LIMIT line naming WHAT and the reason (the runner
#                       shows it under the test's PASS line), e.g.
#                       `lacks tx "mv of items" || { mv ...; checks; }`.
# Capabilities:
#   tx         transactions: /_tx, and renames of items, which are
#              TransactWriteItems on a service (dynalite has none);
#   key_order  a listing no sort key orders (a table-level listing, a
#              Scan on a service; an index partition of an index without
#              a sort key) in key order: a local store's and `dynfs
#              serve`'s are; DynamoDB's (and DynamoDB Local's, dynalite's)
#              are in its own order;
#   add_index  _schema.json adds a global index to a table (UpdateTable):
#              dynalite 4 accepts a new index and never makes it;
#   backfill_check  adding an index whose key an existing item holds in
#              another type is refused (the engine's backfill); DynamoDB
#              leaves such items out of the index instead (DynamoDB Local
#              was seen to keep the index CREATING past the test's limit);
#   store      a store the test fills (`dynfs import`) before the mount:
#              local, and serve (its service runs on $STORE).
cap_why() {
	case $1 in
	tx) remote_is dynalite && echo "dynalite has no transactions (/_tx and item renames are TransactWriteItems)" ;;
	key_order) remote_is dynalite ddblocal && echo "$E2E_TARGET lists what no sort key orders in its own order (docs/remote.md, Listing order)" ;;
	add_index) remote_is dynalite && echo "dynalite accepts UpdateTable's new global index and never makes it" ;;
	backfill_check) remote_is dynalite ddblocal && echo "$E2E_TARGET does not refuse an index an existing item's type breaks" ;;
	store) remote_is dynalite ddblocal && echo "$E2E_TARGET has no store to import into before the mount" ;;
	*) echo "lib.sh: unknown capability $1" >&2; exit 2 ;;
	esac
	return 0
}
need() {
	local why
	why=$(cap_why "$1") || { echo "FAIL: lib.sh: unknown capability $1"; exit 2; }
	if [ -n "$why" ]; then
		echo "SKIP: $why (${*:2}); E2E_TARGET=$E2E_TARGET"
		exit 77
	fi
}
lacks() {
	local why
	why=$(cap_why "$1") || { echo "FAIL: lib.sh: unknown capability $1"; exit 2; }
	[ -n "$why" ] || return 1
	echo "LIMIT: ${*:2}: $why"
	return 0
}

# expect_key_order WHAT GOT EXPECTED: GOT, a table-level listing (names
# separated by spaces or newlines), is EXPECTED, in key order; where the
# target lists a table in its own order (lacks key_order), the same names.
expect_key_order() {
	local g=$2 e=$3
	if lacks key_order "$1: the same names, in the service's order"; then
		g=$(tr -s ' \n' '\n\n' <<<"$g" | grep -v '^$' | LC_ALL=C sort | tr '\n' ' ')
		e=$(tr -s ' \n' '\n\n' <<<"$e" | grep -v '^$' | LC_ALL=C sort | tr '\n' ' ')
	fi
	expect_eq "$1" "$g" "$e"
}

# known_remote_bug WHY: with a remote target, say (in the runner's
# output, as an XFAIL line) that the next part is not run because of a
# known bug of the remote backend; returns 0 then (skip), 1 otherwise.
# For bugs only: a documented difference is checked, not skipped.
known_remote_bug() {
	is_remote || return 1
	echo "XFAIL: known remote bug, part skipped: $*"
	return 0
}

e2e_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
e2e_wait_port() {
	for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
	echo "port $1 never opened" >&2
	return 1
}

# target_start: start this test's service (once); its URL in $E2E_EP.
target_start() {
	local p nm=${NODE_MODULES:-$E2E_HERE/../api/node_modules}
	[ -n "$E2E_EP" ] && return 0
	case $E2E_TARGET in
	serve)
		p=$(e2e_free_port)
		mkdir -p "$STORE"
		"$DYNFS" serve "$STORE" --listen "127.0.0.1:$p" --fsync off 2>>"$T/serve.log" &
		;;
	dynalite)
		[ -f "$nm/dynalite/cli.js" ] || { echo "dynalite is not installed (scripts/setup-api)" >&2; exit 1; }
		p=$(e2e_free_port)
		node "$nm/dynalite/cli.js" --host 127.0.0.1 --port "$p" --createTableMs 20 \
			--deleteTableMs 20 --updateTableMs 20 >>"$T/dynalite.log" 2>&1 &
		;;
	ddblocal)
		: "${E2E_ENDPOINT:?E2E_TARGET=ddblocal: run through tests/e2e/run, which starts DynamoDB Local}"
		E2E_EP=$E2E_ENDPOINT
		return 0
		;;
	esac
	E2E_SERVER_PID=$!
	e2e_wait_port "$p" || exit 1
	E2E_EP=http://127.0.0.1:$p
}

# remote_opts OPTIONS...: a local mount's options for a remote mount
# (the table options added; the local store's own options dropped).
remote_opts() {
	local a o out=allow_table_create,allow_table_delete,allow_schema_changes
	R_ARGS=()
	while [ $# -gt 0 ]; do
		a=$1
		shift
		if [ "$a" = -o ]; then
			for o in ${1//,/ }; do
				case $o in
				fsync=*) ;; # the store's journal: none here
				*) out=$out,$o ;;
				esac
			done
			shift
		else
			R_ARGS+=("$a")
		fi
	done
	R_ARGS+=(-o "$out")
}

# notify_trace_start: strace the daemon's writev calls (replies and the
# notifications dynfs writes to /dev/fuse) into $T/strace; traced=yes
# once every thread is attached, else traced=no (and says why).
# notify_trace_stop: end it.  notify_count attr|data [INO...]: how many
# FUSE_NOTIFY_INVAL_INODE were written (attr: offset -1, attributes only;
# data: offset 0), for each INO, or in all if none is named.
notify_trace_start() {
	local nthr i
	traced=no
	if ! command -v strace >/dev/null; then
		echo "no strace: the notification counts are not checked"
		return
	fi
	strace -f -p "$DYNFS_PID" -e trace=writev -xx -s 64 -o "$T/strace" 2>"$T/strace.err" &
	NOTIFY_SP=$!
	nthr=$(ls "/proc/$DYNFS_PID/task" | wc -l)
	for i in $(seq 200); do
		# one line per thread, or one "attached with N threads"
		if [ "$(grep -c ' attached' "$T/strace.err")" -ge "$nthr" ] ||
			[ "$(sed -n 's/.* attached with \([0-9]*\) threads.*/\1/p' "$T/strace.err" |
				head -1)" -ge "$nthr" ] 2>/dev/null; then
			traced=yes
			return
		fi
		kill -0 "$NOTIFY_SP" 2>/dev/null || break
		sleep 0.05
	done
	echo "strace cannot attach to the daemon ($(head -1 "$T/strace.err")): the counts are not checked"
	kill "$NOTIFY_SP" 2>/dev/null
	wait "$NOTIFY_SP" 2>/dev/null
}
notify_trace_stop() {
	sleep 0.5
	kill "$NOTIFY_SP"
	wait "$NOTIFY_SP" 2>/dev/null
}
notify_count() {
	python3 - "$T/strace" "$@" <<'PY'
import re, sys
kind, inos = sys.argv[2], sys.argv[3:]
want = 0 if kind == "data" else -1
data = {}
for line in open(sys.argv[1]):
    iov = re.findall(r'iov_base="((?:\\x[0-9a-f]{2})+)"', line)
    if len(iov) < 2:
        continue
    h, body = (bytes.fromhex(x.replace("\\x", "")) for x in iov[:2])
    # fuse_out_header: len, error (FUSE_NOTIFY_INVAL_INODE = 2), unique 0
    if len(h) == 16 and int.from_bytes(h[4:8], "little") == 2 and len(body) >= 16:
        ino = int.from_bytes(body[0:8], "little")
        if int.from_bytes(body[8:16], "little", signed=True) == want:
            data[ino] = data.get(ino, 0) + 1
if inos:
    print(" ".join(str(data.get(int(i), 0)) for i in inos))
else:
    print(sum(data.values()))
PY
}

# mount_fresh [dynfs options...]: mount $STORE at $MNT in the background.
mount_fresh() {
	mkdir -p "$STORE" "$MNT"
	mount_store "$@"
}

# mount_store [options...]: (re)mount the existing $STORE at $MNT.
mount_store() {
	if is_remote; then
		target_start
		remote_opts "$@"
		"$DYNFS" "$E2E_EP" "$MNT" -f "${R_ARGS[@]}" 2>>"$T/dynfs.log" &
	else
		"$DYNFS" "$STORE" "$MNT" -f "$@" 2>>"$T/dynfs.log" &
	fi
	DYNFS_PID=$!
	for _ in $(seq 200); do
		mountpoint -q "$MNT" && return 0
		kill -0 "$DYNFS_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "mount failed; log:" >&2
	cat "$T/dynfs.log" >&2
	exit 1
}

# unmount: clean unmount, wait for the daemon to exit.
unmount() {
	fusermount3 -u "$MNT"
	for _ in $(seq 100); do kill -0 "$DYNFS_PID" 2>/dev/null || break; sleep 0.05; done
	if kill -0 "$DYNFS_PID" 2>/dev/null; then
		fail "dynfs did not exit after unmount"
	fi
	wait "$DYNFS_PID" 2>/dev/null || true
	DYNFS_PID=
}

# section TITLE: a heading in the test's output, so a failure reads in
# context.
section() { echo "--- $*"; }

# journal_end FILE: the end of a journal's records; with fsync=always the
# file has zeroes written ahead after them (docs/formats.md).
journal_end() { python3 -c 'import sys; print(len(open(sys.argv[1], "rb").read().rstrip(b"\0")))' "$1"; }

# lines CMD...: the command's output and messages, lines joined by spaces.
lines() { "$@" 2>&1 | tr '\n' ' '; }

# compact FILE: FILE as one line of JSON (jq -c), or jq's message.
compact() { jq -c . <"$1" 2>&1; }

# errors_mark, then new_errors: the lines added to /_errors since the mark.
errors_mark() { ERR_AT=$(wc -l <"$MNT/_errors"); }
new_errors() { tail -n +$((ERR_AT + 1)) "$MNT/_errors"; }

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
	if [ "$2" != "$3" ]; then
		fail "$1: got [$2], expected [$3]"
	fi
}

# expect_ok WHAT CMD...: the command must succeed.
expect_ok() {
	local what=$1
	shift
	if ! "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: '$*' failed: $(cat "$T/err")$(head -c 2000 "$T/out")"
	fi
}

# expect_same_tree WHAT DIR COPY [DIFF-OPTION...]: `diff -r DIR COPY`
# finds no difference (DIR on the mount, COPY a copy made from it; e.g.
# -x _stats.json leaves out a live view).  On a difference it says
# what differed: each differing file's size by stat and by wc -c, its
# inode, mtime and both contents, the file read again now and after the
# attribute timeout (a transient answer or a lasting one), the listings
# behind an "Only in" line and the mount's /_errors.
expect_same_tree() {
	local what=$1 a=$2 b=$3 x y l i
	shift 3
	diff -r "$@" "$a" "$b" >"$T/tree.diff" 2>&1 && return 0
	fail "$what: 'diff -r $* $a $b' found differences:
$(head -c 3000 "$T/tree.diff")"
	i=0
	while read -r l; do
		i=$((i + 1))
		[ "$i" -le 5 ] || break
		case $l in
		"diff -r "*" $a/"*" $b/"*)
			l=${l#*" $a/"}
			x=$a/${l%%" $b/"*}
			y=$b/${l#*" $b/"}
			echo "  $x: stat [$(stat -c 'size %s ino %i mtime %.9Y' "$x" 2>&1)]," \
				"wc -c $(wc -c <"$x" 2>&1); the copy: size $(stat -c %s "$y"), wc -c $(wc -c <"$y")"
			echo "  the copy's content: $(head -c 800 "$y" | od -An -c | tr -s ' \n' '  ' | head -c 2400)"
			echo "  read again now:     $(head -c 800 "$x" 2>&1 | od -An -c | tr -s ' \n' '  ' | head -c 2400)"
			cmp -s "$x" "$y" && echo "  (now the same as the copy)"
			sleep 1.2
			cmp -s "$x" "$y" && echo "  after 1.2 s: the same as the copy" ||
				echo "  after 1.2 s: still different: $(head -c 800 "$x" 2>&1 | od -An -c | tr -s ' \n' '  ' | head -c 2400)"
			;;
		"Only in "*)
			l=${l#Only in }
			x=${l%%: *}
			echo "  listing of $x: $(ls -la "$x" 2>&1 | tr '\n' '|')"
			;;
		*) echo "  $l" ;;
		esac
	done < <(grep -E '^(diff -r |Only in |Binary files |diff: )' "$T/tree.diff")
	echo "  /_errors: $(tail -5 "$MNT/_errors" 2>&1)"
}

# expect_errno WHAT ERRNO-TEXT CMD...: the command must fail and print the
# given strerror text (e.g. "Invalid argument").
expect_fail() {
	local what=$1 msg=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: '$*' succeeded, expected failure ($msg)"
	elif ! grep -q "$msg" "$T/err"; then
		fail "$what: '$*' failed without '$msg': $(cat "$T/err")"
	fi
}

# run WHAT CMD...: the command must succeed (output in $T/out, $T/err).
run() {
	local what=$1
	shift
	"$@" >"$T/out" 2>"$T/err" || fail "$what: '$*' failed ($?): $(cat "$T/err")"
}

# refuse WHAT PATTERN CMD...: the command must fail and say PATTERN (grep -E).
refuse() {
	local what=$1 pattern=$2
	shift 2
	if "$@" >"$T/out" 2>"$T/err"; then
		fail "$what: '$*' succeeded"
	elif ! grep -Eq -- "$pattern" "$T/err"; then
		fail "$what: message lacks /$pattern/: $(cat "$T/err")"
	fi
}

done_test() {
	if [ "$FAILS" -ne 0 ]; then
		exit 1
	fi
	exit 0
}
