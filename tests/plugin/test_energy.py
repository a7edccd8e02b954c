"""Energy counters: NVML through nvidia-smi, RAPL through powercap, per session, never estimated.

This machine has neither counter, so the readers run on stand-ins with the real formats: a
``nvidia-smi`` script that prints what NVML's query prints, and a powercap tree of files.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from pytest_localcode import energy
from pytest_localcode.report.summary import summarize
from pytest_localcode.report.text import energy_line
from tests.support.synthetic_results import make_result


def fake_nvidia_smi(tmp_path: Path, output: str, code: int = 0) -> str:
    script = tmp_path / "nvidia-smi"
    script.write_text(f"#!/bin/sh\nprintf '%s' '{output}'\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_nvidia_counters(tmp_path: Path) -> None:
    binary = fake_nvidia_smi(tmp_path, "0, 123456789\n1, 5000\n")
    assert energy.nvidia_counters(binary) == ({"gpu0": 123456.789, "gpu1": 5.0}, None)
    old = fake_nvidia_smi(tmp_path, "0, [N/A]\n")  # a GPU older than Volta has no energy counter
    assert energy.nvidia_counters(old) == ({}, "GPU 0 has no energy counter ([N/A])")
    broken = fake_nvidia_smi(tmp_path, "", code=9)
    assert energy.nvidia_counters(broken)[1].startswith("nvidia-smi exited 9")


def powercap(root: Path, domains: dict[str, tuple[str, int, int]]) -> Path:
    for directory, (name, value, span) in domains.items():
        d = root / directory
        d.mkdir(parents=True)
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text(f"{value}\n")
        (d / "max_energy_range_uj").write_text(f"{span}\n")
    return root


def test_rapl_counters_and_wraparound(tmp_path: Path) -> None:
    root = powercap(tmp_path / "a", {"intel-rapl:0": ("package-0", 1_000_000, 262_143_328_850),
                                     "intel-rapl:0:0": ("core", 400_000, 262_143_328_850),
                                     "intel-rapl:0:2": ("dram", 50_000, 65_712_999_613)})
    counters, absent = energy.rapl_counters(root)
    assert absent is None and set(counters) == {"rapl:0:package-0", "rapl:0:2:dram"}  # core is inside package
    later = powercap(tmp_path / "b", {"intel-rapl:0": ("package-0", 500_000, 262_143_328_850),  # wrapped once
                                      "intel-rapl:0:2": ("dram", 2_050_000, 65_712_999_613)})
    start = {"time": 0.0, "nvidia": {}, "rapl": counters, "absent": {}}
    end = {"time": 10.0, "nvidia": {}, "rapl": energy.rapl_counters(later)[0], "absent": {}}
    record = energy.session(start, end)
    assert record["joules"]["rapl:0:2:dram"] == pytest.approx(2.0)
    assert record["joules"]["rapl:0:package-0"] == pytest.approx(262_143.32885 - 1.0 + 0.5)
    assert record["total_joules"] == pytest.approx(262_143.32885 - 0.5 + 2.0)
    assert energy.rapl_counters(tmp_path / "none") == ({}, f"no {tmp_path / 'none'}")


def test_platform_domain_is_not_added_to_the_packages() -> None:
    assert energy.total({"rapl:1:psys": 90.0, "rapl:0:package-0": 60.0, "nvidia:gpu0": 300.0}) == 390.0
    assert energy.total({"rapl:0:package-0": 60.0, "rapl:0:2:dram": 5.0}) == 65.0
    assert energy.total({}) is None


def test_sessions_on_file_and_in_the_summary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter([
        {"time": 100.0, "nvidia": {"gpu0": 1000.0}, "rapl": {}, "absent": {"rapl": "no /sys/class/powercap"}},
        {"time": 160.0, "nvidia": {"gpu0": 1600.0}, "rapl": {}, "absent": {"rapl": "no /sys/class/powercap"}},
        {"time": 200.0, "nvidia": {"gpu0": 2000.0}, "rapl": {}, "absent": {"rapl": "no /sys/class/powercap"}},
    ])
    monkeypatch.setattr(energy, "read", lambda: next(readings))
    path, start = energy.start_session(tmp_path)
    energy.finish_session(path, start)
    results = [make_result("python/a", ["pass"]), make_result("python/b", ["fail", "fail"])]
    summary = summarize(results, energy.load_sessions(tmp_path))["energy"]
    assert ((summary["total_joules"], summary["per_solved_joules"], summary["per_attempt_joules"])
            == (600.0, 600.0, 300.0))
    assert energy_line(summary) == ("Energy: 600 J in 1 of 1 sessions (nvidia:gpu0 600 J); "
                                    "600 J per solved exercise run")

    energy.start_session(tmp_path)  # a second session, killed before its end was read
    summary = summarize(results, energy.load_sessions(tmp_path))["energy"]
    assert summary["sessions"] == 2 and summary["measured_sessions"] == 1 and summary["per_solved_joules"] is None
    assert "session: interrupted before its end was read" in summary["absent"]
    assert energy_line(summary).endswith("; not per solved exercise: some sessions had no counter")


def test_no_counter_is_recorded_as_absent_with_the_reason() -> None:
    reading = energy.read()
    if reading["nvidia"] or reading["rapl"]:
        pytest.skip("this machine has an energy counter")
    record = energy.session(reading, energy.read())
    assert record["joules"] == {} and record["total_joules"] is None
    assert set(record["absent"]) >= {"nvidia", "rapl"}
    line = energy_line(summarize([make_result("python/a", ["pass"])], [record])["energy"])
    assert line.startswith("Energy: not measured (no readable counter: nvidia: ")
