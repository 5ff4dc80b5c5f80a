"""Delivery: claims due follow-ups, sends them, and records each outcome; never twice, never lost.

`claims` (leases), `prepare` (text and the gate of review, outside any transaction), `stream`
(the crash guarantee: at most one `uncertain` per connection), `outcomes`, `sweep` (dead
streams, expiry), `wake` (when to look again) and `engine` (one pass).
"""

from service.delivery.engine import Delivery
from service.delivery.outcomes import Summary

__all__ = ["Delivery", "Summary"]
