"""Pages for people: every HTML page comes from a Jinja2 template in pages/templates/, with one stylesheet.

The pages (the rendered criteria, the diff, the audit report, the service's
interview) share `static/style.css`: its base rules (type, tables, badges,
sections) come first, each page's own rules after, under a class on <body>. A
page is self-contained: the stylesheet is written into it, and nothing is
fetched from the internet.

>>> html = render("base.html", title="A page", page="example")
>>> "<title>A page</title>" in html and "--ink" in html
True
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


@lru_cache(maxsize=1)
def environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
    from ..tools.markup import code_spans
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html", "svg"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    # Prose with `code` spans, as (is code, text) pieces: macros.html's `prose` sets the code in <code>.
    env.filters["code_spans"] = code_spans
    return env


@lru_cache(maxsize=1)
def stylesheet() -> str:
    """The one stylesheet of every page."""
    return (HERE / "static" / "style.css").read_text(encoding="utf-8")


def render(template: str, **context: Any) -> str:
    """A page from its template; `stylesheet` is given to every template."""
    return environment().get_template(template).render(stylesheet=stylesheet(), **context)
