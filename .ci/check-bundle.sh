#!/bin/sh
# Run every musinterp command with a bundle made by `make bundle` (its path: $1), under the
# JACK dummy device and offscreen Qt, so a command that fails only when frozen fails here.
set -eu
app=$(realpath "${1:?usage: check-bundle.sh build/dist/musinterp/musinterp}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
a=resources/examples/example-a-slow-low.ogg
b=resources/examples/example-b-fast-high.ogg
export QT_QPA_PLATFORM=offscreen
run() { echo "== musinterp $*"; "$app" "$@"; }
run --version
run --self-test
run info --details >/dev/null
run reconstruct "$a" -o "$work/r.wav" --excerpt 3
run blend "$a" "$b" -o "$work/b.wav" --alpha 0.3 --sync tempo,key
run morph "$a" "$b" -o "$work/m.flac" --excerpt 3
run pad "$a" "$b" "$b" "$a" -o "$work/p.wav" --x 0.2 --y 0.7
run render "$work/b.wav.musinterp.json" -o "$work/again.wav"
cmp "$work/b.wav" "$work/again.wav"
(cd "$work" && run generate --seconds 2 --iterations 4)
if run listening-test --summary --out "$work" 2>"$work/survey.err"; then exit 1; fi  # nothing saved:
grep -q "no listening test was saved there" "$work/survey.err"  # one sentence, no traceback
.ci/with-audio-device.sh "$app" bench --json > "$work/bench.json"
python3 -c "import json, sys; keys = json.load(open(sys.argv[1])); assert 'app.rss_mb' in keys and 'render.cold_first_chunk_s' in keys, sorted(keys); print(len(keys), 'bench keys')" "$work/bench.json"
echo "every command works in the bundle"
