#!/usr/bin/env python3
"""The operators' panel in headless Chromium, against `flexbridge serve` and the simulator:

1. a page without a session goes to the login page; a wrong password is refused; the right one lands on the page
   asked for;
2. an order placed at the simulator appears on the open orders page by itself (Server-Sent Events), and an operator ships it from its page: confirm, pack
   (a wrong weight refused at its field first), shipping options, label with the option chosen, then builds its manifest on the manifests page, opens the PDF and hands it over — SHIPPED at the simulator;
3. the customer returns it; the operator grades the units on the return's page and the sellable ones are back in
   the hub's stock;
4. a setting changed on the connection's page: a wrong value is shown at its field, a right one lands in the change
   log with who changed it;
5. a listings CSV with bad rows lists each with its line and imports nothing; a good one is imported;
6. a form whose CSRF token was tampered with is refused and changes nothing; logging out ends the session.

Usage: panel_browser.py FLEXBRIDGE_BINARY. PANEL_SCREENSHOTS=DIR saves the main pages' screenshots there.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from harness import Rig, call, expect  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

BINARY = sys.argv[1]
MERCHANT = "A1PANELSELLER"
PASSWORD = "panel test password"
SHOTS = os.environ.get("PANEL_SCREENSHOTS")


def wait_for(what, check, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    expect(False, f"{what} within {seconds} s")


def shot(driver, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def button(driver, text):
    return driver.find_element(By.XPATH, f'//button[normalize-space()="{text}"]')


def press(driver, text):
    """Clicks a button that submits a form and waits for the page it leads to: a `driver.get` right after a click
    would otherwise cancel the form's submission before the browser sent it. A button the page's live refresh replaced
    between finding and clicking is found again."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    page = driver.find_element(By.TAG_NAME, "html")
    for attempt in range(5):
        try:
            button(driver, text).click()
            break
        except StaleElementReferenceException:
            if attempt == 4:
                raise
            time.sleep(0.2)
    # The old page is gone once its root element is: chromedriver says so as a stale element, or, mid-navigation, as
    # a node that no longer belongs to the document.
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            page.tag_name
        except WebDriverException:
            return
        time.sleep(0.1)
    expect(False, f"the page after pressing {text} within 30 s")


def main():
    rig = Rig(BINARY, "flexbridge-panel-", simulator_args=["--no-throttle"],
              serve_env={"FLEXBRIDGE_NOTIFICATION_SECRET": "panel-notification-secret", "FLEXBRIDGE_RETURNS_POLL_SECONDS": "1",
                         "FLEXBRIDGE_STATUS_POLL_SECONDS": "1"})
    options = webdriver.ChromeOptions()
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860"]:
        options.add_argument(argument)
    driver = None
    try:
        rig.serve()
        cid, location_id, amazon_headers = rig.connect_seller(MERCHANT, "Panel test")
        status, _ = call("POST", f"{rig.sim}/_simulator/notifications/destinations", {
            "url": f"http://127.0.0.1:{rig.api_port}/notifications/amazon", "secret": "panel-notification-secret"})
        expect(status == 201, f"notification destination: {status}")
        call("POST", f"{rig.sim}/_simulator/listings", {"merchantId": MERCHANT, "marketplaceId": "A21TJRUUN4KGV", "skus": ["PANEL-SKU-1"]})
        status, body = call("POST", f"{rig.api}/connections/{cid}/listings", {"listings": [
            {"clientSkuId": "EAN-PANEL-1", "channelSkuId": "PANEL-SKU-1", "channelSerialNo": "B0PANEL001", "marketplace": "A21TJRUUN4KGV"}]})
        expect(status in (200, 201), f"listings: {status} {body}")
        status, body = call("PUT", f"{rig.api}/stock", {"items": [{"hub": "HUB1", "sku": "EAN-PANEL-1", "quantity": 10}]})
        expect(status == 202, f"stock: {status} {body}")
        made = subprocess.run([BINARY, "operators", "create", "ada", "--role", "operator", "--database", rig.database,
                               "--password-stdin"], input=PASSWORD, capture_output=True, text=True, timeout=60)
        expect(made.returncode == 0, f"operators create: {made.stdout} {made.stderr}")
        base = f"http://127.0.0.1:{rig.api_port}"

        # Debian's chromium and chromedriver, named outright: Selenium Manager would otherwise look for a driver on
        # the network first.
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        service = Service(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
        driver = webdriver.Chrome(options=options, service=service)
        driver.get(base + "/orders")
        expect("/login" in driver.current_url, f"without a session: {driver.current_url}")
        shot(driver, "login")
        driver.find_element(By.NAME, "name").send_keys("ada")
        driver.find_element(By.NAME, "password").send_keys("wrong password")
        press(driver, "Log in")
        wait_for("a wrong password refused", lambda: "Wrong name or password." in driver.page_source, 10)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        press(driver, "Log in")
        wait_for("back to the page asked for after login", lambda: driver.current_url.endswith("/orders"), 10)

        # An order arrives (the simulator notifies FlexBridge) and is shipped from the panel.
        # Amazon's sandbox call makes a plain order (the generator's would now and then need serial numbers).
        def place_order():
            status, body = call("POST", f"{rig.sim}/externalFulfillment/2024-09-11/shipments", {
                "locationId": location_id, "marketplaceId": "A21TJRUUN4KGV", "marketplaceChannel": "MFN",
                "shippingType": "MARKETPLACE"}, headers=amazon_headers)
            expect(status in (200, 201), f"sandbox shipment: {status} {body}")
            return body["shipmentId"]
        driver.get(base + "/orders")
        shipment = place_order()
        # The open page is not reloaded: the order arrives through the live stream (/live and /panel.js).
        wait_for("the new order pushed into the open orders page", lambda: shipment in driver.page_source, 30)
        shot(driver, "orders")
        driver.find_element(By.LINK_TEXT, shipment).click()
        wait_for("the order's page", lambda: driver.current_url.endswith(f"/orders/{shipment}"), 10)
        shot(driver, "order")
        def reached(state):
            def check():
                driver.get(f"{base}/orders/{shipment}")
                return f"<dd>{state}</dd>" in driver.page_source
            return check
        press(driver, "Confirm")
        wait_for(f"{shipment} confirmed", reached("confirmed"))
        # The pack form holds Amazon's recommended box; a weight under 5 g is refused at its field, nothing sent.
        weight = driver.find_element(By.NAME, "p0.weight")
        expect(weight.get_attribute("value") not in ("", None), "the recommended weight prefilled")
        weight.clear()
        weight.send_keys("0.001")
        Select(driver.find_element(By.NAME, "p0.weightUnit")).select_by_visible_text("KG")
        press(driver, "Pack")
        wait_for("the weight refused at its field", lambda: "must be at least 5 g, got 0.001 KG" in driver.page_source, 10)
        shot(driver, "pack")
        expect(call("GET", f"{rig.api}/orders/{shipment}/commands")[1]["commands"][-1]["type"] == "confirm", "no pack sent")
        weight = driver.find_element(By.NAME, "p0.weight")
        weight.clear()
        weight.send_keys("1.2")
        press(driver, "Pack")
        wait_for(f"{shipment} packed", reached("packed"))
        # Amazon's shipping options, one of them chosen for the label.
        press(driver, "Get shipping options")
        def options():
            driver.get(f"{base}/orders/{shipment}")
            return len(Select(driver.find_element(By.NAME, "shippingOptionId")).options) > 1
        wait_for("Amazon's shipping options to choose from", options)
        Select(driver.find_element(By.NAME, "shippingOptionId")).select_by_index(1)
        press(driver, "Print label")
        wait_for(f"{shipment} ready_to_ship", reached("ready_to_ship"))
        label = driver.find_element(By.LINK_TEXT, "label").get_attribute("href")
        packages = json.loads(call("GET", f"{rig.api}/orders/{shipment}")[1]["shipment"])["packages"]
        expect(float(packages[0]["weight"]["value"]) == 1.2, f"the weight entered reached Amazon: {packages}")
        driver.get(base + "/manifests")
        shot(driver, "manifests")
        press(driver, "Build manifest")
        wait_for("the manifest made, ready to hand over", lambda: "Hand over" in driver.page_source, 10)
        pdf = driver.find_element(By.LINK_TEXT, "PDF").get_attribute("href")
        press(driver, "Hand over")
        def shipped():
            truth = json.load(urllib.request.urlopen(f"{rig.sim}/_simulator/state", timeout=10))
            return any(s["id"] == shipment and s["status"] == "SHIPPED" for s in truth["shipments"])
        wait_for(f"{shipment} SHIPPED at the simulator", shipped)
        cookie = driver.get_cookie("flexbridge_session")
        expect(cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Strict", f"the session cookie: {cookie}")
        request = urllib.request.Request(pdf, headers={"Cookie": f"flexbridge_session={cookie['value']}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            expect(answer.read(5) == b"%PDF-", "the manifest's PDF")
        request = urllib.request.Request(label, headers={"Cookie": f"flexbridge_session={cookie['value']}"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            expect(len(answer.read()) > 0 and "attachment" in answer.headers["Content-Disposition"], "the label's file")

        # The customer sends it back; the return is received with grades from the panel.
        status, body = call("POST", f"{rig.sim}/_simulator/returns", {"shipmentId": shipment})
        expect(status == 201, f"return: {status} {body}")
        return_id = body["id"]
        for step in ("CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "PICKED_FROM_CUSTOMER",
                     "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"):
            call("POST", f"{rig.sim}/_simulator/returns/{return_id}/status", {"status": step})
        def delivered():
            driver.get(f"{base}/returns/{return_id}")
            return "<dd>DELIVERED</dd>" in driver.page_source
        wait_for(f"return {return_id} DELIVERED in the panel", delivered)
        shot(driver, "return")
        level_before = call("GET", f"{rig.api}/stock/EAN-PANEL-1")[1]["hubs"][0]["quantity"]
        units = int(driver.find_element(By.NAME, "grade.sellable").get_attribute("value"))
        press(driver, "Record receipt")
        wait_for("the receipt saying the units are back on sale", lambda: "back on sale at HUB1" in driver.page_source, 10)
        level_after = call("GET", f"{rig.api}/stock/EAN-PANEL-1")[1]["hubs"][0]["quantity"]
        expect(level_after == level_before + units, f"HUB1's stock {level_before} → {level_after}, {units} received")

        # A setting changed on the connection's page: a wrong value is shown next to its field and saves nothing; a
        # right one is saved and found in the change log with who changed it.
        driver.get(f"{base}/connections")
        driver.find_element(By.LINK_TEXT, "Panel test").click()
        field = driver.find_element(By.NAME, "safetyStock")
        field.clear()
        field.send_keys("-3")
        press(driver, "Save settings")
        wait_for("the wrong value's message", lambda: "must be a whole number, 0 or more" in driver.page_source, 10)
        expect(call("GET", f"{rig.api}/connections/{cid}/settings")[1]["safetyStock"] == 0, "nothing was saved")
        field = driver.find_element(By.NAME, "safetyStock")
        field.clear()
        field.send_keys("2")
        press(driver, "Save settings")
        wait_for("the change in the change log", lambda: "<td>safetyStock</td>" in driver.page_source, 10)
        expect("operator ada" in driver.page_source, "the change log names who changed it")
        expect(call("GET", f"{rig.api}/connections/{cid}/settings")[1]["safetyStock"] == 2, "the setting was saved")
        shot(driver, "connection")

        # A listings CSV with bad rows is refused with each row's line and reason, nothing imported; a good one is.
        bad = os.path.join(rig.work, "bad-listings.csv")
        with open(bad, "w") as out:
            out.write("clientSkuId,channelSerialNo,channelSkuId,marketplace\n"
                      "EAN-PANEL-2,NOT-AN-ASIN,PANEL-SKU-2,A21TJRUUN4KGV\n"
                      ",B0PANEL003,PANEL-SKU-3,A21TJRUUN4KGV\n")
        good = os.path.join(rig.work, "listings.csv")
        with open(good, "w") as out:
            out.write("clientSkuId,channelSerialNo,channelSkuId,marketplace\nEAN-PANEL-2,B0PANEL002,PANEL-SKU-2,A21TJRUUN4KGV\n")
        status, body = call("PUT", f"{rig.api}/stock", {"items": [{"hub": "HUB1", "sku": "EAN-PANEL-2", "quantity": 3}]})
        expect(status == 202, f"stock: {status} {body}")
        driver.get(f"{base}/stock")
        driver.find_element(By.NAME, "file").send_keys(bad)
        press(driver, "Upload")
        wait_for("the rejected rows", lambda: "Rejected rows" in driver.page_source, 10)
        rows = driver.find_elements(By.CSS_SELECTOR, "table.rejected tbody tr")
        lines = sorted({row.find_elements(By.TAG_NAME, "td")[0].text for row in rows})
        expect(lines == ["2", "3"], f"each bad row named by its line: {[row.text for row in rows]}")
        def items():
            status, body = call("GET", f"{rig.api}/stock/EAN-PANEL-2")
            expect(status == 200, f"stock of EAN-PANEL-2: {status} {body}")
            return body["locations"]
        expect(items() == [], "nothing of the bad file was imported")
        shot(driver, "stock")
        driver.find_element(By.NAME, "file").send_keys(good)
        press(driver, "Upload")
        wait_for("the good file imported", lambda: "1 listing imported" in driver.page_source, 10)
        expect([i["merchantSku"] for i in items()] == ["PANEL-SKU-2"], f"the good file's listing feeds HUB1's stock: {items()}")

        # A tampered form changes nothing; logging out ends the session.
        other = place_order()
        def arrived():
            driver.get(f"{base}/orders/{other}")
            return "Confirm" in driver.page_source
        wait_for("a second order", arrived)
        driver.execute_script("document.querySelectorAll('input[name=csrf]').forEach(e => e.value = 'forged')")
        press(driver, "Confirm")
        wait_for("a forged form token refused", lambda: "Nothing was done" in driver.page_source, 10)
        commands = call("GET", f"{rig.api}/orders/{other}/commands")[1]["commands"]
        expect(commands == [], f"nothing was stored: {commands}")
        driver.get(base + "/")
        shot(driver, "dashboard")
        press(driver, "Log out")
        wait_for("the login page after logging out", lambda: "/login" in driver.current_url, 10)
        driver.get(base + "/orders")
        expect("/login" in driver.current_url, "after logging out, the login page")
        print(f"panel passed: {shipment} shipped from the panel, return {return_id} received, forged form refused", flush=True)
    finally:
        if driver:
            driver.quit()
        rig.stop()


if __name__ == "__main__":
    main()
