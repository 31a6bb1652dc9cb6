#!/usr/bin/python3
"""connect-many.py TIMEOUT ADDR/PORT...: connect to each target at once
(one thread each) and print "ADDR/PORT RESULT" per target, in argument
order. RESULT: connected | refused | timeout | error-ERRNO (an ICMP
rejection such as firewalld's admin-prohibited shows as error-113)."""
import socket
import sys
import threading


def probe(target, timeout, out, i):
    addr, port = target.rsplit("/", 1)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam)
    s.settimeout(timeout)
    try:
        s.connect((addr, int(port)))
        out[i] = "connected"
    except ConnectionRefusedError:
        out[i] = "refused"
    except (socket.timeout, TimeoutError):
        out[i] = "timeout"
    except OSError as e:
        out[i] = "error-%s" % e.errno
    finally:
        s.close()


def main():
    timeout = float(sys.argv[1])
    targets = sys.argv[2:]
    out = [None] * len(targets)
    threads = [threading.Thread(target=probe, args=(t, timeout, out, i))
               for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for t, r in zip(targets, out):
        print(t, r)


main()
