#!/bin/bash
# nat66-resize-experiment.sh: not a suite. Does a resized IPv6 EPRT through
# ftpgated (NFQA_PAYLOAD with an empty NFQA_CT) keep the control connection
# alive? IPv6 clients SNATed to 2001:db8:2::100 (two characters longer than
# 2001:db8:1::2), curl in active mode fetching 50 files (doc/nat.md 2.5).
# ftpgated refuses such a resize, so this needs a build without the refusal:
#   sed -i 's/if (e->session.client.family == AF_INET6)/if (0)/' src/daemon/rewrite.c
# in a scratch worktree, built there; then, as root:
#   FTPGATE_KERNEL_LINE=bookworm FTPGATE_BUILD_DIR=<that build> \
#     tests/lab/lab-run --timeout 1500 -- tests/lab/nat66-resize-experiment.sh
# It prints what happened (files intact, what vsftpd got, ftpgated's
# rewrites, curl's last lines); it asserts nothing.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"
W=$LAB_WORK/exp; rm -rf "$W"; mkdir -p "$W"; : > "$FTPGATE_LOG"
lab_topology_up || exit 1
ftpgate_modules || exit 1
modprobe nft_masq 2>/dev/null
uname -r
ip -n gateway addr add 2001:db8:2::100/64 dev g1 nodad
LAB_VSFTPD_EXTRA="connect_timeout=4" lab_vsftpd_start || exit 1
for i in $(seq -w 1 50); do echo "numbered file $i" > "$LAB_FTP_ROOT/pub/n$i.txt"; done
for mode in long; do
	if [ $mode = long ]; then nat="snat ip6 to 2001:db8:2::100"; else nat="masquerade"; fi
	cat > "$W/site.nft" <<NFT
table inet site
delete table inet site
table inet site {
	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "g1" meta nfproto ipv4 masquerade
		oifname "g1" meta nfproto ipv6 $nat
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established accept
		ct state related counter accept comment "related"
		meta l4proto { icmp, ipv6-icmp } accept
		iifname "g0" tcp dport 21 ct state new accept
		counter comment "dropped by the site"
	}
}
NFT
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	ftpgate_config <<CONF
queue-number = 7
expect-timeout-seconds = 30
max-pinholes-per-session = 8
[server $LAB_SERVER6]
active-mode = on
CONF
	ftpgate_start || { tail "$FTPGATE_LOG"; exit 1; }
	ftpgate_rules "$W/site.nft" || exit 1
	lab_ns gateway nft add element inet ftpgate ftpgate_clients_ipv6 "{ 2001:db8:1::/64 }"
	lab_ns gateway conntrack -F >/dev/null 2>&1
	mark=$(ftpgate_log_mark)
	dmesg -c > /dev/null
	mkdir -p "$W/$mode"
	start=$EPOCHREALTIME
	lab_ns client curl -sS -v --max-time 300 --ftp-port - "ftp://[$LAB_SERVER6]/pub/n[01-50].txt" -o "$W/$mode/#1.txt" 2> "$W/$mode.v"
	echo "== $mode: curl exit $? after $(awk -v a=$start -v b=$EPOCHREALTIME 'BEGIN{printf "%.1f", b-a}') s"
	got=0; for i in $(seq -w 1 50); do [ "$(cat "$W/$mode/$i.txt" 2>/dev/null)" = "numbered file $i" ] && got=$((got+1)); done
	echo "== $mode: $got of 50 files intact; EPRTs sent: $(grep -ac '^> EPRT' "$W/$mode.v"); reused: $(grep -acE 'Re-using existing' "$W/$mode.v")"
	echo "== $mode: vsftpd got: $(grep -aoE '"EPRT [^"]*"' "$LAB_WORK/vsftpd.log" | tail -n 2 | tr '\n' ' ')"
	echo "== $mode: ftpgated: $(tail -n +$((mark+1)) "$FTPGATE_LOG" | grep -c 'EPRT rewritten') EPRT rewrites; kinds: $(tail -n +$((mark+1)) "$FTPGATE_LOG" | grep -oE 'EPRT rewritten .*\((same length|length [+-][0-9]+)' | sed -E 's/.*\(//' | sort | uniq -c | tr '\n' ' ')"
	tail -n +$((mark+1)) "$FTPGATE_LOG" | grep -v '^{' | grep -iE 'warn|error|refused|unchanged|resync|sequence' | head -n 8
	echo "== $mode: curl's last lines:"; grep -aE '^(<|>) ' "$W/$mode.v" | tail -n 6
	echo "== $mode: dmesg:"; dmesg | grep -iE 'seqadj|nf_ct|nf_nat|WARN' | head -5
	lab_ns gateway conntrack -L 2>/dev/null | grep -E 'port=21 ' | head -3
done
ftpgate_stop 3; lab_ftp_stop; lab_topology_down
