"""latency: the time each 227/229 reply spent inside the gateway.

Reads a pcap that tcpdump wrote in the gateway namespace with `-i any`
(link type LINUX_SLL2 or LINUX_SLL), keeping only TCP segments from port 21
whose payload starts with "227 " or "229 ". Each such segment is seen twice:
arriving from the server (packet type HOST, on g1: the af_packet tap runs in
__netif_receive_skb_core, before the netfilter prerouting hook) and leaving
towards the client (packet type OUTGOING, on g0: dev_queue_xmit_nit, after
postrouting). The difference of the two kernel timestamps is the time the
gateway held the reply: routing, conntrack, the helper (and for a userspace
helper the NFQUEUE round trip, the expectation and the verdict), nftables.
Segments are matched by (destination address, ports, sequence number:
not the source, which a DNAT gateway translates); the first
arrival and the first departure of a given segment count.

usage: latency.py PCAP [LOAD_JSON [META_JSON]]
Prints JSON: {"samples_us": [...], "unmatched": N}. With LOAD_JSON (what
ftpload.py printed), only replies that arrived inside its measured window
count, and the output is one "BENCH-RUN {...}" line: META_JSON, LOAD_JSON
and the samples merged.
"""
import json
import struct
import sys

LINKTYPE_LINUX_SLL = 113
LINKTYPE_LINUX_SLL2 = 276
PACKET_HOST = 0
PACKET_OUTGOING = 4


def packets(path):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B2C3D4, 0xA1B23C4D):
        endian = "<"
    else:
        endian = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        ts = sec + frac / (1e9 if nano else 1e6)
        if linktype == LINKTYPE_LINUX_SLL2 and len(pkt) >= 20:
            proto = struct.unpack(">H", pkt[0:2])[0]
            pkttype = pkt[10]
            l3 = pkt[20:]
        elif linktype == LINKTYPE_LINUX_SLL and len(pkt) >= 16:
            pkttype = struct.unpack(">H", pkt[0:2])[0]
            proto = struct.unpack(">H", pkt[14:16])[0]
            l3 = pkt[16:]
        else:
            continue
        yield ts, pkttype, proto, l3


def segment_key(proto, l3):
    if proto == 0x0800 and len(l3) >= 20:
        ihl = (l3[0] & 0x0F) * 4
        if l3[9] != 6:
            return None
        src, dst, tcp = l3[12:16], l3[16:20], l3[ihl:]
    elif proto == 0x86DD and len(l3) >= 40:
        if l3[6] != 6:
            return None
        src, dst, tcp = l3[8:24], l3[24:40], l3[40:]
    else:
        return None
    if len(tcp) < 20:
        return None
    sport, dport, seq = struct.unpack(">HHI", tcp[0:8])
    # Not the source address: on a DNAT gateway (bench helpers *-nat) the
    # reply arrives from the server's address and leaves from the
    # published one. The client's end, the ports and the sequence number
    # (unchanged by a same-length rewrite) still name one segment.
    return (dst, sport, dport, seq)


def main():
    path = sys.argv[1]
    load = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    meta = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    lo = load.get("window_start", float("-inf"))
    hi = load.get("window_end", float("inf"))
    arrived, departed = {}, {}
    try:
        captured = list(packets(path))
    except OSError:
        captured = []
    for ts, pkttype, proto, l3 in captured:
        key = segment_key(proto, l3)
        if key is None:
            continue
        if pkttype == PACKET_HOST:
            arrived.setdefault(key, ts)
        elif pkttype == PACKET_OUTGOING:
            departed.setdefault(key, ts)
    samples, unmatched = [], 0
    for key, t_in in arrived.items():
        t_out = departed.get(key)
        if t_out is None:
            unmatched += 1
            continue
        if lo <= t_in < hi:
            samples.append(round((t_out - t_in) * 1e6, 1))
    out = {"samples_us": samples, "unmatched": unmatched}
    if len(sys.argv) > 2:
        merged = dict(meta)
        merged.update(load)
        merged.update(out)
        print("BENCH-RUN " + json.dumps(merged, separators=(",", ":")), flush=True)
    else:
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")


if __name__ == "__main__":
    main()
