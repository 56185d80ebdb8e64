#!/usr/bin/env bash
# The checks only a CUDA machine can run: training with AMP and without, DDP on NCCL, the TF32 gap
# between GPU and CPU embeddings, the mining benchmark against PML on the GPU, and the test suite
# with every "auto" device resolving to CUDA. Each step has its own time cap; every log goes to OUT.
#
# Needs: a CUDA GPU, siamkit's test dependencies, Fashion-MNIST (SIAMKIT_DATA or the usual places).
# Run:   bash benchmarks/gpu_checks.sh OUT_DIR [STEP ...]     (steps: suite demo tf32 ddp mining fp32)
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: bash benchmarks/gpu_checks.sh OUT_DIR [STEP ...]}
shift
steps=${*:-suite demo tf32 ddp mining fp32}
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
py=${PYTHON:-python3}
work=$(mktemp -d)
want() { [[ " $steps " == *" $1 "* ]]; }
step() { echo; echo "== $1 ($(date +%T))"; }
deadline=$((SECONDS + ${GPU_CHECKS_BUDGET:-570}))  # all steps together, seconds
# capped SECONDS LOG CMD...: run CMD (at most SECONDS, and never past the deadline), its output to
# LOG and its last lines to the terminal
capped() {
  local secs=$1 log=$2; shift 2
  local left=$((deadline - SECONDS - 5)) t0=$SECONDS
  [ "$left" -lt "$secs" ] && secs=$left
  if [ "$secs" -lt 15 ]; then echo "-- skipped: the budget is spent"; return; fi
  timeout "$secs" "$@" >"$log" 2>&1
  local rc=$?
  tail -n 25 "$log"
  if [ "$rc" = 124 ]; then echo "-- stopped at its cap of $secs s"; else echo "-- exit $rc after $((SECONDS - t0)) s"; fi
}

step "machine"
nvidia-smi -L
$py -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"

if want suite; then
  step "the test suite, every 'auto' device on CUDA (12 workers)"
  capped 230 "$out/suite.log" $py -m pytest -p no:cacheprovider -n 12 --timeout 200 -rfE tests
fi
if want demo; then
  step "siamkit demo on CUDA (the recipe's AMP on)"
  capped 170 "$out/demo.log" $py -m siamkit demo --device cuda --out "$work/demo" --no-progress
fi
if want tf32 && [ -d "$work/demo/model" ]; then
  step "TF32: the same 500 test images embedded on CUDA and on the CPU, and the CPU emulation"
  capped 60 "$out/tf32.log" sh -c "$py benchmarks/tf32_gap.py '$work/demo/model' --device cuda \
    && $py benchmarks/tf32_gap.py '$work/demo/model'"
fi
if want ddp; then
  step "DDP on NCCL: torchrun with one process on the GPU, 2 epochs"
  capped 120 "$out/ddp1.log" $py -m torch.distributed.run --nproc_per_node=1 -m siamkit train \
    configs/demo.yaml --out "$work/ddp1" --set train.epochs=2 --episodes 200 --no-progress
  step "torchrun with more processes than GPUs: one sentence, no output folder"
  capped 60 "$out/ddp2.log" $py -m torch.distributed.run --nproc_per_node=2 -m siamkit train \
    configs/demo.yaml --out "$work/ddp2" --set train.epochs=1 --no-progress
  ls -A "$work/ddp2" 2>&1 | head -5
fi
if want mining; then
  step "online mining + triplet loss on CUDA: siamkit vs pytorch-metric-learning"
  capped 90 "$out/mining.log" $py benchmarks/bench_mining.py --device cuda \
    --sizes 512 2048 4096 8192 --repeats 10 --memory-size 8192
fi
if want fp32; then
  step "the demo recipe with AMP off (compare with the demo's figures)"
  capped 150 "$out/fp32.log" $py -m siamkit train configs/demo.yaml --out "$work/fp32" \
    --set train.amp=false --no-progress
fi
rm -rf "$work"
