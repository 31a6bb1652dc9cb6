#!/bin/bash
# queue-reply-experiment.sh: not a suite (issue 16, "hold only what must
# wait"). With ftpgated's helper registered but disabled, so that the
# helper queues nothing, and an nft chain that queues only the reply
# direction (the server's packets) of ftpgate's control connections and
# sends an NFLOG copy of the original direction (the client's), what does
# the kernel deliver? It prints, and asserts nothing:
#   1. the same PASV LIST with the helper enabled (today's design): the
#      packets ftpgated read;
#   2. with the helper disabled and the nft chain: the packets ftpgated
#      read (the server's only?), whether they carried their conntrack
#      (ftpgated reads them as a session, not as untracked), what it said
#      of the 227 (it never saw the PASV: unsolicited), and whether the
#      control conntrack still has its helper;
#   3. the NFLOG copies (tcpdump -i nflog:5): the client's commands.
# Measured on 6.1.0-57 (2026-12-06): with the helper disabled, the
# `ct helper "ftpgate"` rules matched nothing (counters 0) although
# conntrack -L showed helper=ftpgate; the port rules matched: 9 server
# packets queued to ftpgated, all with their conntrack (it refused the
# 227 as unsolicited, having seen no PASV), 10 client packets copied by
# NFLOG with their commands. With the helper enabled: 27 packets queued.
# As root:
#   FTPGATE_KERNEL_LINE=bookworm FTPGATE_BUILD_DIR=$PWD/build \
#     tests/lab/lab-run --timeout 600 -- tests/lab/queue-reply-experiment.sh
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"
W=$LAB_WORK/qexp; rm -rf "$W"; mkdir -p "$W"; : > "$FTPGATE_LOG"
lab_topology_up || exit 1
ftpgate_modules || exit 1
modprobe -a nfnetlink_log nft_log 2>/dev/null
echo "EXP kernel $(uname -r)"
lab_vsftpd_start || exit 1
ftpgate_config < /dev/null
ftpgate_start || exit 1
ftpgate_rules || exit 1

# metric NAME: one of ftpgated's counters (ftpgatectl metrics)
metric() { "$FTPGATE_BUILD_DIR/ftpgatectl" metrics 2>/dev/null | awk -v n="$1" '$1 ~ ("^[a-z]*_?" n "$") { print $2; exit }'; }
packets() { echo "$(metric packets_total) $(metric packets_unparsed_total)"; }
# delta "A B" "C D": read and unparsed packets between two packets() calls
delta() { set -- $1 $2; echo "read $(( $3 - $1 )), of which without conntrack $(( $4 - $2 ))"; }
list() { lab_ns client curl -sS --disable-epsv --max-time 8 "ftp://$LAB_SERVER4/pub/" > "$W/list.$1" 2>&1; echo "rc=$?"; }

# 1. today's design
p0=$(packets)
echo "EXP 1 helper enabled: curl PASV LIST $(list 1); packets $(delta "$p0" "$(packets)")"
lab_ns gateway conntrack -L -p tcp --dport 21 2>/dev/null | head -n 2 | sed 's/^/EXP 1   conntrack: /'

# 2. the helper disabled; the server's packets queued by nft, the client's
# copied by NFLOG (queue-threshold 1: each at once)
lab_ns gateway conntrack -F >/dev/null 2>&1
# helpers are global, queues per namespace: from the root namespace,
# where nobody reads queue 7, --disable-helper does it while ftpgated runs
"$FTPGATED" --disable-helper 2>&1 | sed 's/^/EXP 2   disable: /'
lab_ns gateway nft -f - <<'NFT'
table inet qexp {
	chain post {
		type filter hook postrouting priority 250; policy accept;
		ct helper "ftpgate" ct direction reply counter queue num 7 bypass
		ct helper "ftpgate" ct direction original counter log group 5 queue-threshold 1
		tcp sport 21 ct direction reply counter queue num 7 bypass
		tcp dport 21 ct direction original counter log group 5 queue-threshold 1
	}
}
NFT
echo "EXP 2   nft: rc=$?"
lab_ns gateway tcpdump -n -l -i nflog:5 -A > "$W/nflog.txt" 2> "$W/tcpdump.err" &
td=$!
sleep 2
mark=$(ftpgate_log_mark)
p0=$(packets)
echo "EXP 2 helper disabled, reply direction queued by nft: curl PASV LIST $(list 2); packets $(delta "$p0" "$(packets)")"
lab_ns gateway conntrack -L -p tcp --dport 21 2>/dev/null | head -n 2 | sed 's/^/EXP 2   conntrack: /'
lab_ns gateway nft list chain inet qexp post | grep counter | sed 's/^[[:space:]]*/EXP 2   rule: /'
tail -n +"$((mark + 1))" "$FTPGATE_LOG" | grep -v '^{' | cut -c1-220 | sed 's/^/EXP 2   ftpgated: /'
sleep 1
kill "$td" 2>/dev/null; wait "$td" 2>/dev/null
echo "EXP 3 NFLOG copies: $(grep -c ' IP ' "$W/nflog.txt") packets; commands seen:"
grep -oE '(USER|PASS|PASV|EPSV|LIST|NLST|TYPE|PWD|CWD|QUIT)[^.]*' "$W/nflog.txt" | head -n 12 | sed 's/^/EXP 3   /'
head -n 3 "$W/tcpdump.err" | sed 's/^/EXP 3   tcpdump: /'
ftpgate_stop 3
lab_ftp_stop
lab_topology_down
echo "queue-reply-experiment: done"
