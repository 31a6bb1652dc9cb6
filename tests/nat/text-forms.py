#!/usr/bin/python3
"""text-forms: which rewritten 227/229 texts real FTP clients follow.

usage: tests/nat/text-forms.py [--port N]     (the clients)
       tests/nat/text-forms.py --servers      (as root: the servers)

Measures, on loopback only, the text forms ftp_rewrite writes (and two it
refuses to write) against the FTP clients Debian ships: curl (default and
--no-ftp-skip-pasv-ip), lftp, wget and python3 ftplib (default and
trust_server_pasv_ipv4_address). A scripted server on 127.0.0.1 answers
PASV or EPSV with each form; data listeners on 127.0.0.1, 127.0.0.10 and
127.0.0.8, on the decimal and the octal reading of the port, record where
each client connects. Prints one line per client and form:
"FORM CLIENT -> ADDRESS:PORT" (or "-> no data connection"), then the
verdict lines "ok"/"BAD" for the forms ftp_rewrite writes.
With --servers it measures the other direction: PORT and EPRT with
leading zeros on the port (what ftp_rewrite writes for a same-length
command) sent to vsftpd and pyftpdlib on 127.0.0.1, and whether each
server connects to the port meant (1025) or not at all.
doc/nat.md quotes the results. Not a registered test: it needs the clients
installed (tests/lab/install-deps) and only reports what they do.
"""
import argparse
import ftplib
import socket
import subprocess
import sys
import threading
import time

HOSTS = ["127.0.0.1", "127.0.0.10", "127.0.0.8"]
P1, P2 = 156, 64                  # port 40000; "064" read as octal is 52
PORT = P1 * 256 + P2
PORT_OCTAL = P1 * 256 + 0o64      # 39988
ADDR = "127,0,0,10"

# form name -> (reply to PASV or None, reply to EPSV or None, written by
# ftp_rewrite?)  A None makes the server refuse that command with a 500.
FORMS = {
    "227-plain": (f"227 Entering Passive Mode ({ADDR},{P1},{P2}).", None, True),
    "227-padded": (f"227 Entering Passive Mode    ({ADDR},{P1},{P2}).", None, True),
    "227-cut": (f"227 Entering Passive   ({ADDR},{P1},{P2}).", None, True),
    "227-glued": (f"227 Entering Passive Mode({ADDR},{P1},{P2})", None, True),
    "227-noparen": (f"227       {ADDR},{P1},{P2}", None, True),
    "227-zero-port": (f"227 Entering Passive Mode ({ADDR},{P1},0{P2})", None, False),
    "227-zero-addr": (f"227 Entering Passive Mode (127,0,0,010,{P1},{P2})", None, False),
    "229-plain": (None, f"229 Entering Extended Passive Mode (|||{PORT}|)", True),
    "229-padded": (None, f"229 Entering Extended Passive Mode  (|||{PORT}|)", True),
    "229-glued": (None, f"229 Entering Extended Passive Mode(|||{PORT}|)", True),
    "229-cut": (None, f"229 Entering Extended Passive    (|||{PORT}|)", True),
}

hits = []
hits_lock = threading.Lock()


def data_listener(host, port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(8)
    while True:
        c, _ = s.accept()
        with hits_lock:
            hits.append(f"{host}:{port}")
        c.sendall(b"hello.txt\r\n")
        c.close()


def serve_control(conn, form):
    pasv, epsv, _ = FORMS[form]
    f = conn.makefile("rb")

    def say(text):
        conn.sendall(text.encode() + b"\r\n")
    say("220 text-forms")
    for raw in f:
        verb = raw.decode("latin-1").strip().split(" ")[0].upper()
        if verb in ("USER",):
            say("331 ok")
        elif verb == "PASS":
            say("230 ok")
        elif verb == "PWD":
            say('257 "/"')
        elif verb in ("TYPE", "MODE", "STRU", "OPTS"):
            say("200 ok")
        elif verb == "CWD":
            say("250 ok")
        elif verb == "SYST":
            say("215 UNIX Type: L8")
        elif verb == "FEAT":
            say("211-Features:\r\n EPSV\r\n PASV\r\n211 End")
        elif verb == "PASV":
            say(pasv if pasv else "500 no PASV here")
        elif verb == "EPSV":
            say(epsv if epsv else "500 no EPSV here")
        elif verb in ("LIST", "NLST", "RETR", "MLSD"):
            say("150 here it comes")
            time.sleep(0.5)
            say("226 done")
        elif verb == "SIZE":
            say("550 no size")
        elif verb == "QUIT":
            say("221 bye")
            break
        else:
            say("502 not here")
    conn.close()


def control_server(port, state):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(8)
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve_control, args=(c, state["form"]),
                         daemon=True).start()


def ftplib_run(port, trust, epsv):
    ftp = ftplib.FTP()
    ftp.trust_server_pasv_ipv4_address = trust
    ftp.connect("127.0.0.1", port, timeout=5)
    ftp.login("a", "b")
    if epsv:
        ftp.af = socket.AF_INET6    # ftplib asks EPSV only on IPv6
    try:
        ftp.retrlines("LIST", lambda _: None)
    finally:
        ftp.close()


def clients(port):
    url = f"ftp://127.0.0.1:{port}/"
    lftp = ["lftp", "-u", "a,b", "-p", str(port), "-e"]
    return {
        "curl": (["curl", "-s", "--max-time", "8", url], True, True),
        "curl-trust": (["curl", "-s", "--max-time", "8", "--no-ftp-skip-pasv-ip",
                        "--disable-epsv", url], True, False),
        "lftp": (lftp + ["set net:max-retries 1; set net:timeout 5; "
                         "set ftp:prefer-epsv no; set ftp:fix-pasv-address no; "
                         "ls; bye", "127.0.0.1"], True, False),
        "lftp-epsv": (lftp + ["set net:max-retries 1; set net:timeout 5; "
                              "set ftp:prefer-epsv yes; ls; bye", "127.0.0.1"],
                      False, True),
        "wget": (["wget", "-q", "-O", "/dev/null", "--tries=1", "--timeout=5",
                  url + "hello.txt"], True, False),
        "ftplib": ("ftplib", True, False),
        "ftplib-trust": ("ftplib-trust", True, False),
        "ftplib-epsv": ("ftplib-epsv", False, True),
    }


def run_client(name, cmd, port):
    try:
        if cmd == "ftplib":
            ftplib_run(port, False, False)
        elif cmd == "ftplib-trust":
            ftplib_run(port, True, False)
        elif cmd == "ftplib-epsv":
            ftplib_run(port, False, True)
        else:
            subprocess.run(cmd, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
    except Exception:
        pass


# form name -> (command, role): "written" (ftp_rewrite writes this form:
# the server must follow it), "info" (not written: only reported),
# "control" (another port: the listener on 1025 must see nothing)
SERVER_FORMS = {
    "PORT-plain": ("PORT 127,0,0,1,4,1", "written"),
    "PORT-zero-p1": ("PORT 127,0,0,1,004,1", "written"),
    "PORT-zero-both": ("PORT 127,0,0,1,004,001", "written"),
    "EPRT-plain": ("EPRT |1|127.0.0.1|1025|", "written"),
    "EPRT-zero": ("EPRT |1|127.0.0.1|01025|", "written"),
    "PORT-control": ("PORT 127,0,0,1,4,2", "control"),
}
SERVER_FORMS6 = {
    "EPRT6-plain": ("EPRT |2|::1|1025|", "written"),
    "EPRT6-zero-port": ("EPRT |2|::1|01025|", "written"),
    "EPRT6-zero-groups": ("EPRT |2|0000:0000::0001|1025|", "info"),
    "EPRT6-no-compress": ("EPRT |2|0:0:0:0:0:0:0:1|1025|", "info"),
    "EPRT6-short-run": ("EPRT |2|::0:0:0:0:0:0:1|1025|", "info"),
    "EPRT6-control": ("EPRT |2|::1|1026|", "control"),
}

VSFTPD_CONF = """listen=YES
listen_address=127.0.0.1
listen_port={port}
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
anon_root={root}
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir={empty}
"""


def start_servers(base, work):
    import os
    root = os.path.join(work, "root")
    empty = os.path.join(work, "empty")
    os.makedirs(root)
    os.makedirs(empty)
    os.chmod(work, 0o755)
    os.chmod(root, 0o755)
    with open(os.path.join(root, "hello.txt"), "w") as f:
        f.write("hello\n")
    conf = os.path.join(work, "vsftpd.conf")
    with open(conf, "w") as f:
        f.write(VSFTPD_CONF.format(port=base, root=root, empty=empty))
    conf6 = os.path.join(work, "vsftpd6.conf")
    with open(conf6, "w") as f:
        f.write(VSFTPD_CONF.format(port=base + 2, root=root, empty=empty)
                .replace("listen=YES", "listen=NO\nlisten_ipv6=YES")
                .replace("listen_address=127.0.0.1", "listen_address6=::1"))
    procs = [subprocess.Popen(["/usr/sbin/vsftpd", conf]),
             subprocess.Popen(["/usr/sbin/vsftpd", conf6]),
             subprocess.Popen(["/usr/bin/python3", "-m", "pyftpdlib", "-i",
                               "127.0.0.1", "-p", str(base + 1), "-d", root],
                              stderr=subprocess.DEVNULL),
             subprocess.Popen(["/usr/bin/python3", "-m", "pyftpdlib", "-i",
                               "::1", "-p", str(base + 3), "-d", root],
                              stderr=subprocess.DEVNULL)]
    return procs, {"vsftpd": ("127.0.0.1", base), "pyftpdlib": ("127.0.0.1", base + 1),
                   "vsftpd-v6": ("::1", base + 2), "pyftpdlib-v6": ("::1", base + 3)}


def server_try(host, port, command, data):
    """Send COMMAND then LIST; say whether the server connected to DATA."""
    data.settimeout(5)
    with socket.create_connection((host, port), timeout=5) as c:
        f = c.makefile("rb")

        def ask(line):
            c.sendall(line.encode() + b"\r\n")
            while True:
                r = f.readline().decode("latin-1")
                if len(r) < 4 or r[3] != "-":
                    return r
        f.readline()
        ask("USER anonymous")
        ask("PASS x@")
        r = ask(command)
        if not r.startswith("200"):
            return "refused: " + r.strip()
        c.sendall(b"LIST\r\n")
        try:
            d, peer = data.accept()
            d.close()
            return "connected to port 1025"
        except socket.timeout:
            return "no data connection"


def servers(base):
    import shutil
    import tempfile
    work = tempfile.mkdtemp(prefix="text-forms-")
    procs, ports = start_servers(base, work)
    listeners = {}
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        listeners[host] = socket.socket(fam)
        listeners[host].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listeners[host].bind((host, 1025))
        listeners[host].listen(4)
    bad = 0
    try:
        time.sleep(1)
        for server, (host, port) in ports.items():
            forms = SERVER_FORMS6 if ":" in host else SERVER_FORMS
            for form, (command, role) in forms.items():
                got = server_try(host, port, command, listeners[host])
                print(f"{form:18} {server:12} -> {got}")
                if role != "info":
                    bad += got.startswith("connected") == (role == "control")
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        shutil.rmtree(work)
    print(f"text-forms: PORT/EPRT forms ftp_rewrite writes: {'all followed' if not bad else f'{bad} server/form pairs BAD'}")
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=2121)
    ap.add_argument("--servers", action="store_true")
    args = ap.parse_args()
    port = args.port
    if args.servers:
        return servers(port)
    state = {"form": None}
    for h in HOSTS:
        for p in (PORT, PORT_OCTAL):
            threading.Thread(target=data_listener, args=(h, p), daemon=True).start()
    threading.Thread(target=control_server, args=(port, state), daemon=True).start()
    time.sleep(0.3)
    bad = 0
    for form, (pasv, epsv, written) in FORMS.items():
        for name, (cmd, uses_pasv, uses_epsv) in clients(port).items():
            if (pasv and not uses_pasv) or (epsv and not uses_epsv):
                continue
            state["form"] = form
            with hits_lock:
                hits.clear()
            run_client(name, cmd, port)
            deadline = time.time() + 2
            while time.time() < deadline and not hits:
                time.sleep(0.05)
            with hits_lock:
                got = ", ".join(hits) if hits else "no data connection"
            print(f"{form:14} {name:13} -> {got}")
            if written:
                ok = any(h.endswith(f":{PORT}") and
                         (h.startswith("127.0.0.10:") or h.startswith("127.0.0.1:"))
                         for h in hits)
                bad += not ok
    print(f"text-forms: forms ftp_rewrite writes: {'all followed' if not bad else f'{bad} client/form pairs BAD'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
