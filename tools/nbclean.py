#!/usr/bin/env python
"""The project's clean step: `nbdev_clean`, then every notebook given the kernel's `language_info` in nbformat's layout.

`nbdev_clean` pins the kernel's display name to its name (`python3`, nbdev's convention, kept here so that a bare
`nbdev_clean` never changes a committed notebook) and drops `language_info` unless settings.ini allows it (this
project's does). JupyterLab writes `language_info` from the kernel as soon as it starts; this puts it back
(`resnet_nb.notebooks.jupyter_metadata`) in nbformat's JSON layout (a cell's source keeps its form: one string or a
list of lines), so opening a notebook changes nothing but, at most, the kernel's display name.

Usage: python tools/nbclean.py   (from the repository root; prints the notebooks it changed)
"""

import subprocess, sys
from pathlib import Path


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's package, not another install
    from nbdev.config import get_config
    from resnet_nb.notebooks import normalize_notebook

    root = Path(get_config().nbs_path)
    nbs = sorted(
        p for p in root.rglob('*.ipynb') if not any(s.startswith(('.', '_')) for s in p.relative_to(root).parts)
    )
    before = {p: p.read_bytes() for p in nbs}
    subprocess.run(['nbdev_clean'], check=True)
    for p in nbs:
        normalize_notebook(p)
        if p.read_bytes() != before[p]:
            print(f'nbclean: {p}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
