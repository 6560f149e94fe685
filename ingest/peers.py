"""Who a client span calls, and who calls whom according to edge metrics.

A client span that does not say `peer.service` (most auto-instrumentation does not) still names its
peer in other semantic-convention attributes: the host it connects to (`server.address`, before
semconv 1.21 `net.peer.name`, or the host of `url.full`), the RPC service (`rpc.service`), the database
system (`db.system`). Naming the peer matters twice: an uninstrumented dependency (a payment provider, a
cache) appears in the call graph, and the wire time of the call is credited to the callee rather than
to the caller (tools/backends/embedded_store.py `_CREDITED`). When the callee is instrumented, its span's
`service.name` is the better name, so after each load `derive_peers_from_children` replaces an inferred
peer with the child's service.

Service meshes and the Collector's servicegraph connector publish the call graph as metrics whose
labels name both ends (`istio_requests_total{source_workload, destination_workload}`,
`traces_service_graph_request_total{client, server}`, Linkerd's `response_total{deployment,
dst_deployment}`): those become declared dependencies.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import duckdb

# Where an inferred peer name came from, kept in the span's attributes so a reader can tell a name the
# span declared from one the engine guessed (and the child's service may replace a guess).
INFERRED_FROM = "inquest.peer.inferred_from"
# In order of trust: the address dialled names the deployed thing; an RPC service names an interface
# that several deployments may serve; a database system names only the product.
ADDRESS_ATTRIBUTES = ("server.address", "net.peer.name")
URL_ATTRIBUTES = ("url.full", "http.url")
CALLER_KINDS = ("CLIENT", "PRODUCER")
# Cluster-internal DNS suffixes: `payments.shop.svc.cluster.local` is the service `payments`.
_CLUSTER_SUFFIXES = (".svc.cluster.local", ".svc")
# (caller label, callee label) pairs that carry a call graph on a metric's data points, and label values
# that mean "not known" rather than a workload.
EDGE_LABELS = (("source_workload", "destination_workload"), ("source_app", "destination_app"),
               ("client", "server"), ("source_service", "destination_service"),
               ("deployment", "dst_deployment"))  # the last: Linkerd's outbound response_total
_UNKNOWN_ENDS = ("", "unknown", "unknown_service")


def infer_peer(kind: str, attributes: Mapping[str, Any], db_system: str | None) -> tuple[str, str] | None:
    """(peer name, the attribute it came from) for a client or producer span without peer.service."""
    if kind not in CALLER_KINDS:
        return None
    for key in ADDRESS_ATTRIBUTES:
        host = _host_name(attributes.get(key))
        if host:
            return host, key
    for key in URL_ATTRIBUTES:
        value = attributes.get(key)
        host = _host_name(urlsplit(value).hostname) if isinstance(value, str) and "//" in value else None
        if host:
            return host, key
    service = attributes.get("rpc.service")
    if isinstance(service, str) and service.strip():
        return service.strip(), "rpc.service"
    if db_system:
        return db_system, "db.system"
    return None


def _host_name(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    host = value.strip().lower().rstrip(".")
    try:
        ipaddress.ip_address(host.strip("[]"))
        return host  # an address is still a peer, and the only name it has
    except ValueError:
        pass
    for suffix in _CLUSTER_SUFFIXES:
        if host.endswith(suffix):
            return host.removesuffix(suffix).split(".")[0]
    return host


def edge_of(attributes: Mapping[str, Any]) -> tuple[str, str] | None:
    """(caller, callee) when a metric data point's labels name both ends of a call."""
    for caller_key, callee_key in EDGE_LABELS:
        caller, callee = attributes.get(caller_key), attributes.get(callee_key)
        if isinstance(caller, str) and isinstance(callee, str) and caller not in _UNKNOWN_ENDS \
                and callee not in _UNKNOWN_ENDS and caller != callee:
            return caller, callee
    return None


# A caller span's inferred (or missing) peer becomes the service of its child in another service: the
# instrumented callee says its own name better than an address does. Only traces the load touched.
_DERIVE_SQL = f"""
UPDATE spans SET "peer.service" = c.callee,
       attributes = json_merge_patch(coalesce(spans.attributes, '{{}}'), '{{"{INFERRED_FROM}": "child span"}}')
FROM (
  SELECT p.trace_id, p.span_id, min(k."service.name") AS callee
  FROM spans p JOIN spans k ON k.trace_id = p.trace_id AND k.parent_span_id = p.span_id
  WHERE p.trace_id IN (SELECT DISTINCT trace_id FROM $new)
    AND p.kind IN ('CLIENT', 'PRODUCER') AND k."service.name" <> p."service.name"
    AND (p."peer.service" IS NULL OR json_exists(p.attributes, '$."{INFERRED_FROM}"'))
  GROUP BY 1, 2
) c
WHERE spans.trace_id = c.trace_id AND spans.span_id = c.span_id AND spans."peer.service" IS DISTINCT FROM c.callee
"""


def derive_peers_from_children(con: duckdb.DuckDBPyConnection, new: str) -> int:
    """Names the peer of each caller span in the traces of table `new` after its child's service;
    returns how many spans changed. Run inside the load's transaction."""
    changed = con.execute(_DERIVE_SQL.replace("$new", new)).fetchone()
    return int(changed[0]) if changed else 0
