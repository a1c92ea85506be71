#!/usr/bin/env bash
# One GPU visit, in one command that ends within 9 minutes: the environment, the throughput of the real
# training loop, and `mimtax verify` for all eight methods. Everything lands in OUTDIR, in at most 8 files.
#
#   benchmarks/gpu_visit.sh OUTDIR                        # on the H100/H200 (see issue #17 and the README)
#   benchmarks/gpu_visit.sh OUTDIR --dry-run --device cpu # the rehearsal the test suite runs
#
# Both stages rewrite their results after every measurement or method, so a stage stopped at its limit still
# brings back what it finished (marked "complete": false). After a visit, commit OUTDIR/throughput.json as
# benchmarks/results/throughput-<device>.json and unpack OUTDIR/verification.tar.gz into reports/verification/;
# if verify was stopped before it could judge, `mimtax verify --judge-only --out reports/verification/<device>`
# judges the methods it finished from their saved outcomes.
set -uo pipefail
OUT=${1:?usage: benchmarks/gpu_visit.sh OUTDIR [--dry-run] [--device cuda|cpu]}
shift
DRY=0
DEVICE=cuda
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --device) DEVICE=${2:?--device needs cuda or cpu}; shift ;;
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
if [ "$DRY" = 1 ]; then
  BENCH=(--steps 1 --batch-small 4 --batch-large 2 --methods mae,ibot)
  VERIFY=(--dry-run --seeds 2)
  BENCH_LIMIT=600; VERIFY_LIMIT=900
else
  BENCH=(--steps 30 --compile --deadline-s 100)  # the acceptance figures are measured first
  VERIFY=(--seeds 5 --budget-minutes 5.25)  # evaluation (label curves, validation-chosen rates, ceiling) included
  BENCH_LIMIT=150; VERIFY_LIMIT=360  # with the environment: under 9 minutes even if both run to their limits
fi
status=0
{
  date -u +"%Y-%m-%dT%H:%M:%SZ"
  git log -1 --format="commit %H" 2>/dev/null || echo "commit unknown"
  nvidia-smi 2>&1 || echo "nvidia-smi: not available"
  "$PY" -c "import platform, torch; print('python', platform.python_version()); print('torch', torch.__version__, 'cuda', torch.version.cuda, 'devices', torch.cuda.device_count())"
} > "$OUT/environment.txt" 2>&1
echo "== throughput (limit ${BENCH_LIMIT} s)"
timeout "$BENCH_LIMIT" "$PY" benchmarks/bench_throughput.py --device "$DEVICE" "${BENCH[@]}" \
  --out "$OUT/throughput.json" > "$OUT/throughput.log" 2>&1 || { echo "throughput: exit $?"; status=1; }
tail -n 20 "$OUT/throughput.log"
echo "== verify (limit ${VERIFY_LIMIT} s)"
timeout "$VERIFY_LIMIT" "$PY" -m taxonomy verify --device "$DEVICE" "${VERIFY[@]}" --out "$OUT/verification" \
  > "$OUT/verify.log" 2>&1 || { echo "verify: exit $?"; status=1; }
tail -n 20 "$OUT/verify.log"
if [ -d "$OUT/verification" ]; then
  tar -czf "$OUT/verification.tar.gz" -C "$OUT" verification && rm -rf "$OUT/verification"
fi
ls -l "$OUT"
exit $status
