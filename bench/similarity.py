#!/usr/bin/env python
"""Layer similarity at scale: `layer_similarity` with linear CKA against the per-pair approach, and the peak memory of
SVCCA over collected activations, on a ResNet-56 (29 layers) over 10,000 random CIFAR-sized images.

1. Linear CKA, the self-similarity matrix of every `default_layers` layer, in batches of `--bs`:
   - `layer_similarity`: each layer's Gram matrix once per batch, the unbiased HSIC of every pair summed over batches;
   - per pair: what calling `linear_cka` for every pair of layers does, kept to minibatches so it can run at all: for
     each pair both Gram matrices are computed again (L(L+1)/2 pairs, about (L+1) times the Gram work of L layers),
     with the same unbiased HSIC, so the two matrices must agree. It is slow, so it runs on the first `--pair-n`
     inputs only; the new path runs on the same inputs for a paired ratio, then on all `--n` for time and memory.
   - today's `layer_cka` before the input guards (its hooks and `MinibatchCKA` loop, copied here): the same algorithm
     on unshuffled batches, to show the guards cost nothing.
2. SVCCA (`keep=0.99`) of every pair of the 29 layers over `--n` inputs on activations averaged over space
   (`pool='avg'`): peak memory, goal under 4 GB; and what `pool=None` (flattened) would hold.
3. The study's analysis of one model in each view (flattened, the default, and averaged over space): its linear CKA
   matrix and the first-PC fraction of every layer on the same activations (`layer_pc1`, a few layers at a time):
   time per model and peak memory. A study does this twice per run (trained and its untrained twin) per view.

Each step runs in a fresh (spawned) process, so that none inherits the memory another left behind. Time is that
process's CPU time (robust on a shared machine) and wall-clock; memory is its peak resident set above the level after
set-up (model, data) (Linux: the high-water mark is reset through /proc/self/clear_refs; elsewhere ru_maxrss,
which cannot be reset). `--quick` is a seconds-long smoke run on a tiny ResNet (its figures are no measurement).

Usage: python bench/similarity.py [--n 10000] [--pair-n 256] [--bs 256] [--threads 2] [--quick]
"""

import argparse, multiprocessing as mp, resource, sys, time
from concurrent.futures import ProcessPoolExecutor
import torch

from resnet_nb.data import ImageData
from resnet_nb.inspect import Hooks, default_layers
from resnet_nb.layers import LayerInputs, layer_similarity
from resnet_nb.models import create_model
from resnet_nb.similarity import MinibatchCKA, gram, hsic
from resnet_nb.study import layer_pc1
from peak_memory import reset_peak, status_kb  # bench/peak_memory.py


def _setup(a):
    "The model, its layers and the data set (uint8, normalised batch by batch), the same in every process."
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    size = 16 if a.quick else 32
    model = create_model('resnet20', depths=[1, 1, 1], widths=[8, 16, 32]) if a.quick else create_model('resnet56')
    images = torch.randint(0, 256, (a.n, 3, size, size), dtype=torch.uint8)
    return model.eval(), default_layers(model), ImageData(images, torch.zeros(a.n), ['random'])


def step(kind: str, a) -> tuple:
    "In a fresh process: (matrix, CPU s, wall s, peak MB above the level after set-up, peak MB) of one way on one size."
    model, layers, data = _setup(a)
    layer_similarity(model, None, LayerInputs(data, 4, 4))  # warm-up (kernels), on 4 inputs: next to no memory
    few, full = LayerInputs(data, a.pair_n, a.bs), LayerInputs(data, None, a.bs)
    batches = list(few) if kind in ('per_pair', 'old_loop') else None  # the same float batches layer_similarity sees
    run = {
        'few': lambda: layer_similarity(model, None, few),
        'per_pair': lambda: per_pair_cka(model, batches, layers),
        'old_loop': lambda: old_layer_cka(model, batches, layers),
        'full': lambda: layer_similarity(model, None, full),
        'svcca': lambda: layer_similarity(model, None, full, 'svcca', pool='avg'),
        'view_flat': lambda: (layer_similarity(model, None, full, pool=None), layer_pc1(model, full, None)),
        'view_avg': lambda: (layer_similarity(model, None, full, pool='avg'), layer_pc1(model, full, 'avg')),
    }[kind]
    base, reset = status_kb('VmRSS'), reset_peak()
    c, t = time.process_time(), time.perf_counter()
    out = run()
    cpu, wall = time.process_time() - c, time.perf_counter() - t
    peak = status_kb('VmHWM') if reset else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return out, cpu, wall, (peak - base) / 1024 if reset and base else float('nan'), peak / 1024


def measure(kind: str, a) -> tuple:
    "`step` in a spawned process, so that no step inherits the memory another one left behind."
    with ProcessPoolExecutor(1, mp_context=mp.get_context('spawn')) as ex:
        return ex.submit(step, kind, a).result()


def per_pair_cka(model, batches, layers):
    "Linear CKA of every pair from the unbiased HSIC summed over `batches`, both Gram matrices made again for each pair."
    L, sums = len(layers), torch.zeros(3, len(layers), len(layers), dtype=torch.float64)
    with Hooks(model, layers, flatten=True) as hs, torch.no_grad():
        for x in batches:
            model(x)
            for i in range(L):
                for j in range(i, L):
                    k, l = gram(hs[layers[i]])[None], gram(hs[layers[j]])[None]  # as linear_cka does, per pair
                    sums[:, i, j] += torch.stack([hsic(k, l)[0, 0], hsic(k, k)[0, 0], hsic(l, l)[0, 0]])
    cka = sums[0] / (sums[1] * sums[2]).sqrt()
    return cka.triu() + cka.triu(1).T


def old_layer_cka(model, batches, layers):
    "Today's `layer_cka` before the guards, compactly: hooks that make each layer's Gram matrix, batches in given order."
    acc = MinibatchCKA()
    with Hooks(model, layers, lambda n, m, i, o: gram(o)) as hs, torch.no_grad():
        for x in batches:
            model(x)
            acc.update(torch.stack([hs[n] for n in layers]))
    return acc.compute()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=10000, help='inputs of the full-size runs')
    p.add_argument('--pair-n', type=int, default=256, help='inputs of the per-pair comparison (it is slow)')
    p.add_argument('--bs', type=int, default=256, help='batch size of the CKA estimate')
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--quick', action='store_true', help='a seconds-long smoke run on a tiny ResNet')
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.pair_n, a.bs = 96, 32, 32
    model, layers, data = _setup(a)
    L, size = len(layers), data.images.shape[-1]
    what = 'tiny ResNet (quick)' if a.quick else 'ResNet-56'
    print(
        f'{what}, {L} layers, random 3x{size}x{size} images, batches of {a.bs}, {torch.get_num_threads()} thread(s); '
        'each step in a fresh process',
        flush=True,
    )

    # 1a. the per-pair approach against layer_similarity and the old loop, on the same first pair-n inputs
    n_few = LayerInputs(data, a.pair_n, a.bs).n
    new_few, c_new, w_new, m_new, _ = measure('few', a)
    old, c_old, w_old, m_old, _ = measure('old_loop', a)
    pair, c_pair, w_pair, m_pair, _ = measure('per_pair', a)
    print(
        f'linear CKA over {n_few} inputs: layer_similarity {c_new:.1f} CPU-s ({w_new:.1f} s wall), peak '
        f'+{m_new:.0f} MB; per pair {c_pair:.1f} CPU-s ({w_pair:.1f} s), +{m_pair:.0f} MB; old layer_cka loop '
        f'{c_old:.1f} CPU-s ({w_old:.1f} s), +{m_old:.0f} MB',
        flush=True,
    )
    print(
        f'agreement: max |layer_similarity - per pair| = {(new_few - pair).abs().max():.2e}, '
        f'max |layer_similarity - old loop| = {(new_few - old).abs().max():.2e} (same inputs, same batches)'
    )
    print(
        f'ratio per pair / layer_similarity: {c_pair / c_new:.1f}x CPU time ({w_pair / w_new:.1f}x wall), '
        f'{m_pair / max(m_new, 1):.1f}x peak memory; old loop / layer_similarity: {c_old / c_new:.2f}x CPU time',
        flush=True,
    )

    # 1b. layer_similarity at full size
    sim, c_full, w_full, m_full, peak_full = measure('full', a)
    print(
        f'layer_similarity (linear CKA) over {a.n} inputs: {c_full:.1f} CPU-s ({w_full:.1f} s wall), peak '
        f'+{m_full:.0f} MB ({peak_full:.0f} MB in all); diagonal {sim.diagonal().min():.6f}..{sim.diagonal().max():.6f}',
        flush=True,
    )
    with Hooks(model, layers, flatten=True) as hs, torch.no_grad():
        model(torch.zeros(1, 3, size, size))
    feats = sum(hs[n].shape[1] for n in layers)
    print(
        f'per pair over {a.n} inputs would take about {c_pair / c_new * c_full / 60:.0f} CPU-min (scaled from '
        f'{n_few} inputs); linear_cka per pair on all inputs at once would hold {a.n * feats * 4 / 2**30:.1f} GB of '
        f'activations and {a.n**2 * 8 / 2**30:.2f} GB per Gram matrix'
    )

    # 2. SVCCA on collected, pooled activations
    sv, c_sv, w_sv, m_sv, peak_sv = measure('svcca', a)
    print(
        f'SVCCA over {a.n} inputs, {L} layers, spatial average: {c_sv:.1f} CPU-s ({w_sv:.1f} s wall), peak '
        f'+{m_sv:.0f} MB ({peak_sv:.0f} MB in all): {"under" if peak_sv < 4096 else "OVER"} the 4 GB goal; '
        f'mean off-diagonal {sv[~torch.eye(L, dtype=bool)].nanmean():.3f}'
    )
    print(f'pool=None would keep {a.n * feats * 4 / 2**30:.1f} GB of flattened activations (float32)')

    # 3. the study's analysis of one model in each view: its matrix and its first-PC fractions on the same activations
    for kind, view in (('view_flat', 'flattened'), ('view_avg', 'averaged over space')):
        _, c_v, w_v, m_v, peak_v = measure(kind, a)
        print(
            f'study analysis per model (matrix and first-PC fractions), activations {view}, over {a.n} inputs: '
            f'{c_v:.1f} CPU-s ({w_v:.1f} s wall), peak +{m_v:.0f} MB ({peak_v:.0f} MB in all)',
            flush=True,
        )
    return peak_sv < 4096 or a.quick


if __name__ == '__main__':
    sys.exit(0 if main() else 1)
