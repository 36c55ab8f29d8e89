"""What the fake model server answers with: replies, and the Responses API events in them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal

#: Token usage reported with every completed response (visible in rollouts).
USAGE = {
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 0},
    "output_tokens": 80,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 1280,
}

Event = dict[str, Any]


@dataclass(frozen=True)
class Stream:
    """An HTTP 200 event stream.

    ``events`` are ``(delay_seconds, event)`` pairs; each event is sent after
    its delay. ``then`` says how the stream ends: ``end`` closes it normally,
    ``close`` drops the connection without ``response.completed``, ``hang``
    keeps the connection open and sends nothing more.
    """

    events: tuple[tuple[float, Event], ...]
    then: Literal["end", "close", "hang"] = "end"


@dataclass(frozen=True)
class HttpError:
    """A plain HTTP error answer with an OpenAI-style JSON error body."""

    status: int
    message: str
    code: str = "server_error"


@dataclass(frozen=True)
class NoHeaders:
    """Accept the request and never answer, not even with headers."""


Reply = Stream | HttpError | NoHeaders


@dataclass(frozen=True)
class Request:
    """What a scenario may look at: the step and the latest user text."""

    step: int
    user_text: str
    body: dict[str, Any] = field(repr=False)


# --------------------------------------------------------------------------
# Building blocks: the Responses API events Codex reads.


def created(rid: str) -> Event:
    return {"type": "response.created", "response": {"id": rid}}


def completed(rid: str) -> Event:
    return {"type": "response.completed", "response": {"id": rid, "usage": USAGE}}


def message_done(item_id: str, text: str) -> Event:
    return {
        "type": "response.output_item.done",
        "item": {
            "type": "message",
            "role": "assistant",
            "id": item_id,
            "content": [{"type": "output_text", "text": text}],
        },
    }


def message_added(item_id: str) -> Event:
    return {
        "type": "response.output_item.added",
        "item": {"type": "message", "role": "assistant", "id": item_id, "content": []},
    }


def text_delta(item_id: str, delta: str) -> Event:
    return {
        "type": "response.output_text.delta",
        "item_id": item_id,
        "output_index": 0,
        "content_index": 0,
        "delta": delta,
    }


def function_call(call_id: str, name: str, arguments: dict[str, Any]) -> Event:
    return {
        "type": "response.output_item.done",
        "item": {
            "type": "function_call",
            "id": f"fc-{call_id}",
            "call_id": call_id,
            "name": name,
            "arguments": json.dumps(arguments),
        },
    }


def answer(rid: str, text: str) -> Stream:
    """A whole turn that ends with one assistant message."""
    return Stream(
        ((0.0, created(rid)), (0.0, message_done(f"msg-{rid}", text)), (0.0, completed(rid)))
    )


def call(rid: str, name: str, arguments: dict[str, Any]) -> Stream:
    """A turn that asks Codex to run one tool."""
    return Stream(
        (
            (0.0, created(rid)),
            (0.0, function_call(f"call-{rid}", name, arguments)),
            (0.0, completed(rid)),
        )
    )
