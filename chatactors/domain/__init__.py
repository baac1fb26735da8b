"""The vocabulary shared by every layer: pure, synchronous, free of Trio and Quart."""
