"""The HTML report: self-contained, bilingual, and its charts draw in Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from escucha.analytics import report
from escucha.analytics.report import DEFINITIONS, fmt_n, fmt_pct, fmt_s, fmt_time
from escucha.analytics.schemas import AnalysisOptions
from escucha.analytics.service import analyze_files, render_report
from escucha.i18n import catalog

DATA = Path(__file__).parent / "data"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _figures(html: str) -> dict[str, dict[str, object]]:
    m = re.search(r'<script type="application/json" id="figures">(.*?)</script>', html, re.S)
    assert m is not None
    figures: dict[str, dict[str, object]] = json.loads(m.group(1))
    return figures


def test_report_is_self_contained_and_in_spanish_by_default() -> None:
    html = render_report(analyze_files([DATA / "queue_log"]))
    assert '<html lang="es">' in html
    assert "Informe de llamadas" in html
    assert "Paciencia de los clientes" in html
    # Plotly's JS is inside the page: nothing is fetched from a CDN or any other host
    assert "Plotly" in html
    assert not re.search(r"<script[^>]+src=", html)
    figures = _figures(html)
    assert set(figures) == {"volume", "sl_asa", "abandon", "survival", "erlang"}
    survival = figures["survival"]["data"]
    assert isinstance(survival, list)
    assert any(trace.get("fill") == "tonexty" for trace in survival)  # the confidence band


def test_report_in_english_with_agent_table_and_bad_rows() -> None:
    result = analyze_files(
        [DATA / "queue_log", DATA / "queue_log_bad"], options=AnalysisOptions(lang="en")
    )
    html = render_report(result)
    assert '<html lang="en">' in html
    agents = html[html.index('<table id="agents">') :]
    agents = agents[: agents.index("</table>")]
    header = agents[: agents.index("</tr>")]
    # handle time stands right next to first-contact resolution and repeat contacts (C6)
    assert re.search(
        r"Average handle time \(AHT\)</th><th>First-contact resolution</th>"
        r"<th>Repeat contacts</th>",
        header,
    )
    assert "SIP/1001" in agents
    assert "queue_log_bad:4: &lt;row&gt;" in html  # escaped, file:line: column: reason
    assert "Occupancy" in header


def test_report_without_queued_calls_has_no_patience_charts(tmp_path: Path) -> None:
    f = tmp_path / "calls.csv"
    f.write_text("wait_s,answered,queued\n0,true,false\n", encoding="utf-8")
    html = render_report(analyze_files([f]))
    assert "chart-survival" not in html
    assert not {"abandon", "survival"} & set(_figures(html))


def test_chart_numbers_follow_the_report_language() -> None:
    """Axis ticks and hover numbers use the language's marks, as the tables do ("81,3 %")."""
    spanish = _figures(render_report(analyze_files([DATA / "queue_log"])))
    english = _figures(
        render_report(analyze_files([DATA / "queue_log"], options=AnalysisOptions(lang="en")))
    )
    for name, figure in spanish.items():
        assert figure["layout"]["separators"] == ",.", name  # type: ignore[index]
    for name, figure in english.items():
        assert figure["layout"]["separators"] == ".,", name  # type: ignore[index]


def test_formatters() -> None:
    assert fmt_pct(0.1234) == "12.3%"
    assert fmt_pct(0.1234, lang="es") == "12,3\u00a0%"
    assert fmt_pct(0.5, 0, "es") == "50\u00a0%"
    assert fmt_pct(None) == "—"
    assert fmt_s(12.34) == "12.3 s"
    assert fmt_s(900) == "15.0 min"
    assert fmt_s(float("nan")) == "—"
    assert fmt_n(1234567) == "1\u202f234\u202f567"
    assert fmt_n("x") == "—"
    assert fmt_time(0) == "1970-01-01 00:00"
    assert fmt_time(None) == "—"


def test_every_report_text_has_a_spanish_translation() -> None:
    """The report speaks through the Babel catalogs, as the screens do: every message id of its
    template and of its definitions has its Spanish text."""
    template = Path(report.__file__).parent / "templates" / "analytics_report.html"
    ids = set(re.findall(r'_\(\s*"([^"]+)"', template.read_text(encoding="utf-8")))
    ids |= {text for pair in DEFINITIONS for text in pair}
    assert len(ids) > 50
    assert sorted(i for i in ids if i not in catalog("es")) == []


@pytest.mark.browser
def test_report_charts_draw_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "report.html"
    page_file.write_text(
        render_report(analyze_files([DATA / "queue_log", DATA / "anonymous_bank.txt"])),
        encoding="utf-8",
    )
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            # offline: any request leaving the file is refused
            page.route(re.compile(r"^(?!file:).*"), lambda route: route.abort())
            page.goto(page_file.as_uri())
            page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 5")
            charts = page.locator(".js-plotly-plot")
            assert charts.count() == 5
            for i in range(charts.count()):
                # each chart drew its SVG and at least one trace
                assert charts.nth(i).locator(".main-svg").count() >= 1
                assert (
                    charts.nth(i).locator(".trace, .scatterlayer path, .barlayer path").count() >= 1
                )
            assert page.locator("#agents tr").count() >= 3
        finally:
            browser.close()
    assert errors == []
