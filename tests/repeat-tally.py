"""repeat-tally: how often each check passed over N runs (tests/repeat).

usage: repeat-tally.py N LOG...

Each LOG is one run's output. A line "=== SECTION" starts a section (a lab
suite, "unit", "lab selftest", ...); "PASS NAME" and "FAIL NAME: REASON"
lines inside it are its checks (lab_pass/lab_fail in tests/lab/lib.sh,
meson's lines already turned into PASS/FAIL by tests/repeat). A check's name
may itself hold ": ", so a FAIL line is given the longest name, up to one
of its ": ", that passed in the same section in any run; failing that, the
name that passed at the same position of the section in another run; else
its text up to the first ": ".

Prints one line per check, "K/N  SECTION: NAME", the ones below N/N last,
then a summary line. Exit status 0 only when every check passed N times.
"""
import collections
import re
import sys


def parse(path):
    """[(section, index, verdict, text)] of one run's log."""
    out, section, index = [], "(none)", 0
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^=== (\S.*)$", line)
            if m and not re.search(r" took [0-9]+s$", line):
                section, index = m.group(1), 0
                continue
            m = re.match(r"^(PASS|FAIL) (.*)$", line)
            if m:
                out.append((section, index, m.group(1), m.group(2)))
                index += 1
    return out


def pass_name(text):
    """A PASS line's name without the timing lab_check appends, or the
    execution count a fuzz target reports ("fuzz_stream: 579627 executions
    in 30s, no findings" is the check "fuzz_stream")."""
    text = re.sub(r": [0-9]+ executions in [0-9]+s, no findings$", "", text)
    return re.sub(r" \([0-9.]+s\)$", "", text)


def main():
    n = int(sys.argv[1])
    runs = [parse(p) for p in sys.argv[2:]]
    known = collections.defaultdict(set)       # section -> names that passed
    at = {}                                    # (section, index) -> a passing name
    for run in runs:
        for sec, i, verdict, text in run:
            if verdict == "PASS":
                known[sec].add(pass_name(text))
                at.setdefault((sec, i), pass_name(text))
    passes = collections.Counter()
    fails = collections.Counter()
    order = []
    for run in runs:
        seen = collections.Counter()    # a name twice in a section: two checks
        for sec, i, verdict, text in run:
            if verdict == "PASS":
                name = pass_name(text)
            else:
                cuts = [m.start() for m in re.finditer(": ", text)]
                names = [text[:c] for c in reversed(cuts) if text[:c] in known[sec]]
                name = names[0] if names else at.get((sec, i), text[:cuts[0]] if cuts else text)
            seen[(sec, name)] += 1
            k = seen[(sec, name)]
            key = (sec, name if k == 1 else "%s (#%d)" % (name, k))
            if verdict == "PASS":
                passes[key] += 1
            else:
                fails[key] += 1
            if key not in order:
                order.append(key)
    bad = [k for k in order if passes[k] != n]
    for k in [k for k in order if passes[k] == n] + bad:
        note = ""
        if fails[k] or passes[k] + fails[k] != n:
            note = "   (failed %d, missing %d)" % (fails[k], max(n - passes[k] - fails[k], 0))
        print("%*d/%d  %s: %s%s" % (len(str(n)), passes[k], n, k[0], k[1], note))
    print("repeat: %d checks over %d runs, %d at %d/%d, %d not"
          % (len(order), n, len(order) - len(bad), n, n, len(bad)))
    sys.exit(1 if bad or not order else 0)


if __name__ == "__main__":
    main()
