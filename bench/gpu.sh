#!/usr/bin/env bash
# Every GPU check of the speed work in one command, within about 8 minutes on one H200:
#   gpu_cells   the notebooks' `#| gpu` cells (tools/nbtest.py --flags gpu on every notebook that has one)
#   overhead    bench/trainer_overhead.py --device cuda: the trainer against a hand-written loop (budget 3%)
#   fast        time to 94% on the CIFAR-10 JPEG copy with the fast recipe: test accuracy over 5 seeds, mean and spread
#   notebook    one papermill execution of nbs/train.ipynb with the fast recipe (live chart and tables kept)
#   throughput  bench/throughput.py: resnet18 and resnet50 images/s, trainer vs bare loop, compiled and not
#   plain       the plain ResNet-18 recipe (PLAIN_RECIPE) on the same data with the fast recipe's budget, for comparison
# Each stage's time is printed; a failing stage does not stop the others; the script ends with a non-zero code and the
# list of failed stages. Everything printed goes to bench/results/gpu-<date>.txt, the figures to gpu-<date>.json, the
# executed notebook to bench/results/train-fast-gpu.ipynb (and, when $OUT is set, copies of the three into $OUT).
#
# Run at the root of the tree on the GPU machine after `bash bench/prepare_gpu_kit.sh` here (it builds .gpu_kit/: the
# CIFAR-10 tarball and the wheels the machine lacks, installed into .gpu_kit/site; nothing is downloaded).
#   bash bench/gpu.sh                # the real thing (needs a CUDA GPU)
#   bash bench/gpu.sh --cpu-smoke    # every stage tiny on the CPU (GPU_SH_CPU_SMOKE=1 too): proves the script works
# Settings (environment): FAST_RECIPE (cifar10_fast), PLAIN_RECIPE (cifar10_resnet18), SEEDS (5), PLAIN_SEEDS (1), TARGET (0.94), PYTHON (python3),
#   GPU_SH_DEADLINE (seconds for the whole script, 470), RESULTS_DIR (bench/results; the smoke: .gpu_kit/smoke-results).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=${GPU_SH_CPU_SMOKE:-0}
for a in "$@"; do
  case $a in
    --cpu-smoke) SMOKE=1 ;;
    *) echo "gpu.sh: unknown argument $a (allowed: --cpu-smoke)" >&2; exit 2 ;;
  esac
done
FAST_RECIPE=${FAST_RECIPE:-cifar10_fast}
PLAIN_RECIPE=${PLAIN_RECIPE:-cifar10_resnet18}
SEEDS=${SEEDS:-5}; PLAIN_SEEDS=${PLAIN_SEEDS:-1}; TARGET=${TARGET:-0.94}
PY=${PYTHON:-python3}
KIT=$ROOT/.gpu_kit
WORK=$KIT/work
DEADLINE=${GPU_SH_DEADLINE:-470}
STAMP=$(date -u +%Y-%m-%d-%H%M)
if [ "$SMOKE" = 1 ]; then
  RES=${RESULTS_DIR:-$KIT/smoke-results}; DEVICE=cpu; SEEDS=1; PLAIN_SEEDS=1
  DATA_KW='{path: cifar10-q75, size: 32, max_per_class: 10}'
  # seconds-long runs: 2 steps, no compile, a validation split the tiny data allows
  SMALL=(compile=false epochs=1 max_steps=2 batch_size=8 eval_batch_size=64 val_split=0.2)
else
  RES=${RESULTS_DIR:-bench/results}; DEVICE=cuda
  DATA_KW='{path: cifar10-q75, size: 32}'
  SMALL=()
fi
mkdir -p "$RES" "$WORK/logs"; rm -f "$WORK"/*.json  # no figures left from an earlier run
TXT=$RES/gpu-$STAMP.txt; JSON=$RES/gpu-$STAMP.json; NB_OUT=$RES/train-fast-gpu.ipynb
[ "$SMOKE" = 1 ] && TXT=$RES/gpu-smoke-$STAMP.txt && JSON=$RES/gpu-smoke-$STAMP.json
exec > >(tee "$TXT") 2>&1
deliver() {  # when $OUT names a folder (the results travel back from there), copy the results into it, whatever happened
  if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
    exec >/dev/null 2>&1; sleep 1  # let tee write the last lines of the log first
    for f in "$TXT" "$JSON" "$NB_OUT"; do [ -f "$f" ] && cp "$f" "$OUT"/; done
  fi
}
trap deliver EXIT
T0=$(date +%s)
FAILED=(); STATUS=()

elapsed() { echo $(($(date +%s) - T0)); }

stage() {  # stage NAME LIMIT_S command...: run it with a time limit (never past the deadline), log it, record it
  local name=$1 limit=$2; shift 2
  local left=$((DEADLINE - $(elapsed)))
  [ "$limit" -gt "$left" ] && limit=$left
  echo; echo "=== $name (limit ${limit} s, at $(elapsed) s) ==="
  if [ "$limit" -lt 10 ]; then
    echo "=== $name: SKIPPED, out of time"; FAILED+=("$name(skipped)"); STATUS+=("$name skipped 0"); return
  fi
  if declare -F "$1" >/dev/null; then  # a function of this script: in a fresh bash, with the settings it reads
    set -- bash -c "$(declare -p PY KIT DATA_KW DATA SMALL DEVICE NB_OUT FAST_RECIPE SMOKE 2>/dev/null); $(declare -f "$1"); $1"
  fi
  local t=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" 2>&1 | tee "$WORK/logs/$name.log"
  local rc=${PIPESTATUS[0]} dt=$(($(date +%s) - t))
  [ "$rc" = 124 ] && echo "=== $name: stopped at its time limit"
  echo "=== $name: $([ "$rc" = 0 ] && echo ok || echo "FAILED (exit $rc)") in ${dt} s"
  [ "$rc" = 0 ] || FAILED+=("$name")
  STATUS+=("$name $rc $dt")
}

echo "gpu.sh $([ "$SMOKE" = 1 ] && echo '--cpu-smoke ')at $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
echo "fast recipe: $FAST_RECIPE; plain recipe: $PLAIN_RECIPE; seeds $SEEDS / $PLAIN_SEEDS; target $TARGET"

# --- setup: the kit's wheels (never downloaded), the package from the tree, the data unpacked and decoded once ---
export PYTHONPATH=$ROOT${PYTHONPATH:+:$PYTHONPATH} JUPYTER_PLATFORM_DIRS=1 PYTHONUNBUFFERED=1
if ! $PY -c 'import pydantic, papermill, ipykernel, nbdev, torchinfo' 2>/dev/null; then
  if ! ls "$KIT"/wheels/*.whl >/dev/null 2>&1; then
    echo "gpu.sh: $PY lacks pydantic/papermill/nbdev and there is no $KIT/wheels: run bash bench/prepare_gpu_kit.sh first" >&2
    exit 2
  fi
  echo "installing $(ls "$KIT"/wheels/*.whl | wc -l) wheels from $KIT/wheels into $KIT/site (no index, no network)"
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$KIT/site" "$KIT"/wheels/*.whl \
    || { echo "gpu.sh: installing the wheels failed" >&2; exit 2; }
  export PYTHONPATH=$ROOT:$KIT/site${PYTHONPATH#"$ROOT"}
fi
$PY - <<EOF || { echo "gpu.sh: the environment is not usable" >&2; exit 2; }
import sys, torch, torchvision, pydantic, papermill, nbdev, resnet_nb
print(f'python {sys.version.split()[0]}, torch {torch.__version__}, torchvision {torchvision.__version__}, '
      f'resnet_nb {resnet_nb.__version__} from {resnet_nb.__file__}')
gpu = torch.cuda.is_available()
print('GPU:', torch.cuda.get_device_name(0) if gpu else 'none', '| CPU threads:', torch.get_num_threads())
if '$DEVICE' == 'cuda' and not gpu:
    sys.exit('gpu.sh: torch sees no CUDA GPU here (use --cpu-smoke on a machine without one)')
EOF
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv,noheader

prepare_data() {
  $PY - "$KIT" "$DATA_KW" "$SMOKE" <<'EOF'
import sys, time, yaml
from pathlib import Path
from resnet_nb.datasets import get_dataset, prepare_cifar10_q75
kit, kw, smoke = Path(sys.argv[1]), yaml.safe_load(sys.argv[2]), sys.argv[3] == '1'
t, tar = time.perf_counter(), kit / 'cifar10-q75-jpeg.tar.gz'
dest = prepare_cifar10_q75(kit / 'data', tar if tar.is_file() else None)  # else where the package looks for it
if dest is None and not smoke:
    sys.exit(f'no CIFAR-10 copy: {tar} is missing (bash bench/prepare_gpu_kit.sh makes it)')
if dest is None:  # the smoke proves the plumbing: synthetic images in an image folder of the same layout stand in
    from PIL import Image
    dest = kit / 'data' / 'cifar10-q75'
    for split in ('train', 'test'):
        d = get_dataset('synthetic', train=split == 'train', n=20, n_classes=2, size=32)
        for i, (x, y) in enumerate(zip(d.images, d.labels.tolist())):
            (dest / split / d.classes[y]).mkdir(parents=True, exist_ok=True)
            Image.fromarray(x.permute(1, 2, 0).numpy()).save(dest / split / d.classes[y] / f'{i}.png')
    print(f'no CIFAR-10 copy here: {dest} is a tiny stand-in (20 synthetic images per split, 2 classes)')
print(f'ready in {time.perf_counter() - t:.1f} s: {dest}')
for train in (True, False):  # decode once into the image-folder cache, outside the timed stages
    t = time.perf_counter()
    d = get_dataset('imagefolder', kit / 'data', train=train, **kw)
    print(f'{"train" if train else "test"}: {len(d)} images {tuple(d.images.shape[1:])} in {time.perf_counter() - t:.1f} s')
EOF
}
stage data 120 prepare_data

DATA=(dataset=imagefolder "data_dir=$KIT/data" "dataset_kwargs=$DATA_KW" "runs_dir=$WORK/runs" progress=terminal)

# --- the stages, most telling first so that a slow one cannot crowd them out ---
mapfile -t GPU_NBS < <(grep -l '#| gpu' nbs/*.ipynb)
echo; echo "notebooks with #| gpu cells: ${GPU_NBS[*]:-none}"
if [ ${#GPU_NBS[@]} = 0 ]; then
  STATUS+=("gpu_cells none 0")
elif [ "$SMOKE" = 1 ]; then  # no GPU here: the same notebooks through the same runner, without forcing the gpu cells
  stage gpu_cells 240 $PY tools/nbtest.py --path "${GPU_NBS[@]}"
else
  stage gpu_cells 90 $PY tools/nbtest.py --flags gpu --path "${GPU_NBS[@]}"
fi

if [ "$SMOKE" = 1 ]; then
  stage overhead 60 $PY bench/trainer_overhead.py --quick
else
  stage overhead 60 $PY bench/trainer_overhead.py --device cuda
fi

stage fast 170 $PY bench/recipe_seeds.py --config "$FAST_RECIPE" --seeds "$SEEDS" --target "$TARGET" \
  --json "$WORK/fast.json" "${DATA[@]}" "device=$DEVICE" "${SMALL[@]}"

run_notebook() {  # papermill nbs/train.ipynb with the fast recipe; the executed copy must hold the live chart (a PNG)
  local recipe params
  recipe=$($PY -c 'import sys; from resnet_nb.recipes import find_recipe; print(find_recipe(sys.argv[1]))' "$FAST_RECIPE") || return 1
  params=$(printf '%s\n' "${DATA[@]}" "device=$DEVICE" "${SMALL[@]}" progress=notebook | sed 's/=/: /')
  $PY -m papermill nbs/train.ipynb "$NB_OUT" -k python3 -f "$recipe" -y "$params" --no-progress-bar || return 1
  $PY - "$NB_OUT" <<'EOF'
import json, sys
nb = json.load(open(sys.argv[1]))
outs = [o for c in nb['cells'] for o in c.get('outputs', [])]
png, html = sum('image/png' in o.get('data', {}) for o in outs), sum('text/html' in o.get('data', {}) for o in outs)
print(f'{sys.argv[1]}: {len(outs)} outputs, {png} PNG images (live chart, confusion matrix, worst images), {html} HTML tables')
sys.exit(0 if png and html else 'the executed notebook lacks its chart or its tables')
EOF
}
stage notebook 120 run_notebook

if [ "$SMOKE" = 1 ]; then
  stage throughput 60 $PY bench/throughput.py --quick --json "$WORK/throughput.json"
else
  stage throughput 200 $PY bench/throughput.py --device cuda --models resnet18,resnet50 --compile both \
    --batch-size 256 --size 224 --steps 20 --repeats 3 --warmup 3 --json "$WORK/throughput.json"
fi

stage plain 150 $PY bench/recipe_seeds.py --config "$PLAIN_RECIPE" --budget-of "$FAST_RECIPE" --seeds "$PLAIN_SEEDS" \
  --label "$PLAIN_RECIPE (budget of $FAST_RECIPE)" --target "$TARGET" --json "$WORK/plain.json" \
  "${DATA[@]}" "device=$DEVICE" "${SMALL[@]}"

# --- the figures together ---
echo; echo "=== summary ($(elapsed) s in all) ==="
printf '%s\n' "${STATUS[@]}" | awk '{printf "  %-11s %-8s %5s s\n", $1, ($2 == "0" ? "ok" : ($2 ~ /^[a-z]/ ? $2 : "FAILED")), $3}'
$PY - "$WORK" "$JSON" "$STAMP" "$SMOKE" "${STATUS[@]}" <<'EOF'
import json, sys
from pathlib import Path
work, out, stamp, smoke, status = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4] == '1', sys.argv[5:]
res = {'date': stamp, 'cpu_smoke': smoke,
       'stages': {s.split()[0]: {'exit': s.split()[1], 'seconds': int(s.split()[2])} for s in status}}
for k in ('fast', 'plain', 'throughput'):
    f = work / f'{k}.json'
    if f.is_file():
        res[k] = json.loads(f.read_text())
try:
    import torch
    res['device'] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu'
    res['torch'] = torch.__version__
except Exception:
    pass
out.write_text(json.dumps(res, indent=1, default=str))
for k in ('fast', 'plain'):
    if k in res:
        s = res[k]['summary']
        print(f'  {k}: {res[k].get("label", res[k]["recipe"])} test acc {100 * s["mean_acc"]:.2f}% +- {100 * s["std_acc"]:.2f} '
              f'({s["n"]} seeds, {s["reached"]} reached {100 * s["target"]:.0f}%), train {s["mean_train_seconds"]:.1f} s, '
              f'time to target: {"%.1f s" % s["time_to_target"] if s["time_to_target"] is not None else "not reached"}')
for r in res.get('throughput', {}).get('rows', []):
    print(f'  throughput {r["model"]} compile={"yes" if r["compiled"] else "no"}: trainer {r["trainer_img_s"]:.0f} img/s, '
          f'loop {r["loop_img_s"]:.0f} img/s, ratio {r["ratio"]:.3f}')
print(f'  figures: {out}')
EOF
echo "  log: $TXT"
[ -f "$NB_OUT" ] && echo "  executed notebook: $NB_OUT"
[ -n "${OUT:-}" ] && [ -d "${OUT:-}" ] && echo "  copied to \$OUT on exit"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "gpu.sh: FAILED stages: ${FAILED[*]}"; exit 1
fi
echo "gpu.sh: all stages passed"
