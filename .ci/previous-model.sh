#!/bin/sh
# An earlier default model, taken from git history into DEST, so `evaluate` and `bench`
# can compare the current default with it without keeping old weights in the working
# tree: v1 (conv1d) or v2 (the hybrid VAE of 2026-11-25).
set -eu
version=${1:?usage: previous-model.sh v1|v2 DEST}
dest=${2:?usage: previous-model.sh v1|v2 DEST}
case "$version" in
    v1) commit=742bc45552ffec89cc35de60283af9cf7d121ce8 ;;
    v2) commit=16997a75299d5757394772e6502a243068b889e0 ;;
    *) echo "previous-model.sh: no model $version (v1 or v2)" >&2; exit 2 ;;
esac
[ -f "$dest/decoder.onnx" ] && exit 0
rm -rf "$dest.part"
mkdir -p "$dest.part"
for file in encoder.onnx decoder.onnx MODEL.md; do
    git show "$commit:resources/models/default/$file" > "$dest.part/$file"
done
mv "$dest.part" "$dest"
