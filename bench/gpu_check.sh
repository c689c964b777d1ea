#!/usr/bin/env bash
# The GPU learner's check, for one NVIDIA GPU, in under 10 minutes: the graphed update held
# against the eager one (tests/fast/test_graphed_update.py's CUDA cases, with the device replay's
# tests), the pytest-benchmark cases of bench/test_gpu_learner.py (eager against graphed update at
# batch 32 and 256 with achieved TFLOP/s, acting, replay draws against FrameReplayBuffer, the Pong
# loop with and without the GPU options: baselines from the same run), then the pong preset with
# device_replay, graphed_update and overlap_env_step trained on seeds 0 and 1 side by side for
# TRAIN_SECONDS each.
#
#   bash bench/gpu_check.sh OUT_DIR [TRAIN_SECONDS]     (TRAIN_SECONDS: 150 by default)
#
# Writes into OUT_DIR: machine.txt, tests.log, bench.log, bench-gpu-learner.json, ratios.txt,
# and per seed pong-gpu-s<seed>-{config.json,metrics.csv,summary.json,train.log}. Each stage has
# its own time limit, so a slow or failing stage cuts its own figures short, not the later ones.
set -u
out=${1:?usage: bash bench/gpu_check.sh OUT_DIR [TRAIN_SECONDS]}
train_seconds=${2:-150}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=${PYTHONPATH:-$PWD}
python=${PYTHON:-python3}

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    $python -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
    nproc
    grep -m1 'model name' /proc/cpuinfo
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

# 1. Correctness first: the CUDA graph must change the networks exactly as DQNAgent.update does.
timeout -s INT 150 $python -m pytest -q -p no:cacheprovider -rs tests/fast/test_graphed_update.py \
    tests/fast/test_device_replay.py 2>&1 | tee "$out/tests.log" | tail -15

# 2. Speed, each case beside its baseline.
timeout -s INT 200 $python -m pytest bench/test_gpu_learner.py --benchmark-only -q \
    -p no:cacheprovider --benchmark-max-time=0.5 --benchmark-columns=median,iqr,rounds \
    --benchmark-json="$out/bench-gpu-learner.json" 2>&1 | tee "$out/bench.log" | tail -40
$python - "$out/bench-gpu-learner.json" >"$out/ratios.txt" 2>&1 <<'PY'
import json, sys
cases = {b["name"]: b for b in json.load(open(sys.argv[1]))["benchmarks"]}
def median(name): return cases[name]["stats"]["median"] if name in cases else None
pairs = [("test_gpu_update[eager-%d]" % b, "test_gpu_update[graphed-%d]" % b) for b in (32, 256)]
pairs += [("test_gpu_replay_sample[FrameReplayBuffer-%d-cuda]" % b,
           "test_gpu_replay_sample[DeviceFrameReplay-%d-cuda]" % b) for b in (32, 256)]
pairs += [("test_gpu_train_loop[plain]", "test_gpu_train_loop[gpu-options]")]
for baseline, candidate in pairs:
    if median(baseline) and median(candidate):
        print(f"{candidate}: {median(baseline) / median(candidate):.2f}x faster than {baseline}")
for name, case in cases.items():
    print(name, {k: v for k, v in case["extra_info"].items()})
PY
cat "$out/ratios.txt"

# 3. Learning: two seeds side by side on the one GPU; SIGTERM stops a run with its metrics kept.
for seed in 0 1; do
    timeout -s TERM "$train_seconds" $python -m dqn_ref.run pong --device cuda --seed "$seed" \
        --device-replay --graphed-update --overlap-env-step --out "$out/run-s$seed" \
        --no-progress --no-tensorboard >"$out/pong-gpu-s$seed-train.log" 2>&1 &
done
wait
for seed in 0 1; do
    for name in config.json metrics.csv summary.json; do
        [ -f "$out/run-s$seed/$name" ] && cp "$out/run-s$seed/$name" "$out/pong-gpu-s$seed-$name"
    done
    rm -rf "$out/run-s$seed"  # the checkpoints are not needed for the figures
    tail -3 "$out/pong-gpu-s$seed-train.log"
done
ls -la "$out"
