#!/usr/bin/env python
"""Trainer overhead: `resnet_nb.trainer`'s Learner (with the callbacks `train` uses) against a hand-written PyTorch loop.

Same model (ResNet-20), same device-resident data loader (synthetic images), same batch size, optimizer and lr schedule,
on the CPU. Trials are interleaved (trainer, loop, loop, trainer, ...) so that other load on the machine hits both
alike; each trial trains `--epochs` epochs from the same initial weights. Time is measured two ways: CPU time of this
process (`time.process_time`, all its threads, e.g. TensorBoard's writer; robust when other programs share the cores)
and wall-clock time. For each, the overhead is the median over repeats of the paired ratio (loop steps/s divided by
trainer steps/s of neighbouring trials). Because a shared machine makes those ratios noisy (a few %), the script also
measures the trainer's fixed cost per step precisely, on a tiny linear model where it is visible (metrics on the device,
callback dispatch, scheduler), and divides it by the ResNet-20 step time. The Trainer's overhead should stay under 3%.

Usage: python bench/trainer_overhead.py [--threads 1] [--repeats 8] [--epochs 1] [--n 4096] [--size 16] [--bs 128]
"""
import argparse, copy, shutil, statistics, sys, tempfile, time
from pathlib import Path
import torch, torch.nn as nn

from resnet_nb.core import seed_everything, unwrap
from resnet_nb.config import TrainConfig
from resnet_nb.learner import Learner
from resnet_nb.callbacks import DeviceCB, MetricsCB, SchedulerCB, FileLogCB, CSVLoggerCB, TensorBoardCB
from resnet_nb.checkpoint import CheckpointCB
from resnet_nb.optim import LRSchedule
from resnet_nb.trainer import build_learner


def make(args):
    "A Learner built from a config exactly as `train` builds it, with the run-folder callbacks in a temp folder."
    cfg = TrainConfig(dataset='synthetic', dataset_kwargs={'n': args.n, 'n_classes': 10, 'size': args.size}, model='resnet20',
                      batch_size=args.bs, epochs=args.epochs, augment='standard', device='cpu', scheduler='cosine',
                      progress='none', val_split=0, monitor='train_acc')  # no validation: both sides time training only
    seed_everything(0)
    learn = build_learner(cfg)
    tmp = Path(tempfile.mkdtemp())
    for cb in [CheckpointCB(tmp / 'checkpoints', 'train_acc'), FileLogCB(tmp / 'log.txt'), CSVLoggerCB(tmp / 'metrics.csv'),
               TensorBoardCB(tmp / 'tb')]: learn.add_cb(cb)
    learn.tmp = tmp  # removed by main()
    return learn


def trainer_trial(learn, init, opt_init, epochs):
    unwrap(learn.model).load_state_dict(init); learn.opt.load_state_dict(opt_init)
    learn.history, learn.step, learn.start_epoch = [], 0, 0
    t, c = time.perf_counter(), time.process_time(); learn.fit(epochs)
    return learn.step / (time.process_time() - c), learn.step / (time.perf_counter() - t)


def loop_trial(model, dl, init, epochs, lr, steps_per_epoch):
    "The hand-written loop: forward, loss, backward, step, zero_grad, scheduler step."
    model.load_state_dict(init)
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs * steps_per_epoch)
    loss_func, steps = nn.CrossEntropyLoss(), 0
    t, c = time.perf_counter(), time.process_time()
    for epoch in range(epochs):
        model.train(); dl.set_epoch(epoch)
        for x, y in dl:
            loss = loss_func(model(x), y)
            loss.backward(); opt.step(); opt.zero_grad(set_to_none=True); sched.step(); steps += 1
    return steps / (time.process_time() - c), steps / (time.perf_counter() - t)


class _Repeat:
    "A loader that yields the same batch `n` times."
    def __init__(self, x, y, n): self.x, self.y, self.n = x, y, n
    def __len__(self): return self.n
    def __iter__(self): return ((self.x, self.y) for _ in range(self.n))


def per_step_cost(n=2000, repeats=3):
    "CPU seconds per step that the Learner (device, metrics, scheduler callbacks) adds to a hand loop, on a tiny model."
    x, y = torch.randn(128, 32), torch.randint(0, 10, (128,))
    class DLs: train, val, test = _Repeat(x, y, n), None, None
    diffs = []
    for _ in range(repeats):
        m = nn.Linear(32, 10); opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, LRSchedule('cosine', n))
        learn = Learner(m, DLs(), nn.CrossEntropyLoss(), opt=opt, cbs=[DeviceCB('cpu'), MetricsCB(), SchedulerCB(sched)])
        c = time.process_time(); learn.fit(1); t_learner = time.process_time() - c
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9)
        sched, lf = torch.optim.lr_scheduler.CosineAnnealingLR(opt, n), nn.CrossEntropyLoss()
        c = time.process_time()
        for xb, yb in DLs.train:
            loss = lf(m(xb), yb); loss.backward(); opt.step(); opt.zero_grad(set_to_none=True); sched.step()
        diffs.append((t_learner - (time.process_time() - c)) / n)
    return statistics.median(diffs)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', type=int, default=1); p.add_argument('--repeats', type=int, default=8)
    p.add_argument('--epochs', type=int, default=1); p.add_argument('--n', type=int, default=4096)
    p.add_argument('--size', type=int, default=16); p.add_argument('--bs', type=int, default=128)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    learn = make(args)
    try: return _bench(args, learn)
    finally: shutil.rmtree(learn.tmp, ignore_errors=True)


def _bench(args, learn):
    init = copy.deepcopy(unwrap(learn.model).state_dict()); opt_init = copy.deepcopy(learn.opt.state_dict())
    model = copy.deepcopy(unwrap(learn.model)); dl = learn.dls.train
    spe = len(dl)
    trainer_trial(learn, init, opt_init, 1); loop_trial(model, dl, init, 1, 0.1, spe)  # warm-up
    tr, lo = [], []
    for r in range(args.repeats):
        order = [('trainer', lambda: tr.append(trainer_trial(learn, init, opt_init, args.epochs))),
                 ('loop', lambda: lo.append(loop_trial(model, dl, init, args.epochs, 0.1, spe)))]
        for _, f in (order if r % 2 == 0 else order[::-1]): f()
        print(f'repeat {r + 1}: trainer {tr[-1][0]:.2f} steps/cpu-s ({tr[-1][1]:.2f} steps/s wall), '
              f'loop {lo[-1][0]:.2f} steps/cpu-s ({lo[-1][1]:.2f} steps/s wall)', flush=True)
    med = lambda xs: statistics.median(xs)
    cpu, wall = (med(l[i] / t[i] for t, l in zip(tr, lo)) - 1 for i in (0, 1))
    print(f'ResNet-20, {args.n} synthetic {args.size}x{args.size} images, batch {args.bs}, {spe} steps/epoch, '
          f'{args.epochs} epoch(s) per trial, {args.threads} thread(s), {args.repeats} interleaved repeats')
    print(f'trainer: {med(t[0] for t in tr):.2f} steps per CPU second ({med(t[1] for t in tr):.2f} steps/s wall);  '
          f'hand-written loop: {med(l[0] for l in lo):.2f} ({med(l[1] for l in lo):.2f} wall)')
    per_step = per_step_cost()
    resnet_step = 1 / med(l[0] for l in lo)
    print(f'fixed trainer cost per step (tiny linear model, CPU time): {1e6 * per_step:.0f} us = '
          f'{100 * per_step / resnet_step:.2f}% of a ResNet-20 step here ({1e3 * resnet_step:.0f} ms)')
    overhead = cpu
    print(f'steps/s ratio trainer / hand-written loop: {1 / (1 + cpu):.4f} (CPU time), {1 / (1 + wall):.4f} (wall-clock)')
    print(f'trainer overhead: {100 * cpu:+.2f}% CPU time, {100 * wall:+.2f}% wall-clock (median paired ratios)  -> '
          f'{"OK, under" if overhead < 0.03 else "OVER"} the 3% budget')
    return overhead


if __name__ == '__main__':
    sys.exit(0 if main() < 0.03 else 1)
