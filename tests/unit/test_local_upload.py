"""The local streaming edge (local/upload.py, local/wsgi.py) asks the app which view a request reaches and
what that view declares (``@needs``, ``@accepts_staged``), instead of matching the URL itself."""
from __future__ import annotations

from app import app
from chalicelib.api import messages
from chalicelib.domain.access import Level, Scope, required
from chalicelib.domain.errors import BadRequest, PayloadTooLarge
from chalicelib.edge import staging
from chalicelib.wiring.settings import Settings
from local import upload
from local.wsgi import ChaliceWSGI

BINARY = {"CONTENT_TYPE": "application/octet-stream"}


def test_the_view_a_request_reaches_comes_from_the_apps_own_routes() -> None:
    edge = ChaliceWSGI(app)
    for path in ("/actors/a1/messages", "/v3/actors/a1/messages/", "/actors/a%2Fb/messages?x=1"):
        view, params = edge._route("POST", path)
        assert view is messages.send_message, path
        assert params["actor_id"] in ("a1", "a/b")
    assert edge._route("GET", "/actors/a1/messages")[0] is messages.get_messages
    assert edge._route("POST", "/actors/a1/nothing-here") == (None, {})


def test_only_a_view_that_takes_a_staged_body_is_streamed_and_its_requirement_is_its_own() -> None:
    assert staging.accepts(messages.send_message) and not staging.accepts(messages.get_messages)
    assert required(messages.send_message) == (Scope.ACTOR, Level.EXECUTE)
    big = upload.STREAM_MIN_BYTES + 1
    assert upload.wants_streaming(messages.send_message, BINARY, big)
    assert not upload.wants_streaming(messages.send_message, BINARY, upload.STREAM_MIN_BYTES)
    assert not upload.wants_streaming(messages.get_messages, BINARY, big)
    assert not upload.wants_streaming(None, BINARY, big)


def test_an_oversized_binary_message_gets_abacos_400_and_any_other_body_the_413() -> None:
    settings = Settings(max_content_length=2048, max_body_bytes=1024)
    refused = upload.refuse_early(messages.send_message, BINARY, 2049, settings)
    assert isinstance(refused, BadRequest) and "max content length of: 2048" in str(refused)
    assert upload.refuse_early(messages.send_message, BINARY, 2048, settings) is None
    other = upload.refuse_early(None, {"CONTENT_TYPE": "application/json"}, 1025, settings)
    assert isinstance(other, PayloadTooLarge)
