"""python3 ftplib client for the lab: LIST, RETR and STOR.

usage: ftplib-client.py HOST pasv|pasv-trust|epsv|port TIMEOUT RETR_TO STOR_FROM STOR_AS
pasv ignores the address a 227 names (ftplib's default: it connects to the
control connection's peer); pasv-trust connects to the address the 227
names (trust_server_pasv_ipv4_address), as a client behind no NAT would.
port is active mode (set_pasv(False)): ftplib listens on the control
connection's local address and sends PORT naming it (EPRT over IPv6).
Prints the LIST output; exits non-zero on any error.
"""
import ftplib
import sys


def main():
    host, mode, timeout, retr_to, stor_from, stor_as = sys.argv[1:7]
    ftp = ftplib.FTP(timeout=float(timeout))
    ftp.connect(host, 21)
    ftp.login()
    ftp.set_pasv(mode != "port")
    # ftplib sends EPSV for IPv6 and PASV for IPv4 unless told otherwise.
    if mode == "epsv":
        ftp.af = 0  # not AF_INET: makepasv uses EPSV
    if mode == "pasv-trust":
        ftp.trust_server_pasv_ipv4_address = True
    lines = []
    ftp.retrlines("LIST pub", lines.append)
    print("\n".join(lines))
    with open(retr_to, "wb") as f:
        ftp.retrbinary("RETR pub/hello.txt", f.write)
    with open(stor_from, "rb") as f:
        ftp.storbinary("STOR " + stor_as, f)
    ftp.quit()


if __name__ == "__main__":
    main()
