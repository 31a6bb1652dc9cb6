#!/usr/bin/env python3
"""config-doc: the documents that show ftpgate.conf's keys against the key
table in src/core/config.c, the one place defaults are written.

    config-doc.py CONFIG_KEYS SOURCE_ROOT           check (the unit test)
    config-doc.py CONFIG_KEYS SOURCE_ROOT --write   rewrite doc/config.md

CONFIG_KEYS is the built tests/unit/config-keys, which prints the table.
Checked: the value and default columns of doc/config.md's two key tables
(and that they list exactly the table's keys), the same cells in
man/ftpgate.conf.5 (made from doc/config.md by man/generate), the
commented-out defaults in etc/ftpgate.conf.example, the defaults named in
man/ftpgated.8 and in README.md's Configuration section. --write rewrites
the value and default cells of doc/config.md from the table; then run
man/generate and edit the prose the check names by hand. Exits 0 when all
agree, 1 with one line per difference otherwise.
"""
import re
import subprocess
import sys

DOC = "doc/config.md"
MAN = "man/ftpgate.conf.5"
MAN8 = "man/ftpgated.8"
EXAMPLE = "etc/ftpgate.conf.example"
README = "README.md"
FIX = ("change the key table in src/core/config.c or the document so they "
       "agree (ninja -C build config-doc rewrites doc/config.md's cells; "
       "then man/generate)")


class Key:
    def __init__(self, line):
        self.name, self.scope, self.values, self.default, self.note = \
            line.split("\t")

    def in_section(self, section):
        return self.scope in ("both", section)

    def default_cell(self, section):
        """The default column of the key's row in doc/config.md."""
        if section == "server" and self.scope == "both":
            return "the global `%s`" % self.name
        if not self.default:
            return self.note
        cell = self.default if self.default.isdigit() else \
            "`%s`" % self.default
        return "%s (%s)" % (cell, self.note) if self.note else cell


def read_keys(program):
    out = subprocess.run([program], check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    return [Key(line) for line in out.splitlines()]


def md_tables(text):
    """{section: [(line index, cells)]} for the two key tables."""
    tables, section = {}, None
    heads = {"## Global settings": "global", "## Server sections": "server"}
    for i, line in enumerate(text.split("\n")):
        if line.startswith("## "):
            section = heads.get(line.strip())
        if section and line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            tables.setdefault(section, []).append((i, cells))
    return tables


def man_cell(md):
    """A Markdown cell as pandoc writes it in a man page's table."""
    md = md.replace("'", "\\[cq]")
    return re.sub(r"`([^`]*)`", r"\\f[V]\1\\f[R]", md)


def man_tables(text):
    """{section: {key: [cells]}} from pandoc's tbl output."""
    tables, section = {}, None
    heads = {".SS Global settings": "global", ".SS Server sections": "server"}
    for part in re.split(r"(?m)^(?=\.SS )", text):
        section = heads.get(part.split("\n", 1)[0].strip())
        if section is None:
            continue
        cells = [" ".join(c.split()) for c in
                 re.findall(r"T\{\n(.*?)\nT\}", part, re.S)]
        rows = [cells[i:i + 4] for i in range(4, len(cells) - 3, 4)]
        tables[section] = {re.sub(r"\\f\[.\]", "", r[0]): r for r in rows}
    return tables


def check_doc(keys, text, problems):
    tables = md_tables(text)
    for section in ("global", "server"):
        rows = {cells[0].strip("`"): cells for _, cells in
                tables.get(section, [])}
        want = [k for k in keys if k.in_section(section)]
        for k in want:
            cells = rows.pop(k.name, None)
            if cells is None:
                problems.append("%s: %s table has no row for `%s`" %
                                (DOC, section, k.name))
                continue
            for col, cell in ((1, k.values), (2, k.default_cell(section))):
                if cells[col] != cell:
                    problems.append("%s: %s table, `%s`, %s is '%s', the key "
                                    "table says '%s'" % (
                                        DOC, section, k.name,
                                        ("", "value", "default")[col],
                                        cells[col], cell))
        for name in rows:
            problems.append("%s: %s table lists `%s`, which is not a %s key"
                            % (DOC, section, name, section))


def write_doc(keys, text):
    lines = text.split("\n")
    for section, rows in md_tables(text).items():
        by_name = {k.name: k for k in keys if k.in_section(section)}
        for i, cells in rows:
            k = by_name.get(cells[0].strip("`"))
            if k is not None:
                cells[1], cells[2] = k.values, k.default_cell(section)
                lines[i] = "| " + " | ".join(cells) + " |"
    return "\n".join(lines)


def check_man(keys, text, problems):
    tables = man_tables(text)
    for section in ("global", "server"):
        rows = tables.get(section, {})
        for k in (k for k in keys if k.in_section(section)):
            row = rows.get(k.name)
            want = [man_cell(k.values), man_cell(k.default_cell(section))]
            if row is None or row[1:3] != want:
                problems.append("%s: %s table, `%s`: %s, the key table says "
                                "%s; run man/generate" % (
                                    MAN, section, k.name,
                                    row[1:3] if row else "no row", want))


def check_example(keys, text, problems):
    global_part = text.split("\n[server", 1)[0]
    for k in keys:
        if not k.default:
            continue
        m = re.search(r"(?m)^#%s = (.*)$" % re.escape(k.name), global_part)
        if m is None or m.group(1) != k.default:
            problems.append("%s: '#%s = %s', the key table's default is '%s'"
                            % (EXAMPLE, k.name, m.group(1) if m else "",
                               k.default))


def words(text):
    """Running text without roff macros, quotes and line breaks."""
    text = re.sub(r"(?m)^\.[A-Z]+ ?", "", text).replace('"', "")
    return " ".join(text.replace("\\-", "-").split())


def check_prose(keys, man8, readme, problems):
    d = {k.name: k.default for k in keys}
    wants = [
        (MAN8, words(man8), "nft-table (default %s )" % d["nft-table"]),
        (MAN8, words(man8), "FILES /etc/ftpgate/ftpgate.conf configuration, "
         "see ftpgate.conf (5) %s control socket" % d["control-socket"]),
        (README, words(readme),
         "defaults: queue %s, expectations live %s s, at most %s pinholes "
         "per control connection, passive ports %s," % (
             d["queue-number"], d["expect-timeout-seconds"],
             d["max-pinholes-per-session"], d["passive-ports"])),
        (README, words(readme), "address, active mode %s, strict mode %s." %
         (d["active-mode"], d["strict"])),
    ]
    for path, text, phrase in wants:
        if phrase not in text:
            problems.append("%s: does not say \"%s\" (the key table's "
                            "defaults)" % (path, phrase))


def main(argv):
    if len(argv) not in (3, 4) or argv[3:] not in ([], ["--write"]):
        sys.exit(__doc__)
    keys = read_keys(argv[1])
    root = argv[2] + "/"
    doc = open(root + DOC).read()
    if argv[3:] == ["--write"]:
        new = write_doc(keys, doc)
        if new != doc:
            open(root + DOC, "w").write(new)
            print("config-doc: rewrote %s; now run man/generate" % DOC)
        return 0
    problems = []
    check_doc(keys, doc, problems)
    check_man(keys, open(root + MAN).read(), problems)
    check_example(keys, open(root + EXAMPLE).read(), problems)
    check_prose(keys, open(root + MAN8).read(), open(root + README).read(),
                problems)
    for p in problems:
        print("config-doc: " + p)
    if problems:
        print("config-doc: %d difference(s); %s" % (len(problems), FIX))
        return 1
    print("config-doc: %d keys agree with %s, %s, %s, %s and %s" % (
        len(keys), DOC, MAN, EXAMPLE, MAN8, README))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
