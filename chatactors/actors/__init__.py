"""Who owns what: one actor per chat, its handle, the registry that supervises them, the bot.

Flow: a caller uses a ChatHandle -> the request goes into the chat's bounded inbox -> the
ChatActor (one task, the only writer of that chat's state) handles it, awaits its store write,
answers through a Reply and fans the encoded event out to every Subscription without waiting.
"""
