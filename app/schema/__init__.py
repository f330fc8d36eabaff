"""The GraphQL schema: strawberry types and thin resolvers over the services."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from app.schema.accounts.identity import AccountIdentityMutation
from app.schema.accounts.resolvers import AccountMutation, AccountQuery
from app.schema.admin.customers import CustomerAdminMutation, CustomerAdminQuery
from app.schema.admin.looks import LookAdminMutation, LookAdminQuery
from app.schema.admin.outbox import OutboxAdminMutation, OutboxAdminQuery
from app.schema.admin.payments import PaymentAdminMutation, PaymentAdminQuery
from app.schema.admin.receipts import ReceiptAdminQuery
from app.schema.admin.shops import ShopAdminMutation, ShopAdminQuery
from app.schema.admin.tokens import TokenAdminMutation, TokenAdminQuery
from app.schema.admin.waiting_room import WaitingRoomAdminQuery
from app.schema.catalog.intake import IntakeMutation
from app.schema.catalog.looks import LooksMutation, LooksQuery
from app.schema.catalog.queries import CatalogQuery
from app.schema.catalog.subscriptions import CatalogSubscription
from app.schema.channels.sales import ShopSalesMutation
from app.schema.channels.statuses import OrderStatusMutation
from app.schema.checkout.queue import QueueMutation, QueueQuery
from app.schema.checkout.queue_subscriptions import QueueSubscription
from app.schema.checkout.resolvers import CheckoutMutation, CheckoutQuery
from app.schema.cost import QueryCostLimiter
from app.schema.operations import RequireOperationName
from app.schema.partners.limits import PartnerRateLimiter
from app.schema.partners.resolvers import PartnerMutation, PartnerQuery
from app.schema.plans import planned_executor, registered_texts
from app.schema.reporting import VitrinaSchema
from app.schema.validation import ValidateInput
from app.settings import Settings

Query = merge_types(
    "Query",
    (
        CatalogQuery,
        CheckoutQuery,
        OutboxAdminQuery,
        PaymentAdminQuery,
        AccountQuery,
        TokenAdminQuery,
        PartnerQuery,
        ShopAdminQuery,
        LooksQuery,
        LookAdminQuery,
        QueueQuery,
        WaitingRoomAdminQuery,
        CustomerAdminQuery,
        ReceiptAdminQuery,
    ),
)
Subscription = merge_types("Subscription", (CatalogSubscription, QueueSubscription))
Mutation = merge_types(
    "Mutation",
    (
        CheckoutMutation,
        IntakeMutation,
        OutboxAdminMutation,
        PaymentAdminMutation,
        AccountMutation,
        TokenAdminMutation,
        PartnerMutation,
        ShopAdminMutation,
        LooksMutation,
        LookAdminMutation,
        ShopSalesMutation,
        OrderStatusMutation,
        QueueMutation,
        CustomerAdminMutation,
        AccountIdentityMutation,
    ),
)


def is_unexpected(error: GraphQLError) -> bool:
    """A crash inside a resolver (not a GraphQL or domain error we raised on purpose)."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def build_schema(settings: Settings) -> strawberry.Schema:
    """The schema with the limits that keep one request from taking the service down."""
    # Factories: a fresh extension per request (the parse/validation LRU caches are shared).
    # The depth and alias rules are classes made once: the validation cache is keyed by the
    # rules, and a class made per request (as the limiters' own factories do) never hits it.
    limits = [
        *QueryDepthLimiter(max_depth=settings.max_query_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
    ]
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: AddValidationRules(limits),
        lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
        lambda: QueryCostLimiter(settings),
        lambda: PartnerRateLimiter(settings),
        lambda: ParserCache(maxsize=512),
        lambda: ValidationCache(maxsize=512),
        ValidateInput,  # every string argument: length, no NUL or controls (validation.py)
    ]
    extensions.append(RequireOperationName)  # after ValidationCache: it adds to its errors
    if not settings.introspection_enabled:
        extensions.append(DisableIntrospection)
    if settings.environment == "prod":
        extensions.append(lambda: MaskErrors(should_mask_error=is_unexpected))
    # no "Did you mean …?" naming the schema to callers who may not introspect it
    config = StrawberryConfig(disable_field_suggestions=not settings.introspection_enabled)
    return VitrinaSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=config,
        # the storefront's registered queries run from a plan made once (plans.py)
        execution_context_class=planned_executor(registered_texts(settings)),
    )


def contract_schema() -> strawberry.Schema:
    """The schema as the frontend contract sees it (limits do not change the SDL)."""
    return strawberry.Schema(query=Query, mutation=Mutation, subscription=Subscription)
