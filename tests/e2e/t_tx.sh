# t_tx.sh - /_tx (SPEC §6): transactions across tables, with real tools.
#
#  - a transfer between an item of users and one of quiz-stats (the
#    design notes' tables), committed at close;
#  - a failing condition: close fails with ECANCELED, nothing applied,
#    /_errors names the operation;
#  - the outcome read back on the same descriptor (exec 3<>/_tx);
#  - invalid documents: EINVAL;
#  - concurrent readers never see half a transaction while transactions
#    keep moving value between the two items.

export LC_ALL=C
# to FILE CMD...: run CMD (an external command) with stdout to FILE.
to() { local f=$1; shift; "$@" >"$f"; }

need tx "the test is /_tx"
mount_fresh
U=$MNT/users
Q=$MNT/quiz-stats
mkdir "$U" "$Q" || fail "mkdir"
echo '{"partition_key": {"name": "username", "type": "S"}, "indexes": []}' >"$U/_schema.json" ||
	fail "users schema"
echo '{"partition_key":{"name":"id#level","type":"S"},"sort_key":{"name":"week","type":"S"},"indexes":[]}' \
	>"$Q/_schema.json" || fail "quiz-stats schema"
echo '{"email": "hedy@hedy.org", "coins": 100, "v": 0}' >"$U/hedy.json" || fail "hedy"
mkdir "$Q/hedy#1"
echo '{"id": "hedy", "level": 1, "coins": 0, "v": 0}' >"$Q/hedy#1/2023-31.json" || fail "quiz item"

# transfer AMOUNT: a document moving AMOUNT coins from users/hedy to quiz-stats.
transfer() {
	cat <<EOF
{"ops": [
  {"update": {"username": "hedy"}, "table": "users",
   "expr": "SET coins = coins - :n, v = v + :one", "if": "coins >= :n",
   "values": {":n": $1, ":one": 1}},
  {"update": {"id#level": "hedy#1", "week": "2023-31"}, "table": "quiz-stats",
   "expr": "SET coins = coins + :n, v = v + :one", "values": {":n": $1, ":one": 1}}
]}
EOF
}

section "the file"
expect_eq "/_tx is listed" "$(ls -a "$MNT" | grep -c '^_tx$')" 1
expect_eq "reading an unused descriptor" "$(cat "$MNT/_tx")" '{"status": "empty"}'

section "a transfer"
transfer 10 >"$T/t10.json"
expect_ok "cat t10.json > /_tx" sh -c 'cat "$1" > "$2"' _ "$T/t10.json" "$MNT/_tx"
expect_eq "users/hedy" "$(jq -c '[.coins, .v]' "$U/hedy.json")" "[90,1]"
expect_eq "quiz-stats" "$(jq -c '[.coins, .v]' "$Q/hedy#1/2023-31.json")" "[10,1]"
expect_ok "jq | /_tx" sh -c 'jq . "$1" > "$2"' _ "$T/t10.json" "$MNT/_tx"
expect_eq "twice" "$(jq .coins "$U/hedy.json")" 80

section "a failing condition cancels everything"
transfer 1000 >"$T/t1000.json"
errors_mark
expect_fail "close fails with ECANCELED" "Operation canceled" sh -c 'cat "$1" > "$2"' _ "$T/t1000.json" "$MNT/_tx"
expect_eq "users/hedy unchanged" "$(jq -c '[.coins, .v]' "$U/hedy.json")" "[80,2]"
expect_eq "quiz-stats unchanged" "$(jq -c '[.coins, .v]' "$Q/hedy#1/2023-31.json")" "[20,2]"
expect_eq "/_errors names the op" \
	"$(new_errors | grep -c '/_tx: op 0 (update users/hedy): condition failed: coins >= :n')" 1
cat >"$T/check.json" <<'EOF'
{"ops": [
  {"put": {"username": "felienne", "coins": 5}, "table": "users"},
  {"check": {"username": "nobody"}, "table": "users", "if": "attribute_exists(username)"}
]}
EOF
expect_fail "a failing check" "Operation canceled" sh -c 'cat "$1" > "$2"' _ "$T/check.json" "$MNT/_tx"
expect_fail "the put was not applied" "No such file" cat "$U/felienne.json"

section "the outcome on the same descriptor"
exec 3<>"$MNT/_tx"
cat "$T/t10.json" >&3
cat <&3 >"$T/outcome"
exec 3>&-
expect_eq "committed" "$(cat "$T/outcome")" '{"status": "committed", "ops": 2}'
exec 3<>"$MNT/_tx"
cat "$T/t1000.json" >&3 2>/dev/null
cat <&3 >"$T/outcome"
exec 3>&-
expect_eq "cancelled" "$(jq -c '[.status, .op]' "$T/outcome")" '["cancelled",0]'
if is_remote; then
	# a service's cancellation also shows what it kept (docs/remote.md)
	expect_eq "cancelled reason" "$(jq -r .reason "$T/outcome" | sed 's/; the service.s version was kept: .*//')" \
		"update users/hedy: condition failed: coins >= :n"
	jq -r .reason "$T/outcome" | grep -q "; the service's version was kept: {\"username\":\"hedy\"" ||
		fail "cancelled reason: $(jq -r .reason "$T/outcome")"
else
	expect_eq "cancelled reason" "$(jq -r .reason "$T/outcome")" \
		"update users/hedy: condition failed: coins >= :n"
fi
# builtin writes, no close before the read: the read commits
exec 3<>"$MNT/_tx"
printf '%s' "$(transfer 1)" >&3
cat <&3 >"$T/outcome"
exec 3>&-
expect_eq "committed by the read" "$(jq -r .status "$T/outcome")" committed
expect_eq "after the reads" "$(jq .coins "$U/hedy.json")" 69
# bash closes a copy of fd 4 after each builtin: a document in pieces
# runs once it is whole (at the last close at the latest)
exec 4>>"$MNT/_tx"
printf '{"ops": [' >&4
printf '{"put": {"username": "piece", "n": 1}, "table": "users"}' >&4
printf ']}' >&4
exec 4>&-
expect_eq "a document written in pieces" "$(jq .n "$U/piece.json")" 1

section "invalid documents"
expect_fail "bad JSON" "Invalid argument" to "$MNT/_tx" env printf '{"ops": [,]}'
expect_fail "unknown table" "Invalid argument" to "$MNT/_tx" \
	env printf '{"ops": [{"put": {"id": "x"}, "table": "nope"}]}'
expect_eq "/_errors: unknown table" "$(tail -1 "$MNT/_errors" | grep -c 'op 0 (put nope): no table named nope')" 1
expect_ok "an unfinished document: this close keeps it" to "$MNT/_tx" env printf '{"ops": [{"put"'
for _ in $(seq 50); do # the last close (release) comes asynchronously
	tail -1 "$MNT/_errors" | grep -q '/_tx: .*unexpected end of input' && break
	sleep 0.1
done
expect_eq "...and the last close runs and logs it" \
	"$(tail -1 "$MNT/_errors" | grep -c '/_tx: .*unexpected end of input')" 1
jq -cn '{ops: [range(101) | {put: {username: "u\(.)"}, table: "users"}]}' >"$T/t101.json"
expect_fail "101 ops" "Invalid argument" sh -c 'cat "$1" > "$2"' _ "$T/t101.json" "$MNT/_tx"
expect_eq "/_errors: too many" "$(tail -1 "$MNT/_errors" | grep -c 'too many operations: 101')" 1
jq -cn '{ops: [range(100) | {put: {username: "u\(.)"}, table: "users"}]}' >"$T/t100.json"
expect_ok "100 ops" sh -c 'cat "$1" > "$2"' _ "$T/t100.json" "$MNT/_tx"
expect_eq "100 items" "$(ls "$U" | grep -c '^u[0-9]*\.json$')" 100
expect_fail "two ops on one item" "Invalid argument" to "$MNT/_tx" \
	env printf '{"ops": [{"put": {"username": "a"}, "table": "users"}, {"delete": {"username": "a"}, "table": "users"}]}'
expect_fail "a write after the commit" "busy" bash -c 'exec 3<>"$1"; printf "%s" "$2" >&3; cat <&3 >/dev/null; printf x >&3' \
	_ "$MNT/_tx" "$(transfer 1)"

section "concurrent readers never see half a transaction"
# Every transaction bumps v of both items; so a reader that sees the same
# v in users/hedy before and after reading the quiz-stats item must see
# that v there too, and the coins must add up to 100.
reader() {
	local i a b a2 va vb va2 ca cb bad=0 ok=0
	for i in $(seq 400); do
		a=$(<"$U/hedy.json")
		b=$(<"$Q/hedy#1/2023-31.json")
		a2=$(<"$U/hedy.json")
		[[ $a =~ \"v\":\ ([0-9]+) ]] && va=${BASH_REMATCH[1]}
		[[ $a =~ \"coins\":\ ([0-9]+) ]] && ca=${BASH_REMATCH[1]}
		[[ $b =~ \"v\":\ ([0-9]+) ]] && vb=${BASH_REMATCH[1]}
		[[ $b =~ \"coins\":\ ([0-9]+) ]] && cb=${BASH_REMATCH[1]}
		[[ $a2 =~ \"v\":\ ([0-9]+) ]] && va2=${BASH_REMATCH[1]}
		[ "$va" = "$va2" ] || continue
		ok=$((ok + 1))
		if [ "$va" != "$vb" ] || [ $((ca + cb)) -ne 100 ]; then
			bad=$((bad + 1))
			echo "half: users v=$va coins=$ca, quiz-stats v=$vb coins=$cb" >>"$T/half"
		fi
	done
	echo "$ok" >>"$T/consistent-reads"
}
transfer 1 >"$T/t+1.json"
transfer -1 >"$T/t-1.json"
: >"$T/half"
reader &
r1=$!
reader &
r2=$!
n=0
while kill -0 $r1 2>/dev/null || kill -0 $r2 2>/dev/null; do
	cat "$T/t+1.json" >"$MNT/_tx" || fail "transfer +1"
	cat "$T/t-1.json" >"$MNT/_tx" || fail "transfer -1"
	n=$((n + 2))
done
wait $r1 $r2
echo "transactions: $n, reads with a stable users version: $(tr '\n' ' ' <"$T/consistent-reads")"
expect_eq "no half transactions seen" "$(head -5 "$T/half")" ""
expect_eq "coins add up" "$(($(jq .coins "$U/hedy.json") + $(jq .coins "$Q/hedy#1/2023-31.json")))" 100

unmount
done_test
