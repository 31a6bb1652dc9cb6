#!/usr/bin/python3
"""stall-watch.py FILE: sleep 0.2 s at a time until killed and keep in FILE
the longest time one such sleep took, in seconds. A long one means the
whole guest (or this process) got no CPU for that long: a check that timed
out meanwhile measured the machine, not the program it was waiting for."""
import os
import sys
import time

path = sys.argv[1]
worst = 0.0
last = time.monotonic()
while True:
    time.sleep(0.2)
    now = time.monotonic()
    if now - last > worst:
        worst = now - last
        with open(path + ".tmp", "w") as f:
            f.write("%.1f\n" % worst)
        os.rename(path + ".tmp", path)
    last = now
