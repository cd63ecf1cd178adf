#!/usr/bin/env python
"""Training throughput: images/s of ImageNet-style ResNets through the trainer against a bare hand-written torch loop.

Both sides train the same model (`resnet_nb.models.create_model`, same initial weights) with the same settings: SGD
(momentum 0.9, weight decay 5e-4, constant lr), bf16 autocast, channels_last, the same batch size, random images and
labels already on the device (a few batches used in turn), with and without `torch.compile`. The trainer side is the
Learner that `resnet_nb.trainer.build_learner` builds for such a config (its callbacks: device placement, metrics on the
device read once per epoch, lr schedule, non-finite check, mixed precision), with its data replaced by the same device
batches; the loop side is forward, loss, backward, step, zero_grad, scheduler step and nothing else. Trials alternate
(trainer, loop, loop, trainer, ...) so that drifts hit both alike. On a GPU images/s comes from the wall clock with
`torch.cuda.synchronize` before and after each trial (never inside it); on the CPU from this process's CPU time (one
thread by default), which other programs sharing the cores do not inflate (wall-clock times are kept in the JSON).
The warm-up steps before the first timed trial of each side (the compilation, on the compiled rows: the trainer's
`CompileWarmupCB` runs every batch shape once before its first epoch, the loop compiles on its first step) are timed
apart and reported, never counted in images/s. The trainer side warms up first, so the loop's compilation finds the
same graphs in the compile cache: its warm-up is the cached cost, the trainer's the full one. The ratio is the median over trials of trainer images/s divided by the
neighbouring loop trial's (1.0: no overhead; the overhead column is loop/trainer - 1).

Usage: python bench/throughput.py [--device cuda] [--models resnet18,resnet50] [--batch-size 256] [--steps 30]
                                  [--size 224] [--compile both] [--repeats 3] [--warmup 5] [--json out.json]
       python bench/throughput.py --quick    # a tiny CPU run (seconds): the script works end to end
"""

import argparse, copy, json, statistics, sys, time
from pathlib import Path
from types import SimpleNamespace
import torch, torch.nn as nn

from resnet_nb.config import TrainConfig
from resnet_nb.core import seed_everything, unwrap
from resnet_nb.trainer import build_learner
from resnet_nb.speed import CompileWarmupCB

LR, MOMENTUM, WD = 0.01, 0.9, 5e-4
QUICK = dict(
    device='cpu',
    models='resnet18,resnet50',
    batch_size=4,
    steps=2,
    size=32,
    compile='no',
    repeats=1,
    warmup=1,
    classes=10,
    threads=1,
)
DEFAULTS = {
    'cuda': dict(batch_size=256, steps=30, size=224, compile='both', threads=None),
    'cpu': dict(batch_size=16, steps=4, size=64, compile='no', threads=1),
}


class DeviceBatches:
    "A loader of `n` batches taken in turn from tensors already on the device."

    def __init__(self, xs: list, ys: list, n: int):
        self.xs, self.ys, self.n = xs, ys, n
        self.batch_size, self.n_samples = len(xs[0]), n * len(xs[0])  # what the compile warm-up reads

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        return ((self.xs[i % len(self.xs)], self.ys[i % len(self.ys)]) for i in range(self.n))


def sync(device: torch.device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def random_batches(args, device, k: int = 3):
    "`k` batches of random normal images (channels_last) and random labels, on the device."
    g = torch.Generator().manual_seed(0)
    xs = [
        torch.randn(args.batch_size, 3, args.size, args.size, generator=g).to(device, memory_format=torch.channels_last)
        for _ in range(k)
    ]
    ys = [torch.randint(0, args.classes, (args.batch_size,), generator=g).to(device) for _ in range(k)]
    return xs, ys


def make_learner(name: str, args, device: torch.device, compiled: bool):
    "The Learner `build_learner` makes for bf16 + channels_last (+ compile) training of model `name` (tiny stand-in data)."
    cfg = TrainConfig(
        dataset='synthetic',
        dataset_kwargs={'n': args.batch_size, 'n_classes': args.classes, 'size': 8},
        model=name,
        batch_size=args.batch_size,
        epochs=1,
        optimizer='sgd',
        lr=LR,
        momentum=MOMENTUM,
        weight_decay=WD,
        scheduler='constant',
        augment='none',
        precision='bf16',
        channels_last=True,
        compile=compiled,
        device=str(device),
        progress='none',
        val_split=0,
        monitor='train_acc',
        test=False,
    )
    seed_everything(0)
    return build_learner(cfg, device=str(device))


class Timer:
    "Wall-clock and CPU seconds (this process, all threads) of a block, with the device synchronised at both ends."

    def __init__(self, device: torch.device):
        self.device = device

    def __enter__(self):
        sync(self.device)
        self.t, self.c = time.perf_counter(), time.process_time()

    def __exit__(self, *exc):
        sync(self.device)
        self.seconds = (time.perf_counter() - self.t, time.process_time() - self.c)


def trainer_trial(learn, batches, n: int, device) -> tuple:
    "(wall, CPU) seconds for `n` training steps through `learn.fit`."
    x = batches[0][0]
    learn.dls = SimpleNamespace(
        train=DeviceBatches(*batches, n), val=None, test=None, in_chans=x.shape[1], image_size=x.shape[-1]
    )
    learn.history, learn.start_epoch, step = [], 0, learn.step
    t = Timer(device)
    with t:
        learn.fit(1)
    if learn.step - step != n or learn.cancelled:
        raise RuntimeError(f'the trainer did {learn.step - step} of {n} steps (cancelled: {learn.cancelled})')
    return t.seconds


def make_loop(model: nn.Module, device: torch.device, compiled: bool):
    "The hand-written loop over its own model: returns `run(batches, n) -> (wall, CPU) seconds`."
    net = torch.compile(model) if compiled else model
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WD)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)
    loss_func = nn.CrossEntropyLoss()

    def run(batches, n: int) -> tuple:
        net.train()
        t = Timer(device)
        with t:
            for x, y in DeviceBatches(*batches, n):
                with torch.autocast(device.type, dtype=torch.bfloat16):
                    loss = loss_func(net(x), y)
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
                sched.step()
        return t.seconds

    return run


def bench_one(name: str, args, device: torch.device, compiled: bool) -> dict:
    "Warm-up (timed apart) and interleaved timed trials of trainer and loop for one model; one result row."
    learn = make_learner(name, args, device, compiled)
    loop = make_loop(copy.deepcopy(unwrap(learn.model)), device, compiled)
    batches = random_batches(args, device)
    warm_trainer = trainer_trial(learn, batches, args.warmup, device)  # with the trainer's compile warm-up, if any
    compile_s = getattr(learn, 'compile_seconds', None)
    learn.remove_cb(learn.cb(CompileWarmupCB))  # it runs at every fit: once is what a training run does
    warm_loop = loop(batches, args.warmup)
    tr, lo = [], []
    for r in range(args.repeats):
        arms = [
            lambda: tr.append(trainer_trial(learn, batches, args.steps, device)),
            lambda: lo.append(loop(batches, args.steps)),
        ]
        for f in arms if r % 2 == 0 else arms[::-1]:
            f()
    imgs, i = args.steps * args.batch_size, 0 if device.type == 'cuda' else 1  # the CPU: CPU time, robust to load
    ratio = statistics.median(l[i] / t[i] for t, l in zip(tr, lo))  # loop s / trainer s = trainer img/s / loop img/s
    row = dict(
        model=name,
        compiled=compiled,
        clock='wall' if i == 0 else 'cpu',
        trainer_img_s=imgs / statistics.median(t[i] for t in tr),
        loop_img_s=imgs / statistics.median(l[i] for l in lo),
        ratio=ratio,
        warmup_s_trainer=warm_trainer[0],
        warmup_s_loop=warm_loop[0],
        trainer_compile_warmup_s=compile_s,  # the trainer's own compile warm-up (inside warmup_s_trainer)
        trainer_trials_s=tr,
        loop_trials_s=lo,
    )  # (wall, cpu) seconds per trial
    print(
        f'{name:9s} compile={"yes" if compiled else "no ":3s}  trainer {row["trainer_img_s"]:9.1f} img/s  '
        f'loop {row["loop_img_s"]:9.1f} img/s  ratio {ratio:.3f}  warm-up {warm_trainer[0]:.1f} s / '
        f'{warm_loop[0]:.1f} s',
        flush=True,
    )
    if compiled:
        torch._dynamo.reset()
    if device.type == 'cuda':
        torch.cuda.empty_cache()
    return row


def table(rows: list) -> str:
    "The results as a text table."
    head = (
        f'{"model":9s} {"compile":7s} {"trainer img/s":>13s} {"loop img/s":>11s} {"trainer/loop":>12s} '
        f'{"overhead":>9s} {"warm-up trainer s":>17s} {"warm-up loop s":>14s}'
    )
    lines = [head + ('  (per CPU second)' if rows and rows[0]['clock'] == 'cpu' else ''), '-' * len(head)]
    for r in rows:
        lines.append(
            f'{r["model"]:9s} {"yes" if r["compiled"] else "no":7s} {r["trainer_img_s"]:13.1f} '
            f'{r["loop_img_s"]:11.1f} {r["ratio"]:12.3f} {100 * (1 / r["ratio"] - 1):+8.2f}% '
            f'{r["warmup_s_trainer"]:17.1f} {r["warmup_s_loop"]:14.1f}'
        )
    return '\n'.join(lines)


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='auto', help='cpu, cuda, cuda:N or auto (a GPU if there is one)')
    p.add_argument('--models', default='resnet18,resnet50', help='comma-separated model names')
    p.add_argument('--batch-size', type=int, help='batch size (default 256 on a GPU, 16 on the CPU)')
    p.add_argument('--steps', type=int, help='timed steps per trial (default 30 on a GPU, 4 on the CPU)')
    p.add_argument('--size', type=int, help='image side (default 224 on a GPU, 64 on the CPU)')
    p.add_argument(
        '--compile', choices=('no', 'yes', 'both'), help='torch.compile (default both on a GPU, no on the CPU)'
    )
    p.add_argument('--repeats', type=int, default=3, help='interleaved trials per side')
    p.add_argument('--warmup', type=int, default=5, help='untimed warm-up steps per side (compilation happens here)')
    p.add_argument('--classes', type=int, default=1000, help='classes of the model head and the random labels')
    p.add_argument(
        '--threads', type=int, help='CPU threads (default 1 on the CPU: steadier figures on a shared machine)'
    )
    p.add_argument('--json', help='also write the results to this JSON file')
    p.add_argument('--quick', action='store_true', help='a tiny CPU smoke run (seconds), no compile')
    args = p.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    for k, v in DEFAULTS['cuda' if args.device.startswith('cuda') else 'cpu'].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    for k in ('batch_size', 'steps', 'size', 'repeats', 'warmup', 'classes'):
        if getattr(args, k) < 1:
            p.error(f'--{k.replace("_", "-")}={getattr(args, k)} is not allowed: it must be >= 1')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        p.error(f'--device {args.device} is not allowed here: torch sees no CUDA GPU; allowed: cpu')
    return args


def main(argv=None) -> int:
    args = parse(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    hw = torch.cuda.get_device_name(device) if device.type == 'cuda' else f'CPU, {torch.get_num_threads()} thread(s)'
    print(
        f'throughput on {hw}; torch {torch.__version__}; batch {args.batch_size}, {args.size}x{args.size} images, '
        f'{args.classes} classes, {args.steps} timed steps x {args.repeats} interleaved trials per side, '
        f'{args.warmup} warm-up steps; bf16 autocast, channels_last, SGD',
        flush=True,
    )
    compiles = {'no': [False], 'yes': [True], 'both': [False, True]}[args.compile]
    keys = ('batch_size', 'size', 'steps', 'repeats', 'warmup', 'classes', 'threads')
    meta, rows = dict(device=hw, torch=torch.__version__, **{k: getattr(args, k) for k in keys}), []
    for m in [m.strip() for m in args.models.split(',') if m.strip()]:
        for c in compiles:
            rows.append(bench_one(m, args, device, c))
            if args.json:  # after every row: a run stopped at a time limit keeps what it measured
                Path(args.json).write_text(json.dumps(dict(meta=meta, rows=rows), indent=1))
    print(table(rows))
    for r in rows:
        print(f'{r["model"]} compile={"yes" if r["compiled"] else "no"}: trainer/loop images/s ratio {r["ratio"]:.3f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
