"""Configs: loading, errors that name file and key, overrides, and every shipped config."""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path

import pytest

from agent import (
    Agent,
    AgentConfig,
    ConfigError,
    HttpChatClient,
    list_configs,
    load_config,
)
from agent.cli import split_cli_overrides
from agent.config import CONFIG_DIR, ConfigWarning, coerce, resolve_syntax, with_overrides
from agent.prompts import few_shot, name_map
from agent.syntaxes import SYNTAXES
from agent.tools import resolve_tool_name, toolbox_for

SHIPPED_GGUF = {
    "glm-4.7-flash",
    "gpt-oss-120b-mxfp4",
    "qwen3-coder-next-q4km",
    "qwen3-coder-next-mxfp4",
    "qwen3-next-80b-q8",
    "jan-v3-4b",
    "kimi-k2.5",
    "minimax-m2.1-q8",
    "step-3.5-flash-q4km",
    "gemma3-270m",
    "smollm2-135m",
}


def write(tmp_path: Path, data: object, name: str = "cfg.json") -> Path:
    (tmp_path / "p.md").write_text("prompt {{TOOLS}}")
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def test_list_and_load_by_short_name_family_name_and_path() -> None:
    names = list_configs()
    assert {f"gguf/{n}" for n in SHIPPED_GGUF} <= set(names)
    assert {"mlx/qwen3-coder-next-8bit", "mlx/qwen3-coder-next-bf16"} <= set(names)
    assert names == sorted(names)
    by_short = load_config("glm-4.7-flash")
    assert by_short.name == "gguf/glm-4.7-flash"
    assert load_config("gguf/glm-4.7-flash").to_dict() == by_short.to_dict()
    assert load_config(CONFIG_DIR / "gguf" / "glm-4.7-flash.json").name == "gguf/glm-4.7-flash"


@pytest.mark.parametrize("name", list_configs())
def test_every_shipped_config_builds_an_agent(name: str, tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # shipped configs carry no deprecated or unknown key
        cfg = load_config(name)
    assert cfg.warnings == []
    assert cfg.server_config.get("model_path") and cfg.server_config.get("context_window")
    agent = Agent(cfg, client=HttpChatClient("http://127.0.0.1:9"), workspace=tmp_path, context_window=8192)
    assert "{{" not in agent.system and agent.system
    for tool in agent.display:
        assert tool in agent.system  # {{TOOLS}} lists them all
    assert re.search(r"\{\{\s*(tool:|TOOLS)", json.dumps(agent.examples)) is None


def test_tiny_configs_match_what_the_harness_runs() -> None:
    for name, model_file, template in (
        ("gemma3-270m", "gemma-3-270m-q4_k_m.gguf", "gemma3-tools.jinja"),
        ("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf", "chatml-tools.jinja"),
    ):
        cfg = load_config(name)
        sc = cfg.server_config
        assert sc["model_path"] == f"$LOCALCODE_HOME/models/{model_file}"
        assert sc["context_window"] == 8192 and "--jinja" in sc["extra_args"]
        assert cfg.chat_template_path() == CONFIG_DIR / "templates" / template and cfg.chat_template_path().is_file()
        assert cfg.temperature == 0 and cfg.max_tokens <= 256 and cfg.few_shot
        assert cfg.tools == ["read", "write", "finish"]
        assert cfg.call_grammar == "section" and cfg.minimal_schemas and cfg.grammar_max_string
    tools = ["read", "write", "finish"]
    examples = few_shot(load_config("gemma3-270m"), [], name_map(tools, tools, resolve_tool_name))
    assert [m["tool_calls"][0]["function"]["name"] for m in examples if m.get("tool_calls")] == tools


def test_missing_file_and_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown agent config 'nope'; available: .*gguf/glm-4.7-flash"):
        load_config("nope")
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.json")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", r"cfg.json: invalid JSON"),
        ("[1, 2]", r"cfg.json: top level must be a JSON object"),
        ({"model": "m"}, r"cfg.json: key 'prompt' is required"),
        ({"prompt": "p.md", "max_turns": "ten"}, r"cfg.json: key 'max_turns' must be an integer, got \"ten\""),
        ({"prompt": "p.md", "max_turns": 0}, r"cfg.json: key 'max_turns' must be ≥ 1"),
        ({"prompt": "p.md", "temperature": True}, r"key 'temperature' must be a number"),
        ({"prompt": "p.md", "tool_choice": {"type": "function"}}, r"key 'tool_choice' must be a string"),
        ({"prompt": "p.md", "tool_choice": "always"}, r"key 'tool_choice' must be one of auto, required, none"),
        ({"prompt": "p.md", "tools": "read"}, r"key 'tools' must be a list"),
        ({"prompt": "p.md", "think": "maybe"}, r"key 'think' must be true, false or \"auto\""),
        ({"prompt": "p.md", "tool_syntax": "glm5"},
         r"cfg.json: key 'tool_syntax' must be one of glm, qwen3_coder, step, .*, tool_calls, got \"glm5\""),
        ({"prompt": "p.md", "call_grammar": "section", "tool_syntax": "glm"},
         r"cfg.json: key 'tool_syntax' is 'glm' but call_grammar 'section' makes the model write 'tool_calls' calls"),
    ],
)
def test_config_errors_are_one_line_naming_file_and_key(tmp_path: Path, data: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        load_config(write(tmp_path, data))
    assert "\n" not in str(info.value)


def test_deprecated_and_unknown_keys_warn_once_and_are_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path, {"prompt": "p.md", "history_mode": "window", "flow_retry_hints": 1, "colour": "blue", "max_turns": 3}
    )
    with pytest.warns(ConfigWarning) as record:
        cfg = load_config(path)
    assert sorted(str(w.message) for w in record) == [
        f"{path}: deprecated key 'flow_retry_hints' ignored",
        f"{path}: deprecated key 'history_mode' ignored",
        f"{path}: unknown key 'colour' ignored",
    ]
    assert cfg.max_turns == 3 and len(cfg.warnings) == 3 and not hasattr(cfg, "colour")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = load_config(path)  # once per process, not once per exercise
    assert len(again.warnings) == 3


def test_overrides_are_typed_like_the_cli(tmp_path: Path) -> None:
    path = write(tmp_path, {"prompt": "p.md", "top_p": 0.9})
    cfg = load_config(
        path,
        overrides={
            "max_turns": "30",
            "tools": "read,write,finish",
            "top_p": "none",
            "think": "auto",
            "native-thinking": "true",
            "request_overrides": '{"n_probs": 1}',
            "temperature": 1,
            "stop": '["</tool_call>"]',
        },
    )
    assert (cfg.max_turns, cfg.tools, cfg.top_p, cfg.think, cfg.native_thinking) == (
        30,
        ["read", "write", "finish"],
        None,
        "auto",
        True,
    )
    assert cfg.request_overrides == {"n_probs": 1} and cfg.temperature == 1.0 and isinstance(cfg.temperature, float)
    assert cfg.stop == ["</tool_call>"]
    with pytest.raises(ConfigError, match=r"override max_turns: key 'max_turns' must be an integer, got \"many\""):
        load_config(path, overrides={"max_turns": "many"})
    with pytest.raises(ConfigError, match="override 'max_turn': not a config key"):
        load_config(path, overrides={"max_turn": 3})
    assert with_overrides(cfg, {"max_turns": "5"}).max_turns == 5 and cfg.max_turns == 30


def test_coerce_and_split_cli_overrides() -> None:
    assert coerce("bool", "yes") is True and coerce("bool", "off") is False and coerce("bool", "maybe") == "maybe"
    assert coerce("float?", "null") is None and coerce("int", "7") == 7 and coerce("list", '["a", "b"]') == ["a", "b"]
    assert split_cli_overrides(["--max-turns", "30", "--tools=read,write", "--top_p", "-1"]) == {
        "max_turns": "30",
        "tools": "read,write",
        "top_p": "-1",
    }
    with pytest.raises(ValueError, match="--stream needs a value"):
        split_cli_overrides(["--stream"])


def test_bad_tool_name_is_a_config_error(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {"prompt": "p.md", "tools": ["read", "teleport"]}))
    with pytest.raises(ConfigError, match=r"key 'tools'.*teleport"):
        toolbox_for(cfg, tmp_path)


def test_broken_few_shot_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "fs.json").write_text(
        json.dumps(
            [
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "a", "type": "function", "function": {"name": "read", "arguments": "{}"}}],
                },
                {"role": "user", "content": "x"},
            ]
        )
    )
    cfg = load_config(write(tmp_path, {"prompt": "p.md", "few_shot": "fs.json", "tools": ["read"]}))
    with pytest.raises(ConfigError, match=r"few_shot.*\['a'\] have no tool result"):
        Agent(cfg, client=HttpChatClient("http://127.0.0.1:9"), workspace=tmp_path, context_window=4096)


def test_agent_config_defaults_are_sane() -> None:
    cfg = AgentConfig(name="x", prompt="p")
    assert cfg.stream is True and cfg.max_turns == 20 and cfg.history_max_messages == 0 and cfg.reasoning_effort is None
    assert AgentConfig(name="x", prompt="p", thinking_level="high").reasoning_effort == "high"


def test_prompt_placeholders_follow_display_names(tmp_path: Path) -> None:
    agent = Agent(load_config("gguf/gpt-oss-120b-mxfp4"), client=HttpChatClient("http://127.0.0.1:9"),
                  workspace=tmp_path,
                  context_window=8192)  # fmt: skip
    assert "(read_file)" in agent.system and "(write_file)" in agent.system and "(replace_in_file)" in agent.system
    assert "- read_file(path, line_start?" in agent.system


def test_prompt_overlay_is_named_by_the_caller(tmp_path: Path) -> None:
    """An overlay applies when the caller names its key exactly (the harness: the exercise);
    nothing is inferred from the workspace's directory name."""
    (tmp_path / "react.md").write_text("REACT HINTS")
    overlays = {"javascript/react": "react.md"}
    cfg = load_config(write(tmp_path, {"prompt": "p.md", "tools": ["read"], "prompt_overlays": overlays}))
    ws = tmp_path / "javascript-react"
    ws.mkdir()
    client = HttpChatClient("http://127.0.0.1:9")
    named = Agent(cfg, client=client, workspace=tmp_path, context_window=4096, prompt_overlay="javascript/react")
    assert named.system.endswith("REACT HINTS")
    assert "HINTS" not in Agent(cfg, client=client, workspace=ws, context_window=4096).system
    assert "HINTS" not in Agent(cfg, client=client, workspace=ws, context_window=4096, prompt_overlay="react").system


@pytest.mark.parametrize("name", list_configs())
def test_every_shipped_config_names_its_tool_syntax_and_detection_agrees(name: str) -> None:
    """Each shipped config fixes its family's syntax; left out, the family detected from the
    config's chat template, grammar or model names is the same one."""
    cfg = load_config(name)
    assert cfg.tool_syntax in SYNTAXES
    assert resolve_syntax(dataclasses.replace(cfg, tool_syntax=None)) == cfg.tool_syntax
    if cfg.call_grammar:  # the tiny models: their own templates say so too
        plain = dataclasses.replace(cfg, tool_syntax=None, call_grammar=None)
        assert plain.chat_template_path() is not None and resolve_syntax(plain) == cfg.tool_syntax


def test_the_syntax_comes_from_the_config_then_the_template_then_the_model_names(tmp_path: Path) -> None:
    glm_template = "{%- for m in messages %}<tool_call>{{ m.name }}<arg_key>k</arg_key><arg_value>v</arg_value>"
    (tmp_path / "t.jinja").write_text("{{ '<|tool_calls_section_begin|>' }}")
    bare = AgentConfig(name="mine/unknown", prompt="p.md", model="local-model")
    assert resolve_syntax(bare) is None  # nothing tells: every family is read, none first
    assert resolve_syntax(bare, chat_template=glm_template) == "glm"
    assert resolve_syntax(bare, model_name="Qwen3-Coder-30B-A3B-Instruct-Q4_K_M.gguf") == "qwen3_coder"
    assert resolve_syntax(bare, chat_template=glm_template, model_name="gpt-oss-20b") == "glm"  # the template first
    named = dataclasses.replace(bare, server_config={"model_path": "/models/qwen/MiniMax-M2.1-Q8_0.gguf",
                                                     "hf_model": "org/Kimi-K2.5-GGUF/x.gguf"})
    assert resolve_syntax(named) == "minimax"  # model_path (its file name) before hf_model
    assert resolve_syntax(dataclasses.replace(named, model="step-3.5-flash")) == "step"
    template_file = {**named.server_config, "chat_template_file": str(tmp_path / "t.jinja")}
    with_file = dataclasses.replace(named, path=str(tmp_path / "c.json"), server_config=template_file)
    assert resolve_syntax(with_file) == "kimi"  # the config's template file before the names
    assert resolve_syntax(with_file, chat_template=glm_template) == "glm"  # the server's own template first
    assert resolve_syntax(dataclasses.replace(with_file, call_grammar="tag")) == "hermes"
    assert resolve_syntax(dataclasses.replace(with_file, call_grammar="tag", tool_syntax="hermes")) == "hermes"
    declared = dataclasses.replace(with_file, tool_syntax="deepseek")
    assert resolve_syntax(declared, chat_template=glm_template) == "deepseek"


def test_the_agent_reads_the_servers_template_only_when_the_config_does_not_say(tmp_path: Path) -> None:
    from tests.support.scripted_server import ScriptedServer

    chatml = (CONFIG_DIR / "templates" / "chatml-tools.jinja").read_text(encoding="utf-8")
    (tmp_path / "p.md").write_text("prompt")
    with ScriptedServer([], chat_template=chatml) as server, HttpChatClient(server.url) as client:
        def syntax(model_name: str | None = None, **keys: object) -> str | None:
            cfg = load_config(write(tmp_path, {"prompt": "p.md", "model": "local-model", **keys}))
            return Agent(cfg, client=client, workspace=tmp_path, context_window=8192, model_name=model_name).syntax

        assert syntax() == "tool_calls"  # from /props
        assert syntax(tool_syntax="glm") == "glm"
        assert syntax(call_grammar="json") == "llama3"
    with ScriptedServer([]) as server, HttpChatClient(server.url) as client:  # a server without a template
        cfg = load_config(write(tmp_path, {"prompt": "p.md", "model": "local-model"}))
        assert Agent(cfg, client=client, workspace=tmp_path, context_window=8192).syntax is None
        assert Agent(cfg, client=client, workspace=tmp_path, context_window=8192,
                     model_name="GLM-4.7-Flash-Q6_K").syntax == "glm"
        assert Agent(cfg, client=client, workspace=tmp_path, context_window=8192,
                     chat_template=chatml).syntax == "tool_calls"  # the harness hands it over
