#!/usr/bin/env python
"""Run every notebook's tests with nbdev, one fresh process per notebook, and end with `N passed, M failed`.

`nbdev_test` only prints "Success." and stops at the first failing notebook's summary; CI wants a count.
This runs nbdev's own `test_nb` on each notebook (same flags, same skips, same working directory) in a pool of
spawned worker processes, prints one line per notebook with its time, and exits non-zero when any notebook
failed or when none ran.

Usage: python tools/nbtest.py [--flags "slow gpu"] [--workers 2] [--path nbs/02_data.ipynb ...]
"""

import argparse, multiprocessing as mp, os, sys, time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path


def _run_one(fn: str, skip_flags: list, force_flags: list, basepath: str) -> tuple:
    "Test one notebook in this (fresh) process; return (ok, seconds)."
    os.environ['IN_TEST'] = '1'
    # notebooks run side by side, one per core: one compute thread each (set before torch is imported)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    # a spawned worker inherits 'spawn' as its default start method; notebooks (DataLoader workers, torch.distributed
    # tests) expect the platform default, under which notebook-defined classes reach their workers
    if sys.platform.startswith('linux'):
        mp.set_start_method('fork', force=True)
    from nbdev.test import test_nb

    return test_nb(Path(fn), skip_flags=skip_flags, force_flags=force_flags, basepath=basepath)


def notebooks(paths: list, nbs_path: Path) -> list:
    "The notebooks to test: the given paths, or every non-hidden notebook under `nbs_path`."
    if paths:
        files = [Path(p).absolute() for p in paths]
    else:
        files = sorted(
            p.absolute()
            for p in nbs_path.rglob('*.ipynb')
            if not any(part.startswith(('.', '_')) for part in p.relative_to(nbs_path).parts)
        )
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        sys.exit(f'nbtest: no such notebook: {", ".join(missing)}')
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--flags', default='', help="space separated test flags to run (e.g. 'slow gpu')")
    ap.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1), help='notebooks run at once')
    ap.add_argument('--path', nargs='*', default=[], help='notebooks to test (default: all in nbs/)')
    args = ap.parse_args()

    from nbdev.config import get_config

    cfg = get_config()
    files = notebooks(args.path, Path(cfg.nbs_path))
    if not files:
        print('0 passed, 0 failed')
        print('nbtest: no notebooks found', file=sys.stderr)
        return 1
    skip, force = cfg.tst_flags.split(), args.flags.split()
    start, results = time.time(), {}
    ctx = mp.get_context('spawn')
    with ProcessPoolExecutor(max_workers=args.workers, mp_context=ctx, max_tasks_per_child=1) as ex:
        futs = {ex.submit(_run_one, str(f), skip, force, str(cfg.config_path)): f for f in files}
        for fut in as_completed(futs):
            f = futs[fut]
            try:
                ok, secs = fut.result()
            except Exception as e:
                ok, secs = False, float('nan')
                print(f'nbtest: {f.name} crashed: {e!r}', file=sys.stderr)
            results[f] = ok
            print(f'{"PASS" if ok else "FAIL"} {f.relative_to(cfg.config_path)} ({secs:.0f} s)', flush=True)
    passed = sum(results.values())
    failed = len(results) - passed
    print(f'notebooks: {len(results)} in {time.time() - start:.0f} s')
    if failed:
        print('failed: ' + ', '.join(f.name for f, ok in results.items() if not ok))
    print(f'{passed} passed, {failed} failed')
    return 1 if failed or not passed else 0


if __name__ == '__main__':
    sys.exit(main())
