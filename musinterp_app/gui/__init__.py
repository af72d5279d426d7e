"""The desktop window (PySide6 + pyqtgraph), a thin face on :mod:`musinterp_app.engine`."""
