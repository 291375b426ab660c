"""Marketing reacts to commerce: carts schedule the abandoned-cart reminder, orders cancel
it and count as a clicked message's conversion; durable timers fire the reminder, send
campaigns and deliver messages."""

from omnikanal.marketing import campaigns, lifecycle, messages, notices, replies, triggers
from omnikanal.outbox.registry import HandlerRegistry


def register(registry: HandlerRegistry) -> None:
    registry.subscribe("cart.updated", "marketing.schedule_abandoned_cart", triggers.cart_updated)
    registry.subscribe("order.placed", "marketing.cancel_abandoned_cart", triggers.order_placed)
    registry.on_timer(triggers.ABANDONED_CART, triggers.abandoned_cart_fired)
    registry.subscribe("order.placed", "marketing.attribute_order", campaigns.order_placed)
    registry.subscribe(
        "notification.queued", "marketing.deliver_notification", notices.notification_queued
    )
    registry.subscribe("conversation.reply_added", "marketing.deliver_reply", replies.reply_added)
    registry.subscribe("order.placed", "marketing.arm_lifecycle", lifecycle.order_placed)
    registry.subscribe(
        "stock.available_again", "marketing.back_in_stock", lifecycle.available_again
    )
    registry.on_timer(lifecycle.POST_PURCHASE, lifecycle.post_purchase_fired)
    registry.on_timer(lifecycle.WIN_BACK, lifecycle.win_back_fired)
    registry.on_timer(messages.DELIVER, messages.deliver_timer)
    registry.on_timer(campaigns.SEND, campaigns.send_timer)
