"""What every HTML page shares: its templates, plotly.js inline, and the error without the extra.

A page is one file that opens from `file://` on a machine without network: the styles, the script
and the data are in it, and so is plotly.js (the chart library shipped inside the `plotly`
package), gzip-compressed and base64-encoded (4.8 MB becomes 2 MB) and unpacked by the browser's
own `DecompressionStream`; the packed copy is kept in `~/.cache/fixingahole/`. Charts are plotly
figure documents (`{"data": [...], "layout": {...}}`) built here as plain dicts: the Python
`plotly` package is never imported, only its copy of the JavaScript read. Templates live in
`templates/` and are rendered by jinja2 with autoescaping.
"""

from __future__ import annotations

import base64
import functools
import gzip
import importlib.util
import json
import os
import threading
from contextlib import suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole import __version__
from fixingahole.errors import UserError

if TYPE_CHECKING:
    import jinja2

EXTRA = "pip install 'fixingahole[html]'"
TEMPLATES = Path(__file__).with_name("templates")
PLOTLY_JS = Path("package_data") / "plotly.min.js"
_bundle_lock = threading.Lock()


def require_html() -> None:
    """Raise a one-line error naming the extra when the page libraries are not installed."""
    for module in ("jinja2", "plotly"):
        try:
            missing = importlib.util.find_spec(module) is None
        except ImportError:
            missing = True
        if missing:
            raise UserError(f"HTML pages need the html extra ({module} is missing): {EXTRA}")


def html_available() -> bool:
    """True when pages can be written (the html extra is installed)."""
    try:
        require_html()
    except UserError:
        return False
    return True


def plotly_bundle() -> str:
    """plotly.js, gzip-compressed and base64-encoded; computed once per process."""
    with _bundle_lock:
        return _plotly_bundle()


@functools.cache
def _plotly_bundle() -> str:
    """Packed once per installed plotly.js and kept in the user's cache folder (packing takes
    0.1-0.2 s, reading it back a few milliseconds); computed anew when the cache cannot be used."""
    source = _plotly_js()
    stat = source.stat()
    cached = _cache_folder() / f"plotly.min.js-{stat.st_size}-{stat.st_mtime_ns}.gz.b64"
    with suppress(OSError):
        return cached.read_text(encoding="ascii")
    packed = gzip.compress(source.read_bytes(), compresslevel=6, mtime=0)
    text = base64.b64encode(packed).decode("ascii")
    with suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="ascii")
        os.replace(tmp, cached)
    return text


def _plotly_js() -> Path:
    spec = importlib.util.find_spec("plotly")
    for folder in list(spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / PLOTLY_JS
        if path.is_file():
            return path
    raise UserError(f"the plotly package has no {PLOTLY_JS.as_posix()}; reinstall it: {EXTRA}")


def _cache_folder() -> Path:
    """`$XDG_CACHE_HOME/fixingahole`, by default `~/.cache/fixingahole`."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fixingahole"


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["json"] = script_json
    return env


def render_page(template: str, title: str, charts: list[dict[str, Any]], **context: Any) -> str:
    """A whole page: `template` (extending base.html.j2) with its charts and the shared assets.

    Each chart is `{"id": <div id>, "data": [...], "layout": {...}}`; the page draws them once
    plotly.js is unpacked, and sets `data-ready` on `<body>` when they are drawn. The footer
    names fixing-a-hole's version and when the page was written."""
    require_html()
    env = _environment()
    return env.get_template(template).render(
        title=title,
        charts=charts,
        version=__version__,
        written=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        style=(TEMPLATES / "page.css").read_text(encoding="utf-8"),
        script=(TEMPLATES / "page.js").read_text(encoding="utf-8"),
        plotly=plotly_bundle() if charts else "",
        **context,
    )


def script_json(value: Any) -> Any:
    """JSON safe to stand inside a `<script>` element (no `</script>`, no `<!--`)."""
    from markupsafe import Markup

    text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


def write_page(path: Path, html: str) -> None:
    """Write a page (UTF-8), with a one-line error when the file cannot be written."""
    try:
        Path(path).write_text(html, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None


def preload() -> None:
    """Import the template engine and pack plotly.js now (a background thread calls this while
    the profiled script runs, so that writing the page afterwards is quick)."""
    if html_available():
        _environment()
        plotly_bundle()
