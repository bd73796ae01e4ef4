#!/usr/bin/env python3
"""Hedy's side of t_hedy.sh: write and read dev_database.json the way Hedy does.

Hedy's local database (website/dynamo.py, MemoryStorage) loads its file
with json.load and an object hook that turns any object whose "$type" is
"set" into set(elements), and saves it with json.dump(indent=2) and an
encoder that writes a set as {"$type": "set", "elements": [...]}.  Its
lookups return the first record with a key.  This helper does the same,
written from that description (no Hedy code):

  quirks OUT            write a Hedy-format file with every quirk dynfs must
                        read as Hedy does; print the number of records that
                        end up stored and the number of warnings expected
  compare ORIG EXPORT   load both as Hedy does; apply Hedy's first-record-
                        wins rule and dynfs's (DynamoDB's) one difference,
                        empty sets dropped, to ORIG; exit 1 with a diff
                        unless every table of ORIG is equal in EXPORT
  get FILE TABLE KEY ATTR
                        what Hedy's app reads: the record's attribute, as
                        Python's repr (sets sorted)
  app FILE ACTION...    the app changes the file and saves it as Hedy does:
                        delete TABLE KEY | drop TABLE | put TABLE JSON
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMAS = json.load(open(os.path.join(HERE, "..", "..", "schemas", "hedy.json")))


def hedy_hook(obj):
    if obj.get("$type") == "set":
        return set(obj["elements"])
    return obj


def hedy_load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f, object_hook=hedy_hook)


class SetEncoder(json.JSONEncoder):
    def default(self, o):
        if isinstance(o, set):
            return {"$type": "set", "elements": list(o)}
        return json.JSONEncoder.default(self, o)


def hedy_save(tables, path):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tables, f, indent=2, cls=SetEncoder)


def key_names(table):
    s = SCHEMAS[table]
    return [s["partition_key"]["name"]] + ([s["sort_key"]["name"]] if "sort_key" in s else [])


def key_of(table, rec):
    return tuple(rec[k] for k in key_names(table))


def first_wins(table, records):
    seen, out = set(), []
    for r in records:
        k = key_of(table, r)
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def drop_empty_sets(v):
    if isinstance(v, dict):
        return {k: drop_empty_sets(x) for k, x in v.items() if not (isinstance(x, set) and not x)}
    if isinstance(v, list):
        return [drop_empty_sets(x) for x in v]
    return v


def by_key(table, records):
    return sorted(records, key=lambda r: json.dumps(key_of(table, r)))


# A record as text, with duplicate member names where wanted: a list of
# (name, raw JSON text) pairs.
def obj(pairs, indent=6):
    pad = " " * indent
    return "{\n" + ",\n".join('%s"%s": %s' % (pad, n, v) for n, v in pairs) + "\n" + " " * (indent - 2) + "}"


def quirks(out):
    S = lambda *e: '{"$type": "set", "elements": [%s]}' % ", ".join(e)
    users = [
        obj([("username", '"u1"'), ("keyword_language", '"en"'), ("language", '"en"'),
             ("keyword_language", '"nl"'),  # as in Hedy's own seed file: the last wins
             ("teacher_request", "null"), ("third_party", "null"),
             ("created", "1667487371548"), ("epoch", "1"), ("ratio", "100.0"),
             ("score", "0.1"), ("big", "12345678901234567890123"),
             ("display", '"H\\u00e9dy \\ud83d\\ude00"'),
             ("n\\u00e4me", '"\\ud83c\\udf89 party"'),
             ("prefs", '{"theme": "light", "font": 12, "theme": "dark"}'),
             ("classes", S('"c1"', '"c2"', '"c1"')),
             ("removed", S()),
             ("heard_about", "[]"),
             ("nested", '{"lists": [[], [null, true, false], [{"s": %s}]]}' % S('"x"'))]),
        obj([("username", '"u2"'), ("email", '"u2@example.org"'), ("created", "1667487426140"),
             ("epoch", "1"), ("is_teacher", "true")]),
        obj([("username", '"u1"'), ("email", '"second@example.org"')]),  # same key: skipped
    ]
    programs = [
        obj([("id", '"p1"'), ("username", '"u1"'), ("date", "1667488047709"), ("level", "1"),
             ("public", "1"), ("code", '"print hello\\nprint \\"world\\""'), ("error", "false")]),
        obj([("id", '"p2"'), ("username", '"u2"'), ("date", "1667488252222"), ("level", "10"),
             ("public", "0"), ("code", '"for i in range 1 to 3\\n    print i"')]),
        obj([("id", '"p1"'), ("username", '"u2"'), ("date", "1"), ("code", '"a later p1"')]),
    ]
    classes = [obj([("id", '"c1"'), ("teacher", '"u2"'), ("link", '"abc"'),
                    ("name", '"Class 1"'), ("students", S('"u1"')),
                    ("second_teachers", '[{"role": "teacher", "username": "u1"}]')])]
    quiz_answers = [obj([("user", '"u1"'), ("levelAttempt", '"0001_abc"'), ("level", "1"),
                         ("q1", '["A", "B"]'), ("correct", S("1", "5", "10", "100.0", "2.5"))])]
    quiz_stats = [obj([("id#level", '"u1#1"'), ("week", '"2022-44"'), ("id", '"u1"'),
                       ("level", "1"), ("started", "2"), ("finished", "1"), ("scores", "[95, 60.5]")])]
    custom = [obj([("id", '"c1"'), ("levels", "[1, 2]"), ("opening_dates", '{"1": "2023-01-01"}'),
                   ("sorted_adventures",
                    '{"1": [{"name": "story", "from_teacher": false, "tags": %s}]}' % S('"b"', '"a"'))])]
    achievements = [obj([("username", '"u1"'), ("achieved", "[]"), ("commands", '["print"]')])]
    tokens_old = [obj([("id", '"t-old"'), ("username", '"u1"')])]
    tokens = [obj([("id", '"t1"'), ("username", '"u1"'), ("ttl", "1668701770")])]

    def table(name, recs):
        return '  "%s": [\n    %s\n  ]' % (name, ",\n    ".join(recs)) if recs else '  "%s": []' % name

    text = "{\n" + ",\n".join([
        table("users", users), table("tokens", tokens_old), table("programs", programs),
        table("classes", classes), table("quizAnswers", quiz_answers),
        table("quiz-stats", quiz_stats), table("class_customizations", custom),
        table("achievements", achievements), table("surveys", []),
        table("tokens", tokens),  # the table again: the last one wins
    ]) + "\n}\n"
    with open(out, "w", encoding="ascii") as f:
        f.write(text)
    # stored: 2 users, 1 token, 2 programs, 1 class, 1 answer, 1 stat, 1 custom, 1 achievement
    # warnings: keyword_language, prefs.theme, classes element c1, removed (empty set),
    # users[2], programs[2], tokens twice
    print(10, 7)


def compare(orig, export):
    a, b = hedy_load(orig), hedy_load(export)
    bad = False
    for table, recs in a.items():
        want = by_key(table, [drop_empty_sets(r) for r in first_wins(table, recs)])
        got = by_key(table, b.get(table, []))
        if want != got:
            bad = True
            print("table %s differs:\n  Hedy reads the original as: %r\n  and the export as:          %r"
                  % (table, want, got))
    extra = set(b) - set(a)
    if extra:
        bad = True
        print("tables in the export only: %s" % sorted(extra))
    sys.exit(1 if bad else 0)


def show(v):
    if isinstance(v, set):
        return "{" + ", ".join(repr(x) for x in sorted(v)) + "}"
    return repr(v)


def get(path, table, key, attr):
    for r in hedy_load(path).get(table, []):
        if key_of(table, r) == (key,):  # a lookup: the first record with the key
            print(show(r.get(attr)))
            return
    print("no record")


def app(path, args):
    tables = hedy_load(path)
    while args:
        verb = args.pop(0)
        if verb == "delete":
            table, key = args.pop(0), args.pop(0)
            tables[table] = [r for r in tables[table] if key_of(table, r) != (key,)]
        elif verb == "drop":
            del tables[args.pop(0)]
        elif verb == "put":
            table, rec = args.pop(0), hedy_hook(json.loads(args.pop(0)))
            tables.setdefault(table, []).append(rec)
        else:
            sys.exit("app: unknown action %s" % verb)
    hedy_save(tables, path)


def main():
    a = sys.argv[1:]
    if a[:1] == ["quirks"] and len(a) == 2:
        quirks(a[1])
    elif a[:1] == ["compare"] and len(a) == 3:
        compare(a[1], a[2])
    elif a[:1] == ["get"] and len(a) == 5:
        get(*a[1:])
    elif a[:1] == ["app"] and len(a) >= 3:
        app(a[1], a[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
