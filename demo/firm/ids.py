"""Identifier factories: Salesforce 18-character ids, auto-numbers, and seeded random streams.

Ids are built with numpy byte arithmetic because the large scale needs millions of them and
string formatting in a Python loop would dominate the run time.
"""

from __future__ import annotations

import zlib

import numpy as np

_BASE62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
_CHECKSUM = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", dtype=np.uint8)
_POD = "4x0"  # instance + reserved characters of a Salesforce id


def rng_for(seed: int, stage: str) -> np.random.Generator:
    """A random stream per generation stage, so adding draws to one stage leaves the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(stage.encode())])


def _as_text(buffer: np.ndarray) -> np.ndarray:
    """Turn an (n, width) uint8 matrix of ASCII bytes into an object array of str."""
    width = buffer.shape[1]
    return buffer.view(f"S{width}").ravel().astype(f"U{width}").astype(object)


def sf_ids(prefix: str, keys: np.ndarray) -> np.ndarray:
    """Salesforce 18-character ids (3-char key prefix, base-62 record number, case checksum).

    The checksum is the real one, so 15-character forms can be converted back by downstream code.
    """
    keys = np.asarray(keys, dtype=np.int64)
    n = len(keys)
    out = np.empty((n, 18), dtype=np.uint8)
    out[:, :6] = np.frombuffer((prefix + _POD).encode(), dtype=np.uint8)
    rest = keys.copy()
    for pos in range(14, 5, -1):
        out[:, pos] = _BASE62[rest % 62]
        rest //= 62
    upper = ((out[:, :15] >= 65) & (out[:, :15] <= 90)).reshape(n, 3, 5).astype(np.int64)
    bits = upper @ (1 << np.arange(5))
    out[:, 15:] = _CHECKSUM[bits]
    return _as_text(out)


def numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    """Auto-numbers such as `TC-0001234`: a fixed prefix and zero-padded decimal digits."""
    numbers = np.asarray(numbers, dtype=np.int64)
    head = prefix.encode()
    out = np.empty((len(numbers), len(head) + width), dtype=np.uint8)
    out[:, : len(head)] = np.frombuffer(head, dtype=np.uint8)
    rest = numbers.copy()
    for pos in range(len(head) + width - 1, len(head) - 1, -1):
        out[:, pos] = 48 + rest % 10
        rest //= 10
    return _as_text(out)


def key_base(rng: np.random.Generator) -> int:
    """A random starting record number, so different seeds give different ids."""
    return int(rng.integers(20_000_000, 90_000_000))


# Salesforce key prefixes: standard objects use their real prefixes, Certinia objects made-up ones.
PREFIXES = {
    "account": "001",
    "contact": "003",
    "opportunity": "006",
    "project": "a2P",
    "assignment": "a2A",
    "schedule": "a2S",
    "timecard": "a2T",
    "milestone": "a2M",
}


def spare_count(count: int) -> int:
    """How many unused ids to keep after an object's records (for injected defects)."""
    return 16 + count // 1000


def record_ids(seed: int, counts: dict[str, int]) -> dict[str, np.ndarray]:
    """Salesforce ids for every record of each object, indexed by the internal row number.

    Each object gets spare ids after its last record: no record uses them, so a defect can take
    them for a duplicated row or for a well-formed reference to nothing.
    """
    rng = rng_for(seed, "record-ids")
    return {
        name: sf_ids(PREFIXES[name], key_base(rng) + np.arange(n + spare_count(n)))
        for name, n in sorted(counts.items())
    }
