#!/usr/bin/env bash
# The prepared GPU check of issue 20: inside 8 minutes on one GPU, it records
#   1. lab against HF Trainer: steady-state samples/s, MFU and peak memory, bf16, a BERT-base
#      built from its config (random weights: speed only), IMDB-length reviews (IMDB from
#      ../shared/data/imdb or $IMDB_DIR, else synthetic reviews with IMDB's lengths), batch 32,
#      max_length 256, with length grouping off and on, 2 alternated rounds
#      (compare_trainers.py: per-step seconds and padded tokens are in the raw JSON);
#   2. one training step each of FSDP, DeepSpeed ZeRO-2, DeepSpeed ZeRO-3 and QLoRA through
#      `python -m lab.train` (pass or fail, and the log).
# Results go to benchmarks/results/gpu/check-<time>/ (or --out DIR): summary.txt,
# environment.txt, throughput.md and throughput-*.json, one log per part.
#
#   bash benchmarks/gpu_check.sh                 # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --cpu-smoke     # anywhere: each part for 1-2 steps on CPU
#                                                # (tiny model, 32-bit), CUDA-only parts skipped
#
# Python: $PYTHON, else .venv/bin/python, else python3; lab runs from src/ (no install
# needed). Machines without network: wheels in .whl/ are installed first (benchmarks/README.md
# lists what the device image lacks). PEAK_TFLOPS (default 989, H100/H200 SXM dense bf16)
# sets the MFU denominator.
set -uo pipefail

MODE=gpu
OUT_DIR=""
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-smoke) MODE=cpu ;;
    --out) OUT_DIR="$2"; shift ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--cpu-smoke] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=python3; fi
fi
if compgen -G "$ROOT/.whl/*.whl" > /dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/lab-site "$ROOT"/.whl/*.whl || exit 2
  export PYTHONPATH="/tmp/lab-site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$ROOT/src:$ROOT/benchmarks:${PYTHONPATH:-}"
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 WANDB_MODE=disabled TOKENIZERS_PARALLELISM=false
export PYTHONUNBUFFERED=1

OUT_DIR="${OUT_DIR:-$ROOT/benchmarks/results/gpu/check-$(date +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT_DIR"
WORK="$(mktemp -d)"
STATUS=0
log() { echo "[gpu_check $(date +%T)] $*" | tee -a "$OUT_DIR/summary.txt"; }

if [ "$MODE" = gpu ]; then
  if ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    log "no CUDA GPU visible: use --cpu-smoke"
    exit 1
  fi
  ARCH=bert-base; TRAIN_ROWS=2000; TEST_ROWS=200; STEPS=60; WARMUP=10; REPEATS=2
  PRECISION=bf16-mixed; PEAK=(--peak-tflops "${PEAK_TFLOPS:-989}"); STEP_PRECISION=bf16-mixed
else
  ARCH=tiny; TRAIN_ROWS=64; TEST_ROWS=16; STEPS=2; WARMUP=1; REPEATS=1
  PRECISION=32-true; PEAK=(); STEP_PRECISION=32-true
fi
log "mode $MODE; model $ARCH from its config; results in $OUT_DIR"

{
  date
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  "$PY" - << 'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("torch", "lightning", "transformers", "datasets", "hydra", "peft", "deepspeed", "bitsandbytes"):
    try:
        print(name, importlib.import_module(name).__version__)
    except Exception as err:  # noqa: BLE001
        print(name, "missing:", type(err).__name__)
EOF
} > "$OUT_DIR/environment.txt" 2>&1

# ---------------------------------------------------------------- model and data
TOKENIZER="$ROOT/src/lab/assets/tiny_bert"
"$PY" benchmarks/make_random_model.py --arch "$ARCH" --tokenizer "$TOKENIZER" --out "$WORK/model" \
  > "$OUT_DIR/setup.log" 2>&1 || { log "FAILED to build the model (setup.log)"; exit 1; }
IMDB="${IMDB_DIR:-$ROOT/../shared/data/imdb}"
if [ ! -f "$IMDB/train.csv.gz" ]; then
  # 64 more train rows than used: prepare_imdb carves its validation split from them.
  "$PY" benchmarks/synthetic_imdb.py --tokenizer "$TOKENIZER" --out "$WORK/imdb" \
    --train "$((TRAIN_ROWS + 64))" --test "$TEST_ROWS" >> "$OUT_DIR/setup.log" 2>&1 || exit 1
  IMDB="$WORK/imdb"
  log "IMDB not found: synthetic reviews with IMDB's length distribution"
fi
"$PY" -c "import sys; from compare_trainers import prepare_imdb as p; from pathlib import Path as P; \
p(P(sys.argv[1]), P(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), seed=0)" \
  "$IMDB" "$WORK/rows" "$TRAIN_ROWS" "$TEST_ROWS" >> "$OUT_DIR/setup.log" 2>&1 || exit 1

# ---------------------------------------------------------------- 1. lab vs HF Trainer
log "1. lab vs HF Trainer, length grouping off and on ($REPEATS round(s) of $STEPS steps)"
if timeout 360 "$PY" benchmarks/compare_trainers.py --datasets imdb --imdb-dir "$IMDB" \
    --model "$WORK/model" --impls lab hf lab+group_by_length hf+group_by_length \
    --repeats "$REPEATS" --steps "$STEPS" --warmup "$WARMUP" --batch-size 32 --max-length 256 \
    --train-rows "$TRAIN_ROWS" --test-rows "$TEST_ROWS" --precision "$PRECISION" "${PEAK[@]}" \
    --results-dir "$OUT_DIR" > "$OUT_DIR/throughput.md" 2> "$OUT_DIR/throughput.log"; then
  for raw in "$OUT_DIR"/20*.json; do mv "$raw" "$OUT_DIR/throughput-$(basename "$raw")"; done
  tee -a "$OUT_DIR/summary.txt" < "$OUT_DIR/throughput.md"
else
  log "1. FAILED (throughput.log)"; STATUS=1
fi

# ---------------------------------------------------------------- 2. one step per strategy
STEP_RUN=(
  model=minilm "model.pretrained=$WORK/model" data=json "data.path=$WORK/rows"
  data.max_length=256 data.batch_size=8 trainer.max_steps=1 trainer.max_epochs=1
  +trainer.limit_val_batches=1 +trainer.limit_test_batches=1 logger=csv callbacks=none
  "precision=$STEP_PRECISION"
)
one_step() {  # name, overrides...
  local name="$1"; shift
  if timeout 150 "$PY" -m lab.train "${STEP_RUN[@]}" "$@" "paths.output_root=$WORK/steps/$name" \
      > "$OUT_DIR/step-$name.log" 2>&1; then
    log "2. $name: one step OK"
  else
    log "2. $name: FAILED (step-$name.log)"; STATUS=1
  fi
}
PARTS=(
  "fsdp strategy=fsdp"
  "deepspeed_zero2 strategy=deepspeed_stage_2"
  "deepspeed_zero3 strategy=deepspeed_stage_3"
  "qlora peft=qlora"
)
for part in "${PARTS[@]}"; do
  read -r -a words <<< "$part"
  if [ "$MODE" = gpu ]; then
    one_step "${words[@]}"
  else
    # CUDA only: lab refuses them before loading anything; check it says so, in words.
    reason="$("$PY" -m lab.validate "${STEP_RUN[@]}" "${words[@]:1}" 2>&1 | tail -n 1)"
    log "2. ${words[0]}: skipped (needs CUDA); lab.validate says: $reason"
  fi
done
if [ "$MODE" = cpu ]; then
  one_step single_device strategy=auto  # the same one-step command line, on what CPU allows
fi

rm -rf "$WORK"
log "done (status $STATUS)"
exit "$STATUS"
