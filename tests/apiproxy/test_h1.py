"""The upstream client's HTTP/1.1 framing, by replaying bytes (upstream/h1.py)."""

from __future__ import annotations

import pytest

from airlock.upstream.h1 import ResponseReader, UpstreamProtocolError, request_head, target_of

LENGTH = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
          b'{"data":{}}')
CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")


def _replay(data: bytes, step: int, **kwargs: bool) -> tuple[ResponseReader, bytes]:
    reader = ResponseReader(**kwargs)
    body = b""
    for at in range(0, len(data), step):
        reader.feed(data[at:at + step])
        body += reader.take()
    return reader, body


@pytest.mark.parametrize("step", [1, 2, 7, 1000])
def test_content_length_and_chunked_answers_whatever_the_packets(step: int) -> None:
    reader, body = _replay(LENGTH, step)
    assert reader.head is not None and reader.head.status == 200
    assert reader.head.content_length == 11 and body == b'{"data":{}}'
    assert reader.complete and reader.reusable
    assert ("Content-Type", "application/json") in reader.head.headers

    reader, body = _replay(CHUNKED, step)
    assert reader.head is not None and reader.head.content_length is None
    assert body == b"hello world" and reader.complete and reader.reusable


def test_a_body_without_length_ends_with_the_connection_which_is_not_kept() -> None:
    reader, body = _replay(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nsome text", 5)
    assert not reader.complete and body == b"some text"
    reader.eof()
    assert (reader.complete, reader.reusable) == (True, False)


def test_a_connection_that_ends_early_is_an_error_not_a_short_answer() -> None:
    reader, _ = _replay(LENGTH[:-3], 100)
    with pytest.raises(UpstreamProtocolError, match="middle of its body"):
        reader.eof()
    with pytest.raises(UpstreamProtocolError, match="before its headers"):
        ResponseReader().eof()


def test_a_head_answer_is_complete_at_its_headers_and_its_connection_not_reused() -> None:
    reader, body = _replay(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n", 4,
                           head_request=True)
    assert reader.complete and body == b"" and not reader.reusable
    assert reader.head is not None and reader.head.content_length == 500


def test_informational_answers_are_skipped_and_close_is_honoured() -> None:
    data = (b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
            b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno")
    reader, body = _replay(data, 3)
    assert reader.head is not None and (reader.head.status, reader.head.reason) == (404, "Not Found")
    assert ("Link", "</a.css>") not in reader.head.headers and body == b"no"
    assert reader.complete and not reader.reusable  # the upstream said it closes


def test_no_body_for_204_and_bytes_after_an_answer_spoil_the_connection() -> None:
    reader, _ = _replay(b"HTTP/1.1 204 No Content\r\n\r\n", 100)
    assert reader.complete and reader.reusable
    reader.feed(b"HTTP/1.1 200 OK\r\n")  # nobody asked: never reuse a connection out of step
    assert not reader.reusable


@pytest.mark.parametrize("garbage", [b"SSH-2.0-OpenSSH_9.6\r\n", b"HTTP/1.1 abc OK\r\n\r\n",
                                     b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"])
def test_bytes_that_are_not_http_are_an_error(garbage: bytes) -> None:
    with pytest.raises(UpstreamProtocolError, match="not valid HTTP"):
        ResponseReader().feed(garbage)


def test_an_upgrade_nobody_asked_for_is_an_error() -> None:
    with pytest.raises(UpstreamProtocolError, match="switched protocols"):
        ResponseReader().feed(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                              b"Connection: Upgrade\r\n\r\nxx")


def test_the_request_head_names_host_and_refuses_line_breaks() -> None:
    target = target_of("https://api.example.com/graphql/v2?x=1%202")
    assert (target.scheme, target.host, target.port, target.authority) == \
        ("https", "api.example.com", 443, "api.example.com")
    head = request_head("POST", target, [("Authorization", "Bearer t"), ("X-A", "b")])
    assert head == (b"POST /graphql/v2?x=1%202 HTTP/1.1\r\nHost: api.example.com\r\n"
                    b"Authorization: Bearer t\r\nX-A: b\r\n\r\n")
    assert target_of("http://127.0.0.1:8080").authority == "127.0.0.1:8080"
    assert target_of("http://[::1]:81/").authority == "[::1]:81"
    for bad in [("X-A", "b\r\nX-Injected: 1"), ("X-A", "b\nc"), ("X-A\r", "b"), ("X-A", "b\x00")]:
        with pytest.raises(UpstreamProtocolError, match="line break"):
            request_head("GET", target, [bad])
    with pytest.raises(UpstreamProtocolError, match="line break"):
        request_head("GET", target_of("http://h/a b"), [])
    with pytest.raises(UpstreamProtocolError, match="Latin-1"):
        request_head("GET", target, [("X-A", "snow ☃")])
    for url in ("ftp://h/", "http:///x", "http://h:99999/"):
        with pytest.raises(UpstreamProtocolError):
            target_of(url)
