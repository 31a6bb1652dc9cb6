"""pyftpdlib FTP server for the lab: anonymous, writable, dual-stack.

usage: pyftpd-server.py ROOT PASV_LOW PASV_HIGH
"""
import socket
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer


def main():
    root, low, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    authorizer = DummyAuthorizer()
    authorizer.add_anonymous(root, perm="elradfmw")
    handler = FTPHandler
    handler.authorizer = authorizer
    handler.passive_ports = range(low, high + 1)
    # One socket for both families, as a real dual-stack server runs.
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", 21))
    sock.listen(64)
    server = FTPServer(sock, handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
