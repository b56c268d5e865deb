#!/bin/sh
# Includes go downward only (docs/architecture.md, "Layers"): common/
# includes no part; jobmanager/, taskmanager/ and cli/ include only common/,
# their own folder, the generated protocol and the public UDF header. Prints every include that
# crosses and exits 1 if there is one.
cd "$(dirname "$0")/.." || exit 2
bad=0
check() { # part, allowed-prefix regex
    hits=$(grep -rnE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$1" |
        grep -vE "#[[:space:]]*include[[:space:]]+\"($2)" || true)
    if [ -n "$hits" ]; then
        echo "layers: $1/ includes what it must not:" >&2
        echo "$hits" >&2
        bad=1
    fi
}
check common 'common/|proto/|include/sluice/'
check jobmanager 'jobmanager/|common/|proto/|include/sluice/'
check taskmanager 'taskmanager/|common/|proto/|include/sluice/'
check cli 'cli/|common/|proto/|include/sluice/'
exit $bad
