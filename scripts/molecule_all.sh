#!/usr/bin/env bash
# Run the given molecule scenarios, MOLECULE_JOBS (default 3) at a time. The scenarios share
# nothing (own containers, networks, ephemeral dirs), so they run side by side. Each writes
# .cache/molecule-logs/<scenario>.log; a failed scenario's log is printed in full at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
export MOLECULE_LOGS=$PWD/.cache/molecule-logs
mkdir -p "$MOLECULE_LOGS"
rm -f "$MOLECULE_LOGS"/*.log

run_one() {
  local s=$1 start rc
  start=$(date +%s)
  molecule test -s "$s" >"$MOLECULE_LOGS/$s.log" 2>&1
  rc=$?
  if [ "$rc" = 0 ]; then
    echo "ok    molecule $s ($(( $(date +%s) - start )) s)"
  else
    echo "FAIL  molecule $s ($(( $(date +%s) - start )) s, exit $rc)"
    touch "$MOLECULE_LOGS/$s.failed"
  fi
  return "$rc"
}
export -f run_one

rm -f "$MOLECULE_LOGS"/*.failed
printf '%s\n' "$@" | xargs -P "${MOLECULE_JOBS:-3}" -I{} bash -c 'run_one "$1"' _ {}
rc=$?
for mark in "$MOLECULE_LOGS"/*.failed; do
  [ -e "$mark" ] || continue
  s=$(basename "$mark" .failed)
  echo "==> log of the failed scenario $s"
  cat "$MOLECULE_LOGS/$s.log"
done
exit "$rc"
