#!/usr/bin/env bash
# One short GPU lease (a lent machine: no network, a 10-minute command limit, files back only
# under $OUT): install the carried wheels once, run parts of gpu_check.sh in the order given,
# each inside its own time limit (a part cut short still leaves what it finished), then pack
# everything into $OUT/check.tgz. Used for the 2026-12-04 H200 record (benchmarks/RESULTS.md).
#
#   bash benchmarks/gpu_lease.sh 1:190 3:230 2:130      # part:seconds, in this order
#   bash benchmarks/gpu_lease.sh --cpu-smoke 2:200      # a rehearsal anywhere
#
# Wheels for what the device image lacks go in .whl/ (benchmarks/README.md); when its pyarrow
# is older than 24, a datasets 4.x wheel in .whl/alt/ is used instead of datasets 5.
set -uo pipefail
MODE=()
if [ "${1:-}" = --cpu-smoke ]; then MODE=(--cpu-smoke); shift; fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
export PYTHON="${PYTHON:-python3}" PYTHONUNBUFFERED=1
C="$(mktemp -d)/check"; mkdir -p "$C"
{
  date
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PYTHON" -c "import pyarrow, transformers, torch, lightning; print('pyarrow', pyarrow.__version__, 'transformers', transformers.__version__, 'torch', torch.__version__, 'lightning', lightning.__version__)"
} > "$C/environment.txt" 2>&1
if compgen -G ".whl/*.whl" > /dev/null; then
  "$PYTHON" -c "import pyarrow, sys; sys.exit(int(pyarrow.__version__.split('.')[0]) < 24)" || {
    rm -f .whl/datasets-5*; mv .whl/alt/datasets-4* .whl/; echo "pyarrow < 24: datasets 4" >> "$C/environment.txt"
  }
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/lab-site .whl/*.whl > "$C/pip.log" 2>&1 || echo "wheel install FAILED (pip.log)" >> "$C/environment.txt"
  export PYTHONPATH="/tmp/lab-site${PYTHONPATH:+:$PYTHONPATH}"
  mv .whl /tmp/lab-whl-installed  # gpu_check.sh would install them again
fi
for item in "$@"; do
  part="${item%%:*}" limit="${item#*:}" started=$SECONDS
  timeout -k 5 "$limit" bash benchmarks/gpu_check.sh "${MODE[@]}" --parts "$part" --out "$C/part$part" \
    > "$C/part$part.out" 2>&1
  echo "part $part: exit $? after $((SECONDS - started)) s (limit $limit s)" | tee -a "$C/parts.txt"
  # A part's own `timeout` runs its child in a process group of its own: stop what is left.
  [ ${#MODE[@]} -eq 0 ] && { pkill -9 -f 'benchmarks/trainers\.py|-m lab\.train' 2> /dev/null; sleep 2; }
done
cat "$C"/part*/summary.txt 2> /dev/null
mkdir -p "${OUT:-/tmp}"; tar czf "${OUT:-/tmp}/check.tgz" -C "$(dirname "$C")" check && echo "packed: ${OUT:-/tmp}/check.tgz"
