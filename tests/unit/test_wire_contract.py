"""The Java plugin and the Python side accept the same strategies and limits.

``reranker/contract.py`` is the one Python definition; the plugin spells the same contract in
``Strategy.java`` (enum constants, sent lower-case) and ``DivrankSearchExt.java`` (limits).
Reading the Java sources keeps this test free of a JVM; it fails when either side changes alone.
"""

from __future__ import annotations

import re

import pytest

from config.settings import REPO_ROOT
from reranker import contract
from reranker.app.schemas import StrategyName

JAVA = REPO_ROOT / "plugin" / "src" / "main" / "java" / "org" / "divrank" / "opensearch"


def _java(name: str) -> str:
    return (JAVA / name).read_text()


def java_strategies(source: str) -> tuple[str, ...]:
    body = re.search(r"public enum Strategy \{(.*?);", source, re.S)
    assert body is not None, "no enum body in Strategy.java"
    return tuple(c.strip().lower() for c in body.group(1).split(",") if c.strip())


def java_int(source: str, name: str) -> int:
    found = re.search(rf"static final int {name} = (\d+);", source)
    assert found is not None, f"{name} not found"
    return int(found.group(1))


def java_double(source: str, name: str) -> float:
    found = re.search(rf"static final double {name} = ([0-9.]+);", source)
    assert found is not None, f"{name} not found"
    return float(found.group(1))


def test_strategies_match_the_plugin_enum() -> None:
    assert java_strategies(_java("Strategy.java")) == contract.STRATEGIES


@pytest.mark.parametrize("name", ["MAX_WINDOW", "MAX_HISTORY"])
def test_limits_match_the_plugin(name: str) -> None:
    assert java_int(_java("DivrankSearchExt.java"), name) == getattr(contract, name)


def test_default_diversity_matches_the_plugin() -> None:
    java = java_double(_java("ProcessorConfig.java"), "DEFAULT_DIVERSITY_VALUE")
    assert java == contract.DEFAULT_DIVERSITY


def test_python_readers_use_the_contract() -> None:
    assert StrategyName.__args__ == contract.STRATEGIES  # type: ignore[attr-defined]
    from cli import pipeline
    from reranker.core.registry import STRATEGY_REGISTRY

    assert tuple(STRATEGY_REGISTRY) == contract.STRATEGIES
    from reranker.app.schemas import Knobs as WireKnobs
    from reranker.core.types import Knobs
    from reranker.hook.search import HookConfig

    defaults = (
        Knobs().diversity,
        WireKnobs().diversity,
        pipeline.PipelineConfig().default_diversity,
        HookConfig().default_diversity,
    )
    assert defaults == (contract.DEFAULT_DIVERSITY,) * 4
    with pytest.raises(ValueError, match="default_strategy"):
        pipeline.PipelineConfig(default_strategy="greedy")


def test_the_parsers_see_a_difference() -> None:
    assert java_strategies("public enum Strategy {\n    A,\n    B_C;\n") == ("a", "b_c")
    assert java_int("static final int X = 7;", "X") == 7
    assert java_double("static final double Y = 0.25;", "Y") == 0.25


def test_no_other_python_file_spells_the_strategy_list() -> None:
    spelled = re.compile(r"""["']personalized["'],\s*["']mmr["'],\s*["']dpp["']""")
    offenders = [
        str(p.relative_to(REPO_ROOT))
        for package in ("config", "indexer", "reranker", "evaluation", "training", "cli")
        for p in (REPO_ROOT / package).rglob("*.py")
        if p != REPO_ROOT / "reranker" / "contract.py" and spelled.search(p.read_text())
    ]
    assert not offenders, offenders




def test_lean_window_reads_the_id_field_the_indexer_writes() -> None:
    from indexer.items import ID_FIELD

    found = re.search(r'DEFAULTS = new LeanWindow\("([^"]+)"', _java("LeanWindow.java"))
    assert found is not None, "LeanWindow.DEFAULTS not found"
    assert found.group(1) == ID_FIELD
