"""Every named endpoint answers hostile arguments with the project's own one-line message.

Each parameter of each endpoint (as the app publishes them) gets wrong types, numbers beyond
SQLite, negatives, None, nesting 200 deep and non-mappings, the others kept at values that are
refused too, so nothing is queued or changed. The answer is either a result or an AppError whose
message is ours: one line, no Python exception text, no server path.
"""

from __future__ import annotations

import struct
import zlib

import pytest

pytestmark = pytest.mark.xdist_group("gui")


def nested(depth: int, make) -> object:
    value: object = 1
    for _ in range(depth):
        value = make(value)
    return value


HOSTILE = [
    10**30,
    -1,
    None,
    "abc",
    "nan",
    1.5,
    True,
    [1, 2],
    {"a": 1},
    nested(200, lambda v: {"a": v}),  # as deep as gradio_client can send
    nested(200, lambda v: [v]),
]
# Python's texts (and Gradio's / pydantic's) that must never reach a client.
FOREIGN = (
    "Traceback",
    "invalid literal",
    "Python int too large",
    "dictionary update sequence",
    "RecursionError",
    "is not iterable",
    "validation error",
    "Error binding parameter",
    "argument must be",
    "NoneType",
    "could not convert",
    "Could not preprocess",
    "/tmp/",
    "gradio_api",
)


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width x height pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def baselines(tmp_path_factory) -> dict[str, list]:
    """Per endpoint, arguments that are refused as a whole (so no call queues or changes
    anything), whichever single one is replaced."""
    from gradio_client import handle_file

    text = tmp_path_factory.mktemp("files") / "notes.png"
    text.write_text("not a picture")
    return {
        "/generate_dataset": ["bad name!", "shapes", -5, 64, "easy", 0],
        "/start_search": ["no-such-dataset", "random", 1.0, {"bogus": 1}],
        "/start_detector_search": ["no-such-dataset", 1.0, {"bogus": 1}],
        "/start_train": ["no-such-dataset", "no-such-preset", "", {"bogus": 1}],
        "/predict": ["no-such-model", [handle_file(str(text))], 0.3],
        "/cancel_job": [999_999],
        "/resume_job": [999_999],
        "/delete_job": [999_999],
        "/job_status": [999_999],
        "/list_jobs": ["", "", 5],
        "/list_datasets": [],
        "/list_models": [],
    }


def answer(client, endpoint: str, args: list) -> str:
    from gradio_client.exceptions import AppError

    try:
        return f"ok: {client.predict(*args, api_name=endpoint)!r}"[:200]
    except AppError as exc:
        return str(exc)


def assert_ours(message: str, where: str) -> None:
    assert message.strip(), where
    assert "\n" not in message.strip(), f"{where}: more than one line: {message!r}"
    for text in FOREIGN:
        assert text not in message, f"{where}: {text!r} in {message!r}"


def test_every_named_endpoint_has_a_baseline(client, baselines):
    published = set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])
    assert published == set(baselines), "a new endpoint needs its baseline here"


def test_hostile_arguments_get_the_projects_own_message(client, baselines):
    for endpoint, args in baselines.items():
        assert_ours(answer(client, endpoint, args), endpoint)
        for i in range(len(args)):
            for value in HOSTILE:
                tried = [*args[:i], value, *args[i + 1 :]]
                shown = str(value) if len(str(value)) < 30 else f"{str(value)[:20]}..."
                assert_ours(answer(client, endpoint, tried), f"{endpoint} arg {i}={shown}")


def test_specific_words_for_common_mistakes(client):
    cases = [
        ("/job_status", ["abc"], "job_status: job_id='abc': must be a whole number"),
        ("/job_status", [10**30], "must be between"),
        ("/cancel_job", [10**30], "must be between"),
        ("/start_search", ["shapes-demo", "random", 1.0, "abc"], "must be a JSON object"),
        ("/start_search", ["shapes-demo", "random", 1.0, 5], "must be a JSON object"),
        ("/start_train", ["shapes-demo", "quick-cpu", "", [1, 2]], "must be a JSON object"),
        (
            "/start_train",
            ["shapes-demo", "quick-cpu", "", nested(200, lambda v: {"a": v})],
            "nested deeper than 32 levels",
        ),
        ("/list_jobs", ["", "", "abc"], "list_jobs: limit='abc': must be a whole number"),
    ]
    for endpoint, args, words in cases:
        assert words in answer(client, endpoint, args), (endpoint, args)


def test_predict_refuses_a_file_that_is_not_an_image_or_too_large(client, tmp_path):
    from gradio_client import handle_file

    text, huge = tmp_path / "notes.png", tmp_path / "huge.png"
    text.write_text("not a picture")
    huge.write_bytes(png_declaring(30000, 30000))
    said = answer(client, "/predict", ["no-such-model", [handle_file(str(text))], 0.3])
    assert said.startswith("notes.png: not an image"), said
    said = answer(client, "/predict", ["no-such-model", [handle_file(str(huge))], 0.3])
    assert said.startswith("huge.png: too large: 30000 x 30000, limit 64 megapixels"), said
    said = answer(client, "/predict", ["no-such-model", [{"path": "/etc/hostname"}], 0.3])
    assert "must be uploaded files" in said, said  # a bare server path is never read


def post_raw(url: str, body: bytes) -> tuple[int, str]:
    """POST `body` as JSON straight to the app (no gradio_client), as any HTTP client can."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_a_raw_body_nested_3000_deep_gets_the_projects_message(gui_app):
    import json

    deep_object = b'{"a":' * 3000 + b"1" + b"}" * 3000
    deep_list = b"[" * 3000 + b"]" * 3000
    for endpoint, data in [
        ("start_train", b'["shapes-demo", "quick-cpu", "", ' + deep_object + b"]"),
        ("job_status", b"[" + deep_list + b"]"),
    ]:
        status, text = post_raw(
            f"{gui_app.url}gradio_api/call/{endpoint}", b'{"data": ' + data + b"}"
        )
        assert status == 400, (endpoint, status, text[:200])
        message = json.loads(text)["detail"]
        assert message.startswith("the request's JSON is nested deeper than 256 levels"), message
        assert_ours(message, endpoint)


def test_a_raw_body_within_the_limit_reaches_the_arguments_own_check(gui_app):
    import json
    import urllib.request

    options = b'{"a":' * 200 + b"1" + b"}" * 200
    body = b'{"data": ["shapes-demo", "quick-cpu", "", ' + options + b"]}"
    status, text = post_raw(f"{gui_app.url}gradio_api/call/start_train", body)
    assert status == 200, text[:200]
    event = json.loads(text)["event_id"]
    with urllib.request.urlopen(f"{gui_app.url}gradio_api/call/start_train/{event}") as stream:
        said = stream.read().decode()
    assert "event: error" in said and "nested deeper than 32 levels" in said, said[:300]
