#!/usr/bin/env bash
# Crash consistency of a training run folder, end to end (issue 15):
#   kill  N   kill -9 a letters training N times at random moments, resuming after each; the
#             final model must have the bits of an uninterrupted run, and `evaluate` must read
#             the folder after every kill that left a model.
#   full      train into a small tmpfs that fills up: the run must fail with the system's reason
#             (exit 1), keep its last good checkpoint and model; after the disk grows, --resume
#             must finish with the bits of an uninterrupted run. Needs root (mount); skipped
#             (exit 77) otherwise.
# Usage: crash_loop.sh kill|full DYNSIM SOURCE_DIR [N]
set -euo pipefail
mode=$1 dynsim=$2 src=$3 n=${4:-20}
work=$(mktemp -d)
cleanup() { mountpoint -q "$work/disk" 2>/dev/null && umount "$work/disk"; rm -rf "$work"; }
trap cleanup EXIT
# A short letters training: 30 epochs of 2400 items, one thread (the bits depend on the thread
# count, not on interruptions).
sets=(--set train.epochs=30 --set dataset.n_train=2400 --set evaluate.max_items=200
      --set evaluate.horizon=1 --set train.clip_norm=20 --threads 1)
scenario=$src/scenarios/cvfr_letters.toml
"$dynsim" --log-level warn run "$scenario" "${sets[@]}" --out "$work/reference" >/dev/null

same_model() {  # the trained parameters, bit for bit
  for f in "$work/reference"/model/*.npy; do
    cmp -s "$f" "$1/model/$(basename "$f")" || { echo "model block $(basename "$f") differs"; return 1; }
  done
}

case $mode in
kill)
  run=$work/killed
  "$dynsim" --log-level warn run "$scenario" "${sets[@]}" --out "$run" >/dev/null &
  pid=$!
  kills=0
  at=()  # epochs done at each kill
  while ((kills < n)); do
    sleep "$(awk -v s=$RANDOM 'BEGIN { srand(s); printf "%.3f", 0.05 + 0.45 * rand() }')"
    if kill -0 "$pid" 2>/dev/null; then
      epoch=$(grep -o '"epochs_done": [0-9]*' "$run/checkpoint/checkpoint.json" 2>/dev/null |
        grep -o '[0-9]*$' || echo 0)
      at+=("$epoch")
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      kills=$((kills + 1))
      # Whatever moment it died at, the folder reads: a model when one was saved.
      if [[ -f $run/model/model.json ]]; then
        "$dynsim" --log-level error evaluate "$run" --set evaluate.max_items=50 \
          --name "after-kill-$kills" >/dev/null
      fi
    fi
    if [[ -f $run/checkpoint/checkpoint.json ]]; then
      "$dynsim" --log-level warn run --resume "$run" "${sets[@]:0:0}" --threads 1 >/dev/null &
    else  # killed before the first checkpoint: start again
      rm -rf "$run"
      "$dynsim" --log-level warn run "$scenario" "${sets[@]}" --out "$run" >/dev/null &
    fi
    pid=$!
  done
  wait "$pid"
  grep -q '"status": "ok"' "$run/metrics.json"
  same_model "$run"
  echo "kill -9 x $kills at random moments (epochs done at each: ${at[*]}), each resumed: the same model bits as one run"
  ;;
full)
  if [[ $(id -u) -ne 0 ]]; then echo "needs root to mount a tmpfs: skipped"; exit 77; fi
  mkdir -p "$work/disk"
  # 160 kB: room for the first checkpoint and model, not for the second checkpoint's stage.
  mount -t tmpfs -o size=160k tmpfs "$work/disk"
  run=$work/disk/run
  set +e
  "$dynsim" run "$scenario" "${sets[@]}" --out "$run" >"$work/out.txt" 2>&1
  rc=$?
  set -e
  cat "$work/out.txt" | tail -3
  [[ $rc -eq 1 ]] || { echo "expected exit 1 on a full disk, got $rc"; exit 1; }
  grep -q "No space left on device" "$work/out.txt" || { echo "no reason given"; exit 1; }
  grep -q "what()" "$work/out.txt" && { echo "C++ exception text"; exit 1; }
  [[ -f $run/checkpoint/checkpoint.json ]] || { echo "no checkpoint kept"; exit 1; }
  "$dynsim" --log-level error evaluate "$run" --set evaluate.max_items=50 --name after-full \
    >/dev/null 2>&1 || true  # may itself not fit; the model must still load:
  [[ -f $run/model/model.json ]] || { echo "no model kept"; exit 1; }
  epochs=$(grep -o '"epochs_done": [0-9]*' "$run/checkpoint/checkpoint.json" | grep -o '[0-9]*$')
  ((epochs >= 1 && epochs < 30)) || { echo "the disk should fill mid-training (epoch $epochs)"; exit 1; }
  [[ ! -e $run/checkpoint.staged ]] || { echo "a half-written checkpoint stage was left"; exit 1; }
  echo "disk full during epoch $((epochs + 1)); the checkpoint of epoch $epochs and the model kept"
  mount -o remount,size=50m "$work/disk"
  rm -rf "$run/evaluations"
  "$dynsim" --log-level warn run --resume "$run" --threads 1 >/dev/null
  same_model "$run"
  echo "resumed after the disk grew: the same model bits as one run"
  ;;
esac
