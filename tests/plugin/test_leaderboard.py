"""``localcode leaderboard``: rows from real and partial runs, the page in headless Chromium, bad input.

The browser test puts three runs on one board: a real one-epoch run (the six-language scripted
run), a real two-epoch run, and a killed run (result files only, one of them corrupt). It clicks
the pass@2 and the seconds-per-solved headers and checks the rows come out in numeric order
(the data is chosen so that a string sort would differ), that the chart has a point with an
error bar per run, and that the report links resolve, as the browser resolves them, to the runs'
reports. A screenshot is saved in the two-epoch run's directory.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from pytest_localcode.gguf import read_metadata, size_label
from pytest_localcode.leaderboard import main
from pytest_localcode.paths import state_dir
from tests.support.benchmark_runs import EpochPlanModel, Run, mixed_run, run_benchmark, shared_run
from tests.support.chromium import find_chromium, probe, screenshot, with_probe
from tests.support.synthetic_results import make_result, write_run

EPOCH_PLAN = {"python/proverb": ["ref", "nop"], "python/wordy": ["fix", "ref"], "python/bowling": ["nop", "nop"],
              "python/pig-latin": ["ref", "ref"]}

PROBE = """
function (report) {
  const out = {};
  const header = key => document.querySelector('#lc-board th[data-key="' + key + '"]');
  const column = key => [...document.querySelectorAll('#lc-board tbody tr')].map(r => ({
    run: r.dataset.run, sort: r.querySelector('td.col-' + CSS.escape(key)).dataset.sort,
    text: r.querySelector('td.col-' + CSS.escape(key)).innerText.trim()}));
  out.initial = column('rate-pass@2');
  header('rate-pass@2').click();
  out.rateAsc = column('rate-pass@2');
  header('rate-pass@2').click();
  out.rateDesc = column('rate-pass@2');
  header('seconds').click();
  out.secondsAsc = column('seconds');
  header('seconds').click();
  out.secondsDesc = column('seconds');
  const svg = document.getElementById('lc-chart');
  const box = svg.getBoundingClientRect();
  out.chart = {width: box.width, height: box.height, points: [...svg.querySelectorAll('.lc-point')].map(g => {
    const c = g.querySelector('circle').getBoundingClientRect();
    const l = g.querySelector('line').getBoundingClientRect();
    return {run: g.dataset.run, x: c.x - box.x, y: c.y - box.y, bar: l.height,
            inside: c.x >= box.x && c.right <= box.right && c.y >= box.y && c.bottom <= box.bottom};
  })};
  out.links = [...document.querySelectorAll('#lc-board td.col-report')].map(td => {
    const a = td.querySelector('a');
    return {run: td.parentElement.dataset.run, href: a ? a.href : null, text: td.innerText.trim()};
  });
  out.partial = [...document.querySelectorAll('#lc-board .partial')].map(s => s.closest('tr').dataset.run);
  report(out);
}
"""


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip("chromium is not installed (bin/setup --tests)")
    return binary


def epochs_run(polyglot: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    def make() -> Run:
        run_dir = tmp_path_factory.mktemp("board-epochs") / "run-epochs"
        return run_benchmark(polyglot, EpochPlanModel(polyglot, EPOCH_PLAN), run_dir, list(EPOCH_PLAN), "--epochs", "2")

    return shared_run("board-epochs", make)


def killed_run(root: Path) -> Path:
    """What a killed run leaves: result files, no summary.json, no report; all solved, slowly."""
    results = [make_result(f"go/ex{i}", ["pass"], seconds=120.0, epoch=epoch, epochs=2)
               for i in range(3) for epoch in (1, 2)]
    run = write_run(root / "run-killed", results[:-1])  # the last epoch never finished
    corrupt = run / "go" / "ex9" / ".aider.results.json"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_text('{"testcase": "ex9", "localcode": {')
    return run


@pytest.mark.slow
def test_leaderboard_in_chromium(polyglot: Path, tmp_path_factory: pytest.TempPathFactory, chromium: str,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    mixed = mixed_run(polyglot, tmp_path_factory)
    epochs = epochs_run(polyglot, tmp_path_factory)
    killed = killed_run(tmp_path_factory.mktemp("board-killed"))
    board = tmp_path_factory.mktemp("board") / "site" / "leaderboard.html"
    assert main([str(mixed.run_dir), str(epochs.run_dir), str(killed), "--html", str(board)]) == 0
    out = capsys.readouterr().out
    assert f"Saved: {board}, {board.with_suffix('.md')}" in out

    seen = probe(chromium, with_probe(board, PROBE, board.parent / "leaderboard-probe.html"))
    assert "exception" not in seen, seen.get("exception")
    assert seen["errors"] == []
    summaries = {mixed.run_dir.name: mixed.summary(), epochs.run_dir.name: epochs.summary()}
    rates = {name: s["total"]["rates"]["pass@2"]["estimate"] for name, s in summaries.items()}
    rates[killed.name] = 100.0
    assert {row["run"]: float(row["sort"]) for row in seen["initial"]} == pytest.approx(rates)

    def numbers(rows: list[dict[str, str]]) -> list[float]:
        return [float(r["sort"]) for r in rows]

    assert numbers(seen["rateAsc"]) == sorted(rates.values())
    assert numbers(seen["rateDesc"]) == sorted(rates.values(), reverse=True)
    as_text = sorted(r["text"] for r in seen["rateAsc"])
    assert as_text != [r["text"] for r in seen["rateAsc"]], "the data would not tell a numeric sort from a string sort"
    seconds = numbers(seen["secondsAsc"])
    assert seconds == sorted(seconds) and numbers(seen["secondsDesc"]) == sorted(seconds, reverse=True)
    assert max(seconds) == 120.0 and min(seconds) < 20  # "120.0" < "3.1" as strings
    assert sorted(r["text"] for r in seen["secondsAsc"]) != [r["text"] for r in seen["secondsAsc"]]

    chart = seen["chart"]
    assert chart["width"] > 300 and chart["height"] > 200
    assert sorted(p["run"] for p in chart["points"]) == sorted([mixed.run_dir.name, epochs.run_dir.name, killed.name])
    assert all(p["inside"] for p in chart["points"]) and all(p["bar"] > 5 for p in chart["points"])
    slowest = max(chart["points"], key=lambda p: p["x"])
    assert slowest["run"] == killed.name  # 120 s per solved run is the rightmost point

    links = {link["run"]: link for link in seen["links"]}
    for run in (mixed, epochs):
        href = links[run.run_dir.name]["href"]
        assert href and urlparse(href).scheme == "file"
        target = Path(unquote(urlparse(href).path))
        assert target.resolve() == (run.run_dir / "report.html").resolve() and target.is_file()
        assert "<title" in target.read_text(encoding="utf-8")[:2000]
    assert links[killed.name]["href"] is None and links[killed.name]["text"] == "no report"
    assert seen["partial"] == [killed.name]

    markdown = board.with_suffix(".md").read_text()
    assert f"- {killed.name}: partial: no summary.json: the run was interrupted; 1 unreadable result files skipped; " \
           f"1 exercises have fewer than 2 epochs" in markdown
    assert f"[report]({os.path.relpath(mixed.run_dir / 'report.html', board.parent)})" in markdown

    png = screenshot(chromium, board, epochs.run_dir / "leaderboard.png", size=(2200, 1100))
    assert png.stat().st_size > 20_000
    print(f"screenshot: {png}")
    if os.environ.get("LOCALCODE_SCREENSHOT"):
        shutil.copy(png, os.environ["LOCALCODE_SCREENSHOT"])


def test_rows_numbers_come_from_the_result_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = write_run(tmp_path / "one", [make_result("python/a", ["pass"], seconds=10.0, prompt_tokens=900,
                                                   completion_tokens=100),
                                       make_result("python/b", ["fail", "fail"], seconds=30.0)])
    assert main([str(one), "--html", str(tmp_path / "b.html")]) == 0
    md = (tmp_path / "b.md").read_text()
    row = next(line for line in md.splitlines() if line.startswith("| 1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[9] == "50.0 [9.5, 90.5]" and cells[8] == "2"  # pass@1: Wilson for 1 of 2
    assert cells[-4] == "2,100" and cells[-3] == "40.0"  # tokens and seconds of both runs per solved one
    assert "one (partial)" in cells[1]


@pytest.mark.parametrize("case", ["nothing", "no-match", "not-runs"])
def test_bad_input_is_one_line(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = {"nothing": [], "no-match": [str(tmp_path / "runs" / "*")], "not-runs": [str(tmp_path)]}[case]
    assert main([*args, "--html", str(tmp_path / "b.html")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    expected = {"nothing": "localcode leaderboard: no run directories: give at least one, e.g. 'runs/*'",
                "no-match": f"localcode leaderboard: no run directories ({tmp_path / 'runs' / '*'} "
                            "matched no directory): give at least one, e.g. 'runs/*'",
                "not-runs": "localcode leaderboard: none of the 1 directories is a localcode run"}[case]
    assert err[-1] == expected and not (tmp_path / "b.html").exists()


def test_glob_and_skipped_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "runs" / "a", [make_result("python/a", ["pass"])])
    write_run(tmp_path / "runs" / "b", [make_result("python/a", ["fail", "pass"])])
    (tmp_path / "runs" / "empty").mkdir()
    assert main([str(tmp_path / "runs" / "*"), "--html", str(tmp_path / "b.html"), "--md", str(tmp_path / "t.md")]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"localcode leaderboard: skipped {tmp_path / 'runs' / 'empty'}: "
                                    f"not a localcode run directory: no <language>/<exercise>/.aider.results.json")
    assert (tmp_path / "t.md").read_text().count("\n| ") == 2  # two rows (after the header lines)


def test_gguf_header_of_the_shipped_tiny_model() -> None:
    model = state_dir() / "models" / "gemma-3-270m-q4_k_m.gguf"
    if not model.is_file():
        pytest.skip("the tiny model is not installed (bin/setup)")
    meta = read_metadata(model)
    assert (meta["architecture"], meta["quantization"], meta["size_label"]) == ("gemma3", "Q4_K_M", "270M")
    assert 260e6 < meta["parameters"] < 280e6
    assert size_label(268_098_176) == "268M" and size_label(7_241_732_096) == "7.2B" and size_label(1_000) == "1K"
    bad = Path(json.__file__)
    with pytest.raises(ValueError, match="not a GGUF file"):
        read_metadata(bad)
