"""The demo's kiosk config names its rooms in every language the demo offers, and it loads as a site config."""

from __future__ import annotations

from lobby_core import site_config
from lobby_core.demo import DEMO_ROOMS, rooms_toml
from kiosk.view import SiteWords

DEMO_LANGUAGES = ["en", "es", "zh-Hans", "zh-Hant", "vi", "ko", "tl", "ru", "ar", "ht", "fr", "pt", "de"]


def test_the_demo_rooms_load_with_a_name_per_language(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text(
        '[site]\nid = "demo"\nname = "Demo"\n\n[kiosk]\nid = "kiosk-1"\nagent_url = "http://127.0.0.1:8443"\n'
        f'token = "t"\nspool_dir = "kiosk"\n\n{rooms_toml()}', encoding="utf-8",
    )  # fmt: skip
    kiosk = site_config.load(path, site_config.KioskSiteConfig).kiosk
    assert kiosk.rooms == DEMO_ROOMS and set(kiosk.rooms) == {"Room 1", "Room 2", "Room 3"}
    words = SiteWords(kiosk.rooms)
    assert [words.room("Room 2", language) for language in ("es", "ar", "zh-Hant")] == ["Sala 2", "الغرفة 2", "2號診間"]
    assert all(set(names) == set(DEMO_LANGUAGES) for names in kiosk.rooms.values())
