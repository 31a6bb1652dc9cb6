#!/usr/bin/python3
"""listen-many.py ADDR/PORT...: listen on every target (accept, close),
one process, until killed. Prints "listening" once all are bound."""
import selectors
import socket
import sys

sel = selectors.DefaultSelector()
for target in sys.argv[1:]:
    addr, port = target.rsplit("/", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(16)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
print("listening", flush=True)
while True:
    for key, _ in sel.select():
        try:
            c, _ = key.fileobj.accept()
            c.close()
        except OSError:
            pass
