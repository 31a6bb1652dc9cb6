"""python3 ftplib FTP_TLS client for the lab: explicit FTPS (AUTH TLS, then
PROT P), passive mode, one control connection driven by steps.

usage: ftps-client.py HOST TIMEOUT [--source-port N] STEP...

Steps, in order:
  login            connect, AUTH TLS, log in anonymously, PROT P
  list FILE        LIST pub into FILE
  retr FILE        RETR pub/hello.txt into FILE
  stor FROM AS     STOR the local file FROM as AS
  touch PATH       create PATH (tells the suite a point was reached)
  wait PATH        wait (120 s at most) until PATH exists
  quit             QUIT
Exits non-zero with a message on any error.
"""
import ftplib
import os
import socket
import ssl
import sys
import time


def wait_file(path):
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            sys.exit("wait: %s did not appear within 120 s" % path)
        time.sleep(0.05)


def main():
    host, timeout = sys.argv[1], float(sys.argv[2])
    args = sys.argv[3:]
    source = None
    if args[:1] == ["--source-port"]:
        source = ("", int(args[1]))
        args = args[2:]
    # the lab's certificate is self-signed: no verification
    ftp = ftplib.FTP_TLS(context=ssl._create_unverified_context(), timeout=timeout)
    while args:
        step = args.pop(0)
        if step == "login":
            ftp.connect(host, 21, source_address=source)
            # ftplib binds data connections to source_address too: the
            # chosen port is for the control connection only
            ftp.source_address = None
            ftp.auth()
            ftp.login()
            ftp.prot_p()
            ftp.set_pasv(True)
        elif step == "list":
            lines = []
            ftp.retrlines("LIST pub", lines.append)
            with open(args.pop(0), "w") as f:
                f.write("\n".join(lines) + "\n")
        elif step == "retr":
            with open(args.pop(0), "wb") as f:
                ftp.retrbinary("RETR pub/hello.txt", f.write)
        elif step == "stor":
            src, dst = args.pop(0), args.pop(0)
            with open(src, "rb") as f:
                ftp.storbinary("STOR " + dst, f)
        elif step == "touch":
            open(args.pop(0), "w").close()
        elif step == "wait":
            wait_file(args.pop(0))
        elif step == "quit":
            ftp.quit()
        else:
            sys.exit("unknown step %r" % step)
        print("done:", step, flush=True)


if __name__ == "__main__":
    try:
        main()
    except (ftplib.Error, OSError, socket.timeout) as e:
        sys.exit("FAILED %s: %s" % (type(e).__name__, e))
