"""Per-language knowledge, loaded from ``exercises_conf/<language>.yaml``.

The harness never branches on a language name: everything that differs between tracks (test
command, how to enable every test, which files are protected and which a solution may add, how
test names are read, how the harness canaries are written, how the reference solution maps onto
the solution files) is data in those files, validated here once so that a typo in the data
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
from pytest_localcode.testnames import READERS

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
class NamesRule:
    """Which reader (:mod:`pytest_localcode.testnames`) reads the test names, from which files."""

    reader: str
    files: str | None = None  # "test": the exercise's files.test
    glob: str | None = None  # or every file of the grading copy matching this
    options: dict[str, Any] = field(default_factory=dict)  # reader-specific (build_tags, strip)


@dataclass(frozen=True)
class Flag:
    """A pattern whose match in a solution is evidence of tampering with the grader, and why."""

    pattern: str
    why: str


@dataclass(frozen=True)
class Tampering:
    files: tuple[Flag, ...] = ()  # globs: a workspace file that can only change how tests run
    content: tuple[Flag, ...] = ()  # regexes over the carried files' text


@dataclass(frozen=True)
class Manifest:
    """A build manifest that is part of the solution (Rust's Cargo.toml): grading keeps the
    pristine one and takes only one table of the agent's (its dependencies), entry by entry."""

    file: str
    table: str
    keys: tuple[str, ...]  # keys an entry's inline table may use (others: the entry is not taken)
    tampering: tuple[Flag, ...] = ()  # regexes over the agent's manifest


@dataclass(frozen=True)
class SoloBuild:
    """Build the solution without its tests; an identifier it then lacks (``undefined`` captures it
    from the error) that is a variable of the test files means the solution reaches into them."""

    command: str
    undefined: str


@dataclass(frozen=True)
class CanaryRule:
    """How grading adds its two random tests (one must pass, one must fail) to the test files."""

    place: str  # "append" to each name file, "before" the first match of pattern in it, or a new "file"
    template: str
    pattern: str = ""
    path: str = ""
    captures: dict[str, str] = field(default_factory=dict)  # {placeholder: regex over the first name file}
    runtime: bool = False  # names and numbers read from LOCALCODE_CANARY_* at run time (a constant text)
    scaffold: str = ""  # regex: report names of the canaries' scaffolding, not tests

    @property
    def roles(self) -> list[str]:
        """The template's tests: pass, fail, pass2… (placeholders, or environment variables at run time)."""
        found = (RUNTIME_CANARY_ROLE if self.runtime else CANARY_ROLE).findall(self.template)
        return sorted({r.lower() for r in found})


CANARY_ROLE = re.compile(r"\{((?:pass|fail)\d*)\}")
RUNTIME_CANARY_ROLE = re.compile(r"LOCALCODE_CANARY_((?:PASS|FAIL)\d*)\b")


@dataclass(frozen=True)
class Mutants:
    """Grading for exercises whose solution is a test suite (run once per implementation)."""

    env: str
    expect: dict[str, str]


@dataclass(frozen=True)
class Override:
    solution_as_test: dict[str, str] | None = None
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
    test_names: NamesRule
    test_timeout: float
    test_script: str
    parser: str
    parser_args: dict[str, str]
    env: dict[str, str]
    results_dir: str
    syntax: str = ""  # lexer dialect of the sources (comments and layout ignored when comparing them)
    tampering: Tampering = Tampering()
    manifest: Manifest | None = None
    canary: CanaryRule | None = None
    solo_build: SoloBuild | None = None
    overrides: dict[str, Override] = field(default_factory=dict)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace ``{name}`` placeholders of the language data only (shell braces stay as they are)."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), template)


def _merge(defaults: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    merged = {**defaults, **own}
    extra = own.get("workspace_exclude_extra", [])
    merged["workspace_exclude"] = [*defaults.get("workspace_exclude", []), *extra]
    merged.pop("workspace_exclude_extra", None)
    merged["env"] = {**defaults.get("env", {}), **own.get("env", {})}
    return merged


def _regex(pattern: str, where: str, key: str) -> str:
    try:
        re.compile(pattern, re.M)
    except re.error as exc:
        raise ConfigError(f"{where}: {key} {pattern!r} is not a valid regex ({exc})") from None
    return pattern


def _names_rule(raw: Any, where: str) -> NamesRule:
    if not isinstance(raw, dict) or raw.get("reader") not in READERS or not ({"files", "glob"} & raw.keys()):
        raise ConfigError(f"{where}: test_names needs 'reader' (one of {', '.join(READERS)}) "
                          "and 'files: test' or 'glob'")
    options = {k: v for k, v in raw.items() if k not in ("reader", "files", "glob")}
    for region in options.get("strip", ()):
        _regex(region, where, "test_names.strip")
    return NamesRule(reader=raw["reader"], files=raw.get("files"), glob=raw.get("glob"), options=options)


def _flags(raw: Any, where: str, key: str, regex: bool) -> tuple[Flag, ...]:
    flags = []
    field_name = "regex" if regex else "glob"
    for item in raw or []:
        if not isinstance(item, dict) or "why" not in item or field_name not in item:
            raise ConfigError(f"{where}: every {key} entry needs '{field_name}' (one or a list) and 'why'")
        patterns = item[field_name] if isinstance(item[field_name], list) else [item[field_name]]
        for pattern in patterns:
            flags.append(Flag(_regex(str(pattern), where, key) if regex else str(pattern), str(item["why"])))
    return tuple(flags)


def _tampering(raw: Any, where: str) -> Tampering:
    raw = raw or {}
    return Tampering(files=_flags(raw.get("files"), where, "tampering.files", regex=False),
                     content=_flags(raw.get("content"), where, "tampering.content", regex=True))


def _manifest(raw: Any, where: str) -> Manifest | None:
    if not raw:
        return None
    if not {"file", "table"} <= raw.keys():
        raise ConfigError(f"{where}: manifest needs 'file' and 'table'")
    return Manifest(file=raw["file"], table=raw["table"], keys=tuple(raw.get("keys", ())),
                    tampering=_flags(raw.get("tampering"), where, "manifest.tampering", regex=True))


def _solo_build(raw: Any, where: str) -> SoloBuild | None:
    if not raw:
        return None
    if not isinstance(raw, dict) or not {"command", "undefined"} <= raw.keys():
        raise ConfigError(f"{where}: solo_build needs 'command' and 'undefined' (a regex capturing the missing name)")
    return SoloBuild(" ".join(str(raw["command"]).split()),
                     _regex(str(raw["undefined"]), where, "solo_build.undefined"))


def _canary(raw: Any, where: str) -> CanaryRule | None:
    if not raw:
        return None
    place = raw.get("place")
    if place not in ("append", "before", "file") or "template" not in raw:
        raise ConfigError(f"{where}: canary needs 'template' and 'place' (append, before or file)")
    if place == "before" and not raw.get("pattern") or place == "file" and not raw.get("path"):
        raise ConfigError(f"{where}: canary place '{place}' needs {'pattern' if place == 'before' else 'path'}")
    captures = {str(k): _regex(str(v), where, "canary.captures") for k, v in (raw.get("captures") or {}).items()}
    rule = CanaryRule(place=place, template=str(raw["template"]),
                      pattern=_regex(raw.get("pattern", ""), where, "canary.pattern"),
                      path=raw.get("path", ""), captures=captures, runtime=bool(raw.get("runtime", False)),
                      scaffold=_regex(raw.get("scaffold", ""), where, "canary.scaffold"))
    if not any(r.startswith("pass") for r in rule.roles) or not any(r.startswith("fail") for r in rule.roles):
        names = "LOCALCODE_CANARY_PASS and LOCALCODE_CANARY_FAIL" if rule.runtime else "{pass} and {fail}"
        raise ConfigError(f"{where}: the canary template needs tests named {names} (one must pass, one must fail)")
    return rule


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
            mutants=Mutants(env=mutants["env"], expect={str(k): str(v) for k, v in mutants["expect"].items()})
            if mutants
            else None,
            require_change=bool(body.get("require_change", False)),
        )
    return result


REQUIRED = ("language", "carry", "reference", "test_names", "test_script", "parser")


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
        test_names=_names_rule(data["test_names"], str(path)),
        test_timeout=float(data.get("test_timeout", 120)),
        test_script=" ".join(str(data["test_script"]).split()),
        parser=data["parser"],
        parser_args=dict(data.get("parser_args", {})),
        env={str(k): str(v) for k, v in data.get("env", {}).items()},
        results_dir=data.get("results_dir", ".localcode"),
        syntax=str(data.get("syntax", "")),
        tampering=_tampering(data.get("tampering"), str(path)),
        manifest=_manifest(data.get("manifest"), str(path)),
        canary=_canary(data.get("canary"), str(path)),
        solo_build=_solo_build(data.get("solo_build"), str(path)),
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
