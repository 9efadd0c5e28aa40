"""Build the one complete, validated config a run uses.

Train: preset -> config file -> --set overrides -> schema defaults -> validation.
Inference: schema defaults <- config file <- --set overrides, same rules.
Later layers win; objects merge key by key, everything else (lists too) is replaced.
"""

import copy
import json

from trainer.config.presets import known_presets, load_preset
from trainer.config.validate import (describe, infer_schema_for, load_schema, validate_infer_config,
                                      validate_train_config)
from trainer.errors import ConfigError

__all__ = ["known_presets", "parse_set", "resolve_infer_config", "resolve_train_config"]

# Used only when no config file is given at all: a bare `train` should run quickly on the demo project.
DEFAULT_PRESET = "demo"


def _reject_constant(token: str):
    raise ValueError(f"{token} is not a JSON value")


def _loads(text: str):
    """json.loads without NaN/Infinity: they are not JSON and would slip past `lr > 0`."""
    return json.loads(text, parse_constant=_reject_constant)


def parse_set(items: list[str]) -> list[tuple[list[str], object]]:
    """`a.b=1` -> (["a", "b"], 1). The value is JSON if it parses, else the raw string (so `name=foo` needs no quotes)."""
    parsed, problems = [], []
    for item in items:
        key, sep, raw = item.partition("=")
        path = key.split(".")
        if not sep:
            problems.append(f'--set "{item}": expected KEY=VALUE')
        elif not all(path):
            problems.append(f'--set "{item}": empty key or key part in "{key}"')
        else:
            try:
                value = _loads(raw)
            except ValueError:
                value = raw
            parsed.append((path, value))
    if problems:
        raise ConfigError(*problems)
    return parsed


def _where(kind: str, config_path: str | None, overrides: list) -> str:
    where = f"{kind} config {config_path}" if config_path else f"{kind} config"
    return f"{where} (+ --set)" if overrides else where


def _load_file(config_path: str, kind: str) -> dict:
    where = f"{kind} config {config_path}"
    try:
        with open(config_path, encoding="utf-8-sig") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(f"{where}: cannot read ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        data = _loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except ValueError as e:
        raise ConfigError(f"{where}: not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object at the top level, got {describe(data)}")
    return data


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _layer(path: list[str], value) -> dict:
    """An override as a nested object, so it merges like a config file and creates missing parents."""
    for key in reversed(path):
        value = {key: value}
    return value


def fill_defaults(config: dict, schema: dict) -> dict:
    """Copy of `config` with every missing key that has a schema `default`, recursively, in schema key order
    (so a partial object such as `batch_size: {train: 4}` is completed and saved configs read in a stable order)."""
    props = schema.get("properties", {})
    out = {}
    for key, sub in props.items():
        if key in config:
            value = config[key]
        elif "default" in sub:
            value = copy.deepcopy(sub["default"])
        else:
            continue
        out[key] = fill_defaults(value, sub) if isinstance(value, dict) else value
    out.update((key, value) for key, value in config.items() if key not in props)
    return out


def resolve_train_config(config_path: str | None, preset: str | None, overrides: list[str]) -> dict:
    """The complete, validated train config; `"preset"` records the base preset's name (absent if none)."""
    where = _where("train", config_path, overrides)
    sets = parse_set(overrides)
    if any(path[0] == "preset" for path, _ in sets):
        raise ConfigError(f"{where}: preset: choose the preset with --preset, not --set")
    file_data = _load_file(config_path, "train") if config_path else {}

    name, origin = preset, "--preset"
    if name is None and "preset" in file_data:
        name, origin = file_data["preset"], f"train config {config_path}: preset"
        if not isinstance(name, str):
            raise ConfigError(f"{origin}: expected string, got {describe(name)}")
    if name is None and config_path is None:
        name, origin = DEFAULT_PRESET, "default preset"
    try:
        config = load_preset(name) if name is not None else {}
    except ConfigError as e:
        raise ConfigError(*(f"{origin}: {line}" for line in e.lines)) from None

    config = _merge(config, file_data)
    for path, value in sets:
        config = _merge(config, _layer(path, value))
    if name is not None:
        config["preset"] = name
    config = fill_defaults(config, load_schema("train"))
    validate_train_config(config, where)
    return config


def saved_train_config(config: dict, where: str, *, pipelines: bool = True) -> dict:
    """A train config this tool saved (RUN/config.json, a checkpoint's settings), completed with the defaults of keys
    added since it was written, validated again."""
    config = fill_defaults(config, load_schema("train"))
    validate_train_config(config, where, pipelines=pipelines)
    return config


def _rename_legacy_mode(layer: dict, where: str) -> dict:
    """Plugin v1 configs said `mode.source`; read it as `mode.name` (both given and different is ambiguous)."""
    mode = layer.get("mode")
    if not (isinstance(mode, dict) and "source" in mode):
        return layer
    mode = dict(mode)
    source = mode.pop("source")
    if "name" in mode and mode["name"] != source:
        raise ConfigError(
            f"{where}: mode.source: legacy spelling of mode.name, but both are given and differ "
            f"({json.dumps(source)} vs {json.dumps(mode['name'])})"
        )
    mode["name"] = source
    return {**layer, "mode": mode}


def resolve_infer_config(config_path: str | None, overrides: list[str]) -> dict:
    """The complete, validated inference config."""
    return with_infer_settings(*infer_config_layer(config_path, overrides))


def infer_config_layer(config_path: str | None, overrides: list[str]) -> tuple[dict, str]:
    """The inference config as given (file, then --set), before defaults, and how errors name it: the base a server
    lays each request's settings over."""
    where = _where("inference", config_path, overrides)
    sets = parse_set(overrides)
    config = _rename_legacy_mode(_load_file(config_path, "inference"), where) if config_path else {}
    for path, value in sets:
        config = _merge(config, _rename_legacy_mode(_layer(path, value), where))
    return config, where


def with_infer_settings(layer: dict, where: str, settings: object = None) -> dict:
    """`layer` with `settings` (keys of an inference config) laid over it, completed and validated; errors name
    `where` and the key path, as infer.py's do."""
    if settings is not None:
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: must be a JSON object (keys of an inference config)")
        layer = _merge(layer, _rename_legacy_mode(settings, where))
    config = fill_defaults(layer, infer_schema_for(layer))
    validate_infer_config(config, where)
    return config
