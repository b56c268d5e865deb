#!/usr/bin/env bash
# `make bench`: every benchmark of the suite (not part of `make test`).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
echo "== word count throughput"
"$here/wordcount.sh" "${WORDCOUNT_MB:-200}"
