"""When API requests need a virtual key, and when the gateway refuses to serve the network open."""

from __future__ import annotations

from pathlib import Path

import pytest

from calcifer.errors import ConfigurationError
from calcifer.settings import PACKAGED_CONFIG_PATH, Settings, load_settings


def settings_for(tmp_path: Path, env: dict[str, str], host: str = "127.0.0.1") -> Settings:
    config = tmp_path / "config.yaml"
    config.write_text(f"server: {{host: '{host}'}}\n")
    return load_settings(config, env)


@pytest.mark.parametrize(
    ("env", "required"),
    [
        ({}, False),
        ({"CALCIFER_MASTER_KEY": "m"}, True),
        ({"CALCIFER_MASTER_KEY": "m", "CALCIFER_AUTH_REQUIRED": "false"}, False),
        ({"CALCIFER_AUTH_REQUIRED": "true"}, True),
    ],
)
def test_keys_are_required_once_a_master_key_is_set_unless_told_otherwise(
    tmp_path: Path, env: dict[str, str], required: bool
) -> None:
    assert settings_for(tmp_path, env).keys_required is required


def test_serving_the_network_without_keys_needs_an_explicit_choice(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CALCIFER_MASTER_KEY"):
        settings_for(tmp_path, {}, host="0.0.0.0")
    assert not settings_for(tmp_path, {"CALCIFER_AUTH_REQUIRED": "false"}, host="0.0.0.0").keys_required
    assert settings_for(tmp_path, {"CALCIFER_MASTER_KEY": "m"}, host="0.0.0.0").keys_required


def test_the_data_directory_sits_next_to_the_config(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, {})
    assert settings.data_dir == tmp_path / "data"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'calcifer.db'}"
    moved = settings_for(tmp_path, {"CALCIFER_DATA_DIR": "/srv/calcifer"})
    assert moved.database_url == "sqlite:////srv/calcifer/calcifer.db"


def test_the_repositorys_config_keeps_its_data_in_the_repository() -> None:
    """The packaged config is a link to the repository's: only the packaged path itself means
    'installed, read-only', so `scripts/serve` in a checkout keeps its data in ./data."""
    root = Path(__file__).resolve().parent.parent
    assert load_settings(root / "config.yaml", {}).data_dir == root / "data"
    assert load_settings(PACKAGED_CONFIG_PATH, {"HOME": "/home/u"}).data_dir == Path(
        "/home/u/.local/share/calcifer"
    )
