# t_concurrent.sh - many processes at once (SPEC §2 listings under
# change, §5 commit at close).  Readers racing writers of one item are
# in t_races.sh.
#
#  - xargs -P 8 writers on distinct items: every item present and right;
#  - xargs -P 8 writers on the same item: the result is exactly one of the
#    written versions, valid JSON;
#  - xargs -P 8 sed -i and perl -pi on distinct items;
#  - listings (ls -U, find) while other items are added and removed, in a
#    partition and at table level: every item that existed throughout
#    appears exactly once in each listing, no name twice, key order kept.
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
make_table quiz-stats "$QUIZ_SCHEMA"
Q=$MNT/quiz-stats
QK=("id#level" week)

# pad N: N x's (so versions differ in length as well as content).
pad() {
	printf "%*s" "$1" "" | tr ' ' x
}

section "xargs -P 8 writers on distinct items"
P="$Q/par#1"
mkdir "$P" || die "mkdir $P failed"
if ! seq 1 400 | xargs -P 8 -n 25 bash -c '
	for i in "$@"; do
		printf "{\"n\": %d, \"pad\": \"%0*d\"}\n" "$i" $((i % 50 + 1)) 0 \
			>"'"$P"'/w$(printf %04d "$i").json" || exit 1
	done' _ 2>"$T/err"; then
	fail "parallel writers on distinct items failed: $(head -5 "$T/err")"
fi
want=$(for i in $(seq 1 400); do printf 'w%04d %d %d\n' "$i" "$i" $((i % 50 + 1)); done)
got=$(for f in "$P"/w*.json; do
	jq -r '"\(.week) \(.n) \(.pad | length)"' "$f" 2>&1
done)
expect_lines "items written in parallel" "$got" "$want"
expect_eq "listing after parallel writes" "$(listing "$P" | wc -l)" 400
expect_canonical "parallel writer item" "$P/w0123.json" "${QK[@]}"

section "xargs -P 8 writers on the same item"
f="$Q/par#1/same.json"
seq 1 200 | xargs -P 8 -n 1 bash -c '
	n=$1
	p=$(printf "%*s" $(( (n * 37) % 300 + 1 )) "" | tr " " x)
	printf "{\"writer\": %d, \"pad\": \"%s\"}\n" "$n" "$p" >"'"$f"'"' _ 2>"$T/err"
echo "same-item writers: $(grep -c . "$T/err") error lines (allowed; the result must be whole)"
if ! w=$(jq -er .writer "$f" 2>&1); then
	fail "same item after parallel writes is not valid JSON: $(head -c 300 "$f")"
else
	expect_item "same item after parallel writes" "$f" \
		"{\"id#level\":\"par#1\",\"week\":\"same\",\"pad\":\"$(pad $(((w * 37) % 300 + 1)))\",\"writer\":$w}" "${QK[@]}"
fi

section "xargs -P 8 sed -i and perl -pi on distinct items"
if ! seq -f 'w%04g.json' 1 400 | (cd "$P" && xargs -P 8 -n 10 sed -i 's/"n": \([0-9]*\)/"n": \1, "sed": true/') 2>"$T/err"; then
	fail "parallel sed -i failed: $(head -5 "$T/err")"
fi
if ! seq -f 'w%04g.json' 1 400 | (cd "$P" && xargs -P 8 -n 10 perl -pi -e 's/"sed": true/"perl": 1, "sed": true/') 2>"$T/err"; then
	fail "parallel perl -pi failed: $(head -5 "$T/err")"
fi
got=$(jq -r '"\(.week) \(.n) \(.perl) \(.sed)"' "$P"/w*.json 2>&1)
want=$(for i in $(seq 1 400); do printf 'w%04d %d 1 true\n' "$i" "$i"; done)
expect_lines "items after parallel sed -i and perl -pi" "$got" "$want"
expect_no_scratch "parallel sed -i" "$P"

# churn DIR STOPFILE: until STOPFILE exists, create and remove items whose
# names sort between DIR's stable items s0001..s1000 (s0001a.json ...) and
# beyond both ends, and replace stable items through rename (an atomic
# put, as sed -i does it); report errors on stderr.  Run it in the background
# only: it execs perl, so that killing the job kills the churn.
churn() {
	exec perl -e '
		my ($dir, $stop) = @ARGV;
		my $round = 0;
		until (-e $stop) {
			for my $k (1 .. 1000) {
				my $n = sprintf("%s/s%04da.json", $dir, $k);
				open(my $fh, ">", $n) or die "create $n: $!\n";
				print $fh "{\"round\": $round}\n";
				close($fh) or die "close $n: $!\n";
				if ($k > 20) {
					my $o = sprintf("%s/s%04da.json", $dir, $k - 20);
					unlink($o) or die "unlink $o: $!\n";
				}
				for my $e ("a0000", "z9999") {
					if ($k % 50 == 0) {
						open(my $fh, ">", "$dir/$e.json") or die "create $e: $!\n";
						print $fh "{}\n";
						close($fh) or die "close $e: $!\n";
					} elsif ($k % 50 == 25 && -e "$dir/$e.json") {
						unlink("$dir/$e.json") or die "unlink $e: $!\n";
					}
				}
				# an atomic put onto a stable item (as sed -i does): it
				# exists throughout and must stay listed
				my $t = "$dir/.tmp$k";
				open(my $th, ">", $t) or die "create $t: $!\n";
				print $th "{\"round\": $round}\n";
				close($th) or die "close $t: $!\n";
				my $s = sprintf("%s/s%04d.json", $dir, ($k * 7) % 1000 + 1);
				rename($t, $s) or die "rename onto $s: $!\n";
				last if -e $stop;
			}
			unlink(glob("$dir/s*a.json"));
			$round++;
		}' "$1" "$2"
}

# check_listing WHAT FILE: FILE (one name per line) holds every stable
# name s0001.json..s1000.json exactly once, no name twice, in key order
# (unless $ORDER is "any": a table-level listing on a target that lists
# tables in its own order).
check_listing() {
	local what=$1 l=$2 n
	n=$(grep -cx 's[0-9]\{4\}\.json' "$l")
	expect_eq "$what: stable items listed" "$n" 1000
	expect_eq "$what: names listed twice" "$(sort "$l" | uniq -d | head -5 | tr '\n' ' ')" ""
	expect_eq "$what: stable items missing" \
		"$(comm -23 "$T/stable" <(sort -u "$l") | head -5 | tr '\n' ' ')" ""
	[ "$ORDER" = any ] || sort -c "$l" 2>/dev/null || fail "$what: not in key order: $(sort -c "$l" 2>&1)"
}

# listings_under_churn DIR [table]: the stable items, a churn in the
# background, 10 ls -U and 5 find listings of DIR meanwhile (DIR a table
# without a sort key: a table-level listing).
listings_under_churn() {
	local dir=$1 i cpid ORDER=key
	[ "${2:-}" = table ] && lacks key_order "$dir: listings checked for their names, not their order" && ORDER=any
	seq -f 's%04g.json' 1 1000 >"$T/stable"
	(cd "$dir" && xargs touch <"$T/stable") || fail "creating the stable items in $dir failed"
	expect_eq "$dir: stable items before churn" "$(listing "$dir" | wc -l)" 1000
	rm -f "$T/stop"
	churn "$dir" "$T/stop" 2>"$T/churn.err" &
	cpid=$!
	for i in $(seq 50); do
		[ -e "$dir/s0005a.json" ] && break
		sleep 0.1
	done
	for i in $(seq 10); do
		ls -U "$dir" >"$T/ls.$i" 2>"$T/ls.err" || fail "ls -U $dir: $(cat "$T/ls.err")"
		grep -v -e '^_' -e '^\.' "$T/ls.$i" >"$T/ls.$i.items" # items only
		check_listing "ls -U #$i of $dir" "$T/ls.$i.items"
	done
	for i in $(seq 5); do
		find "$dir" -mindepth 1 -maxdepth 1 ! -name '_*' ! -name '.*' -printf '%f\n' >"$T/find.$i" 2>"$T/find.err" ||
			fail "find $dir: $(cat "$T/find.err")"
		check_listing "find #$i of $dir" "$T/find.$i"
	done
	touch "$T/stop"
	wait "$cpid" || fail "churn in $dir failed: $(cat "$T/churn.err")"
	expect_eq "churn errors" "$(cat "$T/churn.err")" ""
	echo "$dir: $(grep -c 'a\.json' "$T/ls.10.items") churn items in the last listing"
	rm -f "$dir"/s*a.json "$dir"/a0000.json "$dir"/z9999.json
	if [ "$ORDER" = any ]; then
		expect_lines "$dir: stable items after churn" "$(listing "$dir" | sort)" "$(cat "$T/stable")"
	else
		expect_lines "$dir: stable items after churn" "$(listing "$dir")" "$(cat "$T/stable")"
	fi
}

section "listings of a partition while items come and go"
mkdir "$Q/list#1" || die "mkdir list#1 failed"
listings_under_churn "$Q/list#1"

section "listings of a table (no sort key) while items come and go"
mkdir "$MNT/churn" || die "mkdir table churn failed"
listings_under_churn "$MNT/churn" table

done_test
