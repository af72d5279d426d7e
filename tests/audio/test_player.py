"""The player on a real PortAudio device (JACK's dummy driver under `make test`).

The stream, its thread and its timing are real; the tests read what the
player's callback handed to PortAudio by keeping a copy of every block.
"""

import time

import numpy as np
import pytest

from musinterp_app.audio import player as playback

pytestmark = pytest.mark.skipif(
    bool(playback.unavailable_reason()),
    reason=f"no audio output here: {playback.unavailable_reason()}",
)


def _recording(player: playback.Player) -> list[np.ndarray]:
    """Every block the real stream's callback fills, in order (copies)."""
    blocks: list[np.ndarray] = []
    fill = player._callback

    def fill_and_keep(out, frames, time_info, status):
        try:
            fill(out, frames, time_info, status)
        finally:
            blocks.append(out[:, 0].copy())

    player._callback = fill_and_keep
    return blocks


def _wait(condition, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the stream did not get there in time"
        time.sleep(0.01)


def test_a_loop_wraps_inside_the_block_without_a_gap():
    player = playback.Player(48000, block_size=1024)
    tone = (0.5 + 0.25 * np.sin(np.arange(1500) / 7.0)).astype(np.float32)  # never zero
    buffer = playback.PlaybackBuffer.of(tone, player.output_rate, player.output_rate)
    blocks = _recording(player)
    player.loop = True
    player.play(buffer)
    _wait(lambda: len(_after_silence(blocks)) >= 8)  # 8 blocks of 1024 > 5 passes over 1500
    player.release()
    heard = np.concatenate(_after_silence(blocks)[:8])
    assert np.all(heard != 0.0), "silence at a loop seam"
    np.testing.assert_array_equal(heard[:7500], np.tile(tone, 5))


def _after_silence(blocks: list[np.ndarray]) -> list[np.ndarray]:
    """The blocks from the first that is not all zeros (the stream may start before the cue)."""
    sounding = [k for k, block in enumerate(blocks) if np.any(block != 0.0)]
    return blocks[sounding[0] :] if sounding else []


def test_a_starved_stream_counts_its_dropouts():
    player = playback.Player(48000, block_size=1024)
    buffer = player.new_buffer(48000)  # one second that nobody renders
    blocks = _recording(player)
    player.play(buffer)
    _wait(lambda: len(blocks) >= 4)
    player.release()
    assert player.dropouts >= 3
    assert all(np.all(block == 0.0) for block in blocks)  # silence, not stale samples


def test_the_stream_stays_open_between_sounds_and_idles_in_silence():
    player = playback.Player(48000, block_size=1024)
    blocks = _recording(player)
    player.start_stream()
    _wait(lambda: len(blocks) >= 3)
    assert player.dropouts == 0 and not player.playing  # open and silent: nothing is missing
    stream = player._stream
    tone = np.full(4096, 0.25, np.float32)
    player.play(playback.PlaybackBuffer.of(tone, player.output_rate, player.output_rate))
    _wait(lambda: not player.playing)  # played to its end
    played = np.concatenate(_after_silence(blocks))
    assert np.count_nonzero(played) == 4096  # all of it, once, then silence again
    player.play(playback.PlaybackBuffer.of(tone, player.output_rate, player.output_rate))
    player.stop()
    assert player._stream is stream and stream.active  # the next play needs no new stream
    heard = len(blocks)
    _wait(lambda: len(blocks) >= heard + 2)
    assert np.all(blocks[-1] == 0.0)  # stopped: silence at once
    player.release()
    assert not player.stream_open and not stream.active
