"""Package list only (everything else is in pyproject.toml): ship the top-level resources/ folder inside
the wheel as `genviz.resources`, which `packages.find` cannot map."""
from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["genviz", "genviz.*"]) + ["genviz.resources"],
    package_dir={"genviz.resources": "resources"},
)
