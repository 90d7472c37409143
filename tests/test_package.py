"""Where an install keeps its database and key; what the wheel carries is .ci/wheel-smoke's (it builds one)."""

import sys
from pathlib import Path

from hotdesk import config
from hotdesk.brands import BRANDS
from hotdesk.config import Config

REPO = Path(__file__).resolve().parent.parent


def test_a_checkout_keeps_its_database_in_its_instance_directory():
    loaded = Config.from_env({"HOTDESK_SECRET_KEY": "k"})
    assert loaded.instance_path == REPO / "instance"
    assert loaded.database_url == f"sqlite:///{REPO / 'instance' / 'hotdesk.db'}"


def test_an_installed_package_keeps_it_in_its_prefix_whatever_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.setattr(config, "CHECKOUT", tmp_path / "site-packages")  # no pyproject.toml beside the package
    monkeypatch.chdir(tmp_path)
    loaded = Config.from_env({"HOTDESK_SECRET_KEY": "k"})
    assert loaded.instance_path == Path(sys.prefix) / "var" / "hotdesk-instance"
    moved = Config.from_env({"HOTDESK_SECRET_KEY": "k", "HOTDESK_INSTANCE_PATH": str(tmp_path / "elsewhere")})
    assert moved.database_url == f"sqlite:///{tmp_path / 'elsewhere' / 'hotdesk.db'}"


def test_every_brand_finds_its_screens_and_stock_templates_inside_the_package():
    package = REPO / "hotdesk"
    for brand in BRANDS.values():
        assert "default" in brand.stock_templates(), brand.key
        if brand.has_login_app:
            assert (package / "templates" / "xml" / brand.key / "menu.xml").is_file(), brand.key
