#!/usr/bin/env python
"""Data path: images/s of `resnet_nb.loaders.DeviceLoader` against torchvision's per-sample PIL transforms.

Both sides make the same batches from the same CIFAR-sized uint8 images (`--n` synthetic 3x32x32 images, batch `--bs`):
a random crop after zero padding by 4, a random horizontal flip with probability 1/2, conversion to float32 and
per-channel normalisation, in a fresh random order every epoch. The device-resident path does it on the CPU in the main
process with `--threads` torch threads (default 1: one core, while torchvision gets one per worker; more threads only
lose on a shared 2-core machine); torchvision does it per image (`RandomCrop(32, padding=4)`, `RandomHorizontalFlip`, `ToTensor`, `Normalize`)
from PIL images, through a `torch.utils.data.DataLoader` with `--workers` worker processes, as its CIFAR-10 examples do.
Before timing, the script checks that both produce float32 batches of the same shape and that, without augmentation,
their normalised pixels agree. Each side iterates whole epochs: one warm-up epoch (worker start-up, first allocations)
is not timed, then `--epochs` epochs of each, interleaved (torchvision, device, torchvision, ...), so that other load on
the machine hits both alike. The script prints both rates and their ratio and exits with status 1 when the ratio is
under `--goal` (`--quick`: a tiny smoke run that never fails on the goal).

Usage: python bench/data.py [--n 50000] [--bs 512] [--epochs 2] [--workers 2] [--threads 1] [--goal 20] [--quick]
"""

import argparse, sys, time

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

from resnet_nb.data import ImageData
from resnet_nb.augment import normalize
from resnet_nb.loaders import DeviceLoader

MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)  # CIFAR-10's channel statistics


class PILImages(torch.utils.data.Dataset):
    "torchvision's CIFAR-10 dataset in miniature: HWC uint8 array -> PIL image -> `transform` -> (tensor, label)."

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def torchvision_transform(augment: bool = True):
    "The per-sample pipeline of torchvision's CIFAR examples (or, `augment=False`, only ToTensor + Normalize)."
    aug = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if augment else []
    return T.Compose([*aug, T.ToTensor(), T.Normalize(MEAN, STD)])


def one_epoch(loader) -> tuple[float, int]:
    "Seconds to iterate `loader` once, and the number of images it yielded."
    t0, n = time.perf_counter(), 0
    for x, y in loader:
        n += len(y)
    return time.perf_counter() - t0, n


def check_same_batches(dev, tv, data: ImageData, hwc: np.ndarray):
    "Both paths yield float32 [B, 3, 32, 32] batches with int64 labels, and without augmentation the same normalised pixels."
    (xd, yd), (xt, yt) = next(iter(dev)), next(iter(tv))
    assert xd.dtype == xt.dtype == torch.float32 and xd.shape == xt.shape, (xd.dtype, xt.dtype, xd.shape, xt.shape)
    assert yd.dtype == yt.dtype == torch.int64 and yd.shape == yt.shape, (yd.dtype, yt.dtype)
    plain = torch.stack([torchvision_transform(False)(Image.fromarray(hwc[i])) for i in range(16)])
    diff = (normalize(data.images[:16], torch.tensor(MEAN), torch.tensor(STD)) - plain).abs().max().item()
    assert diff < 1e-5, f'normalisation differs from torchvision by {diff}'


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=50_000, help='synthetic 3x32x32 uint8 images')
    ap.add_argument('--bs', type=int, default=512, help='batch size')
    ap.add_argument('--epochs', type=int, default=2, help='timed epochs of each side (after one warm-up epoch)')
    ap.add_argument('--workers', type=int, default=2, help="torchvision side: the DataLoader's worker processes")
    ap.add_argument('--threads', type=int, default=1, help='device side: torch threads of the main process')
    ap.add_argument('--goal', type=float, default=20.0, help='fail (exit 1) when device/torchvision is under this')
    ap.add_argument('--quick', action='store_true', help='tiny smoke run (2048 images, 1 epoch); never fails the goal')
    args = ap.parse_args()
    if args.quick:
        args.n, args.epochs = 2048, 1
    torch.set_num_threads(args.threads)  # DataLoader workers use one thread each anyway
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (args.n,), generator=g)
    data = ImageData(images, labels, [str(i) for i in range(10)])
    hwc = images.permute(0, 2, 3, 1).contiguous().numpy()  # what torchvision's CIFAR10 dataset holds
    dev = DeviceLoader(data, args.bs, shuffle=True, augment='standard', mean=MEAN, std=STD, device='cpu')
    tv = torch.utils.data.DataLoader(
        PILImages(hwc, labels.numpy(), torchvision_transform()),
        batch_size=args.bs,
        shuffle=True,
        num_workers=args.workers,
        persistent_workers=args.workers > 0,
    )
    check_same_batches(dev, tv, data, hwc)
    one_epoch(tv), one_epoch(dev)  # warm-up, not timed
    secs, imgs = {'torchvision': 0.0, 'device': 0.0}, {'torchvision': 0, 'device': 0}
    for _ in range(args.epochs):
        for name, loader in (('torchvision', tv), ('device', dev)):
            s, n = one_epoch(loader)
            secs[name], imgs[name] = secs[name] + s, imgs[name] + n
    assert imgs['torchvision'] == imgs['device'] == args.epochs * args.n, imgs
    rate = {k: imgs[k] / secs[k] for k in secs}
    ratio = rate['device'] / rate['torchvision']
    print(
        f'data path, {args.n} images 3x32x32 uint8, batch {args.bs}, crop(pad 4) + flip + normalize, CPU, '
        f'{torch.get_num_threads()} torch threads, {args.epochs} timed epochs each'
    )
    print(f'torchvision PIL transforms, DataLoader with {args.workers} workers: {rate["torchvision"]:10,.0f} images/s')
    print(f'resnet_nb DeviceLoader (device-resident):  {rate["device"]:10,.0f} images/s')
    print(f'ratio: {ratio:.1f}x (goal: at least {args.goal:g}x)')
    if ratio < args.goal and not args.quick:
        print(f'FAIL: {ratio:.1f}x is under the goal of {args.goal:g}x')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
