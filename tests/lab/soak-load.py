"""soak-load: FTP session churn and held sessions for the lab soak
(tests/lab/suite-soak.sh). Runs in the lab's client namespace.

usage:
  soak-load.py churn --sessions N [--concurrency C] [--kinds K,K,...] [--daemon-pid PID]
                     [--expire-wait S] [--timeout S]
      N control sessions, kinds taken in turn from the list (default:
      every kind), at most C doing something at once (a session waiting
      for its pinhole to expire does not count). Prints one JSON object:
      sessions, errors (with samples), per-kind counts, the pinhole
      outcomes the sessions must have caused, elapsed time, sessions/s.
      With --daemon-pid, stops at once when that process exits (failing:
      daemon_gone says so) rather than leaving every session to time out.
  soak-load.py hold --count N [--ready FILE] [--release FILE] [--timeout S] [--concurrency N]
      open N control connections (IPv4 and IPv6 in turn), log each in,
      write "N" to FILE (--ready) once all are logged in, wait until the
      --release file exists, then QUIT them all. Exit 0 when every one
      logged in and quit cleanly.
  soak-load.py stats-check STATS_JSON CHURN_JSON... [--extra-sessions N]
                     [--untracked N]
      the daemon's counters (ftpgatectl --json stats), once settled, match
      what the churn runs (their JSON outputs) did: every session ended,
      every recorded pinhole closed once, outcomes used / expired /
      removed and refusals as the session kinds imply, nothing lost.
  soak-load.py audit-balance LOG [--midstream N]
      every session-started has exactly one session-ended of the same
      conntrack ID after it, and every pinhole-opened (not refreshed) has
      exactly one end event (used, expired, removed) after it; with
      --midstream, exactly N sessions were picked up mid-stream. Prints
      the event counts.

The servers, all in the server namespace: soak-ftpd.py (pyftpdlib) on the
lab server's addresses SERVER4 and SERVER6 for the passive kinds, vsftpd on
ACTIVE4 and ACTIVE6 for the active ones (pyftpdlib connects to a PORT/EPRT
address before it answers 200, so before ftpgate opens the pinhole: its
active mode cannot pass ftpgate), fake-ftpd.py on FAKE4 for the refusals
(login names port22, thirdparty, unsolicited).
"""
import argparse
import asyncio
import collections
import json
import os
import re
import socket
import struct
import sys
import time

SERVER4, SERVER6 = "203.0.113.2", "2001:db8:2::2"
ACTIVE4, ACTIVE6 = "192.0.2.7", "2001:db8:2::7"
FAKE4 = "192.0.2.8"
PASV_RE = re.compile(rb"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)")
EPSV_RE = re.compile(rb"\((.)\1\1(\d+)\1\)")

# kind: (server, what it does). The pinhole outcome each kind must cause
# is in OUTCOMES.
KINDS = {
    "pasv-list4": SERVER4,      # PASV, LIST: used
    "epsv-retr6": SERVER6,      # EPSV, RETR: used
    "epsv-list4": SERVER4,      # EPSV on IPv4, LIST: used
    "supersede4": SERVER4,      # PASV, PASV, LIST: superseded + used
    "supersede6": SERVER6,      # EPSV, EPSV, RETR: superseded + used
    "port-list4": ACTIVE4,      # PORT, LIST (active): used
    "eprt-list6": ACTIVE6,      # EPRT, LIST (active): used
    "abort4": SERVER4,          # PASV, ABOR: removed (abort)
    "abort6": SERVER6,          # EPSV, ABOR
    "quit4": SERVER4,           # PASV, QUIT: removed (quit)
    "close6": SERVER6,          # EPSV, then FIN without QUIT
    "reset4": SERVER4,          # PASV, then RST
    "expire4": SERVER4,         # PASV, wait past the timeout, QUIT: expired
    "expire6": SERVER6,         # EPSV, the same
    "refused-port22": FAKE4,    # 227 naming port 22: refused
    "refused-thirdparty": FAKE4,  # 227 naming another host: refused
    "refused-unsolicited": FAKE4,  # 227 nobody asked for: refused
    "noop6": SERVER6,           # login, NOOP, QUIT: no pinhole
}
# pinholes each kind ends: used / expired / removed (by ftpgated, or with
# the control connection's conntrack: removed-by-ftpgate + session-ended)
OUTCOMES = {
    "pasv-list4": {"used": 1}, "epsv-retr6": {"used": 1}, "epsv-list4": {"used": 1},
    "supersede4": {"used": 1, "removed": 1}, "supersede6": {"used": 1, "removed": 1},
    "port-list4": {"used": 1}, "eprt-list6": {"used": 1},
    "abort4": {"removed": 1}, "abort6": {"removed": 1}, "quit4": {"removed": 1},
    "close6": {"removed": 1}, "reset4": {"removed": 1},
    "expire4": {"expired": 1}, "expire6": {"expired": 1},
    "refused-port22": {"refused": 1}, "refused-thirdparty": {"refused": 1},
    "refused-unsolicited": {"refused": 1}, "noop6": {},
}


class SessionError(Exception):
    pass


class Control:
    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host):
        r, w = await asyncio.open_connection(host, 21)
        c = cls(r, w)
        code, line = await c.reply()
        if code != 220:
            raise SessionError("greeting %r" % line[:80])
        return c

    async def reply(self):
        line = await self.reader.readline()
        if not line:
            raise SessionError("control connection closed")
        code = line[:3]
        if line[3:4] == b"-":
            while True:
                more = await self.reader.readline()
                if not more:
                    raise SessionError("closed in a multi-line reply")
                if more[:3] == code and more[3:4] == b" ":
                    line = more
                    break
        return int(code), line

    async def cmd(self, text, want):
        self.writer.write(text.encode() + b"\r\n")
        code, line = await self.reply()
        if code // 100 != want // 100 or (want >= 100 and want % 100 and code != want):
            raise SessionError("%s -> %r, want %d" % (text.split()[0], line[:80], want))
        return line

    async def login(self, user="anonymous"):
        await self.cmd("USER " + user, 331)
        await self.cmd("PASS soak@", 230)

    async def passive(self, verb):
        line = await self.cmd(verb, 227 if verb == "PASV" else 229)
        if verb == "PASV":
            m = PASV_RE.search(line)
            if not m:
                raise SessionError("bad 227 %r" % line[:80])
            f = [int(x) for x in m.groups()]
            return "%d.%d.%d.%d" % tuple(f[:4]), f[4] * 256 + f[5]
        m = EPSV_RE.search(line)
        if not m:
            raise SessionError("bad 229 %r" % line[:80])
        return self.writer.get_extra_info("peername")[0], int(m.group(2))

    async def transfer(self, verb, data_addr, data_port):
        """Passive: connect to the announced port, send verb, read to EOF."""
        dr, dw = await asyncio.open_connection(data_addr, data_port)
        try:
            self.writer.write(verb.encode() + b"\r\n")
            code, line = await self.reply()
            if code not in (125, 150):
                raise SessionError("%s -> %r" % (verb, line[:80]))
            got = b""
            while True:
                chunk = await dr.read(65536)
                if not chunk:
                    break
                got += chunk
        finally:
            dw.close()
        code, line = await self.reply()
        if code != 226:
            raise SessionError("%s end -> %r" % (verb, line[:80]))
        if not got:
            raise SessionError("%s: no data" % verb)

    async def active(self, verb, command):
        """Active: listen on our control address, PORT/EPRT, then the
        server connects to us for `command`."""
        local = self.writer.get_extra_info("sockname")[0]
        got = asyncio.get_running_loop().create_future()

        async def accept(r, w):
            data = b""
            try:
                while True:
                    chunk = await r.read(65536)
                    if not chunk:
                        break
                    data += chunk
            finally:
                w.close()
            if not got.done():
                got.set_result(data)

        srv = await asyncio.start_server(accept, local, 0)
        try:
            port = srv.sockets[0].getsockname()[1]
            if verb == "PORT":
                arg = "%s,%d,%d" % (local.replace(".", ","), port // 256, port % 256)
            else:
                arg = "|2|%s|%d|" % (local, port)
            await self.cmd("%s %s" % (verb, arg), 200)
            self.writer.write(command.encode() + b"\r\n")
            code, line = await self.reply()
            if code not in (125, 150):
                raise SessionError("%s -> %r" % (command, line[:80]))
            data = await got
            code, line = await self.reply()
            if code != 226:
                raise SessionError("%s end -> %r" % (command, line[:80]))
            if not data:
                raise SessionError("%s: no data" % command)
        finally:
            srv.close()

    async def quit(self):
        await self.cmd("QUIT", 221)
        # the server closes first; read its FIN so both ends are done
        await self.reader.read()
        self.writer.close()

    def reset(self):
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()


async def control_part(kind, host):
    """The session's work on its control connection, up to the point where
    an expire kind waits: returns the connection for those, else None."""
    c = await Control.open(host)
    try:
        if kind.startswith("refused-"):
            await c.login(kind[len("refused-"):])
            if kind == "refused-unsolicited":
                code, line = await c.reply()
                if code != 227:
                    raise SessionError("want the unsolicited 227, got %r" % line[:80])
            else:
                await c.passive("PASV")
            await c.quit()
            return None
        await c.login()
        if kind in ("pasv-list4", "epsv-list4", "supersede4"):
            verb = "EPSV" if kind == "epsv-list4" else "PASV"
            if kind == "supersede4":
                await c.passive(verb)
            await c.transfer("LIST pub", *(await c.passive(verb)))
        elif kind in ("epsv-retr6", "supersede6"):
            if kind == "supersede6":
                await c.passive("EPSV")
            await c.transfer("RETR pub/file1.txt", *(await c.passive("EPSV")))
        elif kind in ("port-list4", "eprt-list6"):
            await c.active("PORT" if kind == "port-list4" else "EPRT", "LIST pub")
        elif kind in ("abort4", "abort6"):
            await c.passive("PASV" if kind == "abort4" else "EPSV")
            await c.cmd("ABOR", 225)
        elif kind == "quit4":
            await c.passive("PASV")
        elif kind == "close6":
            await c.passive("EPSV")
            c.writer.close()
            # the server answers our FIN with its own
            await c.reader.read()
            return None
        elif kind == "reset4":
            await c.passive("PASV")
            c.reset()
            return None
        elif kind in ("expire4", "expire6"):
            await c.passive("PASV" if kind == "expire4" else "EPSV")
            return c
        elif kind == "noop6":
            await c.cmd("NOOP", 200)
        await c.quit()
        return None
    except BaseException:
        c.writer.close()
        raise


async def session(kind, gate, expire_wait, timeout):
    """One session of `kind`. `timeout` bounds each part that holds a slot
    of the gate, never the wait for a slot: on a loaded machine the wait
    for the sessions ahead is not this session's fault (an expire kind
    waits for a slot twice, and timed out where the others did not)."""
    async with gate:
        c = await asyncio.wait_for(control_part(kind, KINDS[kind]), timeout)
    if c is None:
        return
    # waiting for the pinhole to expire does not take a slot
    try:
        await asyncio.sleep(expire_wait)
        async with gate:
            await asyncio.wait_for(c.quit(), timeout)
    except BaseException:
        c.writer.close()
        raise


def process_gone(pid):
    """Whether process `pid` has exited (gone, or a zombie nobody reaped:
    the suite's shell waits for its daemon only when it stops it)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0] == "Z"
    except (OSError, IndexError):
        return True


async def watch_pid(pid):
    """Return once process `pid` has exited (checked twice a second)."""
    while not process_gone(pid):
        await asyncio.sleep(0.5)


async def churn(a):
    kinds = a.kinds.split(",") if a.kinds else list(KINDS)
    for k in kinds:
        if k not in KINDS:
            sys.exit("soak-load: unknown kind %r (kinds: %s)" % (k, ", ".join(KINDS)))
    gate = asyncio.Semaphore(a.concurrency)
    count = collections.Counter()
    failed = collections.Counter()
    samples = []
    t0 = time.monotonic()

    async def one(i):
        kind = kinds[i % len(kinds)]
        try:
            await session(kind, gate, a.expire_wait, a.timeout)
            count[kind] += 1
        except (OSError, SessionError, asyncio.TimeoutError) as e:
            failed[kind] += 1
            if len(samples) < 8:
                samples.append("%s: %s: %s" % (kind, type(e).__name__, e))

    async def run_all():
        # start sessions in order, a few ahead of the gate
        pending = set()
        try:
            for i in range(a.sessions):
                pending.add(asyncio.ensure_future(one(i)))
                if len(pending) >= 4 * a.concurrency:
                    _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending)
        finally:
            for t in pending:
                t.cancel()

    # A daemon that dies mid-churn would leave every session to its
    # timeout (2000 sessions, 16 at a time, 30 s each: an hour of CI):
    # stop at once instead, and say so.
    gone = None
    work = asyncio.ensure_future(run_all())
    watch = asyncio.ensure_future(watch_pid(a.daemon_pid)) if a.daemon_pid else None
    done, _ = await asyncio.wait({work} | ({watch} if watch else set()),
                                 return_when=asyncio.FIRST_COMPLETED)
    if watch is not None and watch in done and work not in done:
        work.cancel()
        await asyncio.gather(work, return_exceptions=True)
        gone = "ftpgated (pid %d) exited during the churn: stopped after %d sessions" % (
            a.daemon_pid, sum(count.values()) + sum(failed.values()))
    elif watch is not None:
        watch.cancel()
    elapsed = time.monotonic() - t0
    want = collections.Counter()
    for k, n in count.items():
        for outcome, m in OUTCOMES[k].items():
            want[outcome] += n * m
    return {
        "sessions": sum(count.values()),
        "errors": sum(failed.values()) + (1 if gone else 0),
        "daemon_gone": gone,
        "error_samples": samples,
        "kinds": dict(count),
        "failed": dict(failed),
        "want": dict(want),
        "elapsed_s": round(elapsed, 2),
        "sessions_per_s": round(sum(count.values()) / elapsed, 1) if elapsed > 0 else 0,
    }


async def hold(a):
    conns = []
    errors = []
    gate = asyncio.Semaphore(a.concurrency)

    async def one(i):
        async with gate:
            try:
                c = await asyncio.wait_for(Control.open(SERVER4 if i % 2 == 0 else SERVER6), a.timeout)
                await asyncio.wait_for(c.login(), a.timeout)
                conns.append(c)
            except (OSError, SessionError, asyncio.TimeoutError) as e:
                errors.append("%d: %s: %s" % (i, type(e).__name__, e))

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(a.count)))
    print("soak: held %d of %d control connections, logged in, in %.1fs%s"
          % (len(conns), a.count, time.monotonic() - t0,
             "; errors: %s" % errors[:5] if errors else ""), flush=True)
    if a.ready:
        with open(a.ready + ".tmp", "w") as f:
            f.write("%d\n" % len(conns))
        os.rename(a.ready + ".tmp", a.ready)
    if a.release:
        deadline = time.monotonic() + 600
        while not os.path.exists(a.release):
            if time.monotonic() > deadline:
                errors.append("no release file after 600 s")
                break
            await asyncio.sleep(0.2)
    quit_errors = []

    async def bye(c):
        async with gate:
            try:
                await asyncio.wait_for(c.quit(), a.timeout)
            except (OSError, SessionError, asyncio.TimeoutError) as e:
                quit_errors.append("%s: %s" % (type(e).__name__, e))

    await asyncio.gather(*(bye(c) for c in conns))
    if quit_errors:
        print("QUIT failed on %d: %s" % (len(quit_errors), quit_errors[:5]), flush=True)
    return not errors and not quit_errors


def audit_balance(path, want_midstream):
    started, ended = {}, collections.Counter()
    opened, ends = {}, collections.Counter()
    events = collections.Counter()
    midstream = 0
    problems = []
    reasons = collections.Counter()     # session-ended reasons
    last_end = {}                       # control -> (line, reason) of its last end
    pickups = []                        # how each mid-stream pickup came about
    with open(path, encoding="ascii") as f:
        for n, line in enumerate(f, 1):
            o = json.loads(line)
            ev = o["event"]
            events[ev] += 1
            if ev == "session-started":
                key = json.dumps(o.get("control", o.get("conntrack_id")), sort_keys=True)
                if o.get("reason") == "picked-up-mid-stream":
                    midstream += 1
                    m, why = last_end.get(key, (None, None))
                    pickups.append("line %d: %s picked up mid-stream; %s" % (
                        n, key, "its session ended at line %d (%s)" % (m, why) if m
                        else "no earlier session of it"))
                started.setdefault(key, []).append(n)
            elif ev == "session-ended":
                key = json.dumps(o.get("control", o.get("conntrack_id")), sort_keys=True)
                reasons[o.get("reason")] += 1
                last_end[key] = (n, o.get("reason"))
                if not started.get(key):
                    problems.append("line %d: session-ended without a session-started" % n)
                else:
                    started[key].pop()
                    if not started[key]:
                        del started[key]
            elif ev == "pinhole-opened" and not o.get("refreshed"):
                if o["pinhole"] in opened:
                    problems.append("line %d: pinhole %s opened twice" % (n, o["pinhole"]))
                opened[o["pinhole"]] = n
            elif ev in ("pinhole-used", "pinhole-expired", "pinhole-removed"):
                p = o["pinhole"]
                if p not in opened:
                    problems.append("line %d: %s of pinhole %s, never opened (or ended twice)"
                                    % (n, ev, p))
                else:
                    del opened[p]
                ends[o.get("outcome")] += 1
    for key, lines in started.items():
        problems.append("session %s (line %d) has no session-ended" % (key, lines[0]))
    for p, n in opened.items():
        problems.append("pinhole %s (opened line %d) has no end event" % (p, n))
    if want_midstream is not None and midstream != want_midstream:
        problems.append("%d sessions picked up mid-stream, want %d" % (midstream, want_midstream))
        problems.extend(pickups[:10])
    print(json.dumps({"events": dict(events), "outcomes": dict(ends),
                      "session_ended": dict(reasons),
                      "picked_up_midstream": midstream, "problems": len(problems)},
                     sort_keys=True))
    for p in problems[:20]:
        print(p)
    return not problems


def stats_check(a):
    """The daemon's counters (ftpgatectl --json stats) after the churn runs
    (their JSON outputs) have settled: nothing tracked or recorded any
    more, every session ended, every pinhole accounted for once, and the
    pinhole outcomes the sessions caused."""
    with open(a.stats) as f:
        s = json.load(f)
    want = collections.Counter()
    sessions = 0
    for path in a.churn:
        with open(path) as f:
            c = json.load(f)
        want.update(c["want"])
        sessions += c["sessions"]
    closed = s.get("pinholes_closed_total", {})
    refused = s.get("pinholes_refused_total", {})
    bad = []

    def eq(name, got, expected):
        if got != expected:
            bad.append("%s is %s, want %s" % (name, got, expected))

    eq("sessions (tracked now)", s["sessions"], 0)
    eq("pinholes_recorded (now)", s["pinholes_recorded"], 0)
    eq("sessions_ended_total", s["sessions_ended_total"], s["sessions_started_total"])
    eq("sessions_started_total", s["sessions_started_total"], sessions + a.extra_sessions)
    eq("sessions_untracked_total", s["sessions_untracked_total"], a.untracked)
    eq("pinholes_opened - refreshed - unrecorded (each recorded pinhole once)",
       s["pinholes_opened_total"] - s["pinholes_refreshed_total"] - s["pinholes_unrecorded_total"],
       sum(closed.values()))
    eq("pinholes_closed_total{used}", closed.get("used", 0), want["used"])
    eq("pinholes_closed_total{expired}", closed.get("expired", 0), want["expired"])
    eq("pinholes_closed_total{removed-by-ftpgate + session-ended}",
       closed.get("removed-by-ftpgate", 0) + closed.get("session-ended", 0), want["removed"])
    eq("pinholes_refused_total (all reasons)", sum(refused.values()), want["refused"])
    for k in ("pinholes_failed_total", "pinholes_unrecorded_total", "queue_overruns_total",
              "conntrack_event_overruns_total", "audit_events_lost_total",
              "audit_write_errors_total", "actions_dropped_total", "sessions_lost_total",
              "parse_errors_total"):
        eq(k, s.get(k), 0)
    for k in ("removed-in-kernel", "unknown-events-lost"):
        eq("pinholes_closed_total{%s}" % k, closed.get(k, 0), 0)
    print("sessions started %d ended %d untracked %d; pinholes opened %d (refreshed %d), "
          "closed %s; refused %s; control requests %d"
          % (s["sessions_started_total"], s["sessions_ended_total"], s["sessions_untracked_total"],
             s["pinholes_opened_total"], s["pinholes_refreshed_total"],
             json.dumps(closed, sort_keys=True), json.dumps(refused, sort_keys=True),
             s.get("control_requests_total", 0)))
    for b in bad:
        print("MISMATCH " + b)
    return not bad


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("churn")
    c.add_argument("--sessions", type=int, required=True)
    c.add_argument("--concurrency", type=int, default=16)
    c.add_argument("--kinds", default="")
    c.add_argument("--expire-wait", type=float, default=4)
    c.add_argument("--timeout", type=float, default=30)
    c.add_argument("--daemon-pid", type=int,
                   help="stop at once, failing, when this process exits")
    h = sub.add_parser("hold")
    h.add_argument("--count", type=int, required=True)
    h.add_argument("--ready")
    h.add_argument("--release")
    h.add_argument("--timeout", type=float, default=60)
    # 1: each connection logged in before the next one's SYN (no session
    # is half-open when the next arrives, so none is evicted for it)
    h.add_argument("--concurrency", type=int, default=32)
    b = sub.add_parser("audit-balance")
    b.add_argument("log")
    b.add_argument("--midstream", type=int, help="sessions picked up mid-stream")
    k = sub.add_parser("stats-check")
    k.add_argument("stats")
    k.add_argument("churn", nargs="+")
    k.add_argument("--extra-sessions", type=int, default=0,
                   help="sessions tracked besides the churn's")
    k.add_argument("--untracked", type=int, default=0)
    a = p.parse_args()
    if a.cmd == "churn":
        out = asyncio.run(churn(a))
        print(json.dumps(out, sort_keys=True))
        sys.exit(0 if out["errors"] == 0 else 1)
    if a.cmd == "hold":
        sys.exit(0 if asyncio.run(hold(a)) else 1)
    if a.cmd == "stats-check":
        sys.exit(0 if stats_check(a) else 1)
    sys.exit(0 if audit_balance(a.log, a.midstream) else 1)


if __name__ == "__main__":
    main()
