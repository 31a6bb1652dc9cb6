#!/usr/bin/env python3
"""Write the seed corpus of fuzz_inspect (layout: tests/fuzz/fuzz_inspect.c)
into tests/fuzz/corpus/inspect/: whole FTP sessions, passive and active, IPv4 and IPv6,
and the attacks of issue 11. Run it again after changing the layout."""
import os

C, S = 0, 1
SYN, FIN, RST, NOACK, WRONGIF, OFFSET, EVENT = 2, 4, 8, 16, 32, 64, 128


def rec(flags, data=b"", offset=0):
    return bytes([flags, offset & 0xFF, len(data)]) + data


def handshake():
    return rec(C | SYN) + rec(S | SYN) + rec(C)


def login():
    return (handshake() + rec(S, b"220 ready\r\n") + rec(C, b"USER ftp\r\n")
            + rec(S, b"331 pw\r\n") + rec(C, b"PASS x\r\n") + rec(S, b"230 in\r\n"))


SEEDS = {
    # IPv4, passive, strict, started long ago
    "passive": bytes([8]) + login() + rec(C, b"PASV\r\n")
    + rec(S, b"227 Entering Passive Mode (203,0,113,2,195,80)\r\n")
    + rec(C, b"LIST\r\n") + rec(S, b"150 ok\r\n226 done\r\n")
    + rec(C, b"QUIT\r\n") + rec(S, b"221 bye\r\n") + rec(C | FIN) + rec(S | FIN),
    "epsv-ipv6": bytes([8 | 1]) + login() + rec(C, b"EPSV\r\n")
    + rec(S, b"229 Entering Extended Passive Mode (|||50000|)\r\n") + rec(C | RST),
    "active": bytes([8 | 2]) + login() + rec(C, b"PORT 198,51,100,2,195,81\r\n")
    + rec(S, b"200 PORT ok\r\n") + rec(C, b"RETR f\r\n") + rec(S, b"150 ok\r\n226 ok\r\n"),
    "rst-desync": bytes([8]) + login()
    + rec(C, b"CWD 227 Entering Passive Mode (203,0,113,2,12,234)\r\n")
    + rec(S, b"550 ") + rec(C | RST, offset=100) + rec(C, b"PASV\r\n")
    + rec(S, b"227 Entering Passive Mode (203,0,113,2,12,234): No such file\r\n")
    + rec(S, b"227 Entering Passive Mode (203,0,113,2,195,80)\r\n"),
    "pickup-restart": bytes([0]) + rec(C, b"NOOP\r\n") + rec(S, b"200 ok\r\n")
    + rec(C, b"PASV\r\n") + rec(S, b"227 Entering Passive Mode (203,0,113,2,195,80)\r\n")
    + rec(EVENT, offset=0),
    "forged-direction": bytes([8]) + login() + rec(C, b"PASV\r\n")
    + rec(S | WRONGIF | OFFSET, b"227 Entering Passive Mode (203,0,113,2,12,234)\r\n")
    + rec(S, b"227 Entering Passive Mode (203,0,113,2,195,80)\r\n") + rec(EVENT, offset=1),
}

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "inspect")
for name, data in SEEDS.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
