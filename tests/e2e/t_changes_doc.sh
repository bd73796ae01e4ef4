# t_changes_doc.sh - every command of docs/changes.md, taken from the
# document itself (the ```sh block after each `<!-- t_changes_doc: NAME -->`
# marker) and run from a directory holding mnt (and mnt2 for the
# replica), the way a reader would: the ones that follow the feed in the
# background, then writes, then the output checked.
need_local "the change feed"

export LC_ALL=C
DOC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/docs/changes.md

# block NAME: the commands of the block after the marker NAME.
block() {
	awk -v m="<!-- t_changes_doc: $1 -->" '
		$0 == m { want = 1; next }
		want && /^```sh/ { inb = 1; next }
		inb && /^```/ { exit }
		inb { print }' "$DOC"
}
NBLOCKS=$(grep -c '^<!-- t_changes_doc: ' "$DOC")
expect_eq "blocks in docs/changes.md" "$NBLOCKS" 9

# run NAME: run the block in $T (foreground); bg NAME OUT: in the
# background, in its own process group (stop with `stop`), stdout to OUT.
run() { (cd "$T" && bash -o pipefail -c "$(block "$1")"); }
BG=()
bg() {
	(cd "$T" && exec setsid bash -c "$(block "$1")" >"$2" 2>"$2.err") &
	BG+=($!)
}
stop() {
	local p
	for p in "${BG[@]}"; do kill -- -"$p" 2>/dev/null; done
	for p in "${BG[@]}"; do
		wait "$p" 2>/dev/null
		# the whole group, not just its leader, must be gone (a cat
		# still closing its _changes descriptor keeps the mount busy)
		for _ in $(seq 100); do kill -0 -- -"$p" 2>/dev/null || break; sleep 0.05; done
	done
	BG=()
}
# until_has FILE PATTERN CMD...: run CMD until FILE has a line matching.
until_has() {
	local f=$1 pat=$2 i
	shift 2
	for i in $(seq 60); do
		"$@" "$i"
		for _ in $(seq 10); do
			grep -q -- "$pat" "$f" 2>/dev/null && return 0
			sleep 0.1
		done
	done
	fail "no line matching $pat in $f: $(tail -3 "$f"; cat "$f.err" 2>/dev/null)"
}
touch_user() { echo "{\"email\": \"sync$1@x\"}" >"$MNT/users/sync.json"; }
new_user() { touch "$MNT/users/new$1.json"; }

mount_fresh
M2=$T/mnt2
mkdir "$T/store2" "$M2"
"$DYNFS" "$T/store2" "$M2" || fail "second mount"
trap 'stop; fusermount3 -u "$M2" 2>/dev/null; cleanup' EXIT
mkdir "$MNT/users"
echo '{"partition_key": {"name": "username", "type": "S"}}' >"$MNT/users/_schema.json"

section "follow"
bg follow "$T/follow.out"
until_has "$T/follow.out" '"user":"sync"' touch_user
echo '{"email": "ada@example.org"}' >"$MNT/users/ada.json"
rm "$MNT/users/ada.json"
until_has "$T/follow.out" '"op":"delete"' true
stop
expect_eq "follow: the put and the delete" \
	"$(grep '"ada"' "$T/follow.out" | jq -c '[.op, .user, .email]' | tail -2)" \
	'["put","ada","ada@example.org"]
["delete","ada",null]'

section "react"
bg react "$T/react.out"
until_has "$T/react.out" 'welcome, new' new_user
echo '{"email": "lin@example.org"}' >"$MNT/users/lin.json"
echo '{"email": "lin@example.com"}' >"$MNT/users/lin.json" # an update: no welcome
until_has "$T/react.out" 'welcome, lin' true
sleep 1
stop
expect_eq "react: one welcome for lin" "$(grep -c 'welcome, lin$' "$T/react.out")" 1

section "audit log, resumed after a remount"
bg audit "$T/audit.bg"
until_has "$T/audit.jsonl" '"sync' touch_user
echo '{"email": "bob@example.org"}' >"$MNT/users/bob.json"
until_has "$T/audit.jsonl" '"bob"' true
stop
unmount
mount_store
bg audit-resume "$T/audit2.bg"
echo '{"email": "eve@example.org"}' >"$MNT/users/eve.json"
until_has "$T/audit.jsonl" '"eve"' true
stop
expect_eq "audit: seq increasing, every line a change" \
	"$(jq -s '[.[].seq] | . == (sort | unique) and length > 3' "$T/audit.jsonl")" "true"
last_before=$(grep '"bob"' "$T/audit.jsonl" | tail -1 | jq .seq)
first_after=$(grep '"eve"' "$T/audit.jsonl" | head -1 | jq .seq)
expect_eq "audit: no gap across the remount" "$((first_after - last_before))" 1

section "replicate into a second store"
run replicate-setup || fail "replicate-setup"
bg replicate-follow "$T/follow2.bg"
until_has "$T/users.changes" '"sync' touch_user
( for i in $(seq 1 40); do
	echo "{\"username\": \"w$((i % 10))\", \"n\": $i}"
	[ $((i % 7)) = 0 ] && echo "{\"delete\": {\"username\": \"w$((i % 5))\"}}"
done >"$MNT/users/_batch" ) &
WR=$!
run replicate-copy || fail "replicate-copy"
bg replicate-apply "$T/apply.bg"
wait "$WR"
want=$(cat "$MNT/users/_query?as=jsonl" | jq -c . | sort)
for _ in $(seq 100); do
	got=$(cat "$M2/users/_query?as=jsonl" | jq -c . | sort)
	[ "$got" = "$want" ] && break
	sleep 0.1
done
stop
expect_eq "replica equals the table" "$got" "$want"

section "ttl"
out=$(run ttl) || fail "ttl block failed"
expect_eq "the session expired" "$out" "_batch
_index
_schema.json
_stats.json"
expect_eq "ttl_attribute" "$(jq -r .ttl_attribute "$MNT/sessions/_schema.json")" "expires"

unmount
fusermount3 -u "$M2"
done_test
