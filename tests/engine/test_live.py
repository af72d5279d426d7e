"""Live rendering: α read per chunk and ramped, joins continuous, the applied α recorded
as a performance that renders again exactly; the feed never blocks the callback."""

import json
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from support.commands import musinterp
from support.engines import engine_with

from musinterp_app.audio import mel, stft, synth
from musinterp_app.audio import player as playback
from musinterp_app.base import resources
from musinterp_app.engine import (
    RENDER_STRIDE,
    BlendSettings,
    Engine,
    ExportOptions,
    PadSettings,
    live,
    load_track,
)
from musinterp_app.engine.settings import curve_frames

HOP_S = 256 / 32768


@pytest.fixture(scope="module")
def examples(shipped_model):
    examples = dict(zip("AB", sorted(resources.examples_dir().glob("*.ogg")), strict=False))
    return engine_with(shipped_model, examples, overview=False)


def render_live(renderer: live.LiveRenderer, moves: dict, chunks: int) -> np.ndarray:
    """``chunks`` chunks, the control(s) set to ``moves[k]`` (α, or an (x, y) tuple) before
    chunk ``k``."""
    out = []
    for k in range(chunks):
        if k in moves:
            renderer.target = moves[k] if isinstance(moves[k], tuple) else (moves[k],)
        out.append(renderer.next_chunk())
    return np.concatenate(out)


def convergence_db(engine: Engine, settings: BlendSettings, audio: np.ndarray) -> float:
    config = engine.config
    target = mel.to_magnitude(engine.blend(settings).mel(), config)
    return stft.spectral_convergence_db(
        audio, target, n_fft=config.n_fft, hop_length=config.hop_length
    )


def test_a_jump_of_alpha_is_ramped_and_the_ramp_is_what_is_recorded(examples):
    renderer = live.LiveRenderer(examples, BlendSettings(alpha=0.2))
    render_live(renderer, {3: 0.9}, chunks=6)
    step_frame = 3 * live.CHUNK_STRIDED_FRAMES * RENDER_STRIDE
    applied = renderer.alpha
    assert np.all(applied[:step_frame] == pytest.approx(0.2))
    ramp = applied[step_frame : step_frame + live.RAMP_FRAMES]
    assert np.all(np.diff(ramp) > 0) and ramp[0] < 0.9 and ramp[-1] == pytest.approx(0.9)
    assert np.all(applied[step_frame + live.RAMP_FRAMES :] == pytest.approx(0.9))
    # The performance holds the applied α (ramp included), not the control's jump.
    performance = renderer.performance()
    frames = curve_frames(performance, HOP_S)
    assert frames == renderer.done
    assert np.allclose(performance.shares(frames)[1], applied, atol=1e-6)


def test_a_resting_live_render_is_as_consistent_as_an_export_of_the_same_alpha(examples):
    renderer = live.LiveRenderer(examples, BlendSettings(alpha=0.5), loop=False)
    audio = render_live(renderer, {}, chunks=1000)
    assert renderer.ended and len(audio) == examples.blend_frames * 256  # the excerpt, once
    performance = renderer.performance()
    live_db = convergence_db(examples, performance, audio)
    export_db = convergence_db(examples, performance, examples.render(performance))
    assert live_db < export_db + 0.4


def test_joins_are_continuous_while_alpha_moves(examples):
    renderer = live.LiveRenderer(examples, BlendSettings(alpha=0.1))
    rng = np.random.default_rng(3)
    moves = {k: float(rng.uniform(0, 1)) for k in range(0, 40, 2)}
    audio = render_live(renderer, moves, chunks=40)
    chunk = live.CHUNK_STRIDED_FRAMES * RENDER_STRIDE * 256
    jumps = np.abs(np.diff(audio))
    at_joins = jumps[np.arange(chunk, len(audio), chunk) - 1]
    assert at_joins.max() <= np.percentile(jumps, 99.9)  # no click where chunks meet
    silent = np.flatnonzero(np.abs(audio) < 1e-6)
    longest_silence = max(
        (len(run) for run in np.split(silent, np.flatnonzero(np.diff(silent) > 1) + 1)), default=0
    )
    assert longest_silence < 64  # no run of zeros anywhere (a dropped chunk would be 2048)
    # The output follows α: its blend (moving) is as close as an export's of the same curve.
    performance = renderer.performance()
    assert (
        convergence_db(examples, performance, audio)
        < convergence_db(examples, performance, examples.render(performance)) + 2.0
    )


def test_the_pad_plays_live_and_its_recorded_path_renders_again_to_the_same_bytes(
    examples, shipped_model, tmp_path
):
    corners = examples.sharing_tracks(shipped_model)  # A and B, and C and D made here
    for slot, root in {"C": 60, "D": 67}.items():
        clip = synth.music_like(6.0, 32768, rng=np.random.default_rng(root), root_midi=root)
        sf.write(tmp_path / f"{slot}.wav", clip, 32768)
        track = load_track(tmp_path / f"{slot}.wav", shipped_model, overview=False)
        corners.tracks[slot] = track
    renderer = live.LiveRenderer(corners, PadSettings(x=0.0, y=0.0))
    audio = render_live(renderer, {3: (1.0, 0.0), 6: (0.5, 1.0)}, chunks=10)
    assert renderer.applied.shape == (80, 2) and len(audio) == 80 * 256
    step = 3 * live.CHUNK_STRIDED_FRAMES * RENDER_STRIDE
    assert renderer.applied[step - 1].tolist() == [0.0, 0.0]
    assert renderer.applied[step + live.RAMP_FRAMES].tolist() == [1.0, 0.0]
    performance = renderer.performance()
    assert isinstance(performance, PadSettings) and len(performance.curve[0]) == 3
    target = tmp_path / "pad.wav"
    corners.export(target, performance, ExportOptions())
    record = json.loads((tmp_path / "pad.wav.musinterp.json").read_text())
    assert record["blend"]["kind"] == "pad" and record["blend"]["curve"][-1][1:] == [0.5, 1.0]
    result = musinterp("render", tmp_path / "pad.wav.musinterp.json", "-o", tmp_path / "again.wav")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "again.wav").read_bytes() == target.read_bytes()
    for slot in ("C", "D"):
        corners.tracks[slot] = None


def test_the_excerpt_repeats_under_a_looping_performance(examples):
    renderer = live.LiveRenderer(examples, BlendSettings(alpha=0.0), start_frame=600)
    period = renderer.period
    assert renderer.origin == 600 and period == examples.blend_frames
    render_live(renderer, {}, chunks=12)  # 96 frames: past the excerpt's end
    assert renderer.excerpt_frame(renderer.done) == (600 + renderer.done) % period
    performance = renderer.performance()
    assert performance.curve_start_s == pytest.approx(600 * HOP_S)
    blend = examples.blend(performance)
    assert blend.period == period and blend.frames == renderer.done
    # Output frame 40 is the excerpt's frame 0 again: the sources repeat under the curve.
    a = examples.tracks["A"]
    assert blend._excerpt_frames(slice(39, 41)).tolist() == [639, 0]
    assert np.array_equal(blend._read(a.samples, 40 * 256, 5000), a.samples[:5000])
    assert np.array_equal(blend._read(a.samples, 0, 5000), a.samples[600 * 256 : 600 * 256 + 5000])


def test_loop_off_ends_at_the_excerpts_end(examples):
    renderer = live.LiveRenderer(examples, BlendSettings(alpha=0.4), start_frame=320)
    render_live(renderer, {}, chunks=2)
    renderer.set_loop(False)
    while not renderer.ended:
        renderer.next_chunk()
    assert renderer.done == examples.blend_frames - 320


def test_a_recorded_performance_exports_and_renders_again_to_the_same_bytes(examples, tmp_path):
    renderer = live.LiveRenderer(examples, examples.even_steps(BlendSettings(alpha=0.3)))
    render_live(renderer, {2: 0.8, 5: 0.45, 9: 1.0}, chunks=90)  # 5.6 s: the excerpt loops
    performance = renderer.performance(8, renderer.done - 8)
    target = tmp_path / "performance.wav"
    examples.export(target, performance, ExportOptions())
    record = json.loads((tmp_path / "performance.wav.musinterp.json").read_text())
    assert record["blend"]["curve"][0] == [0.0, pytest.approx(0.3)]
    assert record["blend"]["curve_start_s"] == pytest.approx(8 * HOP_S)
    assert sf.info(target).frames == (renderer.done - 16) * 256
    again = tmp_path / "again.wav"
    result = musinterp("render", tmp_path / "performance.wav.musinterp.json", "-o", again)
    assert result.returncode == 0, result.stderr
    assert again.read_bytes() == target.read_bytes()


def test_a_curve_from_the_command_line_renders_what_it_says(tmp_path):
    curve = tmp_path / "curve.json"
    curve.write_text("[[0, 0], [1.5, 1], [7, 0.5]]")
    a, b = sorted(resources.examples_dir().glob("*.ogg"))[:2]
    result = musinterp("morph", a, b, "--curve", curve, "-o", tmp_path / "c.wav")
    assert result.returncode == 0, result.stderr
    assert sf.info(tmp_path / "c.wav").duration == pytest.approx(7.0, abs=0.01)  # loops
    record = json.loads((tmp_path / "c.wav.musinterp.json").read_text())
    assert record["blend"]["curve"] == [[0, 0], [1.5, 1], [7, 0.5]]
    curve.write_text("[[0, 0], [2, 1], [1, 0.5]]")
    refused = musinterp("morph", a, b, "--curve", curve, "-o", tmp_path / "d.wav")
    assert refused.returncode != 0 and "curve.json: a curve's times must rise" in refused.stderr
    assert not (tmp_path / "d.wav").exists()


def test_a_starved_feed_counts_a_dropout_and_the_callback_returns_at_once():
    player = playback.Player(32768)
    feed = playback.LiveFeed(32768, 32768)  # no resampling: the samples come out as written
    player._cue = playback._Cue(feed)  # what play() cues, without opening a device
    out = np.ones((1024, 1), np.float32)
    status = SimpleNamespace(output_underflow=False)
    player._callback(out, 1024, None, status)  # before the first samples: no dropout
    assert player.dropouts == 0 and not out.any()
    feed.write(np.full(2048, 0.5, np.float32))
    ready = feed.written
    player._callback(out, 1024, None, status)
    assert player.dropouts == 0 and np.all(out[:, 0] == 0.5)
    for _ in range(4):  # the renderer is late: silence, counted, never a wait
        began = time.perf_counter()
        player._callback(out, 1024, None, status)
        assert time.perf_counter() - began < 0.01
    assert feed.read == ready and player.dropouts >= 2 and feed.starved_blocks == player.dropouts
    assert not out[:, 0].any()


@pytest.mark.skipif(bool(playback.unavailable_reason()), reason="no audio output here")
def test_a_slow_renderer_on_the_device_drops_out_but_playback_goes_on(examples):
    player = playback.Player(32768)
    feed = player.new_feed()
    renderer = live.LiveRenderer(examples, BlendSettings(alpha=0.5))
    slow_chunk = renderer.next_chunk

    def late_chunk(**options):
        if renderer.done >= 64:  # after 0.5 s, each chunk takes longer than it lasts
            time.sleep(0.09)
        return slow_chunk(**options)

    renderer.next_chunk = late_chunk
    playback_ = live.LivePlayback(lambda: renderer, feed)
    playback_.start()
    player.play(feed)
    time.sleep(1.5)
    reads = feed.read
    time.sleep(0.3)
    playback_.stop()
    player.close()
    assert player.dropouts > 0 and feed.starved_blocks > 0  # counted
    assert feed.read > reads  # and what came late was still played
    assert not any(t.name == "live render" for t in threading.enumerate())
