"""`pip install .` / `pipx install .` get everything: the wheel pip builds from the source tree, and the one
built from the sdist (as `python -m build` does), hold every resource; the installed `genviz --version` prints
pyproject's version and the installed package finds its resources. Offline: no build isolation."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "MANIFEST.in", "genviz", "resources")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")


def _resources() -> set[str]:
    return {p.name for p in (ROOT / "resources").iterdir() if p.is_file() and not p.name.endswith(".pyc")}


def _modules() -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "genviz").rglob("*.py")}


def _pip_wheel(src: Path, dest: Path) -> Path:
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                          "--no-index", "-q", "-w", str(dest)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = dest.glob("genviz-*.whl")
    return wheel


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A copy of what the repository builds from (building writes build/ and *.egg-info into it)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        (shutil.copytree(ROOT / name, src / name, ignore=IGNORE) if (ROOT / name).is_dir()
         else shutil.copy2(ROOT / name, src / name))
    return src


@pytest.fixture(scope="module")
def wheel(tree, tmp_path_factory) -> Path:
    return _pip_wheel(tree, tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_every_resource_and_module(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert _resources() >= {"style.qss", "genviz.svg", "genviz.png", "__init__.py"}
    assert {f"genviz/resources/{n}" for n in _resources()} <= names
    assert _modules() <= names
    dist_info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    entry = zipfile.ZipFile(wheel).read(f"{dist_info}/entry_points.txt").decode()
    assert "genviz = genviz.cli:main" in entry
    meta = zipfile.ZipFile(wheel).read(f"{dist_info}/METADATA").decode()
    assert "Provides-Extra: tensorboard" in meta


def test_the_sdist_builds_a_wheel_with_every_resource(tree, tmp_path):
    """`python -m build` builds the wheel from the sdist: MANIFEST.in must carry the resources into it."""
    hook = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    res = subprocess.run([sys.executable, "-c", hook, str(tmp_path)], cwd=tree, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    sdist = tmp_path / res.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (src,) = (tmp_path / "unpacked").iterdir()
    assert {p.name for p in (src / "resources").iterdir()} >= _resources()
    names = set(zipfile.ZipFile(_pip_wheel(src, tmp_path / "wheel")).namelist())
    assert {f"genviz/resources/{n}" for n in _resources()} <= names


def test_installed_command_prints_the_version_and_finds_its_resources(wheel, tmp_path):
    """Install the wheel alone (its dependencies come from this environment) and run its own `genviz`."""
    target = tmp_path / "site"
    res = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                          str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    env = {**os.environ, "PYTHONPATH": str(target)}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = subprocess.run([str(target / "bin" / "genviz"), "--version"], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"genviz {version}"
    probe = ("import genviz, importlib.resources as r; print(genviz.__file__); "
             "print(len((r.files('genviz.resources') / 'genviz.png').read_bytes()))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    where, size = out.stdout.split()
    assert Path(where).is_relative_to(target)  # the installed copy, not the source tree
    assert int(size) == (ROOT / "resources" / "genviz.png").stat().st_size
    # the stylesheet's images (the check box's tick) resolve to files of the installed copy
    probe = ("import re; from genviz.gui.theme import stylesheet; s = stylesheet(); "
             "print('\\n'.join(re.findall(r'url\\((.*?)\\)', s)) if '@RESOURCES@' not in s else 'unresolved')")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    urls = out.stdout.split()
    assert urls and all(Path(u).is_file() and Path(u).is_relative_to(target) for u in urls), (urls, out.stderr)


def test_the_app_has_its_name_version_and_icon(tmp_path):
    """A fresh QApplication (a subprocess: the test session's own one is pytest-qt's)."""
    probe = ("from genviz.gui.app import application; import genviz; app = application(); "
             "img = app.windowIcon().pixmap(64, 64).toImage(); "
             "print(app.applicationName(), app.applicationDisplayName(), app.applicationVersion() == genviz.__version__,"
             " img.width(), img.pixelColor(32, 32).alpha())")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    name, display, same_version, width, alpha = out.stdout.split()
    assert (name, display, same_version) == ("genviz", "genviz", "True")
    assert int(width) == 64 and int(alpha) == 255  # the icon is drawn (opaque in the middle), not empty
