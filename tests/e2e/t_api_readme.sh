# t_api_readme.sh - the commands of README.md's "Use it as your local
# DynamoDB" section, run as shown (its ```bash block, then its two ```python
# blocks, then its ```javascript block), on a free port instead of 8000 and
# in a temp dir: the AWS CLI creates a table and writes and reads an item,
# boto3 writes and reads another, then enables a stream, updates it and
# reads the stream record; the JavaScript SDK (@aws-sdk/client-dynamodb,
# which scripts/setup-api installs into tests/api/node_modules) writes and
# queries a third; each read prints what the README says it would.
need_local "the README's dynfs serve example, no mount of a target"

source ./api_lib.sh
REPO=$(cd ../.. && pwd)
PORT=$(free_port)
cd "$T"
$PY - "$REPO/README.md" "$T" "$PORT" <<'PYEOF'
import re, sys
readme, out, port = sys.argv[1:]
text = open(readme).read()
sec = text.split('## Use it as your local DynamoDB', 1)[1].split('\n## ', 1)[0]
blocks = re.findall(r'```(bash|python|javascript)\n(.*?)```', sec, re.S)
assert [b[0] for b in blocks] == ['bash', 'python', 'python', 'javascript'], [b[0] for b in blocks]
ext = {'bash': 'sh', 'python': 'py', 'javascript': 'js'}
for i, (lang, body) in enumerate(blocks):
    body = body.replace('127.0.0.1:8000', '127.0.0.1:' + port)
    open('%s/readme%s.%s' % (out, i if i > 1 else '', ext[lang]), 'w').write(body)
PYEOF
[ -s "$T/readme.sh" ] || { fail "no blocks found in README.md"; done_test; }
mkdir -p build && ln -s "$DYNFS" build/dynfs
head -1 "$T/readme.sh" >"$T/first.sh"
tail -n +2 "$T/readme.sh" >"$T/rest.sh"
grep -q '&$' "$T/first.sh" || fail "the README's first command should start dynfs serve in the background"
source "$T/first.sh"
SERVE_PID=$!
wait_port "$PORT" || fail "dynfs serve did not listen"
expect_ok "README bash block" bash -e "$T/rest.sh"
grep -q '"hedy@hedy.org"' "$T/out" || fail "get-item did not print hedy's item: $(cat "$T/out")"
expect_ok "README python block" $PY "$T/readme.py"
expect_eq "boto3 output" "$(cat "$T/out")" \
	"{'email': 'f@hedy.org', 'level': Decimal('18'), 'username': 'felienne'}"
expect_ok "README streams block" $PY "$T/readme2.py"
expect_eq "stream output" "$(cat "$T/out")" "MODIFY {'N': '19'}"
NM=$REPO/tests/api/node_modules
if command -v node >/dev/null && [ -d "$NM/@aws-sdk/client-dynamodb" ]; then
	expect_ok "README javascript block" env NODE_PATH="$NM" node "$T/readme3.js"
	expect_eq "JavaScript SDK output" "$(cat "$T/out")" "1 ada@hedy.org"
else
	echo "t_api_readme: the JavaScript block is not run: scripts/setup installs the SDK" >&2
fi
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"
expect_eq "dynfs serve exit status" "$?" "0"
[ -e "$T/my-store/snapshot.json" ] || fail "no snapshot in my-store after SIGTERM"
done_test
