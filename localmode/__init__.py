"""Local mode: the whole service on one machine, on an in-process AWS emulator."""
