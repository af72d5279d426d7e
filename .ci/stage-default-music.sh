#!/bin/sh
# Gather the default model's training music (Debian packages only) into one
# folder per package: DEST/<package>/..., so each package becomes a label.
# Music inside archives (nexuiz's .pk3) is extracted; the tracker module of
# fb-music-high is rendered to WAV with openmpt123 (libsndfile cannot read it);
# xblast-tnt-musics' headerless 8-bit PCM gets a WAV header (sox); of the
# game-data packages only the music folders are taken.
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
link supertuxkart-data /usr/share/games/supertuxkart/data/music
link supertux-data /usr/share/games/supertux2/music
link hedgewars-data /usr/share/games/hedgewars/Data/Music
link widelands-data /usr/share/games/widelands/data/music
link freedroidrpg-data /usr/share/freedroidrpg/data/sound/music
link neverball-data /usr/share/games/neverball/bgm
if [ ! -d "$dest/megaglest-data" ]; then  # menu music and one piece per faction
    mkdir -p "$dest/megaglest-data.part"
    for file in /usr/share/games/megaglest/data/core/menu/music/*.ogg \
        /usr/share/games/megaglest/techs/*/factions/*/music/*.ogg; do
        faction=$(basename "$(dirname "$(dirname "$file")")")
        ln -s "$file" "$dest/megaglest-data.part/$faction-$(basename "$file")"
    done
    mv "$dest/megaglest-data.part" "$dest/megaglest-data"
fi
if [ ! -d "$dest/xblast-tnt-musics" ]; then  # unsigned 8-bit mono at 22050 Hz, no header
    mkdir -p "$dest/xblast-tnt-musics.part"
    for file in /usr/share/games/xblast-tnt/sounds/xbsng*.raw; do
        sox -t raw -r 22050 -e unsigned-integer -b 8 -c 1 "$file" \
            "$dest/xblast-tnt-musics.part/$(basename "$file" .raw).wav"
    done
    mv "$dest/xblast-tnt-musics.part" "$dest/xblast-tnt-musics"
fi
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
