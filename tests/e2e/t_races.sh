# t_races.sh - readers racing writers of one item (SPEC §5: reading sees
# the last committed version; commit at close or rename).
#
#  - readers racing a writer of one item (O_TRUNC writes, and sed -i's
#    rename commits): every read is a whole version, never ENOENT;
#  - a slow reader, mid-file when the item is rewritten, reads on in the
#    version it started with.
#
# (Split from t_concurrent.sh so that each file has the runner's time
# limit to itself on a loaded machine.)
source "$(dirname "${BASH_SOURCE[0]}")/lib_tools.sh"

mount_fresh
make_table quiz-stats "$QUIZ_SCHEMA"
Q=$MNT/quiz-stats
QK=("id#level" week)
mkdir "$Q/par#1" || die "mkdir $Q/par#1 failed"

# pad N: N x's (so versions differ in length as well as content).
pad() {
	printf "%*s" "$1" "" | tr ' ' x
}

# Version n of a racing item: {"v": n, "pad": <(n * 53) % 800 + 1 x's>}
# (versions differ in length, so a read mixing two of them shows).
RACE_OK='(.pad | length) == (if .v == 0 then 1 else (.v * 53) % 800 + 1 end)'

write_trunc() { # FILE: 200 versions through open(O_TRUNC), write, close
	local n
	for n in $(seq 1 200); do
		printf '{"v": %d, "pad": "%s"}\n' "$n" "$(pad $(((n * 53) % 800 + 1)))" >"$1" ||
			echo "write $n failed" >&2
	done
}

write_sed() { # FILE: 200 versions through sed -i (scratch file + rename)
	local n
	for n in $(seq 1 200); do
		sed -i "s/\"v\": [0-9]*/\"v\": $n/; s/\"pad\": \"x*\"/\"pad\": \"$(pad $(((n * 53) % 800 + 1)))\"/" "$1" ||
			echo "sed -i $n failed" >&2
	done
}

# race_reads WHAT FILE WRITER: WRITER FILE runs in the background while
# FILE is read with cat as fast as possible; every read must be one whole
# version (valid JSON whose pad fits its v), never an error (the item
# exists throughout: ENOENT would mean it vanished during a save).
race_reads() {
	local what=$1 f=$2 writer=$3 i bad=0 reads=0 wpid
	put "$f" '{"v": 0, "pad": "x"}'
	rm -rf "$T/reads"
	mkdir "$T/reads"
	"$writer" "$f" 2>"$T/writer.err" &
	wpid=$!
	while kill -0 "$wpid" 2>/dev/null; do
		reads=$((reads + 1))
		cat "$f" >"$T/reads/$reads" 2>&1
	done
	wait "$wpid"
	for i in $(seq "$reads"); do
		jq -e "$RACE_OK" "$T/reads/$i" >/dev/null 2>&1 && continue
		bad=$((bad + 1))
		[ "$bad" -le 3 ] && echo "$what: bad read #$i, $(wc -c <"$T/reads/$i") bytes:" \
			"$(head -c 80 "$T/reads/$i" | tr '\n' ' ') ... $(tail -c 40 "$T/reads/$i" | cat -v | tr '\n' ' ')"
	done
	echo "$what: $reads reads, $bad bad"
	expect_eq "$what: writer errors" "$(head -5 "$T/writer.err")" ""
	expect_eq "$what: torn, failed or invalid reads (of $reads)" "$bad" 0
	expect_eq "$what: the item at the end" "$(jq -c '[.v, (.pad | length)]' "$f" 2>&1)" \
		"[200,$(((200 * 53) % 800 + 1))]"
	expect_canonical "$what: the item at the end" "$f" "${QK[@]}"
}

section "readers racing O_TRUNC writes: every read is a whole version"
race_reads "O_TRUNC writes" "$Q/par#1/race.json" write_trunc

section "readers racing sed -i (rename commits): whole versions, never ENOENT"
race_reads "sed -i" "$Q/par#1/sed.json" write_sed
expect_no_scratch "sed -i race" "$Q/par#1"

# slow_reader WHAT FILE KIND LEN: an open reader that has read 64 bytes of
# a quiet item (so it may be reading through the page cache) when the
# item is rewritten (KIND trunc: open O_TRUNC + write + close; sed: sed -i)
# with a version of a different length, then reads on: it must get
# exactly the version it started with, the rest of it and nothing else.
slow_reader() {
	local what=$1 f=$2 kind=$3 len=$4 got
	put "$f" "{\"v\": 1, \"pad\": \"$(pad 500)\"}"
	cat "$f" >"$T/old"
	sleep 1.5 # quiet: a reader may now be given the page cache
	got=$(perl -e '
		my ($f, $kind, $len, $out) = @ARGV;
		open(my $fh, "<", $f) or die "open $f: $!\n";
		sysread($fh, my $all, 64) // die "read: $!\n";
		my $pad = "x" x $len;
		if ($kind eq "sed") {
			system("sed", "-i", "s/\"v\": 1/\"v\": 2/; s/\"pad\": \"x*\"/\"pad\": \"$pad\"/", $f) == 0
				or die "sed -i failed\n";
		} else {
			open(my $w, ">", $f) or die "open for writing: $!\n";
			print $w "{\"v\": 2, \"pad\": \"$pad\"}\n";
			close($w) or die "close: $!\n";
		}
		while (1) {
			my $n = sysread($fh, my $buf, 64) // die "read: $!\n";
			last if $n == 0;
			$all .= $buf;
		}
		open(my $o, ">", $out) or die; print $o $all; close($o);
		print "ok\n";' "$f" "$kind" "$len" "$T/slow" 2>&1)
	expect_eq "$what: slow reader" "$got" ok
	if ! cmp -s "$T/old" "$T/slow"; then
		fail "$what: the slow reader did not get the version it started with:
$(diff <(cat -v "$T/old") <(cat -v "$T/slow") | cut -c1-120 | head -8)"
	fi
	expect_eq "$what: the new version" "$(jq -c '[.v, (.pad | length)]' "$f" 2>&1)" "[2,$len]"
}

section "a slow reader keeps its version while the item is rewritten"
for kind in trunc sed; do
	for len in 100 900; do
		slow_reader "$kind, $len bytes" "$Q/par#1/slow-$kind-$len.json" "$kind" "$len"
	done
done
expect_no_scratch "slow readers" "$Q/par#1"

