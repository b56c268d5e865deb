#!/usr/bin/env bash
# The short chaos run (tests/chaos/chaos.sh, `make chaos` runs 100 actions):
# 10 random faults (SIGKILL of a busy taskmanager and a replacement, SIGSTOP
# for 1-5 s, either timed for while a checkpoint is being written) against
# word count and a keyed window job with exactly-once file sinks and a
# checkpoint every 300 ms; the output must be exact, no orphan left in the
# checkpoint folder, no process left. CHAOS_SEED replays a run.
CHAOS_ACTIONS="${CHAOS_ACTIONS:-10}" exec bash "$(dirname "$0")/../chaos/chaos.sh"
