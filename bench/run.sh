#!/usr/bin/env bash
# `make bench`: every benchmark of the suite (not part of `make test`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
echo "== word count throughput (checkpoints off and every 1 s)"
"$here/wordcount.sh" "${WORDCOUNT_MB:-200}"
echo "== recovery time after SIGKILL"
"$here/recovery.sh" "${RECOVERY_ROUNDS:-5}"
echo "== operator throughput"
"$here/operators.sh" "${OPERATOR_RECORDS:-5000000}" "${OPERATOR_KEYS:-100000}"
