"""The order page and product search in Chromium at a tablet's width: store staff find a
product by its barcode (price and stock per location), open an order from the pickup
queue and from a customer's page, and take a return from the order's lines with a double
click that refunds once; axe-core finds nothing serious or critical on these pages."""

import re
from typing import Any

from playwright.sync_api import expect
from sqlalchemy.orm import Session, sessionmaker

from omnikanal.auth.models import Role
from omnikanal.commerce import returns
from tests.e2e.test_console_browser import photograph, sign_in
from tests.e2e.test_console_replies import accessible, demo_shop, fits, settings, smtp, tablet
from tests.factories import demo_login
from tests.integration.console.test_orders_and_products import annas_coat_order

# Fixtures shared with the other console tests.
__all__ = ["demo_shop", "settings", "smtp", "tablet"]


def test_store_staff_find_a_product_and_take_a_return_from_an_order(
    demo_shop: str, tablet: Any, session_factory: sessionmaker[Session]
) -> None:
    page = tablet
    sign_in(page, demo_shop, demo_login(Role.STORE))
    with page.expect_navigation():
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Products").click()
    expect(page).to_have_title("Find a product · omnikanal")
    accessible(page)
    page.get_by_label("Name, SKU or barcode").fill("7350012000066")
    page.get_by_role("button", name="Search").click()
    found = page.locator("article")
    assert found.count() == 1
    assert "BOOTS-CHELSEA-39" in found.inner_text()
    assert "1\u00a0499,00\u00a0kr" in found.inner_text()
    assert "this store" in found.inner_text()
    accessible(page)
    photograph(page, "console-products.png")

    # The store view links each pickup to its order.
    page.goto(f"{demo_shop}/console/store")
    queue = page.locator("section", has=page.get_by_role("heading", name="Pickup queue"))
    with page.expect_navigation():
        queue.get_by_role("link", name=re.compile(r"^NK-")).first.click()
    expect(page).to_have_title(re.compile(r"^Order NK-"))
    assert "Chelsea boots" in page.locator("main").inner_text()
    accessible(page)

    coat = annas_coat_order(session_factory)
    page.goto(f"{demo_shop}/console/orders/{coat.id}")
    lines = page.locator("section", has=page.get_by_role("heading", name="Lines", exact=True))
    assert "COAT-WOOL-GREY-38" in lines.inner_text()
    accessible(page)
    returned = page.locator("section", has=page.get_by_role("heading", name="Returns", exact=True))
    quantity = returned.get_by_label("How many of Wool coat, grey (COAT-WOOL-GREY-38) come back")
    quantity.fill("2")
    returned.get_by_role("button", name="Take return and refund").click()
    assert quantity.get_attribute("aria-invalid") == "true"
    assert "Return from 0 to 1 of Wool coat, grey" in returned.inner_text()
    assert quantity.input_value() == "2"
    accessible(page)
    quantity.fill("1")
    returned.get_by_label("Reason").fill("Button missing")
    fits(page, returned.get_by_role("button", name="Take return and refund"))
    with page.expect_navigation():
        returned.get_by_role("button", name="Take return and refund").dblclick()
    assert page.get_by_role("status").inner_text() == (
        "Return of 1 item taken: 2\u00a0499,00\u00a0kr refunded."
    )
    assert "Button missing" in returned.inner_text()
    accessible(page)
    photograph(page, "console-order.png")
    with session_factory() as session:
        assert len(returns.of_order(session, order_id=coat.id)) == 1
