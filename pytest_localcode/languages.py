"""Per-language knowledge, loaded from ``exercises_conf/<language>.yaml``.

The harness never branches on a language name: everything that differs between tracks (test
command, how to enable every test, which files are protected, how the reference solution maps
onto the solution files) is data in those files, validated here once so that a typo in the data
is a one-line error instead of a confusing test failure later.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from pytest_localcode.errors import ConfigError

CONF_DIR = Path(os.environ.get("LOCALCODE_CONF", Path(__file__).resolve().parent.parent / "exercises_conf"))
LANGUAGES = ("cpp", "go", "java", "javascript", "python", "rust")
PARSERS = ("junit_xml", "jest_json", "go_json", "libtest", "catch_xml")


@dataclass(frozen=True)
class Replace:
    """Regex substitutions applied to test files so that every test runs."""

    files: str | None  # "test" = the exercise's files.test list
    glob: str | None
    pairs: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class CountRule:
    """How many test cases an exercise defines, counted statically in its pristine test files."""

    files: str | None = None
    glob: str | None = None
    regex: str | None = None
    fixed: int | None = None
    # Regions removed before counting (e.g. benchmarks compiled only on request).
    strip: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mutants:
    """Grading for exercises whose solution is a test suite (run once per implementation)."""

    env: str
    expect: dict[str, str]


@dataclass(frozen=True)
class Override:
    solution_as_test: dict[str, str] | None = None
    count_tests: CountRule | None = None
    mutants: Mutants | None = None
    # Refactoring exercises whose stub already passes: an unchanged solution is not a solve.
    require_change: bool = False


@dataclass(frozen=True)
class LanguageConf:
    language: str
    description: str
    workspace_exclude: tuple[str, ...]
    protected: tuple[str, ...]
    carry: tuple[str, ...]
    never_carry: tuple[str, ...]
    reference: dict[str, Any]
    enable_all_tests: tuple[Replace, ...]
    count_tests: CountRule
    test_timeout: float
    test_script: str
    parser: str
    parser_args: dict[str, str]
    env: dict[str, str]
    results_dir: str
    overrides: dict[str, Override] = field(default_factory=dict)


def _merge(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **own}
    extra = own.get("workspace_exclude_extra", [])
    merged["workspace_exclude"] = [*defaults.get("workspace_exclude", []), *extra]
    merged.pop("workspace_exclude_extra", None)
    merged["env"] = {**defaults.get("env", {}), **own.get("env", {})}
    return merged


def _count_rule(raw: Any, where: str) -> CountRule:
    if not isinstance(raw, dict) or not ({"regex", "fixed"} & raw.keys()):
        raise ConfigError(f"{where}: count_tests needs 'regex' (with 'files' or 'glob') or 'fixed'")
    if "regex" in raw:
        try:
            re.compile(raw["regex"], re.M)
        except re.error as exc:
            raise ConfigError(f"{where}: count_tests.regex is not a valid regex ({exc})") from None
    return CountRule(
        files=raw.get("files"),
        glob=raw.get("glob"),
        regex=raw.get("regex"),
        fixed=raw.get("fixed"),
        strip=tuple(raw.get("strip", ())),
    )


def _replace_rules(raw: list[dict[str, Any]], where: str) -> tuple[Replace, ...]:
    rules = []
    for rule in raw or []:
        pairs = tuple((str(a), str(b)) for a, b in rule.get("replace", []))
        for pattern, _ in pairs:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{where}: enable_all_tests pattern {pattern!r} is invalid ({exc})") from None
        rules.append(Replace(files=rule.get("files"), glob=rule.get("glob"), pairs=pairs))
    return tuple(rules)


def _overrides(raw: dict[str, Any], where: str) -> dict[str, Override]:
    result = {}
    for slug, body in (raw or {}).items():
        mutants = body.get("mutants")
        result[slug] = Override(
            solution_as_test=body.get("solution_as_test"),
            count_tests=_count_rule(body["count_tests"],
                                    f"{where}: overrides.{slug}") if "count_tests" in body else None,
            mutants=Mutants(env=mutants["env"], expect={str(k): str(v) for k, v in mutants["expect"].items()})
            if mutants
            else None,
            require_change=bool(body.get("require_change", False)),
        )
    return result


REQUIRED = ("language", "carry", "reference", "count_tests", "test_script", "parser")


def parse_conf(path: Path, defaults: dict[str, Any]) -> LanguageConf:
    """Validate one language file; every problem names the file and the key."""
    try:
        own = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    data = _merge(defaults, own)
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{path}: missing required key '{key}'")
    if data["parser"] not in PARSERS:
        raise ConfigError(f"{path}: parser '{data['parser']}' is unknown (known: {', '.join(PARSERS)})")
    return LanguageConf(
        language=data["language"],
        description=data.get("description", ""),
        workspace_exclude=tuple(data.get("workspace_exclude", [])),
        protected=tuple(data.get("protected", [])),
        carry=tuple(data["carry"]),
        never_carry=tuple(data.get("never_carry", [])),
        reference=dict(data["reference"]),
        enable_all_tests=_replace_rules(data.get("enable_all_tests", []), str(path)),
        count_tests=_count_rule(data["count_tests"], str(path)),
        test_timeout=float(data.get("test_timeout", 120)),
        test_script=" ".join(str(data["test_script"]).split()),
        parser=data["parser"],
        parser_args=dict(data.get("parser_args", {})),
        env={str(k): str(v) for k, v in data.get("env", {}).items()},
        results_dir=data.get("results_dir", ".localcode"),
        overrides=_overrides(data.get("overrides", {}), str(path)),
    )


@cache
def load_language(language: str, conf_dir: Path = CONF_DIR) -> LanguageConf:
    path = conf_dir / f"{language}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in conf_dir.glob("*.yaml") if p.stem != "defaults"))
        raise ConfigError(f"unknown language '{language}': no {path} (known: {known})")
    defaults_path = conf_dir / "defaults.yaml"
    defaults = yaml.safe_load(defaults_path.read_text()) if defaults_path.is_file() else {}
    return parse_conf(path, defaults or {})
