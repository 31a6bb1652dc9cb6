#!/bin/bash
# The guest half of tests/lab/demo.
set -u
. "$(dirname "$0")/lib.sh"
build=${FTPGATE_BUILD_DIR:-$(cd "$LAB_DIR/../.." && pwd)/build}
say() { printf '\n### %s\n' "$*"; }

say "network: client $LAB_CLIENT4 / $LAB_CLIENT6 -- gateway -- server $LAB_SERVER4 / $LAB_SERVER6"
lab_topology_up || exit 1
modprobe -a nfnetlink_cthelper nfnetlink_queue nft_ct || exit 1
lab_vsftpd_start || exit 1
echo "vsftpd runs on the server, passive ports $LAB_PASV_LOW-$LAB_PASV_HIGH"

say "gateway: start ftpgated (its FTP servers: $LAB_SERVER4, $LAB_SERVER6), then load rules/ftpgate.nft"
cat > "$LAB_WORK/ftpgate.conf" <<CONF
[server $LAB_SERVER4]
passive-ports = $LAB_PASV_LOW-$LAB_PASV_HIGH
[server $LAB_SERVER6]
passive-ports = $LAB_PASV_LOW-$LAB_PASV_HIGH
CONF
cat "$LAB_WORK/ftpgate.conf"
lab_ns gateway "$build/ftpgated" --foreground --config "$LAB_WORK/ftpgate.conf" > "$LAB_WORK/ftpgated.log" 2>&1 &
daemon=$!
for i in $(seq 50); do grep -q ready "$LAB_WORK/ftpgated.log" && break; sleep 0.1; done
cat "$LAB_WORK/ftpgated.log"
lab_ns gateway nft -f "$LAB_DIR/../../rules/ftpgate.nft" || { echo "nft -f rules/ftpgate.nft failed"; exit 1; }
# ftpgated fills the table's sets with its servers within a second
for i in $(seq 30); do lab_ns gateway nft list set inet ftpgate ftpgate_servers_ipv6 | grep -q elements && break; sleep 0.1; done
lab_ns gateway nft list set inet ftpgate ftpgate_servers_ipv4
lab_ns gateway nft list set inet ftpgate ftpgate_servers_ipv6

say "passive transfers through the gateway (LIST, RETR, STOR; contents checked)"
status=0
for run in "curl $LAB_SERVER4 pasv" "lftp $LAB_SERVER4 epsv" "ftplib $LAB_SERVER4 pasv" \
	   "curl $LAB_SERVER6 epsv" "lftp $LAB_SERVER6 epsv" "ftplib $LAB_SERVER6 epsv"; do
	set -- $run
	if out=$(lab_ftp_session "$@" 2>&1); then
		echo "ok    $1 to $2 ($3)"
	else
		echo "FAIL  $1 to $2 ($3): $out"; status=1
	fi
done

say "a pinhole while it is open: the client asked PASV and has not connected yet"
rm -f "$LAB_WORK/pasv-done"
lab_ns client "$LAB_PYTHON" - "$LAB_SERVER4" "$LAB_WORK/pasv-done" <<'PY' &
import socket, sys, time
s = socket.create_connection((sys.argv[1], 21), timeout=10)
f = s.makefile("rb")
def reply():
    line = f.readline()
    while line[3:4] == b"-":
        line = f.readline()
    return line.decode().strip()
reply()
for c in ("USER anonymous", "PASS demo", "PASV"):
    s.sendall(c.encode() + b"\r\n"); r = reply()
print("server said:", r, flush=True)
open(sys.argv[2], "w").close()
time.sleep(2)
PY
for i in $(seq 100); do [ -e "$LAB_WORK/pasv-done" ] && break; sleep 0.1; done
echo "gateway# conntrack -L expect"
lab_ns gateway conntrack -L expect 2>&1
echo "gateway# ftpgatectl pinholes"
"$build/ftpgatectl" pinholes
wait $!

say "an unannounced port in the passive range is dropped"
lab_listen server "$LAB_SERVER4" 40050
echo "client -> $LAB_SERVER4:40050: $(lab_connect client "$LAB_SERVER4" 40050 2)"
lab_listeners_stop

say "gateway# nft list chain inet ftpgate ftpgate_forward"
lab_ns gateway nft list chain inet ftpgate ftpgate_forward

say "gateway# ftpgatectl stats"
"$build/ftpgatectl" stats
kill -TERM $daemon; wait $daemon
say "ftpgated's log (human lines and JSON audit events)"
cat "$LAB_WORK/ftpgated.log"
lab_ftp_stop
lab_topology_down
[ $status = 0 ] && echo "demo: all transfers passed through ftpgate" || echo "demo: some transfers FAILED"
exit $status
