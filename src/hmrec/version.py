"""hmrec's version, in one small module that imports nothing (the package root, a saved
model's ``model.json`` and ``hmrec --version`` read it; pyproject.toml too)."""

__version__ = "0.2.0"
