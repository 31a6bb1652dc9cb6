#!/bin/bash
# nat-kernel-yardstick.sh: what the kernel's own FTP helper (nf_conntrack_ftp
# + nf_nat_ftp) passes on a NAT gateway: the kernel column the NAT suite
# (issue 13) will print beside ftpgate's. Not a registered suite: it tests
# nothing of ftpgate; it records what the kernel does. Runs in the guest:
#
#   tests/lab/lab-run -- tests/lab/nat-kernel-yardstick.sh
#
# Topology (lib.sh) with NAT on the gateway:
#   dnat  clients dial the gateway's address 198.51.100.1 / 2001:db8:1::1,
#         port 21, DNATed to the server 203.0.113.2 / 2001:db8:2::2
#   masq  the gateway masquerades clients towards the server: they appear
#         as 203.0.113.1 / 2001:db8:2::1 (IPv6 also with SNAT to
#         2001:db8:2::100, whose text is longer than the client's: an EPRT
#         rewrite that changes the length and needs sequence adjustment)
#   both  dnat and masq
# The administrator's forward chain drops every new connection except FTP
# control connections from the client side and what the helper expects
# (ct state related), so a data connection to an address or port the helper
# did not translate and expect is dropped (or refused by the gateway).
# The helper is attached in prerouting at -150 (after conntrack, before
# dstnat), and, for comparison, at filter priority (after dstnat).
#
# Every check runs real curl or ftplib against vsftpd and compares the
# transferred content. Prints one "KERNEL ..." line per scenario (PASS or
# FAIL with the reason) with what the client saw (the 227/229 it got, the
# PORT/EPRT the server got), and any kernel warning (dmesg) a phase caused.
set -u
. "$(dirname "$0")/lib.sh"

W=$LAB_WORK/natk
rm -rf "$W"; mkdir -p "$W"
PUB4=198.51.100.1 PUB6=2001:db8:1::1
LONG6=2001:db8:2::100
RULES=$W/nat.nft

# rules PRIO DNAT MASQ6: the gateway ruleset. PRIO: the helper chain's
# priority; DNAT: yes|no; MASQ6: masquerade|long|no (IPv6 source NAT:
# masquerade, SNAT to $LONG6, none; IPv4 follows masquerade/no).
rules() {
	local prio=$1 dnat=$2 masq=$3 d4= d6= m4= m6=
	if [ "$dnat" = yes ]; then
		d4="ip daddr $PUB4 tcp dport 21 dnat ip to $LAB_SERVER4"
		d6="ip6 daddr $PUB6 tcp dport 21 dnat ip6 to $LAB_SERVER6"
	fi
	case $masq in
	masquerade) m4='oifname "g1" meta nfproto ipv4 masquerade'
		m6='oifname "g1" meta nfproto ipv6 masquerade' ;;
	long) m4='oifname "g1" meta nfproto ipv4 masquerade'
		m6="oifname \"g1\" meta nfproto ipv6 snat ip6 to $LONG6" ;;
	esac
	cat > "$RULES" <<NFT
table inet natlab {
	ct helper ftp-kernel {
		type "ftp" protocol tcp
		l3proto inet
	}
	chain helper {
		type filter hook prerouting priority $prio; policy accept;
		tcp dport 21 ct helper set "ftp-kernel"
	}
	chain dstnat {
		type nat hook prerouting priority dstnat; policy accept;
		$d4
		$d6
	}
	chain srcnat {
		type nat hook postrouting priority srcnat; policy accept;
		$m4
		$m6
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		ct state established accept
		ct state related counter accept
		meta l4proto { icmp, ipv6-icmp } accept
		iifname "g0" tcp dport 21 ct state new accept
		counter comment "dropped"
	}
}
NFT
	lab_ns gateway nft flush ruleset
	lab_ns gateway nft -f "$RULES"
}

# url HOST: the FTP URL of a host address
url() { case $1 in *:*) echo "ftp://[$1]" ;; *) echo "ftp://$1" ;; esac; }

# curl_flags MODE: pasv (PASV, trusts the 227's address), pasv-skip (PASV,
# uses the control connection's address), epsv, port, eprt
curl_flags() {
	case $1 in
	pasv) echo "--disable-epsv --no-ftp-skip-pasv-ip" ;;
	pasv-skip) echo "--disable-epsv" ;;
	epsv) echo "--ftp-pasv" ;;
	port) echo "--ftp-port - --disable-eprt" ;;
	eprt) echo "--ftp-port -" ;;
	esac
}

# seen VERBOSE: what the data-channel lines looked like on the wire (the
# 227/229 the client got; the PORT/EPRT the server got, from vsftpd's log)
seen() {
	local r
	r=$(grep -aoE '^< 22[79] .*' "$1" | head -n 1 | tr -d '\r')
	[ -n "$r" ] || r=$(grep -aoE '"(PORT|EPRT) [^"]*"' "$LAB_WORK/vsftpd.log" 2>/dev/null | tail -n 1)
	echo "${r:-nothing seen}"
}

# session MODE HOST: LIST and RETR with curl (two control connections)
session() {
	local mode=$1 host=$2 tag=$W/$1-$RANDOM
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time "$LAB_FTP_TIMEOUT" $(curl_flags "$mode") \
		-o "$tag.list" "$(url "$host")/pub/" 2> "$tag.v1" || { echo "LIST failed: $(tail -n 1 "$tag.v1") [$(seen "$tag.v1")]"; return 1; }
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time "$LAB_FTP_TIMEOUT" $(curl_flags "$mode") \
		-o "$tag.got" "$(url "$host")/pub/hello.txt" 2> "$tag.v2" || { echo "RETR failed: $(tail -n 1 "$tag.v2") [$(seen "$tag.v2")]"; return 1; }
	grep -q hello.txt "$tag.list" || { echo "LIST did not show hello.txt"; return 1; }
	[ "$(cat "$tag.got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	echo "saw: $(seen "$tag.v2")"
}

# many MODE HOST N: N RETRs over one control connection (curl's URL
# globbing reuses it): N rewrites in one session, every file compared
many() {
	local mode=$1 host=$2 n=$3 tag=$W/many-$1-$RANDOM i got replies
	mkdir -p "$tag"
	# shellcheck disable=SC2046
	lab_ns client curl -sS -v --max-time 120 $(curl_flags "$mode") \
		"$(url "$host")/pub/n[01-$(printf %02d "$n")].txt" -o "$tag/#1.txt" 2> "$tag.v" ||
		{ echo "curl failed: $(tail -n 1 "$tag.v") [$(seen "$tag.v")]"; return 1; }
	got=0
	for i in $(seq -w 1 "$n"); do
		[ "$(cat "$tag/$i.txt" 2>/dev/null)" = "numbered file $i" ] && got=$((got + 1))
	done
	replies=$(grep -acE '^< 22[79] |^> (PORT|EPRT) ' "$tag.v")
	[ "$got" = "$((10#$n))" ] || { echo "$got of $n files intact, $replies data-channel lines [$(seen "$tag.v")]"; return 1; }
	echo "$got files intact, $replies data-channel lines, saw: $(seen "$tag.v")"
}

# kernel NAME COMMAND...: one line of the kernel column
kernel() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then
		lab_pass "KERNEL $name" "$(echo "$out" | tail -n 1)"
	else
		lab_fail "KERNEL $name" "$(echo "$out" | tail -n 1)"
	fi
}

# dmesg_since MARK: kernel warnings about helpers, NAT or sequence numbers
# logged after MARK (a line count of dmesg)
dmesg_since() {
	dmesg | tail -n +"$(($1 + 1))" | grep -aiE 'seqadj|nf_ct_|nf_nat|ftp|WARNING' | head -n 5
}

phase() {
	local name=$1 prio=$2 dnat=$3 masq=$4 mark
	echo "--- $name (helper at priority $prio, dnat $dnat, source NAT $masq)"
	rules "$prio" "$dnat" "$masq" || { lab_fail "KERNEL $name: ruleset" "nft refused it"; return 1; }
	lab_ns gateway conntrack -F >/dev/null 2>&1
	mark=$(dmesg | wc -l)
	PHASE_MARK=$mark
}

phase_end() {
	local w
	w=$(dmesg_since "$PHASE_MARK")
	[ -n "$w" ] && echo "  kernel log during this phase:" && echo "$w" | sed 's/^/    /'
	echo "  forward chain: $(lab_ns gateway nft list chain inet natlab forward | grep -oE 'counter packets [0-9]+ bytes [0-9]+ .*' | tr '\n' ';')"
}

lab_topology_up || exit 1
lab_ns gateway ip addr add "$LONG6/64" dev g1 nodad
modprobe -a nf_conntrack_ftp nf_nat_ftp nft_ct nft_nat nft_masq nft_chain_nat 2>/dev/null
for m in nf_conntrack_ftp nf_nat_ftp nft_ct nft_nat nft_masq nft_chain_nat; do
	grep -q "^$m " /proc/modules || { echo "cannot load $m" >&2; exit 1; }
done
LAB_VSFTPD_EXTRA="connect_timeout=4" lab_vsftpd_start || exit 1
for i in $(seq -w 1 50); do echo "numbered file $i" > "$LAB_FTP_ROOT/pub/n$i.txt"; done
uname -r

phase "dnat" -150 yes no
for m in pasv pasv-skip epsv port eprt; do kernel "dnat IPv4 curl $m" session $m "$PUB4"; done
for m in epsv eprt; do kernel "dnat IPv6 curl $m" session $m "$PUB6"; done
kernel "dnat IPv4 curl pasv: 50 RETRs in one session" many pasv "$PUB4" 50
phase_end

phase "masq" -150 no masquerade
for m in pasv pasv-skip epsv port eprt; do kernel "masq IPv4 curl $m" session $m "$LAB_SERVER4"; done
for m in epsv eprt; do kernel "masq IPv6 curl $m" session $m "$LAB_SERVER6"; done
kernel "masq IPv4 curl port: 50 RETRs in one session" many port "$LAB_SERVER4" 50
phase_end

phase "both" -150 yes masquerade
for m in pasv pasv-skip epsv port eprt; do kernel "both IPv4 curl $m" session $m "$PUB4"; done
for m in epsv eprt; do kernel "both IPv6 curl $m" session $m "$PUB6"; done
phase_end

phase "snat66-long" -150 no long
kernel "snat66 to a longer address: IPv6 curl eprt" session eprt "$LAB_SERVER6"
kernel "snat66 to a longer address: IPv6 curl eprt, 50 RETRs in one session" many eprt "$LAB_SERVER6" 50
phase_end

phase "dnat, helper after dstnat" 0 yes no
kernel "dnat IPv4 curl pasv, helper at filter priority" session pasv "$PUB4"
kernel "dnat IPv4 curl pasv, helper at filter priority: 50 RETRs in one session" many pasv "$PUB4" 50
kernel "dnat IPv6 curl epsv, helper at filter priority" session epsv "$PUB6"
phase_end

phase "masq, helper after dstnat" 0 no masquerade
kernel "masq IPv4 curl port, helper at filter priority: 50 RETRs in one session" many port "$LAB_SERVER4" 50
phase_end

lab_ftp_stop
lab_topology_down
lab_summary "nat kernel yardstick"
