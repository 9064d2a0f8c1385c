#!/usr/bin/env bash
# Everything a session lent the GPU device should run, in two calls of under 10 minutes each.
#
# The device machine has torch, numpy, scipy, matplotlib, tqdm and PyYAML for its Python 3.12,
# but not kornia, faiss-cpu or omegaconf, and it reaches no package index. Fetch their wheels
# here first (about 26 MiB), into a folder git ignores:
#
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
#     --platform any -d .whl kornia==0.9.0 kornia_rs==0.2.0 omegaconf==2.4.0 faiss-cpu==1.15.1 google-crc32c==1.9.0
#
# then, with the device tool:   run(command="bash benchmarks/gpu_session.sh bench", carry=[".whl"])
#                               run(command="bash benchmarks/gpu_session.sh paths", carry=[".whl"])
# Results land in $OUT (the device tool brings them back): one JSON line per measurement.
set -uo pipefail
part=${1:?usage: gpu_session.sh bench|paths}
OUT=${OUT:-/tmp/unnas-gpu}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  || { echo "gpu_session: installing the carried wheels failed; fetch them into .whl first (see the header)"; exit 1; }
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/device.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" | tee -a "$OUT/device.txt"

case $part in
  bench)  # issue #6's table: both impls, then what each optimisation buys, then target generation
    python3 benchmarks/search_step.py --impl both | tee "$OUT/search_step.jsonl"
    python3 benchmarks/search_step.py --impl fast --full-backward | tee -a "$OUT/search_step.jsonl"
    python3 benchmarks/search_step.py --impl fast --fused | tee -a "$OUT/search_step.jsonl"
    python3 benchmarks/pretext_targets.py --devices cuda | tee "$OUT/pretext_targets.jsonl"
    ;;
  paths)  # CUDA graph and bf16, the CUDA code paths and NCCL/SyncBN, none of which CPU CI can run
    python3 benchmarks/search_step.py --impl fast --cuda-graph | tee "$OUT/search_step_graph.jsonl"
    python3 benchmarks/search_step.py --impl fast --bf16 | tee -a "$OUT/search_step_graph.jsonl"
    python3 -m pytest -q -p no:cacheprovider tests/test_task_contract.py tests/test_colorization.py \
      2>&1 | tee "$OUT/pytest_cuda.txt"
    python3 -m unnas.cli search device=cuda out_dir=/tmp/run-cuda optim.epochs=1 progress=false \
      2>&1 | tee "$OUT/search_cuda.txt"
    torchrun --standalone --nproc_per_node 1 -m unnas.cli search device=cuda model.sync_bn=true \
      out_dir=/tmp/run-nccl optim.epochs=1 progress=false 2>&1 | tee "$OUT/search_nccl.txt"
    ;;
  *) echo "gpu_session: unknown part '$part'; use bench or paths"; exit 2 ;;
esac
