"""The demo page in a real browser: real engine, real plugin pipeline, real background sidecar.

A few hundred Icecat products are indexed (``divrank index``, the real CLI) into a unique
alias, the scripted demo shoppers get profiles in a unique profiles alias, a unique pipeline
points at a sidecar started by :mod:`cli.nodes.sidecar` on a free port, and headless
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) uses ``/demo`` like a person:
types a query, moves the diversity slider, hovers a result. A screenshot lands in
``test-output/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opensearchpy import OpenSearch
from playwright.sync_api import Page, Playwright, sync_playwright
from typer.testing import CliRunner

from cli import pipeline
from cli.demo import build_demo_profiles
from cli.main import app
from cli.nodes import sidecar as sidecar_process
from config.settings import REPO_ROOT, Settings, get_settings
from reranker.app.demo_search import DEMO_USERS, search_body

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SLICE = 500  # Icecat products indexed
QUERY = "cable"  # several brands and categories in the slice: diversity has room to act
SCREENSHOTS = REPO_ROOT / "test-output"


@dataclass(frozen=True)
class Demo:
    url: str  # the sidecar's base URL
    alias: str
    pipeline: str
    engine: str
    client: OpenSearch


def _delete_prefixed(client: OpenSearch, prefix: str) -> None:
    for name in client.indices.get(index=f"{prefix}*", expand_wildcards="all"):
        if name.startswith(prefix):
            client.indices.delete(index=name, ignore_unavailable=True)


@pytest.fixture(scope="module")
def demo(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    prefix = f"t-demo-{uuid.uuid4().hex[:8]}"
    alias, profiles, pipe = f"{prefix}-items", f"{prefix}-profiles", f"{prefix}-pipe"
    workdir = tmp_path_factory.mktemp("demo")
    client = OpenSearch(engine, timeout=60)
    shared = get_settings()
    settings = Settings(opensearch_url=engine, cache_dir=workdir, profiles_alias=profiles)
    side = None
    try:
        indexed = subprocess.run(
            [sys.executable, "-m", "cli.main", "index", "--preset", "icecat", "--alias", alias,
             "--limit", str(SLICE), "--data-dir", str(shared.shared_data), "--no-progress",
             "--rejects", str(workdir / "rejects.jsonl"), "--url", engine],
            cwd=REPO_ROOT, env=dict(os.environ, HF_HUB_OFFLINE="1"), capture_output=True,
            text=True, timeout=600, check=False,
        )
        assert indexed.returncode == 0, indexed.stderr[-3000:]
        built = build_demo_profiles(client, alias, profiles, workdir / "events.jsonl",
                                    shared.cache_dir)
        assert built.profiles >= 2, built
        port = sidecar_process.free_port()
        side = sidecar_process.start(
            settings, host="127.0.0.1", port=port, timeout_s=90,
            env={"DIVRANK_OPENSEARCH_URL": engine, "DIVRANK_DEMO_ALIAS": alias,
                 "DIVRANK_DEMO_PIPELINE": pipe, "DIVRANK_PROFILES_ALIAS": profiles,
                 "DIVRANK_TOKEN": None},
        )
        assert side.ready and side.pid is not None
        pipeline.install(client, pipeline.PipelineConfig(
            name=pipe, sidecar_url=side.url, connect_timeout_ms=500, read_timeout_ms=10_000))
        yield Demo(side.url, alias, pipe, engine, client)
    finally:
        if side is not None:
            assert sidecar_process.stop(settings)
            assert not sidecar_process.pid_path(settings).exists()
        pipeline.delete(client, pipe)
        _delete_prefixed(client, prefix)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    assert Path(CHROMIUM).exists(), "apt-get install -y chromium (Debian's package)"
    with sync_playwright() as pw:
        yield pw


@pytest.fixture
def page(playwright: Playwright, tmp_path: Path) -> Iterator[Page]:
    """Debian's Chromium with a fresh user-data dir per test (never a downloaded browser)."""
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True,
        args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000},
    )
    opened = context.new_page()
    yield opened
    context.close()


def _wait_rendered(page: Page, query: str, diversity: str, user: str = "") -> None:
    page.wait_for_selector(
        f'body[data-query="{query}"][data-diversity="{diversity}"][data-user="{user}"]',
        timeout=30_000,
    )


def _column(page: Page, name: str) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = page.eval_on_selector_all(
        f"#{name} ol li",
        "els => els.map(li => ({id: li.dataset.id, "
        "meta: li.querySelector('.meta').textContent}))",
    )
    return rows


def _distinct(rows: list[dict[str, str]], part: int) -> int:
    values = {row["meta"].split(" · ")[part] for row in rows}
    return len(values)


def test_demo_page_columns_follow_the_slider(demo: Demo, page: Page) -> None:
    page.goto(f"{demo.url}/demo")
    page.wait_for_selector("body[data-rendered]", timeout=30_000)  # the default search
    options = page.eval_on_selector_all("#user option", "os => os.map(o => o.value)")
    assert options == ["", *(u.id for u in DEMO_USERS)]

    # A shopper types a query, then drags the slider to the far left: no user, no diversity.
    page.fill("#q", QUERY)
    page.press("#q", "Enter")
    page.focus("#div")
    page.keyboard.press("Home")
    _wait_rendered(page, QUERY, "0")
    assert page.input_value("#div") == "0" and page.text_content("#divv") == "0.00"
    engine, divrank = _column(page, "engine"), _column(page, "divrank")
    assert len(engine) == 10
    # no diversity: the learned relevance model's order, i.e. the pipeline's own answer; with
    # the model switched off, the engine's order
    def through(ext: dict[str, object]) -> list[str]:
        body = search_body(QUERY, 10, {"diversity": 0.0, **ext})
        resp = demo.client.transport.perform_request(
            "POST", f"/{demo.alias}/_search", params={"search_pipeline": demo.pipeline}, body=body)
        return [hit["_id"] for hit in resp["hits"]["hits"]]

    assert [r["id"] for r in divrank] == through({})
    assert through({"relevance_model": False}) == [r["id"] for r in engine]
    assert "re-ranked by" in (page.text_content("#status") or "")

    # Far right: the divrank column spreads over more brands and categories.
    page.keyboard.press("End")
    _wait_rendered(page, QUERY, "1")
    engine, divrank = _column(page, "engine"), _column(page, "divrank")
    assert [r["id"] for r in divrank] != [r["id"] for r in engine]
    brands = (_distinct(engine, 0), _distinct(divrank, 0))
    categories = (_distinct(engine, 1), _distinct(divrank, 1))
    assert brands[1] >= brands[0] and categories[1] >= categories[0], (brands, categories)
    assert brands[1] + categories[1] > brands[0] + categories[0], (brands, categories)
    # The column headers count what the lists show.
    assert page.get_attribute("#divrank", "data-brands") == str(brands[1])
    assert page.get_attribute("#engine", "data-categories") == str(categories[0])
    assert page.locator("#divrank .chips .chip").count() == brands[1] + categories[1]

    # Hovering a re-ranked result explains it.
    first = page.locator("#divrank ol li").first
    first.hover()
    why = first.locator(".why")
    assert why.is_visible()
    assert "fused score" in (why.text_content() or "")

    # Picking a shopper personalises the divrank column (the engine column stays as it was).
    page.select_option("#user", "demo-gamer")
    _wait_rendered(page, QUERY, "1", "demo-gamer")
    assert [r["id"] for r in _column(page, "engine")] == [r["id"] for r in engine]
    status = page.text_content("#status") or ""
    assert "for demo-gamer" in status, status
    assert "Gamer" in (page.text_content("#story") or "")

    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "demo-page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_demo_page_shows_a_clear_error_for_bad_input(demo: Demo, page: Page) -> None:
    page.goto(f"{demo.url}/demo")
    page.wait_for_selector("body[data-rendered]", timeout=30_000)
    page.fill("#q", "x" * 3000)
    page.click("#go")
    page.wait_for_function(
        "document.querySelector('#status').textContent.includes('query')", timeout=15_000
    )
    assert "at most 2048" in (page.text_content("#status") or "")


def test_cli_compare_prints_engine_and_divrank_columns(demo: Demo) -> None:
    args = ["demo", "compare", "-q", QUERY, "-u", "demo-gamer", "-u", "-", "--diversity", "1",
            "--alias", demo.alias, "--url", demo.engine, "--width", "120"]
    result = CliRunner().invoke(app, [*args, "--pipeline", demo.pipeline])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    heads = [line for line in lines if line.startswith("query ")]
    assert heads == [
        f"query '{QUERY}' · user Gamer · diversity 1.00 · divrank applied",
        f"query '{QUERY}' · user anonymous · diversity 1.00 · divrank applied",
    ]
    headers = [line for line in lines if line.startswith("engine order ") and " | divrank" in line]
    assert len(headers) == 2
    assert sum(1 for line in lines if " brands: " in line and " | " in line) == 2

    missing = CliRunner().invoke(app, [*args, "--pipeline", f"{demo.pipeline}-missing"])
    assert missing.exit_code == 1
    assert f"search pipeline '{demo.pipeline}-missing' is not installed" in missing.output
