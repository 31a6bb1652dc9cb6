"""summarize: turn the BENCH-* lines of a bench/guest.sh log into tables.

usage: summarize.py LOG [--json OUT]

Medians are taken over the rounds of the comparison (phase "main"); ratios
are computed within each round, between runs that ran next to each other
(A B C at the same concurrency), and their median is reported, so a slow
drift of the machine hits both sides of every ratio alike. Latency
percentiles pool every sample of all rounds.
"""
import json
import statistics
import sys

HELPERS = ("kernel", "kernel-queue", "kernel-log", "conntrackd", "ftpgated", "ftpgated-rr", "ftpgated-alt",
           "ftpgated-alt-rr", "ftpgated-replies", "ftpgated-alt-replies",
           "kernel-nat", "ftpgated-nat", "ftpgated-alt-nat")


def load(path):
    info, runs, profile, errors = [], [], [], []
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("BENCH-RUN "):
                try:
                    runs.append(json.loads(line[len("BENCH-RUN "):]))
                except ValueError:
                    errors.append("unreadable BENCH-RUN line")
            elif line.startswith("BENCH-INFO "):
                info.append(line[len("BENCH-INFO "):])
            elif line.startswith("BENCH-PROFILE "):
                profile.append(line[len("BENCH-PROFILE "):])
            elif line.startswith("BENCH-ERROR"):
                errors.append(line)
    return info, runs, profile, errors


def pct(values, p):
    if not values:
        return None
    v = sorted(values)
    k = (len(v) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, spec="%.1f", none="-"):
    return none if v is None else spec % v


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def per_1000(run, key):
    if run.get(key) is None or not run.get("sessions"):
        return None
    return run[key] / run["sessions"] * 1000


def table(header, rows):
    out = ["| " + " | ".join(header) + " |",
           "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


def main():
    path = sys.argv[1]
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    info, runs, profile, errors = load(path)
    main_runs = [r for r in runs if r.get("phase") == "main"]
    helpers = [h for h in HELPERS if any(r["helper"] == h for r in main_runs)]
    ns = sorted({r["concurrency"] for r in main_runs})
    rounds = sorted({r["round"] for r in main_runs})
    out = []
    summary = {"info": info, "throughput": {}, "latency": {}, "cpu": {}}

    out.append("Guest and options:\n")
    out.extend("    " + i for i in info if not i.startswith("round "))
    out.append("")

    ceiling = [r for r in runs if r.get("phase") == "ceiling"]
    if ceiling:
        out.append("### Ceiling: each FTP server with no helper and nothing dropped (PASV)\n")
        servers = sorted({r["server"] for r in ceiling})
        rows = []
        for s in servers:
            row = [s]
            for n in ns or sorted({r["concurrency"] for r in ceiling}):
                rs = [r for r in ceiling if r["server"] == s and r["concurrency"] == n]
                row.append(fmt(med([r.get("sessions_per_s") for r in rs])))
            rs = [r for r in ceiling if r["server"] == s]
            lat = [x for r in rs for x in r.get("samples_us", [])]
            row.append(fmt(pct(lat, 50), "%.0f"))
            rows.append(row)
        cols = ns or sorted({r["concurrency"] for r in ceiling})
        out.append(table(["server"] + ["sessions/s N=%d" % n for n in cols]
                         + ["gateway residence of 227, median us"], rows))
        out.append("")

    def runs_of(h, n, rnd=None):
        return [r for r in main_runs if r["helper"] == h and r["concurrency"] == n
                and (rnd is None or r["round"] == rnd)]

    def paired(h, other, n, key):
        vals = []
        for rnd in rounds:
            a, b = runs_of(h, n, rnd), runs_of(other, n, rnd)
            if a and b:
                vals.append(ratio(a[0].get(key), b[0].get(key)))
        return med(vals)

    refs = [h for h in helpers if h.startswith("ftpgated") and not h.endswith("-nat")]
    bases = [h for h in ("kernel", "conntrackd") if h in helpers]
    pairs = [(r, b) for r in refs for b in bases]
    # a helper on the NAT gateway against itself without NAT (issue 13:
    # the cost of a NATed session), and ftpgated's NAT against the kernel's
    pairs += [(h, h[:-4]) for h in helpers if h.endswith("-nat") and h[:-4] in helpers]
    # capture = replies against the same build under capture = helper
    pairs += [(h, h[:-8]) for h in helpers if h.endswith("-replies") and h[:-8] in helpers]
    # the kernel helper with the round trip to userspace added, against
    # itself (the round trip's own cost), and ftpgated against that (its
    # own work on top of the same messages)
    pairs += [(h, "kernel") for h in ("kernel-queue", "kernel-log")
              if h in helpers and "kernel" in helpers]
    pairs += [(f, q) for f, q in (("ftpgated", "kernel-queue"),
                                  ("ftpgated-replies", "kernel-log"))
              if f in helpers and q in helpers]
    pairs += [(h, "kernel-nat") for h in helpers
              if h.startswith("ftpgated") and h.endswith("-nat") and "kernel-nat" in helpers]
    if main_runs:
        server = main_runs[0].get("server")
        out.append("### Control-plane throughput: sessions/s (PASV, server %s, %d rounds)\n"
                   % (server, len(rounds)))
        rows = []
        for n in ns:
            row = ["%d" % n]
            tp = {}
            for h in helpers:
                vals = [r.get("sessions_per_s") for r in runs_of(h, n)]
                tp[h] = med(vals)
                errs = sum(r.get("errors", 0) for r in runs_of(h, n))
                row.append("%s (%s-%s)%s" % (fmt(tp[h]), fmt(min(vals) if vals else None),
                                            fmt(max(vals) if vals else None),
                                            ", %d errors" % errs if errs else ""))
            summary["throughput"][n] = {"median": tp}
            for a, b in pairs:
                r = paired(a, b, n, "sessions_per_s")
                row.append(fmt(r, "%.2f"))
                summary["throughput"][n]["%s/%s" % (a, b)] = r
            rows.append(row)
        out.append(table(["N"] + ["%s median (min-max)" % h for h in helpers]
                         + ["%s / %s" % p for p in pairs], rows))
        out.append("\nRatios: median over rounds of the ratio within a round.\n")

        out.append("### Gateway residence time of the 227 reply (us; server in, client out)\n")
        rows = []
        for n in ns:
            stats = {}
            for h in helpers:
                lat = [x for r in runs_of(h, n) for x in r.get("samples_us", [])]
                stats[h] = (pct(lat, 50), pct(lat, 99), len(lat))
            row = ["%d" % n]
            for h in helpers:
                p50, p99, cnt = stats[h]
                row.append("%s / %s (%d)" % (fmt(p50, "%.0f"), fmt(p99, "%.0f"), cnt))
            for a, b in pairs:
                row.append("%s / %s" % (fmt(ratio(stats[a][0], stats[b][0]), "%.2f"),
                                        fmt(ratio(stats[a][1], stats[b][1]), "%.2f")))
            rows.append(row)
            summary["latency"][n] = {h: {"p50": stats[h][0], "p99": stats[h][1],
                                         "n": stats[h][2]} for h in helpers}
        out.append(table(["N"] + ["%s p50 / p99 (samples)" % h for h in helpers]
                         + ["%s / %s p50 / p99" % p for p in pairs], rows))
        out.append("")

        out.append("### CPU and memory\n")
        rows = []
        for n in ns:
            for h in helpers:
                rs = runs_of(h, n)
                daemon = med([per_1000(r, "daemon_run_s") for r in rs])
                user = med([per_1000(r, "daemon_user_s") for r in rs])
                sys_ = med([per_1000(r, "daemon_sys_s") for r in rs])
                guest = med([per_1000(r, "guest_busy_s") for r in rs])
                pkts = med([ratio(r.get("queued_packets"), r.get("sessions")) for r in rs])
                per_pkt = med([ratio(r.get("daemon_run_s"), r.get("queued_packets"))
                               for r in rs])
                hwm = max([r.get("daemon_vmhwm_kib") or 0 for r in rs] or [0]) or None
                wait = med([ratio(r.get("daemon_wait_s"), r.get("queued_packets")) for r in rs])
                nvcsw = med([ratio(r.get("daemon_nvcsw"), r.get("queued_packets")) for r in rs])
                wakes = med([ratio(r.get("daemon_vcsw"), r.get("queued_packets")) for r in rs])
                rows.append(["%d" % n, h,
                             fmt(daemon, "%.2f", "n/a"),
                             "%s / %s" % (fmt(user, "%.2f", "n/a"), fmt(sys_, "%.2f", "n/a")),
                             fmt(pkts, "%.1f", "n/a"),
                             fmt(per_pkt * 1e6 if per_pkt else None, "%.0f", "n/a"),
                             fmt(wait * 1e6 if wait is not None else None, "%.0f", "n/a"),
                             "%s / %s" % (fmt(wakes * 1000 if wakes is not None else None, "%.0f", "n/a"),
                                          fmt(nvcsw * 1000 if nvcsw is not None else None, "%.0f", "n/a")),
                             fmt(hwm, "%d", "n/a"),
                             fmt(guest, "%.1f")])
                summary["cpu"].setdefault(n, {})[h] = {
                    "daemon_cpu_s_per_1000": daemon, "user": user, "sys": sys_,
                    "packets_per_session": pkts, "vmhwm_kib": hwm,
                    "guest_busy_s_per_1000": guest}
        sched = {}
        for r in main_runs:
            if r.get("daemon_sched"):
                sched.setdefault(r["helper"], set()).add(r["daemon_sched"])
        if sched:
            out.append("Daemon scheduling: " + "; ".join(
                "%s %s" % (h, "/".join(sorted(sched[h]))) for h in helpers if h in sched) + "\n")
        out.append(table(["N", "helper", "daemon CPU s / 1000 sessions",
                          "user / sys (ticks) s / 1000", "queued packets / session",
                          "daemon CPU us / packet", "daemon wait for CPU us / packet",
                          "sleeps / preemptions per 1000 packets", "peak RSS KiB (VmHWM)",
                          "whole guest busy CPU s / 1000 sessions"], rows))
        out.append("\nDaemon CPU: /proc/PID/schedstat run time over the measured window;"
                   " user/sys: /proc/PID/stat utime/stime (10 ms ticks). The in-kernel helper"
                   " has no daemon: its cost is inside the whole-guest column (softirq),"
                   " which also holds the client, the server and the kernel's forwarding."
                   " Wait for CPU: schedstat run_delay (runnable, not running). Sleeps /"
                   " preemptions: voluntary / involuntary context switches.\n")
        rows = []
        for n in ns:
            g = {h: med([per_1000(r, "guest_busy_s") for r in runs_of(h, n)]) for h in helpers}
            dm = {h: summary["cpu"][n].get(h, {}).get("daemon_cpu_s_per_1000") for h in helpers}
            row = ["%d" % n]
            for a_, b_ in pairs:
                row.append(fmt(ratio(g.get(a_), g.get(b_)), "%.2f"))
                if b_ == "conntrackd":
                    row.append(fmt(ratio(dm.get(a_), dm.get(b_)), "%.2f"))
            rows.append(row)
        hdr = ["N"]
        for a_, b_ in pairs:
            hdr.append("guest CPU/session %s / %s" % (a_, b_))
            if b_ == "conntrackd":
                hdr.append("daemon CPU/session %s / %s" % (a_, b_))
        out.append(table(hdr, rows))
        out.append("")

    epsv = [r for r in runs if r.get("phase") == "epsv"]
    if epsv:
        out.append("### EPSV (one run each)\n")
        rows = []
        for r in epsv:
            lat = r.get("samples_us", [])
            rows.append([r["helper"], "%d" % r["concurrency"], fmt(r.get("sessions_per_s")),
                         "%d" % r.get("sessions", 0), "%d" % r.get("errors", 0),
                         "; ".join(r.get("error_samples", [])[:1]) or "-",
                         fmt(pct(lat, 50), "%.0f")])
        out.append(table(["helper", "N", "sessions/s", "sessions", "failed sessions",
                          "first failure", "229 residence p50 us"], rows))
        out.append("")

    # strace -c blocks: system calls per queued packet
    traces, cur = {}, None
    for line in profile:
        if line.startswith("strace -c -f "):
            helper, _, rest = line[len("strace -c -f "):].partition(":")
            try:
                cur = traces.setdefault(helper, {"packets": int(rest.split()[0]), "calls": {}})
            except (ValueError, IndexError):
                cur = None
            continue
        f = line.split()
        if cur is not None and len(f) >= 5 and f[0][0].isdigit() and f[-1] != "total":
            try:
                cur["calls"][f[-1]] = int(f[3])
            except ValueError:
                pass
    if traces:
        out.append("### System calls per queued packet (strace -c -f, one run each at N=%s;"
                   " strace slows the daemon, so only the counts matter)\n"
                   % ",".join(sorted({str(r["concurrency"]) for r in runs
                                      if r.get("phase") == "profile"})))
        names = []
        for t in traces.values():
            if t["packets"] <= 0:
                continue
            for k, v in sorted(t["calls"].items(), key=lambda kv: -kv[1]):
                if k not in names and v / t["packets"] >= 0.01:
                    names.append(k)
        rows = []
        for h, t in traces.items():
            if t["packets"] <= 0:
                # kernel-log: copies, not queued packets; nothing to
                # count them against here
                rows.append([h, "n/a", "-"] + ["-" for k in names])
                continue
            pk = t["packets"]
            rows.append([h, "%d" % t["packets"], "%.2f" % (sum(t["calls"].values()) / pk)]
                        + ["%.2f" % (t["calls"].get(k, 0) / pk) if k in t["calls"] else "-"
                           for k in names])
        out.append(table(["helper", "packets", "all"] + names, rows))
        out.append("")

    if errors:
        out.append("Errors:\n")
        out.extend("    " + e for e in errors)
    print("\n".join(out))
    if json_out:
        with open(json_out, "w") as f:
            json.dump(summary, f, indent=1, default=str)


if __name__ == "__main__":
    main()
