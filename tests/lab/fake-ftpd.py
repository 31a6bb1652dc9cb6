"""fake-ftpd: a minimal FTP server that answers with crafted replies.

usage: fake-ftpd.py [--bind ADDR] [--port 21] [--data-port N] [PROFILE]
                    [--user NAME PROFILE]...

PROFILE options (the first set is the default; a set after --user NAME
applies to logins as NAME, so one server can play several scenarios):
  --pasv-reply TEXT    the answer to PASV (repeat: successive PASVs of a
                       session get successive replies, the last repeats)
  --epsv-reply TEXT    the answer to EPSV (likewise)
  --unsolicited TEXT   sent right after the 230 of a login, without any
                       PASV/EPSV asked (repeatable)
  --unsolicited-delay S  pause between the 230 and the unsolicited reply
                       (default 0.3: its own segment; 0: same segment)
  --reply-chunks N     send each PASV/EPSV answer in N pieces, 0.2 s apart
                       (N TCP segments: a reply split across segments)
  --coalesce           while more commands are already buffered, hold the
                       replies and send them together (pipelined commands
                       get their replies in one segment)
  --port-reply TEXT    the answer to PORT and EPRT (default "200 PORT
                       command successful"); any argument naming an
                       address and port is accepted, like a server with
                       no check at all (vsftpd's port_promiscuous)
  --data-source-port N  connect active-mode data connections from port N
                       (e.g. 20, RFC 959's default; default: any port)
  --auth-reply TEXT    the answer to AUTH (default "502 Not implemented");
                       after a 234 the dialogue simply goes on in clear
                       text: a lab stand-in for a TLS-capable server
  --cwd-echo-split S   answer CWD ARG with "550 ARG: No such file or
                       directory." cut right before ARG: "550 " first, the
                       rest S seconds later (an honest server that echoes
                       the path, behind a small client window)
  --pasv-delay S       wait S seconds before answering PASV/EPSV
  --passive-range LOW-HIGH
                       PASV/EPSV get a real one-shot data listener on the
                       first free port of LOW-HIGH, bound without
                       SO_REUSEADDR: it sends one line and closes first, so
                       that port stays unusable while its connection is in
                       TIME_WAIT (60 s on Linux), as on a server that does
                       not reuse addresses. No free port: "425 Can't open
                       passive connection: no free port in LOW-HIGH". The
                       --pasv-reply/--epsv-reply texts are not used then.
Global: --greeting-delay S  wait S seconds before the 220 greeting

Templates in TEXT: {h} the server's IPv4 address of this control connection
as "a,b,c,d"; {port}, {p1}, {p2} the next data port (counting up from
--data-port, default 40010, one per reply that uses them).
Defaults: "227 Entering Passive Mode ({h},{p1},{p2})." and
"229 Entering Extended Passive Mode (|||{port}|)".

The server answers 220 on connect, USER 331, PASS 230, and FEAT, SYST,
TYPE, PWD, CWD, NOOP, QUIT as usual, ABOR 225, REIN 220, EPSV ALL 200;
LIST/RETR/STOR get a 425 (no data is ever served), except after an
accepted PORT/EPRT: then the server connects to that address and port
(3 s at most) and answers 150 + 226 if it got through, 425 if not. For every port a reply announces (227 or 229, crafted or not)
it listens on that port (dual-stack, all addresses of the namespace),
accepting and closing connections: a client that times out connecting to an
announced port was dropped on the way, not refused here. Logs the dialogue
to stdout.
"""
import argparse
import re
import socket
import sys
import threading
import time

DEFAULT_PASV = "227 Entering Passive Mode ({h},{p1},{p2})."
DEFAULT_EPSV = "229 Entering Extended Passive Mode (|||{port}|)"

lock = threading.Lock()
next_port = [40010]
listeners = {}


def log(text):
    with lock:
        print(text, flush=True)


def profile_parser():
    p = argparse.ArgumentParser(add_help=False)
    p.add_argument("--pasv-reply", action="append", default=[])
    p.add_argument("--epsv-reply", action="append", default=[])
    p.add_argument("--unsolicited", action="append", default=[])
    p.add_argument("--unsolicited-delay", type=float, default=0.3)
    p.add_argument("--reply-chunks", type=int, default=1)
    p.add_argument("--coalesce", action="store_true")
    p.add_argument("--port-reply", default="200 PORT command successful")
    p.add_argument("--auth-reply", default="502 Not implemented")
    p.add_argument("--data-source-port", type=int, default=0)
    p.add_argument("--passive-range")
    p.add_argument("--cwd-echo-split", type=float, default=None)
    p.add_argument("--pasv-delay", type=float, default=0)
    return p


def parse_args(argv):
    segments, cur = [[]], None
    i = 0
    while i < len(argv):
        if argv[i] == "--user":
            if i + 1 >= len(argv):
                sys.exit("fake-ftpd: --user needs a name")
            cur = argv[i + 1]
            segments.append([cur])
            i += 2
            continue
        segments[-1].append(argv[i])
        i += 1
    g = argparse.ArgumentParser(parents=[profile_parser()],
                                description=__doc__.split("\n")[0])
    g.add_argument("--bind", default="::")
    g.add_argument("--port", type=int, default=21)
    g.add_argument("--data-port", type=int, default=40010)
    g.add_argument("--greeting-delay", type=float, default=0)
    a = g.parse_args(segments[0])
    profiles = {}
    for seg in segments[1:]:
        profiles[seg[0]] = profile_parser().parse_args(seg[1:])
    return a, profiles


def data_listener(port):
    """Listen on port (all addresses, both families), accept and close."""
    with lock:
        if port in listeners:
            return
        listeners[port] = True
    try:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("::", port))
        s.listen(16)
    except (OSError, OverflowError) as e:
        log("data listener on port %d: %s" % (port, e))
        return

    def loop():
        while True:
            c, peer = s.accept()
            log("data connection on port %d from %s" % (port, peer[0]))
            c.close()
    threading.Thread(target=loop, daemon=True).start()
    log("data listener on port %d" % port)


def serve_once(s, port):
    """One data connection: send a line, close our end first (TIME_WAIT
    stays here, on the port), stop listening."""
    s.settimeout(30)
    try:
        c, peer = s.accept()
        log("data connection on port %d from %s (one-shot)" % (port, peer[0]))
        c.sendall(b"fake-ftpd data\r\n")
        c.close()
    except OSError as e:
        log("one-shot data listener on port %d: %s" % (port, e))
    finally:
        s.close()


def announced_port(reply):
    m = re.match(r"227 .*?(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", reply)
    if m:
        return int(m.group(5)) * 256 + int(m.group(6))
    m = re.match(r"229 .*\((.)\1\1(\d+)\1\)", reply)
    if m:
        return int(m.group(2))
    return None


class Session:
    def __init__(self, conn, peer, args, profiles):
        self.conn, self.peer = conn, peer
        self.args, self.profiles = args, profiles
        self.profile = args
        self.count = {"pasv": 0, "epsv": 0}
        local = conn.getsockname()[0]
        if local.startswith("::ffff:"):
            local = local[7:]
        self.local4 = local if "." in local else None

    def render(self, template):
        def port():
            with lock:
                p = next_port[0]
                next_port[0] += 1
            return p
        fields = {}
        if "{h}" in template:
            if not self.local4:
                return "425 fake-ftpd: no IPv4 address for {h} on this connection"
            fields["h"] = self.local4.replace(".", ",")
        if any(k in template for k in ("{port}", "{p1}", "{p2}")):
            p = port()
            fields.update(port=p, p1=p // 256, p2=p % 256)
        reply = template.format(**fields)
        p = announced_port(reply)
        if p is not None and 0 < p < 65536:
            data_listener(p)
        return reply

    def passive_in_range(self, verb):
        """--passive-range: bind the first free port of the range (no
        SO_REUSEADDR) and serve one data connection on it."""
        low, high = (int(x) for x in self.profile.passive_range.split("-"))
        for port in range(low, high + 1):
            s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            try:
                s.bind(("::", port))
            except OSError:
                s.close()
                continue
            s.listen(1)
            threading.Thread(target=serve_once, args=(s, port), daemon=True).start()
            if verb == "EPSV":
                return "229 Entering Extended Passive Mode (|||%d|)" % port
            if not self.local4:
                s.close()
                return "425 fake-ftpd: no IPv4 address for PASV on this connection"
            return "227 Entering Passive Mode (%s,%d,%d)." % (
                self.local4.replace(".", ","), port // 256, port % 256)
        return "425 Can't open passive connection: no free port in %d-%d" % (low, high)

    def send(self, text):
        log("%s <- %s" % (self.peer, text.replace("\r\n", " | ")))
        data = text.encode("latin-1") + b"\r\n"
        if self.profile.coalesce and b"\n" in self.buf:
            self.held += data
            return
        data, self.held = self.held + data, b""
        self.conn.sendall(data)

    def send_chunked(self, text):
        n = max(1, self.profile.reply_chunks)
        data = text.encode("latin-1") + b"\r\n"
        if n == 1:
            return self.send(text)
        log("%s <- %s (in %d segments)" % (self.peer, text, n))
        size = -(-len(data) // n)
        for i in range(0, len(data), size):
            self.conn.sendall(data[i:i + size])
            time.sleep(0.2)

    def cwd_echo(self, arg):
        """An honest server's 550 that echoes the path, cut right before
        it: "550 " in a segment of its own, the rest after a pause (what a
        client's small receive window can arrange)."""
        self.conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        log("%s <- 550 | (%.1f s) | %s: No such file or directory." % (
            self.peer, self.profile.cwd_echo_split, arg))
        self.conn.sendall(b"550 ")
        time.sleep(self.profile.cwd_echo_split)
        self.conn.sendall(arg.encode("latin-1") + b": No such file or directory.\r\n")

    def pick(self, kind, default):
        replies = getattr(self.profile, kind + "_reply") or [default]
        n = self.count[kind]
        self.count[kind] += 1
        return replies[min(n, len(replies) - 1)]

    def active_target(self, verb, arg):
        """(address, port) a PORT/EPRT argument names, or None."""
        if verb == "PORT":
            m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", arg)
            if m:
                n = [int(x) for x in m.groups()]
                return "%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5]
        elif len(arg) > 1:
            f = arg.split(arg[0])
            if len(f) >= 4 and f[3].strip().isdigit():
                return f[2], int(f[3])
        return None

    def active_transfer(self):
        """Connect to the PORT/EPRT target, as an active-mode server does
        once the transfer command arrives."""
        addr, port = self.active
        self.active = None
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        d = socket.socket(fam, socket.SOCK_STREAM)
        try:
            if self.profile.data_source_port:
                d.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                d.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0",
                        self.profile.data_source_port))
            d.settimeout(3)
            d.connect((addr, port))
        except OSError as e:
            d.close()
            log("%s: active data connection to %s port %d: %s" % (self.peer, addr, port, e or "timeout"))
            self.send("425 Can't open data connection.")
            return
        log("%s: active data connection to %s port %d made from port %d"
            % (self.peer, addr, port, d.getsockname()[1]))
        self.send("150 Opening data connection.")
        d.close()
        self.send("226 Transfer complete.")

    def run(self):
        self.buf, self.held = b"", b""
        self.active = None
        if self.args.greeting_delay:
            time.sleep(self.args.greeting_delay)
        self.send("220 fake-ftpd ready")
        while True:
            while b"\n" not in self.buf:
                chunk = self.conn.recv(4096)
                if not chunk:
                    return
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\n", 1)
            line = raw.rstrip(b"\r").decode("latin-1")
            log("%s -> %s" % (self.peer, line))
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "USER":
                self.profile = self.profiles.get(arg, self.args)
                self.send("331 Password please")
            elif verb == "PASS":
                unsolicited = [self.render(t) for t in self.profile.unsolicited]
                if unsolicited and self.profile.unsolicited_delay == 0:
                    self.send("\r\n".join(["230 Logged in"] + unsolicited))
                    continue
                self.send("230 Logged in")
                for reply in unsolicited:
                    time.sleep(self.profile.unsolicited_delay)
                    self.send(reply)
            elif verb in ("PORT", "EPRT"):
                reply = self.profile.port_reply
                self.active = self.active_target(verb, arg) if reply.startswith("200") else None
                self.send(reply)
            elif verb == "EPSV" and arg.upper() == "ALL":
                self.send("200 EPSV ALL ok")
            elif verb == "AUTH":
                self.send(self.profile.auth_reply)
            elif verb == "ABOR":
                self.send("225 No transfer to ABOR.")
            elif verb == "REIN":
                self.active = None
                self.send("220 Service ready for new user.")
            elif verb in ("LIST", "NLST", "RETR", "STOR") and self.active:
                self.active_transfer()
            elif verb in ("PASV", "EPSV") and self.profile.passive_range:
                self.active = None
                self.send(self.passive_in_range(verb))
            elif verb == "PASV":
                self.active = None
                time.sleep(self.profile.pasv_delay)
                self.send_chunked(self.render(self.pick("pasv", DEFAULT_PASV)))
            elif verb == "EPSV":
                self.active = None
                self.send_chunked(self.render(self.pick("epsv", DEFAULT_EPSV)))
            elif verb == "FEAT":
                self.send("211-Features:\r\n EPSV\r\n PASV\r\n211 End")
            elif verb == "SYST":
                self.send("215 UNIX Type: L8")
            elif verb in ("TYPE", "NOOP", "MODE", "STRU"):
                self.send("200 OK")
            elif verb == "PWD":
                self.send('257 "/" is the current directory')
            elif verb == "CWD" and self.profile.cwd_echo_split is not None:
                self.cwd_echo(arg)
            elif verb == "CWD":
                self.send("250 OK")
            elif verb in ("LIST", "NLST", "RETR", "STOR"):
                self.send("425 fake-ftpd serves no data")
            elif verb == "QUIT":
                self.send("221 Bye")
                return
            else:
                self.send("502 Not implemented")


def serve(conn, peer, args, profiles):
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        Session(conn, peer, args, profiles).run()
    except OSError as e:
        log("%s: %s" % (peer, e))
    finally:
        conn.close()
        log("%s closed" % peer)


def main():
    args, profiles = parse_args(sys.argv[1:])
    next_port[0] = args.data_port
    fam = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_INET6 and args.bind == "::":
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.bind, args.port))
    s.listen(64)
    log("fake-ftpd listening on %s port %d, profiles: %s"
        % (args.bind, args.port, ", ".join(profiles) or "none"))
    while True:
        conn, peer = s.accept()
        threading.Thread(target=serve, args=(conn, peer[0], args, profiles),
                         daemon=True).start()


if __name__ == "__main__":
    main()
