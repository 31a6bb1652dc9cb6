"""soak-ftpd: the FTP server of the lab soak (suite-soak.sh). pyftpdlib,
anonymous, read-only, active and passive mode, logging only warnings, on
port 21 of each ADDRESS given (not the wildcard, so that fake-ftpd can
answer on port 21 of another address of the same namespace), and able to
hold thousands of idle control connections (max_cons; the caller raises
the file descriptor limit).

usage: soak-ftpd.py ROOT PASV_LOW PASV_HIGH MAX_CONS ADDRESS...
"""
import logging
import socket
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.ioloop import IOLoop
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer


def main():
    root, low, high, max_cons = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    config_logging(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root, perm="elr")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = range(low, high + 1)
    ioloop = IOLoop.instance()
    servers = []
    for addr in sys.argv[5:]:
        sock = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((addr, 21))
        sock.listen(1024)
        server = FTPServer(sock, handler, ioloop=ioloop)
        server.max_cons = max_cons
        servers.append(server)
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
