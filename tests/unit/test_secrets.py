import stat

from launcher.secrets import env_or_file


def test_generated_once_with_mode_0600_then_reused(tmp_path, monkeypatch):
    monkeypatch.delenv("T_PW", raising=False)
    first = env_or_file("T_PW", tmp_path / "pw", 12)
    assert first.created and len(first.value) >= 16
    assert stat.S_IMODE((tmp_path / "pw").stat().st_mode) == 0o600
    again = env_or_file("T_PW", tmp_path / "pw", 12)
    assert not again.created and again.value == first.value


def test_environment_wins_and_is_not_written(tmp_path, monkeypatch):
    monkeypatch.setenv("T_PW", "from-the-env")
    got = env_or_file("T_PW", tmp_path / "pw", 12)
    assert got.value == "from-the-env" and got.path is None
    assert not (tmp_path / "pw").exists()
