"""docker-compose.yml cannot run here (no Docker engine): validate it as far as possible.

The Compose JSON schema comes from the `docker-compose==1.29.2` wheel on PyPI
(`compose/config/compose_spec.json`), downloaded once into .cache/schemas.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile

import jsonschema
import pytest
import typer.main
import yaml

from cli.main import app
from config.settings import REPO_ROOT

SCHEMA_CACHE = REPO_ROOT / ".cache" / "schemas"


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, object]:
    target = SCHEMA_CACHE / "compose_spec.json"
    if not target.exists():
        SCHEMA_CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "docker-compose==1.29.2",
                "-d",
                str(SCHEMA_CACHE),
            ],
            check=True,
        )
        wheel = next(SCHEMA_CACHE.glob("docker_compose-1.29.2-*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            target.write_bytes(zf.read("compose/config/compose_spec.json"))
    return json.loads(target.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    return yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())


def _validate(document: dict, schema: dict) -> None:
    # The schema declares draft 2019-09; name the validator so no metaschema lookup happens.
    jsonschema.Draft201909Validator(schema).validate(document)


def test_compose_file_matches_the_compose_schema(compose: dict, compose_schema: dict) -> None:
    _validate(compose, compose_schema)


def test_schema_rejects_a_broken_service(compose: dict, compose_schema: dict) -> None:
    broken = json.loads(json.dumps(compose))
    broken["services"]["sidecar"]["ports"] = {"not": "a list"}
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken, compose_schema)


def test_build_contexts_and_dockerfiles_exist(compose: dict) -> None:
    services = compose["services"]
    assert {"opensearch", "sidecar", "indexer"} <= set(services)
    for name, service in services.items():
        build = service["build"]
        context = (REPO_ROOT / build["context"]).resolve()
        dockerfile = context / build.get("dockerfile", "Dockerfile")
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        target = build.get("target")
        if target:
            stages = re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", dockerfile.read_text(), re.M | re.I)
            assert target in stages, f"{name}: stage {target} not in {dockerfile}"
        assert "healthcheck" in service or name == "indexer"


def test_plugin_dockerfile_copies_the_zip_maven_builds() -> None:
    pom = (REPO_ROOT / "plugin" / "pom.xml").read_text()
    version = re.search(r"<artifactId>divrank</artifactId>\s*<version>([^<]+)</version>", pom)
    assert version, "plugin/pom.xml names no divrank version"
    dockerfile = (REPO_ROOT / "plugin" / "Dockerfile").read_text()
    assert f"target/releases/divrank-{version.group(1)}.zip" in dockerfile


def test_indexer_job_runs_real_cli_commands(compose: dict) -> None:
    root = typer.main.get_command(app)
    script = compose["services"]["indexer"]["command"][-1]
    for step in script.split("&&"):
        words = step.split()
        assert words[0] == "divrank"
        ctx = root.make_context("divrank", [], resilient_parsing=True)
        command = root
        for word in words[1:]:
            # typer ships its own click: test for a group by behaviour, not by class
            if word.startswith("-") or not hasattr(command, "get_command"):
                break
            sub = command.get_command(ctx, word)
            assert sub is not None, f"`{step.strip()}`: no command {word!r}"
            command = sub
        options = {opt for p in command.params for opt in getattr(p, "opts", [])}
        for word in words[1:]:
            if word.startswith("--"):
                assert word in options, f"`{step.strip()}`: unknown option {word}"


def test_deployed_sidecar_has_no_demo_routes(compose: dict) -> None:
    assert compose["services"]["sidecar"]["environment"]["DIVRANK_DEMO"] == "false"
    dockerfile = (REPO_ROOT / "reranker" / "Dockerfile").read_text()
    sidecar_stage = dockerfile.split("AS sidecar", 1)[1].split("FROM ", 1)[0]
    assert "ENV DIVRANK_DEMO=false" in sidecar_stage


def test_sidecar_image_can_load_the_relevance_model() -> None:
    """LightGBM needs libgomp, which python:3.11-slim lacks; the build loads the shipped model."""
    dockerfile = (REPO_ROOT / "reranker" / "Dockerfile").read_text()
    base = dockerfile.split("AS base", 1)[1].split("FROM ", 1)[0]
    assert "libgomp1" in base
    sidecar_stage = dockerfile.split("AS sidecar", 1)[1].split("FROM ", 1)[0]
    assert "load_relevance_model" in sidecar_stage
