# The inference family (placeholder).
INFERENCE_TARGETS = []
