"""What the bot says: short text lines, and pictures and sounds served by this server."""

from __future__ import annotations

from collections.abc import Mapping

from chatactors.actors.bot import BotReply
from chatactors.domain.models import MessageType

TEXT_LINES: tuple[str, ...] = (
    "Hello! 👋",
    "Hi there, how are you?",
    "That's interesting, tell me more.",
    "Sure thing!",
    "Absolutely.",
    "I see what you mean.",
    "Hmm, let me think about that…",
    "Good point!",
    "Haha, nice one 😄",
    "Could you say that another way?",
    "I agree.",
    "Not sure about that, to be honest.",
    "Sounds like a plan.",
    "What do you think?",
    "Thanks for sharing!",
    "Really? Wow.",
    "I'll get back to you on that.",
    "Let's do it!",
    "That makes sense.",
    "Interesting question.",
    "I hadn't thought of it that way.",
    "Good morning! ☀️",
    "Have a great day!",
    "On my way.",
    "Can't wait!",
    "Maybe later?",
    "Nice to hear from you.",
    "Fair enough.",
    "Let me check and come back to you.",
    "You're right.",
    "Oops, my bad.",
    "Noted ✅",
    "Great news!",
    "Tell me everything.",
    "I'm just a bot, but I'm listening.",
    "🙂",
    "👍",
    "🎉🎉🎉",
)

#: Bundled media files (in chatactors/bot_assets), by the kind of message that carries them.
BOT_ASSETS: Mapping[str, MessageType] = {
    "sunrise.png": MessageType.IMAGE,
    "waves.png": MessageType.IMAGE,
    "chime.wav": MessageType.AUDIO,
    "hello.wav": MessageType.AUDIO,
}


def default_bot_replies(asset_urls: Mapping[str, str]) -> tuple[BotReply, ...]:
    """Text lines plus one reply per bundled asset, whose content is its absolute URL."""
    media = tuple(
        BotReply(BOT_ASSETS[name], url) for name, url in asset_urls.items() if name in BOT_ASSETS
    )
    return tuple(BotReply(MessageType.TEXT, line) for line in TEXT_LINES) + media
