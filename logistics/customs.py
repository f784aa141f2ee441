"""Customs authority adapters: submit a declaration; the authority's decision comes back later.

The simulated authority stands in for the China E-Port single window: it releases a declaration
whose three documents agree, after a delay, unless the orderer's ID number is on its list of
numbers whose annual quota is used up across all platforms (settings.CUSTOMS_SIMULATED_REJECT_IDS);
it never sees an ID number in clear, only the keyed index the platform stores.
"""

import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _

from core import crypto


class CustomsAuthority:
    def submit(self, *, declaration: Any) -> str:
        """Send the declaration; returns the authority's reference."""
        raise NotImplementedError


class SimulatedCustoms(CustomsAuthority):
    def submit(self, *, declaration: Any) -> str:
        from .tasks import customs_simulated_decide

        order_ref = declaration.order_ref
        transaction.on_commit(
            lambda: customs_simulated_decide.apply_async(
                args=(order_ref,), countdown=settings.CUSTOMS_SIMULATED_DELAY_SECONDS
            )
        )
        return "SIMCUS" + secrets.token_hex(6).upper()

    def decide(self, *, declaration: Any) -> tuple[bool, str]:
        blocked = {crypto.blind_index(n) for n in settings.CUSTOMS_SIMULATED_REJECT_IDS}
        if declaration.order_document.get("orderer_id_index") in blocked:
            return False, _(
                "The orderer's annual cross-border quota is used up (across all platforms)."
            )
        return True, ""


def get_authority() -> CustomsAuthority:
    return import_string(settings.CUSTOMS_AUTHORITY)()
