#!/usr/bin/env bash
# The CUDA figures in one go, for a machine with an NVIDIA GPU: the CartPole and Pong step-loop
# benchmarks (every case, CPU and CUDA, so that each CUDA figure has a CPU baseline from the same
# run), then the pong-cpu preset trained on the GPU for a fixed number of seconds, so that its
# evaluation curve can be set beside the CPU run of the same config (docs/pong/).
#
#   bash bench/cuda_figures.sh OUT_DIR [TRAIN_SECONDS]     (TRAIN_SECONDS: 240 by default)
#
# Writes into OUT_DIR: machine.txt (GPU, driver, torch), bench-cuda.json (the CUDA and env-only
# cases) and bench-cpu.json (pytest-benchmark), bench.log, and the training run's config.json,
# metrics.csv, summary.json (present when the run reached its end) and train.log. Each stage has
# its own time limit, so a slow stage cuts its own figures short rather than the ones after it.
set -u
out=${1:?usage: bash bench/cuda_figures.sh OUT_DIR [TRAIN_SECONDS]}
train_seconds=${2:-240}
mkdir -p "$out"
export PYTHONUNBUFFERED=1

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    nproc
    grep -m1 'model name' /proc/cpuinfo
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

bench() {  # bench SELECTION SECONDS NAME
    timeout -s INT "$2" python3 -m pytest bench/test_cartpole_loop.py bench/test_pong_loop.py \
        --benchmark-only -q -p no:cacheprovider -k "$1" --benchmark-max-time=0.5 \
        --benchmark-columns=median,iqr,rounds --benchmark-json="$out/bench-$3.json" 2>&1 |
        tee -a "$out/bench.log" | tail -45
}
bench "cuda or env_step" 170 cuda  # the CUDA cases first: they are what this script is for
bench "cpu" 110 cpu

# SIGTERM stops a run cleanly (dqn_ref.training.interrupt): it checkpoints and keeps metrics.csv.
timeout -s TERM "$train_seconds" python3 -m dqn_ref.run pong --preset pong-cpu --device cuda \
    --out "$out/run" --no-progress --no-tensorboard >"$out/train.log" 2>&1
echo "training exit status: $?" >>"$out/train.log"
tail -5 "$out/train.log"
for name in config.json metrics.csv summary.json; do
    [ -f "$out/run/$name" ] && cp "$out/run/$name" "$out/pong-cuda-$name"
done
rm -rf "$out/run"  # the checkpoint (27 MB) is not needed for the figures
ls -la "$out"
