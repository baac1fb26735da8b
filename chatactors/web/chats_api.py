"""REST routes of the contract, in its order, plus the extensions documented in docs/API.md."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
import trio
from quart import Blueprint, Response

from chatactors.actors.reply import Reply
from chatactors.domain.clock import format_timestamp
from chatactors.domain.errors import Forbidden, InvalidInput, OutcomeUnknown
from chatactors.domain.ids import MessageId, UserId
from chatactors.domain.models import Message
from chatactors.domain.rules import Limits
from chatactors.storage.store import MessagePage
from chatactors.web import media_references
from chatactors.web.answers import answer_by, command_deadline, new_deadline
from chatactors.web.auth import authenticated_user
from chatactors.web.operations import operation
from chatactors.web.route_inputs import acting_user, request_body, request_query, user_of, viewer_of
from chatactors.web.services import Services, services
from chatactors.web.wire import (
    ChatInfoOut,
    ChatListItemOut,
    ChatsQuery,
    CreateChatBody,
    CreatedChatOut,
    EditMessageBody,
    MessageChangedOut,
    MessageOut,
    MessageSentOut,
    MessagesQuery,
    PostMessageBody,
    PresenceBody,
    PresenceOut,
    PresenceSetOut,
    ReactionBody,
    ReadBody,
    ReadOut,
    ReadReceiptsOut,
    UserQuery,
    json_response,
)
from chatactors.web.wire_out import (
    chat_info_to_wire,
    chat_to_wire,
    message_to_wire,
    presence_to_wire,
)

blueprint = Blueprint("chats", __name__)
#: The one Content-Type of every answer here.
JSON = "application/json"

# What the refusals of these routes mean, for the OpenAPI document (web/operations.py).
NO_CHAT = "No such chat."
NO_MESSAGE = "No such chat, or no such message in it."
NOT_IN_CHAT = (
    "The user is not a participant of the chat (or, with access control, a user_id that is "
    "not the signed-in user's)."
)
NOT_THE_AUTHOR = f"{NOT_IN_CHAT} Or not the message's author."
DELETED = "The message is deleted."
RATE_LIMITED = "Over the send rate limit (with access control): retry after Retry-After."
OUTCOME_UNKNOWN = "The change was sent to the store but not confirmed: it may have happened."
CHANGE = {429: RATE_LIMITED, 504: OUTCOME_UNKNOWN}


@blueprint.post("/chats")
@operation(
    CreatedChatOut,
    "The new chat",
    body=CreateChatBody,
    answers={
        403: "With access control: a chat the signed-in user is not in.",
        422: "The body is not valid (or user_id is not one of the participants).",
        504: "The chat was sent to the store but not confirmed: it may exist.",
    },
)
async def create_chat() -> Response:
    data = await request_body(CreateChatBody)
    creator = authenticated_user()
    if creator is not None and creator not in data.participants:
        raise Forbidden("You can only create chats you take part in")
    if data.user_id is not None:
        creator = user_of(data.user_id)
        if creator not in data.participants:
            raise InvalidInput("user_id (the chat's creator) must be one of its participants")
    chat = await services().registry.create_chat(
        data.participants, title=data.title, group=data.group, created_by=creator
    )
    # The reference echoes the participants as sent (without bot_user).
    created = chat_to_wire(chat)
    del created["created_at"]  # (not in the reference's answer)
    return json_response({**created, "participants": data.participants})


@blueprint.get("/chats")
@operation(
    list[ChatListItemOut],
    "Every chat, oldest first; with ?user_id=, that user's chats, newest activity first",
    query=ChatsQuery,
    answers={403: "With access control: ?user_id= names someone else."},
)
async def list_chats() -> Response:
    registry = services().registry
    user_id = request_query(ChatsQuery).user_id or authenticated_user()
    if user_id is None:
        return json_response([chat_to_wire(chat) for chat in await registry.list_chats()])
    summaries = await registry.list_user_chats(user_of(user_id))
    return json_response(
        [
            {
                **chat_to_wire(s.chat),
                "last_message": message_to_wire(s.last_message) if s.last_message else None,
                "unread_count": s.unread_count,
                "last_activity": format_timestamp(s.last_activity),
                "unread_mentions": s.unread_mentions,
            }
            for s in summaries
        ]
    )


@blueprint.get("/chats/<chat_id>")
@operation(ChatInfoOut, query=UserQuery, answers={403: NOT_IN_CHAT, 404: NO_CHAT})
async def get_chat(chat_id: str) -> Response:
    viewer = viewer_of(request_query(UserQuery).user_id)
    with command_deadline():
        info = await services().registry.chat(chat_id).info(viewer)
    return json_response(chat_info_to_wire(info))


@blueprint.get("/chats/<chat_id>/messages")
@operation(
    list[MessageOut],
    "The messages, oldest first (a page of them with limit, before_seq, after_seq)",
    query=MessagesQuery,
    answers={403: NOT_IN_CHAT, 404: NO_CHAT},
)
async def list_messages(chat_id: str) -> Response:
    query = request_query(MessagesQuery)
    viewer = viewer_of(query.user_id)
    running = services()
    with command_deadline():
        page = await read_page(running, chat_id, query, viewer)
    return Response(page, content_type=JSON)


async def read_page(
    running: Services, chat_id: str, query: MessagesQuery, viewer: UserId | None
) -> bytes:
    """A page of messages, encoded (each message's JSON embedded as it was encoded once)."""
    page = message_page(query, running.settings.max_history_page)
    messages = await running.registry.chat(chat_id).messages(page, viewer)
    return orjson.dumps([message_to_wire(m) for m in messages])


def message_page(query: MessagesQuery, cap: int) -> MessagePage:
    """The page ``query`` asks for: ``limit`` is 1 to ``cap`` (by default ``cap``)."""
    limit = cap if query.limit is None else query.limit
    if not 1 <= limit <= cap:
        raise InvalidInput(f"limit must be between 1 and {cap}")
    return MessagePage(limit, query.before_seq, query.after_seq)


@blueprint.post("/chats/<chat_id>/messages")
@operation(
    MessageSentOut,
    "The message as stored (the first one, for a retry with its client_message_id)",
    body=PostMessageBody,
    answers={
        403: NOT_IN_CHAT,
        404: NO_CHAT,
        422: (
            "The body is not valid, reply_to names no message of this chat, or the content "
            "is a URL of this server's /media/ that names no upload."
        ),
        **CHANGE,
    },
)
async def send_message(chat_id: str) -> Response:
    data = await request_body(PostMessageBody)
    running = services()
    check_client_message_id(data, running.settings.limits)
    user_id = user_of(data.user_id)
    await running.charge_send(user_id)
    deadline = new_deadline()
    with command_deadline(deadline):
        await media_references.check_content_references(data.content, running.media)
        started = trio.current_time()
        reply_to = None if data.reply_to is None else MessageId(data.reply_to)
        reply = await running.registry.chat(chat_id).queue_post(
            user_id, data.type, data.content, data.client_message_id, reply_to
        )
    unknown = OutcomeUnknown.send_detail(data.client_message_id)
    message = await answer_by(reply, deadline, unknown=unknown)
    running.metrics.send_latency.observe(trio.current_time() - started)
    sent = {"status": "message_sent", "message": message_to_wire(message)}
    return Response(orjson.dumps(sent), content_type=JSON)


def check_client_message_id(data: PostMessageBody, limits: Limits) -> None:
    client_message_id = data.client_message_id
    if client_message_id is not None and not 1 <= len(client_message_id) <= limits.max_id_length:
        raise InvalidInput(f"client_message_id must be 1 to {limits.max_id_length} characters")


# -- changes to a message: each answers the message in its new state -------------------------
# 404 unknown chat or message, 403 not a participant (or not the author, for an edit or a
# delete), 409 the message is deleted, 422 bad input. Each is safe to retry: an edit to the same
# text, a delete and a reaction (set semantics) change nothing the second time.


async def _change(status: str, queue: Callable[[Services], Awaitable[Reply[Message]]]) -> Response:
    """Queue a change to a message, wait for its answer, and say what happened."""
    running = services()
    deadline = new_deadline()
    with command_deadline(deadline):
        reply = await queue(running)
    message = await answer_by(reply, deadline, unknown=OutcomeUnknown.DEFAULT)
    changed = {"status": status, "message": message_to_wire(message)}
    return Response(orjson.dumps(changed), content_type=JSON)


@blueprint.patch("/chats/<chat_id>/messages/<message_id>")
@operation(
    MessageChangedOut,
    "The message, edited",
    body=EditMessageBody,
    answers={
        403: NOT_THE_AUTHOR,
        404: NO_MESSAGE,
        409: DELETED,
        422: (
            "The body is not valid, the message is not a text message or is a system "
            "message, or the content names no upload."
        ),
        **CHANGE,
    },
)
async def edit_message(chat_id: str, message_id: str) -> Response:
    data = await request_body(EditMessageBody)
    user_id = user_of(data.user_id)

    async def queue(running: Services) -> Reply[Message]:
        await running.charge_send(user_id)
        await media_references.check_content_references(data.content, running.media)
        handle = running.registry.chat(chat_id)
        return await handle.queue_edit(user_id, MessageId(message_id), data.content)

    return await _change("message_updated", queue)


@blueprint.delete("/chats/<chat_id>/messages/<message_id>")
@operation(
    MessageChangedOut,
    "The message, deleted",
    query=UserQuery,
    answers={
        403: NOT_THE_AUTHOR,
        404: NO_MESSAGE,
        422: "user_id is not valid, or the message is a system message.",
        **CHANGE,
    },
    actor_query=True,
)
async def delete_message(chat_id: str, message_id: str) -> Response:
    user_id = acting_user(request_query(UserQuery).user_id)

    async def queue(running: Services) -> Reply[Message]:
        await running.charge_send(user_id)
        return await running.registry.chat(chat_id).queue_delete(user_id, MessageId(message_id))

    return await _change("message_deleted", queue)


@blueprint.put("/chats/<chat_id>/messages/<message_id>/reactions/<emoji>")
@operation(
    MessageChangedOut,
    "The message, with the reaction",
    body=ReactionBody,
    answers={
        403: NOT_IN_CHAT,
        404: NO_MESSAGE,
        409: DELETED,
        422: "The body is not valid, or the message has max_reaction_keys reactions already.",
        **CHANGE,
    },
)
async def add_reaction(chat_id: str, message_id: str, emoji: str) -> Response:
    user_id = user_of((await request_body(ReactionBody)).user_id)
    return await _change("reaction_added", _react(chat_id, message_id, emoji, user_id, add=True))


@blueprint.delete("/chats/<chat_id>/messages/<message_id>/reactions/<emoji>")
@operation(
    MessageChangedOut,
    "The message, without the reaction",
    query=UserQuery,
    answers={403: NOT_IN_CHAT, 404: NO_MESSAGE, **CHANGE},
    actor_query=True,
)
async def remove_reaction(chat_id: str, message_id: str, emoji: str) -> Response:
    user_id = acting_user(request_query(UserQuery).user_id)
    queue = _react(chat_id, message_id, emoji, user_id, add=False)
    return await _change("reaction_removed", queue)


def _react(
    chat_id: str, message_id: str, emoji: str, user_id: UserId, *, add: bool
) -> Callable[[Services], Awaitable[Reply[Message]]]:
    async def queue(running: Services) -> Reply[Message]:
        await running.charge_send(user_id)
        handle = running.registry.chat(chat_id)
        return await handle.queue_react(user_id, MessageId(message_id), emoji, add=add)

    return queue


@blueprint.post("/chats/<chat_id>/presence")
@operation(
    PresenceSetOut,
    body=PresenceBody,
    answers={403: NOT_IN_CHAT, 404: NO_CHAT, 504: OUTCOME_UNKNOWN},
)
async def set_presence(chat_id: str) -> Response:
    data = await request_body(PresenceBody)
    deadline = new_deadline()
    with command_deadline(deadline):
        chat = services().registry.chat(chat_id)
        reply = await chat.queue_set_presence(user_of(data.user_id), data.status)
    presence = await answer_by(reply, deadline, unknown=OutcomeUnknown.DEFAULT)
    return json_response(
        {"chat_id": chat_id, "user_id": presence.user_id, "status": data.status.value}
    )


@blueprint.get("/chats/<chat_id>/presence")
@operation(
    list[PresenceOut],
    "Every participant's presence, bot_user included",
    query=UserQuery,
    answers={403: NOT_IN_CHAT, 404: NO_CHAT},
)
async def get_presence(chat_id: str) -> Response:
    viewer = viewer_of(request_query(UserQuery).user_id)
    with command_deadline():
        presence = await services().registry.chat(chat_id).presence(viewer)
    return json_response([presence_to_wire(p) for p in presence])


@blueprint.post("/chats/<chat_id>/read")
@operation(
    ReadOut,
    "The user's read mark: the chat's newest message",
    body=ReadBody,
    answers={403: NOT_IN_CHAT, 404: NO_CHAT, 504: OUTCOME_UNKNOWN},
)
async def mark_read(chat_id: str) -> Response:
    data = await request_body(ReadBody)
    deadline = new_deadline()
    with command_deadline(deadline):
        reply = await services().registry.chat(chat_id).queue_mark_read(user_of(data.user_id))
    mark = await answer_by(reply, deadline, unknown=OutcomeUnknown.DEFAULT)
    return json_response(
        {
            "chat_id": chat_id,
            "user_id": mark.user_id,
            "last_read_message_id": mark.message_id,
            "last_read_seq": mark.seq,
        }
    )


@blueprint.get("/chats/<chat_id>/read")
@operation(
    ReadReceiptsOut,
    "Every participant's read mark",
    query=UserQuery,
    answers={403: NOT_IN_CHAT, 404: NO_CHAT},
)
async def get_read_receipts(chat_id: str) -> Response:
    viewer = viewer_of(request_query(UserQuery).user_id)
    with command_deadline():
        marks = await services().registry.chat(chat_id).read_marks(viewer)
    return json_response(
        {
            "chat_id": chat_id,
            "read_receipts": {m.user_id: m.message_id for m in marks},
            "read_seqs": {m.user_id: m.seq for m in marks},
        }
    )
