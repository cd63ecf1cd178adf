#!/usr/bin/env python
"""Test accuracy of a recipe over several seeds, with its training time: the time-to-accuracy check of bench/gpu.sh.

Each seed is one ordinary `resnet_nb.trainer.train` run (its own run folder) of the recipe with the given key=value
overrides. From each run's summary.json: the test accuracy of its checkpoint, the training time of its epochs
(`train_seconds`: no compile warm-up, no test), the compile warm-up when it was measured apart, and the whole wall time.
Then the mean, the sample standard deviation, the range, how many seeds reached `--target`, and the time to the target:
the mean training time over seeds when the mean test accuracy reaches the target (the recipe's budget is fixed, so
the run's time is its time to that accuracy), else "not reached". `--budget-of RECIPE` gives this recipe the epochs
and max_steps of another one (the same budget, for a comparison).

Usage: python bench/recipe_seeds.py --config cifar10_fast --seeds 5 --target 0.94 [--json out.json] [key=value ...]
       python bench/recipe_seeds.py --config he2016_cifar10_resnet20 --budget-of cifar10_fast --seeds 1 model=resnet18
"""

import argparse, json, math, statistics, sys, time
from pathlib import Path
import torch

from resnet_nb.recipes import load_recipe, make_config, parse_overrides
from resnet_nb.runs import train


def budget_of(recipe: str) -> dict:
    "The epochs and max_steps of `recipe` (its budget)."
    cfg = make_config(recipe)
    return {'epochs': cfg.epochs, 'max_steps': cfg.max_steps}


def run_seed(recipe: str, overrides: dict, seed: int) -> dict:
    "Train the recipe once with `seed`; the figures of its summary.json."
    cfg = make_config(recipe, {**overrides, 'seed': seed})
    name = f'{cfg.run_name}-seed{seed}'
    t = time.perf_counter()
    run_dir = train(cfg.replace(name=name))
    wall = time.perf_counter() - t
    torch._dynamo.reset()  # each seed compiles afresh (a new model; the compile caches keep it short): no recompile limit
    s = json.loads((Path(run_dir) / 'summary.json').read_text())
    if s.get('status') != 'completed' or not isinstance(s.get('test_acc'), float):
        raise RuntimeError(
            f'{run_dir}: status {s.get("status")!r}, test_acc {s.get("test_acc")!r}: the run did not finish'
        )
    row = dict(
        seed=seed,
        run_dir=str(run_dir),
        test_acc=s['test_acc'],
        train_seconds=s.get('train_seconds'),
        compile_seconds=s.get('compile_seconds'),
        wall_seconds=wall,
        epochs=s.get('epochs_completed'),
        steps=s.get('steps'),
    )
    fmt = lambda v: f'{v:.1f}' if isinstance(v, (int, float)) else 'n/a'
    print(
        f'seed {seed}: test_acc {100 * row["test_acc"]:.2f}%  train {fmt(row["train_seconds"])} s  '
        f'compile {fmt(row["compile_seconds"])} s  wall {wall:.1f} s  ({row["epochs"]} epochs, {row["steps"]} steps)',
        flush=True,
    )
    return row


def summarize(rows: list, target: float) -> dict:
    "Mean, spread and time to the target accuracy over the seeds."
    accs = [r['test_acc'] for r in rows]
    times = [r['train_seconds'] for r in rows if isinstance(r['train_seconds'], (int, float))]
    mean = statistics.fmean(accs)
    return dict(
        n=len(rows),
        mean_acc=mean,
        std_acc=statistics.stdev(accs) if len(accs) > 1 else math.nan,
        min_acc=min(accs),
        max_acc=max(accs),
        reached=sum(a >= target for a in accs),
        target=target,
        mean_train_seconds=statistics.fmean(times) if times else math.nan,
        time_to_target=statistics.fmean(times) if times and mean >= target else None,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--config', required=True, help='the recipe (a name from recipes/ or a YAML file)')
    p.add_argument('--seeds', type=int, default=5, help='seeds 0..N-1')
    p.add_argument('--target', type=float, default=0.94, help='the test accuracy to reach (a fraction)')
    p.add_argument('--budget-of', help="use this recipe's epochs and max_steps")
    p.add_argument('--label', help='the name printed with the figures (default: the recipe)')
    p.add_argument('--json', help='also write the rows and the summary to this JSON file')
    p.add_argument('overrides', nargs='*', metavar='key=value')
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f'--seeds={args.seeds} is not allowed: it must be >= 1')
    try:
        overrides = {**(budget_of(args.budget_of) if args.budget_of else {}), **parse_overrides(args.overrides)}
        load_recipe(args.config)
        make_config(args.config, overrides)  # a bad recipe or override fails here, in one line, before any training
    except (ValueError, FileNotFoundError) as e:
        p.error(str(e).splitlines()[0])
    print(f'recipe {args.config} over {args.seeds} seed(s), overrides {overrides}', flush=True)
    rows = [run_seed(args.config, overrides, s) for s in range(args.seeds)]
    sm = summarize(rows, args.target)
    t = sm['time_to_target']
    print(
        f'{args.config}: test accuracy {100 * sm["mean_acc"]:.2f}% mean, {100 * sm["std_acc"]:.2f} std, '
        f'{100 * sm["min_acc"]:.2f}..{100 * sm["max_acc"]:.2f}% over {sm["n"]} seed(s); '
        f'{sm["reached"]}/{sm["n"]} reached {100 * args.target:.0f}%; mean training time {sm["mean_train_seconds"]:.1f} s; '
        + (
            f'time to {100 * args.target:.0f}%: {t:.1f} s'
            if t is not None
            else f'time to {100 * args.target:.0f}%: not reached'
        )
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps(dict(recipe=args.config, overrides=overrides, rows=rows, summary=sm), indent=1)
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
