#!/usr/bin/env bash
# Build .gpu_kit/, the git-ignored folder that travels with the tree to a GPU machine for bench/gpu.sh:
#   .gpu_kit/cifar10-q75-jpeg.tar.gz   the CIFAR-10 JPEG copy (gpu.sh unpacks it there: one file travels, not 60,000)
#   .gpu_kit/wheels/                   the pure-Python and cp312 wheels that machine lacks (Python 3.12, x86-64 Linux)
# The GPU machine brings its own Python 3.12 with torch, torchvision, numpy, matplotlib, pyyaml, tqdm, tensorboard,
# filelock, scikit-learn, pillow, requests, click, ...; it lacks pydantic, torchinfo, papermill and the Jupyter stack
# (nbformat, nbclient, jupyter_client, ipykernel, ipython, pyzmq, tornado, traitlets, ...) and nbdev with fastcore and
# execnb (for the notebooks' `#| gpu` cells). It has no network: everything it installs comes from .gpu_kit/wheels.
#
# Usage: bash bench/prepare_gpu_kit.sh [path/to/cifar10-q75-jpeg.tar.gz]
#        (default: shared/data/cifar10-q75/cifar10-q75-jpeg.tar.gz in the folder that holds the checkout, the place
#        resnet_nb.datasets.prepare_cifar10_q75 looks too)
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.gpu_kit
TARBALL=${1:-$(dirname "$PWD")/shared/data/cifar10-q75/cifar10-q75-jpeg.tar.gz}
SHA256=0d82250787a641ca2325a78e33e39aa7521411d712a1f06300cb97c1c52e5b08
LIMIT_MIB=64  # what travels to the GPU machine, the tree included

# Exact versions: fastcore stays below 2 (nbdev 2.4 needs it), one version of each package, no dependency resolution there.
WHEELS=(
  # the package's own needs (settings.ini requirements the GPU machine lacks; typing-extensions: pydantic needs >= 4.14.1)
  pydantic==2.13.4 pydantic-core==2.46.4 annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0
  torchinfo==1.8.0
  # papermill and the Jupyter machinery it drives (a python3 kernel from ipykernel, on the machine's own python3)
  papermill==2.7.0 entrypoints==0.4.2 tenacity==9.2.1 nbclient==0.11.0 nbformat==5.11.1 fastjsonschema==2.22.3
  jsonschema==4.26.0 jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1
  jupyter-client==8.10.0 jupyter-core==5.9.1 platformdirs==4.14.9 traitlets==5.16.1 pyzmq==27.3.0 tornado==6.6.1
  ipykernel==7.4.0 comm==0.2.3 debugpy==1.8.22 matplotlib-inline==0.2.2 nest-asyncio2==1.7.4
  ipython==9.18.1 ipython-pygments-lexers==1.1.1 jedi==0.20.1 parso==0.8.7 pexpect==4.9.0 ptyprocess==0.7.0
  prompt-toolkit==3.0.53 wcwidth==0.9.4 stack-data==0.6.3 asttokens==3.0.2 executing==2.3.0 pure-eval==0.2.4
  # notebook widgets (tqdm.auto's bars in a kernel)
  ipywidgets==8.1.9 widgetsnbextension==4.0.16 jupyterlab-widgets==3.0.17
  # the `#| gpu` cells through tools/nbtest.py (nbdev's test runner); astunparse for nbdev's imports
  nbdev==2.4.14 fastcore==1.14.5 execnb==0.1.18 astunparse==1.6.3
)

mkdir -p "$KIT"
if [ -f "$TARBALL" ]; then
  echo "prepare_gpu_kit: checking $TARBALL"
  echo "$SHA256  $TARBALL" | sha256sum -c --quiet -
  cp "$TARBALL" "$KIT/cifar10-q75-jpeg.tar.gz"
else
  echo "prepare_gpu_kit: $TARBALL not found: the kit has no CIFAR-10 copy (gpu.sh's training stages will fail)" >&2
fi

rm -rf "$KIT/wheels.new"
python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_26_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
  -d "$KIT/wheels.new" "${WHEELS[@]}" 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
n=$(ls "$KIT/wheels.new" | wc -l)
if [ "$n" -ne "${#WHEELS[@]}" ]; then
  echo "prepare_gpu_kit: expected ${#WHEELS[@]} wheels, got $n" >&2; exit 1
fi
rm -rf "$KIT/wheels" && mv "$KIT/wheels.new" "$KIT/wheels"

kit_kib=$(du -sk --apparent-size "$KIT/wheels" "$KIT/cifar10-q75-jpeg.tar.gz" 2>/dev/null | awk '{s+=$1} END {print s}')
tree_kib=$(git ls-files -z --cached --others --exclude-standard | du -ck --apparent-size --files0-from=- 2>/dev/null | tail -1 | cut -f1)
echo "prepare_gpu_kit: $n wheels ($(du -sh --apparent-size "$KIT/wheels" | cut -f1)), data $(du -sh --apparent-size "$KIT/cifar10-q75-jpeg.tar.gz" 2>/dev/null | cut -f1 || echo none)"
echo "prepare_gpu_kit: kit $((kit_kib / 1024)) MiB + tree $((tree_kib / 1024)) MiB = $(((kit_kib + tree_kib) / 1024)) MiB of the ${LIMIT_MIB} MiB that may travel"
if [ $((kit_kib + tree_kib)) -gt $((LIMIT_MIB * 1024)) ]; then
  echo "prepare_gpu_kit: too large to travel" >&2; exit 1
fi
echo "prepare_gpu_kit: carry .gpu_kit/wheels and .gpu_kit/cifar10-q75-jpeg.tar.gz; on the GPU machine run: bash bench/gpu.sh"
