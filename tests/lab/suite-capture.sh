#!/bin/bash
# suite-capture.sh: ftpgated under capture = replies (doc/config.md
# "Capture"): the main suite (suite-ftpgated.sh: real transfers, crafted
# replies, limits, lifecycle) again, with the helper registered disabled
# and the shipped ruleset's capture chain holding only the server's data
# segments. Runs inside the lab guest.
export FTPGATE_CAPTURE=replies
exec bash "$(dirname "$0")/suite-ftpgated.sh"
