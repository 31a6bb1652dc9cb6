#!/bin/bash
# The baseline: with the kernel's nf_conntrack_ftp, passive transfers pass a
# default-drop gateway and unannounced ports in the passive range do not;
# without a helper the same transfers fail. Runs inside the lab guest.
set -u
. "$(dirname "$0")/lib.sh"

baseline_rules() {
	local helper=$1
	sed "s|@HELPER@|$helper|" "$LAB_DIR/rules/baseline-gateway.nft" > "$LAB_WORK/baseline.nft"
	lab_ns gateway nft flush ruleset
	lab_ns gateway nft -f "$LAB_WORK/baseline.nft"
}

lab_topology_up || exit 1
modprobe nf_conntrack_ftp || { echo "cannot load nf_conntrack_ftp" >&2; exit 1; }
modprobe nft_ct || { echo "cannot load nft_ct" >&2; exit 1; }
lab_vsftpd_start || exit 1
lab_listen server "$LAB_SERVER4" 40050
lab_listen server "$LAB_SERVER6" 40051

baseline_rules 'ct helper set "ftp-kernel"' || exit 1
lab_check "kernel helper: curl IPv4 PASV LIST/RETR/STOR (vsftpd)" lab_ftp_session curl "$LAB_SERVER4" pasv
lab_check "kernel helper: lftp IPv6 EPSV LIST/RETR/STOR (vsftpd)" lab_ftp_session lftp "$LAB_SERVER6" epsv
lab_check "kernel helper: unannounced passive port 40050 IPv4 dropped" lab_expect_blocked client "$LAB_SERVER4" 40050
lab_check "kernel helper: unannounced passive port 40051 IPv6 dropped" lab_expect_blocked client "$LAB_SERVER6" 40051
related=$(lab_ns gateway nft list chain inet baseline forward | awk '/ct state related counter/ { print $6 }')
lab_check "kernel helper: data connections admitted as related" test "${related:-0}" -gt 0

baseline_rules '' || exit 1
no_helper_fails() { ! LAB_FTP_TIMEOUT=4 lab_ftp_session "$@" >/dev/null 2>&1 || { echo "transfer succeeded without a helper"; return 1; }; }
lab_check "no helper: curl IPv4 PASV transfer fails" no_helper_fails curl "$LAB_SERVER4" pasv
lab_check "no helper: ftplib IPv6 EPSV transfer fails" no_helper_fails ftplib "$LAB_SERVER6" epsv

lab_listeners_stop
lab_ftp_stop
lab_topology_down
lab_summary "lab baseline"
