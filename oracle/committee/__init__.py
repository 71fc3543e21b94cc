"""A committee of oracle operators: price reports signed by ``quorum`` of n independent daemons.

    messages   signed envelopes between members (EIP-191), proposals
    schedule   the rotating leader of each round, the next in line after a timeout
    signerset  who may sign: the feed's ``signers()`` and ``quorum()``
    local      a member's own answer for an interval, from its own store
    policy     the follower's rule (sign or refuse, audited; never two reports a round)
    peers      the HTTP client to the other members
    proposer   one leader attempt: endorse, collect signatures, transmit
    rounds     a round from any member's side (lead, wait, take over)
    routes     ``POST /committee/sign`` on the daemon's API
    service    ``Committee``: the above wired from ``[committee]``

Only price reports go through the committee; see README ("A committee of operators") for why
anomaly and optimisation reports stay single-signer.
"""

from oracle.committee.service import Committee

__all__ = ["Committee"]
