"""Messages in a person's words: a library's long explanation moved to *Details…*,
PortAudio's reason for no sound said plainly."""

import re

_RAW_DETAIL = re.compile(r"\s*\(([^()]{40,})\)(\.?)$")  # a library's long words at a line's end


def plain_message(message: str) -> tuple[str, str]:
    """``message`` split into what a person reads first and its details ('' when none):
    a long parenthesised library message at the end of the first line goes to the details."""
    first, _, rest = message.partition("\n")
    match = _RAW_DETAIL.search(first)
    if match is None:
        return message, ""
    return first[: match.start()] + match.group(2) + ("\n" + rest if rest else ""), match.group(1)


def plain_audio_problem(reason: str) -> str:
    """PortAudio's reason for no playback, in a musician's words."""
    if reason.startswith("no audio output device"):
        return "no sound output was found (no sound card, or no sound server running)"
    return reason
