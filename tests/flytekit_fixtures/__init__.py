"""Fixtures written by the real flytekit: task code (``tasks.py``), the builder run in ``.venv-flytekit``
(``build.py``) and the pytest session fixture that runs it once on the emulator (``session.py``)."""
