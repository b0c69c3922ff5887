# The compressed_sensing family (placeholder).
COMPRESSED_SENSING_TARGETS = []
