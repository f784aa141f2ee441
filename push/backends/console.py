"""Logs messages instead of sending them (make run): recipients masked, every message accepted."""

import logging

from core.validators import mask_phone

from . import ACCEPTED, UNKNOWN, Backend, Outgoing, QueryResult, SendResult

logger = logging.getLogger("push.console")


class ConsoleBackend(Backend):
    def send_many(self, messages: list[Outgoing]) -> dict[str, SendResult]:
        for message in messages:
            shown = mask_phone(message.recipient) if self.channel == "sms" else "****"
            logger.info("[%s] to %s: %s", self.channel, shown, message.text)
        return {m.key: SendResult(ACCEPTED, "logged", f"console-{m.key}") for m in messages}

    def query(self, keys: list[str]) -> dict[str, QueryResult]:
        # The console keeps no book: an interrupted message is logged again (harmless locally).
        return {key: QueryResult(UNKNOWN) for key in keys}
