#!/bin/sh
# Run a command with a real PortAudio output device: JACK's dummy driver
# consumes audio in real time without a sound card. If jackd cannot start,
# the command still runs and the playback tests skip with a reason.
set -u
jack_pid=""
running_jackd() { ps -C jackd -o stat= 2>/dev/null | grep -qv '^Z'; }
if command -v jackd >/dev/null 2>&1 && ! running_jackd; then
    # Servers that were killed (the fault tests kill one on purpose) stay in
    # JACK's shared registry, which holds 8; with no server running, none is live.
    rm -f /dev/shm/jack-shm-registry /dev/shm/jack_sem.* /dev/shm/jack_*_0_0 2>/dev/null
    JACK_NO_AUDIO_RESERVATION=1 jackd --no-realtime -d dummy -r 48000 -p 1024 \
        >/tmp/musinterp-jackd.log 2>&1 &
    jack_pid=$!
    for _ in 1 2 3 4 5 6 7 8 9 10; do  # wait until the server says it started (at most 5 s)
        grep -q "JACK server starting" /tmp/musinterp-jackd.log 2>/dev/null && break
        sleep 0.5
    done
    sleep 1
fi
"$@"
status=$?
if [ -n "$jack_pid" ]; then
    kill "$jack_pid" 2>/dev/null
    wait "$jack_pid" 2>/dev/null
fi
exit $status
