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


def test_a_generated_password_is_never_written_to_the_log(tmp_path, monkeypatch, capsys):
    from launcher.hub.config import class_passwords
    from launcher.settings import load_site

    site = load_site()  # the demo: class password and admin password
    for var in (site.auth.password_env, site.auth.admin_password_env):
        monkeypatch.delenv(var, raising=False)
    user_pw, admin_pw = class_passwords(site, tmp_path)
    log = capsys.readouterr().err
    assert user_pw not in log and admin_pw not in log
    assert f"Generated the class password: read it with `cat {tmp_path}/demo-password`" in log
    assert f"Generated the admin password: read it with `cat {tmp_path}/demo-admin-password`" in log


def test_a_class_password_nobody_could_type_in_is_refused(tmp_path, monkeypatch):
    import pytest

    from launcher.hub.config import PasswordTooShort, class_passwords
    from launcher.settings import load_site

    site = load_site()
    monkeypatch.setenv(site.auth.password_env, "mot-de-passe-été")
    monkeypatch.setenv(site.auth.admin_password_env, "a" * 32)
    with pytest.raises(PasswordTooShort, match="other than ASCII"):
        class_passwords(site, tmp_path)
