"""The status page in a real browser (Debian's headless Chromium): what it shows,
escaped, and a progress bar drawn at the right width, on a sample snapshot. The
README's docs/status-page.png is the screenshot of a real daemon's page
(test_daemon_observed.py)."""
from __future__ import annotations

from typing import List, Tuple

from page_sample import TOTAL, WRITTEN, sample_snapshot
from PIL import Image

from testkit.observe import chromium_dom, chromium_screenshot

Pixel = Tuple[int, int, int]
TRACK: Pixel = (230, 233, 239)  # .bar background, #e6e9ef


def is_fill(pixel: Pixel) -> bool:
    """The bar's blue gradient, #2f7de1 to #38a3f1."""
    red, green, blue = pixel
    return red < 80 and 110 < green < 180 and blue > 210


def is_track(pixel: Pixel) -> bool:
    return all(abs(have - want) <= 6 for have, want in zip(pixel, TRACK, strict=True))


def bar_share(image: Image.Image) -> float:
    """The filled share of the first blue progress bar, measured in pixels along
    the row through its middle: blue run, then the grey track to its end."""
    width, height = image.size
    data = image.convert("RGB").tobytes()

    def row(y: int) -> List[Pixel]:
        start = 3 * width * y
        return [(data[i], data[i + 1], data[i + 2]) for i in range(start, start + 3 * width, 3)]
    rows = [y for y in range(height) if sum(map(is_fill, row(y))) > 20]
    assert rows, "no progress bar fill in the screenshot"
    pixels = row(rows[len(rows) // 2])
    start = next(x for x, pixel in enumerate(pixels) if is_fill(pixel))
    end = start
    while is_fill(pixels[end]):
        end += 1
    track_end = end
    while track_end < width and is_track(pixels[track_end]):
        track_end += 1
    assert track_end - end > 100, "no track after the fill"
    return (end - start) / (track_end - start)


def test_page_in_chromium(serve, tmp_path) -> None:
    url = serve(sample_snapshot).url
    dom = chromium_dom(url)
    # The title's markup is text: no script element came of it.
    assert "<script" not in dom
    assert "春节&lt;script&gt;alert('x')&lt;/script&gt;会员促销 🎉" in dom
    assert '<div class="fill" style="width: 14.3%"></div>' in dom
    assert dom.count('<span class="badge good">polling</span>') == 3
    assert "<strong>120,000</strong> / 838,308 rows (14.3 %)" in dom
    assert '<span class="badge bad">failed</span>' in dom
    assert "Unknown column 'vip_level'" in dom

    shot = chromium_screenshot(url, tmp_path / "status-page.png", width=1280, height=1040)
    with Image.open(shot) as image:
        assert image.size == (1280, 1040)
        assert abs(bar_share(image) - WRITTEN / TOTAL) < 0.01
