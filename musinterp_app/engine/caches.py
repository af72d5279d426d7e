"""What the engine keeps between requests: the last whole blend decoded, and decoded blocks of a
render."""

import threading
from collections.abc import Callable

import numpy as np

from musinterp_app.engine.settings import Settings
from musinterp_app.engine.tracks import Track

DECODE_BLOCK_FRAMES = 2048  # mel frames decoded at once when rendering (16 s, ~60 MB of mel)


class _LastBlend:
    """The last whole blend decoded: its tracks (by identity), settings and log-mel.

    The window decodes a blend to draw it, and the render that follows a slider
    release asks for the same blend: it gets this one instead of decoding it
    again. Asking for a blend that is being decoded waits for that decode;
    asking for another one does not wait.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._entry: tuple[list[Track], Settings, np.ndarray] | None = None
        self._decoding: dict[object, tuple[list[Track], Settings]] = {}  # under way, by token

    @staticmethod
    def _same(known: tuple[list[Track], Settings], tracks: list[Track], settings) -> bool:
        known_tracks, known_settings = known
        if known_settings != settings or len(known_tracks) != len(tracks):
            return False
        return all(a is b for a, b in zip(known_tracks, tracks, strict=True))

    def _wait_for(self, tracks: list[Track], settings: Settings) -> np.ndarray | None:
        """(Holding the lock) wait while this blend is being decoded; then it, if known."""
        while any(self._same(key, tracks, settings) for key in self._decoding.values()):
            self._changed.wait()
        if self._entry is not None and self._same(self._entry[:2], tracks, settings):
            return self._entry[2]
        return None

    def get(
        self, tracks: list[Track], settings: Settings, decode: Callable[[], np.ndarray]
    ) -> np.ndarray:
        """The blend's log-mel (read-only), decoded with ``decode()`` unless it is known."""
        token = object()
        with self._changed:
            known = self._wait_for(tracks, settings)
            if known is not None:
                return known
            self._decoding[token] = (tracks, settings)
        decoded = None
        try:
            decoded = decode()
            decoded.flags.writeable = False
            return decoded
        finally:
            with self._changed:
                del self._decoding[token]
                if decoded is not None:
                    self._entry = (tracks, settings, decoded)
                self._changed.notify_all()

    def peek(self, tracks: list[Track], settings: Settings) -> np.ndarray | None:
        """The blend's log-mel if it is known or being decoded (then it waits), else None."""
        with self._changed:
            return self._wait_for(tracks, settings)


class _DecodedBlocks:
    """``log_mel_frames(start, stop)`` for a stream that asks for each frame once, in order.

    Decoding a window costs the window plus ``DECODE_MARGIN_LATENT`` on both
    sides, so decoding one small window per chunk would decode most frames
    twice. This decodes the first request as asked (a small window: sound
    starts at once) and then whole blocks of ``DECODE_BLOCK_FRAMES``, keeping
    what the stream has not asked for yet.
    """

    def __init__(self, decode: Callable[[int, int], np.ndarray], n_frames: int) -> None:
        self._decode = decode
        self._n_frames = n_frames
        self._first_frame = 0  # of self._mel
        self._mel: np.ndarray | None = None  # [n_mels, frames] decoded, not yet handed out

    def __call__(self, start: int, stop: int) -> np.ndarray:
        have = self._first_frame + (0 if self._mel is None else self._mel.shape[1])
        if start < self._first_frame or start > have:
            raise ValueError(f"frames asked out of order: {start} after {have}")
        if stop > have:  # decode from where the last block ended; keep its unasked frames
            block_stop = stop if self._mel is None else have + DECODE_BLOCK_FRAMES
            fresh = self._decode(have, max(stop, min(self._n_frames, block_stop)))
            if self._mel is not None:
                fresh = np.concatenate([self._mel[:, start - self._first_frame :], fresh], axis=1)
            self._mel, self._first_frame = fresh, start
        offset = start - self._first_frame
        return self._mel[:, offset : offset + stop - start]
