"""Every registered report's PDF is legible: its table is drawn on white, apart from the chart.

Each PDF is rendered to images with PDFium (pypdfium2); on every page the table's area — from
its heading row down to its last line of text, margin to margin — is sampled: most of it must
be white, and none of it coloured like the chart's bars (fpdf2 keeps one fill colour for the
whole document, which once painted every table cell chart-blue).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from core.reports import REPORTS
from core.reports.run import render_report, report_frame

SCALE = 2  # pixels per PDF point
MARGIN_PT = 28.35  # fpdf2's default 10 mm margin


def _table_area(page: Any, heading: str) -> tuple[int, int, int, int] | None:
    """Pixel box of the table on the page: its heading row's top to its lowest text."""
    text = page.get_textpage()
    search = text.search(heading, match_case=True, match_whole_word=True)
    # The heading cell starts at the left margin (a chart title may use the same word).
    hits = iter(search.get_next, None)
    first = next((h for h in hits if text.get_charbox(h[0])[0] < MARGIN_PT + 8), None)
    if first is None:
        return None
    _left, _bottom, _right, top = text.get_charbox(first[0])
    lowest = min(text.get_charbox(i)[1] for i in range(text.count_chars()))
    width, height = page.get_size()
    return (
        int(MARGIN_PT * SCALE),
        int((height - top) * SCALE) - 4,
        int((width - MARGIN_PT) * SCALE),
        int((height - lowest) * SCALE),
    )


def _shares(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, float]:
    """Share of near-white pixels, and of coloured ones (a chart's bars, a filled cell), in the
    box; text, grid lines and the pale heading row are neither white nor coloured."""
    px = np.asarray(image.crop(box).convert("RGB"), dtype=np.int16)
    white = (px.min(axis=2) >= 240).mean()
    coloured = ((px.max(axis=2) - px.min(axis=2)) > 60).mean()
    return float(white), float(coloured)


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_table_is_on_white(figures_store: dict[str, Any], name: str) -> None:
    rt = figures_store["rt"]
    with rt.Session() as session:
        rendered = render_report(session, rt.settings, name, "pdf")
        heading = str(report_frame(session, rt.settings, name, None, None).columns[0])
    assert rendered.rows > 0, f"{name}: the store gives this report no rows to draw"
    doc = pdfium.PdfDocument(rendered.data)
    checked = 0
    for n in range(len(doc)):
        page = doc[n]
        box = _table_area(page, heading)
        if box is None:
            continue
        image = page.render(scale=SCALE).to_pil()
        white, coloured = _shares(image, box)
        assert white >= 0.5, f"{name} page {n + 1}: only {white:.0%} of the table is white"
        assert coloured <= 0.002, f"{name} page {n + 1}: {coloured:.1%} of the table coloured"
        checked += 1
    assert checked == len(doc), f"{name}: a table heading on {checked} of {len(doc)} pages"
