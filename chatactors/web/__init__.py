"""The HTTP and WebSocket edge (Quart-Trio): translation only, no chat state of its own."""
