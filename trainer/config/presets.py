"""Named presets: partial train configs shipped as plain JSON files in the `trainer.presets` package."""

import json
from importlib import resources
from pathlib import Path

from trainer.errors import ConfigError


def _preset_dir():
    """The installed `trainer.presets` package, or `presets/` in a source checkout (pyproject only maps it on install)."""
    try:
        return resources.files("trainer.presets")
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "presets"


def known_presets() -> list[str]:
    """Sorted preset names (file names without `.json`)."""
    return sorted(entry.name[: -len(".json")] for entry in _preset_dir().iterdir() if entry.name.endswith(".json"))


def load_preset(name: str) -> dict:
    """The preset's partial train config; an unknown name is a ConfigError that lists the known ones."""
    if name not in known_presets():
        raise ConfigError(f'unknown preset "{name}" (known: {", ".join(known_presets())})')
    return json.loads((_preset_dir() / f"{name}.json").read_text(encoding="utf-8"))
