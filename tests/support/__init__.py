"""Helpers the tests share (imported as ``support.…``; ``tests/`` is on the path):

- :mod:`support.commands`: the headless commands in a child process, and dropping
  to an ordinary user there;
- :mod:`support.corpus`: files and model folders the tests make for real (bad,
  odd, not files at all);
- :mod:`support.fma`: an FMA-shaped corpus (audio named by track id, ``tracks.csv``,
  ``genres.csv``, ``features.csv``, ``echonest.csv`` in FMA's column layout);
- :mod:`support.window`: building and driving the real window (Qt; GUI tests only).

Fixtures built on them live in ``tests/conftest.py`` and ``tests/gui/conftest.py``.
"""
