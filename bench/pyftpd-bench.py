"""pyftpdlib server for the benchmark: anonymous, read-only, dual-stack,
logging only warnings (per-command logging would be the server's main cost).

usage: pyftpd-bench.py ROOT PASV_LOW PASV_HIGH
"""
import logging
import socket
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.log import config_logging
from pyftpdlib.servers import FTPServer


def main():
    root, low, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config_logging(level=logging.WARNING)
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root, perm="elr")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = range(low, high + 1)
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", 21))
    sock.listen(256)
    server = FTPServer(sock, handler)
    server.max_cons = 1024
    server.serve_forever()


if __name__ == "__main__":
    main()
