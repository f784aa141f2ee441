"""Scheduled and deferred work of logistics: the simulated carrier's pushes, customs decisions."""

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(name="logistics.tasks.simulated_carrier_tick", ignore_result=True)
def simulated_carrier_tick() -> int:
    """Every minute: the simulated carrier pushes the tracking events that are due."""
    from .services import simulated_carrier_push_due

    pushed = simulated_carrier_push_due()
    if pushed:
        logger.info("simulated carrier pushed %s tracking events", pushed)
    return pushed


@shared_task(name="logistics.tasks.customs_simulated_decide", ignore_result=True)
def customs_simulated_decide(order_ref: str) -> str:
    from .customs import get_authority
    from .models import CustomsDeclaration, DeclarationStatus
    from .services import declaration_decide

    declaration = CustomsDeclaration.objects.filter(order_ref=order_ref).first()
    if declaration is None or declaration.status != DeclarationStatus.SUBMITTED:
        return "nothing to decide"
    released, reason = get_authority().decide(declaration=declaration)
    declaration_decide(order_ref=order_ref, released=released, reason=reason)
    return "released" if released else "rejected"
