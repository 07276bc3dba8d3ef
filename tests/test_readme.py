"""The README documents what operators need: the two commands and every setting."""

from pathlib import Path

from softbrik.settings import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


def test_the_readme_shows_the_two_commands():
    assert "make run" in README
    assert "make test" in README


def test_every_setting_is_in_the_readme():
    missing = [name for name in Settings.model_fields if f"`SOFTBRIK_{name.upper()}`" not in README]
    assert missing == []
