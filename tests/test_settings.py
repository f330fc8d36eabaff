"""Settings whose defaults follow other settings."""

from __future__ import annotations

from pathlib import Path

from app.settings import Settings


def test_links_default_to_the_address_the_service_listens_on(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, host="127.0.0.1", port=8123)
    assert settings.resolved_payment_return_url == "http://127.0.0.1:8123/"
    assert settings.resolved_storefront_url == "http://127.0.0.1:8123/"


def test_links_set_explicitly_win(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        port=8123,
        payment_return_url="https://shop.example/thanks",
        storefront_url="https://shop.example/",
    )
    assert settings.resolved_payment_return_url == "https://shop.example/thanks"
    assert settings.resolved_storefront_url == "https://shop.example/"
