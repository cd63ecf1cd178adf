#!/usr/bin/env python
"""Trainer overhead: `resnet_nb.trainer`'s Learner (with the callbacks `train` uses) against a hand-written PyTorch loop.

Same model (ResNet-20), same device-resident data loader (synthetic images), same batch size, optimizer and lr schedule,
on the CPU (default) or a GPU (`--device cuda`). Trials are interleaved (trainer, loop, loop, trainer, ...) so that other load on the machine hits both
alike; each trial trains `--epochs` epochs from the same initial weights. Time is measured two ways: CPU time of this
process (`time.process_time`, all its threads, e.g. TensorBoard's writer; robust when other programs share the cores)
and wall-clock time. For each, the overhead is the median over repeats of the paired ratio (loop steps/s divided by
trainer steps/s of neighbouring trials). Because a shared machine makes those ratios noisy (a few %), the script also
measures the trainer's fixed cost per step precisely, on a tiny linear model where it is visible (metrics on the device,
callback dispatch, scheduler), and divides it by the ResNet-20 step time. The Trainer's overhead should stay under 3%.

On a GPU the work is asynchronous: each trial synchronises the device before and after (never inside the loop), the
overhead is read from wall-clock time (CPU time there is the host's time, not the GPU's), and the fixed cost per step is
measured on the GPU too, in wall-clock time. `--quick` is a seconds-long smoke run whose figures are no measurement.

Usage: python bench/trainer_overhead.py [--device cpu] [--threads 1] [--repeats 8] [--epochs 1] [--n 4096] [--size 16]
                                        [--bs 128] [--quick]
"""

import argparse, copy, shutil, statistics, sys, tempfile, time
from pathlib import Path
import torch, torch.nn as nn

from resnet_nb.core import resolve_device, seed_everything, unwrap
from resnet_nb.config import TrainConfig
from resnet_nb.learner import Learner
from resnet_nb.callbacks import DeviceCB, MetricsCB, SchedulerCB
from resnet_nb.logs import FileLogCB, CSVLoggerCB, TensorBoardCB
from resnet_nb.checkpoint import CheckpointCB
from resnet_nb.optim import LRSchedule
from resnet_nb.callbacks import SignalStopCB
from resnet_nb.trainer import build_learner


def make(args):
    "A Learner built from a config exactly as `train` builds it, with the run-folder callbacks in a temp folder."
    cfg = TrainConfig(
        dataset='synthetic',
        dataset_kwargs={'n': args.n, 'n_classes': 10, 'size': args.size},
        model='resnet20',
        batch_size=args.bs,
        epochs=args.epochs,
        augment='standard',
        device=args.device,
        scheduler='cosine',
        progress='none',
        val_split=0,
        monitor='train_acc',
    )  # no validation: both sides time training only
    seed_everything(0)
    learn = build_learner(cfg)
    tmp = Path(tempfile.mkdtemp())
    for cb in [
        CheckpointCB(tmp / 'checkpoints', 'train_acc'),
        FileLogCB(tmp / 'log.txt'),
        CSVLoggerCB(tmp / 'metrics.csv'),
        TensorBoardCB(tmp / 'tb'),
        SignalStopCB([]),
    ]:
        learn.add_cb(cb)
    learn.tmp = tmp  # removed by main()
    return learn


def sync(device):
    "Wait for the GPU's queued work (nothing to do on the CPU)."
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def clocks(device):
    "Wall-clock and CPU time now, after the device's queued work is done."
    sync(device)
    return time.perf_counter(), time.process_time()


def trainer_trial(learn, init, opt_init, epochs):
    unwrap(learn.model).load_state_dict(init)
    learn.opt.load_state_dict(opt_init)
    learn.history, learn.step, learn.start_epoch = [], 0, 0
    t, c = clocks(learn.device)
    learn.fit(epochs)
    t1, c1 = clocks(learn.device)
    return learn.step / (c1 - c), learn.step / (t1 - t)


def loop_trial(model, dl, init, epochs, lr, steps_per_epoch, device='cpu'):
    "The hand-written loop: forward, loss, backward, step, zero_grad, scheduler step."
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    loss_func, steps = nn.CrossEntropyLoss(), 0
    t, c = clocks(device)
    for epoch in range(epochs):
        model.train()
        dl.set_epoch(epoch)
        for x, y in dl:
            loss = loss_func(model(x), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
            steps += 1
    t1, c1 = clocks(device)
    return steps / (c1 - c), steps / (t1 - t)


class _Repeat:
    "A loader that yields the same batch `n` times."

    def __init__(self, x, y, n):
        self.x, self.y, self.n = x, y, n

    def __len__(self):
        return self.n

    def __iter__(self):
        return ((self.x, self.y) for _ in range(self.n))


def per_step_cost(n=2000, repeats=3, device='cpu'):
    "Seconds per step that the Learner (device, metrics, scheduler callbacks) adds to a hand loop, on a tiny model: CPU time on the CPU, wall-clock on a GPU."
    x, y = torch.randn(128, 32, device=device), torch.randint(0, 10, (128,), device=device)

    class DLs:
        train, val, test = _Repeat(x, y, n), None, None

    k = 0 if torch.device(device).type == 'cuda' else 1  # which clock: wall on a GPU, CPU time on the CPU
    diffs = []
    for _ in range(repeats):
        m = nn.Linear(32, 10).to(device)
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, LRSchedule('cosine', n))
        learn = Learner(
            m, DLs(), nn.CrossEntropyLoss(), opt=opt, cbs=[DeviceCB(device), MetricsCB(), SchedulerCB(sched)]
        )
        c = clocks(device)[k]
        learn.fit(1)
        t_learner = clocks(device)[k] - c
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        sched, lf = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n), nn.CrossEntropyLoss()
        c = clocks(device)[k]
        for xb, yb in DLs.train:
            loss = lf(m(xb), yb)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            sched.step()
        diffs.append((t_learner - (clocks(device)[k] - c)) / n)
    return statistics.median(diffs)


QUICK = dict(repeats=2, epochs=1, n=256, size=8, bs=64)  # a smoke run: seconds, figures meaningless


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--device', default='cpu', help='cpu (default), cuda, cuda:N or auto (a GPU if there is one)')
    p.add_argument('--quick', action='store_true', help='a seconds-long smoke run (its figures are no measurement)')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--repeats', type=int, default=8)
    p.add_argument('--epochs', type=int, default=1)
    p.add_argument('--n', type=int, default=4096)
    p.add_argument('--size', type=int, default=16)
    p.add_argument('--bs', type=int, default=128)
    args = p.parse_args(argv)
    if args.quick:
        for k, v in QUICK.items():
            setattr(args, k, v)
    try:
        args.device = str(resolve_device(args.device))
    except ValueError as e:
        p.error(str(e))
    torch.set_num_threads(args.threads)
    learn = make(args)
    try:
        return _bench(args, learn)
    finally:
        shutil.rmtree(learn.tmp, ignore_errors=True)


def _bench(args, learn):
    init = copy.deepcopy(unwrap(learn.model).state_dict())
    opt_init = copy.deepcopy(learn.opt.state_dict())
    model = copy.deepcopy(unwrap(learn.model))
    dl = learn.dls.train
    spe = len(dl)
    dev, gpu = args.device, torch.device(args.device).type == 'cuda'
    trainer_trial(learn, init, opt_init, 1)
    loop_trial(model, dl, init, 1, 0.1, spe, dev)  # warm-up
    tr, lo = [], []
    for r in range(args.repeats):
        order = [
            ('trainer', lambda: tr.append(trainer_trial(learn, init, opt_init, args.epochs))),
            ('loop', lambda: lo.append(loop_trial(model, dl, init, args.epochs, 0.1, spe, dev))),
        ]
        for _, f in order if r % 2 == 0 else order[::-1]:
            f()
        print(
            f'repeat {r + 1}: trainer {tr[-1][0]:.2f} steps/cpu-s ({tr[-1][1]:.2f} steps/s wall), '
            f'loop {lo[-1][0]:.2f} steps/cpu-s ({lo[-1][1]:.2f} steps/s wall)',
            flush=True,
        )
    med = lambda xs: statistics.median(xs)
    cpu, wall = (med(l[i] / t[i] for t, l in zip(tr, lo)) - 1 for i in (0, 1))
    hw = torch.cuda.get_device_name(dev) if gpu else f'CPU, {args.threads} thread(s)'
    print(
        f'ResNet-20 on {hw}, {args.n} synthetic {args.size}x{args.size} images, batch {args.bs}, {spe} steps/epoch, '
        f'{args.epochs} epoch(s) per trial, {args.repeats} interleaved repeats'
    )
    print(
        f'trainer: {med(t[0] for t in tr):.2f} steps per CPU second ({med(t[1] for t in tr):.2f} steps/s wall);  '
        f'hand-written loop: {med(l[0] for l in lo):.2f} ({med(l[1] for l in lo):.2f} wall)'
    )
    per_step = per_step_cost(200, 1, dev) if args.quick else per_step_cost(device=dev)
    resnet_step = 1 / med(l[1 if gpu else 0] for l in lo)
    print(
        f'fixed trainer cost per step (tiny linear model, {"wall-clock" if gpu else "CPU time"}): {1e6 * per_step:.0f} us = '
        f'{100 * per_step / resnet_step:.2f}% of a ResNet-20 step here ({1e3 * resnet_step:.1f} ms)'
    )
    overhead = wall if gpu else cpu  # on a GPU the host's CPU time is not the training time
    print(
        f'steps/s ratio trainer / hand-written loop: {1 / (1 + cpu):.4f} (CPU time), {1 / (1 + wall):.4f} (wall-clock)'
    )
    print(
        f'trainer overhead: {100 * cpu:+.2f}% CPU time, {100 * wall:+.2f}% wall-clock (median paired ratios)  -> '
        f'{"OK, under" if overhead < 0.03 else "OVER"} the 3% budget ({"wall-clock" if gpu else "CPU time"})'
        + ('  [--quick: a smoke run, not a measurement]' if args.quick else '')
    )
    return 0.0 if args.quick else overhead


if __name__ == '__main__':
    sys.exit(0 if main() < 0.03 else 1)
