"""A run directory's reports rebuilt from its saved results, by the code an ordinary run uses.

A short pytest session in this process whose items replay the per-exercise result files: each
item fails or errors exactly as the exercise did (an error in setup, the verdict in call), with
the same user properties and details, so ``ReportPlugin`` writes ``summary.json`` and
``benchmark_results.txt`` and pytest-html writes ``report.html`` as in a run. Nothing is re-run;
no model server, sandbox or dataset is needed. ``localcode merge`` uses it on joined shards.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from pytest_localcode.errors import LocalcodeError
from pytest_localcode.results import RESULTS_FILE, ExerciseResult, load


class ReplayError(Exception):
    """The replay session did not produce the reports; the message says what pytest printed."""


def result_dirs(path: Path) -> dict[str, list[PurePosixPath]]:
    """``lang/exercise`` → the directories holding its result files (one, or one per epoch)."""
    found: dict[str, list[PurePosixPath]] = {}
    for depth in ("*/*/", "*/*/*/"):
        for file in sorted(path.glob(depth + RESULTS_FILE)):
            rel = PurePosixPath(file.parent.relative_to(path).as_posix())
            if depth == "*/*/*/" and rel.parts[2] in ("workspace", "grade", "logs"):
                continue
            found.setdefault("/".join(rel.parts[:2]), []).append(rel)
    return found


class ReplayItem(pytest.Item):
    """One saved result, judged as in the run that made it: an error in setup, the verdict in call."""

    def __init__(self, *, result_dir: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.result_dir = result_dir
        self.result: ExerciseResult | None = None

    def setup(self) -> None:
        from pytest_localcode.plugin import RESULT_KEY, properties

        self.result = load(self.result_dir)
        if self.result is None:
            raise LocalcodeError(f"{self.result_dir}: unreadable result file")
        self.add_marker(self.result.language)
        self.stash[RESULT_KEY] = self.result
        self.user_properties.extend(properties(self.result))
        if self.result.error:
            raise LocalcodeError(self.result.error)

    def runtest(self) -> None:
        from pytest_localcode.collect import ExerciseNotSolved

        assert self.result is not None
        if not self.result.solved:
            raise ExerciseNotSolved(self.result.failure_text())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.result_dir, None, self.name


def node_name(rel: PurePosixPath) -> str:
    """``lang/ex`` → ``ex``; a result one level deeper (an epoch) → ``ex[<its number>]``."""
    if len(rel.parts) == 2:
        return rel.parts[1]
    return f"{rel.parts[1]}[{re.sub(r'[^0-9]', '', rel.parts[2]) or rel.parts[2]}]"


class ReplayLanguage(pytest.Directory):
    """One exercise directory; node id ``<language>``, so items read ``python::react`` as in a run."""

    def __init__(self, *, results: list[PurePosixPath], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.results = results

    def collect(self) -> list[pytest.Item]:
        root = self.path.parents[1]
        return [ReplayItem.from_parent(self, name=node_name(rel), result_dir=root / rel) for rel in self.results]


class ReplayRun(pytest.Directory):
    def collect(self) -> list[pytest.Collector]:
        found = result_dirs(self.path)
        return [ReplayLanguage.from_parent(self, path=self.path / name, nodeid=name.split("/")[0], results=rels)
                for name, rels in sorted(found.items())]


class ReplayPlugin:
    def __init__(self, into: Path, provenance: dict[str, Any]):
        self.into = into
        self.provenance = provenance

    @pytest.hookimpl(tryfirst=True)
    def pytest_collect_directory(self, path: Path, parent: pytest.Collector) -> pytest.Collector | None:
        return ReplayRun.from_parent(parent, path=path) if path == self.into else None

    def pytest_configure(self, config: pytest.Config) -> None:
        from pytest_localcode.report.plugin import ReportPlugin

        provenance = self.provenance

        class MergedReport(ReportPlugin):
            def make_provenance(self, session: pytest.Session) -> dict[str, Any]:
                return provenance

        config.pluginmanager.register(MergedReport(settings_for(self.into, provenance), config), "localcode-report")


def settings_for(into: Path, provenance: dict[str, Any]) -> Any:
    """The merged run's settings, as far as the reports read them."""
    from pytest_localcode.settings import Settings

    limits = provenance.get("limits") or {}
    return Settings(model=str(provenance.get("model") or "?"), dataset=Path(str(provenance.get("dataset") or ".")),
                    run_dir=into, tries=int(provenance.get("tries") or limits.get("tries") or 2),
                    sandbox=str(provenance.get("sandbox") or "?"), server_url=None,
                    agent_timeout=float(limits.get("agent_timeout") or 900.0), max_turns=limits.get("max_turns"),
                    max_tokens=limits.get("max_tokens"))


def replay(into: Path, provenance: dict[str, Any]) -> str:
    """Write ``into``'s reports from its result files, with ``provenance`` as the run's; returns
    the session's terminal output."""
    args = [str(into), "-c", os.devnull, "--rootdir", str(into), "-p", "no:cacheprovider", "-p", "no:randomly",
            "-q", "-rN", f"--html={into / 'report.html'}", "--self-contained-html"]
    out = io.StringIO()
    saved = os.environ.pop("PYTEST_ADDOPTS", None)
    try:
        with contextlib.redirect_stdout(out):
            code = pytest.main(args, plugins=[ReplayPlugin(into, provenance)])
    finally:
        if saved is not None:
            os.environ["PYTEST_ADDOPTS"] = saved
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) or not (into / "summary.json").is_file():
        raise ReplayError(f"building the reports failed (pytest exit {int(code)}): {out.getvalue()[-2000:]}")
    return out.getvalue()
