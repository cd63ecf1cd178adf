#!/usr/bin/env python
"""How fast the explorers answer: `explore_runs` over many runs, and the similarity explorer's first and reopened view.

Goals (issue: the workbench in JupyterLab), on the CPU:
- the first view of `explore_runs` over 200 run folders (reading every `config.yaml`, `metrics.csv` and `summary.json`,
  the table, the curves of the three best runs drawn to PNG) within 2 s;
- moving a selector (metric, log scale, the picked runs, a filter, the sort column) redraws within 0.5 s;
- `explore_similarity` over two tiny trained runs (digits 16x16, ResNets of two widths): its first view (loading the
  data and both models, computing two matrices, which it keeps in the run folders), and the same view reopened (a new
  explorer on the same runs, as when the notebook is opened again: read from the folders, nothing computed), within 1 s.

The run folders are made by `fake_runs` (as training writes them, with made-up curves) in a temporary folder; the
widgets run without a frontend (what the kernel does is all that is timed: the browser's drawing is not). Each time is
the median of `--repeat` tries (rounded up to even for the moves, which toggle), in CPU seconds of this process (robust on a shared machine) and wall-clock seconds;
importing `resnet_nb.explore` (torch with it) is timed once and apart, since a notebook has done it before.
`--quick` is a seconds-long smoke run over 20 runs (its figures are no measurement).

Usage: python bench/explore.py [--runs 200] [--epochs 30] [--repeat 5] [--n-inputs 512] [--quick]
"""

import argparse, os, statistics, sys, tempfile, time
from pathlib import Path

t_import = time.perf_counter()
from resnet_nb.explore import explore_runs, fake_runs  # noqa: E402

t_import = time.perf_counter() - t_import


def timed(f, repeat: int) -> tuple:
    "(median CPU seconds, median wall seconds, the last result) of `repeat` calls of `f`."
    cpu, wall = [], []
    for _ in range(repeat):
        c, t = time.process_time(), time.perf_counter()
        out = f()
        cpu.append(time.process_time() - c), wall.append(time.perf_counter() - t)
    return statistics.median(cpu), statistics.median(wall), out


def similarity_views(root: Path, n_inputs: int) -> list[tuple]:
    "Rows (name, CPU s, wall s, goal s) of the similarity explorer's first view and its reopened view."
    import torch
    from resnet_nb.config import TrainConfig
    from resnet_nb.runs import train
    from resnet_nb.similarity_explorer import explore_similarity

    torch.set_num_threads(1)
    tiny = dict(dataset='digits', dataset_kwargs={'size': 16}, model='resnet20', epochs=1, batch_size=64)
    tiny.update(augment='none', progress='none', runs_dir=str(root), model_kwargs={'depths': [1, 1, 1]})
    runs = [train(TrainConfig(**tiny, name='narrow'))]
    tiny['model_kwargs'] = {'depths': [1, 1, 1], 'widths': [16, 32, 64]}
    runs.append(train(TrainConfig(**tiny, name='wide')))
    kw = dict(static=False, n_inputs=n_inputs, batch_size=128)
    out = []
    for name, goal in (('similarity first view', None), ('similarity reopened', 1.0)):
        cpu, wall, ex = timed(lambda: explore_similarity(runs, **kw), 1)
        out.append((f'{name} ({ex.n_computed} computed)', cpu, wall, goal))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=200)
    ap.add_argument('--epochs', type=int, default=30)
    ap.add_argument('--repeat', type=int, default=5)
    ap.add_argument('--n-inputs', type=int, default=512, help='inputs of the similarity explorer')
    ap.add_argument('--quick', action='store_true', help='20 runs, 2 tries: a smoke run, not a measurement')
    a = ap.parse_args()
    if a.quick:
        a.runs, a.epochs, a.repeat, a.n_inputs = 20, 5, 2, 64
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / 'runs'
        t = time.perf_counter()
        fake_runs(root, a.runs, a.epochs)
        print(f'{a.runs} run folders of {a.epochs} epochs made in {time.perf_counter() - t:.2f} s')
        print(f'import resnet_nb.explore: {t_import:.2f} s wall (once per kernel, before the cell)')
        cpu, wall, ex = timed(lambda: explore_runs(root, static=False), a.repeat)
        rows = [('first view', cpu, wall, 2.0)]
        names = list(ex.select.options)
        moves = [
            (
                'metric',
                lambda: setattr(ex.metric, 'value', ex.metric.options[(ex.metric.index + 1) % len(ex.metric.options)]),
            ),
            ('log scale', lambda: setattr(ex.log_scale, 'value', not ex.log_scale.value)),
            ('pick 5 runs', lambda: setattr(ex.select, 'value', tuple(names[: 5 if len(ex.select.value) != 5 else 4]))),
            ('name filter', lambda: setattr(ex.text, 'value', 'resnet5' if ex.text.value == '' else '')),
            ('status filter', lambda: setattr(ex.status, 'value', 'stopped' if ex.status.value == 'all' else 'all')),
            ('sort column', lambda: setattr(ex.sort, 'value', 'lr' if ex.sort.value != 'lr' else 'seconds')),
            ('sort order', lambda: setattr(ex.descending, 'value', not ex.descending.value)),
        ]
        for name, f in moves:  # each move toggles: an even number of tries leaves the explorer as it was
            cpu, wall, _ = timed(f, a.repeat + a.repeat % 2)
            rows.append((name, cpu, wall, 0.5))
        rows += similarity_views(Path(d) / 'sim', a.n_inputs)
    print(f'\n{"explore_runs over " + str(a.runs) + " runs":<36} {"CPU s":>7} {"wall s":>7} {"goal s":>7}  wall/goal')
    worst = 0.0
    for name, cpu, wall, goal in rows:
        if goal is None:  # measured, no goal: what a first computation costs
            print(f'{name:<36} {cpu:7.3f} {wall:7.3f} {"-":>7}')
            continue
        worst = max(worst, wall / goal)
        print(
            f'{name:<36} {cpu:7.3f} {wall:7.3f} {goal:7.1f}  {wall / goal:8.2f}  {"met" if wall <= goal else "MISSED"}'
        )
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'\nworst wall/goal: {worst:.2f}; load average {load:.1f} on {os.cpu_count()} cores', end='')
    print(' (smoke run: no measurement)' if a.quick else ' (wall/CPU well above 1: the machine is shared, read CPU s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
