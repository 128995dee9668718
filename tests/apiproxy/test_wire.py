"""The proxy's wire rules without I/O: the judged action, answers, and scrubbing."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from airlock.fronts.apiproxy.wire import (
    BodyRefused,
    Scrubber,
    action_request,
    body_decoder,
    error_answer,
    response_headers,
    secret_forms,
)
from airlock.upstream.http import BODY_NOT_KEPT

SECRET = "tok/en+with=odd chars"


@pytest.mark.parametrize("cut", range(1, 40))
def test_a_secret_split_across_chunks_is_masked_and_lengths_hold(cut: int) -> None:
    data = f'{{"echo": "Bearer {SECRET}", "again": "{json.dumps(SECRET)[1:-1]}"}}'.encode()
    scrubber = Scrubber(secret_forms([SECRET]))
    out = scrubber.feed(data[:cut]) + scrubber.feed(data[cut:]) + scrubber.close()
    assert SECRET.encode() not in out and len(out) == len(data)


def test_short_values_are_not_masked_and_headers_are_cleaned() -> None:
    assert secret_forms(["abc"]) == []
    scrubber = Scrubber(secret_forms([SECRET]))
    headers = response_headers(
        [("Location", f"http://up:1/api/x?t={SECRET}"), ("Set-Cookie", "s=1"),
         ("Connection", "close"), ("Content-Length", "10"), ("Content-Encoding", "gzip")],
        scrubber, forward_base="http://up:1/api", local_base="http://127.0.0.1:8378/k8s",
        decoded=True)
    assert headers == [("Location", "http://127.0.0.1:8378/k8s/x?t=" + "*" * len(SECRET))]


def test_the_judged_action_leaves_out_credentials_and_volatile_headers() -> None:
    request = action_request("post", "https://backboard.railway.app/graphql/v2",
                             [("Authorization", "Bearer alk_x"), ("User-Agent", "curl/8"),
                              ("amz-sdk-invocation-id", "1"), ("Content-Type", "application/json")],
                             b'{"query": "{ me { id } }"}', 25, "h")
    assert request.method == "POST" and request.headers == (("Content-Type", "application/json"),)
    assert request.body == '{"query": "{ me { id } }"}'


def test_large_or_binary_bodies_are_named_by_size_and_hash_and_large_forms_refused() -> None:
    binary = action_request("PUT", "https://s3.us-east-1.amazonaws.com/b/k", [], b"\xff\xfe", 2,
                            "abc")
    assert binary.body == f"{BODY_NOT_KEPT} (2 bytes, sha256 abc)"
    large = action_request("PUT", "https://s3.us-east-1.amazonaws.com/b/k", [], None,
                           10 * 1024 * 1024, "def")
    assert large.body is not None and "10485760 bytes" in large.body
    with pytest.raises(BodyRefused):
        action_request("POST", "http://x/", [("Content-Type", "application/x-www-form-urlencoded")],
                       None, 10 * 1024 * 1024, "h")


def test_aws_callers_get_errors_their_sdk_parses() -> None:
    s3 = error_answer(403, "SignatureDoesNotMatch", "bad <sig>", style="aws-s3")
    assert s3.body.startswith(b'<?xml') and b"<Error><Code>SignatureDoesNotMatch</Code>" in s3.body
    assert b"bad &lt;sig&gt;" in s3.body
    query = error_answer(409, "AirlockHeld", "held", style="aws-query")
    assert b"<ErrorResponse><Error><Type>Sender</Type><Code>AirlockHeld</Code>" in query.body
    as_json = json.loads(error_answer(409, "AirlockHeld", "held", style="aws-json").body)
    assert as_json["__type"] == "AirlockHeld"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "zstd", "identity", ""])
def test_encoded_answers_are_decoded_piece_by_piece_for_the_scrubber(encoding: str) -> None:
    import gzip
    import zlib

    import zstandard

    plain = json.dumps({"echo": SECRET, "filler": "y" * 50_000}).encode()
    packed = {"gzip": gzip.compress(plain), "deflate": zlib.compress(plain),
              "deflate-raw": _raw_deflate(plain),
              "zstd": zstandard.ZstdCompressor().compress(plain)}.get(encoding, plain)
    decoder = body_decoder(encoding.replace("-raw", ""))
    assert decoder is not None
    out = b"".join(piece for at in range(0, len(packed), 999)
                   for piece in decoder.feed(packed[at:at + 999])) + b"".join(decoder.flush())
    assert out == plain
    assert decoder.decodes is (encoding not in ("", "identity"))


def test_encodings_airlock_cannot_read_are_refused() -> None:
    assert body_decoder("br") is None and body_decoder("gzip, br") is None
    assert body_decoder("compress") is None


def _raw_deflate(data: bytes) -> bytes:
    import zlib

    packer = zlib.compressobj(wbits=-zlib.MAX_WBITS)  # no zlib header, as some servers send
    return packer.compress(data) + packer.flush()


# ---- decompression bombs ---------------------------------------------------------------------

def _bomb(encoding: str, size: int) -> bytes:
    """`size` zero bytes, as compressed as the encoding makes them."""
    import gzip
    import zlib

    import zstandard

    zeros = bytes(size)
    if encoding == "gzip":
        return gzip.compress(zeros, 9)
    if encoding == "deflate":
        return zlib.compress(zeros, 9)
    if encoding == "deflate-raw":
        return _raw_deflate(zeros)
    return zstandard.ZstdCompressor(level=19).compress(zeros)


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "deflate-raw", "zstd"])
def test_a_bomb_is_decoded_in_bounded_steps_and_memory(encoding: str) -> None:
    import tracemalloc

    packed = _bomb(encoding, 256 * 1024 * 1024)  # 256 MiB of zeros in a few hundred KB
    assert len(packed) < 400_000
    # Limits off (as high as they go): each step stays small and nothing piles up.
    decoder = body_decoder(encoding.replace("-raw", ""), max_bytes=1 << 40, max_ratio=1 << 40)
    assert decoder is not None
    largest = total = 0
    tracemalloc.start()
    try:
        for at in range(0, len(packed), 65536):  # upstream chunks
            for piece in decoder.feed(packed[at:at + 65536]):
                largest, total = max(largest, len(piece)), total + len(piece)
        for piece in decoder.flush():
            largest, total = max(largest, len(piece)), total + len(piece)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == 256 * 1024 * 1024
    assert largest <= 1024 * 1024  # one step: at most 1 MiB, whatever one chunk decodes to
    assert peak < 4 * 1024 * 1024  # where decoding a chunk whole took up to 256 MiB


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_a_bomb_is_refused_early_by_its_ratio(encoding: str) -> None:
    from airlock.fronts.apiproxy.wire import RATIO_FLOOR, DecodingRefused

    decoder = body_decoder(encoding)  # defaults: 512 MiB, 1000x
    assert decoder is not None
    packed = _bomb(encoding, 64 * 1024 * 1024)
    with pytest.raises(DecodingRefused, match="decompression bomb"):
        list(decoder.feed(packed))
    assert decoder.decoded <= RATIO_FLOOR + 1024 * 1024  # found within the first MiBs


def test_an_answer_over_the_decoded_limit_is_refused() -> None:
    import gzip
    import os

    from airlock.fronts.apiproxy.wire import DecodingRefused

    plain = os.urandom(1024 * 1024).hex().encode()  # 2 MiB, compresses about 2:1
    decoder = body_decoder("gzip", max_bytes=1024 * 1024)
    assert decoder is not None
    with pytest.raises(DecodingRefused, match="more than 1 MiB"):
        list(decoder.feed(gzip.compress(plain)))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_normal_compressed_answers_pass_whole_under_the_limits(encoding: str) -> None:
    import gzip
    import zlib

    import zstandard

    plain = json.dumps([{"id": n, "name": f"pod-{n}", "status": "Running"}
                        for n in range(100_000)]).encode()  # ~5 MiB of repetitive JSON
    pack: dict[str, Callable[[bytes], bytes]] = {
        "gzip": gzip.compress, "deflate": zlib.compress,
        "zstd": zstandard.ZstdCompressor().compress}
    packed = pack[encoding](plain)
    decoder = body_decoder(encoding)
    assert decoder is not None
    out = b"".join(piece for at in range(0, len(packed), 16384)
                   for piece in decoder.feed(packed[at:at + 16384]))
    assert out + b"".join(decoder.flush()) == plain


def test_a_zstd_frame_asking_for_a_huge_window_is_refused() -> None:
    import zstandard

    from airlock.fronts.apiproxy.wire import DecodingRefused

    params = zstandard.ZstdCompressionParameters.from_level(19, window_log=27)
    packed = zstandard.ZstdCompressor(compression_params=params).compress(bytes(64 << 20))
    decoder = body_decoder("zstd", max_bytes=1 << 40, max_ratio=1 << 40)
    assert decoder is not None
    with pytest.raises(DecodingRefused, match=r"the zstd answer does not decode \(ZstdError"):
        list(decoder.feed(packed))


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "zstd"])
def test_a_corrupt_answer_is_refused_by_name(encoding: str) -> None:
    from airlock.fronts.apiproxy.wire import DecodingRefused

    decoder = body_decoder(encoding)
    assert decoder is not None
    with pytest.raises(DecodingRefused, match=f"the {encoding} answer does not decode"):
        list(decoder.feed(b"\x1f\x8b\x08\x00 this is not compressed at all" * 3))
