# t_readme.sh - every command of README.md, run as the README shows it,
# against a fresh demo database.
#
# How the README is read (tests/e2e/readme_blocks.py does the splitting):
#
#  - Every ```sh block is run, in README order, one command at a time.  A
#    command is a line, lines joined by a trailing backslash, or a line
#    with a here-document and its body.  Each runs in its own
#    `bash -o pipefail -c`, with no input, in a directory laid out like the
#    repository root: scripts/ and docs/ are the repository's,
#    build/dynfs is the binary under test ($DYNFS), and the demo is
#    mounted at mnt by `scripts/demo` (so its store is demo-store), as the
#    README's first command does.  State carries over from one command to
#    the next, as it would for a reader typing them.
#  - A command must succeed and print nothing on stderr (but a script's
#    "waiting for dynfs (pid N) to release STORE..."), unless it ends in
#    a comment `# fails` (it must fail) or `# fails: TEXT` (fail and print
#    TEXT).  `# prints: TEXT`: it must succeed and print TEXT.  A command
#    that starts with ls or cat (and is not a redirection into a file)
#    must print something.  A pipeline ended by SIGPIPE (`| head`) is fine.
#  - A command that opens an editor (`vim FILE`) is run as `vim -Es -c wq
#    FILE`: vim's whole save path onto dynfs, without a terminal; the item
#    must be unchanged and still readable.
#  - A block after `<!-- t_readme: output of CMD -->` (any language) is
#    output: CMD, run at that point, must print exactly the block.
#  - A ```sh block after `<!-- t_readme: skip (REASON) -->` is not run
#    (REASON says what runs it: .ci/run runs `scripts/setup && make test`).
#    Its commands are still checked: every `make ...` with `make -n`, every
#    other program must exist and be executable, CK_RUN_SUITE=X needs
#    tests/check_X.c.
#
# So a README command that stops working, or an example that stops failing
# the way the README says, fails this test.
need_local "the README's commands on the local demo store"

source "$(dirname "${BASH_SOURCE[0]}")/demo_lib.sh"
export LC_ALL=C.UTF-8
STORE=$T/demo-store # where scripts/demo puts it, relative to the root

ln -s "$REPO/scripts" "$T/scripts"
ln -s "$REPO/docs" "$T/docs"
mkdir -p "$T/build"
ln -s "$DYNFS" "$T/build/dynfs"

python3 "$REPO/tests/e2e/readme_blocks.py" "${README_MD:-$REPO/README.md}" "$T/steps" ||
	{ fail "readme_blocks.py could not read README.md"; done_test; }
[ "$(grep -c $'\trun\t' "$T/steps/steps")" -ge 30 ] ||
	fail "only $(grep -c $'\trun\t' "$T/steps/steps") commands found in README.md"

# The README's first command, scripts/demo, run from the (fake) root.
if ! (cd "$T" && scripts/demo) >"$T/demo.out" 2>&1; then
	cat "$T/demo.out" >&2
	fail "scripts/demo failed"
	done_test
fi
DYNFS_PID=$(cat "$STORE/lock")

# runcmd FILE: run a command file at the root; output in $T/out, $T/err.
runcmd() {
	(cd "$T" && timeout 60 bash -o pipefail -c "$(cat "$1")") </dev/null >"$T/out" 2>"$T/err"
}

# check_skipped FILE: the commands of a block the test does not run.
check_skipped() {
	local line part prog
	while IFS= read -r line; do
		line=${line%%#*}
		[ -n "${line// /}" ] || continue
		while [ -n "$line" ]; do
			part=${line%%&&*}
			[ "$part" = "$line" ] && line= || line=${line#*&&}
			read -r -a w <<<"$part"
			while [[ ${w[0]} == *=* ]]; do
				if [[ ${w[0]} == CK_RUN_SUITE=* ]] && [ ! -e "$REPO/tests/check_${w[0]#*=}.c" ]; then
					fail "README: ${w[0]}: no tests/check_${w[0]#*=}.c"
				fi
				w=("${w[@]:1}")
			done
			prog=${w[0]}
			if [ "$prog" = make ]; then
				env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -C "$REPO" "${w[@]:1}" >/dev/null 2>"$T/err" ||
					fail "README: '$part': make -n fails: $(head -c 300 "$T/err")"
			elif [[ $prog == build/* ]]; then
				env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -C "$REPO" "$prog" >/dev/null 2>&1 || fail "README: '$part': no rule for $prog"
			elif [ ! -x "$REPO/$prog" ]; then
				fail "README: '$part': $prog is not an executable in the repository"
			fi
		done
	done <"$1"
}

ran=0
while IFS=$'\t' read -r id line kind arg; do
	f=$T/steps/$id
	where="README.md:$line"
	case $kind in
	skip)
		echo "--- $where: block not run here ($arg)"
		check_skipped "$f.block"
		continue
		;;
	output)
		echo "--- $where: output of $arg"
		printf '%s\n' "$arg" >"$f.cmd"
		runcmd "$f.cmd" || fail "$where: '$arg' failed: $(cat "$T/err")"
		if ! cmp -s "$T/out" "$f.want"; then
			fail "$where: '$arg' prints something else than the README shows:
$(diff "$f.want" "$T/out" | head -20)"
		fi
		continue
		;;
	editor)
		echo "--- $where: $(head -n 1 "$f.cmd") (as vim -Es -c wq)"
		read -r -a w <"$f.cmd"
		file=$T/${w[-1]}
		before=$(cat "$file" 2>&1)
		(cd "$T" && timeout 60 vim -Es -c wq "${w[@]:1}") </dev/null >"$T/out" 2>&1 ||
			fail "$where: vim could not save ${w[-1]}: $(cat "$T/out")"
		expect_eq "$where: the item after a save without change" "$(cat "$file" 2>&1)" "$before"
		ran=$((ran + 1))
		continue
		;;
	esac

	cmd=$(cat "$f.cmd")
	echo "--- $where: $(head -n 1 "$f.cmd")"
	rc=0
	runcmd "$f.cmd" || rc=$?
	ran=$((ran + 1))
	case $arg in
	fails*)
		msg=${arg#fails}
		msg=${msg#:}
		if [ "$rc" = 0 ]; then
			fail "$where: '$cmd' succeeded; the README says it fails"
		elif [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/out" "$T/err"; then
			fail "$where: '$cmd' failed without '$msg': $(cat "$T/err")"
		fi
		;;
	*)
		# 141: a writer killed by SIGPIPE because `head` had enough
		if [ "$rc" != 0 ] && [ "$rc" != 141 ]; then
			fail "$where: '$cmd' failed ($rc): $(cat "$T/err")"
		elif grep -qv 'waiting for dynfs (pid [0-9]*) to release' "$T/err"; then
			fail "$where: '$cmd' wrote to stderr: $(head -c 500 "$T/err")"
		fi
		if [[ $arg == prints:* ]] && ! grep -qF -- "${arg#prints:}" "$T/out"; then
			fail "$where: '$cmd' does not print '${arg#prints:}': $(head -c 500 "$T/out")"
		fi
		if [[ $cmd =~ ^(ls|cat)[[:space:]] ]] && [[ ! $cmd =~ ^cat[[:space:]]*\> ]] && [ ! -s "$T/out" ]; then
			fail "$where: '$cmd' printed nothing"
		fi
		;;
	esac
done <"$T/steps/steps"
echo "ran $ran README commands"

# The README ends with the demo mounted again.
mountpoint -q "$MNT" || fail "the demo is not mounted after the README's last command"
DYNFS_PID=$(cat "$STORE/lock" 2>/dev/null)
demo_unmount
expect_ok "integrity of the demo store after the tour" "$DYNFS" export "$STORE" --check

done_test
