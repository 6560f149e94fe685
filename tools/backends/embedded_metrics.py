"""The embedded store's questions about metric points: a summary, robust statistics and per-bucket series.

Each is one statement with its values written in as literals (embedded_sql), as the store's other questions.
"""

from __future__ import annotations

from collections.abc import Sequence

from inquest.core import Window
from inquest.tools.backends.embedded_sql import between, literal, service_filter


def metric_summary_sql(window: Window, names: Sequence[str], service: str | None) -> str:
    return f"""
            SELECT "service.name" AS service, "host.name" AS host, name,
                   round(avg(value), 3) AS mean, round(max(value), 3) AS max,
                   round(arg_max(value, timestamp), 3) AS last, count(*) AS points
            FROM metrics WHERE {between('timestamp', window)} AND name IN {literal(tuple(names))}
              {service_filter(service)}
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


def metric_stats_sql(window: Window, names: Sequence[str]) -> str:
    return f"""
            SELECT "service.name" AS service, "host.name" AS host, name, count(*) AS points,
                   round(median(value), 4) AS median, round(mad(value), 4) AS mad,
                   round(quantile_cont(value, 0.9), 4) AS p90, round(max(value), 4) AS max,
                   round(arg_min(value, timestamp), 4) AS first, round(arg_max(value, timestamp), 4) AS last
            FROM metrics WHERE {between('timestamp', window)} AND name IN {literal(tuple(names))}
              AND value IS NOT NULL AND NOT isnan(value)
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""


def metric_series_sql(window: Window, names: Sequence[str], cumulative: Sequence[str], bucket_seconds: int) -> str:
    seconds = int(bucket_seconds)
    # A running total says something only through its increases: each stream (same series and
    # attributes) is differenced against its previous point, looked for up to ten buckets earlier; a
    # drop is a reset, after which the value itself is the increase. A point's own temporality
    # (stored at ingest) wins over the caller's list.
    return f"""
            WITH pts AS (
              SELECT "service.name" AS service, "host.name" AS host, attributes->>'service.version' AS version, name,
                     attributes->>'le' AS le, unit, timestamp, value,
                     coalesce(attributes->>'inquest.temporality',
                              CASE WHEN name IN {literal(tuple(cumulative) or ('',))} THEN 'cumulative'
                                   ELSE 'gauge' END) AS temporality,
                     lag(value) OVER (PARTITION BY "service.name", "host.name", name, CAST(attributes AS VARCHAR)
                                      ORDER BY timestamp) AS prev
              FROM metrics
              WHERE timestamp >= {literal(window.start)} - INTERVAL {10 * seconds} SECOND
                AND timestamp < {literal(window.end)} AND name IN {literal(tuple(names))}
                AND value IS NOT NULL AND NOT isnan(value)
            ), vals AS (
              SELECT *, CASE WHEN temporality <> 'cumulative' THEN value WHEN prev IS NULL THEN NULL
                             WHEN value < prev THEN value ELSE value - prev END AS v
              FROM pts WHERE {between('timestamp', window)}
            )
            SELECT service, host, version, name, le, any_value(unit) AS unit, any_value(temporality) AS temporality,
                   time_bucket(INTERVAL {seconds} SECOND, timestamp) AS bucket, count(*) AS points,
                   round(avg(v), 6) AS mean, round(sum(v), 6) AS total
            FROM vals WHERE v IS NOT NULL
            GROUP BY service, host, version, name, le, bucket ORDER BY service, host, name, le, bucket"""
