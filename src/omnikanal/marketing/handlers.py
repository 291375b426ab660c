"""Marketing reacts to commerce: carts schedule the abandoned-cart reminder, orders cancel
it; durable timers fire the reminder and deliver messages."""

from omnikanal.marketing import messages, triggers
from omnikanal.outbox.registry import HandlerRegistry


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("cart.updated", "marketing.schedule_abandoned_cart", triggers.cart_updated)
    registry.subscribe("order.placed", "marketing.cancel_abandoned_cart", triggers.order_placed)
    registry.on_timer(triggers.ABANDONED_CART, triggers.abandoned_cart_fired)
    registry.on_timer(messages.DELIVER, messages.deliver_timer)
