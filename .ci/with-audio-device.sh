#!/bin/sh
# Run a command with a real PortAudio output device: JACK's dummy driver
# consumes audio in real time without a sound card. If jackd cannot start,
# the command still runs and the playback tests skip with a reason.
set -u
jack_pid=""
if command -v jackd >/dev/null 2>&1 && ! pgrep -x jackd >/dev/null 2>&1; then
    JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 1024 >/tmp/musinterp-jackd.log 2>&1 &
    jack_pid=$!
    sleep 1
fi
"$@"
status=$?
[ -n "$jack_pid" ] && kill "$jack_pid" 2>/dev/null
exit $status
