"""A real headless browser for the HTML pages' tests: Debian's chromium, and a PNG reader.

The tests skip when there is no browser, unless IRMER_REQUIRE_BROWSER=1 (as
.ci/run sets once it has installed chromium): then a missing browser fails.
"""

from __future__ import annotations

import os
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")


def screenshot(page_html: str, folder: Path, width: int, height: int) -> bytes:
    """The page as headless chromium draws it, as PNG bytes."""
    if not CHROMIUM.exists():
        if os.environ.get("IRMER_REQUIRE_BROWSER") == "1":
            pytest.fail(f"IRMER_REQUIRE_BROWSER=1 but there is no browser at {CHROMIUM}")
        pytest.skip(f"no headless browser at {CHROMIUM} (set IRMER_REQUIRE_BROWSER=1 to make this a failure)")
    page = folder / "page.html"
    page.write_text(page_html, encoding="utf-8")
    shot = folder / "page.png"
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={folder / 'profile'}", f"--screenshot={shot}", f"--window-size={width},{height}",
               page.as_uri()]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert shot.exists(), f"no screenshot (exit {run.returncode}):\n{run.stderr[-2000:]}"
    return shot.read_bytes()


def png_rows(data: bytes) -> tuple[int, int, int, list[bytes]]:
    """Width, height, bytes per pixel and the unfiltered rows of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"unexpected PNG format {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    assert len(raw) == height * (stride + 1)
    rows, prior = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif kind == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prior))
        elif kind == 3:
            for i in range(stride):
                line[i] = (line[i] + ((line[i - bpp] if i >= bpp else 0) + prior[i]) // 2) & 255
        elif kind == 4:
            for i in range(stride):
                a, b = (line[i - bpp] if i >= bpp else 0), prior[i]
                c = prior[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prior = line
    return width, height, bpp, rows


def page_colours(data: bytes, width: int, height: int) -> set[bytes]:
    """The colours of a screenshot (sampled), after checking its size and that it is not blank."""
    assert len(data) > 20_000, f"a {len(data)}-byte screenshot is too small to hold the page"
    found_width, found_height, bpp, rows = png_rows(data)
    assert (found_width, found_height) == (width, height)
    colours, inked, sampled = set(), 0, 0
    for row in rows[::7]:
        for x in range(0, width * bpp, bpp * 5):
            pixel = row[x:x + 3]
            colours.add(pixel)
            sampled += 1
            inked += pixel != b"\xff\xff\xff"
    assert len(colours) > 50, f"only {len(colours)} colours: the page looks blank"
    assert 0.03 < inked / sampled < 0.9, f"{inked / sampled:.1%} of the page is drawn on"
    return colours
