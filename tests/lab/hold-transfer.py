#!/usr/bin/python3
"""hold-transfer.py HOST FILE SIZE READY GO: a passive (EPSV for IPv6,
PASV for IPv4) RETR of FILE that stops reading after 64 KiB, writes the
data connection's server port to READY, waits (30 s at most) until GO
exists, then reads the rest. Exit 0 when exactly SIZE bytes arrived."""
import ftplib
import os
import sys
import time

host, path, size, ready, go = sys.argv[1:6]
ftp = ftplib.FTP()
ftp.connect(host, 21, timeout=30)
ftp.login("anonymous", "lab")
ftp.af = ftp.sock.family
ftp.set_pasv(True)
data = ftp.transfercmd("RETR " + path)
got = 0
while got < 65536:
    chunk = data.recv(65536 - got)
    if not chunk:
        break
    got += len(chunk)
with open(ready + ".tmp", "w") as f:
    f.write("%d\n" % data.getpeername()[1])
os.rename(ready + ".tmp", ready)
deadline = time.time() + 30
while not os.path.exists(go) and time.time() < deadline:
    time.sleep(0.1)
data.settimeout(30)
while True:
    chunk = data.recv(65536)
    if not chunk:
        break
    got += len(chunk)
data.close()
reply = ftp.voidresp()
ftp.quit()
print("received %d bytes of %s; server said %s" % (got, size, reply))
sys.exit(0 if got == int(size) else 1)
