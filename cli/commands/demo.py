"""``divrank demo``: scripted shoppers, side-by-side pages in the terminal, a background sidecar.

``make demo`` runs ``divrank demo sidecar start``, indexes the catalog, installs the pipeline
and ends with ``divrank demo run``; ``make down`` runs ``divrank demo sidecar stop``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from config.settings import get_settings

app = typer.Typer(help="The demo: scripted shoppers, engine vs divrank pages, the sidecar.")
sidecar_app = typer.Typer(help="Run the sidecar in the background (pid file and log in .cache/).")
app.add_typer(sidecar_app, name="sidecar")

ANONYMOUS = "-"

AliasOption = Annotated[
    str | None, typer.Option("--alias", help="Items alias (default DIVRANK_DEMO_ALIAS, icecat).")
]
PipelineOption = Annotated[
    str | None,
    typer.Option("--pipeline", help="Search pipeline (default DIVRANK_DEMO_PIPELINE, divrank)."),
]
UrlOption = Annotated[
    str | None, typer.Option("--url", help="Engine URL (default DIVRANK_OPENSEARCH_URL).")
]
DiversityOption = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="ext.divrank.diversity of the divrank page.")
]
WidthOption = Annotated[
    int | None, typer.Option(min=60, help="Output width (default: the terminal's).")
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(1)


def _say(message: str) -> None:
    typer.echo(f"[demo] {message}", err=True)


def _client(url: str | None) -> Any:
    from config.connection import EngineUnavailable, connect

    try:
        return connect(get_settings(), url, timeout=30.0)
    except EngineUnavailable as exc:
        raise _fail(str(exc)) from None


def _labels() -> dict[str, str]:
    from reranker.app.demo_search import DEMO_USERS

    return {u.id: u.label for u in DEMO_USERS}


def _user_ids(users: list[str] | None) -> list[str | None]:
    from reranker.app.demo_search import DEMO_PAIR

    labels = _labels()
    chosen: list[str | None] = []
    for user in users or list(DEMO_PAIR):
        if user == ANONYMOUS:
            chosen.append(None)
        elif user not in labels:
            raise _fail(f"--user {user!r}: use one of {', '.join(labels)} or '-' (anonymous)")
        else:
            chosen.append(user)
    return chosen


@app.command()
def users() -> None:
    """List the scripted demo shoppers."""
    from reranker.app.demo_search import DEMO_USERS

    for user in DEMO_USERS:
        picks = ", ".join(f"{kw} ×{n}" for kw, n in user.picks)
        typer.echo(f"{user.id:<18} {user.label:<24} {picks}")


@app.command("index-ready")
def index_ready(alias: AliasOption = None, url: UrlOption = None) -> None:
    """Exit 0 when the alias holds documents, 1 otherwise (make demo indexes only then)."""
    from cli.demo import index_ready as count_docs

    settings = get_settings()
    target = alias or settings.demo_alias
    docs = count_docs(_client(url), target)
    if docs == 0:
        typer.echo(f"{target}: not indexed yet", err=True)
        raise typer.Exit(1)
    typer.echo(f"{target}: {docs} documents", err=True)


def _build_profiles(client: Any, alias: str, events: Path | None) -> None:
    from cli.demo import build_demo_profiles
    from reranker.app.demo_search import DemoError

    settings = get_settings()
    path = events or settings.cache_dir / "demo" / "events.jsonl"
    try:
        built = build_demo_profiles(client, alias, settings.profiles_alias, path,
                                    settings.cache_dir, say=_say)
    except DemoError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"{built.profiles} demo profiles in {built.profiles_index} "
               f"(alias {settings.profiles_alias}); events: {built.events_path}")


@app.command()
def profiles(
    alias: AliasOption = None,
    events: Annotated[
        Path | None, typer.Option(help="Where to write the events JSONL (default .cache/demo/).")
    ] = None,
    url: UrlOption = None,
) -> None:
    """Pick the shoppers' histories from the catalog and build their profiles."""
    _build_profiles(_client(url), alias or get_settings().demo_alias, events)


def _print_comparisons(
    client: Any,
    alias: str,
    pipeline: str,
    queries: list[str],
    user_ids: list[str | None],
    diversity: float,
    size: int,
    width: int | None,
    as_json: bool,
) -> list[Any]:
    from cli.demo import format_comparison
    from reranker.app.demo_search import DemoError, compare

    labels = _labels()
    results = []
    for query in queries:
        for user_id in user_ids:
            try:
                result = compare(client, alias, pipeline, query, user_id, diversity, size)
            except DemoError as exc:
                raise _fail(str(exc)) from None
            results.append(result)
            if not as_json:
                label = labels.get(user_id, "anonymous") if user_id else "anonymous"
                typer.echo("")
                for line in format_comparison(result, label, width):
                    typer.echo(line)
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in results], indent=2))
    return results


@app.command("compare")
def compare_pages(
    query: Annotated[
        list[str] | None, typer.Option("--query", "-q", help="Query (repeatable).")
    ] = None,
    user: Annotated[
        list[str] | None,
        typer.Option("--user", "-u", help="Demo user id, or '-' for anonymous (repeatable)."),
    ] = None,
    diversity: DiversityOption = 0.6,
    size: Annotated[int, typer.Option(min=1, max=50, help="Hits per page.")] = 10,
    alias: AliasOption = None,
    pipeline: PipelineOption = None,
    width: WidthOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the pages as JSON.")] = False,
    url: UrlOption = None,
) -> None:
    """Engine page next to the divrank page, with brand and category counts."""
    from reranker.app.demo_search import DEMO_QUERIES

    settings = get_settings()
    user_ids = _user_ids(user)  # a typo fails before any connection
    _print_comparisons(
        _client(url), alias or settings.demo_alias, pipeline or settings.demo_pipeline,
        query or list(DEMO_QUERIES), user_ids, diversity, size, width, as_json,
    )


@app.command()
def run(
    diversity: DiversityOption = 0.6,
    alias: AliasOption = None,
    pipeline: PipelineOption = None,
    skip_profiles: Annotated[
        bool, typer.Option("--skip-profiles", help="Keep the profiles already built.")
    ] = False,
    width: WidthOption = None,
    url: UrlOption = None,
) -> None:
    """Build the demo profiles, then print 3 queries × 2 users, engine vs divrank."""
    from cli.demo import index_ready
    from cli.nodes.sidecar import status
    from reranker.app.demo_search import DEMO_QUERIES

    settings = get_settings()
    target = alias or settings.demo_alias
    client = _client(url)
    if index_ready(client, target) == 0:
        raise _fail(f"alias {target!r} holds no catalog yet: "
                    f"`divrank index --preset icecat --alias {target}` (or `make demo`)")
    if not skip_profiles:
        _build_profiles(client, target, None)
    results = _print_comparisons(
        client, target, pipeline or settings.demo_pipeline, list(DEMO_QUERIES),
        _user_ids(None), diversity, 10, width, as_json=False,
    )
    degraded = [r for r in results if r.degraded or not r.applied]
    typer.echo("")
    if degraded:
        reasons = ", ".join(sorted({str(r.reason) for r in degraded}))
        typer.echo(f"warning: divrank fell back to engine order on {len(degraded)} of "
                   f"{len(results)} pages ({reasons}); is the sidecar up? "
                   "`divrank demo sidecar status`", err=True)
    side = status(settings)
    hint = "" if side.answering else "  (sidecar not running: `divrank demo sidecar start`)"
    typer.echo(f"demo page: {side.url}/demo{hint}")


@sidecar_app.command("start")
def sidecar_start(
    host: Annotated[str | None, typer.Option(help="Bind address (default DIVRANK_HOST).")] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="Port (default DIVRANK_PORT).")
    ] = None,
    timeout: Annotated[float, typer.Option(min=1.0, help="Seconds to wait for /readyz.")] = 60.0,
) -> None:
    """Start `divrank serve` in the background and wait until /readyz; prints its URL."""
    from cli.nodes.sidecar import SidecarError, start

    try:
        state = start(get_settings(), host, port, timeout, report=_say)
    except SidecarError as exc:
        raise _fail(str(exc)) from None
    _say(f"sidecar ready at {state.url} (pid {state.pid})")
    typer.echo(state.url)


@sidecar_app.command("stop")
def sidecar_stop() -> None:
    """Stop the background sidecar by pid (no-op when none runs)."""
    from cli.nodes.sidecar import stop

    stop(get_settings(), report=_say)


@sidecar_app.command("status")
def sidecar_status() -> None:
    """Print the sidecar's URL, pid and readiness; exit 1 when nothing answers."""
    from cli.nodes.sidecar import status

    state = status(get_settings())
    checks = ",".join(f"{k}={v}" for k, v in state.checks.items()) or "-"
    typer.echo(f"url={state.url} pid={state.pid or '-'} answering={state.answering} "
               f"ready={state.ready} checks={checks}")
    if not state.answering:
        raise typer.Exit(1)


@sidecar_app.command("url")
def sidecar_url() -> None:
    """Print the URL the pipeline should call (the running sidecar's, else the configured one)."""
    from cli.nodes.sidecar import status

    typer.echo(status(get_settings()).url)
