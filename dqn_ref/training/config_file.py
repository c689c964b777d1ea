"""A run's config.json read back as a config, so that a run can be trained again from its files
(`python -m dqn_ref.run TASK --config RUN_DIR/config.json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dqn_ref.config import DQNConfig
from dqn_ref.errors import DQNRefError

CUSTOM_PRESET = "custom"  # the preset name of a file that gives only the fields


def config_from_fields(fields: dict[str, Any], source: str) -> DQNConfig:
    """A DQNConfig from a JSON object of its fields (lists become tuples), or a one-line error."""
    known = set(DQNConfig.__dataclass_fields__)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise DQNRefError(
            f"{source} has a field this dqn_ref does not know, {unknown[0]!r}; remove it or "
            "use the dqn_ref version that wrote the file"
        )
    values: dict[str, Any] = {
        name: tuple(value) if isinstance(value, list) else value for name, value in fields.items()
    }
    try:
        return DQNConfig(**values)
    except DQNRefError as error:
        raise DQNRefError(f"{source}: {error}") from None
    except TypeError as error:
        raise DQNRefError(f"{source} does not fit DQNConfig: {error}") from None


def read_config_file(path: Path) -> tuple[str, DQNConfig]:
    """The preset name and config of a run's config.json ({"preset": ..., "config": {...}}), or of
    a JSON object of config fields alone (preset "custom"; fields left out keep their defaults)."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DQNRefError(f"--config {path} does not exist; pass a run's config.json") from None
    except IsADirectoryError:
        raise DQNRefError(f"--config {path} is a folder; pass its config.json") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DQNRefError(f"cannot read --config {path}: {error}") from None
    except json.JSONDecodeError as error:
        raise DQNRefError(
            f"--config {path} is not JSON ({error}); pass a run's config.json"
        ) from None
    if not isinstance(data, dict):
        raise DQNRefError(f"--config {path} holds no JSON object; pass a run's config.json")
    if isinstance(data.get("config"), dict):
        preset = data.get("preset", CUSTOM_PRESET)
        return str(preset), config_from_fields(data["config"], f"--config {path}")
    return CUSTOM_PRESET, config_from_fields(data, f"--config {path}")
