#!/usr/bin/env bash
# Build the offline bundle for a GPU box that reaches no package index (docs/gpu.md):
#
#     bash scripts/device_bundle.sh                      # -> device_bundle/ (git-ignored), for CPython 3.12
#     bash scripts/device_bundle.sh --python-version 3.11 --out /tmp/bundle311   # e.g. to prove it on 3.11
#     options: --out DIR, --python-version X.Y, --dataset FILE, --max-mb N, --python PY (runs pip and builds the
#     genrl wheel: Python >= 3.11 with setuptools and wheel, e.g. the dev venv)
#
# On a machine that reaches PyPI, downloads the wheels that genrl needs beside what such a box already has
# (Python 3.12 with PyTorch, torchdiffeq, numpy, scipy, h5py and tqdm), for CPython <version> on manylinux x86_64;
# builds genrl itself as a wheel from this working tree; copies the hopper-v5-medium dataset in; writes
# requirements.txt (what scripts/device_check.sh installs) and MANIFEST.txt; and fails when the folder exceeds
# --max-mb (60). Left out on purpose: torch (the box has it; hundreds of MB), wandb (logger=none), minari (only
# env=minari imports it), matplotlib, rliable, pandas, tabulate (only genrl-report).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
OUT="$REPO/device_bundle"
PYVER=3.12
MAX_MB=60
DATASET="$REPO/../shared/datasets/hopper-v5-medium.hdf5"
PYTHON=python3
PIP=(python3 -m pip)
# genrl's dependencies that the box does without: wandb (logger=none), minari (imported by env=minari only),
# matplotlib, rliable, pandas and tabulate (genrl-report only)
OPTIONAL=(wandb minari matplotlib rliable pandas tabulate)

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --python-version) PYVER=$2; shift 2 ;;
    --dataset) DATASET=$2; shift 2 ;;
    --max-mb) MAX_MB=$2; shift 2 ;;
    --python) PYTHON=$2; PIP=("$2" -m pip); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "device_bundle.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
ABI="cp${PYVER/./}"

# What the box lacks, pinned to the versions genrl is tested with. Pure-Python wheels are tiny; the box keeps
# its own copy of anything it already has at a version that satisfies these (pip skips installed packages).
PACKAGES=(
  hydra-core==1.3.8 omegaconf==2.3.1 PyYAML==6.0.4 packaging==26.4
  gymnasium==1.4.0 cloudpickle==3.1.3 typing-extensions==4.16.0 farama-notifications==0.0.6
  mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 websockets==17.4 glfw==2.11.0 PyOpenGL==3.1.10
  imageio==2.38.1 pillow==13.0.0
  submitit==1.5.4 hydra-submitit-launcher==1.2.0
  torchdiffeq==0.2.5 tqdm==4.70.1
)
# antlr4-python3-runtime 4.9.3 (what omegaconf 2.3 needs) exists only as a source archive: built here, pure Python.
SDIST_PACKAGES=(antlr4-python3-runtime==4.9.3)

mkdir -p "$OUT"
rm -f "$OUT"/*.whl "$OUT"/requirements.txt "$OUT"/MANIFEST.txt
echo "== wheels for CPython $PYVER, manylinux x86_64 -> $OUT"
"${PIP[@]}" download --quiet --no-deps --only-binary=:all: --dest "$OUT" \
  --python-version "$PYVER" --implementation cp --abi "$ABI" --abi abi3 --abi none \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
  --platform manylinux_2_28_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 \
  --platform any "${PACKAGES[@]}"
"${PIP[@]}" wheel --quiet --no-deps --wheel-dir "$OUT" "${SDIST_PACKAGES[@]}"

echo "== genrl wheel from $REPO"
build_dir=$(mktemp -d)
trap 'rm -rf "$build_dir"' EXIT
# a copy of the package sources, so that the build writes nothing into the working tree
tar -C "$REPO" -cf - pyproject.toml README.md src | tar -C "$build_dir" -xf -
find "$build_dir/src" \( -name __pycache__ -o -name '*.egg-info' \) -prune -exec rm -rf {} +
"${PIP[@]}" wheel --quiet --no-deps --no-build-isolation --wheel-dir "$OUT" "$build_dir"

echo "== dataset"
if [ -f "$DATASET" ]; then
  cp -f "$DATASET" "$OUT/"
else
  echo "warning: $DATASET not found: the device check's training run will use the bundled demo task" >&2
fi

# requirements.txt: genrl's own dependencies (pyproject.toml) less the optional ones; pip keeps
# whatever the GPU box already has that satisfies them (torch, numpy, h5py, ...) and takes the rest from here
"$PYTHON" - "$REPO/pyproject.toml" "${OPTIONAL[@]}" >"$OUT/requirements.txt" <<'PY'
import re
import sys
import tomllib

with open(sys.argv[1], "rb") as handle:
    dependencies = tomllib.load(handle)["project"]["dependencies"]
optional = {name.lower() for name in sys.argv[2:]}
for spec in dependencies:
    name = re.match(r"[A-Za-z0-9_.-]+", spec).group(0)
    if name.lower() not in optional:
        print(spec)  # gymnasium[mujoco] keeps its extra: its MuJoCo envs import imageio
PY
{
  echo "genrl device bundle for CPython $PYVER (manylinux x86_64)"
  echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  echo "git: $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO" status --porcelain 2>/dev/null | grep -q . && echo ' (with uncommitted changes)')"
  echo "left out (optional on the box): ${OPTIONAL[*]}"
  echo "install: bash scripts/device_check.sh BUNDLE OUT  (or: pip install --no-index --find-links BUNDLE -r BUNDLE/requirements.txt && pip install --no-index --no-deps BUNDLE/genrl-*.whl)"
  echo
  (cd "$OUT" && ls -l --time-style=+ ./*.whl ./*.hdf5 2>/dev/null | awk '{print $5, $NF}')
} >"$OUT/MANIFEST.txt"

size_kb=$(du -sk "$OUT" | cut -f1)
size_mb=$(( (size_kb + 1023) / 1024 ))
echo "== $OUT: $(find "$OUT" -name '*.whl' | wc -l) wheels, ${size_mb} MB in all (limit ${MAX_MB} MB)"
if [ "$size_mb" -gt "$MAX_MB" ]; then
  echo "error: the bundle is ${size_mb} MB, over the ${MAX_MB} MB limit" >&2
  exit 1
fi
