#!/bin/bash
# Attacks with crafted packets on a live control connection (issue 11,
# doc/protocol.md "Resets" and "Interfaces"), through the real kernel:
#
#  1. RST desynchronisation: the client has the server echo
#     "227 Entering Passive Mode (server,12,234)" in a 550 cut right before
#     the echo, injects a RST that is in the window but not at its next
#     sequence number (the server ignores it, RFC 5961), then sends PASV.
#     ftpgated must not take the 550's tail for the answer: no pinhole to
#     port 3306, the real 227 gets its pinhole and the data connection
#     works.
#  2. A forged direction: on a gateway without anti-spoofing (rp_filter
#     off), the client sends a segment that claims to be the server's,
#     with a 227 for port 3306, ahead of the server's real reply. ftpgated
#     must not read it (it came in on the client's side, and the real
#     kernel names the interface it is routed out of: the one it came in
#     on, a hairpin): no pinhole to 3306, the server's own 227 gets its
#     pinhole.
#
# The injector (inject.py) runs in the client namespace with a packet
# socket on c0. The server is fake-ftpd (the honest server that echoes the
# path, behind a small window; a server that answers PASV after a second).
# A listener on port 3306 of the server makes a refusal a drop, not a RST.
# Runs inside the lab guest; needs $FTPGATE_BUILD_DIR/ftpgated.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/attacks
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"; : > "$LAB_WORK/fake-ftpd.log"
SOCK=$W/run/ftpgated.sock
INJECT=$LAB_DIR/inject.py
FORBIDDEN=3306			# 12 * 256 + 234
INJECT_PID=

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$INJECT_PID" ] && kill "$INJECT_PID" 2>/dev/null
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_listeners_stop
	lab_ftp_stop
	if [ "$lab_failed" != 0 ]; then
		echo "--- fake-ftpd log (last 20 lines):"; tail -n 20 "$LAB_WORK/fake-ftpd.log" | sed 's/^/  /'
		echo "--- ftpgated log (last 30 lines):"; grep -v '^{' "$FTPGATE_LOG" | tail -n 30 | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab attacks"
	exit
}

lab_topology_up || exit 1
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
modprobe nf_conntrack_netlink || { echo "cannot load nf_conntrack_netlink" >&2; exit 1; }
# A gateway without anti-spoofing: it forwards a packet whatever interface
# its source address came in on.
lab_ns gateway sysctl -q -w net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.g0.rp_filter=0 \
	net.ipv4.conf.g1.rp_filter=0 || { echo "cannot switch rp_filter off" >&2; exit 1; }

# Pinholes live 120 s: long enough for every step of a check on a loaded
# machine (each check still uses its data connection first).
ftpgate_config <<CONF
control-socket = $SOCK
audit-log = none
expect-timeout-seconds = 120
CONF
ftpgate_fake_start --cwd-echo-split 1.5 --pasv-delay 1 || finish
started() { ftpgate_start && ftpgate_rules && ftpgate_retry 5 ftpgate_stat_at_least packets_total 0; }
check "ftpgated starts, rules loaded, fake-ftpd (echoing 550 cut before the path; PASV answered after 1 s)" started
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish
lab_listen server "$LAB_SERVER4" "$FORBIDDEN"

# inject MODE NAME: the injector in the background, saving its
# announcement to $W/NAME and waiting for $W/NAME-go before its QUIT.
inject() {
	rm -f "$W/$2" "$W/$2-go"
	ip netns exec client "$LAB_PYTHON" "$INJECT" --dev c0 --client "$LAB_CLIENT4" \
		--save "$W/$2" --wait-file "$W/$2-go" "$1" "$LAB_SERVER4" > "$W/$2.out" 2>&1 &
	INJECT_PID=$!
}

# injected NAME: let the injector QUIT and check that every step worked.
injected() {
	touch "$W/$1-go"
	wait "$INJECT_PID"; local rc=$?
	INJECT_PID=
	cat "$W/$1.out"
	[ $rc = 0 ]
}

# --- 1. an inexact RST does not end the session ----------------------------
rst_desync() {
	local mark port e
	mark=$(ftpgate_log_mark)
	inject rst-desync rst
	ftpgate_wait_file "$W/rst" 20 || { cat "$W/rst.out"; return 1; }
	port=$(ftpgate_announced_port "$W/rst")
	echo "the real 227 announced port $port"
	[ "$port" != "$FORBIDDEN" ] || return 1
	e=$(ftpgate_expects "$port")
	[ -n "$e" ] || { echo "no pinhole for the real 227 (port $port)"; return 1; }
	echo "pinhole: $e"
	# the session goes on: the data connection uses the pinhole
	[ "$(lab_connect client "$LAB_SERVER4" "$port" 3)" = connected ] ||
		{ echo "the data connection to port $port did not get through"; return 1; }
	ftpgate_blocked client "$LAB_SERVER4" "$FORBIDDEN" || return 1
	ftpgate_log_since "$mark" "RST from the client with sequence number [0-9]+, not the next one expected: ignored" || return 1
	ftpgate_stat_at_least resets_ignored_total 1 || return 1
	injected rst
}
check "RST desync: an in-window RST at the wrong sequence number is ignored; the 550's echoed 227 opens nothing (port $FORBIDDEN dropped, no expectation), the real 227 does and its data connection gets through" rst_desync

# --- 2. a server segment from the client's side is not read -----------------
# The gateway forwards the forged segment to the client, whose stack takes
# it and acknowledges it: ftpgated then sees bytes acknowledged that it did
# not read and resynchronises (the server's real 227, a duplicate to the
# client, is old to ftpgated too). Nothing opens for that PASV; the next
# PASV, after one untrusted line, does.
forged_direction() {
	local mark port e
	mark=$(ftpgate_log_mark)
	inject forge-server forged
	ftpgate_wait_file "$W/forged" 20 || { cat "$W/forged.out"; return 1; }
	port=$(ftpgate_announced_port "$W/forged")
	e=$(ftpgate_expects "$port")
	[ -n "$e" ] || { echo "no pinhole for the PASV after the attack (port $port)"; return 1; }
	echo "pinhole: $e"
	[ "$(lab_connect client "$LAB_SERVER4" "$port" 3)" = connected ] ||
		{ echo "the data connection to port $port did not get through"; return 1; }
	ftpgate_blocked client "$LAB_SERVER4" "$FORBIDDEN" || return 1
	ftpgate_log_since "$mark" "a server packet came in on interface [0-9]+, the client's side \(routed back out of it" || return 1
	ftpgate_stat_at_least packets_wrong_interface_total 1 || return 1
	injected forged
}
check "forged direction: a 227 for port $FORBIDDEN sent from the client's side as the server is not read (a hairpin: routed back out of the interface it came in on; port $FORBIDDEN dropped, no expectation, counted); the session goes on and a later PASV gets its pinhole" forged_direction

finish
