"""The one thing pyproject.toml cannot say: the top-level configs/ folder (where the project's
layout keeps the presets) ships inside the wheel as the package `genbench.configs`, so an
installed genbench finds its presets (the family presets in configs/models/<family>/ too)
without a source checkout; YAML files inside the package (the assignments' specs) ship too.
Everything else is in pyproject.toml."""

from setuptools import find_namespace_packages, setup

setup(
    packages=[*find_namespace_packages(include=["genbench", "genbench.*"]), "genbench.configs"],
    package_dir={"genbench.configs": "configs"},
    package_data={"": ["*.yaml", "*.md"], "genbench.configs": ["*/*.yaml", "*/*/*.yaml"]},
)
