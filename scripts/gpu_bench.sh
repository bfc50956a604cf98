#!/usr/bin/env bash
# The GPU checks and benchmarks, in one run on a machine with a CUDA GPU:
#
#   bash scripts/gpu_bench.sh OUT_DIR [PYTHON]
#
# 1. the tests that need a GPU (tests/lmm/test_device.py), and training on it;
# 2. generation speed with the model on the GPU (`mars-gym bench-lmm --device cuda`);
# 3. MarS-Execution-v0 env steps/s with the model on the GPU and, in the same run, on one
#    CPU thread, then split over worker processes on the machine's cores.
# Each step's JSON and log land in OUT_DIR; a step that fails does not stop the others.
set -uo pipefail
out=${1:?usage: gpu_bench.sh OUT_DIR [PYTHON]}
py=${2:-python3}
mkdir -p "$out"
export OMP_NUM_THREADS=1 PYTHONUNBUFFERED=1
cli() { "$py" -m mars_gym.console "$@" --quiet; }
step() {  # step NAME COMMAND...: run it, log it, carry on
    local name=$1; shift
    echo "== $name"
    local t0=$SECONDS
    "$@" > >(tee "$out/$name.log") 2>&1 || echo "!! $name failed"
    echo "== $name: $((SECONDS - t0)) s"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$py" -c "import torch, os; print('torch', torch.__version__, 'cpus', os.cpu_count())"
step tests "$py" -m pytest -q -p no:cacheprovider tests/lmm/test_device.py tests/lmm/test_train.py
step bench_lmm_cuda cli bench-lmm --checkpoint fast --device cuda \
    --batch-sizes 1 16 64 256 1024 --seconds 3 --out "$out/bench_lmm_fast_cuda.json"
step bench_env_cuda cli bench --checkpoint fast --device cuda --num-envs 64 256 1024 \
    --seconds 10 --out "$out/bench_fast_cuda.json"
step bench_env_cpu cli bench --checkpoint fast --device cpu --num-envs 64 256 \
    --seconds 10 --out "$out/bench_fast_cpu_same_machine.json"
step bench_env_workers cli bench --checkpoint fast --num-envs 256 1024 --workers 4 8 \
    --seconds 10 --out "$out/bench_fast_workers.json"
