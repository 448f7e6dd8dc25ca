#!/usr/bin/env bash
# MPI tests of the real binary under mpirun (flags a root CI machine needs). One of:
#   data_parallel  letters training at P = 1, 2 and 4 ranks (4 shards) gives the same model bits,
#                  the same test figures, and a resume under MPI continues to the same bits
#   study          a letters sweep (2 values x 2 seeds) spread over 2 ranks gives the same run
#                  bits and the same tables as the serial study
#   failure        a study with a run that fails records it, finishes the others, and a rerun
#                  completes only the missing one
set -euo pipefail
what=$1 dynsim=$2 mpirun=$3 src=$4
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mpi() { local np=$1; shift; "$mpirun" --allow-run-as-root --oversubscribe -np "$np" "$@"; }
# Model parameter files must match bit for bit.
same_model() {
  local a=$1 b=$2 n=0
  for f in "$a"/model/*.npy; do
    cmp "$f" "$b/model/$(basename "$f")" || { echo "model bits differ: $f"; exit 1; }
    n=$((n + 1))
  done
  ((n > 0)) || { echo "no model files in $a/model"; exit 1; }
}
same_file() { cmp "$1" "$2" || { echo "differ: $1 $2"; diff "$1" "$2" | head; exit 1; }; }
export OMP_WAIT_POLICY=PASSIVE  # oversubscribed ranks must not spin on each other's cores

letters=(--set dataset.n_train=400 --set dataset.n_test=200 --set train.epochs=2
         --set evaluate.horizon=2 --set evaluate.batch_size=64 --threads 1)
case $what in
  data_parallel)
    args=(run "$src/scenarios/cvfr_letters.toml" "${letters[@]}" --set train.shards=4)
    "$dynsim" "${args[@]}" --out "$work/p1" >/dev/null
    mpi 2 "$dynsim" "${args[@]}" --out "$work/p2" >/dev/null
    mpi 4 "$dynsim" "${args[@]}" --out "$work/p4" >/dev/null
    for p in p2 p4; do
      same_model "$work/p1" "$work/$p"
      same_file "$work/p1/confusion.csv" "$work/$p/confusion.csv"
      # The training curve, less its wall-clock column.
      cut -d, -f1-5 "$work/p1/training_history.csv" >"$work/h1"
      cut -d, -f1-5 "$work/$p/training_history.csv" >"$work/h2"
      same_file "$work/h1" "$work/h2"
      grep -q "\"ranks\": ${p#p}" "$work/$p/metrics.json" || { echo "$p: ranks not recorded"; exit 1; }
    done
    # Only rank 0 writes: nothing from another rank lands next to the run folder.
    rm "$work/h1" "$work/h2"
    [[ $(ls "$work") == $'p1\np2\np4' ]] || { echo "stray output: $(ls "$work")"; exit 1; }
    # Paused after epoch 1 and resumed under 2 ranks: the uninterrupted run's bits.
    mpi 2 "$dynsim" "${args[@]}" --set train.stop_after_epochs=1 --out "$work/part" >/dev/null
    mpi 2 "$dynsim" run --resume "$work/part" --set train.stop_after_epochs=0 >/dev/null
    same_model "$work/p1" "$work/part"
    echo "data-parallel: P = 1, 2, 4 and a resumed P = 2 run give the same model bits"
    ;;
  study)
    cat >"$work/sweep.toml" <<TOML
[scenario]
name = "letters_sweep"
[sweep]
seeds = [1, 2]
compare = "model.eig_b"
[sweep.grid]
"model.eig_b" = [1.4, 2.0]
[[sweep.attack]]
plugin = "replace_uniform"
p = [0.0, 0.5]
TOML
    # The base scenario's tables, then the sweep's.
    sed '/^\[scenario\]/,/^$/d' "$src/scenarios/cvfr_letters.toml" >>"$work/sweep.toml"
    printf '[attack]\nplugin = "replace_uniform"\n' >>"$work/sweep.toml"
    "$dynsim" run "$work/sweep.toml" "${letters[@]}" --out "$work/serial" >/dev/null
    mpi 2 "$dynsim" run "$work/sweep.toml" "${letters[@]}" --out "$work/mpi" >/dev/null
    for run in "$work"/serial/*/seed-*; do
      rel=${run#"$work/serial/"}
      same_model "$run" "$work/mpi/$rel"
    done
    for t in sweep.csv summary.csv compare.csv; do same_file "$work/serial/$t" "$work/mpi/$t"; done
    grep -q '"rank": 1' "$work/mpi/study.json" || { echo "rank 1 ran nothing"; exit 1; }
    echo "study: 4 runs over 2 ranks, the serial study's bits and tables"
    ;;
  failure)
    data=${DYNSIM_DATA_DIR:-$src/data}/mnist
    [[ -f $data/train-images-idx3-ubyte ]] || { echo "MNIST missing in $data (scripts/setup.sh)"; exit 1; }
    cat >"$work/study.toml" <<TOML
[scenario]
name = "fails_once"
[sweep]
seeds = [1]
[sweep.grid]
"dataset.train_images" = ["$data/train-images-idx3-ubyte", "$work/later/train-images-idx3-ubyte"]
[dataset]
plugin = "idx"
name = "custom"
train_labels = "$data/train-labels-idx1-ubyte"
test_images = "$data/t10k-images-idx3-ubyte"
test_labels = "$data/t10k-labels-idx1-ubyte"
n_train = 200
n_test = 100
[model]
plugin = "cvfr_hill"
[loss]
plugin = "mse_activity"
[integrator]
method = "euler"
dt = 0.1
steps = 5
[train]
epochs = 1
batch_size = 50
[evaluate]
horizon = 1
TOML
    set +e
    mpi 2 "$dynsim" run "$work/study.toml" --threads 1 --out "$work/out" >"$work/first.log" 2>&1
    rc=$?
    set -e
    ((rc == 1)) || { echo "first study: exit $rc, expected 1"; cat "$work/first.log"; exit 1; }
    grep -q '"status": "failed"' "$work/out/study.json" || { echo "failure not recorded"; exit 1; }
    grep -q 'later/train-images-idx3-ubyte' "$work/out/study.json" ||
      { echo "failure reason does not name the file"; cat "$work/out/study.json"; exit 1; }
    good=$(grep -l '"status": "ok"' "$work"/out/*/seed-1/metrics.json | head -n 1 || true)
    [[ -n $good ]] || { echo "the other run did not finish"; exit 1; }
    good=$(dirname "$good")
    stamp=$(stat -c %Y "$good/metrics.json")
    mkdir -p "$work/later" && cp "$data/train-images-idx3-ubyte" "$work/later/"
    mpi 2 "$dynsim" run "$work/study.toml" --threads 1 --out "$work/out" >"$work/second.log" 2>&1 ||
      { echo "rerun failed"; cat "$work/second.log"; exit 1; }
    ! grep -q '"status": "failed"' "$work/out/study.json" || { echo "still failed"; exit 1; }
    [[ $(stat -c %Y "$good/metrics.json") == "$stamp" ]] || { echo "finished run was redone"; exit 1; }
    echo "failure: recorded, the other run finished, the rerun completed only the failed one"
    ;;
  *) echo "unknown test $what"; exit 2 ;;
esac
