#!/bin/sh
# The previous default model (conv1d, v1), taken from git history into DEST,
# so `evaluate` can compare the new default with it without keeping 17 MB of
# old weights in the working tree.
set -eu
dest=${1:?usage: previous-model.sh DEST}
commit=742bc45552ffec89cc35de60283af9cf7d121ce8
[ -f "$dest/decoder.onnx" ] && exit 0
mkdir -p "$dest.part"
for file in encoder.onnx decoder.onnx MODEL.md; do
    git show "$commit:resources/models/default/$file" > "$dest.part/$file"
done
mv "$dest.part" "$dest"
