# lib.sh: guest-side helpers for lab scenarios. Source it from a script that
# lab-run runs inside the guest. Topology:
#
#   client 198.51.100.2 2001:db8:1::2 -- c0/g0 -- gateway -- g1/s0 -- server 203.0.113.2 2001:db8:2::2
#                       gateway: 198.51.100.1 2001:db8:1::1 | 203.0.113.1 2001:db8:2::1
#
# Scenario results: lab_pass/lab_fail print one line each; lab_summary
# prints "NAME: N passed, N failed" and returns non-zero on any failure.

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_CLIENT4=198.51.100.2 LAB_CLIENT6=2001:db8:1::2
LAB_SERVER4=203.0.113.2 LAB_SERVER6=2001:db8:2::2
LAB_GW_CLIENT4=198.51.100.1 LAB_GW_SERVER4=203.0.113.1
LAB_PASV_LOW=40000 LAB_PASV_HIGH=40099
LAB_WORK=/tmp/lab
LAB_PYTHON=/usr/bin/python3
LAB_FTP_TIMEOUT=${LAB_FTP_TIMEOUT:-15}
lab_passed=0 lab_failed=0
mkdir -p "$LAB_WORK"

[ -n "${LAB_GUEST:-}" ] || { echo "lib.sh: run this inside the lab guest (tests/lab/lab-run -- SCRIPT)" >&2; exit 2; }

lab_log() { echo "  $*"; }

lab_pass() { lab_passed=$((lab_passed + 1)); echo "PASS $1${2:+ ($2)}"; }
lab_fail() { lab_failed=$((lab_failed + 1)); echo "FAIL $1: $2"; }

# lab_check NAME COMMAND...: run COMMAND; pass on exit 0, fail with its
# last output line otherwise.
lab_check() {
	local name=$1 out start; shift
	start=$EPOCHREALTIME
	if out=$("$@" 2>&1); then
		lab_pass "$name" "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1fs", b - a }')"
	else
		lab_fail "$name" "$(echo "$out" | tail -n 5 | tr '\n' ' ')"
	fi
}

lab_summary() {
	echo "$1: $lab_passed passed, $lab_failed failed"
	[ "$lab_failed" = 0 ] && [ "$lab_passed" -gt 0 ]
}

# Background a server with "ip netns exec NS CMD &", not "lab_ns NS CMD &":
# a backgrounded function is a subshell, $! its pid, and killing that leaves
# the server running.
lab_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

lab_topology_up() {
	local ns
	for ns in client gateway server; do
		ip netns add "$ns"
		ip -n "$ns" link set lo up
	done
	ip link add c0 netns client type veth peer name g0 netns gateway
	ip link add s0 netns server type veth peer name g1 netns gateway
	ip -n client addr add 198.51.100.2/24 dev c0
	ip -n client addr add 2001:db8:1::2/64 dev c0 nodad
	ip -n gateway addr add 198.51.100.1/24 dev g0
	ip -n gateway addr add 2001:db8:1::1/64 dev g0 nodad
	ip -n gateway addr add 203.0.113.1/24 dev g1
	ip -n gateway addr add 2001:db8:2::1/64 dev g1 nodad
	ip -n server addr add 203.0.113.2/24 dev s0
	ip -n server addr add 2001:db8:2::2/64 dev s0 nodad
	ip -n client link set c0 up; ip -n gateway link set g0 up
	ip -n gateway link set g1 up; ip -n server link set s0 up
	ip -n client route add default via 198.51.100.1
	ip -n client -6 route add default via 2001:db8:1::1
	ip -n server route add default via 203.0.113.1
	ip -n server -6 route add default via 2001:db8:2::1
	lab_ns gateway sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# conntrack must see the data connections the rules and tests look at
	lab_ns gateway sysctl -qw net.netfilter.nf_conntrack_tcp_loose=0 2>/dev/null || true
	lab_reachable "$LAB_SERVER4" || { echo "lab: IPv4 path client->server broken" >&2; return 1; }
	lab_reachable "$LAB_SERVER6" || { echo "lab: IPv6 path client->server broken" >&2; return 1; }
}

# Links and neighbour discovery take a moment after "link set up".
lab_reachable() {
	local i
	for i in 1 2 3 4 5 6 7 8 9 10; do
		lab_ns client ping -c1 -W1 "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

lab_topology_down() {
	local ns
	for ns in client gateway server; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; done
	sleep 0.2
	for ns in client gateway server; do ip netns del "$ns" 2>/dev/null; done
	return 0
}

# --- FTP servers (in the server namespace) ---------------------------------

LAB_FTP_ROOT=/srv/ftp-lab
LAB_FTP_CONTENT="ftpgate lab file $(date +%s%N)"

lab_ftp_root_make() {
	rm -rf "$LAB_FTP_ROOT"
	mkdir -p "$LAB_FTP_ROOT/pub" "$LAB_FTP_ROOT/upload"
	echo "$LAB_FTP_CONTENT" > "$LAB_FTP_ROOT/pub/hello.txt"
	for i in 1 2 3; do echo "file $i" > "$LAB_FTP_ROOT/pub/file$i.txt"; done
	chmod 755 "$LAB_FTP_ROOT" "$LAB_FTP_ROOT/pub"
	chown ftp "$LAB_FTP_ROOT/upload"
	chmod 777 "$LAB_FTP_ROOT/upload"
}

lab_ftp_stop() {
	[ -f "$LAB_WORK/ftp-server.pid" ] || return 0
	kill "$(cat "$LAB_WORK/ftp-server.pid")" 2>/dev/null
	rm -f "$LAB_WORK/ftp-server.pid"
	sleep 0.3
}

# lab_wait_port NS PORT: wait until something listens on PORT in NS.
lab_wait_port() {
	local i
	for i in $(seq 50); do
		lab_ns "$1" ss -Hltn "sport = :$2" | grep -q LISTEN && return 0
		sleep 0.1
	done
	echo "lab: nothing listens on port $2 in $1" >&2
	return 1
}

# lab_vsftpd_start [LOW HIGH]; LAB_VSFTPD_EXTRA: more vsftpd.conf lines
# (a later line overrides an earlier one)
lab_vsftpd_start() {
	local low=${1:-$LAB_PASV_LOW} high=${2:-$LAB_PASV_HIGH}
	lab_ftp_stop; lab_ftp_root_make
	mkdir -p /run/vsftpd-empty; chmod 755 /run/vsftpd-empty
	cat > "$LAB_WORK/vsftpd.conf" <<CONF
listen=NO
listen_ipv6=YES
background=NO
anonymous_enable=YES
no_anon_password=YES
local_enable=NO
write_enable=YES
anon_upload_enable=YES
anon_umask=022
anon_root=$LAB_FTP_ROOT
pasv_enable=YES
pasv_min_port=$low
pasv_max_port=$high
port_enable=YES
connect_from_port_20=NO
seccomp_sandbox=NO
isolate=NO
isolate_network=NO
secure_chroot_dir=/run/vsftpd-empty
xferlog_enable=YES
vsftpd_log_file=$LAB_WORK/vsftpd.log
log_ftp_protocol=YES
${LAB_VSFTPD_EXTRA:-}
CONF
	ip netns exec server /usr/sbin/vsftpd "$LAB_WORK/vsftpd.conf" > "$LAB_WORK/vsftpd.out" 2>&1 &
	echo $! > "$LAB_WORK/ftp-server.pid"
	lab_wait_port server 21
}

# lab_pyftpd_start [LOW HIGH]
lab_pyftpd_start() {
	local low=${1:-$LAB_PASV_LOW} high=${2:-$LAB_PASV_HIGH}
	lab_ftp_stop; lab_ftp_root_make
	ip netns exec server "$LAB_PYTHON" "$LAB_DIR/pyftpd-server.py" "$LAB_FTP_ROOT" "$low" "$high" \
		> "$LAB_WORK/pyftpd.out" 2>&1 &
	echo $! > "$LAB_WORK/ftp-server.pid"
	lab_wait_port server 21
}

# --- FTP clients (in the client namespace) ---------------------------------

# lab_ftp_session CLIENT HOST MODE: log in, LIST, RETR, STOR and check both
# contents. CLIENT: curl | lftp | ftplib. MODE: pasv | epsv. HOST: address.
lab_ftp_session() {
	local client=$1 host=$2 mode=$3 tag up got url
	tag=$client-$mode-$RANDOM
	up="$LAB_WORK/up-$tag"; got="$LAB_WORK/got-$tag"
	echo "upload $tag $(date +%s%N)" > "$up"
	rm -f "$got" "$LAB_FTP_ROOT/upload/$tag"
	case $host in *:*) url="ftp://[$host]" ;; *) url="ftp://$host" ;; esac
	case $client in
	curl)
		local flag=--ftp-pasv
		[ "$mode" = pasv ] && flag=--disable-epsv
		[ "$mode" = epsv ] && flag=--ftp-pasv
		lab_ns client curl -sS --max-time $LAB_FTP_TIMEOUT $flag "$url/pub/" > "$got.list" || return 1
		lab_ns client curl -sS --max-time $LAB_FTP_TIMEOUT $flag -o "$got" "$url/pub/hello.txt" || return 1
		lab_ns client curl -sS --max-time $LAB_FTP_TIMEOUT $flag -T "$up" "$url/upload/$tag" || return 1
		;;
	lftp)
		local epsv=no
		[ "$mode" = epsv ] && epsv=yes
		lab_ns client lftp -c "set ftp:passive-mode on; set ftp:prefer-epsv $epsv; \
			set net:timeout $LAB_FTP_TIMEOUT; set net:max-retries 1; set net:persist-retries 0; \
			set ftp:ssl-allow no; set xfer:clobber on; \
			open -u anonymous,lab $url; cls -1 pub > $got.list; \
			get pub/hello.txt -o $got; put $up -o upload/$tag" || return 1
		;;
	ftplib)
		lab_ns client "$LAB_PYTHON" "$LAB_DIR/ftplib-client.py" "$host" "$mode" "$LAB_FTP_TIMEOUT" \
			"$got" "$up" "upload/$tag" > "$got.list" || return 1
		;;
	*) echo "unknown client $client" >&2; return 2 ;;
	esac
	grep -q hello.txt "$got.list" || { echo "LIST did not show hello.txt: $(head -c 200 "$got.list")"; return 1; }
	[ "$(cat "$got")" = "$LAB_FTP_CONTENT" ] || { echo "RETR content differs"; return 1; }
	cmp -s "$up" "$LAB_FTP_ROOT/upload/$tag" || { echo "STOR content differs or missing"; return 1; }
}

# --- probes ----------------------------------------------------------------

# lab_listen NS ADDR PORT: a plain TCP listener (accepts and closes).
lab_listen() {
	ip netns exec "$1" "$LAB_PYTHON" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(16)
while True:
    c, _ = s.accept(); c.close()
' "$2" "$3" > /dev/null 2>&1 &
	echo $! >> "$LAB_WORK/listeners.pid"
	lab_wait_port "$1" "$3"
}

lab_listeners_stop() {
	[ -f "$LAB_WORK/listeners.pid" ] && xargs -r kill < "$LAB_WORK/listeners.pid" 2>/dev/null
	rm -f "$LAB_WORK/listeners.pid"
}

# lab_connect NS ADDR PORT [TIMEOUT]: prints connected | refused | timeout
lab_connect() {
	lab_ns "$1" "$LAB_PYTHON" -c '
import socket, sys
fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
s = socket.socket(fam); s.settimeout(float(sys.argv[3]))
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("connected")
except ConnectionRefusedError: print("refused")
except (socket.timeout, TimeoutError): print("timeout")
except OSError as e: print("error", e)
' "$2" "$3" "${4:-3}"
}

# lab_expect_blocked NS ADDR PORT: the connection must not get through.
lab_expect_blocked() {
	local r
	r=$(lab_connect "$@")
	[ "$r" = timeout ] || { echo "connection to $2 port $3 from $1: $r, want timeout (dropped)"; return 1; }
}

# lab_expectations [NS]: the expectation table of NS (default the
# gateway), one per line, both families (conntrack lists IPv4 only unless
# told -f ipv6).
lab_expectations() {
	lab_ns "${1:-gateway}" conntrack -L expect 2>/dev/null
	lab_ns "${1:-gateway}" conntrack -L expect -f ipv6 2>/dev/null
}
