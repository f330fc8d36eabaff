"""Integration tokens for the admin: who may call, since and until when; revoking (admin scope).

A token's secret is never shown again after `vitrina create-token` printed it: only its hash
is stored, and this API does not expose even that.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.domain.access import Scope
from app.domain.tokens import TokenState
from app.models.auth import IntegrationToken as IntegrationTokenRow
from app.schema.context import Info
from app.schema.errors import UserError, payload, require_scope
from app.services import tokens

strawberry.enum(Scope, name="IntegrationScope")
strawberry.enum(TokenState, name="IntegrationTokenState")


@strawberry.type
class IntegrationToken:
    id: strawberry.ID
    name: str
    scopes: list[Scope]
    state: TokenState = strawberry.field(description="only ACTIVE tokens authenticate")
    created_at: datetime
    expires_at: datetime | None = strawberry.field(description="null: never expires")
    last_used_at: datetime | None = strawberry.field(
        description="the last authenticated call, written at most once a minute"
    )
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: IntegrationTokenRow, now: datetime) -> IntegrationToken:
        return cls(
            id=strawberry.ID(str(row.id)),
            name=row.name,
            scopes=sorted(Scope(s) for s in row.scopes),
            state=tokens.state_of(row, now),
            created_at=row.created_at,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


@strawberry.type
class RevokeIntegrationTokenPayload:
    token: IntegrationToken | None = strawberry.field(description="the token, now REVOKED")
    errors: list[UserError]


@strawberry.type
class TokenAdminQuery:
    @strawberry.field(description="every integration token, revoked and expired ones too (admin)")
    async def integration_tokens(self, info: Info) -> list[IntegrationToken]:
        await require_scope(info, Scope.ADMIN)
        return [IntegrationToken.of(row, info.context.now) for row in await tokens.list_tokens()]


@strawberry.type
class TokenAdminMutation:
    @strawberry.mutation(
        description="revoke an integration token (admin): it stops working at once. Revoking "
        "a revoked token changes nothing; an unknown id is NOT_FOUND"
    )
    async def revoke_integration_token(
        self, info: Info, id: strawberry.ID
    ) -> RevokeIntegrationTokenPayload:
        await require_scope(info, Scope.ADMIN)
        now = info.context.now
        return await payload(
            tokens.revoke_token(token_id=str(id), now=now),
            lambda row: RevokeIntegrationTokenPayload(
                token=IntegrationToken.of(row, now), errors=[]
            ),
            lambda errors: RevokeIntegrationTokenPayload(token=None, errors=errors),
        )
