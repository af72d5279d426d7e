#!/bin/sh
# Gather the default model's training music (Debian packages only) into one
# folder per package: DEST/<package>/..., so each package becomes a label.
# Music inside archives (nexuiz's .pk3) is extracted; the tracker module of
# fb-music-high is rendered to WAV with openmpt123 (libsndfile cannot read it).
set -eu
dest=${1:?usage: stage-default-music.sh DEST}
mkdir -p "$dest"
link() { [ -e "$dest/$1" ] || ln -s "$2" "$dest/$1"; }
link warzone2100-music /usr/share/games/warzone2100/music
link singularity-music /usr/share/games/singularity/music
link planetblupi-music-ogg /usr/share/planetblupi/music
link hyperrogue-music /usr/share/hyperrogue/music
link asc-music /usr/share/games/asc/music
link drascula-music /usr/share/scummvm/drascula/audio
if [ ! -d "$dest/nexuiz-music" ]; then
    mkdir -p "$dest/nexuiz-music.part"
    unzip -q -o -j /usr/share/games/nexuiz/data/music.pk3 'sound/cdtracks/*.ogg' -d "$dest/nexuiz-music.part"
    mv "$dest/nexuiz-music.part" "$dest/nexuiz-music"
fi
if [ ! -d "$dest/fb-music-high" ]; then
    mkdir -p "$dest/fb-music-high.part"
    cp /usr/share/games/frozen-bubble/snd/frozen-mainzik-2p.xm "$dest/fb-music-high.part/"
    openmpt123 --render --samplerate 32768 --no-float --repeat 0 -q \
        "$dest/fb-music-high.part/frozen-mainzik-2p.xm"
    rm "$dest/fb-music-high.part/frozen-mainzik-2p.xm"
    mv "$dest/fb-music-high.part" "$dest/fb-music-high"
fi
