"""genviz.core must never import Qt: the headless core runs on servers and under torchrun."""
import pkgutil
import subprocess
import sys

import genviz.core


def test_core_imports_no_qt():
    mods = [m.name for m in pkgutil.walk_packages(genviz.core.__path__, "genviz.core.")]
    assert len(mods) >= 8
    code = (
        "import importlib, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'pyqtgraph', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"core pulled in Qt: {out.stdout}"
