#!/bin/bash
# ftpgated with real FTP servers whose replies are longer than
# line-max-bytes (512 by default): a long banner (vsftpd ftpd_banner) and a
# long 257 to PWD in a deep directory (pyftpdlib). ftpgated never acts on
# the text of such a line, but keeps its reply code for matching
# (doc/protocol.md, "Over-long lines"): the session must stay in step, so
# the PASV/EPSV after the long reply gets its pinhole and the transfer
# works. Issue 11, finding 3. Runs inside the lab guest; needs
# $FTPGATE_BUILD_DIR/ftpgated.
#
# The gateway holds rules/ftpgate.nft as shipped and the lab's site table
# (default drop), so a data connection gets through only by a pinhole.
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"

W=$LAB_WORK/long-replies
rm -rf "$W"; mkdir -p "$W"
: > "$FTPGATE_LOG"

check() { ftpgate_check "$@"; }

finish() {
	[ -n "$FTPGATE_PID" ] && ftpgate_stop 3
	lab_ftp_stop
	if [ "$lab_failed" != 0 ] || [ -n "${FTPGATE_LAB_VERBOSE:-}" ]; then
		echo "--- vsftpd log (last 20 lines):"; tail -n 20 "$LAB_WORK/vsftpd.log" 2>/dev/null | cut -c1-300 | sed 's/^/  /'
		echo "--- ftpgated log (all but the audit lines):"; grep -v '^{' "$FTPGATE_LOG" | cut -c1-400 | sed 's/^/  /'
	fi
	lab_topology_down
	lab_summary "lab long replies"
	exit
}

# long_text N: N bytes of printable text without blanks at the end.
long_text() { head -c "$1" /dev/zero | tr '\0' 'x'; }

# not_in_log_since MARK REGEX: no daemon log line after MARK matches.
not_in_log_since() {
	if tail -n +"$(($1 + 1))" "$FTPGATE_LOG" | grep -E -- "$2"; then
		echo "the daemon logged the line above (matching '$2') since line $1"
		return 1
	fi
}

# long_line_seen MARK: the daemon saw an over-long reply since MARK (so
# the check below it is about a long reply, not a short one).
long_line_seen() {
	ftpgate_log_since "$1" "line rejected from server \(too-long\)"
}

lab_topology_up || exit 1
ftpgate_modules || { echo "cannot load the netfilter modules ftpgated needs" >&2; exit 1; }
# the defaults, line-max-bytes included
ftpgate_config <<'CONF'
queue-number = 7
CONF
start_and_rules() { ftpgate_start && ftpgate_rules; }
check "ftpgated starts with its defaults (line-max-bytes 512), rules load" start_and_rules
[ -n "$FTPGATE_PID" ] && ftpgate_alive || finish

# --- vsftpd with a 700-byte banner --------------------------------------------
# The greeting is the reply strict mode waits for: lost, it would leave the
# session ungreeted and every command refused (before-greeting).
BANNER="Welcome to the ftpgate lab server; please read the rules: $(long_text 640)"
LAB_VSFTPD_EXTRA="ftpd_banner=$BANNER" lab_vsftpd_start || finish

banner_session() {
	local client=$1 host=$2 mode=$3 mark
	mark=$(ftpgate_log_mark)
	lab_ftp_session "$client" "$host" "$mode" || return 1
	long_line_seen "$mark" || return 1
	ftpgate_log_since "$mark" "pinhole opened" || return 1
	not_in_log_since "$mark" "before-greeting|unsolicited-reply|pinhole refused"
}
check "vsftpd, ${#BANNER}-byte 220 banner: curl IPv4 PASV LIST/RETR/STOR through the gateway" \
	banner_session curl "$LAB_SERVER4" pasv
check "vsftpd, ${#BANNER}-byte 220 banner: ftplib IPv6 EPSV LIST/RETR/STOR through the gateway" \
	banner_session ftplib "$LAB_SERVER6" epsv

# --- pyftpdlib: PWD in a deep directory ----------------------------------------
lab_pyftpd_start || finish
DEEP=pub/$(long_text 200)/$(long_text 201 | tr x y)/$(long_text 202 | tr x z)
mkdir -p "$LAB_FTP_ROOT/$DEEP"
DEEP_CONTENT="deep file $(date +%s%N)"
echo "$DEEP_CONTENT" > "$LAB_FTP_ROOT/$DEEP/deep.txt"

# deep_pwd HOST MODE: python3 ftplib changes into the deep directory, asks
# PWD (a 257 of about 650 bytes), then lists it and fetches a file over
# PASV (IPv4) or EPSV; the client checks the 257's length and the content.
deep_pwd() {
	local host=$1 mode=$2 mark port
	mark=$(ftpgate_log_mark)
	lab_ns client "$LAB_PYTHON" - "$host" "$mode" "/$DEEP" "$DEEP_CONTENT" "$LAB_FTP_TIMEOUT" <<'PY' || return 1
import ftplib, io, sys
host, mode, deep, content, timeout = sys.argv[1:6]
ftp = ftplib.FTP(timeout=float(timeout))
ftp.connect(host, 21)
ftp.login()
ftp.cwd(deep)
pwd = ftp.pwd()
resp = ftp.lastresp
print("PWD answered %s with a %d-byte directory" % (resp, len(pwd)))
assert pwd == deep, "PWD said %r" % pwd
ftp.set_pasv(True)
if mode == "epsv":
    ftp.af = 0  # not AF_INET: makepasv uses EPSV
names = ftp.nlst()
assert "deep.txt" in names, names
got = io.BytesIO()
ftp.retrbinary("RETR deep.txt", got.write)
assert got.getvalue().decode().strip() == content, got.getvalue()
print("listed %s and fetched deep.txt over %s" % (names, mode.upper()))
ftp.quit()
PY
	long_line_seen "$mark" || return 1
	ftpgate_log_since "$mark" "pinhole opened" "$host" || return 1
	not_in_log_since "$mark" "unsolicited-reply|pinhole refused"
}
check "pyftpdlib, 257 to PWD in a ${#DEEP}-byte deep directory: ftplib IPv4 PASV NLST/RETR after it" \
	deep_pwd "$LAB_SERVER4" pasv
check "pyftpdlib, 257 to PWD in a ${#DEEP}-byte deep directory: ftplib IPv6 EPSV NLST/RETR after it" \
	deep_pwd "$LAB_SERVER6" epsv

finish
