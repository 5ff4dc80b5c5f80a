"""followup installs as a tool: a wheel built from this checkout, installed into a fresh virtual
environment, carries its templates and migrations and runs `followup doctor` from any folder.

The wheel is built once per session without the network (`--no-build-isolation`: hatchling is a
test dependency). Its dependencies come from this project's environment through a .pth file, as
`--system-site-packages` would give them from a system Python: pip installs the wheel alone,
`--no-index`, so nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--wheel-dir", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    (found,) = out.glob("followup-*.whl")
    return found


@pytest.fixture(scope="session")
def installed(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with only the wheel installed in it; returns its bin/."""
    venv = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "project-dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return venv / "bin"


def test_the_wheel_carries_the_templates_in_every_language_and_the_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for language in ("", ".de", ".fr", ".es"):
        assert f"service/_data/templates/thank_you{language}.txt" in names
    assert "service/_data/migrations/env.py" in names
    assert "service/_data/migrations/versions/0008_language.py" in names
    assert "service/default_plan.toml" in names


def test_the_installed_tool_sets_up_migrates_and_passes_doctor_from_any_folder(installed, tmp_path):
    home = tmp_path / "home"
    folder = tmp_path / "somewhere"
    folder.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUP_", "PYTHON"))}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
               XDG_DATA_HOME=str(home / ".local" / "share"), TZ="Europe/Berlin")  # fmt: skip

    def followup(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(installed / "followup"), *args], cwd=folder, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    version = followup("--version")
    assert version.returncode == 0 and version.stdout.startswith("followup, version ")
    # From the package in the new environment, not from this checkout.
    where = subprocess.run(
        [str(installed / "python"), "-c",
         "import service, service.rendering as r; print(service.__file__);"
         "print(r.default_templates_dir())"],
        cwd=folder, env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert all(str(installed.parent) in line for line in where), where
    made = followup("init", "--user", "--provider", "none", "--from",
                    "Ada Candidate <ada@candidate.example>", "--yes")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert followup("migrate").returncode == 0
    doctor = followup("doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "template thank_you: renders (en, de, es, fr)" in doctor.stdout
    assert str(home / ".config" / "followup" / ".env") in doctor.stdout
