"""Playback through PortAudio (sounddevice), fed while it plays.

The audio callback only copies samples out of a preallocated buffer: it
never decodes, allocates or waits on a lock held by compute. A clip is
played from a :class:`PlaybackBuffer` whose length is known up front; a
renderer fills it chunk by chunk (``write``) while playback runs, so sound
starts after the first chunk. If playback catches up with rendering, the
callback plays silence for that block rather than waiting. The stream stays
open between sounds (silent), so a new sound starts at the next device block.
The UI polls ``position_s`` with a timer to draw the play cursor.
"""

import atexit
import threading
import time
from dataclasses import dataclass

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


class LiveFeed:
    """Samples handed to the device as a live renderer makes them: a ring buffer at
    the device rate with one writer (the render thread) and one reader (the audio
    callback), which never wait for each other.

    ``written`` and ``read`` count output samples since the start and only grow;
    the writer writes only while there is room, the reader reads only what was
    written. Each callback notes when it handed the device a block and how far the
    reading had got (``handed``), for measuring latency.
    """

    HANDED_KEPT = 8192  # callbacks remembered (about 3 minutes of 1024-sample blocks)

    def __init__(self, source_rate: int, output_rate: int, *, capacity_s: float = 2.0) -> None:
        self.source_rate, self.output_rate = source_rate, output_rate
        self.ring = np.zeros(int(capacity_s * output_rate), np.float32)
        self.written = 0
        self.read = 0
        self.source_written = 0  # samples at the source rate given to ``write``
        self.ended = False  # the writer wrote its last samples
        self._resampler = (
            soxr.ResampleStream(source_rate, output_rate, 1, dtype="float32", quality="HQ")
            if source_rate != output_rate
            else None
        )
        self.handed = np.zeros((self.HANDED_KEPT, 2))  # (perf_counter, samples read after it)
        self.handed_count = 0
        self.starved_blocks = 0  # callbacks that found fewer samples than they needed

    @property
    def ahead_s(self) -> float:
        """Seconds written and not yet read."""
        return (self.written - self.read) / self.output_rate

    @property
    def delay_samples(self) -> float:
        """Output samples the resampler holds back: source sample ``n`` reaches the
        device as output sample ``n · output_rate / source_rate − delay_samples``."""
        return self.source_written * self.output_rate / self.source_rate - self.written

    def write(self, chunk: np.ndarray, *, last: bool = False) -> None:
        """Append ``chunk`` (source rate); call only when ``ahead_s`` leaves room for it."""
        source_samples = len(chunk)
        if self._resampler is not None:
            chunk = self._resampler.resample_chunk(np.asarray(chunk, np.float32), last=last)
        size = len(self.ring)
        if self.written + len(chunk) - self.read > size:
            raise RuntimeError("the live feed is full: the writer ran too far ahead")
        at = self.written % size
        first = min(len(chunk), size - at)
        self.ring[at : at + first] = chunk[:first]
        self.ring[: len(chunk) - first] = chunk[first:]
        self.written += len(chunk)
        self.source_written += source_samples  # after `written`: delay_samples stays right
        self.ended = last

    def recent(self, samples: int) -> np.ndarray:
        """The last ``samples`` read (for a level meter; may be torn while playing)."""
        count = min(samples, self.read, len(self.ring))
        at = np.arange(self.read - count, self.read) % len(self.ring)
        return self.ring[at]

    def read_into(self, out: np.ndarray, volume: float) -> int:
        """Realtime-safe: copy what is ready into ``out`` (``[frames]``), scaled by
        ``volume``; returns how many samples were copied."""
        frames, size = len(out), len(self.ring)
        count = min(frames, self.written - self.read)
        at = self.read % size
        first = min(count, size - at)
        np.multiply(self.ring[at : at + first], volume, out=out[:first])
        np.multiply(self.ring[: count - first], volume, out=out[first:count])
        starved = count < frames and self.read > 0 and not self.ended  # not before the start
        self.read += count
        if starved:
            self.starved_blocks += 1
        self.handed[self.handed_count % self.HANDED_KEPT] = (time.perf_counter(), self.read)
        self.handed_count += 1
        return count


@dataclass(frozen=True)
class OutputDevice:
    """An output device PortAudio offers: its name (with the host API's: "ALSA", "JACK"…),
    its index now, and its own rate."""

    name: str
    index: int
    default_rate: int


def output_devices() -> list[OutputDevice]:
    """Every device that can play (none where PortAudio or a device is missing)."""
    if sounddevice is None:
        return []
    try:
        apis = sounddevice.query_hostapis()
        devices = sounddevice.query_devices()
    except Exception:
        return []
    return [
        OutputDevice(
            f"{device['name']} ({apis[device['hostapi']]['name']})",
            index,
            int(device["default_samplerate"]),
        )
        for index, device in enumerate(devices)
        if device["max_output_channels"] > 0
    ]


def device_index(name: str | None) -> int | None:
    """The index now of the device called ``name`` (indices change between runs; names
    stay), or None (the default device) when there is no such device or no name."""
    return next((d.index for d in output_devices() if d.name == name), None) if name else None


def output_rate_for(sample_rate: int, device: int | None = None) -> int:
    """``sample_rate`` if the output device (default: the system's) takes it, else the
    device's own rate."""
    if sounddevice is None:
        return sample_rate
    try:
        sounddevice.check_output_settings(
            device=device, samplerate=sample_rate, channels=1, dtype="float32"
        )
        return sample_rate
    except Exception:
        try:
            return int(sounddevice.query_devices(device, "output")["default_samplerate"])
        except Exception:
            return sample_rate


@dataclass
class _Cue:
    """What the callback plays: a buffer and how far into it (samples at the device rate)."""

    buffer: "PlaybackBuffer | LiveFeed"
    position: int = 0
    finished: bool = False  # played to its end (not looping)
    sounding_since: float | None = None  # time.perf_counter() of the first block with samples


class Player:
    """One output stream, kept running between sounds; ``play`` replaces what plays.

    Opening and starting a PortAudio stream takes ~60 ms and closing one ~30 ms
    (JACK, measured), which a slider release would wait for. So the stream is
    opened once (``start_stream``, or the first ``play``) and then plays silence when
    nothing is cued: ``play`` and ``stop`` only swap what the callback reads.
    ``release`` closes it (the window does after a while of silence; a later
    ``play`` opens it again) and ``close`` closes it for good (at exit, or when
    another model's player replaces this one).
    Buffers made with :meth:`new_buffer` / :meth:`buffer_of` are already at
    the device's rate (``output_rate``).
    """

    def __init__(
        self, sample_rate: int, *, block_size: int = 1024, device: int | None = None
    ) -> None:
        self.sample_rate = sample_rate
        self.device = device  # PortAudio's index; None: the system's default output
        self.output_rate = output_rate_for(sample_rate, device)
        self.block_size = block_size
        self._stream = None
        self._cue: _Cue | None = None  # None: silence
        self.loop = False
        self.volume = 1.0  # gain applied while copying (the window's volume control)
        self.dropouts = 0  # blocks that could not be filled in time (device underflow or render)
        self.error = ""  # why the device failed, until the UI takes it (take_error)
        self._lock = threading.Lock()  # guards opening and closing the stream (never the callback)
        self._closed = False  # closed for good: no stream opens again

    def new_feed(self) -> LiveFeed:
        """An empty live feed from the model's rate to the device's."""
        return LiveFeed(self.sample_rate, self.output_rate)

    def new_buffer(self, source_samples: int) -> PlaybackBuffer:
        """An empty buffer for ``source_samples`` at the model rate, to be filled while playing."""
        return PlaybackBuffer(source_samples, self.sample_rate, self.output_rate)

    def buffer_of(self, audio: np.ndarray) -> PlaybackBuffer:
        return PlaybackBuffer.of(audio, self.sample_rate, self.output_rate)

    @property
    def position_s(self) -> float:
        """Seconds played of the current buffer."""
        cue = self._cue
        return 0.0 if cue is None else cue.position / self.output_rate

    @property
    def buffer(self) -> PlaybackBuffer | None:
        """What plays (or played to its end); None after ``stop``."""
        cue = self._cue
        return None if cue is None else cue.buffer

    @property
    def sounding_since(self) -> float | None:
        """``time.perf_counter()`` when the callback first handed the device samples of
        what plays now (None before that, or when nothing plays)."""
        cue = self._cue
        return None if cue is None else cue.sounding_since

    @property
    def playing(self) -> bool:
        cue, stream = self._cue, self._stream
        return cue is not None and not cue.finished and stream is not None and stream.active

    def _callback(self, out: np.ndarray, frames: int, _time, status) -> None:
        """Realtime-safe: copies samples only (looping wraps inside the block, no gap)."""
        cue = self._cue
        if cue is None or cue.finished:
            out.fill(0.0)
            return
        if status.output_underflow:
            self.dropouts += 1
        buffer = cue.buffer
        if isinstance(buffer, LiveFeed):
            count = buffer.read_into(out[:, 0], self.volume)
            cue.position = buffer.read
            if count and cue.sounding_since is None:
                cue.sounding_since = time.perf_counter()
            if count < frames:
                out[count:, 0] = 0.0
                if buffer.ended and buffer.read == buffer.written:
                    cue.finished = True
                elif buffer.read > count:  # samples had come before: the renderer is late
                    self.dropouts += 1
            return
        written = 0
        while written < frames:
            start = cue.position
            ready = min(buffer.filled, start + frames - written)
            count = max(0, ready - start)
            np.multiply(  # into the device's block: no allocation on the audio thread
                buffer.samples[start : start + count],
                self.volume,
                out=out[written : written + count, 0],
            )
            written += count
            cue.position = start + count
            if count and cue.sounding_since is None:
                cue.sounding_since = time.perf_counter()
            if cue.position < len(buffer.samples) or not buffer.complete:
                break
            if not (self.loop and len(buffer.samples)):
                out[written:, 0] = 0.0
                cue.finished = True
                return
            cue.position = 0  # loop: carry on from the start in this same block
        if written < frames:  # rendering is behind playback: silence now, counted
            out[written:, 0] = 0.0
            self.dropouts += 1

    @property
    def latency_s(self) -> float | None:
        """The output latency PortAudio reports for the open stream (seconds), else None."""
        stream = self._stream
        return None if stream is None else float(stream.latency)

    @property
    def stream_open(self) -> bool:
        """The stream is open: a ``play`` now sounds at the next device block."""
        return self._stream is not None

    def start_stream(self) -> None:
        """Open and start the (silent) stream now, so that the next ``play`` sounds at
        once; any thread may call it. Raises ``RuntimeError``."""
        stream = self._stream
        if stream is not None and not stream.active:  # it was never stopped: the device died
            self.release()
        if self.error:
            raise RuntimeError(self.error)
        with self._lock:
            if self._stream is not None:
                return
            if self._closed:
                raise RuntimeError("this player was closed")
            reason = unavailable_reason()
            if reason:
                raise RuntimeError(reason)
            try:
                stream = sounddevice.OutputStream(
                    device=self.device,
                    samplerate=self.output_rate,
                    channels=1,
                    dtype="float32",
                    blocksize=self.block_size,
                    callback=self._callback,
                )
                stream.start()
            except Exception as error:
                raise RuntimeError(f"the audio device refused to play: {error}") from None
            self._stream = stream

    def play(self, buffer: "PlaybackBuffer | LiveFeed", *, start_s: float = 0.0) -> None:
        """Start playing ``buffer`` (it may still be filling; from ``start_s`` into it) or
        a live feed. Raises ``RuntimeError``."""
        self._cue = None
        self.start_stream()
        self.dropouts = 0
        position = 0
        if not isinstance(buffer, LiveFeed):
            position = min(int(start_s * buffer.output_rate), max(0, len(buffer.samples) - 1))
        self._cue = _Cue(buffer, position=position)

    def take_error(self) -> str:
        """Why playback stopped on its own, once ('' if it did not fail)."""
        stream = self._stream
        if stream is not None and not stream.active:  # it was never stopped: the device died
            self.release()
        error, self.error = self.error, ""
        return error

    def stop(self) -> None:
        """Silence at once; the stream stays open for the next ``play``."""
        self._cue = None

    def close(self) -> None:
        """Close the stream for good: a ``start_stream`` still to come opens nothing."""
        with self._lock:
            self._closed = True
        self.release()

    def release(self) -> None:
        """Stop and close the stream (call from the thread that owns the player)."""
        played_s, self._cue = self.position_s, None
        with self._lock:
            stream, self._stream = self._stream, None
            if stream is None:
                return
            if not stream.active:  # the device went away under it
                _abandon(stream)
                self.error = f"the audio device stopped responding after {played_s:.1f} s"
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
