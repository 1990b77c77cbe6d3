#!/usr/bin/env bash
# One prepared command for a borrowed GPU box with no package index (docs/gpu.md):
#
#     bash scripts/device_check.sh BUNDLE OUT                       # on the GPU box: install offline, measure
#     bash scripts/device_check.sh --device cpu --tiny BUNDLE OUT   # the same code path on a laptop, < 2 min
#     bash scripts/device_check.sh --device cpu --tiny --no-install --python .venv/bin/python BUNDLE OUT
#
# BUNDLE is the folder scripts/device_bundle.sh made (wheels, requirements.txt, hopper-v5-medium.hdf5); OUT gets
# device_check.json (every figure, rewritten after each step), device_check.md (the figures against the
# targets) and device_check.log (everything printed). Installs the bundle into PYTHON's environment with pip
# --no-index (nothing is fetched), then runs scripts/device_check.py against one deadline: --total-s (default
# 450 s on a GPU, 105 s with --tiny) counted from the start, install included.
#
# Options: --device cuda|cpu (cuda), --tiny, --no-install, --python PY (python3), --total-s S, --compile-cpu,
# --only PARTS (comma-separated, of bench,eval,train,gmpg,compile; default all: e.g. --only gmpg gives GMPG at the
# reference grid the whole deadline).
set -uo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DEVICE=cuda
TINY=0
INSTALL=1
PY=python3
TOTAL=
EXTRA=()
ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --tiny) TINY=1; shift ;;
    --no-install) INSTALL=0; shift ;;
    --python) PY=$2; shift 2 ;;
    --total-s) TOTAL=$2; shift 2 ;;
    --compile-cpu) EXTRA+=(--compile-cpu); shift ;;
    --only) read -r -a parts <<<"${2//,/ }"; EXTRA+=(--only "${parts[@]}"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "device_check.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) ARGS+=("$1"); shift ;;
  esac
done
if [ ${#ARGS[@]} -ne 2 ]; then
  echo "usage: device_check.sh [options] BUNDLE OUT (see --help)" >&2
  exit 2
fi
BUNDLE=$(cd "${ARGS[0]}" 2>/dev/null && pwd) || { echo "device_check.sh: no folder ${ARGS[0]}" >&2; exit 2; }
mkdir -p "${ARGS[1]}" && OUT=$(cd "${ARGS[1]}" && pwd)
[ -n "$TOTAL" ] || TOTAL=$([ "$TINY" = 1 ] && echo 105 || echo 450)
[ "$TINY" = 1 ] && EXTRA+=(--tiny)
LOG="$OUT/device_check.log"
: >"$LOG"

install_bundle() {
  # bundle only: no index, no pip configuration or environment pointing elsewhere, no cache
  local pip=(env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PIP_CONSTRAINT -u PIP_REQUIRE_VIRTUALENV
             PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY" -m pip install --no-index
             --no-cache-dir --no-compile --find-links "$BUNDLE")
  [ -f "$BUNDLE/requirements.txt" ] || { echo "no $BUNDLE/requirements.txt: run scripts/device_bundle.sh" >&2; return 1; }
  # genrl's needs (pip keeps what the environment already has, e.g. torch and numpy on the GPU box), then genrl
  # itself without its optional dependencies (wandb, minari, matplotlib are not in the bundle)
  "${pip[@]}" -r "$BUNDLE/requirements.txt" &&
    "${pip[@]}" --no-deps --force-reinstall "$BUNDLE"/genrl-*.whl
}

main() {
  local start=$SECONDS status=skipped
  echo "== genrl device check: device=$DEVICE tiny=$TINY python=$PY bundle=$BUNDLE out=$OUT total=${TOTAL}s"
  echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname)"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  if [ "$INSTALL" = 1 ]; then
    echo "== install (offline, from $BUNDLE)"
    if install_bundle; then status=ok; else status=failed; fi
    echo "-- install: $status in $((SECONDS - start)) s"
  fi
  local install_s=$((SECONDS - start))
  cd "$REPO" || return 1
  PYTHONUNBUFFERED=1 "$PY" scripts/device_check.py --device "$DEVICE" --bundle "$BUNDLE" --out "$OUT" \
    --deadline-s "$((TOTAL - install_s))" --install-status "$status" --install-seconds "$install_s" "${EXTRA[@]}"
}

main 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
