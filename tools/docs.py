#!/usr/bin/env python
"""Build the documentation site offline: the notebooks as pages, the README as home page, an API reference, search.

Sphinx with myst-nb and the Sphinx Book Theme, all from PyPI (the `dev` extra), nothing fetched at build or view time.
Each notebook is rendered as committed (never executed here) after nbdev's own rules for docs: `#| hide` and
`#| default_exp` cells are left out, every `#| export` cell becomes the `show_doc` of what it defines with its source
folded under it, `#| ` directive lines are not shown. The API reference lists every name in each module's `__all__`
(signature and docstring, by Sphinx's autodoc). With the network, nbdev's own site is `nbdev_install_quarto && nbdev_docs`.

Usage: python tools/docs.py [--out _site] [--verbose] [--check]   (then open _site/html/index.html)
`--check` then opens the site in headless Chromium as nbs/38_docs.ipynb does (screenshots in _site/screenshots/).
"""

import argparse, ast, contextlib, hashlib, importlib, io, json, os, re, shutil, sys, time
from pathlib import Path
from execute_nbs import directives  # tools/execute_nbs.py: the same reading of `#| ` lines

ROOT = Path(__file__).resolve().parent.parent
_re_dir = re.compile(r'^\s*#\|\s*(.*?)\s*$')
_re_source_link = re.compile(r'^\[source\]\(.*?\)\{.*?\}\s*$', re.MULTILINE)  # show_doc's link to GitHub (online)
# repository-relative links in the README that are not pages of the site point at the repository instead
_re_md_link = re.compile(r'\]\((?!https?:|#|mailto:)([^)\s]+)\)')


def strip_directives(src: str) -> str:
    "The source without its leading `#| ` directive lines."
    lines = src.splitlines(True)
    i = 0
    while i < len(lines) and (_re_dir.match(lines[i]) or not lines[i].strip()):
        i += 1
    return ''.join(lines[i:])


def notebooks(nbs: Path) -> list:
    "The notebooks in reading order: `NN_*.ipynb` by number, then the others (train, tutorials/, index) by path."
    # Jupyter's autosaves live in .ipynb_checkpoints/ (a hidden folder): no file-name filter, so 20_checkpoint is a page
    files = [
        p for p in nbs.rglob('*.ipynb') if not any(part.startswith(('.', '_')) for part in p.relative_to(nbs).parts)
    ]
    numbered = sorted(p for p in files if p.parent == nbs and re.match(r'\d+_', p.name))
    return numbered + sorted(set(files) - set(numbered), key=lambda p: (p.name == 'index.ipynb', str(p)))


def page_name(nb: Path, nbs: Path) -> str:
    "The page's name in the site: the notebook's path under nbs/ without suffix (nbs/index.ipynb is `overview`)."
    rel = nb.relative_to(nbs).with_suffix('')
    return 'overview' if str(rel) == 'index' else rel.as_posix()


def _def_names(src: str) -> list:
    "Public functions and classes a cell defines (what nbdev documents with `show_doc`)."
    try:
        tree = ast.parse(src)
    except SyntaxError:
        return []
    defs = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return [o.name for o in tree.body if isinstance(o, defs) and not o.name.startswith('_')]


def show_doc_md(obj) -> str:
    "nbdev's `show_doc` of `obj` as Markdown, without the link to the online source."
    from nbdev.showdoc import show_doc

    try:
        md = show_doc(obj)._repr_markdown_()
    except Exception:  # annotations that cannot be evaluated (a string naming an unimported module): as written
        import inspect

        try:
            sig = str(inspect.signature(obj))
        except (TypeError, ValueError):
            sig = ''
        md = f'### {obj.__name__}\n\n```python\n{obj.__name__}{sig}\n```\n\n*{inspect.getdoc(obj) or ""}*\n'
    return re.sub(r'^\s*---\s*\n', '', _re_source_link.sub('', md)).strip() + '\n'


def md_cell(src: str) -> dict:
    "A Markdown cell (with an id, as nbformat 4.5 wants)."
    return {
        'cell_type': 'markdown',
        'id': 'doc' + hashlib.md5(src.encode()).hexdigest()[:12],
        'metadata': {},
        'source': src,
    }


def process_nb(nb: dict, module) -> dict:
    "The notebook as a docs page: hidden cells out, `show_doc` for exports, directive lines stripped, outputs kept."
    cells = []
    for cell in nb['cells']:
        if cell['cell_type'] != 'code':
            cells.append(cell)
            continue
        src = ''.join(cell['source'])
        d = directives(src)
        if d.keys() & {'hide', 'default_exp', 'exporti'} or d.get('include:') == ['false']:
            continue
        code = strip_directives(src)
        if not code.strip() and not cell.get('outputs'):
            continue
        cell = {**cell, 'source': code, 'metadata': {**cell.get('metadata', {})}}
        if d.keys() & {'export', 'exports'}:
            for name in _def_names(code):
                obj = getattr(module, name, None)
                if obj is not None:
                    cells.append(md_cell(show_doc_md(obj)))
            if 'export' in d:  # the source is there to read, folded (nbdev shows exports' docs, not their code)
                cell['metadata']['tags'] = sorted(set(cell['metadata'].get('tags', [])) | {'hide-input'})
        cells.append(cell)
    return {**nb, 'cells': cells}


def default_exp(nb: dict):
    "The module a notebook exports to (`#| default_exp`), or None."
    for cell in nb['cells']:
        if cell['cell_type'] == 'code':
            args = directives(''.join(cell['source'])).get('default_exp')
            if args:
                return args[0]
    return None


def readme_page(nb_pages: dict) -> str:
    "The README as the home page: links to notebooks become links to their pages, other repository files stay text."

    def link(m):
        target = m.group(1)
        path, _, anchor = target.partition('#')
        if path.startswith('nbs/') and path.endswith('.ipynb') and path[4:] in nb_pages:
            return f']({nb_pages[path[4:]]}.ipynb{"#" + anchor if anchor else ""})'
        return f']({target})' if not path else f'](<{target}>)'  # an anchor of this page, or a repository file

    text = (ROOT / 'README.md').read_text()
    text = _re_md_link.sub(link, text)
    # links to files of the repository that are not part of the site are shown as code, not as broken links
    text = re.sub(r'\[([^\]]+)\]\(<([^>]+)>\)', lambda m: f'{m.group(1)} (`{m.group(2)}`)', text)
    return text


def api_page(modules: list) -> str:
    "reStructuredText of the API reference: every module with a non-empty `__all__`, each name by autodoc."
    lines = ['API reference', '=============', '', 'Every name each module exports (its ``__all__``).', '']
    for mod in modules:
        m = importlib.import_module(f'resnet_nb.{mod}')
        names = [n for n in getattr(m, '__all__', []) if not n.startswith('_')]
        if not names:
            continue
        title = f'resnet_nb.{mod}'
        lines += [title, '-' * len(title), '', f'.. automodule:: resnet_nb.{mod}', '   :no-members:', '']
        for n in names:
            obj = getattr(m, n)
            kind = (
                'autoclass'
                if isinstance(obj, type)
                else 'autofunction'
                if callable(obj) and hasattr(obj, '__code__') or type(obj).__name__ == 'function'
                else 'autodata'
            )
            lines += [f'.. {kind}:: resnet_nb.{mod}.{n}']
            if kind == 'autoclass':
                lines += ['   :members:', '   :no-inherited-members:']
            if kind == 'autodata':
                lines += ['   :annotation:']
            lines += ['']
    return '\n'.join(lines)


CONF = """
import re
project = "resnet_nb"
html_title = "resnet_nb"
extensions = ["myst_nb", "sphinx.ext.autodoc"]
nb_execution_mode = "off"              # notebooks are shown as committed
nb_merge_streams = True
nb_render_markdown_format = "myst"     # show_doc and other Markdown outputs
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
html_theme = "sphinx_book_theme"
html_theme_options = {"show_toc_level": 2, "use_download_button": False, "use_fullscreen_button": False,
                      "navigation_with_keys": False, "max_navbar_depth": 1}  # the sidebar lists pages, not sections
html_copy_source = False
html_show_sourcelink = False
html_last_updated_fmt = None
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_inherit_docstrings = False     # not torch's docstring of every forward()
exclude_patterns = ["_build"]
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "myst.xref_missing", "toc.not_included"]


def _md_docstring(app, what, name, obj, options, lines):
    "Docstrings are Markdown (nbdev's style): `code` becomes a literal, other reST markup is escaped."
    if what == "data" and "\\n".join(lines).strip() == (type(obj).__doc__ or "").strip():
        lines[:] = []  # a value without a docstring of its own: not its type's docstring
        return
    for i, line in enumerate(lines):
        parts = re.split(r"(`[^`]+`)", line)
        lines[i] = "".join(
            f"``{p[1:-1]}``\\\\ " if p.startswith("`") and p.endswith("`") and len(p) > 1
            else re.sub(r"([\\\\*|_])", r"\\\\\\1", p)
            for p in parts
        ).lstrip()


def setup(app):
    app.connect("autodoc-process-docstring", _md_docstring)
"""


def prepare(src: Path) -> list:
    "Write the site's sources into `src`: conf.py, index.md (README), the processed notebooks, api.rst; return pages."
    sys.path.insert(0, str(ROOT))
    nbs = ROOT / 'nbs'
    if src.exists():
        shutil.rmtree(src)
    src.mkdir(parents=True)
    (src / 'conf.py').write_text(CONF)
    files = notebooks(nbs)
    pages = {f.relative_to(nbs).as_posix(): page_name(f, nbs) for f in files}
    modules = []
    for f in files:
        nb = json.loads(f.read_text())
        mod = default_exp(nb)
        module = importlib.import_module(f'resnet_nb.{mod}') if mod else None
        if mod:
            modules.append(mod)
        out = process_nb(nb, module)
        text = json.dumps(out, indent=1, ensure_ascii=False)
        dest = src / (pages[f.relative_to(nbs).as_posix()] + '.ipynb')
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text.replace('](index.ipynb', '](overview.ipynb'))  # nbdev's index page is `overview`
    tutorials = [
        v for v in pages.values() if v.startswith('tutorials/')
    ]  # after the numbered notebooks, a group of their own
    toc = '\n'.join(v for v in pages.values() if v not in tutorials)
    home = readme_page(pages)
    home += f'\n\n```{{toctree}}\n:caption: Notebooks\n:maxdepth: 1\n:hidden:\n\n{toc}\n```\n'
    if tutorials:
        home += '\n```{toctree}\n:caption: Tutorials\n:maxdepth: 1\n:hidden:\n\n' + '\n'.join(tutorials) + '\n```\n'
    home += '\n```{toctree}\n:caption: Reference\n:maxdepth: 1\n:hidden:\n\napi\n```\n'
    (src / 'index.md').write_text(home)
    (src / 'api.rst').write_text(api_page(modules))
    return list(pages.values())


_re_remote = re.compile(r'^\s*(?:[a-z][a-z0-9+.-]*:)?//', re.IGNORECASE)  # http://, https://, //host: another host
_re_css_url = re.compile(r'@import\s+(?:url\(\s*)?["\']?([^"\')\s;]+)|url\(\s*["\']?([^"\')\s]+)', re.IGNORECASE)
_LOADS = {'link': 'href', 'script': 'src', 'img': 'src', 'iframe': 'src', 'source': 'src', 'embed': 'src'}
_NOT_LOADED = {'canonical', 'alternate', 'next', 'prev', 'search', 'index', 'author', 'license', 'help', 'bookmark'}


def css_urls(css: str) -> list:
    "The addresses a style sheet loads: its `@import`s and `url()`s."
    return [a or b for a, b in _re_css_url.findall(css)]


def page_loads(html: str) -> list:
    "The addresses an HTML page loads: `link` (not a navigation `rel`), `script`, `img`, `iframe` sources and its CSS."
    from html.parser import HTMLParser

    found = []

    class Loads(HTMLParser):
        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            rel = set((a.get('rel') or '').lower().split())
            if tag in _LOADS and a.get(_LOADS[tag]) and not (tag == 'link' and rel and rel <= _NOT_LOADED):
                found.append(a[_LOADS[tag]])
            found.extend(css_urls(a.get('style') or ''))
            self.in_style = tag == 'style'

        def handle_data(self, data):
            if getattr(self, 'in_style', False):
                found.extend(css_urls(data))

        def handle_endtag(self, tag):
            self.in_style = False

    Loads(convert_charrefs=True).feed(html)
    return found


def external_resources(html_dir: Path) -> list:
    "Every script, stylesheet, font, image or frame the site would fetch from another host: (file, url). Text shown on a page (a code cell) is not loaded."
    found = []
    for f in sorted(html_dir.rglob('*')):
        if f.suffix in ('.html', '.css') and f.is_file():
            text = f.read_text(errors='replace')
            urls = page_loads(text) if f.suffix == '.html' else css_urls(text)
            found += [(str(f.relative_to(html_dir)), u[:120]) for u in urls if _re_remote.match(u)]
    return found


def missing_api_names(html_dir: Path, src: Path) -> list:
    "Names of the API page's sources that the built API page does not document (no anchor `resnet_nb.mod.name`)."
    html = (html_dir / 'api.html').read_text()
    want = re.findall(r'^\.\. auto\w+:: (resnet_nb\.\w+\.\w+)$', (src / 'api.rst').read_text(), re.MULTILINE)
    return [n for n in want if f'id="{n}"' not in html]


def build(out: Path = ROOT / '_site', quiet: bool = True) -> Path:
    "Build the site into `out/html` (sources in `out/src`); return the folder. Raises RuntimeError on any failure."
    src, html = out / 'src', out / 'html'
    if why := tools_missing():
        raise RuntimeError(why)
    prepare(src)
    from sphinx.cmd.build import build_main

    # in this process: the package is imported once, for show_doc and for autodoc
    err = io.StringIO()
    with contextlib.redirect_stderr(err) if quiet else contextlib.nullcontext():
        rc = build_main(['-b', 'html', '-E', *(['-q'] if quiet else []), str(src), str(html)])
    if rc:
        raise RuntimeError(f'sphinx failed ({rc}):\n{err.getvalue()[-3000:]}')
    ext = external_resources(html)
    if ext:
        raise RuntimeError('pages would fetch from other hosts: ' + '; '.join(f'{f}: {u}' for f, u in ext[:10]))
    missing = missing_api_names(html, src)
    if missing:
        raise RuntimeError(f'API reference lacks: {", ".join(missing)}')
    return html


CHROMIUM, CHROMEDRIVER = '/usr/bin/chromium', '/usr/bin/chromedriver'
CHROME_FLAGS = [
    '--headless=new',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-dev-shm-usage',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--window-size=1280,900',
]


def browser_missing():
    "Why the site cannot be built and checked here (Debian's chromium and chromium-driver, the `dev` extra), or None."
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    if missing:
        return f'{" and ".join(missing)} not installed (apt-get install chromium chromium-driver)'
    return tools_missing(('selenium',))


def tools_missing(extra=()):
    "Which Python packages of the `dev` extra that the site needs are not installed, as one line, or None."
    import importlib.util

    missing = [m for m in ('sphinx', 'myst_nb', 'sphinx_book_theme', *extra) if importlib.util.find_spec(m) is None]
    return f'{", ".join(missing)} not installed (pip install -e ".[dev]")' if missing else None


class _Quiet(__import__('http.server').server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path):
    "Serve `folder` over loopback in a daemon thread; return (server, base URL ending in /)."
    import functools, http.server, threading

    srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f'http://127.0.0.1:{srv.server_address[1]}/'


MIN_SCALE = 0.9  # a figure shown smaller than this share of the width it was drawn for is too small to read
_JS_IMAGES = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.images);
imgs.forEach(i => { i.loading = 'eager'; });
const drawn = i => parseFloat(i.style.width) || parseFloat(i.getAttribute('width')) || i.naturalWidth;
Promise.allSettled(imgs.map(i => i.decode())).then(() => done(
  imgs.map(i => [i.currentSrc || i.src, i.complete && i.naturalWidth > 0, i.getBoundingClientRect().width, drawn(i),
                 !!i.closest('article')])));
"""


def save_figure_shot(drv, path: Path) -> None:
    "A screenshot of the page's first figure as it is shown (no sticky header over it), cut to the figure's box in view."
    from PIL import Image

    box = drv.execute_script(
        "document.querySelectorAll('header, .bd-header-article').forEach(e => e.style.position = 'static');"
        "const i = document.querySelector('article img'); i.scrollIntoView({block: 'start', behavior: 'instant'});"
        'const r = i.getBoundingClientRect();'
        'return [r.left, r.top, r.right, Math.min(r.bottom, window.innerHeight), window.devicePixelRatio];'
    )
    shot = Image.open(io.BytesIO(drv.get_screenshot_as_png()))
    shot.crop(tuple(round(v * box[4]) for v in box[:4])).save(path)


def check_site(html: Path, shots: Path, names=('linear_cka',), extra_pages=(), timeout: float = 20) -> dict:
    """Open the site in headless Chromium: pages linked from the index and loading, images and in-site links that work,
    nothing fetched from another host, the search finding each of `names`; save screenshots. Returns the problems."""
    import tempfile, urllib.error, urllib.request
    from urllib.parse import urldefrag
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    os.environ.setdefault('SE_OFFLINE', 'true')  # Selenium Manager never downloads a driver or browser
    pages = [page_name(f, ROOT / 'nbs') + '.html' for f in notebooks(ROOT / 'nbs')]
    problems = {'not linked from the index': [], 'pages not loading': [], 'broken images': [], 'broken links': [],
                'fetched from other hosts': [], 'search finds nothing for': [], 'figures shrunk to fit the page': []}  # fmt: skip
    shots.mkdir(parents=True, exist_ok=True)
    srv, base = serve(html)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in CHROME_FLAGS:
        opts.add_argument(a)
    with tempfile.TemporaryDirectory() as profile:
        opts.add_argument(f'--user-data-dir={profile}')
        drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        try:
            drv.set_page_load_timeout(timeout)
            drv.set_script_timeout(timeout)
            links_seen = set()

            def visit(url):
                drv.get(url)
                if drv.title.startswith('Error response') or 'Error code: 404' in drv.page_source[:2000]:
                    problems['pages not loading'].append(url[len(base) :])
                    return []
                figures = 0
                for src, ok, shown, drawn, in_article in drv.execute_async_script(_JS_IMAGES):
                    if not ok:
                        problems['broken images'].append(f'{url[len(base) :]}: {src.removeprefix(base)}')
                    figures += in_article
                    if ok and in_article and shown < MIN_SCALE * drawn:  # its 9 pt text under 9 * MIN_SCALE pt
                        problems['figures shrunk to fit the page'].append(
                            f'{url[len(base) :]}: figure {figures} at {shown / drawn:.0%} of its size'
                        )
                for r in drv.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"):
                    if not r.startswith(base) and not r.startswith('data:'):
                        problems['fetched from other hosts'].append(f'{url[len(base) :]}: {r}')
                hrefs = drv.execute_script("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
                return [urldefrag(h)[0] for h in hrefs]

            index_links = set(visit(base + 'index.html'))
            drv.save_screenshot(str(shots / 'index.png'))
            problems['not linked from the index'] = [p for p in pages if base + p not in index_links]
            for p in pages + ['api.html', *extra_pages]:
                links_seen.update(visit(base + p))
                if p == '25_inspect.html':
                    drv.save_screenshot(str(shots / 'inspect.png'))
                    drv.execute_script(
                        "const i = document.querySelector('article img'); if (i) i.scrollIntoView({block: 'center', behavior: 'instant'});"
                    )
                    drv.save_screenshot(str(shots / 'inspect_figure.png'))
                if p == 'study.html':  # the study's grid of matrices as the page shows it, pixel for pixel
                    save_figure_shot(drv, shots / 'study_figure.png')
            for link in sorted(links_seen | index_links):
                if link.startswith(base):
                    try:
                        urllib.request.urlopen(urllib.request.Request(link, method='HEAD'), timeout=timeout).close()
                    except urllib.error.URLError:
                        problems['broken links'].append(link[len(base) :])
            for name in names:
                drv.get(f'{base}search.html?q={name}')
                try:
                    WebDriverWait(drv, timeout).until(
                        lambda d: d.execute_script(
                            "const s = document.querySelector('#search-results'); "
                            'return s && /Search finished|found/i.test(s.innerText)'
                        )
                    )
                    found = drv.execute_script(
                        "return Array.from(document.querySelectorAll('#search-results li a')).map(a => a.href)"
                    )
                except Exception:
                    found = []
                if not any(name in h for h in found):
                    problems['search finds nothing for'].append(name)
            drv.save_screenshot(str(shots / 'search.png'))
        finally:
            drv.quit()
            srv.shutdown()
    return {k: v for k, v in problems.items() if v}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', default=str(ROOT / '_site'), help='folder to build into (html/ and src/ inside)')
    ap.add_argument('--verbose', action='store_true', help="show Sphinx's own output")
    ap.add_argument('--check', action='store_true', help='then open it in headless Chromium (as the docs test does)')
    args = ap.parse_args()
    t = time.time()
    try:
        html = build(Path(args.out).absolute(), quiet=not args.verbose)
    except RuntimeError as e:
        print(f'docs: {e}', file=sys.stderr)
        return 1
    print(f'docs: built {html / "index.html"} in {time.time() - t:.0f} s')
    if args.check:
        why = browser_missing()
        if why:
            print(f'docs: cannot check in a browser: {why}', file=sys.stderr)
            return 1
        t = time.time()
        problems = check_site(html, Path(args.out).absolute() / 'screenshots')
        for k, v in problems.items():
            print(f'docs: {k}: {", ".join(v[:10])}{" ..." if len(v) > 10 else ""}', file=sys.stderr)
        print(f'docs: browser check {"failed" if problems else "passed"} in {time.time() - t:.0f} s')
        return 1 if problems else 0
    return 0


if __name__ == '__main__':
    sys.exit(main())
