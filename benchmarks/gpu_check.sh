#!/usr/bin/env bash
# The prepared GPU check of issues 20 and 17: about 8 minutes on one H100/H200, it records
#   1. lab against HF Trainer: steady-state samples/s, MFU and peak memory, bf16, a BERT-base
#      built from its config (random weights: speed only), IMDB-length reviews (IMDB from
#      ../shared/data/imdb or $IMDB_DIR, else synthetic reviews with IMDB's lengths), batch 32,
#      max_length 256, with length grouping off and on, 2 alternated rounds
#      (compare_trainers.py: per-step seconds and padded tokens are in the raw JSON);
#   2. one training step each of QLoRA, FSDP, DeepSpeed ZeRO-2 and DeepSpeed ZeRO-3 through
#      `python -m lab.train` (pass or fail, and the log), then the tests marked `gpu`
#      (tests/test_sharded.py: FSDP and ZeRO-3 train, validate and test);
#   3. LLM tuning (issue 17) on a random ~1B Llama (Llama-3.2-1B's transformer, lab's tiny_llama
#      tokenizer and chat template; make_random_llm.py) through `python -m lab.train`: packed
#      SFT of every weight in bf16 (30 steps of 8 x 2048 tokens), the same with QLoRA (20 steps),
#      DPO with LoRA (4 steps), and SFT under DDP when more than one GPU is visible; each pass or
#      fail with its log, and a table of tokens/s, peak memory and the attention kernel used
#      (llm_meter.py, inside the run). About 3 minutes of the 8;
#   4. where a step's time goes (not in the default parts: --parts 4): lab and HF Trainer on
#      part 1's model and data, torch.profiler over 5 steps after 10 (step_profile.py): CPU
#      and GPU milliseconds per step, syncs and copies per step, the operator tables and a
#      Chrome trace of each (profile-lab/, profile-hf/, profile.md). About 2 minutes.
# Results go to benchmarks/results/gpu/check-<time>/ (or --out DIR): summary.txt,
# environment.txt, throughput.md and throughput-*.json, llm.md and llm-*.json, one log per part.
#
#   bash benchmarks/gpu_check.sh                 # on a machine with a CUDA GPU
#   bash benchmarks/gpu_check.sh --cpu-smoke     # anywhere: each part for 1-2 steps on CPU
#                                                # (tiny model, 32-bit, batches of 8 rows of up to
#                                                # 64 tokens; part 1 with length grouping only),
#                                                # CUDA-only parts skipped
#   bash benchmarks/gpu_check.sh --parts 3       # only the parts listed (comma-separated)
#   bash benchmarks/gpu_check.sh --parts 4       # the step profile of lab and HF Trainer
#
# Python: $PYTHON, else .venv/bin/python, else python3; lab runs from src/ (no install
# needed). Machines without network: wheels in .whl/ are installed first (benchmarks/README.md
# lists what the device image lacks). PEAK_TFLOPS (default 989, H100/H200 SXM dense bf16)
# sets the MFU denominator. LLM_ATTN sets part 3's attention kernel (transformers'
# attn_implementation, e.g. sdpa or flash_attention_2); by default flash_attention_2 where the
# flash_attn package imports, else transformers' default (the kernel used is recorded).
set -uo pipefail

MODE=gpu
OUT_DIR=""
SELECTED=1,2,3
while [ $# -gt 0 ]; do
  case "$1" in
    --cpu-smoke) MODE=cpu ;;
    --out) OUT_DIR="$2"; shift ;;
    --parts) SELECTED="$2"; shift ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--cpu-smoke] [--out DIR] [--parts 1,2,3,4]" >&2; exit 2 ;;
  esac
  shift
done
selected() { [[ ",$SELECTED," == *",$1,"* ]]; }

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
  BATCH=32; MAX_LEN=256  # parts 1 and 4 (part 2's one step: batches of 8, MAX_LEN tokens)
  PROFILE_WARMUP=10; PROFILE_STEPS=5
  PRECISION=bf16-mixed; PEAK=(--peak-tflops "${PEAK_TFLOPS:-989}"); STEP_PRECISION=bf16-mixed
  # Part 3: batches of 8 packed rows of 2048 tokens (16K tokens a step, ~0.3 s for the 1B model
  # at ~40% MFU); the first steps of each run are left out of its rate.
  LLM_SHAPE=llama-1b; LLM_LEN=2048; LLM_BATCH=8; SFT_STEPS=30; QLORA_STEPS=20; DPO_STEPS=4
  DDP_STEPS=10; LLM_WARMUP=5
  IMPLS=(lab hf lab+group_by_length hf+group_by_length)
else
  # A smoke run checks that each part works: sizes that keep its steps cheap (a run's time
  # here is mostly its process start-up).
  ARCH=tiny; TRAIN_ROWS=16; TEST_ROWS=8; STEPS=2; WARMUP=1; REPEATS=1
  BATCH=8; MAX_LEN=64
  PROFILE_WARMUP=1; PROFILE_STEPS=2
  PRECISION=32-true; PEAK=(); STEP_PRECISION=32-true
  LLM_SHAPE=tiny; LLM_LEN=256; LLM_BATCH=2; SFT_STEPS=2; QLORA_STEPS=2; DPO_STEPS=1
  DDP_STEPS=2; LLM_WARMUP=1
  # Part 1 with length grouping only: lab and HF Trainer without it are the same trainers.py
  # runs that part 4 profiles, so each of the four ways still runs once (a process each).
  IMPLS=(lab+group_by_length hf+group_by_length)
fi
log "mode $MODE; parts $SELECTED; model $ARCH from its config; results in $OUT_DIR"
[ "$MODE" = cpu ] && log "a CPU smoke run: it checks that each part works; its timings measure nothing"

{
  date
  command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  # On a GPU each package is imported (a CUDA extension built for another torch fails there);
  # a CPU smoke run reads the installed versions only (the imports cost it seconds).
  MODE="$MODE" "$PY" - << 'EOF'
import importlib, importlib.metadata, os, platform
print("python", platform.python_version())
for name in ("torch", "lightning", "transformers", "datasets", "hydra", "peft", "deepspeed", "bitsandbytes", "flash_attn"):
    try:
        if os.environ["MODE"] == "cpu":
            print(name, importlib.metadata.version(name.replace("hydra", "hydra-core").replace("_", "-")))
        else:
            print(name, importlib.import_module(name).__version__)
    except Exception as err:  # noqa: BLE001
        print(name, "missing:", type(err).__name__)
EOF
} > "$OUT_DIR/environment.txt" 2>&1
# ---------------------------------------------------------------- model and data (parts 1, 2)
if selected 1 || selected 2 || selected 4; then
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
fi

# ---------------------------------------------------------------- 1. lab vs HF Trainer
if selected 1; then
  log "1. lab vs HF Trainer: ${IMPLS[*]} ($REPEATS round(s) of $STEPS steps)"
  if timeout 360 "$PY" benchmarks/compare_trainers.py --datasets imdb --imdb-dir "$IMDB" \
      --model "$WORK/model" --impls "${IMPLS[@]}" \
      --repeats "$REPEATS" --steps "$STEPS" --warmup "$WARMUP" --batch-size "$BATCH" \
      --max-length "$MAX_LEN" --train-rows "$TRAIN_ROWS" --test-rows "$TEST_ROWS" \
      --precision "$PRECISION" "${PEAK[@]}" \
      --results-dir "$OUT_DIR" > "$OUT_DIR/throughput.md" 2> "$OUT_DIR/throughput.log"; then
    for raw in "$OUT_DIR"/20*.json; do mv "$raw" "$OUT_DIR/throughput-$(basename "$raw")"; done
    tee -a "$OUT_DIR/summary.txt" < "$OUT_DIR/throughput.md"
  else
    log "1. FAILED (throughput.log)"; STATUS=1
  fi
fi

# ---------------------------------------------------------------- 2. one step per strategy
STEP_RUN=(
  model=minilm "model.pretrained=$WORK/model" data=json "data.path=$WORK/rows"
  "data.max_length=$MAX_LEN" data.batch_size=8 trainer.max_steps=1 trainer.max_epochs=1
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
PARTS=(  # QLoRA first: part 3's QLoRA run needs it to work
  "qlora peft=qlora"
  "fsdp strategy=fsdp"
  "deepspeed_zero2 strategy=deepspeed_stage_2"
  "deepspeed_zero3 strategy=deepspeed_stage_3"
)
if selected 2; then
  if [ "$MODE" = gpu ]; then
    for part in "${PARTS[@]}"; do
      read -r -a words <<< "$part"
      one_step "${words[@]}"
    done
  else
    # CUDA only: lab refuses them before loading anything; check it says so, in words. One
    # process asks lab.validate (its `main`, as `python -m lab.validate` runs it) about all
    # four: a process each paid its start-up four times for one line each.
    while IFS=$'\t' read -r name reason; do
      log "2. $name: skipped (needs CUDA); lab.validate says: $reason"
    done < <("$PY" - "${PARTS[@]}" -- "${STEP_RUN[@]}" 2>&1 << 'PYEOF'
import contextlib, io, sys
from lab.validate import main
split = sys.argv.index("--")
parts, common = sys.argv[1:split], sys.argv[split + 1:]
for part in parts:
    name, *overrides = part.split()
    said = io.StringIO()
    with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
        main([*common, *overrides])
    lines = said.getvalue().strip().splitlines() or ["(nothing)"]
    print(f"{name}\t{lines[-1]}")
PYEOF
    )
  fi
  if [ "$MODE" = cpu ]; then
    one_step single_device strategy=auto  # the same one-step command line, on what CPU allows
  else
    # The tests that need CUDA (FSDP and ZeRO-3: a clipped step, then validation and test).
    if timeout 240 "$PY" -m pytest -p no:cacheprovider -n 0 -m gpu tests/test_sharded.py \
        > "$OUT_DIR/gpu-tests.log" 2>&1; then
      log "2. pytest -m gpu tests/test_sharded.py: passed ($(tail -n 1 "$OUT_DIR/gpu-tests.log"))"
    else
      log "2. pytest -m gpu tests/test_sharded.py: FAILED (gpu-tests.log)"; STATUS=1
    fi
  fi
fi

# ---------------------------------------------------------------- 4. step profile (issue 20)
if selected 4; then
  log "4. step profile: lab and HF Trainer, $PROFILE_STEPS steps after $PROFILE_WARMUP"
  for impl in lab hf; do
    if timeout 150 "$PY" benchmarks/trainers.py --impl "$impl" --data "$WORK/rows" \
        --model "$WORK/model" --steps "$((PROFILE_WARMUP + PROFILE_STEPS))" \
        --warmup "$PROFILE_WARMUP" --batch-size "$BATCH" --max-length "$MAX_LEN" \
        --precision "$PRECISION" \
        --profile-steps "$PROFILE_STEPS" --profile-dir "$OUT_DIR/profile-$impl" \
        --out "$WORK/profile-$impl.json" > "$OUT_DIR/profile-$impl.log" 2>&1; then
      log "4. $impl: profiled"
    else
      log "4. $impl: FAILED (profile-$impl.log)"; STATUS=1
    fi
  done
  if "$PY" benchmarks/step_profile.py "$OUT_DIR/profile-lab" "$OUT_DIR/profile-hf" \
      > "$OUT_DIR/profile.md" 2>> "$OUT_DIR/profile-hf.log"; then
    tee -a "$OUT_DIR/summary.txt" < "$OUT_DIR/profile.md"
  fi
fi

# ---------------------------------------------------------------- 3. LLM tuning (issue 17)
# A random Llama (make_random_llm.py) loaded as a Hub-style model config from a local folder,
# as a downloaded Llama-3.2-1B-Instruct would be: tokenizer and chat template from the folder.
LLM_RUN=(
  model=llama3_2_1b_instruct "model.pretrained=$WORK/llm" logger=csv callbacks=none
  trainer.max_epochs=1 +trainer.limit_val_batches=1 +trainer.limit_test_batches=1
  "precision=$STEP_PRECISION"
)
SFT_RUN=(  # packed SFT on the repeated sft_task chats; few, short generations at val/test
  data=chat "data.path=$WORK/sft" data.packing=true "data.max_length=$LLM_LEN"
  "data.batch_size=$LLM_BATCH" data.eval_batch_size=4 task.module.max_generation_rows=4
  task.module.max_new_tokens=16
)
DPO_RUN=(data=preferences "data.path=$ROOT/tests/fixtures/preferences" data.eval_batch_size=4 peft=lora)
llm_run() {  # name, steps, warmup, overrides...: one lab.train run with the meter; OK or FAILED
  local name="$1" steps="$2" warmup="$3" started="$SECONDS"; shift 3
  local meter="+callbacks.llm_meter={_target_: llm_meter.LLMMeter, path: '$OUT_DIR/llm-$name.json', warmup: $warmup}"
  rm -f "$OUT_DIR/llm-$name.json"  # a record left by an earlier check in the same --out
  if timeout 240 "$PY" -m lab.train "${LLM_RUN[@]}" "trainer.max_steps=$steps" "$meter" "$@" \
      "paths.output_root=$WORK/llm-runs/$name" > "$OUT_DIR/llm-$name.log" 2>&1 \
      && [ -f "$OUT_DIR/llm-$name.json" ]; then
    log "3. $name: $steps step(s) OK ($((SECONDS - started)) s)"
  else
    log "3. $name: FAILED (llm-$name.log)"; STATUS=1
  fi
}
if selected 3; then
  started="$SECONDS"
  log "3. LLM tuning: a random Llama ($LLM_SHAPE) with tiny_llama's tokenizer and chat template"
  # Enough repeated chats for the longest SFT run's packed tokens in one epoch (+15%: rows are
  # not packed full).
  if "$PY" benchmarks/make_random_llm.py --shape "$LLM_SHAPE" --out "$WORK/llm" \
      --sft-from "$ROOT/tests/fixtures/sft_task" --sft-out "$WORK/sft" \
      --sft-tokens "$((SFT_STEPS * LLM_BATCH * LLM_LEN * 115 / 100))" > "$OUT_DIR/llm-setup.log" 2>&1; then
    ATTN=()
    if [ -n "${LLM_ATTN:-}" ]; then
      ATTN=("+model.network.attn_implementation=$LLM_ATTN")
    elif [ "$MODE" = gpu ] && "$PY" -c "import flash_attn" > /dev/null 2>&1; then
      ATTN=(+model.network.attn_implementation=flash_attention_2)
    else
      log "3. flash_attn not installed (or --cpu-smoke): transformers' default attention kernel"
    fi
    LLM_RUN+=("${ATTN[@]}")
    llm_run sft "$SFT_STEPS" "$LLM_WARMUP" "${SFT_RUN[@]}"
    if [ "$MODE" = gpu ]; then
      llm_run sft_qlora "$QLORA_STEPS" "$LLM_WARMUP" "${SFT_RUN[@]}" peft=qlora
    else
      reason="$("$PY" -m lab.validate "${LLM_RUN[@]}" "${SFT_RUN[@]}" peft=qlora 2>&1 | tail -n 1)"
      log "3. sft_qlora: skipped (needs CUDA); lab.validate says: $reason"
    fi
    llm_run dpo_lora "$DPO_STEPS" 1 "${DPO_RUN[@]}"
    GPUS=0
    if [ "$MODE" = gpu ]; then
      GPUS="$("$PY" -c "import torch; print(torch.cuda.device_count())" 2> /dev/null || echo 0)"
    fi
    if [ "$MODE" = gpu ] && [ "$GPUS" -gt 1 ]; then
      llm_run sft_ddp "$DDP_STEPS" "$LLM_WARMUP" "${SFT_RUN[@]}" strategy=ddp "trainer.devices=$GPUS"
    else
      log "3. sft_ddp: skipped ($GPUS CUDA GPU(s) visible; DDP needs 2 or more)"
    fi
    "$PY" - "$OUT_DIR" > "$OUT_DIR/llm.md" << 'PYEOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print("| run | parameters (trainable) | precision | attention | timed steps | tokens/s | padded tokens/s | peak memory (GiB) |")
print("|---|---|---|---|---|---|---|---|")
for name in ("sft", "sft_qlora", "dpo_lora", "sft_ddp"):
    path = out / f"llm-{name}.json"
    if not path.exists():
        continue
    r = json.loads(path.read_text())
    memory = (
        f"{r['peak_allocated_gib']:.1f} allocated, {r['peak_reserved_gib']:.1f} reserved"
        if "peak_allocated_gib" in r else f"{r['peak_rss_gib']:.2f} RSS"
    )
    ranks = f" x {r['world_size']} ranks" if r["world_size"] > 1 else ""
    print(
        f"| {name} | {r['total_params'] / 1e6:.2f}M ({r['trainable_params'] / 1e6:.2f}M) "
        f"| {r['precision']} | {r['attn_implementation']} | {r['timed_steps']} "
        f"| {r['tokens_per_s']:.0f}{ranks} | {r['padded_tokens_per_s']:.0f} | {memory} |"
    )
PYEOF
    tee -a "$OUT_DIR/summary.txt" < "$OUT_DIR/llm.md"
  else
    log "3. FAILED to build the model (llm-setup.log)"; STATUS=1
  fi
  log "3. LLM tuning took $((SECONDS - started)) s"
fi

rm -rf "$WORK"
log "done (status $STATUS)"
exit "$STATUS"
