"""The networks and what they are trained against: the VAEs, their losses, stage 2's
critics, warm starts from a model folder and the ONNX export."""
