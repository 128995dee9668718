"""Benchmark: the API proxy's bounded decoding of compressed answers (fronts/apiproxy/wire.py).

    .venv/bin/python bench/bench_decode.py

A compressed answer is decoded for the scrubber a bounded step at a time (`BodyDecoder`), so a
decompression bomb cannot take airlock's memory. Two questions, each against a baseline measured
in the same run — the old way, each upstream chunk decoded whole by the codec's own
`decompressobj`:
- what the steps cost on a normal answer (~5 MiB of JSON in 64 KiB chunks): time ratio;
- what a bomb costs in memory (256 MiB of zeros): tracemalloc peak while decoding, each piece
  dropped as soon as it is out (as the proxy sends it on).
"""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import Callable, Iterator

import zstandard

from airlock.fronts.apiproxy.wire import body_decoder
from common import Timing, ratio, time_each

CHUNK = 64 * 1024
PLAIN = json.dumps([{"id": n, "name": f"pod-{n}", "namespace": "shop", "status": "Running",
                     "node": f"node-{n % 17}"} for n in range(80_000)]).encode()
BOMB = bytes(256 * 1024 * 1024)
PACK: dict[str, Callable[[bytes], bytes]] = {
    "gzip": lambda data: gzip.compress(data, 6),
    "deflate": lambda data: zlib.compress(data, 6),
    "zstd": lambda data: zstandard.ZstdCompressor(level=3).compress(data),
}


def whole_chunks(encoding: str, packed: bytes) -> Iterator[bytes]:
    """The baseline: every chunk decoded whole (what the proxy did before)."""
    if encoding == "zstd":
        zstd = zstandard.ZstdDecompressor().decompressobj()
        for at in range(0, len(packed), CHUNK):
            yield zstd.decompress(packed[at:at + CHUNK])
        return
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding == "gzip" else zlib.MAX_WBITS)
    for at in range(0, len(packed), CHUNK):
        yield inflate.decompress(packed[at:at + CHUNK])
    yield inflate.flush()


def stepped(encoding: str, packed: bytes) -> Iterator[bytes]:
    decoder = body_decoder(encoding, max_bytes=1 << 40, max_ratio=1 << 40)
    assert decoder is not None
    for at in range(0, len(packed), CHUNK):
        yield from decoder.feed(packed[at:at + CHUNK])
    yield from decoder.flush()


def drained(pieces: Iterator[bytes]) -> int:
    return sum(len(piece) for piece in pieces)


def peak_of(pieces: Iterator[bytes]) -> tuple[int, int]:
    tracemalloc.start()
    try:
        size = drained(pieces)
        return size, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    print(f"normal answer: {len(PLAIN) / 2**20:.1f} MiB of JSON in {CHUNK // 1024} KiB chunks; "
          f"bomb: {len(BOMB) // 2**20} MiB of zeros")
    for encoding, pack in PACK.items():
        packed = pack(PLAIN)
        assert drained(stepped(encoding, packed)) == len(PLAIN)
        base = time_each("whole chunks", [(encoding, packed)] * 10,
                         lambda job: drained(whole_chunks(*job)))
        ours = time_each("bounded steps", [(encoding, packed)] * 10,
                         lambda job: drained(stepped(*job)))
        print(f"{encoding:<8} {_mib_s(ours, len(PLAIN))}  vs  {_mib_s(base, len(PLAIN))}   "
              f"{ratio(ours, base)}")
    for encoding, pack in (("gzip", lambda d: gzip.compress(d, 9)),
                           ("deflate", lambda d: zlib.compress(d, 9)),
                           ("zstd", lambda d: zstandard.ZstdCompressor(level=19).compress(d))):
        packed = pack(BOMB)
        size, peak = peak_of(stepped(encoding, packed))
        base_size, base_peak = peak_of(whole_chunks(encoding, packed))
        assert size == base_size == len(BOMB)
        print(f"{encoding:<8} bomb of {len(packed) // 1024} KiB: peak {peak / 2**20:6.2f} MiB "
              f"bounded vs {base_peak / 2**20:7.2f} MiB whole chunks "
              f"(×{base_peak / peak:.0f} less)")


def _mib_s(timing: Timing, size: int) -> str:
    return f"{timing.name} {size / 2**20 / (timing.percentile(50) / 1e3):7.0f} MiB/s p50"


if __name__ == "__main__":
    main()
