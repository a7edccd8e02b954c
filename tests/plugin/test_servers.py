"""Server fixtures without pytest runs: the commands they build and their process lifecycle.

Lifecycle tests run the stand-in executables (``tests/support/fake_*_server.py``), so they are
quick and need no model; the real llama-server is covered by ``test_e2e_llama.py``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from pytest_localcode.server.base import ServerError
from pytest_localcode.server.llama import LlamaServer, MlxServer, find_llama_server, merge_args
from pytest_localcode.server.owner import ServerOwner, build_server, build_servers, server_failed, start_all
from tests.support.stand_ins import AGENT_CONFIGS, jsonl, pid_alive, wait_for, wrapper

FAKE_CONFIG = json.loads((AGENT_CONFIGS / "fake-llama.json").read_text())["server_config"]


@pytest.fixture
def fake_llama(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LLAMA_SERVER → the stand-in; FAKE_LLAMA_MODEL → an existing file; returns the argv log."""
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF")
    fake = wrapper(tmp_path / "bin", "tests.support.fake_llama_server", "llama-server")
    monkeypatch.setenv("LLAMA_SERVER", str(fake))
    monkeypatch.setenv("FAKE_LLAMA_MODEL", str(model))
    monkeypatch.setenv("FAKE_LLAMA_ARGV_LOG", str(tmp_path / "argv.jsonl"))
    return tmp_path / "argv.jsonl"


def llama(tmp_path: Path, slots: int = 1, **config: object) -> LlamaServer:
    return LlamaServer.from_config({**FAKE_CONFIG, **config}, slots=slots, alias="fake",
                                   log_path=tmp_path / "server.log")


# -- the command --------------------------------------------------------------------------------


def test_one_slot_gets_the_context_as_ctx_size(fake_llama: Path, tmp_path: Path) -> None:
    cmd = llama(tmp_path).command()
    assert cmd[0] == os.environ["LLAMA_SERVER"]
    assert cmd[cmd.index("--model") + 1] == os.environ["FAKE_LLAMA_MODEL"]  # $VAR expanded
    assert cmd[cmd.index("--ctx-size") + 1] == "16384"
    assert cmd[cmd.index("--parallel") + 1] == "1"
    assert "--kv-unified" not in cmd


def test_n_slots_each_keep_the_whole_context(fake_llama: Path, tmp_path: Path) -> None:
    cmd = llama(tmp_path, slots=4).command()
    assert cmd[cmd.index("--parallel") + 1] == "4"
    assert "--kv-unified" in cmd and cmd[cmd.index("--kv-unified-per-slot") + 1] == "16384"
    assert "--ctx-size" not in cmd  # -c would be split between the slots


def test_extra_args_replace_defaults_in_either_spelling(fake_llama: Path, tmp_path: Path) -> None:
    cmd = llama(tmp_path, slots=2, extra_args=["--jinja", "-fa", "on", "-np", "8", "-c", "4096"]).command()
    assert cmd.count("--jinja") == 1
    assert "--parallel" not in cmd and cmd[cmd.index("-np") + 1] == "8"
    assert cmd[cmd.index("-fa") + 1] == "on"
    assert cmd[cmd.index("-c") + 1] == "4096"
    assert merge_args(["--alias", "x", "--metrics"], ["-a", "y"]) == ["--metrics", "-a", "y"]


def test_chat_template_is_resolved_in_the_configs_folder(fake_llama: Path, tmp_path: Path) -> None:
    cmd = llama(tmp_path, chat_template_file="templates/gemma3-tools.jinja").command()
    template = Path(cmd[cmd.index("--chat-template-file") + 1])
    assert template.is_file() and template.parts[-3:] == ("configs", "templates", "gemma3-tools.jinja")


def test_config_may_not_set_the_port(fake_llama: Path, tmp_path: Path) -> None:
    with pytest.raises(ServerError, match="extra_args sets --port"):
        llama(tmp_path, extra_args=["--port", "9"])


def test_missing_gguf_names_the_path_and_the_hint(fake_llama: Path, tmp_path: Path) -> None:
    server = llama(tmp_path, model_path=str(tmp_path / "nope.gguf"))
    with pytest.raises(ServerError) as info:
        server.start()
    message = str(info.value)
    assert f"model file {tmp_path / 'nope.gguf'} not found" in message
    assert "example/fake-GGUF/fake.gguf" in message and "\n" not in message
    assert server.process is None


def test_unset_variable_in_model_path_is_named(fake_llama: Path, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_LLAMA_MODEL")
    with pytest.raises(ServerError, match=r"\$FAKE_LLAMA_MODEL is not set"):
        llama(tmp_path).start()


def test_binary_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLAMA_SERVER", str(tmp_path / "nowhere"))
    with pytest.raises(ServerError, match="LLAMA_SERVER=.*nowhere does not exist"):
        find_llama_server()
    monkeypatch.delenv("LLAMA_SERVER")
    monkeypatch.setenv("LOCALCODE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServerError, match=r"llama-server not found: run ./bin/setup"):
        find_llama_server()
    on_path = wrapper(tmp_path / "empty", "tests.support.fake_llama_server", "llama-server")
    assert find_llama_server() == str(on_path)
    built = wrapper(tmp_path / "home" / "bin", "tests.support.fake_llama_server", "llama-server")
    assert find_llama_server() == str(built)  # bin/setup's build wins over PATH


def test_mlx_is_chosen_by_server_type_or_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLX_SERVER", "/opt/fake/mlx_lm.server")
    cfg = {"model_path": "~/models/Qwen3-8bit", "extra_args": ["--chat-template-args", '{"enable_thinking":false}']}
    for server_config, name in (({**cfg, "server_type": "mlx"}, "x"), (cfg, "mlx/qwen")):
        server = build_server(server_config, name, slots=4, alias="a", log_path=tmp_path / "log", port=8123)
        assert isinstance(server, MlxServer) and server.health_path == "/v1/models"
        assert server.command() == [
            "/opt/fake/mlx_lm.server", "--model", str(Path.home() / "models/Qwen3-8bit"), "--host", "127.0.0.1",
            "--port", "8123", "--chat-template-args", '{"enable_thinking":false}',
        ]


def test_mlx_binary_missing_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLX_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ServerError, match="mlx_lm.server not found"):
        MlxServer.from_config({"model_path": "/m"}, log_path=tmp_path / "log")


# -- lifecycle against the stand-ins ------------------------------------------------------------


def test_llama_lifecycle_start_health_stop(fake_llama: Path, tmp_path: Path) -> None:
    server = llama(tmp_path, slots=2)
    server.start()
    try:
        assert server.port and httpx.get(server.url + "/health").status_code == 200
        assert httpx.get(server.url + "/props").json()["total_slots"] == 2
        pid = server.process.pid if server.process else 0
        assert jsonl(fake_llama)[0]["pid"] == pid
    finally:
        server.stop()
    assert not pid_alive(pid)
    assert "$ " in (tmp_path / "server.log").read_text()  # the command heads the log
    with pytest.raises(ServerError, match="stopped"):
        server.start()  # a final stop is final


def test_mlx_lifecycle_polls_v1_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLX_SERVER", str(wrapper(tmp_path / "bin", "tests.support.fake_mlx_server", "mlx_lm.server")))
    monkeypatch.setenv("FAKE_LLAMA_ARGV_LOG", str(tmp_path / "argv.jsonl"))
    (tmp_path / "weights").mkdir()
    server = MlxServer.from_config({"server_type": "mlx", "model_path": str(tmp_path / "weights"),
                                    "extra_args": ["--log-level", "INFO"]}, log_path=tmp_path / "mlx.log")
    owner = ServerOwner(server, tmp_path / "run")
    url = owner.start()
    try:
        assert httpx.get(url + "/health").status_code == 404  # ready although /health never answers
        assert httpx.get(url + "/v1/models").json()["data"]
        argv = jsonl(tmp_path / "argv.jsonl")[0]["argv"]
        assert argv[:2] == ["--model", str(tmp_path / "weights")] and argv[-2:] == ["--log-level", "INFO"]
        pid = server.process.pid if server.process else 0
    finally:
        owner.stop()
    assert not pid_alive(pid)


def test_mlx_missing_model_is_named(tmp_path: Path) -> None:
    server = MlxServer(binary="/bin/true", log_path=tmp_path / "l", model_path=str(tmp_path / "gone"),
                       hf_model="mlx-community/X")
    with pytest.raises(ServerError, match=r"MLX model .*gone not found; it is published as mlx-community/X"):
        server.start()


def test_exit_during_startup_shows_the_log_tail(fake_llama: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_LLAMA_MODE", "exit")
    with pytest.raises(ServerError) as info:
        llama(tmp_path).start()
    message = str(info.value)
    assert "exited with code 3 during start-up" in message
    assert "unsupported GGUF version" in message and "exiting due to model loading error" in message
    assert "\n" not in message


def test_port_taken_is_refused_before_starting(fake_llama: Path, tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        server = LlamaServer.from_config(FAKE_CONFIG, slots=1, alias="f", log_path=tmp_path / "l", port=port)
        with pytest.raises(ServerError, match=f"port {port} is already taken"):
            server.start()
    assert not fake_llama.exists()  # nothing was started


def test_owner_restarts_once_on_the_same_port_then_gives_up(fake_llama: Path, tmp_path: Path) -> None:
    server = llama(tmp_path)
    owner = ServerOwner(server, tmp_path / "run")
    url = owner.start()
    try:
        first = server.process.pid if server.process else 0
        os.kill(first, signal.SIGKILL)
        assert wait_for(lambda: server.restarts == 1 and server.alive(), 30)
        assert server.url == url and server.process and server.process.pid != first
        assert server_failed(tmp_path / "run") is None
        os.kill(server.process.pid, signal.SIGKILL)
        assert wait_for(lambda: server_failed(tmp_path / "run"), 30)
        # Killed after its restart (or during the restart's health wait): it gives up, no third start.
        assert (server_failed(tmp_path / "run") or "").startswith("model server died")
        assert server.restarts == 1 and len(jsonl(fake_llama)) == 2
    finally:
        owner.stop()


def test_stop_during_a_restart_leaves_no_process(fake_llama: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the supervisor is restarting: the new process must not outlive the run."""
    monkeypatch.setenv("FAKE_LLAMA_RESTART_LOADING", "30")
    server = llama(tmp_path)
    owner = ServerOwner(server, tmp_path / "run")
    owner.start()
    os.kill(server.process.pid if server.process else 0, signal.SIGKILL)
    assert wait_for(lambda: len(jsonl(fake_llama)) == 2, 30)  # the restart is loading now
    owner.stop()
    second = jsonl(fake_llama)[1]["pid"]
    assert wait_for(lambda: not pid_alive(second), 15)
    assert server_failed(tmp_path / "run") is None  # stopping is not a failure


def test_killing_the_owner_with_sigkill_takes_the_server_along(fake_llama: Path, tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: even ``kill -9`` of pytest leaves no orphaned server."""
    code = (
        "import sys, time; from pathlib import Path\n"
        "from pytest_localcode.server.llama import LlamaServer\n"
        "import json\n"
        f"cfg = json.loads(Path({str(AGENT_CONFIGS / 'fake-llama.json')!r}).read_text())['server_config']\n"
        f"s = LlamaServer.from_config(cfg, slots=1, alias='f', log_path=Path({str(tmp_path / 'l')!r}))\n"
        "s.start(); print('up', flush=True); time.sleep(600)\n"
    )
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=os.environ.copy())
    try:
        assert owner.stdout is not None and owner.stdout.readline().strip() == "up"
        server_pid = jsonl(fake_llama)[0]["pid"]
        assert pid_alive(server_pid)
    finally:
        owner.kill()
        owner.wait()
    assert wait_for(lambda: not pid_alive(server_pid), 15)


def test_sha_and_version_in_describe(fake_llama: Path, tmp_path: Path) -> None:
    info = llama(tmp_path).describe()
    assert info["kind"] == "llama.cpp" and info["model_bytes"] == 4
    assert len(info["model_sha256"]) == 64 and "fake llama-server" in info["version"]


# -- several servers from one config (--servers N) ----------------------------------------------


def test_devices_give_each_server_its_flags_env_and_slots(fake_llama: Path, tmp_path: Path) -> None:
    devices = ["CUDA1", {"env": {"CUDA_VISIBLE_DEVICES": "3"}, "args": ["-ngl", "0", "--device", "none"], "slots": 5}]
    one, two = build_servers({**FAKE_CONFIG, "devices": devices}, "fake", count=2, workers=3, alias="f",
                             run_dir=tmp_path)
    first, second = one.command(), two.command()
    assert first[first.index("--device") + 1] == "CUDA1" and one.env == {}
    assert first[first.index("--parallel") + 1] == "2"  # its share of 3 workers on 2 servers, rounded up
    assert two.env == {"CUDA_VISIBLE_DEVICES": "3"} and second[second.index("-ngl") + 1] == "0"
    assert second[second.index("--device") + 1] == "none" and second.count("--device") == 1
    assert second[second.index("--parallel") + 1] == "5"  # the device's own slot count
    assert [s.log_path.name for s in (one, two)] == ["server-0.log", "server-1.log"]


def test_one_server_keeps_server_log_and_ports_follow_the_given_one(fake_llama: Path, tmp_path: Path) -> None:
    (single,) = build_servers(FAKE_CONFIG, "fake", count=1, workers=4, alias="f", run_dir=tmp_path)
    assert single.log_path.name == "server.log" and "--device" not in single.command() and single.env == {}
    assert single.command()[single.command().index("--parallel") + 1] == "4"
    pair = build_servers(FAKE_CONFIG, "fake", count=2, workers=4, alias="f", run_dir=tmp_path, port=9100)
    assert [s.port for s in pair] == [9100, 9101]


@pytest.mark.parametrize(("devices", "message"), [
    (["CUDA0", "CUDA1"], r"--servers 3: server_config.devices lists 2; add one entry per server"),
    ("CUDA0", r"server_config.devices must be a list"),
    ([5, "a", "b"], r"server_config.devices\[0\]: expected a device name or an object"),
    ([{"env": {}, "gpu": 1}, "a", "b"], r"server_config.devices\[0\]: expected"),
    ([{"slots": 0}, "a", "b"],
     r"server_config.devices\[0\]: env must be an object, args a list, slots a positive number"),
])
def test_bad_device_settings_are_one_line(fake_llama: Path, tmp_path: Path, devices: object, message: str) -> None:
    with pytest.raises(ServerError, match=message) as info:
        build_servers({**FAKE_CONFIG, "devices": devices}, "fake", count=3, workers=3, alias="f", run_dir=tmp_path)
    assert "\n" not in str(info.value)


def test_start_all_starts_each_on_its_device_and_stops_them(fake_llama: Path, tmp_path: Path) -> None:
    devices = [{"env": {"CUDA_VISIBLE_DEVICES": "0"}}, {"env": {"CUDA_VISIBLE_DEVICES": "1"}, "slots": 3}]
    servers = build_servers({**FAKE_CONFIG, "devices": devices}, "fake", count=2, workers=2, alias="f",
                            run_dir=tmp_path)
    owners = [ServerOwner(server, tmp_path, index=i) for i, server in enumerate(servers)]
    start_all(owners)
    try:
        starts = {entry["pid"]: entry for entry in jsonl(fake_llama)}
        assert {starts[o.server.process.pid]["cuda"] for o in owners if o.server.process} == {"0", "1"}
        assert [httpx.get(o.url + "/props").json()["total_slots"] for o in owners] == [1, 3]
        assert "CUDA_VISIBLE_DEVICES=1 " in (tmp_path / "server-1.log").read_text()  # the log says where it ran
        pids = [o.server.process.pid for o in owners if o.server.process]
    finally:
        for owner in owners:
            owner.stop()
    assert not any(pid_alive(pid) for pid in pids)


def test_start_all_stops_the_started_ones_when_one_fails(fake_llama: Path, tmp_path: Path) -> None:
    devices = ["CUDA0", {"env": {"FAKE_LLAMA_MODE": "exit"}}]
    servers = build_servers({**FAKE_CONFIG, "devices": devices}, "fake", count=2, workers=2, alias="f",
                            run_dir=tmp_path)
    owners = [ServerOwner(server, tmp_path, index=i) for i, server in enumerate(servers)]
    with pytest.raises(ServerError, match=r"^server 1 of 2: .*exited with code 3 during start-up") as info:
        start_all(owners)
    assert "\n" not in str(info.value)
    assert not any(pid_alive(entry["pid"]) for entry in jsonl(fake_llama))


def test_each_server_has_its_own_failure_marker(fake_llama: Path, tmp_path: Path) -> None:
    owner = ServerOwner(llama(tmp_path), tmp_path / "run", index=1)
    owner._give_up("model server died again")
    assert server_failed(tmp_path / "run", 1) == "model server died again"
    assert server_failed(tmp_path / "run") is None  # server 0 is fine
