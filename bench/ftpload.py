"""ftpload: FTP control-plane load for the ftpgate benchmark.

One session = connect, read the greeting, USER, PASS, PASV (or EPSV), open
the data connection to the announced port, LIST a small directory, read it
to the end, QUIT. N workers (asyncio tasks in one process) run sessions back
to back for WARMUP + DURATION seconds; sessions that *complete* inside the
measured window (after the warm-up) are counted.

While the window is open it also samples, at its two ends:
  - /proc/stat (the guest's busy CPU time, all CPUs),
  - /proc/PID/stat, /proc/PID/schedstat (run time, time waiting for a CPU)
    and the context switches in /proc/PID/status of the helper daemon (--pid),
  - the packets queued to its NFQUEUE (--queue; /proc/PID/net/netfilter/
    nfnetlink_queue, id_sequence: read through the daemon's own namespace),
so that CPU per session covers exactly the sessions counted.

Prints one JSON object on stdout.

usage: ftpload.py HOST [--mode pasv|epsv] [--concurrency N] [--duration S]
                       [--warmup S] [--path DIR] [--pid PID] [--queue Q]
                       [--timeout S]
"""
import argparse
import asyncio
import json
import os
import re
import socket
import sys
import time

PASV_RE = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPSV_RE = re.compile(rb"\((.)\1\1(\d+)\1\)")


class SessionError(Exception):
    pass


async def reply(reader):
    """One complete reply (multi-line aware); returns (code, last line)."""
    line = await reader.readline()
    if not line:
        raise SessionError("connection closed")
    code = line[:3]
    if line[3:4] == b"-":
        while True:
            more = await reader.readline()
            if not more:
                raise SessionError("connection closed in a multi-line reply")
            if more[:3] == code and more[3:4] == b" ":
                line = more
                break
    return int(code), line


async def command(reader, writer, text, want):
    writer.write(text + b"\r\n")
    code, line = await reply(reader)
    if code // 100 != want // 100:
        raise SessionError("%s -> %r" % (text.split()[0].decode(), line[:80]))
    return line


async def session(host, mode, path):
    reader, writer = await asyncio.open_connection(host, 21)
    try:
        code, line = await reply(reader)
        if code != 220:
            raise SessionError("greeting %r" % line[:80])
        await command(reader, writer, b"USER anonymous", 331)
        await command(reader, writer, b"PASS bench@", 230)
        if mode == "pasv":
            line = await command(reader, writer, b"PASV", 227)
            m = PASV_RE.search(line)
            if not m:
                raise SessionError("bad 227 %r" % line[:80])
            f = [int(x) for x in m.groups()]
            daddr, dport = "%d.%d.%d.%d" % tuple(f[:4]), f[4] * 256 + f[5]
        else:
            line = await command(reader, writer, b"EPSV", 229)
            m = EPSV_RE.search(line)
            if not m:
                raise SessionError("bad 229 %r" % line[:80])
            daddr, dport = host, int(m.group(2))
        dreader, dwriter = await asyncio.open_connection(daddr, dport)
        try:
            writer.write(b"LIST " + path.encode() + b"\r\n")
            code, line = await reply(reader)
            if code not in (125, 150):
                raise SessionError("LIST -> %r" % line[:80])
            listing = b""
            while True:
                chunk = await dreader.read(65536)
                if not chunk:
                    break
                listing += chunk
        finally:
            dwriter.close()
        code, line = await reply(reader)
        if code != 226:
            raise SessionError("LIST end -> %r" % line[:80])
        if not listing:
            raise SessionError("empty listing")
        await command(reader, writer, b"QUIT", 221)
    finally:
        writer.close()


def proc_stat():
    """Busy and total jiffies of all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return sum(v[:8]) - idle, sum(v[:8])


def pid_sample(pid):
    if not pid:
        return None
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
        fields = s[s.rindex(")") + 2:].split()
        utime, stime = int(fields[11]), int(fields[12])
        nice, rt_priority, policy = int(fields[16]), int(fields[37]), int(fields[38])
        with open("/proc/%d/schedstat" % pid) as f:
            run_ns, wait_ns, slices = (int(x) for x in f.read().split()[:3])
        ctx = {}
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"):
                    ctx[k] = int(v)
        return {"utime": utime, "stime": stime, "run_ns": run_ns, "wait_ns": wait_ns,
                "slices": slices, "vcsw": ctx.get("voluntary_ctxt_switches", 0),
                "nvcsw": ctx.get("nonvoluntary_ctxt_switches", 0),
                "sched": "%s%s nice %d" % (SCHED_POLICIES.get(policy, str(policy)),
                                           " %d" % rt_priority if rt_priority else "", nice)}
    except (OSError, ValueError, IndexError):
        return None


def queue_seq(pid, queue):
    """Packets queued so far to NFQUEUE `queue` in the namespace of `pid`
    (the id_sequence column of nfnetlink_queue)."""
    if not pid or queue is None:
        return None
    try:
        with open("/proc/%d/net/netfilter/nfnetlink_queue" % pid) as f:
            for line in f:
                v = line.split()
                if v and int(v[0]) == queue:
                    return int(v[7])
    except (OSError, ValueError, IndexError):
        pass
    return None


SCHED_POLICIES = {0: "SCHED_OTHER", 1: "SCHED_FIFO", 2: "SCHED_RR", 3: "SCHED_BATCH",
                  5: "SCHED_IDLE", 6: "SCHED_DEADLINE"}


def vm_hwm_kib(pid):
    if not pid:
        return None
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


async def main_async(a):
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    w_start, w_end = t0 + a.warmup, t0 + a.warmup + a.duration
    done_in_window = 0
    errors = 0
    error_samples = []
    durations = []
    sample = {}

    async def sampler():
        await asyncio.sleep(max(0.0, w_start - loop.time()))
        sample["start"] = (time.time(), proc_stat(), pid_sample(a.pid),
                           queue_seq(a.pid, a.queue))
        await asyncio.sleep(max(0.0, w_end - loop.time()))
        sample["end"] = (time.time(), proc_stat(), pid_sample(a.pid),
                         queue_seq(a.pid, a.queue))

    async def worker():
        nonlocal done_in_window, errors
        while loop.time() < w_end:
            s = loop.time()
            try:
                await asyncio.wait_for(session(a.host, a.mode, a.path), a.timeout)
            except (OSError, SessionError, asyncio.TimeoutError) as e:
                errors += 1
                if len(error_samples) < 5:
                    error_samples.append("%s: %s" % (type(e).__name__, e))
                await asyncio.sleep(0.05)
                continue
            e = loop.time()
            if w_start <= e < w_end:
                done_in_window += 1
                durations.append(e - s)

    await asyncio.gather(sampler(), *(worker() for _ in range(a.concurrency)))
    (ts0, (b0, _), p0, q0), (ts1, (b1, _), p1, q1) = sample["start"], sample["end"]
    window = ts1 - ts0
    hz = os.sysconf("SC_CLK_TCK")
    out = {
        "mode": a.mode,
        "concurrency": a.concurrency,
        "window_s": round(window, 3),
        "window_start": ts0,
        "window_end": ts1,
        "sessions": done_in_window,
        "sessions_per_s": done_in_window / window if window > 0 else 0,
        "errors": errors,
        "error_samples": error_samples,
        "session_ms_median": (sorted(durations)[len(durations) // 2] * 1000
                              if durations else None),
        "guest_busy_s": (b1 - b0) / hz,
        "guest_cpus": os.cpu_count(),
    }
    if p0 and p1:
        out["daemon_user_s"] = (p1["utime"] - p0["utime"]) / hz
        out["daemon_sys_s"] = (p1["stime"] - p0["stime"]) / hz
        out["daemon_run_s"] = (p1["run_ns"] - p0["run_ns"]) / 1e9
        # runnable but waiting for a CPU (schedstat run_delay)
        out["daemon_wait_s"] = (p1["wait_ns"] - p0["wait_ns"]) / 1e9
        out["daemon_slices"] = p1["slices"] - p0["slices"]
        out["daemon_vcsw"] = p1["vcsw"] - p0["vcsw"]
        out["daemon_nvcsw"] = p1["nvcsw"] - p0["nvcsw"]
        out["daemon_sched"] = p1["sched"]
        out["daemon_vmhwm_kib"] = vm_hwm_kib(a.pid)
    if q0 is not None and q1 is not None:
        out["queued_packets"] = q1 - q0
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("--mode", choices=("pasv", "epsv"), default="pasv")
    p.add_argument("--concurrency", type=int, default=1)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--warmup", type=float, default=1.5)
    p.add_argument("--path", default="pub")
    p.add_argument("--pid", type=int, default=0)
    p.add_argument("--queue", type=int, default=None,
                   help="NFQUEUE of the daemon: count its packets")
    p.add_argument("--timeout", type=float, default=20)
    a = p.parse_args()
    out = asyncio.run(main_async(a))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
