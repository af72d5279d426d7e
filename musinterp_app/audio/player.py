"""Playback through PortAudio (sounddevice), fed while it plays.

The audio callback only copies samples out of a preallocated buffer: it
never decodes, allocates or waits on a lock held by compute. A clip is
played from a :class:`PlaybackBuffer` whose length is known up front; a
renderer fills it chunk by chunk (``write``) while playback runs, so sound
starts after the first chunk. If playback catches up with rendering, the
callback plays silence for that block rather than waiting. The UI polls
``position_s`` with a timer to draw the play cursor.
"""

import atexit
import threading

import numpy as np
import soxr

try:
    import sounddevice
except OSError as error:  # PortAudio missing from the system
    sounddevice = None
    _IMPORT_ERROR = f"PortAudio is not installed ({error})"
else:
    _IMPORT_ERROR = ""


def unavailable_reason() -> str:
    """Why playback cannot work here ('' when an output device exists)."""
    if sounddevice is None:
        return _IMPORT_ERROR
    try:
        sounddevice.query_devices(kind="output")
    except Exception as error:  # PortAudioError, or no default device at all
        return f"no audio output device ({error})"
    return ""


class PlaybackBuffer:
    """Mono float32 samples at the device rate, filled in order by one writer thread.

    Chunks are written at the source rate and resampled on the way in
    (streaming soxr), since devices seldom run at the model's 32768 Hz.
    """

    def __init__(self, source_samples: int, source_rate: int, output_rate: int) -> None:
        self.source_samples = source_samples
        self.source_rate = source_rate
        self.output_rate = output_rate
        self.samples = np.zeros(
            int(np.ceil(source_samples * output_rate / source_rate)) + 64, np.float32
        )
        self.filled = 0  # samples [0, filled) are ready; only ever grows
        self._source_written = 0
        self._resampler = (
            soxr.ResampleStream(source_rate, output_rate, 1, dtype="float32", quality="HQ")
            if source_rate != output_rate
            else None
        )
        self.complete = False

    @classmethod
    def of(cls, audio: np.ndarray, source_rate: int, output_rate: int) -> "PlaybackBuffer":
        buffer = cls(len(audio), source_rate, output_rate)
        buffer.write(audio)
        return buffer

    def write(self, chunk: np.ndarray) -> None:
        """Append the next chunk (source rate); the last one completes the buffer."""
        self._source_written += len(chunk)
        last = self._source_written >= self.source_samples
        if self._resampler is not None:
            chunk = self._resampler.resample_chunk(np.asarray(chunk, np.float32), last=last)
        stop = min(len(self.samples), self.filled + len(chunk))
        self.samples[self.filled : stop] = chunk[: stop - self.filled]
        self.filled = stop
        if last:
            self.samples = self.samples[: self.filled]
            self._resampler = None  # flushed; let it go now rather than at exit
            self.complete = True


def output_rate_for(sample_rate: int) -> int:
    """``sample_rate`` if the default output device takes it, else the device's own rate."""
    if sounddevice is None:
        return sample_rate
    try:
        sounddevice.check_output_settings(samplerate=sample_rate, channels=1, dtype="float32")
        return sample_rate
    except Exception:
        try:
            return int(sounddevice.query_devices(kind="output")["default_samplerate"])
        except Exception:
            return sample_rate


class Player:
    """One output stream at a time; ``play`` replaces whatever was playing.

    Buffers made with :meth:`new_buffer` / :meth:`buffer_of` are already at
    the device's rate (``output_rate``).
    """

    def __init__(self, sample_rate: int, *, block_size: int = 1024) -> None:
        self.sample_rate = sample_rate
        self.output_rate = output_rate_for(sample_rate)
        self.block_size = block_size
        self._stream = None
        self._buffer: PlaybackBuffer | None = None
        self._position = 0
        self.loop = False
        self.volume = 1.0  # gain applied while copying (the window's volume control)
        self.dropouts = 0  # blocks that could not be filled in time (device underflow or render)
        self._played_out = False  # the callback reached the end of the buffer
        self.error = ""  # why the device failed, until the UI takes it (take_error)
        self._lock = threading.Lock()  # guards stream start/stop only (never the callback)

    def new_buffer(self, source_samples: int) -> PlaybackBuffer:
        """An empty buffer for ``source_samples`` at the model rate, to be filled while playing."""
        return PlaybackBuffer(source_samples, self.sample_rate, self.output_rate)

    def buffer_of(self, audio: np.ndarray) -> PlaybackBuffer:
        return PlaybackBuffer.of(audio, self.sample_rate, self.output_rate)

    @property
    def position_s(self) -> float:
        """Seconds played of the current buffer."""
        return self._position / self.output_rate

    @property
    def playing(self) -> bool:
        stream = self._stream
        return stream is not None and stream.active

    def _callback(self, out: np.ndarray, frames: int, _time, status) -> None:
        """Realtime-safe: copies samples only (looping wraps inside the block, no gap)."""
        if status.output_underflow:
            self.dropouts += 1
        buffer = self._buffer
        written = 0
        while written < frames:
            start = self._position
            ready = min(buffer.filled, start + frames - written)
            count = max(0, ready - start)
            np.multiply(  # into the device's block: no allocation on the audio thread
                buffer.samples[start : start + count],
                self.volume,
                out=out[written : written + count, 0],
            )
            written += count
            self._position = start + count
            if self._position < len(buffer.samples) or not buffer.complete:
                break
            if not (self.loop and len(buffer.samples)):
                out[written:, 0] = 0.0
                self._played_out = True
                raise sounddevice.CallbackStop
            self._position = 0  # loop: carry on from the start in this same block
        if written < frames:  # rendering is behind playback: silence now, counted
            out[written:, 0] = 0.0
            self.dropouts += 1

    def play(self, buffer: PlaybackBuffer) -> None:
        """Start playing ``buffer`` (it may still be filling). Raises ``RuntimeError``."""
        reason = unavailable_reason()
        if reason:
            raise RuntimeError(reason)
        self.stop()
        if self.error:  # the device died under the previous stream
            raise RuntimeError(self.error)
        with self._lock:
            self._buffer = buffer
            self._position = 0
            self._played_out = False
            self.dropouts = 0
            self.error = ""
            try:
                self._stream = sounddevice.OutputStream(
                    samplerate=self.output_rate,
                    channels=1,
                    dtype="float32",
                    blocksize=self.block_size,
                    callback=self._callback,
                )
                self._stream.start()
            except Exception as error:
                self._stream = None
                raise RuntimeError(f"the audio device refused to play: {error}") from None

    def take_error(self) -> str:
        """Why playback stopped on its own, once ('' if it did not fail)."""
        stream = self._stream
        if stream is not None and self._device_lost(stream):
            self.stop()
        error, self.error = self.error, ""
        return error

    def _device_lost(self, stream) -> bool:
        """The stream went quiet before the end of its buffer: its device is gone
        (unplugged headphones, a sound server that quit)."""
        return not stream.active and not self._played_out

    def stop(self) -> None:
        """Stop and close the stream (call from the thread that owns the player)."""
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            if self._device_lost(stream):
                _abandon(stream)
                self.error = f"the audio device stopped responding after {self.position_s:.1f} s"
                return
            try:
                stream.abort()
                stream.close()
            except Exception as error:  # the device vanished: nothing left to stop
                self.error = f"the audio device failed: {error}"


_abandoned_streams = []  # streams of dead devices, kept so that nothing frees them


def _abandon(stream) -> None:
    """Leave a dead device's stream open for good.

    Closing it, or shutting PortAudio down at exit, can block forever once
    the device is gone (JACK does, when its server quits), so neither
    happens: the stream is kept unclosed and PortAudio's exit handler is
    dropped (the operating system releases everything at exit).
    """
    _abandoned_streams.append(stream)
    exit_handler = getattr(sounddevice, "_exit_handler", None)
    if exit_handler is not None:
        atexit.unregister(exit_handler)
