"""The synthetic world: glyphs, plates, vehicles, roads and scenes, the low-light camera models,
sequences on disk and as a stream, and ``nightowl data``.
"""
