"""ftp-probe: a scriptable raw FTP client for the lab's attack and edge cases.

usage: ftp-probe.py [--bind ADDR] [--port N] [--timeout S] [--early LINE]...
                    HOST STEP...

Connects to HOST:PORT (21), optionally from source address ADDR, sends the
--early LINEs at once (before the greeting: what a browser talking to port
21 does), reads the greeting (must be 2xx) and runs the STEPs in order.
Each STEP is one argument, split like a shell line:

  send LINE            send LINE + CRLF verbatim (the rest of the step)
  expect CODE          read one whole reply (multi-line aware); its code
                       must start with CODE ("227", "2"). A 227 or 229
                       read here is parsed and remembered like pasv/epsv's
                       (an unsolicited 227 is read with "expect 227").
  login [USER [PASS]]  USER (331 or 230), then PASS (230); anonymous/lab
  pasv | epsv          send PASV/EPSV, read the 227/229, remember the data
                       address and port (EPSV: the control peer's address)
  connect-announced [--from ADDR] [--expect connected|refused|timeout]
                    [--timeout S] [--read]
                       TCP connect to the remembered data address/port;
                       --read: then read until the server closes (so the
                       server's end closes first, as after a download)
  connect HOST PORT [--from ADDR] [--expect ...] [--timeout S]
  pipeline CMD...      send every CMD in ONE segment, then read one reply
                       per command; a 227/229 among them is remembered
                       (e.g. pipeline NOOP PASV)
  port | eprt [--addr A] [--data-port N] [--expect CODE]
                       active mode: listen on this end's control address
                       (every address with --addr; port N, default any),
                       send PORT/EPRT naming A
                       (default that address) and the port, read the reply
                       (its code must start with CODE, default 200) and
                       remember A and the port as the announcement
  accept [--expect connected|timeout] [--timeout S]
                       wait (3 s unless told) for the server's data
                       connection on the port/eprt listener; read it to
                       its end
  burst N              send N NOOPs, each in a segment of its own (no
                       Nagle, no waiting), then read the N replies (2xx);
                       floods the gateway's queue with N segments each way
  send-raw TEXT        send TEXT exactly, in one segment, no CRLF added;
                       \\r \\n \\0 \\xNN escapes are decoded
  save PATH            write "ADDR PORT" of the last announcement to PATH
  wait-file PATH [S]   block until PATH exists (default at most 60 s)
  sleep S
  quit                 QUIT, read the 221

Prints one line per step. Exit status: 0 when every step did what it was
told, 1 when an expectation failed (the run stops there), 2 on usage errors
or a control connection that broke. Every network step has a timeout (the
control connection: --timeout, default 5 s; connects: 3 s unless told), so a
hung step cannot hang a test suite.
"""
import argparse
import os
import re
import shlex
import socket
import sys
import time


class StepFailed(Exception):
    pass


class Broken(Exception):
    pass


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def out(text):
    print(text, flush=True)


class Probe:
    def __init__(self, host, port, bind, timeout):
        self.host, self.port, self.bind, self.timeout = host, port, bind, timeout
        self.sock = None
        self.buf = b""
        self.announced = None  # (addr, port)
        self.early = []
        self.listener = None   # port/eprt data listener

    # --- control connection ------------------------------------------------

    def open(self):
        s = socket.socket(family_of(self.host), socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.bind:
            s.bind((self.bind, 0))
        try:
            s.connect((self.host, self.port))
        except OSError as e:
            raise Broken("control connection to %s port %d: %s"
                         % (self.host, self.port, e or "timeout"))
        self.sock = s
        for line in self.early:
            self.send_line(line)
            out("early: sent %r before the greeting" % line)
        code, text = self.read_reply()
        out("greeting: %s" % text)
        if not code.startswith("2"):
            raise StepFailed("greeting %s, want 2xx" % code)

    def send_line(self, line):
        try:
            self.sock.sendall(line.encode("latin-1") + b"\r\n")
        except OSError as e:
            raise Broken("send %r: %s" % (line, e))

    def read_line(self):
        deadline = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise StepFailed("no reply within %gs" % self.timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except (socket.timeout, TimeoutError):
                raise StepFailed("no reply within %gs" % self.timeout)
            except OSError as e:
                raise Broken("control connection: %s" % e)
            if not chunk:
                raise Broken("control connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("latin-1")

    def read_reply(self):
        """One whole reply: "NNN text" or "NNN-..." up to "NNN text"."""
        first = self.read_line()
        m = re.match(r"^(\d{3})([ -])", first + " ")
        if not m:
            raise StepFailed("malformed reply line %r" % first)
        code, lines = m.group(1), [first]
        if m.group(2) == "-":
            while True:
                line = self.read_line()
                lines.append(line)
                if line.startswith(code + " ") or line == code:
                    break
        text = lines[0] if len(lines) == 1 else " | ".join(lines)
        self.remember(code, lines[-1] if code == "229" else first)
        return code, text

    def remember(self, code, line):
        if code == "227":
            m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", line)
            if m:
                n = [int(x) for x in m.groups()]
                self.announced = ("%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5])
        elif code == "229":
            m = re.search(r"\((.)\1\1(\d+)\1\)", line)
            if m:
                self.announced = (self.sock.getpeername()[0], int(m.group(2)))

    # --- steps ---------------------------------------------------------------

    def step_send(self, rest):
        self.send_line(rest)
        return "sent %r" % rest

    def step_expect(self, args):
        want = args[0]
        code, text = self.read_reply()
        if not code.startswith(want):
            raise StepFailed("got %r, want %s" % (text, want))
        return text + self.announced_text(code)

    def announced_text(self, code):
        if code in ("227", "229") and self.announced:
            return " -> announced %s %d" % self.announced
        return ""

    def step_login(self, args):
        user = args[0] if args else "anonymous"
        password = args[1] if len(args) > 1 else "lab@"
        self.send_line("USER " + user)
        code, text = self.read_reply()
        if code == "230":
            return text
        if code != "331":
            raise StepFailed("USER: %r, want 331 or 230" % text)
        self.send_line("PASS " + password)
        code, text = self.read_reply()
        if code != "230":
            raise StepFailed("PASS: %r, want 230" % text)
        return text

    def step_passive(self, verb):
        self.announced = None
        want = "227" if verb == "PASV" else "229"
        self.send_line(verb)
        code, text = self.read_reply()
        if code != want or not self.announced:
            raise StepFailed("%s: %r, want a parsable %s" % (verb, text, want))
        return text + self.announced_text(code)

    def step_pipeline(self, args):
        self.announced = None
        try:
            self.sock.sendall("".join(c + "\r\n" for c in args).encode("latin-1"))
        except OSError as e:
            raise Broken("send %r: %s" % (args, e))
        texts = [self.read_reply()[1] for _ in args]
        last = texts[-1]
        return " / ".join(texts) + (" -> announced %s %d" % self.announced
                                    if self.announced else "")

    def connect_opts(self, args):
        p = argparse.ArgumentParser(prog="connect", add_help=False)
        p.add_argument("--from", dest="src")
        p.add_argument("--expect", choices=["connected", "refused", "timeout"])
        p.add_argument("--timeout", type=float, default=3.0)
        p.add_argument("--read", action="store_true")
        p.add_argument("rest", nargs="*")
        try:
            return p.parse_args(args)
        except SystemExit:
            raise Broken("bad connect options %r" % args)

    def connect(self, addr, port, o):
        s = socket.socket(family_of(addr), socket.SOCK_STREAM)
        s.settimeout(o.timeout)
        try:
            if o.src:
                s.bind((o.src, 0))
            s.connect((addr, port))
            result = "connected"
            if o.read:
                got = 0
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += len(chunk)
                result += " (read %d bytes to the server's close)" % got if got else ""
        except ConnectionRefusedError:
            result = "refused"
        except (socket.timeout, TimeoutError):
            result = "timeout"
        except OSError as e:
            result = "error %s" % e
        finally:
            s.close()
        text = "%s port %d%s: %s" % (addr, port, " from " + o.src if o.src else "", result)
        if o.expect and result.split(" (")[0] != o.expect:
            raise StepFailed(text + ", want " + o.expect)
        return text

    def step_connect_announced(self, args):
        o = self.connect_opts(args)
        if not self.announced:
            raise StepFailed("nothing announced yet")
        return self.connect(self.announced[0], self.announced[1], o)

    def step_connect(self, args):
        o = self.connect_opts(args)
        if len(o.rest) != 2:
            raise Broken("connect HOST PORT [options]")
        return self.connect(o.rest[0], int(o.rest[1]), o)

    def step_save(self, args):
        if not self.announced:
            raise StepFailed("nothing announced yet")
        tmp = args[0] + ".tmp"
        with open(tmp, "w") as f:
            f.write("%s %d\n" % self.announced)
        os.rename(tmp, args[0])
        return "%s %d -> %s" % (self.announced + (args[0],))

    def step_wait_file(self, args):
        limit = float(args[1]) if len(args) > 1 else 60.0
        out("wait-file: waiting for %s" % args[0])
        deadline = time.monotonic() + limit
        while not os.path.exists(args[0]):
            if time.monotonic() > deadline:
                raise StepFailed("%s did not appear within %gs" % (args[0], limit))
            time.sleep(0.05)
        return "%s exists" % args[0]

    def step_active(self, verb, args):
        p = argparse.ArgumentParser(prog=verb.lower(), add_help=False)
        p.add_argument("--addr")
        p.add_argument("--data-port", type=int, default=0)
        p.add_argument("--expect", default="200")
        try:
            o = p.parse_args(args)
        except SystemExit:
            raise Broken("bad %s options %r" % (verb.lower(), args))
        local = self.sock.getsockname()[0]
        if self.listener:
            self.listener.close()
        self.listener = socket.socket(family_of(local), socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # announcing another address: listen on all of them, so that a
        # connection there would be seen if the gateway let it through
        where = ("::" if ":" in local else "0.0.0.0") if o.addr else local
        self.listener.bind((where, o.data_port))
        self.listener.listen(4)
        addr = o.addr or local
        port = self.listener.getsockname()[1]
        if verb == "PORT":
            arg = "%s,%d,%d" % (addr.replace(".", ","), port // 256, port % 256)
        else:
            arg = "|%d|%s|%d|" % (2 if ":" in addr else 1, addr, port)
        self.send_line("%s %s" % (verb, arg))
        code, text = self.read_reply()
        if not code.startswith(o.expect):
            raise StepFailed("%s %s: %r, want %s" % (verb, arg, text, o.expect))
        self.announced = (addr, port)
        return "%s %s: %s -> announced %s %d" % (verb, arg, text, addr, port)

    def step_accept(self, args):
        o = self.connect_opts(args)
        if not self.listener:
            raise StepFailed("no port/eprt listener")
        self.listener.settimeout(o.timeout)
        try:
            c, peer = self.listener.accept()
            result = "connected"
        except (socket.timeout, TimeoutError):
            result, peer = "timeout", None
        if peer:
            c.settimeout(o.timeout)
            try:
                while c.recv(4096):
                    pass
            except OSError:
                pass
            c.close()
        text = "data connection on port %d: %s%s" % (
            self.listener.getsockname()[1], result,
            " from %s port %d" % peer[:2] if peer else "")
        if o.expect and result != o.expect:
            raise StepFailed(text + ", want " + o.expect)
        return text

    def step_send_raw(self, rest):
        data = rest.encode("latin-1").decode("unicode_escape").encode("latin-1")
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Broken("send %r: %s" % (data, e))
        return "sent %d bytes %r" % (len(data), data[:60])

    def step_burst(self, args):
        n = int(args[0])
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            for _ in range(n):
                self.sock.sendall(b"NOOP\r\n")
        except OSError as e:
            raise Broken("send NOOP: %s" % e)
        for i in range(n):
            code, text = self.read_reply()
            if not code.startswith("2"):
                raise StepFailed("NOOP %d of %d: %r, want 2xx" % (i + 1, n, text))
        return "%d NOOPs answered" % n

    def step_sleep(self, args):
        time.sleep(float(args[0]))
        return "slept %ss" % args[0]

    def step_quit(self, args):
        self.send_line("QUIT")
        code, text = self.read_reply()
        if code != "221":
            raise StepFailed("QUIT: %r, want 221" % text)
        return text

    def run(self, step):
        name, _, rest = step.strip().partition(" ")
        args = shlex.split(rest)
        if name == "send":
            return self.step_send(rest.strip())
        if name in ("pasv", "epsv"):
            return self.step_passive(name.upper())
        if name in ("port", "eprt"):
            return self.step_active(name.upper(), args)
        if name == "accept":
            return self.step_accept(args)
        if name == "send-raw":
            return self.step_send_raw(rest.strip())
        table = {
            "expect": (self.step_expect, 1),
            "login": (self.step_login, 0),
            "connect-announced": (self.step_connect_announced, 0),
            "connect": (self.step_connect, 2),
            "save": (self.step_save, 1),
            "wait-file": (self.step_wait_file, 1),
            "sleep": (self.step_sleep, 1),
            "quit": (self.step_quit, 0),
            "pipeline": (self.step_pipeline, 1),
            "burst": (self.step_burst, 1),
        }
        if name not in table:
            raise Broken("unknown step %r" % step)
        fn, nargs = table[name]
        if len(args) < nargs:
            raise Broken("step %r needs %d argument(s)" % (step, nargs))
        return fn(args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bind", help="source address of the control connection")
    p.add_argument("--port", type=int, default=21)
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for a reply (default 5)")
    p.add_argument("--early", action="append", default=[],
                   help="send this line before reading the greeting")
    p.add_argument("host")
    p.add_argument("steps", nargs="*")
    a = p.parse_args()
    probe = Probe(a.host, a.port, a.bind, a.timeout)
    probe.early = a.early
    step = "connect to %s" % a.host
    try:
        probe.open()
        for step in a.steps:
            out("%s: %s" % (step.split(" ")[0], probe.run(step)))
    except StepFailed as e:
        out("FAILED %s: %s" % (step, e))
        return 1
    except Broken as e:
        out("BROKEN %s: %s" % (step, e))
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
