#!/usr/bin/env python
"""Execute notebooks top to bottom in place, so that every figure, table and summary their prose talks about is committed.

Each notebook runs in a fresh `python3` kernel (nbclient, the engine under papermill) in its own folder, with `IN_TEST`
unset: the notebook's own full-size settings. Cells nbdev's tests skip are skipped here too and keep what they had:
`#| eval: false` always, and cells flagged with a test flag of settings.ini (`#| slow`, `#| gpu`) unless `--flags` names
it. The result is kept small (stream outputs over 40 lines cut to their head and tail, carriage-return progress
collapsed, widget views dropped, PNGs only and at most 1000 px wide), its metadata restored to what the project
keeps (cell metadata `tags` when not empty), cleaned as `nbdev_clean` does, then given the kernel metadata JupyterLab writes on opening (as `tools/nbclean.py` does). A notebook that
fails is reported and left as it was: the new one replaces it whole, only once it ran to the end.

Usage: python tools/execute_nbs.py [--path nbs/25_inspect.ipynb ...] [--flags "slow"] [--timeout 1800]
"""

import argparse, base64, io, json, os, re, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KERNELSPEC = {'display_name': 'python3', 'language': 'python', 'name': 'python3'}
MAX_LINES, HEAD, TAIL = 40, 20, 15
MAX_WIDTH = 1000  # px: a figure wider than this is scaled down
_re_dir = re.compile(r'^\s*#\|\s*(.*?)\s*$')


def directives(src: str) -> dict:
    "The leading `#| ` directives of a cell, as {name: [args]} (`#| eval: false` is {'eval:': ['false']})."
    out = {}
    for line in src.splitlines():
        m = _re_dir.match(line)
        if not m:
            if line.strip():
                break
            continue
        words = m.group(1).split()
        if words:
            out[words[0]] = words[1:]
    return out


def skip_reason(src: str, skip_flags: set):
    "Why a code cell is not executed (its directive), or None."
    d = directives(src)
    if [a.lower() for a in d.get('eval:', [])] == ['false']:
        return 'eval: false'
    flags = skip_flags & d.keys()
    return f'#| {sorted(flags)[0]}' if flags else None


def _text(x) -> str:
    return ''.join(x) if isinstance(x, list) else x


def collapse_cr(text: str) -> str:
    "What a terminal would show: of each line rewritten with carriage returns (progress bars), its last state."
    return '\n'.join(line.rstrip('\r').split('\r')[-1] for line in text.split('\n'))


def shorten(text: str, max_lines: int = MAX_LINES) -> str:
    "`text` if it has at most `max_lines` lines, else its head and tail around one line saying how many were cut."
    lines = text.splitlines(True)
    if len(lines) <= max_lines:
        return text
    cut = len(lines) - HEAD - TAIL
    return (
        ''.join(lines[:HEAD]) + f'... ({cut} lines cut when the notebook was executed) ...\n' + ''.join(lines[-TAIL:])
    )


def small_png(b64: str, max_width: int = MAX_WIDTH) -> str:
    "A base64 PNG at most `max_width` pixels wide (scaled down, aspect kept), else unchanged."
    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(b64)))
    if img.width <= max_width:
        return b64
    img = img.resize((max_width, round(img.height * max_width / img.width)), Image.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format='PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode() + '\n'


def png_width(b64: str) -> int:
    "The width in pixels of a base64 PNG, from its header."
    return int.from_bytes(base64.b64decode(b64[:32])[16:20], 'big')


def tidy_outputs(outputs: list) -> list:
    "Outputs kept small: streams merged, progress collapsed and long ones cut; PNG only; no widget views."
    out = []
    for o in outputs:
        if o['output_type'] == 'stream':
            text = collapse_cr(_text(o['text']))
            if out and out[-1]['output_type'] == 'stream' and out[-1]['name'] == o['name']:
                out[-1]['text'] += text
            else:
                out.append({**o, 'text': text})
            continue
        if 'data' in o:
            data = dict(o['data'])
            data.pop('application/vnd.jupyter.widget-view+json', None)
            if 'image/png' in data:
                for k in [k for k in data if k.startswith('image/') and k != 'image/png'] + ['application/pdf']:
                    data.pop(k, None)
                png = _text(data['image/png'])
                data['image/png'] = small_png(png)
                meta = o.get('metadata', {}).get('image/png', {})
                if data['image/png'] != png and 'width' not in meta:  # scaled down: still shown at the size it had
                    o = {**o, 'metadata': {**o.get('metadata', {}), 'image/png': {**meta, 'width': png_width(png)}}}
            if (
                not data
                or set(data) == {'text/plain'}
                and o['output_type'] == 'display_data'
                and 'Widget' in _text(data.get('text/plain', ''))
            ):
                continue  # a widget (a progress bar) whose state is not kept: nothing a reader could see
            o = {**o, 'data': data}
        out.append(o)
    for o in out:
        if o['output_type'] == 'stream':
            o['text'] = shorten(o['text'])
    return out


def without_root(outputs: list, root: Path = ROOT) -> list:
    "`outputs` with this checkout's absolute path taken out of every text (a run folder reads `runs/...`)."
    prefix = json.dumps(f'{root}/')[1:-1]
    return json.loads(json.dumps(outputs).replace(prefix, ''))


def finish(nb: dict, original: dict) -> dict:
    "The executed notebook as the project keeps it: outputs tidied, metadata restored, cleaned as `nbdev_clean` does."
    from nbdev.clean import clean_nb
    from nbdev.config import get_config

    cfg = get_config()
    as_text = {c.get('id') for c in original['cells'] if isinstance(c['source'], str)}
    for cell in nb['cells']:
        if cell.get('id') in as_text and isinstance(cell['source'], list):
            cell['source'] = ''.join(cell['source'])  # as it was written: no diff in the sources
        if cell['cell_type'] == 'code':
            cell['outputs'] = without_root(tidy_outputs(cell.get('outputs', [])))
        md = cell.get('metadata', {})
        md.pop('execution', None)
        if 'tags' in md and not md['tags']:
            del md['tags']
    nb['metadata'] = {**{k: v for k, v in original['metadata'].items() if k != 'widgets'}, 'kernelspec': KERNELSPEC}
    clean_nb(nb, False, cfg.get('allowed_metadata_keys', '').split(), cfg.get('allowed_cell_metadata_keys', '').split())
    nb['metadata'].pop('widgets', None)
    return nb


def execute(path: Path, skip_flags: set, timeout: int) -> tuple:
    "Execute the notebook at `path` and write it back; return (skipped cells, seconds). Raises on any failure."
    import nbformat
    from nbclient import NotebookClient
    from execnb.nbio import write_nb
    from resnet_nb.notebooks import normalize_notebook

    original = json.loads(path.read_text())
    nb = nbformat.reads(path.read_text(), as_version=4)
    skipped = []

    class Client(NotebookClient):
        async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
            why = skip_reason(cell.source, skip_flags) if cell.cell_type == 'code' else None
            if why:
                skipped.append((cell_index, why))
                return cell  # not run: it keeps what it had
            return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    t = time.time()
    client = Client(nb, timeout=timeout, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}})
    client.execute()
    done = finish(json.loads(nbformat.writes(nb)), original)
    tmp = path.with_name(f'.{path.name}.executing')
    try:
        write_nb(done, tmp)
        os.replace(tmp, path)  # whole or not at all
    finally:
        tmp.unlink(missing_ok=True)
    normalize_notebook(path)  # the metadata JupyterLab writes on opening (as tools/nbclean.py leaves every notebook)
    return skipped, time.time() - t


def notebooks(paths: list) -> list:
    "The notebooks to execute: the given ones, or every notebook under nbs/ (not hidden, not in _ folders)."
    nbs = ROOT / 'nbs'
    if paths:
        files = [Path(p).absolute() for p in paths]
    else:
        files = sorted(
            p for p in nbs.rglob('*.ipynb') if not any(part.startswith(('.', '_')) for part in p.relative_to(nbs).parts)
        )
    missing = [str(f) for f in files if not f.exists() or f.suffix != '.ipynb']
    if missing:
        sys.exit(f'execute_nbs: no such notebook: {", ".join(missing)}')
    return files


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--path', nargs='*', default=[], help='notebooks to execute (default: every notebook in nbs/)')
    ap.add_argument('--flags', default='', help="test flags whose cells run too (e.g. 'slow'); default: none")
    ap.add_argument('--timeout', type=int, default=1800, help='seconds one cell may take')
    args = ap.parse_args()
    os.environ.pop('IN_TEST', None)  # the kernel inherits this environment: the notebooks' real settings
    os.chdir(ROOT)
    from nbdev.config import get_config

    skip_flags = set(get_config().tst_flags.split()) - set(args.flags.split())
    failed = []
    for f in notebooks(args.path):
        name = f.relative_to(ROOT) if f.is_relative_to(ROOT) else f
        try:
            skipped, secs = execute(f, skip_flags, args.timeout)
        except Exception as e:
            failed.append(str(name))
            what = f'{e.ename}: {e.evalue}' if getattr(e, 'ename', None) else f'{type(e).__name__}: {e}'
            print(
                f'FAIL {name}: {what.strip().splitlines()[-1] if what.strip() else what} (left unchanged)', flush=True
            )
            continue
        note = f'; not run: {", ".join(f"cell {i} ({w})" for i, w in skipped)}' if skipped else ''
        print(f'ok   {name} ({secs:.0f} s{note})', flush=True)
    if failed:
        print(f'execute_nbs: {len(failed)} failed: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
