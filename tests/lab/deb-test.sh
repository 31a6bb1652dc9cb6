#!/bin/bash
# deb-test.sh: the Debian package ($FTPGATE_DEB, from tests/lab/build-deb)
# in a guest booting systemd (`tests/lab/lab-run --systemd`). dpkg -i into
# the guest's overlay root (its /var/lib/dpkg is writable there), then the
# service checks against the installed files only: the postinst creates
# group ftpgate and starts ftpgated.service (which loads the kernel modules
# itself), the helper is registered (the kernel accepts the packaged
# ruleset naming it), a passive transfer works through the lab gateway's
# default-drop forward chain while an unannounced passive port stays
# dropped, ftpgatectl answers a member of group ftpgate and `ftpgatectl
# doctor` finds nothing wrong, logrotate rotates the audit log and the
# daemon writes the new one, stop, and purge.
#
# Lab-only: a drop-in starts the packaged unit in the lab's gateway network
# namespace (NetworkNamespacePath=), because the lab's gateway is a
# namespace between client and server; on a real gateway it is the host.
# Prints "lab deb: N passed, N failed".
set -u
. "$(dirname "$0")/lib.sh"
. "$LAB_DIR/ftpgate.sh"
W=$LAB_WORK/deb
DEB=${FTPGATE_DEB:-}
AUDIT=/var/log/ftpgate/audit.log
FTPGATED=/usr/sbin/ftpgated
FTPGATECTL=/usr/bin/ftpgatectl
FTPGATE_RULES=/usr/share/ftpgate/ftpgate.nft
FTPGATE_CONF=/etc/ftpgate/ftpgate.conf
mkdir -p "$W"
export SYSTEMD_PAGER=cat SYSTEMD_COLORS=0
check() { ftpgate_check "$@"; }
ftpgate_alive() { systemctl is-active -q ftpgated.service; }	# for ftpgate_rules' retry

echo "guest init: $(cat /proc/1/comm), systemd $(systemctl --version | head -n 1 | cut -d' ' -f2)"
[ -f "$DEB" ] || { echo "no package FTPGATE_DEB='$DEB' (tests/lab/build-deb makes it)" >&2; echo "lab deb: 0 passed, 1 failed"; exit 1; }
systemctl start systemd-journald.socket systemd-journald.service
lab_topology_up || exit 1
KVER=$(uname -r)
KROOT=$(cat "${LAB_RESULTS:-/lab-results}/kernel-root" 2>/dev/null)
# Debian keeps the kernel configuration in /boot (doctor reads it there)
[ -f "/boot/config-$KVER" ] || cp "$KROOT/boot/config-$KVER" /boot/ 2>/dev/null
# man-db's trigger (mandb over every page, minutes under emulation) has
# nothing to do with this test: switch it off in the guest's overlay
rm -f /var/lib/man-db/auto-update
mkdir -p /etc/systemd/system/ftpgated.service.d
printf '[Service]\nNetworkNamespacePath=/run/netns/gateway\n' > /etc/systemd/system/ftpgated.service.d/lab-netns.conf
systemctl daemon-reload

installed() {
	lsmod | grep -q '^nfnetlink_cthelper ' && echo "(nfnetlink_cthelper was already loaded)"
	dpkg -i "$DEB" || return 1
	[ "$(dpkg-query -W -f='${Status}' ftpgate)" = "install ok installed" ] || return 1
	dpkg-query -W -f='${Conffiles}\n' ftpgate | grep -q '^ /etc/ftpgate/ftpgate.conf ' ||
		{ echo "/etc/ftpgate/ftpgate.conf is not a conffile: $(dpkg-query -W -f='${Conffiles}' ftpgate)"; return 1; }
	getent group ftpgate >/dev/null || { echo "no group ftpgate"; return 1; }
	for i in $(seq 50); do systemctl is-active -q ftpgated.service && break; sleep 0.1; done
	systemctl is-active -q ftpgated.service ||
		{ systemctl status --no-pager ftpgated.service | tail -n 12; return 1; }
	systemctl is-enabled -q ftpgated.service || { echo "not enabled"; return 1; }
	lsmod | grep -q '^nfnetlink_cthelper ' || { echo "the unit did not load nfnetlink_cthelper"; return 1; }
}
check "dpkg -i: installed, conffile, group ftpgate, ftpgated.service enabled and started (modules loaded by the unit)" installed
systemctl is-active -q ftpgated.service || { lab_summary "lab deb"; exit 1; }

socket_group() {
	local st pid
	st=$(stat -c '%a %G' /run/ftpgate/ftpgated.sock) || return 1
	[ "$st" = "660 ftpgate" ] || { echo "control socket: mode and group '$st', want '660 ftpgate'"; return 1; }
	id labadmin >/dev/null 2>&1 || useradd -M -s /bin/sh -G ftpgate labadmin
	pid=$(systemctl show -p MainPID --value ftpgated.service)
	runuser -u labadmin -- "$FTPGATECTL" ping | grep -q "^ftpgated .*, pid $pid, " ||
		{ echo "ping as labadmin: $(runuser -u labadmin -- "$FTPGATECTL" ping 2>&1)"; return 1; }
	id labother >/dev/null 2>&1 || useradd -M -s /bin/sh labother
	! runuser -u labother -- "$FTPGATECTL" ping >/dev/null 2>&1 || { echo "a user outside group ftpgate got an answer"; return 1; }
}
check "control socket 0660 group ftpgate: a member's ftpgatectl ping names the unit's MainPID, a non-member is refused" socket_group

lab_vsftpd_start || { echo "vsftpd did not start" >&2; }
lab_listen server "$LAB_SERVER4" 40050
# The administrator lists the FTP server in the packaged configuration,
# so that ftpgate's rules close its passive range (with no [server]
# section ftpgate's table drops nothing), and reloads the unit.
configured() {
	printf '\n[server %s]\npassive-ports = 40000-40099\n' "$LAB_SERVER4" >> /etc/ftpgate/ftpgate.conf
	systemctl reload ftpgated.service || return 1
	ftpgate_retry 10 sh -c 'journalctl -u ftpgated.service --no-pager | grep -q "configuration reloaded"'
}
check "[server $LAB_SERVER4] with passive-ports 40000-40099 added to /etc/ftpgate/ftpgate.conf, systemctl reload" configured

ruleset() {
	ftpgate_rules || return 1
	lab_ns gateway nft list table inet ftpgate | grep -q 'ct helper ftpgate'
}
check "the packaged ruleset loads in the gateway (the kernel knows helper ftpgate), beside the site's default-drop chain" ruleset

transfer() {
	local before
	before=$(grep -c '"event":"pinhole-opened"' "$AUDIT" 2>/dev/null)
	lab_ftp_session curl "$LAB_SERVER4" pasv || return 1
	ftpgate_retry 5 eval "[ \$(grep -c '\"event\":\"pinhole-opened\"' $AUDIT) -gt ${before:-0} ]" >/dev/null ||
		{ echo "no new pinhole-opened event in $AUDIT"; tail -n 3 "$AUDIT"; return 1; }
	ftpgate_blocked client "$LAB_SERVER4" 40050
}
check "passive transfer through a pinhole (audited in $AUDIT), unannounced port 40050 dropped" transfer

doctor() {
	ip netns exec gateway "$FTPGATECTL" doctor > "$W/doctor.txt" 2>&1 || { cat "$W/doctor.txt"; return 1; }
	grep -q '^doctor: 15 ok, 0 warn, 0 fail$' "$W/doctor.txt" || { cat "$W/doctor.txt"; return 1; }
}
check "ftpgatectl doctor on the installed gateway: 15 ok, exit 0" doctor

rotate() {
	local i
	command -v logrotate >/dev/null || { echo "logrotate is not installed (tests/lab/install-deps --check-packaging)"; return 1; }
	logrotate -f /etc/logrotate.d/ftpgate || return 1
	[ -s "$AUDIT.1" ] || { echo "no $AUDIT.1 after logrotate -f"; ls -l /var/log/ftpgate; return 1; }
	lab_ftp_session curl "$LAB_SERVER4" pasv || return 1
	for i in $(seq 25); do grep -q '"event":"pinhole-opened"' "$AUDIT" 2>/dev/null && break; sleep 0.2; done
	grep -q '"event":"pinhole-opened"' "$AUDIT" ||
		{ echo "the new $AUDIT has no pinhole-opened: $(ls -l /var/log/ftpgate)"; return 1; }
	[ "$(stat -c '%a %G' "$AUDIT")" = "640 ftpgate" ] || { echo "new audit log: $(stat -c '%a %U:%G' "$AUDIT")"; return 1; }
}
check "logrotate -f: audit.log.1 kept, the reloaded daemon writes the next pinhole to a new audit.log (0640 ftpgate)" rotate

stopped() {
	local start ms
	start=$(date +%s%N)
	systemctl stop ftpgated.service
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	! systemctl is-active -q ftpgated.service && [ $ms -lt 5000 ] || { echo "still active or took $ms ms"; return 1; }
	# no pinholes now: the passive transfer fails (the control connection works)
	! LAB_FTP_TIMEOUT=5 lab_ftp_session curl "$LAB_SERVER4" pasv >/dev/null 2>&1 ||
		{ echo "a passive transfer worked with ftpgated stopped"; return 1; }
	echo "stopped in $ms ms"
}
check "systemctl stop: down within 5 s, then passive transfers fail (no pinholes)" stopped

purged() {
	lab_ns gateway nft delete table inet ftpgate
	dpkg --purge ftpgate || return 1
	[ ! -e "$FTPGATED" ] && [ ! -e /etc/ftpgate/ftpgate.conf ] && [ ! -e /var/log/ftpgate ] ||
		{ echo "left behind: $(ls -d "$FTPGATED" /etc/ftpgate/ftpgate.conf /var/log/ftpgate 2>/dev/null)"; return 1; }
}
check "dpkg --purge: binaries, configuration and audit logs gone" purged

lab_listeners_stop
lab_ftp_stop
lab_topology_down
lab_summary "lab deb"
