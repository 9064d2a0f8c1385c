"""The YAML presets of the top-level configs/ folder ship inside the package as ``unnas/presets/``.

pyproject.toml holds everything else; only this mapping of a folder into the package needs setup.py.
unnas.config.presets finds them (importlib.resources) in a wheel, and in the checkout otherwise.
"""
from setuptools import find_namespace_packages, setup

presets = ["unnas.presets"] + [f"unnas.presets.{p}" for p in find_namespace_packages(where="configs")]
setup(packages=find_namespace_packages(include=["unnas*", "pretext*", "eval*"]) + presets,
      package_dir={"unnas.presets": "configs"},
      package_data={"": ["*.npy", "*.json", "*.yaml"]})
