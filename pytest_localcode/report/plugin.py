"""Controller-side reporting: aggregates every exercise of the session, whichever worker ran it.

Workers write each exercise's result file as soon as it ends; the controller only records which
exercises this session reported and, at the end, reads their files back. So the terminal table,
``benchmark_results.txt``, ``summary.json`` and the HTML summary come from one aggregation and
cover resumed exercises too.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

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
        self.seen: dict[str, tuple[str, str]] = {}  # nodeid -> (language, exercise)
        self.summary: dict[str, Any] | None = None
        self.provenance: dict[str, Any] = {}
        self.text = ""

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if "language" in props and "exercise" in props:
            self.seen[report.nodeid] = (str(props["language"]), str(props["exercise"]))

    def results(self) -> list[ExerciseResult]:
        found = []
        for language, exercise in sorted(set(self.seen.values())):
            result = load(self.settings.run_dir / language / exercise)
            if result is not None:
                found.append(result)
        return found

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        results = self.results()
        if not results:
            return
        self.provenance = collect_provenance(self.settings, describe_sandbox(self.settings.sandbox),
                                             list(session.config.invocation_params.args))
        self.summary = summarize(results)
        self.text = render(self.summary, self.provenance)
        run_dir = self.settings.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(run_dir / "summary.json", {"provenance": self.provenance, **self.summary})
        (run_dir / "benchmark_results.txt").write_text(self.text, encoding="utf-8")

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
            postfix.extend(html_report.summary_html(self.summary, self.provenance, self.text))


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

