"""audit-check: assertions on ftpgated's audit log and ftpgatectl output
for the lab (schema: doc/audit.md).

usage: audit-check.py COMMAND ARGS...

  valid LOG
      every line is one JSON object with "v": 1, an ISO "time" ending in Z
      and an "event"; prints how many lines
  outcome LOG SINCE PORT WANT [KEY=VALUE...]
      the last pinhole-opened (or -adopted) after line SINCE for data port
      PORT (and matching every KEY=VALUE, dotted keys into objects) is
      followed by exactly one end event of its pinhole id, whose outcome is
      WANT (used, expired, session-ended, removed-by-ftpgate, ...); for
      "used" the data connection goes to PORT from the pinhole's source
  all-used LOG SINCE DESTINATION MIN
      at least MIN pinholes to DESTINATION were opened after SINCE, and
      every one of them ended "used", its end after its opening
  event LOG SINCE EVENT [KEY=VALUE...]
      some EVENT after line SINCE matches every KEY=VALUE
  no-event LOG SINCE EVENT [KEY=VALUE...]
      no EVENT after line SINCE matches every KEY=VALUE (name the check's
      own objects, e.g. pinhole=ID: the log holds earlier checks' events)
  compare PINHOLES_JSON CONNTRACK_TEXT
      `ftpgatectl pinholes --json` and `conntrack -L expect` list exactly
      the same expectations of helper ftpgate (tuple and master)
  field JSON_FILE DOTTED.KEY
      print a value from a JSON document ("servers.0.level")

Exit status 0 when the assertion holds, 1 when not (with the reason), 2 on
usage errors. SINCE counts lines: events on lines SINCE+1 and later.
"""
import json
import re
import sys


def die(msg, code=1):
    print(msg)
    sys.exit(code)


def load(path, since=0):
    out = []
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            if n <= since:
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                die("line %d is not JSON (%s): %r" % (n, e, line[:200]))
            out.append((n, obj))
    return out


def get(obj, dotted):
    for part in dotted.split("."):
        if isinstance(obj, list):
            obj = obj[int(part)] if part.isdigit() and int(part) < len(obj) else None
        elif isinstance(obj, dict):
            obj = obj.get(part)
        else:
            return None
    return obj


def matches(obj, conds):
    """Every KEY=VALUE holds; true/false/null compare as JSON spells them."""
    for c in conds:
        k, _, v = c.partition("=")
        got = get(obj, k)
        text = json.dumps(got) if isinstance(got, (bool, type(None))) else str(got)
        if text != v:
            return False
    return True


END_EVENTS = ("pinhole-used", "pinhole-expired", "pinhole-removed")


def cmd_valid(path):
    lines = load(path)
    for n, o in lines:
        if not isinstance(o, dict) or o.get("v") != 1 or not isinstance(o.get("event"), str):
            die("line %d lacks v/event: %r" % (n, o))
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", str(o.get("time"))):
            die("line %d: bad time %r" % (n, o.get("time")))
    print("%d valid audit lines" % len(lines))


def cmd_outcome(path, since, port, want, conds):
    lines = load(path, int(since))
    port = int(port)
    opened = [(n, o) for n, o in lines
              if o["event"] in ("pinhole-opened", "pinhole-adopted")
              and o.get("port") == port and matches(o, conds)]
    if not opened:
        die("no pinhole-opened for port %d %s after line %s" % (port, " ".join(conds), since))
    n0, o = opened[-1]
    pid = o["pinhole"]
    ends = [(n, e) for n, e in lines if e["event"] in END_EVENTS and e.get("pinhole") == pid]
    if len(ends) != 1:
        die("pinhole %s (port %d, opened on line %d) has %d end events, want 1: %s"
            % (pid, port, n0, len(ends), [e["event"] for _, e in ends]))
    n1, e = ends[0]
    if n1 < n0:
        die("pinhole %s ended (line %d) before it opened (line %d)" % (pid, n1, n0))
    if e.get("outcome") != want:
        die("pinhole %s (port %d) ended %s (%s), want %s"
            % (pid, port, e.get("outcome"), e["event"], want))
    if want == "used":
        d = e.get("data") or {}
        if d.get("destination_port") != port or d.get("source") != o.get("source") \
                or not d.get("source_port"):
            die("pinhole %s used by an odd connection: %r" % (pid, d))
    print("pinhole %s: %s (line %d) -> %s (line %d, after %ss)"
          % (pid, o["event"], n0, e["event"], n1, e.get("lifetime_s")))


def cmd_all_used(path, since, destination, minimum):
    lines = load(path, int(since))
    opened = [(n, o) for n, o in lines
              if o["event"] == "pinhole-opened" and o.get("destination") == destination
              and not o.get("refreshed")]
    if len(opened) < int(minimum):
        die("%d pinholes to %s opened after line %s, want at least %s"
            % (len(opened), destination, since, minimum))
    for n0, o in opened:
        ends = [(n, e) for n, e in lines if e["event"] in END_EVENTS
                and e.get("pinhole") == o["pinhole"]]
        if len(ends) != 1 or ends[0][1].get("outcome") != "used" or ends[0][0] < n0:
            die("pinhole %s to %s:%s (line %d) ended %s, want one pinhole-used"
                % (o["pinhole"], destination, o.get("port"), n0,
                   [(n, e.get("outcome")) for n, e in ends]))
    print("%d pinholes to %s: opened -> used" % (len(opened), destination))


def cmd_event(path, since, event, conds):
    for n, o in load(path, int(since)):
        if o["event"] == event and matches(o, conds):
            print("line %d: %s" % (n, json.dumps(o)[:300]))
            return
    die("no %s with %s after line %s" % (event, " ".join(conds), since))


def cmd_no_event(path, since, event, conds):
    for n, o in load(path, int(since)):
        if o["event"] == event and matches(o, conds):
            die("line %d: %s" % (n, json.dumps(o)[:300]))
    print("no %s with %s after line %s" % (event, " ".join(conds), since))


def conntrack_expectations(path):
    """(src, dst, dport, master src, master dst, master sport, master dport)
    of every helper=ftpgate line of `conntrack -L expect`."""
    out = set()
    with open(path) as f:
        for line in f:
            if "helper=ftpgate" not in line:
                continue
            kv = [tuple(x.split("=", 1)) for x in line.split() if "=" in x]
            keys = [k for k, _ in kv]
            m = keys.index("mask-src")
            d = keys.index("master-dst")
            tup = dict(kv[:m])
            out.add((tup["src"], tup["dst"], int(tup["dport"]),
                     dict(kv)["master-src"], kv[d][1],
                     int(kv[d + 1][1]), int(kv[d + 2][1])))
    return out


def cmd_compare(json_path, ct_path):
    with open(json_path) as f:
        doc = json.load(f)
    listed = set()
    for p in doc["pinholes"]:
        c = p["control"]
        listed.add((p["source"], p["destination"], p["port"], c["client"], c["server"],
                    c["client_port"], c["server_port"]))
    kernel = conntrack_expectations(ct_path)
    if doc.get("count") != len(doc["pinholes"]):
        die("count %s but %d pinholes listed" % (doc.get("count"), len(doc["pinholes"])))
    if listed != kernel:
        die("ftpgatectl lists %d, conntrack %d; only in ftpgatectl: %s; only in conntrack: %s"
            % (len(listed), len(kernel), sorted(listed - kernel), sorted(kernel - listed)))
    print("ftpgatectl pinholes --json = conntrack -L expect (helper ftpgate): %d expectations"
          % len(kernel))


def main():
    a = sys.argv[1:]
    try:
        if a[0] == "valid":
            cmd_valid(a[1])
        elif a[0] == "outcome":
            cmd_outcome(a[1], a[2], a[3], a[4], a[5:])
        elif a[0] == "all-used":
            cmd_all_used(a[1], a[2], a[3], a[4])
        elif a[0] == "event":
            cmd_event(a[1], a[2], a[3], a[4:])
        elif a[0] == "no-event":
            cmd_no_event(a[1], a[2], a[3], a[4:])
        elif a[0] == "compare":
            cmd_compare(a[1], a[2])
        elif a[0] == "field":
            with open(a[1]) as f:
                print(get(json.load(f), a[2]))
        else:
            die(__doc__, 2)
    except IndexError:
        die(__doc__, 2)


if __name__ == "__main__":
    main()
