"""Controller-side reporting: aggregates every exercise of the session, whichever worker ran it.

Workers write each exercise's result file as soon as it ends; the controller only records which
exercises this session reported and, at the end, reads their files back. So the terminal table,
``benchmark_results.txt``, ``summary.json`` and the HTML summary come from one aggregation and
cover resumed exercises too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pytest_localcode import energy
from pytest_localcode.epochs import epoch_dir
from pytest_localcode.health import analyse
from pytest_localcode.live import read_all
from pytest_localcode.report import html as html_report
from pytest_localcode.report.provenance import collect as collect_provenance
from pytest_localcode.report.summary import summarize
from pytest_localcode.report.text import render
from pytest_localcode.results import ExerciseResult, load, write_atomic
from pytest_localcode.settings import Settings


class ReportPlugin:
    def __init__(self, settings: Settings, config: pytest.Config):
        self.settings = settings
        self.config = config
        self.seen: dict[str, tuple[str, str, int]] = {}  # nodeid -> (language, exercise, epoch)
        self.summary: dict[str, Any] | None = None
        self.provenance: dict[str, Any] = {}
        self.text = ""
        self.energy: tuple[Any, dict[str, Any]] | None = None  # (record path, start reading)
        self.selected: int | None = None  # exercise runs this session set out to do

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Read the energy counters, and put the run's model, server and sampling where pytest-html
        shows its environment table, at the top of the report."""
        config = session.config
        if config.option.collectonly or config.getoption("setupplan", False):
            return
        self.energy = energy.start_session(self.settings.run_dir)
        html_report.replace_environment(config, collect_provenance(self.settings, self.settings.sandbox, []))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:  # with xdist the workers collect; see below
            self.selected = len(session.items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        self.selected = max(self.selected or 0, len(ids))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "language" in props and "exercise" in props:
            epoch = props.get("epoch", 1)
            self.seen[report.nodeid] = (str(props["language"]), str(props["exercise"]),
                                        epoch if isinstance(epoch, int) else 1)

    def results(self) -> list[ExerciseResult]:
        found = []
        for language, exercise, epoch in sorted(set(self.seen.values())):
            result = load(epoch_dir(self.settings.run_dir, language, exercise, epoch))
            if result is not None:
                found.append(result)
        return found

    def record_energy(self) -> None:
        if self.energy is not None:
            energy.finish_session(*self.energy)
            self.energy = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.record_energy()
        results = self.results()
        if not results:
            return
        run_dir = self.settings.run_dir
        self.provenance = self.make_provenance(session)
        html_report.replace_environment(session.config, self.provenance)  # again: xdist merges workers' metadata in
        self.summary = summarize(results, energy.load_sessions(run_dir))
        self.summary["health"] = self.health()
        self.text = render(self.summary, self.provenance)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(run_dir / "summary.json", {"provenance": self.provenance, **self.summary})
        (run_dir / "benchmark_results.txt").write_text(self.text, encoding="utf-8")

    def health(self) -> dict[str, Any] | None:
        """The servers' health over this session, from its live records (none for pseudo-models)."""
        directory = self.settings.live_dir
        if not directory or not Path(directory).is_dir():
            return None
        records = read_all(Path(directory))
        if not any(r.get("ev") == "resp" for r in records):
            return None
        return analyse(records, fraction=self.settings.slowdown_fraction)

    def make_provenance(self, session: pytest.Session) -> dict[str, Any]:
        """Where the numbers came from (``localcode merge`` joins its inputs' instead)."""
        return collect_provenance(self.settings, describe_sandbox(self.settings.sandbox),
                                  list(session.config.invocation_params.args), selected=self.selected)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.text:
            return
        terminalreporter.section("localcode")
        for line in self.text.rstrip("\n").splitlines():
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"Saved: {self.settings.run_dir / 'benchmark_results.txt'}, summary.json")

    # -- pytest-html (hooks exist only when pytest-html is installed) ------------------------
    @pytest.hookimpl(optionalhook=True)
    def pytest_html_report_title(self, report: Any) -> None:
        report.title = f"localcode: {self.settings.model}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_header(self, cells: list[str]) -> None:
        cells[2:2] = html_report.header_cells()

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_table_row(self, report: Any, cells: list[str]) -> None:
        cells[2:2] = html_report.row_cells(dict(report.user_properties))

    @pytest.hookimpl(optionalhook=True)
    def pytest_html_results_summary(self, prefix: list[str], summary: list[str], postfix: list[str],
                                    session: Any) -> None:
        if self.summary is not None:
            postfix.extend(html_report.summary_html(self.summary, self.provenance))
            postfix.extend(html_report.server_html(self.summary))


def describe_sandbox(kind: str) -> str:
    if kind == "local":
        from pytest_localcode.sandbox.local import LocalSandboxFactory

        return LocalSandboxFactory().describe()
    return kind


def default_html(config: pytest.Config, settings: Settings) -> None:
    """Put the report in the run directory, self-contained, unless the user chose otherwise."""
    if not hasattr(config.option, "htmlpath") or os.environ.get("LOCALCODE_NO_HTML"):
        return
    if config.option.collectonly:  # nothing runs: no run directory, no empty report
        return
    if not config.option.htmlpath:
        config.option.htmlpath = str(settings.run_dir / "report.html")
        config.option.self_contained_html = True

