"""Synthetic speech: 20 ms chunks of 16 kHz 16-bit little-endian mono PCM."""

import math
import struct

SAMPLE_RATE = 16_000
CHUNK_SAMPLES = SAMPLE_RATE // 50  # 20 ms
CHUNK_BYTES = CHUNK_SAMPLES * 2


def tone(index: int, frequency: float = 220.0) -> bytes:
    """Chunk ``index`` of a continuous sine tone (deterministic)."""
    start = index * CHUNK_SAMPLES
    return struct.pack(
        f"<{CHUNK_SAMPLES}h",
        *(int(8000 * math.sin(2 * math.pi * frequency * (start + i) / SAMPLE_RATE))
          for i in range(CHUNK_SAMPLES)))
