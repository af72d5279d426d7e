"""The pad widget driven like a user: load C and D, drag the puck, draw a path, export."""

import json

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from support.engines import engine_with

from musinterp_app.audio import synth
from musinterp_app.engine import BlendSettings
from musinterp_app.gui.pad import PadPanel
from musinterp_app.gui.workers import JobPool, new_lanes

pytestmark = pytest.mark.gui


@pytest.fixture
def panel(qtbot, shipped_model, tmp_path):
    for slot, root in {"C": 60, "D": 67}.items():  # loaded by the tests, from files
        clip = synth.music_like(3.0, 32768, rng=np.random.default_rng(root), root_midi=root)
        sf.write(tmp_path / f"{slot}.wav", clip, 32768)
    clips = {
        slot: synth.music_like(3.0, 32768, rng=np.random.default_rng(root), root_midi=root)
        for slot, root in {"A": 45, "B": 52}.items()
    }
    engine = engine_with(shipped_model, clips, folder=tmp_path)
    pool = JobPool()
    widget = PadPanel(
        lambda: engine,
        lambda names, parent: new_lanes(pool, names, parent),
        engine.set_track,
        lambda: BlendSettings(mode="slerp"),
    )
    qtbot.addWidget(widget)
    widget.resize(320, 400)
    widget.show()
    yield widget
    pool.shutdown()


def pixel(panel, x, y) -> QPoint:
    return panel.surface.to_pixels(x, y).toPoint()


def load_corners(qtbot, panel, tmp_path):
    assert "Load C, D" in panel.status.text()
    for slot in ("C", "D"):
        with qtbot.waitSignal(panel.lanes[f"load {slot}"].finished, timeout=30_000):
            panel.load(slot, tmp_path / f"{slot}.wav")
    assert panel.ready
    assert panel.surface.names["D"] == "D.wav"


def test_letting_go_of_the_puck_plays_it_live_and_a_drawn_path_plays_its_morph(
    qtbot, panel, tmp_path
):
    load_corners(qtbot, panel, tmp_path)
    surface = panel.surface
    moves = []
    panel.puck_moved.connect(lambda x, y: moves.append((x, y)))
    with qtbot.waitSignal(panel.blended, timeout=30_000) as decoded:
        QTest.mousePress(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 0.5, 0.5))
    assert decoded.args[0].shape[0] == 512
    QTest.mouseMove(surface, pixel(panel, 0.9, 0.1))
    with qtbot.waitSignal(panel.play_live, timeout=5_000) as released:
        QTest.mouseRelease(surface, Qt.MouseButton.LeftButton, pos=QPoint(surface.width(), 0))
    assert surface.position == (1.0, 0.0)  # clamped onto corner B
    settings = released.args[0]
    assert (settings.x, settings.y, settings.mode) == (1.0, 0.0, "slerp") and not settings.path
    assert moves[-1] == pytest.approx((0.9, 0.1), abs=0.01)  # a live pad blend follows these
    with qtbot.waitSignal(panel.play_live, timeout=5_000) as rested:
        panel.move_puck(y=0.75)  # a MIDI knob: followed at once, played once it rests
        assert surface.position == (1.0, 0.75) and moves[-1] == (1.0, 0.75)
    assert (rested.args[0].x, rested.args[0].y) == (1.0, 0.75)

    panel.draw_box.setChecked(True)
    with qtbot.waitSignal(panel.rendered, timeout=60_000) as rendered:
        QTest.mousePress(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 0.0, 0.0))
        QTest.mouseMove(surface, pixel(panel, 0.5, 0.5))
        QTest.mouseRelease(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 1.0, 1.0))
    assert len(rendered.args[0]) == 3 * 32768  # the path's morph, to play before any export


def test_a_drawn_path_is_exported_as_a_morph_with_its_sidecar(qtbot, panel, tmp_path):
    load_corners(qtbot, panel, tmp_path)
    assert not panel.export_button.isEnabled()
    panel.draw_box.setChecked(True)
    surface = panel.surface
    with qtbot.waitSignal(surface.path_drawn) as drawn:
        QTest.mousePress(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 0.0, 0.0))
        for step in np.linspace(0, 1, 12)[1:]:
            QTest.mouseMove(surface, pixel(panel, step, step))
        QTest.mouseRelease(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 1.0, 1.0))
    path = drawn.args[0]
    assert len(path) >= 3  # pixels round positions: within a pixel of the corners
    assert path[0] == pytest.approx((0.0, 0.0), abs=0.01)
    assert path[-1] == pytest.approx((1.0, 1.0), abs=0.01)
    assert panel.export_button.isEnabled()
    with qtbot.waitSignal(panel.exported, timeout=120_000):
        panel.export_to(tmp_path / "morph.wav")
    audio, rate = sf.read(tmp_path / "morph.wav")
    assert len(audio) == 3 * rate
    record = json.loads((tmp_path / "morph.wav.musinterp.json").read_text())
    assert record["blend"]["kind"] == "pad" and len(record["blend"]["path"]) == len(path)
    assert record["blend"]["mode"] == "slerp"  # the window's options


def test_the_pad_waits_for_all_four_tracks(qtbot, panel):
    surface = panel.surface
    QTest.mousePress(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 0.2, 0.2))
    QTest.mouseRelease(surface, Qt.MouseButton.LeftButton, pos=pixel(panel, 0.2, 0.2))
    qtbot.wait(100)
    assert not panel.lanes["render"].busy and not panel.lanes["decode"].busy
    assert "Load C, D" in panel.status.text()
