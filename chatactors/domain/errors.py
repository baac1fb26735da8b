"""Conditions a request can run into. The web layer maps each one to a status code."""

from __future__ import annotations


class ChatError(Exception):
    """Base of every expected failure; its message is safe to show to the client."""


class ChatNotFound(ChatError):
    def __init__(self, chat_id: str) -> None:
        super().__init__(f"Chat not found: {chat_id!r}")


class NotAParticipant(ChatError):
    def __init__(self, user_id: str, chat_id: str) -> None:
        super().__init__(f"User {user_id!r} is not a participant of chat {chat_id!r}")


class ParticipantNotFound(ChatError):
    """The user named is not a member of the chat (removing them: 404)."""

    def __init__(self, user_id: str, chat_id: str) -> None:
        super().__init__(f"User {user_id!r} is not a member of chat {chat_id!r}")


class NotTheAdmin(ChatError):
    """Only the chat's admin may remove someone else (anyone may leave)."""

    def __init__(self, user_id: str, admin: str | None) -> None:
        super().__init__(
            f"User {user_id!r} may not remove others from this chat: only its admin "
            f"({admin!r}) may; anyone may leave"
        )


class MessageNotFound(ChatError):
    def __init__(self, message_id: str, chat_id: str) -> None:
        super().__init__(f"Message not found: {message_id!r} in chat {chat_id!r}")


class NotTheAuthor(ChatError):
    """Only a message's author may edit or delete it."""

    def __init__(self, user_id: str, message_id: str) -> None:
        super().__init__(f"User {user_id!r} is not the author of message {message_id!r}")


class MessageDeleted(ChatError):
    """The message is deleted: it can be neither edited nor reacted to (409 Conflict)."""

    def __init__(self, message_id: str) -> None:
        super().__init__(f"Message {message_id!r} is deleted")


class InvalidInput(ChatError):
    """A value that passed the wire's shape checks but breaks a domain rule."""


class Overloaded(ChatError):
    """The chat's inbox stayed full: the caller should retry shortly."""

    def __init__(self, detail: str = "The chat is overloaded; retry shortly") -> None:
        super().__init__(detail)


class ChatUnavailable(ChatError):
    """The chat's actor crashed or is stopping; the request did not complete."""

    def __init__(self, detail: str = "The chat is temporarily unavailable; retry shortly") -> None:
        super().__init__(detail)


class ServerShuttingDown(ChatUnavailable):
    """This server is shutting down and takes no more commands; retry (it, or another one)."""

    def __init__(self, detail: str = "The server is shutting down") -> None:
        super().__init__(detail)


class StoreUnavailable(ChatError):
    """The store failed to read or write (a full disk, an I/O error): nothing was done."""

    def __init__(self, detail: str = "Storage is unavailable; retry shortly") -> None:
        super().__init__(detail)


class OutcomeUnknown(ChatError):
    """A write was sent to the store but its commit was never confirmed (the store stopped
    answering, the connection broke mid-commit): it may or may not have taken effect.

    Unlike ``StoreUnavailable`` (nothing changed), a retry must be one that is safe to repeat:
    a send with the same ``client_message_id``.
    """

    DEFAULT = "outcome unknown: the change may have been made; retry"

    def __init__(self, detail: str = DEFAULT) -> None:
        super().__init__(detail)

    @staticmethod
    def send_detail(client_message_id: str | None) -> str:
        """What to tell the sender of a message whose outcome is unknown."""
        if client_message_id is not None:
            return "outcome unknown: retry with the same client_message_id"
        return (
            "outcome unknown: the message may have been stored; send a client_message_id so "
            "that a retry cannot store it twice"
        )


class Unauthenticated(ChatError):
    """No valid credentials (access control is on)."""


class Forbidden(ChatError):
    """Valid credentials, but for someone who may not do this."""


class RateLimited(ChatError):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"Too many requests; retry in {retry_after_s:.1f} s")
        self.retry_after_s = retry_after_s
