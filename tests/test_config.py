"""Settings: `.env` and FOLLOWUP_* variables, read once, checked, each bad value named."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from service.config import load_settings
from service.errors import ConfigError
from service.validation import Mailbox


def write_env(workdir: Path, text: str) -> None:
    (workdir / ".env").write_text(text, encoding="utf-8")


def test_settings_come_from_the_env_file_in_the_working_directory(tmp_path):
    write_env(
        tmp_path,
        'FOLLOWUP_TIMEZONE=Asia/Tokyo\nFOLLOWUP_FROM="Ada Lovelace <ada@example.org>"\n'
        "FOLLOWUP_REVIEW=on\nFOLLOWUP_HOLIDAYS=jp\n",
    )
    settings = load_settings(tmp_path, environ={})
    assert settings.timezone.key == "Asia/Tokyo"
    assert settings.sender == Mailbox("Ada Lovelace", "ada@example.org")
    assert settings.review is True
    assert settings.holidays == "JP"


def test_real_environment_variables_win_over_the_env_file(tmp_path):
    write_env(tmp_path, "FOLLOWUP_TIMEZONE=Asia/Tokyo\nFOLLOWUP_REVIEW=on\n")
    settings = load_settings(
        tmp_path, environ={"FOLLOWUP_TIMEZONE": "America/New_York", "FOLLOWUP_REVIEW": "off"}
    )
    assert settings.timezone.key == "America/New_York"
    assert settings.review is False


def test_relative_paths_are_relative_to_the_working_directory_with_its_env_file(tmp_path):
    write_env(tmp_path, "")
    (tmp_path / "my_plan.toml").write_text("", encoding="utf-8")
    (tmp_path / "my_templates").mkdir()
    settings = load_settings(
        tmp_path,
        environ={
            "FOLLOWUP_DATABASE_URL": "sqlite:///data/followup.db",
            "FOLLOWUP_OUTBOX_DIR": "sent-mail",
            "FOLLOWUP_PLAN": "my_plan.toml",
            "FOLLOWUP_TEMPLATES_DIR": "my_templates",
        },
    )
    workdir = tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{workdir / 'data' / 'followup.db'}"
    assert settings.outbox_dir == workdir / "sent-mail"
    assert settings.plan_path == workdir / "my_plan.toml"
    assert settings.templates_dir == workdir / "my_templates"


def test_absolute_paths_are_kept(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    workdir = tmp_path / "work"
    workdir.mkdir()
    settings = load_settings(
        workdir,
        environ={
            "FOLLOWUP_DATABASE_URL": f"sqlite:///{elsewhere / 'f.db'}",
            "FOLLOWUP_OUTBOX_DIR": str(elsewhere / "outbox"),
        },
    )
    assert settings.database_url == f"sqlite:///{elsewhere / 'f.db'}"
    assert settings.outbox_dir == elsewhere / "outbox"


def test_defaults_keep_everything_next_to_the_env_file_with_review_off(tmp_path):
    write_env(tmp_path, "")
    settings = load_settings(tmp_path, environ={"FOLLOWUP_TIMEZONE": "Europe/Berlin"})
    workdir = tmp_path.resolve()
    assert settings.workdir == workdir
    assert settings.env_file == workdir / ".env"
    assert settings.database_url == f"sqlite:///{workdir / 'followup.db'}"
    assert settings.outbox_dir == workdir / "outbox"
    assert settings.review is False
    assert settings.sender is None
    assert settings.smtp is None
    assert settings.holidays is None
    assert settings.plan_path is None


def test_a_missing_sender_is_refused_for_smtp_with_how_to_set_it(tmp_path):
    settings = load_settings(tmp_path, environ={"FOLLOWUP_SMTP_HOST": "smtp.fastmail.com"})
    with pytest.raises(ConfigError, match="FOLLOWUP_FROM is not set"):
        settings.require_sender()


def test_in_outbox_mode_a_placeholder_stands_in_for_a_missing_sender(tmp_path):
    sender = load_settings(tmp_path, environ={}).require_sender()
    assert sender.name == "Your Name" and sender.domain.endswith(".invalid")


@pytest.mark.parametrize(
    "sender", ['"Your Name <you@example.com>"', "Ada <ada@example.org>", "Your Name <ada@ada.dev>"]
)
def test_the_example_sender_is_never_used_over_smtp(tmp_path, sender):
    write_env(tmp_path, f"FOLLOWUP_FROM={sender}\nFOLLOWUP_SMTP_HOST=smtp.fastmail.com\n")
    settings = load_settings(tmp_path, environ={})
    assert settings.sender_is_placeholder
    with pytest.raises(ConfigError, match="FOLLOWUP_FROM is still the example"):
        settings.require_sender()


# --- where the settings and the data live -------------------------------------------------------


def test_without_a_env_file_here_the_users_config_file_is_used(tmp_path, monkeypatch):
    config = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    (config / "followup").mkdir(parents=True)
    (config / "followup" / ".env").write_text("FOLLOWUP_REVIEW=on\nFOLLOWUP_PLAN=plan.toml\n")
    (config / "followup" / "plan.toml").write_text("")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    settings = load_settings(elsewhere, environ={})
    assert settings.review is True
    assert settings.env_file == config / "followup" / ".env"
    # Config files are next to the .env; data in the user's data folder, never in the cwd.
    assert settings.plan_path == config / "followup" / "plan.toml"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'followup' / 'followup.db'}"
    assert settings.outbox_dir == tmp_path / "data" / "followup" / "outbox"
    assert "settings from" in settings.describe_env_file()


def test_with_no_env_file_anywhere_data_goes_to_the_users_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    settings = load_settings(tmp_path, environ={})
    assert settings.env_file is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'followup' / 'followup.db'}"
    assert "no .env found" in settings.describe_env_file()


def test_followup_env_file_names_the_settings_file_and_its_folder_holds_the_data(tmp_path):
    folder = tmp_path / "job-hunt"
    folder.mkdir()
    (folder / "settings.env").write_text("FOLLOWUP_REVIEW=on\n")
    settings = load_settings(tmp_path, environ={"FOLLOWUP_ENV_FILE": str(folder / "settings.env")})
    assert settings.review is True
    assert settings.database_url == f"sqlite:///{folder / 'followup.db'}"
    with pytest.raises(ConfigError, match="FOLLOWUP_ENV_FILE"):
        load_settings(tmp_path, environ={"FOLLOWUP_ENV_FILE": str(folder / "missing.env")})


def test_a_misspelled_setting_is_warned_about_with_the_closest_name(tmp_path):
    write_env(tmp_path, "FOLLOWUP_REVEIW=on\nFOLLOWUP_TIMEZONE=Europe/Berlin\n")
    settings = load_settings(tmp_path, environ={"FOLLOWUP_SMTP_HSOT": "x"})
    assert settings.review is False
    assert any("FOLLOWUP_REVEIW" in w and "FOLLOWUP_REVIEW?" in w for w in settings.warnings)
    assert any("FOLLOWUP_SMTP_HSOT" in w and "FOLLOWUP_SMTP_HOST?" in w for w in settings.warnings)
    assert len(settings.warnings) == 2


def test_through_the_cli_a_misspelled_setting_is_a_warning_on_stderr(tmp_path, monkeypatch, run):
    monkeypatch.chdir(tmp_path)
    write_env(tmp_path, "FOLLOWUP_REVEIW=on\n")
    result = run("schedule")
    assert "warning: FOLLOWUP_REVEIW is not a followup setting" in result.err
    assert "did you mean FOLLOWUP_REVIEW?" in result.err


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_postgres_urls_use_the_installed_driver(tmp_path, scheme):
    settings = load_settings(
        tmp_path, environ={"FOLLOWUP_DATABASE_URL": f"{scheme}://me@db.example/followup"}
    )
    assert settings.database_url == "postgresql+psycopg://me@db.example/followup"


def test_durations_accept_units_and_bare_seconds(tmp_path):
    settings = load_settings(
        tmp_path,
        environ={"FOLLOWUP_TICK": "45", "FOLLOWUP_REVIEW_LEAD": "2d", "FOLLOWUP_RETRY_MAX": "3h"},
    )
    assert settings.tick == timedelta(seconds=45)
    assert settings.review_lead == timedelta(days=2)
    assert settings.retry_max == timedelta(hours=3)


BAD_VALUES = [
    ("FOLLOWUP_TIMEZONE", "Mars/Olympus_Mons", {}),
    ("FOLLOWUP_TIMEZONE", "europe/berlin", {}),
    ("FOLLOWUP_TIMEZONE", "Europe/Berlin\nX", {}),
    ("FOLLOWUP_FROM", "ada at example dot org", {}),
    ("FOLLOWUP_FROM", "Ada <ada@example.org>\r\nBcc: x@evil.example", {}),
    ("FOLLOWUP_REVIEW", "sometimes", {}),
    ("FOLLOWUP_HOLIDAYS", "XX", {}),
    ("FOLLOWUP_HOLIDAYS", "US-ZZ", {}),
    ("FOLLOWUP_SMTP_SECURITY", "tls", {}),
    ("FOLLOWUP_SMTP_PORT", "99999", {"FOLLOWUP_SMTP_HOST": "smtp.example.org"}),
    ("FOLLOWUP_SMTP_PORT", "0", {"FOLLOWUP_SMTP_HOST": "smtp.example.org"}),
    ("FOLLOWUP_SMTP_PORT", "submission", {"FOLLOWUP_SMTP_HOST": "smtp.example.org"}),
    ("FOLLOWUP_PLAN", "no_such_plan.toml", {}),
    ("FOLLOWUP_TICK", "soon", {}),
    ("FOLLOWUP_TICK", "0", {}),
    ("FOLLOWUP_TICK", "²", {}),
    ("FOLLOWUP_REVIEW_LEAD", "-1h", {}),
    ("FOLLOWUP_RETRY_LIFETIME", "1.5d", {}),
    ("FOLLOWUP_DIGEST_INTERVAL", "99999999999999w", {}),
    ("FOLLOWUP_DATABASE_URL", "mysql://root@db.example/followup", {}),
    ("FOLLOWUP_DATABASE_URL", "followup.db", {}),
    ("FOLLOWUP_DATABASE_URL", "sqlite:///", {}),
    ("FOLLOWUP_DATABASE_URL", "sqlite:///:memory:", {}),
    ("FOLLOWUP_DATABASE_URL", "sqlite://", {}),
    ("FOLLOWUP_TIMEZONE", "EST", {}),
    ("FOLLOWUP_SMTP_HOST", "smtp..example.com", {}),
    ("FOLLOWUP_SMTP_HOST", "a" * 64 + ".example.com", {}),
    ("FOLLOWUP_SEND_LEASE", "999999999d", {}),
    ("FOLLOWUP_TICK", "999999999d", {}),
    ("FOLLOWUP_REVIEW_LEAD", "999999999d", {}),
    ("FOLLOWUP_BATCH_SIZE", "100000000000000000000", {}),
    ("FOLLOWUP_DATABASE_URL", "postgresql://me@db.example:abc/followup", {}),
    ("FOLLOWUP_RENDER_TIMEOUT", "2h", {}),
    ("FOLLOWUP_TIMEZONE", "Etc/GMT+5", {}),
]


@pytest.mark.parametrize(("name", "value", "extra"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_the_variable(tmp_path, name, value, extra):
    with pytest.raises(ConfigError) as excinfo:
        load_settings(tmp_path, environ={name: value, **extra})
    assert name in str(excinfo.value)


def test_a_bad_value_in_the_env_file_is_refused_too(tmp_path):
    write_env(tmp_path, "FOLLOWUP_REVIEW=sometimes\n")
    with pytest.raises(ConfigError, match="FOLLOWUP_REVIEW"):
        load_settings(tmp_path, environ={})


def test_a_refused_database_url_does_not_echo_its_password(tmp_path):
    for url in ("mysql://root:s3cret-pw@db.example/followup", "root:s3cret-pw@db.example/x"):
        with pytest.raises(ConfigError, match="FOLLOWUP_DATABASE_URL") as excinfo:
            load_settings(tmp_path, environ={"FOLLOWUP_DATABASE_URL": url})
        assert "s3cret-pw" not in str(excinfo.value)


def test_passwords_never_appear_in_the_settings_repr(tmp_path):
    settings = load_settings(
        tmp_path,
        environ={
            "FOLLOWUP_SMTP_HOST": "smtp.example.org",
            "FOLLOWUP_SMTP_USERNAME": "ada",
            "FOLLOWUP_SMTP_PASSWORD": "smtp-pa55word",
            "FOLLOWUP_DATABASE_URL": "postgresql://ada:db-pa55word@db.example/followup",
        },
    )
    assert settings.smtp.password == "smtp-pa55word"
    assert "smtp.example.org" in repr(settings)
    assert "smtp-pa55word" not in repr(settings)
    assert "smtp-pa55word" not in repr(settings.smtp)
    assert "db-pa55word" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FOLLOWUP_TIMEZONE", "Mars/Olympus_Mons"),
        ("FOLLOWUP_FROM", "not-an-address"),
        ("FOLLOWUP_REVIEW", "sometimes"),
        ("FOLLOWUP_HOLIDAYS", "XX"),
        ("FOLLOWUP_SMTP_SECURITY", "tls"),
        ("FOLLOWUP_PLAN", "missing.toml"),
        ("FOLLOWUP_TICK", "soon"),
        ("FOLLOWUP_DATABASE_URL", "mysql://root@db.example/followup"),
    ],
)
def test_through_the_cli_a_bad_value_is_one_line_on_stderr_and_exit_2(
    tmp_path, monkeypatch, run, name, value
):
    monkeypatch.chdir(tmp_path)
    result = run("schedule", env={name: value})
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and result.err.endswith("\n")
    assert name in result.err


def test_through_the_cli_a_bad_value_in_the_env_file_is_one_line_and_exit_2(
    tmp_path, monkeypatch, run
):
    monkeypatch.chdir(tmp_path)
    write_env(tmp_path, "FOLLOWUP_SMTP_SECURITY=tls\n")
    result = run("schedule")
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert "FOLLOWUP_SMTP_SECURITY" in result.err


def test_an_smtp_ca_file_that_holds_no_certificate_is_refused_when_read(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match="FOLLOWUP_SMTP_CA_FILE=.*holds no usable certificate"):
        load_settings(
            tmp_path,
            environ={"FOLLOWUP_SMTP_HOST": "smtp.example.org", "FOLLOWUP_SMTP_CA_FILE": str(bad)},
        )


def test_the_default_send_lease_grows_with_a_long_smtp_timeout(tmp_path):
    smtp = {"FOLLOWUP_SMTP_HOST": "smtp.example.org"}
    assert load_settings(tmp_path, environ=smtp).send_lease == timedelta(minutes=10)
    slow = load_settings(tmp_path, environ=smtp | {"FOLLOWUP_SMTP_TIMEOUT": "5m"})
    assert slow.send_lease >= timedelta(minutes=15)
    with pytest.raises(ConfigError, match="FOLLOWUP_SEND_LEASE='1m' is not accepted"):
        load_settings(
            tmp_path, environ=smtp | {"FOLLOWUP_SMTP_TIMEOUT": "5m", "FOLLOWUP_SEND_LEASE": "1m"}
        )
