"""The deployment files agree with the code: docker-compose.yml, the Dockerfile, .env.example.

Docker is not run here. What can be checked without it is: the Compose file is valid Compose,
every `followup` command the files run exists, the image builds from files that are in its
context, and the example settings are the ones service/config.py reads and accepts.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
import shutil
import tomllib
from pathlib import Path

import click
import jsonschema
import pytest
import yaml
from packaging.specifiers import SpecifierSet

from service.cli import cli
from service.config import load_settings

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
COMPOSE_SCHEMA = Path(__file__).resolve().parent / "data" / "compose-spec.json"
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
ENV_EXAMPLE = REPO / ".env.example"
CONFIG_SOURCE = REPO / "service" / "config"
PYPROJECT = REPO / "pyproject.toml"

VARIABLE = re.compile(r"FOLLOWUP_[A-Z0-9_]+")
ASSIGNMENT = re.compile(r"^(?P<commented>#\s*)?(?P<name>FOLLOWUP_[A-Z0-9_]+)=(?P<value>.*)$")


def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def services() -> dict:
    return compose()["services"]


def pyproject() -> dict:
    return tomllib.loads(PYPROJECT.read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs of the Dockerfile, continuation lines joined."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    return instructions


def dockerfile_exec_form(keyword: str) -> list[str]:
    """The last ENTRYPOINT or CMD, which must be in exec (JSON) form so signals reach followup."""
    values = [args for kw, args in dockerfile_instructions() if kw == keyword]
    assert values, f"the Dockerfile has no {keyword}"
    try:
        argv = json.loads(values[-1])
    except json.JSONDecodeError:
        pytest.fail(f"{keyword} {values[-1]} is in shell form: write it as a JSON list")
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), values[-1]
    return argv


def image_argv(service: dict) -> list[str]:
    """What a service built from our Dockerfile runs: its entrypoint, then its command."""
    entrypoint = service.get("entrypoint", dockerfile_exec_form("ENTRYPOINT"))
    command = service.get("command", dockerfile_exec_form("CMD"))
    for part in (entrypoint, command):
        assert isinstance(part, list), f"{part!r} is in shell form: write it as a YAML list"
    return entrypoint + command


def resolve_followup_command(args: list[str]) -> list[str]:
    """Walk args down `service.cli.cli` as click would; the command path, or fail on anything unknown."""
    command: click.Command = cli
    path: list[str] = []
    args = list(args)
    while args:
        token = args.pop(0)
        ctx = click.Context(command, info_name=" ".join(["followup", *path]))
        if token.startswith("-"):
            name, has_value, _ = token.partition("=")
            option = next(
                (
                    p
                    for p in command.get_params(ctx)
                    if isinstance(p, click.Option) and name in p.opts + p.secondary_opts
                ),
                None,
            )
            assert option is not None, f"`{ctx.info_name}` has no option {name}"
            if not (option.is_flag or option.count or has_value):
                args.pop(0)
        elif isinstance(command, click.Group):
            sub = command.get_command(ctx, token)
            assert sub is not None, (
                f"`{ctx.info_name} {token}` is not a command; "
                f"`{ctx.info_name}` has: {', '.join(command.list_commands(ctx))}"
            )
            command = sub
            path.append(token)
        else:
            assert any(isinstance(p, click.Argument) for p in command.params), (
                f"`{ctx.info_name}` takes no argument, but is given {token!r}"
            )
    assert path, "no followup command is named"
    assert not isinstance(command, click.Group), (
        f"`followup {' '.join(path)}` is a group: name one of its commands"
    )
    return path


def followup_invocations() -> list[tuple[str, list[str]]]:
    """Every argv the deployment files run in our image: the Dockerfile's default, each service."""
    found = [("Dockerfile", dockerfile_exec_form("ENTRYPOINT") + dockerfile_exec_form("CMD"))]
    for name, service in services().items():
        if "build" in service:
            found.append((f"docker-compose.yml:{name}", image_argv(service)))
    return found


def env_example_lines() -> list[str]:
    return ENV_EXAMPLE.read_text().splitlines()


def variables_config_reads() -> set[str]:
    # FOLLOWUP_TEST_ and FOLLOWUP_BENCH_ are prefixes config.py names to leave alone.
    source = "".join(p.read_text() for p in sorted(CONFIG_SOURCE.glob("*.py")))
    found = {v for v in VARIABLE.findall(source) if not v.endswith("_")}
    from service.config import KNOWN_SETTINGS

    assert found == {f"FOLLOWUP_{n}" for n in KNOWN_SETTINGS}, "KNOWN_SETTINGS is out of date"
    return found


# --- docker-compose.yml ---------------------------------------------------------------------


def test_compose_file_is_valid_compose():
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.validate(compose(), schema, cls=jsonschema.Draft7Validator)


@pytest.mark.parametrize(
    "where, argv", followup_invocations(), ids=[w for w, _ in followup_invocations()]
)
def test_image_runs_a_real_followup_command(where, argv):
    script, *args = argv
    assert script in pyproject()["project"]["scripts"], f"{where} runs {script!r}, not followup"
    resolve_followup_command(args)


def test_compose_starts_postgres_then_migrates_then_runs_the_worker():
    svc = services()
    assert {"postgres", "migrate", "worker"} <= svc.keys()
    assert svc["postgres"]["image"].startswith("postgres:")
    assert "pg_isready" in svc["postgres"]["healthcheck"]["test"]
    assert svc["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert image_argv(svc["migrate"])[1:] == ["migrate"]
    assert svc["migrate"]["restart"] == "no"
    assert svc["worker"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert image_argv(svc["worker"])[1:] == ["worker", "--wait-for-settings"]


@pytest.mark.parametrize("name", ["worker", "web"])
def test_long_running_services_heal_without_a_restart_loop(name):
    """Restarted after a crash and after a reboot; settings they cannot start with make them
    wait for the fix (a container's restart policy cannot tell exit 78 apart); healthy means
    `followup health` says so."""
    service = services()[name]
    assert service["restart"] == "unless-stopped"
    argv = image_argv(service)
    assert "--wait-for-settings" in argv
    test = service["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:3] == ["followup", "health"]
    resolve_followup_command(test[2:])
    check = service["healthcheck"]
    # Unhealthy only after the heartbeat is really stale: three ticks (90s by default) and more.
    assert _seconds(check["interval"]) * (check["retries"] + 1) >= 60
    if name == "worker":
        assert "--this-host" in test  # this container's worker, not another one's
    else:
        url = test[test.index("--web") + 1]
        port = argv[argv.index("--port") + 1]
        assert url == f"http://127.0.0.1:{port}/healthz"


def _seconds(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([sm])", value).groups()
    return int(number) * (60 if unit == "m" else 1)


def test_settings_plan_templates_outbox_and_backups_come_from_the_host():
    anchor = compose()["x-followup"]
    mounts = {m["target"]: m for m in anchor["volumes"]}
    assert mounts["/etc/followup/.env"]["source"] == "./.env"
    assert mounts["/etc/followup/.env"]["read_only"] is True
    assert mounts["/etc/followup/config"]["read_only"] is True
    assert anchor["environment"]["FOLLOWUP_ENV_FILE"] == "/etc/followup/.env"
    assert anchor["environment"]["FOLLOWUP_OUTBOX_DIR"] == "/data/outbox"
    for target, folder in (("/data/outbox", "outbox"), ("/data/backups", "backups")):
        assert mounts[target]["source"] == f"./{folder}" and not mounts[target].get("read_only")
    # A missing host path is an error, not a root-owned folder Docker makes: each folder is in
    # git (a fresh clone has them, owned by whoever cloned), and .env is copied first.
    for mount in mounts.values():
        assert mount["bind"]["create_host_path"] is False
        if mount["source"] != "./.env":
            assert (REPO / mount["source"] / ".gitignore").exists(), mount["source"]
    # The services run as the host user, who owns .env (0600), outbox/ and backups/.
    assert anchor["user"] == "${HOST_UID:-1000}:${HOST_GID:-1000}"


def test_a_backup_is_one_command():
    backup = services()["backup"]
    assert image_argv(backup)[1:] == ["backup"]
    assert backup["restart"] == "no" and backup["profiles"] == ["tools"]


def test_mailpit_runs_only_in_the_dev_profile_and_only_on_loopback():
    svc = services()
    with_profiles = {name for name, s in svc.items() if s.get("profiles")}
    assert with_profiles == {"mailpit", "backup"}, "the rest starts without a profile"
    assert svc["mailpit"]["profiles"] == ["dev"]
    ports = svc["mailpit"]["ports"]
    assert {p.rsplit(":", 1)[1] for p in ports} == {"8025", "1025"}
    assert all(p.startswith("127.0.0.1:") for p in ports), ports
    for name, s in svc.items():
        assert "mailpit" not in s.get("depends_on", {}), f"{name} would need the dev profile"


def test_compose_database_url_is_accepted_by_the_settings(tmp_path):
    (tmp_path / "settings.env").write_text("FOLLOWUP_TIMEZONE=UTC\n")
    for name in ("migrate", "worker", "web"):
        environment = services()[name]["environment"] | {
            "FOLLOWUP_ENV_FILE": str(tmp_path / "settings.env"),
            "FOLLOWUP_WEB_PASSWORD": "a long password",
        }
        settings = load_settings(tmp_path, environ=environment)
        assert settings.database_url == (
            "postgresql+psycopg://followup:followup@postgres:5432/followup"
        )


def test_dev_profile_instructions_point_the_worker_at_mailpit(tmp_path):
    """The SMTP lines the header comment tells you to put in .env reach mailpit's SMTP port."""
    header = [line for line in COMPOSE_FILE.read_text().splitlines() if line.startswith("#")]
    assert any("--profile dev" in line for line in header)
    lines = [m.group(0) for line in header if (m := re.search(r"FOLLOWUP_SMTP_\w+=\S+", line))]
    environ = dict(line.split("=", 1) for line in lines)
    settings = load_settings(tmp_path, environ={**environ, "FOLLOWUP_TIMEZONE": "UTC"})
    assert settings.smtp is not None
    assert settings.smtp.host == "mailpit"
    assert settings.smtp.security == "none"
    smtp_ports = {p.rsplit(":", 1)[1] for p in services()["mailpit"]["ports"]}
    assert str(settings.smtp.port) in smtp_ports


# --- Dockerfile -----------------------------------------------------------------------------


def test_dockerfile_runs_the_followup_script():
    scripts = pyproject()["project"]["scripts"]
    assert dockerfile_exec_form("ENTRYPOINT") == ["followup"]
    assert "followup" in scripts
    module, _, function = scripts["followup"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
    assert dockerfile_exec_form("CMD") == ["worker"]


def test_dockerfile_base_image_satisfies_requires_python():
    base = next(args for kw, args in dockerfile_instructions() if kw == "FROM")
    match = re.fullmatch(r"python:(\d+\.\d+)-slim", base)
    assert match, f"FROM {base}: expected python:X.Y-slim"
    assert match.group(1) in SpecifierSet(pyproject()["project"]["requires-python"])


def test_dockerfile_runs_unprivileged_in_data():
    instructions = dockerfile_instructions()
    users = [args for kw, args in instructions if kw == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert [args for kw, args in instructions if kw == "WORKDIR"][-1] == "/data"


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [p.strip().strip("/") for p in lines if p.strip() and not p.startswith("#")]


def ignored(path: str) -> bool:
    """Whether .dockerignore keeps path (or a folder it is in) out of the build context.

    Enough of Docker's rules for this file: fnmatch per path, `**/` also matching at the root, no
    `!` exceptions.
    """
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in dockerignore_patterns():
        assert not pattern.startswith("!"), "ignored() does not handle ! exceptions"
        variants = {pattern, pattern.removeprefix("**/")}
        if any(fnmatch.fnmatch(c, v) for c in candidates for v in variants):
            return True
    return False


def test_image_context_has_what_the_wheel_is_built_from():
    """`pip install .` in the image needs everything pyproject's build names, copied and not ignored."""
    project = pyproject()
    wheel = project["tool"]["hatch"]["build"]["targets"]["wheel"]
    needed = [project["project"]["readme"], *wheel["packages"], *wheel["force-include"]]
    copied = []
    for keyword, args in dockerfile_instructions():
        if keyword == "COPY" and "--from" not in args:
            *sources, _ = args.split()
            copied += [s.strip("/").removeprefix("./") for s in sources if not s.startswith("--")]
    for path in needed:
        assert (REPO / path).exists(), f"{path} is missing from the repository"
        assert path in copied, f"the Dockerfile does not COPY {path}"
        assert not ignored(path), f".dockerignore excludes {path}"


def test_dockerignore_keeps_secrets_and_local_data_out():
    for path in (".env", ".venv", ".git", "followup.db", "followup.db-wal", "outbox"):
        assert ignored(path), f"{path} would be sent to the Docker build"


# --- .env.example ---------------------------------------------------------------------------


def test_env_example_documents_every_setting_config_reads():
    lines = env_example_lines()
    documented: dict[str, int] = {}
    for number, line in enumerate(lines):
        if (m := ASSIGNMENT.match(line)) and m.group("name") not in documented:
            documented[m.group("name")] = number
    read = variables_config_reads()
    assert read, "no FOLLOWUP_* variable found in service/config.py"
    assert sorted(read - documented.keys()) == [], "undocumented in .env.example"
    assert sorted(documented.keys() - read) == [], "in .env.example but not read by config.py"
    for name, number in documented.items():
        above = next((line for line in reversed(lines[:number]) if line.strip()), "")
        assert above.startswith("#") and not ASSIGNMENT.match(above), (
            f"{name} in .env.example needs a comment line just above it saying what it does"
        )


def test_env_example_works_as_it_is_for_a_new_user(tmp_path):
    shutil.copy(ENV_EXAMPLE, tmp_path / ".env")
    settings = load_settings(tmp_path, environ={})
    workdir = tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{workdir / 'followup.db'}"
    # No placeholder identity is active: the user's own name and zone, or none yet.
    assert settings.sender is None
    assert settings.warnings == ()
    assert settings.smtp is None, "a new user starts in outbox mode"
    assert settings.outbox_dir == workdir / "outbox"
    assert settings.require_sender().domain.endswith(".invalid")  # outbox mode still works


#: Examples that are alternatives to each other: the password, its command, or OAuth2.
LOGIN_ALTERNATIVES = {
    "password": ("FOLLOWUP_SMTP_PASSWORD", "FOLLOWUP_IMAP_PASSWORD"),
    "command": ("FOLLOWUP_SMTP_PASSWORD_COMMAND", "FOLLOWUP_IMAP_PASSWORD_COMMAND"),
    "oauth2": ("FOLLOWUP_SMTP_AUTH", "FOLLOWUP_OAUTH2_TOKEN_COMMAND"),
}


@pytest.mark.parametrize("login", ["command", "oauth2"])
def test_env_example_login_alternatives_are_accepted(tmp_path, login):
    """Uncommenting every example but the other ways to log in gives accepted settings."""
    others = {n for k, names in LOGIN_ALTERNATIVES.items() if k != login for n in names}
    lines = []
    for line in env_example_lines():
        m = ASSIGNMENT.match(line)
        if m and m.group("commented") and m.group("name") not in others | {
            "FOLLOWUP_SMTP_CA_FILE", "FOLLOWUP_PLAN", "FOLLOWUP_TEMPLATES_DIR"
        }:  # fmt: skip
            line = line.lstrip("# ")
        lines.append(line)
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    settings = load_settings(tmp_path, environ={})
    assert settings.smtp is not None and settings.imap is not None
    assert settings.smtp.password is None and settings.imap.password == ""
    if login == "command":
        assert settings.smtp.password_command == "pass show mail/work"
        assert settings.imap.password_command == "pass show mail/work-imap"
    else:
        assert settings.smtp.auth == settings.imap.auth == "xoauth2"
        assert settings.smtp.token_command == settings.imap.token_command == "pizauth show work"


def test_env_example_commented_examples_are_accepted(tmp_path, tls_ca):
    """Uncommenting every example line gives settings config accepts (with SMTP configured;
    logging in with the password, the first of LOGIN_ALTERNATIVES)."""
    others = set(LOGIN_ALTERNATIVES["command"] + LOGIN_ALTERNATIVES["oauth2"])
    lines = []
    for line in env_example_lines():
        m = ASSIGNMENT.match(line)
        uncomment = m and m.group("commented") and m.group("name") not in others
        lines.append(line.lstrip("# ") if uncomment else line)
    (tmp_path / ".env").write_text("\n".join(lines) + "\n")
    values = {m.group("name"): m.group("value") for m in map(ASSIGNMENT.match, lines) if m}
    for name, make in (
        ("FOLLOWUP_PLAN", Path.touch),
        ("FOLLOWUP_SMTP_CA_FILE", lambda p: shutil.copy(tls_ca[1], p)),
        ("FOLLOWUP_TEMPLATES_DIR", Path.mkdir),
    ):
        value = values[name].strip("'\"")
        assert not Path(value).is_absolute(), f"keep the {name} example relative"
        make(tmp_path / value)
    settings = load_settings(tmp_path, environ={})
    assert settings.smtp is not None
    assert settings.smtp.username and settings.smtp.password
