"""The pure analyses: baseline statistics, SQL normalisation, diff rules."""

from datetime import datetime, timedelta

from inquest.agents.baseline import Bucket, detect_onset, proximity, robust_threshold, shift
from inquest.agents.diff_rules import classify
from inquest.agents.sql_text import hints, normalize, statements_in
from inquest.tools.code_history import parse_patch

T0 = datetime(2026, 11, 3, 13, 0)


def test_statements_match_across_placeholder_styles_and_hints():
    telemetry = "SELECT id, sku FROM order_items /*+ IndexScan(order_items idx) */ WHERE order_id = $1"
    code = "SELECT id, sku FROM order_items WHERE order_id = %s"
    assert normalize(telemetry) == normalize(code)
    assert hints(telemetry) == ["/*+ IndexScan(order_items idx) */"]
    assert statements_in('rows = conn.execute("SELECT price FROM products WHERE sku = %s", (s,))') == [
        "SELECT price FROM products WHERE sku = %s"]


def test_a_quiet_baseline_does_not_make_one_error_an_anomaly():
    baseline = [Bucket(T0 + timedelta(minutes=i), 500, 0, 40.0) for i in range(30)]
    blip = [Bucket(T0 + timedelta(minutes=40), 500, 1, 41.0), Bucket(T0 + timedelta(minutes=41), 500, 0, 40.0)]
    assert detect_onset(baseline, blip) is None
    assert robust_threshold([0.0] * 10, floor=0.02) == 0.02


def test_onset_is_the_first_persistently_abnormal_minute():
    baseline = [Bucket(T0 + timedelta(minutes=i), 500, i % 3, 40.0 + i % 5) for i in range(30)]
    incident = [Bucket(T0 + timedelta(minutes=40 + i), 500, 1 if i < 4 else 200, 45.0) for i in range(10)]
    incident[2] = Bucket(incident[2].at, 500, 150, 45.0)  # one noisy minute is not the onset
    assert detect_onset(baseline, incident) == T0 + timedelta(minutes=44)


def test_shift_needs_both_a_multiple_and_enough_volume():
    assert shift(10, 10, 100, 10).significant()
    assert not shift(0, 10, 2, 10).significant()  # rare event, tiny absolute change
    assert not shift(1000, 10, 1100, 10).significant()  # busy, wobbling
    assert proximity(0) == 1.0 and proximity(10) == 0.5


N_PLUS_ONE_PATCH = '''@@ -10,6 +10,8 @@ def load_order(conn, order_id):
-    items = conn.execute("SELECT id, sku, qty FROM order_items /*+ IndexScan(order_items i) */ WHERE order_id = %s", (order_id,)).fetchall()
-    prices = conn.execute("SELECT sku, price FROM products WHERE sku = ANY(%s)", ([i.sku for i in items],))
+    items = conn.execute("SELECT id, sku, qty FROM order_items WHERE order_id = %s", (order_id,)).fetchall()
+    prices = {}
+    for item in items:
+        prices[item.sku] = conn.execute("SELECT price FROM products WHERE sku = %s", (item.sku,)).scalar()
     return items, prices
'''


def test_diff_rules_name_the_n_plus_one_and_the_lost_hint():
    [hunk] = parse_patch("services/orders/repository.py", N_PLUS_ONE_PATCH)
    kinds = {r.kind: r for r in classify(hunk)}
    assert {"index_hint_removed", "query_in_loop"} <= set(kinds)
    assert "SELECT price FROM products WHERE sku = %s" in kinds["query_in_loop"].statements
    assert hunk.context == "def load_order(conn, order_id):"


def test_diff_rules_ignore_harmless_changes():
    patch = '@@ -1,3 +1,3 @@\n-<h1>Thanks for your order</h1>\n+<h1>Thank you for your order!</h1>\n color: red;\n'
    [hunk] = parse_patch("services/notifications/templates/confirm.html", patch)
    assert classify(hunk) == []


def test_diff_rules_see_tunables_change():
    patch = "@@ -1,2 +1,2 @@\n-POOL_SIZE = 20\n+POOL_SIZE = 5\n-HTTP_TIMEOUT_S = 2.0\n+HTTP_TIMEOUT_S = 30\n"
    [hunk] = parse_patch("config.py", patch)
    assert {"pool_size_changed", "timeout_changed"} <= {r.kind for r in classify(hunk)}
