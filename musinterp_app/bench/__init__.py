"""``musinterp bench``: the measurements (``measure``), each key's unit, meaning and target
(``table``), and the window's and live playback's numbers (``window``, ``live``), which
run in a child process."""
