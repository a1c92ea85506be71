#!/usr/bin/env bash
# One GPU visit in one command: a ~10 s preflight, then benchmarks/gpu_visit.py (the Python API, never the CLI)
# within a budget, killed at a hard limit if it overruns. Everything lands in OUTDIR, in at most 8 files.
#
#   benchmarks/gpu_visit.sh OUTDIR                        # on the H100/H200: about 9 minutes at most
#   benchmarks/gpu_visit.sh OUTDIR --dry-run --device cpu # the rehearsal the test suite runs (seconds)
#
# The visit prints its plan (sized from the costs it measures first) before it runs it, and rewrites
# OUTDIR/visit.json after every row, so a visit stopped at its limit keeps what it finished ("complete": false).
# The runbook (what runs, in what order, its time plan, how to rerun, where results go): docs/gpu-visit.md.
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_visit.sh OUTDIR [--dry-run] [--device cuda|cpu] [--budget-s S] [--methods/--helped LIST] [--seeds N]}
shift
DRY=0
DEVICE=cuda
BUDGET=480
EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --device) DEVICE=${2:?--device needs cuda or cpu}; shift ;;
    --budget-s) BUDGET=${2:?--budget-s needs seconds}; shift ;;
    --methods|--helped|--seeds) EXTRA+=("$1" "${2:?$1 needs a value}"); shift ;;
    *) echo "gpu_visit.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
  shift
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
cd "$ROOT"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
VISIT=(--device "$DEVICE" --budget-s "$BUDGET" "${EXTRA[@]}")
[ "$DRY" = 1 ] && VISIT+=(--dry-run)
LIMIT=$(( ${BUDGET%.*} + 60 ))  # the visit sizes itself to the budget; the limit only catches an overrun
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  git log -1 --format="commit %H" 2>/dev/null || echo "commit unknown"
  git status --short 2>/dev/null | head -20
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
} > "$OUT/environment.txt" 2>&1
echo "== preflight"
if ! timeout 60 "$PY" benchmarks/gpu_preflight.py --device "$DEVICE" --out "$OUT/preflight.json"; then
  echo "gpu_visit.sh: the preflight failed (above); nothing else was run" >&2
  exit 1
fi
echo "== visit (budget ${BUDGET} s, hard limit ${LIMIT} s)"
status=0
timeout "$LIMIT" "$PY" benchmarks/gpu_visit.py "$OUT" "${VISIT[@]}" 2>&1 | tee "$OUT/visit.log" \
  || status=1
[ "${PIPESTATUS[0]}" = 0 ] || { echo "visit: exit ${PIPESTATUS[0]}"; status=1; }
if [ -d "$OUT/verification" ]; then
  tar -czf "$OUT/verification.tar.gz" -C "$OUT" verification && rm -rf "$OUT/verification"
fi
ls -l "$OUT"
exit $status
