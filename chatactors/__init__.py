"""chatactors: a real-time chat server built as an actor system on Trio."""

__version__ = "0.1.0"
