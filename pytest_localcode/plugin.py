"""The pytest plugin: options, collection of the exercises, fixtures, and reporting hooks.

Without ``--model`` the plugin only registers its options and markers, so plain ``pytest`` in
the project runs the project's own tests. With ``--model NAME`` (and no path arguments) it
collects the 225 exercises from the dataset, one item each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pytest_localcode import collect
from pytest_localcode.epochs import epoch_dir, epoch_seed
from pytest_localcode.errors import LocalcodeError
from pytest_localcode.flow import run_exercise
from pytest_localcode.grading import Grader
from pytest_localcode.languages import LANGUAGES
from pytest_localcode.live import LiveLog, stop_reason
from pytest_localcode.results import ExerciseResult, load
from pytest_localcode.sandbox import SandboxFactory
from pytest_localcode.server.pool import Assignment, Endpoint, Pool, Route, probe_slots, server_name
from pytest_localcode.settings import Settings, resolve, worker_id
from pytest_localcode.solvers import PSEUDO_MODELS, Solver, pseudo_solver

SETTINGS_KEY = pytest.StashKey[Settings]()
RESULT_KEY = pytest.StashKey[ExerciseResult]()
# --bench (what ./bin/bench runs): the embedded tiny model on one exercise of three languages
BENCH_MODEL = "gemma3-270m"
BENCH_EXERCISES = ("python/proverb", "javascript/space-age", "go/bowling")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("localcode", "localcode: benchmark a coding agent on the polyglot exercises")
    group.addoption("--model", dest="localcode_model", metavar="NAME",
                    help="agent config (e.g. glm-4.7-flash, gguf/glm-4.7-flash) or a pseudo-model: oracle, nop")
    group.addoption("--exercises", dest="localcode_exercises", metavar="DIR",
                    help="polyglot-benchmark checkout (default: $LOCALCODE_EXERCISES, else polyglot-benchmark/ "
                         "beside the project or a folder above it, or in a shared/ folder there)")
    group.addoption("--run-dir", dest="localcode_run_dir", metavar="DIR",
                    help="where results go (default runs/<timestamp>--<model>); an existing one is resumed")
    group.addoption("--resume", dest="localcode_resume", action="store_true",
                    help="continue the latest run of this model, skipping finished exercises")
    group.addoption("--tries", dest="localcode_tries", type=int, default=2, metavar="N",
                    help="tries per exercise; try 2+ gets the test failures (default 2)")
    group.addoption("--epochs", dest="localcode_epochs", type=int, default=1, metavar="K",
                    help="run every exercise K times, each in its own workspace and agent session, with the "
                         "sampling seed varied per epoch (default 1); the reports give intervals, pass@k, pass^k")
    group.addoption("--seed", dest="localcode_seed", type=int, default=None, metavar="N",
                    help="sampling seed of epoch 1 (epoch k uses N+k-1; default: the agent config's seed, else 1)")
    group.addoption("--sandbox", dest="localcode_sandbox", default="auto", metavar="KIND",
                    help="where tests and the shell tool run: docker, local (bubblewrap) or auto (default)")
    group.addoption("--server-url", dest="localcode_server_url", metavar="URL", action="append",
                    help="use a running OpenAI-compatible server instead of starting one; repeat it for several "
                         "servers (each xdist worker keeps one, weighted by the servers' slots)")
    group.addoption("--servers", dest="localcode_servers", type=int, default=None, metavar="N",
                    help="start N model servers from the agent config, each on its own device (server_config.devices)")
    group.addoption("--server-port", dest="localcode_server_port", type=int, default=0, metavar="PORT",
                    help="port for the server localcode starts (default: a free one; with --servers N, the first of N)")
    group.addoption("--shard", dest="localcode_shard", metavar="I/K",
                    help="run shard I (from 0) of K of the selected exercises; I may be $JOB_COMPLETION_INDEX. "
                         "Join the shards' run directories with `localcode merge`")
    group.addoption("--agent-timeout", dest="localcode_agent_timeout", type=float, default=900.0, metavar="SEC",
                    help="limit on the agent's working time per try: time a request waits for a server slot does "
                         "not count (default 900)")
    group.addoption("--max-turns", dest="localcode_max_turns", type=int, default=None, metavar="N",
                    help="override the agent config's max_turns")
    group.addoption("--max-tokens", dest="localcode_max_tokens", type=int, default=None, metavar="N",
                    help="limit on prompt+completion tokens per try")
    group.addoption("--test-timeout", dest="localcode_test_timeout", type=float, default=None, metavar="SEC",
                    help="seconds per test run, for every language (default: per language, exercises_conf)")
    group.addoption("--bench", dest="localcode_bench", action="store_true",
                    help=f"the quick benchmark ./bin/bench runs: --model defaults to {BENCH_MODEL}, and without "
                         f"-k, -m or paths only {', '.join(BENCH_EXERCISES)} run")
    group.addoption("--live", dest="localcode_live", default="auto", metavar="MODE",
                    help="the live view while the run goes on: status (lines kept below pytest's output on a "
                         "terminal), lines (a plain line every 30 s), off; auto (default): status on a terminal, "
                         "else lines")
    group.addoption("--slowdown-fraction", dest="localcode_slowdown_fraction", type=float, default=0.5, metavar="F",
                    help="a server has slowed down when its rolling median decode speed falls below F times the "
                         "median of the run's first minutes (default 0.5)")
    group.addoption("--stop-on-slowdown", dest="localcode_stop_on_slowdown", action="store_true",
                    help="on a slowdown, start no further exercise (those running finish; resume with --run-dir)")


@pytest.hookimpl(tryfirst=True)  # before pytest-html reads --html (we default it into the run dir)
def pytest_configure(config: pytest.Config) -> None:
    for language in LANGUAGES:
        config.addinivalue_line("markers", f"{language}: exercises of the {language} track")
    bench = config.getoption("localcode_bench")
    if bench and not config.getoption("localcode_model"):
        config.option.localcode_model = BENCH_MODEL
    if not config.getoption("localcode_model"):
        return
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None and "localcode_settings" in workerinput:
        settings = Settings.from_workerinput(workerinput["localcode_settings"])
    else:
        settings = resolve(config)
    if settings.model not in PSEUDO_MODELS:
        cfg = agent_config(settings.model)  # fail fast on an unknown or malformed config
        if settings.seed is None:
            settings.seed = cfg.seed
    config.stash[SETTINGS_KEY] = settings
    if config.args_source != pytest.Config.ArgsSource.ARGS:
        selected = config.option.keyword or config.option.markexpr
        if bench and not selected:  # in the dataset's order, as a -k selection of them collects them
            config.args = [str(settings.dataset / lang / "exercises" / "practice" / slug)
                           for lang, slug in sorted(name.split("/") for name in BENCH_EXERCISES)]
        else:
            config.args = [str(settings.dataset)]
    if workerinput is None:
        from pytest_localcode.report.plugin import ReportPlugin, default_html

        from pytest_localcode.monitor import MonitorPlugin

        default_html(config, settings)
        config.pluginmanager.register(ReportPlugin(settings, config), "localcode-report")
        config.pluginmanager.register(ServerPlugin(settings), "localcode-server")
        config.pluginmanager.register(MonitorPlugin(settings, config), "localcode-monitor")


def agent_config(name: str, overrides: dict[str, Any] | None = None) -> Any:
    """The agent config for ``--model``; unknown or malformed → one-line usage error."""
    from agent import ConfigError, list_configs, load_config

    try:
        return load_config(name, overrides=overrides or {})
    except ConfigError as exc:
        available = ", ".join(["oracle", "nop", *list_configs()])
        if "not found" in str(exc) or "unknown" in str(exc).lower():
            raise pytest.UsageError(f"--model {name}: no such agent config (available: {available})") from None
        raise pytest.UsageError(str(exc)) from None


class ServerPlugin:
    """Controller side: finds or starts the model servers before workers spawn, gives each worker
    one of them (through ``workerinput``), stops the ones it started once at the end."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.owners: list[Any] = []
        self.pool: Pool | None = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        settings = self.settings
        config = session.config
        if settings.model in PSEUDO_MODELS or config.option.collectonly or config.getoption("setupplan", False):
            return
        try:
            servers = self.find_servers() if settings.server_urls else self.start_servers(config)
            servers = self.preflight(servers, worker_count(config))
        except LocalcodeError as exc:
            self.stop()
            raise pytest.UsageError(str(exc)) from None
        self.pool = Pool(servers)
        settings.servers = [s.to_dict() for s in servers]
        settings.server_url = servers[0].url
        if not settings.external_server:
            settings.server_info = servers[0].info

    def preflight(self, servers: list[Endpoint], workers: int) -> list[Endpoint]:
        """Check every server before any exercise (pytest_localcode/preflight.py); what it learned
        goes to the provenance, and the servers that take llama.cpp's ``id_slot`` get it."""
        from pytest_localcode.preflight import run_preflight

        cfg = agent_config(self.settings.model)
        servers, records, note = run_preflight(servers, cfg, workers=workers, seed=self.settings.seed)
        self.settings.preflight, self.settings.determinism = records, note
        return servers

    def find_servers(self) -> list[Endpoint]:
        """The --server-url servers, each asked for its slots; one that does not answer is a usage error."""
        return [Endpoint(i, url, probe_slots(url), server_name(url)) for i, url in enumerate(self.settings.server_urls)]

    def start_servers(self, config: pytest.Config) -> list[Endpoint]:
        from pytest_localcode.server.base import ServerError
        from pytest_localcode.server.owner import ServerOwner, build_servers, start_all

        settings = self.settings
        workers = worker_count(config)
        if settings.server_count > workers:
            raise ServerError(f"--servers {settings.server_count} with {workers} worker(s): "
                              f"each worker keeps one server, so some would sit idle; "
                              f"add -n {settings.server_count} (or more)")
        cfg = agent_config(settings.model)
        servers = build_servers(cfg.server_config or {}, cfg.name, count=settings.server_count, workers=workers,
                                alias=cfg.model or cfg.name, run_dir=settings.run_dir,
                                port=config.getoption("localcode_server_port"))
        self.owners = [ServerOwner(server, settings.run_dir, index=i) for i, server in enumerate(servers)]
        start_all(self.owners)
        return [Endpoint(i, o.url, probe_slots(o.url), server_name(o.url), managed=True, info=o.describe())
                for i, o in enumerate(self.owners)]

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Each xdist worker: the run's settings, with its own server for the whole session."""
        data = self.settings.to_workerinput()
        if self.pool is not None:
            assignment = self.pool.take(node.gateway.id, same_host(self.pool.servers, node))
            data["server"] = assignment.to_dict()
            data["server_url"] = assignment.server.url
        node.workerinput["localcode_settings"] = data

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if self.pool is not None:  # a replacement worker (xdist restarts crashed ones) gets the place
            self.pool.release(node.gateway.id)

    def stop(self) -> None:
        for owner in self.owners:
            owner.stop()

    def pytest_sessionfinish(self) -> None:
        self.stop()

    def pytest_unconfigure(self) -> None:
        self.stop()


def same_host(servers: list[Endpoint], node: Any) -> list[Endpoint] | None:
    """A worker started on another machine (``--tx ssh=HOST``) that runs one of the servers uses
    a server on that machine; None (any server) otherwise."""
    words = (getattr(node.gateway.spec, "ssh", None) or "").split()  # [ssh options…] [user@]host
    host = words[-1].split("@")[-1] if words else None
    local = [s for s in servers if host and urlsplit(s.url).hostname == host]
    return local or None


def worker_count(config: pytest.Config) -> int:
    """How many workers will share the servers: ``-n N``, or the ``--tx`` specs, else 1."""
    numprocesses = getattr(config.option, "numprocesses", None)
    if numprocesses:
        return int(numprocesses)
    if getattr(config.option, "tx", None):
        from xdist.workermanage import parse_tx_spec_config  # expands "4*ssh=…"

        return len(parse_tx_spec_config(config))
    return 1


@pytest.hookimpl(trylast=True)  # after -k/-m deselected: shards split what is selected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.shard:
        return
    from pytest_localcode.shard import Shard, select

    kept, dropped = select(items, collect.exercise_key, Shard(*settings.shard))
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    settings = parent.config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return None
    return collect.claim_directory(path, parent, settings.dataset, settings.epochs)


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def localcode_settings(pytestconfig: pytest.Config) -> Settings:
    try:
        return pytestconfig.stash[SETTINGS_KEY]
    except KeyError:
        pytest.skip("needs --model")


@pytest.fixture(scope="session")
def localcode_sandboxes(localcode_settings: Settings) -> Iterator[SandboxFactory]:
    from pytest_localcode.sandbox.select import open_factory

    try:
        factory = open_factory(localcode_settings.sandbox)
    except LocalcodeError as exc:
        pytest.exit(str(exc), returncode=4)
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def localcode_route(localcode_settings: Settings) -> Route | None:
    """This process's model server (the one the controller assigned), and where it moves if that
    one is gone for good; None for pseudo-models."""
    settings = localcode_settings
    if not settings.servers:
        return None
    servers = [Endpoint.from_dict(data) for data in settings.servers]
    current = Assignment.from_dict(settings.server) if settings.server else Pool(servers).take(worker_id())
    return Route(servers, current, settings.run_dir, worker_id())


@pytest.fixture(scope="session")
def localcode_solver(localcode_settings: Settings, localcode_sandboxes: SandboxFactory,
                    localcode_route: Route | None) -> Solver:
    settings = localcode_settings
    solver = pseudo_solver(settings.model)
    if solver is not None:
        return solver
    from agent import AgentLimits
    from pytest_localcode.agent_solver import AgentSolver

    if localcode_route is None:
        pytest.exit("no model server: it failed to start (see above) or --server-url is missing", returncode=4)
    server = localcode_route.current.server
    cfg = agent_config(settings.model)
    limits = AgentLimits(max_turns=settings.max_turns, max_seconds=settings.agent_timeout,
                         max_total_tokens=settings.max_tokens)
    live = LiveLog(Path(settings.live_dir), worker_id()) if settings.live_dir else None
    return AgentSolver(cfg, server.url, localcode_sandboxes, worker_id(), limits, model_name=cfg.model,
                       owned_server=server.managed, slot=localcode_route.current.pinned_slot,
                       server_index=server.index, live=live)


@pytest.fixture(scope="session")
def localcode_provenance(localcode_settings: Settings) -> dict[str, Any]:
    """What each exercise's result file records about how it was produced (the run's full
    provenance is in summary.json)."""
    from pytest_localcode.paths import PROJECT_DIR
    from pytest_localcode.report.provenance import git_commit

    settings = localcode_settings
    info: dict[str, Any] = {"model": settings.model, "git_commit": git_commit(PROJECT_DIR), "sandbox": settings.sandbox,
                            "server_url": settings.server_url, "tries": settings.tries, "epochs": settings.epochs,
                            "dataset_commit": git_commit(settings.dataset)}
    if settings.shard:
        info["shard"] = list(settings.shard)
    if settings.model not in PSEUDO_MODELS:
        cfg = agent_config(settings.model)
        info["agent_config"] = cfg.name
        info["reasoning_effort"] = cfg.reasoning_effort
    return info


@pytest.fixture
def localcode_result(
    request: pytest.FixtureRequest,
    localcode_settings: Settings,
    localcode_sandboxes: SandboxFactory,
    localcode_solver: Solver,
    localcode_provenance: dict[str, Any],
    localcode_route: Route | None,
) -> ExerciseResult:
    """Runs the exercise (agent tries + grading) in setup; resumes a finished one from disk."""
    item = request.node
    if not isinstance(item, collect.ExerciseItem):
        pytest.skip("localcode_result is for exercise items")
    from pytest_localcode.report.provenance import exercise_digest

    ex = item.exercise
    settings = localcode_settings
    item_dir = epoch_dir(settings.run_dir, ex.language, ex.slug, item.epoch)
    prior = load(item_dir)
    if prior is not None and prior.complete and prior.model == settings.model:
        result = prior
        item.user_properties.append(("resumed", True))
    else:
        stop = stop_reason(Path(settings.live_dir) if settings.live_dir else None)
        if stop:
            pytest.exit(f"stopping the run: {stop}. Finished exercises are saved in {settings.run_dir}; run the same "
                        f"command with --run-dir {settings.run_dir} to resume", returncode=3)
        if localcode_route is not None and localcode_route.several and localcode_route.gone():
            move_to_another_server(localcode_route, localcode_solver)  # between exercises, never within one
        grader = Grader(localcode_sandboxes, worker=worker_id(), timeout=settings.test_timeout)
        provenance = {**localcode_provenance, "exercise_digest": exercise_digest(ex.path, ex.files())}
        result = run_with_recovery(item, settings, localcode_solver, grader, item_dir, provenance, localcode_route)
    item.stash[RESULT_KEY] = result
    item.user_properties.extend(properties(result))
    if result.error:
        raise LocalcodeError(result.error)
    return result


def run_with_recovery(item: Any, settings: Settings, solver: Solver, grader: Grader, item_dir: Path,
                      provenance: dict[str, Any], route: Route | None = None) -> ExerciseResult:
    """Run the exercise; if the model server died mid-try, wait for its one restart and redo it.
    A server gone for good hands this worker to another server of the run, which redoes the
    exercise from the start; with no server left the run stops, as it does with one server."""
    from pytest_localcode.agent_solver import ServerLost, server_healthy
    from pytest_localcode.server.owner import server_failed, wait_after_loss

    seed = None if settings.model in PSEUDO_MODELS else epoch_seed(settings.seed, item.epoch)

    def once() -> ExerciseResult:
        here = provenance if route is None else {**provenance, "server_url": route.current.server.url,
                                                 "server": route.current.record(), "worker": worker_id()}
        return run_exercise(item.exercise, item.conf, solver, grader, item_dir, tries=settings.tries,
                            model=settings.model, provenance=here, epoch=item.epoch, epochs=settings.epochs, seed=seed)

    restarted: set[int] = set()
    while True:  # ends: each server is waited for once, then left for good (route.move never returns to it)
        try:
            return once()
        except ServerLost as exc:
            index = route.current.server.index if route else 0
            url = route.current.server.url if route else settings.server_url or ""
            if (index not in restarted
                    and wait_after_loss(settings.run_dir, lambda url=url: server_healthy(url), 300, index)):
                restarted.add(index)
                continue
            reason = server_failed(settings.run_dir, index) or str(exc)
            if route is None or not move_to_another_server(route, solver):
                pytest.exit(f"stopping the run: {reason}. Finished exercises are saved in {settings.run_dir}; "
                            f"run the same command with --run-dir {settings.run_dir} to resume", returncode=3)


def move_to_another_server(route: Route, solver: Solver) -> bool:
    """Point this worker (and its solver) at another usable server; False when none is left."""
    moved = route.move()
    if moved is None:
        return False
    retarget = getattr(solver, "retarget", None)
    if retarget is not None:
        retarget(moved.server.url, owned_server=moved.server.managed, slot=moved.pinned_slot,
                 server_index=moved.server.index)
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the exercise's details (transcript, test output, diff) to one report, for pytest-html."""
    report = yield
    result = item.stash.get(RESULT_KEY, None)
    if result is not None and (report.when == "call" or (report.when == "setup" and report.failed)):
        from pytest_html import extras

        from pytest_localcode.report.html import details_html

        report.extras = [*getattr(report, "extras", []), extras.html(details_html(result))]
    return report


def properties(result: ExerciseResult) -> list[tuple[str, Any]]:
    """Plain scalars only: junitxml and xdist carry them without custom serialisation."""
    from pytest_localcode.report.summary import exercise_row

    row = exercise_row(result)
    last = result.tries[-1].tests if result.tries else {}
    props: list[tuple[str, Any]] = [
        ("language", result.language),
        ("exercise", result.exercise),
        ("epoch", result.epoch),
        ("status", result.status),
        ("tries_used", len(result.tries)),
        ("tests_defined", int(last.get("defined", 0))),
        ("tests_run", int(last.get("executed", 0))),
        ("tests_passed", int(last.get("passed", 0))),
        ("tests_failed", int(last.get("failed", 0))),
        ("wall_seconds", round(result.wall_seconds, 3)),
        ("test_seconds", round(sum(t.test_seconds for t in result.tries), 3)),
        ("agent_seconds", round(sum(t.agent_seconds for t in result.tries), 3)),
        ("timeouts", sum(1 for t in result.tries if t.tests.get("timed_out"))),
        ("prompt_tokens", row["prompt_tokens"]),
        ("completion_tokens", row["completion_tokens"]),
        ("prefill_tps", row["prefill_tps"]),
        ("decode_tps", row["decode_tps"]),
        ("turns", row["turns"]),
        ("model_responses", row["model_responses"]),
        ("tool_call_responses", row["tool_call_responses"]),
        ("tool_calls", row["tool_calls_total"]),
        ("tool_errors", row["tool_errors_total"]),
        ("refused_access", len(result.refused_paths)),
    ]
    if result.seed is not None:
        props.append(("seed", result.seed))
    if result.refused_paths:
        props.append(("refused_paths", "; ".join(result.refused_paths[:20])))
    server = result.provenance.get("server") or {}
    if server:
        props.append(("server", str(server.get("name"))))
    for record in result.tries:
        props.append((f"try{record.number}_outcome", record.outcome))
    return props
