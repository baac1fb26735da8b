"""REST routes that change a chat itself: its title and its members (docs/API.md, "Chats that
change").

Each change is an entry of the chat's log (a system message), decided and written by the
chat's one actor and fenced like a send. 404 unknown chat (or, removing, someone not in it), 403
not a participant (or removing someone without being the admin), 422 bad input (a one-to-one
chat gains no members; bot_user stays). Each is safe to retry: a title the chat has already,
members in already, change nothing; a removal done already answers 404 (403 for a leave: no
longer a member).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from quart import Blueprint, Response

from chatactors.actors.commands import ChatChanged
from chatactors.actors.reply import Reply
from chatactors.domain.errors import OutcomeUnknown
from chatactors.domain.rules import check_new_members, check_user_id
from chatactors.web.answers import answer_by, command_deadline, new_deadline
from chatactors.web.chats_api import CHANGE, JSON, NO_CHAT, NOT_IN_CHAT
from chatactors.web.operations import operation
from chatactors.web.route_inputs import acting_user, request_body, request_query, user_of
from chatactors.web.services import Services, services
from chatactors.web.wire import (
    AddParticipantsBody,
    ChatChangedOut,
    UpdateChatBody,
    UserQuery,
)
from chatactors.web.wire_out import chat_info_to_wire, message_to_wire

blueprint = Blueprint("members", __name__)


async def _change_chat(
    status: str, queue: Callable[[Services], Awaitable[Reply[ChatChanged]]]
) -> tuple[Services, ChatChanged, Response]:
    running = services()
    deadline = new_deadline()
    with command_deadline(deadline):
        reply = await queue(running)
    changed = await answer_by(reply, deadline, unknown=OutcomeUnknown.DEFAULT)
    message = None if changed.message is None else message_to_wire(changed.message)
    body = {"status": status, "chat": chat_info_to_wire(changed.info), "message": message}
    return running, changed, Response(orjson.dumps(body), content_type=JSON)


@blueprint.patch("/chats/<chat_id>")
@operation(
    ChatChangedOut,
    "The chat with its new title",
    body=UpdateChatBody,
    answers={403: NOT_IN_CHAT, 404: NO_CHAT, **CHANGE},
)
async def update_chat(chat_id: str) -> Response:
    data = await request_body(UpdateChatBody)
    user_id = user_of(data.user_id)

    async def queue(running: Services) -> Reply[ChatChanged]:
        await running.charge_send(user_id)
        return await running.registry.chat(chat_id).queue_set_title(user_id, data.title)

    return (await _change_chat("chat_updated", queue))[2]


@blueprint.post("/chats/<chat_id>/participants")
@operation(
    ChatChangedOut,
    "The chat with its new members",
    body=AddParticipantsBody,
    answers={
        403: NOT_IN_CHAT,
        404: NO_CHAT,
        422: (
            "The body is not valid, the chat is one-to-one (it gains no members), or it "
            "would have more than max_participants."
        ),
        **CHANGE,
    },
)
async def add_participants(chat_id: str) -> Response:
    data = await request_body(AddParticipantsBody)
    user_id = user_of(data.user_id)
    users = check_new_members(data.participants, services().settings.limits)

    async def queue(running: Services) -> Reply[ChatChanged]:
        await running.charge_send(user_id)
        return await running.registry.chat(chat_id).queue_add_participants(user_id, users)

    running, changed, response = await _change_chat("participants_added", queue)
    # Their user sockets (on every node) announce the chat to them, as a new chat's are.
    await running.registry.members_added(changed)
    return response


@blueprint.delete("/chats/<chat_id>/participants/<member>")
@operation(
    ChatChangedOut,
    "The chat without the member",
    query=UserQuery,
    answers={
        403: f"{NOT_IN_CHAT} Or removing someone else without being the chat's admin.",
        404: "No such chat, or the member is not in it.",
        422: "user_id is not valid, or someone else is removed from a one-to-one chat.",
        **CHANGE,
    },
    actor_query=True,
)
async def remove_participant(chat_id: str, member: str) -> Response:
    user_id = acting_user(request_query(UserQuery).user_id)
    removed = check_user_id(member, services().settings.limits, field="member")

    async def queue(running: Services) -> Reply[ChatChanged]:
        await running.charge_send(user_id)
        return await running.registry.chat(chat_id).queue_remove_participant(user_id, removed)

    return (await _change_chat("participant_removed", queue))[2]
