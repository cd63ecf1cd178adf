#!/usr/bin/env python
"""Inspection costs: ActivationStatsCB + GradStatsCB at their defaults against the same training without them, and the
peak memory of `layer_cka` on 10,000 CIFAR-sized images for a ResNet-56 self-similarity matrix.

1. Overhead. One Learner built from a config as `train` builds it (ResNet-20, synthetic images, device-resident loader);
   trials alternate (plain, inspected, inspected, plain, ...) from the same initial weights and optimizer state, so that
   other load on the machine hits both alike. Time is CPU time of this process (robust on a shared machine) and
   wall-clock; the overhead is the median over repeats of the paired ratio of steps/s. Budget: under 10%.
2. Memory. `layer_cka(resnet56, None, data)` over `--cka-n` synthetic 3x32x32 images in batches of `--cka-bs`: the
   hooks turn each layer's output into its n x n Gram matrix at once, so the process should never hold more than one
   batch of activations per layer. The script prints the peak resident memory above the level before the call (Linux:
   the high-water mark is reset through /proc/self/clear_refs; elsewhere ru_maxrss, which cannot be reset), the size of
   one batch of each hooked layer's output, and what holding every activation of every image would take.

Usage: python bench/inspect_overhead.py [--threads 1] [--repeats 6] [--n 2048] [--size 16] [--bs 128]
                                        [--cka-n 10000] [--cka-bs 256] [--skip-overhead] [--skip-cka]
"""

import argparse, copy, resource, statistics, sys, time
import torch

from resnet_nb.config import TrainConfig
from resnet_nb.core import seed_everything, unwrap
from resnet_nb.models import create_model
from resnet_nb.trainer import build_learner
from resnet_nb.data import ImageData
from resnet_nb.inspect import ActivationStatsCB, GradStatsCB, Hooks, default_layers
from resnet_nb.layers import layer_cka
from peak_memory import reset_peak, status_kb  # bench/peak_memory.py


def make(args):
    cfg = TrainConfig(
        dataset='synthetic',
        dataset_kwargs={'n': args.n, 'n_classes': 10, 'size': args.size},
        model='resnet20',
        batch_size=args.bs,
        epochs=1,
        augment='standard',
        device='cpu',
        scheduler='cosine',
        progress='none',
        val_split=0,
        monitor='train_acc',
    )
    seed_everything(0)
    return build_learner(cfg)


def trial(learn, init, opt_init, cbs):
    "One epoch from the same start; returns (steps per CPU second, steps per second)."
    unwrap(learn.model).load_state_dict(init)
    learn.opt.load_state_dict(opt_init)
    learn.history, learn.step, learn.start_epoch = [], 0, 0
    t, c = time.perf_counter(), time.process_time()
    learn.fit(1, cbs=cbs)
    return learn.step / (time.process_time() - c), learn.step / (time.perf_counter() - t)


def overhead(args):
    learn = make(args)
    init, opt_init = copy.deepcopy(unwrap(learn.model).state_dict()), copy.deepcopy(learn.opt.state_dict())
    arms = {
        'plain': lambda: [],
        'defaults': lambda: [ActivationStatsCB(), GradStatsCB()],
        'every step': lambda: [ActivationStatsCB(every=1), GradStatsCB(every=1)],
    }
    for make_cbs in arms.values():
        trial(learn, init, opt_init, make_cbs())  # warm-up
    res = {k: [] for k in arms}
    for r in range(args.repeats):
        names = list(arms) if r % 2 == 0 else list(arms)[::-1]
        for k in names:
            res[k].append(trial(learn, init, opt_init, arms[k]()))
        print(
            f'repeat {r + 1}: '
            + ', '.join(f'{k} {res[k][-1][0]:.2f} steps/cpu-s ({res[k][-1][1]:.2f} wall)' for k in arms),
            flush=True,
        )
    ratio = lambda k, i: statistics.median(p[i] / q[i] for p, q in zip(res['plain'], res[k])) - 1
    a, g = ActivationStatsCB(), GradStatsCB()
    print(
        f'ResNet-20, {args.n} synthetic {args.size}x{args.size} images, batch {args.bs}, {len(learn.dls.train)} '
        f'steps per trial, {args.threads} thread(s), {args.repeats} interleaved repeats'
    )
    print(
        f'defaults: ActivationStatsCB(every={a.every}, bins={a.bins}, read_every={a.read_every}) on '
        f'{len(default_layers(learn.model))} layers, GradStatsCB(every={g.every}, read_every={g.read_every})'
    )
    every1 = ratio('every step', 0)
    print(
        f'recording at every step costs {100 * every1:+.1f}% CPU time: a record costs about {100 * every1:.1f}% of a '
        f'step, so every {a.every} steps about {100 * every1 / a.every:.1f}%'
    )
    cpu, wall = ratio('defaults', 0), ratio('defaults', 1)
    print(f'steps/s ratio inspected (defaults) / plain: {1 / (1 + cpu):.4f} (CPU time), {1 / (1 + wall):.4f} (wall)')
    print(
        f'inspection overhead at the defaults: {100 * cpu:+.2f}% CPU time, {100 * wall:+.2f}% wall-clock (median '
        f'paired ratios) -> {"OK, under" if cpu < 0.10 else "OVER"} the 10% budget'
    )
    return cpu


def cka_memory(args):
    torch.manual_seed(0)
    model = create_model('resnet56').eval()
    images = torch.randint(0, 256, (args.cka_n, 3, 32, 32), dtype=torch.uint8)  # the data set, as uint8 (30 MB)
    data = ImageData(images, torch.zeros(args.cka_n), ['random'])  # normalised batch by batch, as a test split is
    layers = default_layers(model)
    with Hooks(model, layers) as hs, torch.no_grad():
        model(images[: args.cka_bs].float())
    per_layer = {n: hs[n][0].numel() * args.cka_bs * 4 for n in layers}  # float32 bytes of one batch per layer
    mb = lambda b: b / 2**20
    layer_cka(model, None, data, n_inputs=args.cka_bs, batch_size=args.cka_bs)  # warm-up: allocator pools, kernels
    base = status_kb('VmRSS')
    reset = reset_peak()
    before_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    m = layer_cka(model, None, data, batch_size=args.cka_bs)
    secs = time.perf_counter() - t
    peak = status_kb('VmHWM') if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    grams = len(layers) * args.cka_bs**2 * 8
    print(
        f'layer_cka: ResNet-56, {len(layers)} layers, {args.cka_n} images of 3x32x32 in batches of {args.cka_bs}: '
        f'{secs:.1f} s, result {tuple(m.shape)}, diagonal {m.diagonal().min():.6f}..{m.diagonal().max():.6f}'
    )
    print(
        'one batch of activations per layer (float32): '
        + ', '.join(f'{n} {mb(b):.1f} MB' for n, b in list(per_layer.items())[:2] + list(per_layer.items())[-2:])
        + f' ...; largest {mb(max(per_layer.values())):.1f} MB, all {len(layers)} layers together '
        f'{mb(sum(per_layer.values())):.0f} MB'
    )
    print(
        f'Gram matrices of one batch, all layers (float64): {mb(grams):.1f} MB; every activation of every image '
        f'would be {sum(per_layer.values()) * args.cka_n / args.cka_bs / 2**30:.1f} GB'
    )
    if base is not None and peak is not None and reset:
        print(
            f'peak resident memory during layer_cka: {mb(peak * 1024):.0f} MB, {mb((peak - base) * 1024):.0f} MB '
            f'above the {mb(base * 1024):.0f} MB before it'
        )
    else:
        print(
            f'peak resident memory of the process (ru_maxrss, not resettable here): {peak / 1024:.0f} MB '
            f'(before: {before_max / 1024:.0f} MB)'
        )
    return m


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--repeats', type=int, default=6)
    p.add_argument('--n', type=int, default=2048, help='training images of the overhead trials')
    p.add_argument('--size', type=int, default=16)
    p.add_argument('--bs', type=int, default=128)
    p.add_argument('--cka-n', type=int, default=10000, help='images for layer_cka')
    p.add_argument('--cka-bs', type=int, default=256)
    p.add_argument('--skip-overhead', action='store_true')
    p.add_argument('--skip-cka', action='store_true')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    ok = True
    if not args.skip_overhead:
        ok = overhead(args) < 0.10
    if not args.skip_cka:
        cka_memory(args)
    return ok


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
