"""The committee's Prometheus series, on the daemon's registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class CommitteeMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.rounds_led = Counter("oracle_committee_rounds_led_total",
                                  "Rounds this member proposed as leader, by outcome",
                                  ["outcome"], registry=registry)
        self.signed = Counter("oracle_committee_signed_total",
                              "Proposals this member signed", registry=registry)
        self.refused = Counter("oracle_committee_refused_total",
                               "Proposals this member refused to sign, by reason",
                               ["reason"], registry=registry)
        self.peers_reachable = Gauge("oracle_committee_peers_reachable",
                                     "Other members that answered the last request",
                                     registry=registry)
        self.peers = Gauge("oracle_committee_peers", "Other members in the committee",
                           registry=registry)
