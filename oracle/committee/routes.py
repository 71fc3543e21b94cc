"""The peer endpoint, mounted by the API: ``POST /committee/sign`` takes a signed proposal and
answers a signed signature or refusal; ``GET /committee/status`` shows the committee."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request

from oracle.committee.errors import MessageRefused
from oracle.committee.messages import open_envelope, seal
from oracle.errors import RetryableError

if TYPE_CHECKING:
    from oracle.committee.service import Committee


def committee_router(committee: Committee) -> APIRouter:
    router = APIRouter(prefix="/committee", tags=["committee"])

    @router.post("/sign")
    async def sign(request: Request) -> dict[str, Any]:
        """Sign a proposal when this member's policy allows it; refusals are signed too."""
        from starlette.concurrency import run_in_threadpool

        try:
            envelope = await request.json()
        except ValueError:
            raise HTTPException(400, "body: not JSON") from None
        return await run_in_threadpool(answer, envelope)

    def answer(envelope: Any) -> dict[str, Any]:
        now = committee.clock()
        try:
            signers = committee.signers.current().signers
        except RetryableError as err:
            raise HTTPException(503, f"signer set unavailable: {err}") from err
        try:
            opened = open_envelope(envelope, committee.domain, signers, now,
                                   committee.settings.max_message_age_s, kinds=("propose",))
            round_id, decision = committee.policy.decide(opened.sender, opened.body)
        except MessageRefused as err:
            raise HTTPException(400, err.reason) from err
        except RetryableError as err:
            raise HTTPException(503, str(err)) from err
        kind, body = decision.reply(round_id)
        return seal(committee.account, kind, body, committee.domain, committee.clock())

    @router.get("/status")
    def status() -> dict[str, Any]:
        """This member, the configured members in leader order, the quorum."""
        return {"me": committee.account.address, "members": list(committee.schedule.members),
                "quorum": committee.settings.quorum,
                "leader_timeout_s": committee.settings.leader_timeout_s}

    return router
