"""Builds libpicpq with make and ships it inside the picpq package, so that
`pip install --no-build-isolation .` gives an importable picpq anywhere.
The metadata is in pyproject.toml; only the native build lives here."""
import os
import re
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def version():
    header = open(os.path.join(HERE, "include", "picpq.h")).read()
    parts = [re.search(rf"#define PICPQ_VERSION_{k} (\d+)", header).group(1)
             for k in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(parts)


class BuildWithLibrary(build_py):
    """build_py, then `make` the shared library and copy it into the package
    as libpicpq.so (the name picpq/_native.py looks for first)."""

    def run(self):
        super().run()
        subprocess.check_call(["make", "DEPS=0", "all"], cwd=HERE)
        target = os.path.join(self.build_lib, "picpq", "libpicpq.so")
        shutil.copyfile(os.path.join(HERE, "lib", f"libpicpq.so.{version()}"), target)


setup(version=version(), cmdclass={"build_py": BuildWithLibrary})
