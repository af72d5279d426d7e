"""Pure-numpy audio layer: file I/O, log-mel features, Griffin-Lim, playback.

Never imports Qt, onnxruntime or torch (see docs/ARCHITECTURE.md, "Layers").
"""
