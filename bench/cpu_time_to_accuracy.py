#!/usr/bin/env python
"""Seconds of training to a test accuracy on the CPU: the `fast`-style recipe against the plain ResNet-20 recipe, side by side.

Both recipes run in this one process, one after the other, through `resnet_nb.trainer.train` with all of a run's
callbacks. After every epoch the test set is evaluated (with the recipe's test-time augmentation); that evaluation is
not counted. The clock is this process's CPU time in the training phases (the runs have no validation split), which
other programs on a shared machine barely move; wall-clock seconds are printed beside it. Printed:
each recipe's seconds to the target (the first epoch whose test accuracy reaches it), their ratio, and the test accuracy
each has reached within the same fixed time (the fast recipe's whole budget): the last epoch finished by then.

Usage: python bench/cpu_time_to_accuracy.py                      # Fashion-MNIST, 91%, both recipes in full
       python bench/cpu_time_to_accuracy.py --quick              # seconds-long smoke run on digits (CI)
Data: Fashion-MNIST from Debian's dataset-fashion-mnist package or torchvision's download into data/.
"""

import argparse, json, sys, tempfile, time
from pathlib import Path


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--fast', default='fashion_mnist_fast', help='the fast recipe')
    ap.add_argument('--plain', default='fashion_mnist_resnet20', help='the plain recipe')
    ap.add_argument('--target', type=float, default=0.91, help='test accuracy to reach')
    ap.add_argument('--threads', type=int, default=1, help='torch threads (1: CPU time is compute, not spinning)')
    ap.add_argument('--max-seconds', type=float, default=3600, help='stop a recipe after this much training CPU time')
    ap.add_argument('--data-dir', default='data')
    ap.add_argument('--quick', action='store_true', help='tiny smoke run on digits (no goal)')
    ap.add_argument('--json', help='also write the figures to this file')
    return ap.parse_args()


def quick_overrides() -> dict:
    "Seconds-long settings for a smoke run: digits, two epochs, small models."
    return dict(dataset='digits', dataset_kwargs={}, epochs=2, batch_size=64, warmup_epochs=0)


def run_recipe(recipe: str, overrides: dict, runs_dir: str, max_seconds: float) -> dict:
    "Train `recipe` with test evaluation after every epoch; per epoch: cumulative training CPU seconds, test accuracy, wall seconds."
    from resnet_nb.recipes import make_config
    from resnet_nb.core import unwrap
    from resnet_nb.learner import Callback, CancelFitException
    from resnet_nb.trainer import evaluate
    from resnet_nb.runs import train

    curve, clock = [], {'cpu': 0.0}

    class TestEachEpochCB(Callback):
        order = 50  # after MetricsCB has closed the epoch's clock

        def before_train(self, learn):
            clock['t'] = time.process_time()

        def after_train(self, learn):
            clock['cpu'] += time.process_time() - clock['t']

        def after_epoch(self, learn):
            acc = evaluate(unwrap(learn.model), learn.dls.test, learn.loss_func, learn.device, cfg.precision, cfg.tta)[
                'acc'
            ]
            learn.model.train()
            curve.append((clock['cpu'], acc, sum(r['seconds'] for r in learn.history)))
            print(
                f'  {cfg.run_name} epoch {learn.epoch + 1}: {100 * acc:.2f}% test after {clock["cpu"]:.0f} CPU-s',
                flush=True,
            )
            if clock['cpu'] > max_seconds:
                learn.stop_reason = f'over --max-seconds {max_seconds:.0f}'
                raise CancelFitException()

    over = dict(
        val_split=0, monitor='train_loss', test=False, progress='none', runs_dir=runs_dir, device='cpu', **overrides
    )
    cfg = make_config(recipe, over)
    t0 = time.perf_counter()
    run_dir = train(cfg, [TestEachEpochCB()])
    summary = json.loads((Path(run_dir) / 'summary.json').read_text())
    return dict(
        recipe=recipe,
        model=cfg.model,
        epochs=cfg.epochs,
        curve=curve,
        wall=time.perf_counter() - t0,
        status=summary['status'],
        compile_seconds=summary.get('compile_seconds'),
    )


def seconds_to(curve: list, target: float):
    "Training seconds at the first epoch whose test accuracy reaches `target` (None if none does)."
    return next((s for s, a, _ in curve if a >= target), None)


def accuracy_at(curve: list, seconds: float):
    "Test accuracy of the last epoch finished within `seconds` (None if none was)."
    done = [a for s, a, _ in curve if s <= seconds * 1.0001]
    return done[-1] if done else None


def main() -> int:
    args = parse_args()
    import torch

    torch.set_num_threads(args.threads)
    over = {'data_dir': args.data_dir}
    if args.quick:
        over.update(quick_overrides())
        args.target = min(args.target, 0.5)
    with tempfile.TemporaryDirectory() as tmp:
        res = [run_recipe(r, over, tmp, args.max_seconds) for r in (args.fast, args.plain)]
    fast, plain = res
    budget = fast['curve'][-1][0]
    print(
        f'CPU time to {100 * args.target:.0f}% test accuracy ({torch.get_num_threads()} threads, '
        f'dataset {over.get("dataset", "from the recipes")})'
    )
    for r in res:
        t = seconds_to(r['curve'], args.target)
        per = ', '.join(f'{100 * a:.2f}% @ {s:.0f} CPU-s ({w:.0f} s wall)' for s, a, w in r['curve'])
        print(
            f'  {r["recipe"]:<24} {r["model"]:<9} {len(r["curve"])}/{r["epochs"]} epochs: '
            f'{"not reached" if t is None else f"{t:.1f} CPU-s"} to target; per epoch: {per}'
        )
    tf, tp = seconds_to(fast['curve'], args.target), seconds_to(plain['curve'], args.target)
    ratio = tp / tf if tf and tp else None
    if ratio is None and tf and plain['curve']:  # the plain recipe never got there: a lower bound
        print(
            f'ratio (plain / fast CPU seconds to target): more than {plain["curve"][-1][0] / tf:.2f}x (plain not there)'
        )
    else:
        print(f'ratio (plain / fast CPU seconds to target): {"n/a" if ratio is None else f"{ratio:.2f}x"}')
    af, ap = accuracy_at(fast['curve'], budget), accuracy_at(plain['curve'], budget)
    fmt = lambda a: 'no epoch finished' if a is None else f'{100 * a:.2f}%'
    print(f'in the same {budget:.0f} CPU-s of training: fast {fmt(af)}, plain {fmt(ap)}')
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                dict(
                    target=args.target, runs=res, ratio=ratio, budget_s=budget, acc_at_budget={'fast': af, 'plain': ap}
                ),
                indent=2,
            )
        )
    failed = [r['recipe'] for r in res if r['status'] not in ('completed', 'stopped')]
    if failed:
        print(f'failed runs: {", ".join(failed)}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
