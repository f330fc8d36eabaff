"""Configuration, read once from the environment (prefix-free, documented in the README)."""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.domain.checkout import DROP_RUSH_HOURS
from app.domain.outbox import RetryPolicy, Target
from app.domain.shop_confirmation import AskWhen, ShopRules

DEFAULT_DATA_DIR = Path("var")


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["dev", "test", "prod"] = "dev"
    data_dir: Path = DEFAULT_DATA_DIR
    database_url: str | None = Field(
        default=None, description="postgres://… or sqlite://…; default: SQLite file in data_dir"
    )
    redis_url: str | None = Field(
        default=None, description="redis://…; default: an embedded redis-server in data_dir"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = False

    graphiql: bool | None = Field(default=None, description="default: on unless prod")
    introspection: bool | None = Field(default=None, description="default: on unless prod")
    max_query_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_intake_batch: int = 20000
    # Request bodies (app/limits.py): refused with 413 before they are read past the cap.
    max_body_bytes: int = Field(
        default=256 * 1024, description="/graphql without an integration token"
    )
    max_integration_body_bytes: int = Field(
        # a 20,000-row applyStockSnapshots is 3.3 MiB compact, 5.1 MiB indented by 4 spaces
        default=8 * 1024 * 1024,
        description="/graphql with a valid integration token (1C batches)",
    )
    max_webhook_body_bytes: int = Field(
        default=64 * 1024, description="payment notifications and every other path"
    )
    # Query cost (app/schema/cost.py): objects returned, lists sized by first: or an estimate.
    max_slack_body_bytes: int = Field(
        default=256 * 1024, description="Slack clicks (they carry the whole message)"
    )
    max_query_cost: int = Field(default=10000, description="per request, without a token")
    max_query_cost_integration: int = Field(
        default=50000, description="per request with an integration token (1C, admin tools)"
    )
    query_budget_per_second: int | None = Field(
        default=None,
        description="cost per client IP per second, no token; at least MAX_QUERY_COST; "
        "0: off; default: 20000, off when ENVIRONMENT=test",
    )
    # Trusted documents and HTTP caching (app/schema/documents.py).
    trusted_documents: Literal["off", "permissive", "strict"] | None = Field(
        default=None, description="default: strict in prod, else permissive"
    )
    persisted_documents_file: Path | None = Field(
        default=None, description="default: frontend-contract/persisted-documents.json"
    )
    catalog_cache_seconds: int = Field(default=5, description="max-age of anonymous catalog GETs")
    catalog_stale_seconds: int = Field(
        default=30, description="stale-while-revalidate of anonymous catalog GETs"
    )
    # The shared response cache (app/services/response_cache/): anonymous catalog reads.
    response_cache: bool | None = Field(
        default=None, description="on|off; default: on, off when ENVIRONMENT=test"
    )
    response_cache_entries: int = Field(default=5000, description="entries kept per process")
    response_cache_max_bytes: int = Field(
        default=256 * 1024 * 1024, description="answer bytes kept per process"
    )
    response_cache_max_age_seconds: float = Field(
        default=60, description="an entry is computed again after this, invalidated or not"
    )
    response_cache_stock_list_seconds: float = Field(
        default=1, description="max age of a products list filtered by inStockOnly"
    )
    payment_timeout_minutes: int = Field(default=15, description="unpaid orders cancel after")
    payment_return_url: str | None = Field(
        default=None, description="default: this service's own address (HOST:PORT)"
    )
    storefront_url: str | None = Field(
        default=None, description="links in messages to customers; default: HOST:PORT"
    )
    # Fair under bots: throttles per client address and per device id (calls per minute, as a
    # burst of as many; 0 turns one off), the one-unpaid-order rule, idle carts.
    checkout_throttles: bool | None = Field(
        default=None, description="default: on, off when ENVIRONMENT=test"
    )
    throttle_create_cart_per_device: int = 10
    throttle_create_cart_per_address: int = 60
    throttle_change_cart_per_device: int = Field(default=60, description="addToCart, setCartLine")
    throttle_change_cart_per_address: int = 300
    throttle_place_order_per_device: int = 10
    throttle_place_order_per_address: int = 60
    drop_rush_hours: int = Field(
        default=DROP_RUSH_HOURS,
        description="after a drop's releaseAt: one unpaid order per shopper for its variants",
    )
    cart_idle_hours: int = Field(
        default=168, description="a cart untouched this long is deleted, its holds released"
    )
    # The waiting room of a drop with queueMode LOTTERY (README: Drops with a waiting room).
    queue_secret_key: str = Field(
        default="", description="signs queue tickets and passes; required in prod"
    )
    queue_pass_minutes: int = Field(default=10, description="an admission lasts this long")
    queue_opens_minutes: int = Field(default=60, description="the pre-queue opens before release")
    queue_tick_seconds: float = Field(default=1.0, description="admissions at most this often")
    queue_admit_per_tick: int = Field(default=100, description="most admitted in one tick")
    queue_pass_extend_minutes: int = Field(
        default=5, description="a pass in use (cart, checkout) lasts at least this much longer"
    )
    queue_pass_cap_minutes: int = Field(
        default=30, description="a pass never lasts longer than this after its admission"
    )
    queue_stream_lag_ms: int = Field(
        default=1000, description="a streamed stock figure shows a commit at most this late"
    )
    throttle_join_queue_per_device: int = 10
    throttle_join_queue_per_address: int = 60
    throttle_queue_status_per_device: int = 120

    # Payments: YooKassa when YOOKASSA_URL is set (`vitrina dev` aims it at a local simulator),
    # else the offline `dummy` provider; PAYMENT_PROVIDER forces one.
    payment_provider: Literal["dummy", "yookassa"] | None = None
    yookassa_url: str | None = Field(default=None, description="https://api.yookassa.ru/v3/")
    yookassa_shop_id: str = ""
    yookassa_secret_key: str = ""
    yookassa_capture: bool = Field(
        default=True, description="false: two-stage payments, captured from the admin API"
    )
    yookassa_vat_code: int = Field(default=1, description="receipt vat_code 1..12 (1: no VAT)")
    yookassa_notification_ips: list[str] = Field(
        default_factory=list,
        description="CIDRs notifications may come from; empty: any (they are re-read anyway)",
    )
    payment_poll_seconds: int = Field(default=60, description="re-read pending payments every")

    # Customer accounts.
    access_token_minutes: int = 15
    refresh_token_days: int = 30
    password_time_cost: int = Field(default=3, description="argon2id iterations")
    password_memory_kib: int = Field(default=65536, description="argon2id memory")
    login_failures_per_account: int = Field(default=5, description="per login_window_minutes")
    login_failures_per_ip: int = Field(default=30, description="per login_window_minutes")
    login_window_minutes: int = 15
    verification_code_minutes: int = 15
    messages_per_address: int = Field(default=5, description="codes/links per message_window")
    messages_per_ip: int = Field(default=20, description="codes/links per message_window")
    message_window_minutes: int = 60
    password_reset_minutes: int = 30

    # 1C HTTP service and RetailCRM; unset in dev: local simulators stand in (`vitrina dev`).
    onec_url: str | None = Field(
        default=None, description="e.g. https://1c.brand.ru/base/hs/vitrina"
    )
    onec_username: str = ""
    onec_password: str = ""
    retailcrm_url: str | None = Field(
        default=None, description="e.g. https://brand.retailcrm.ru/api/v5"
    )
    retailcrm_api_key: str = ""
    retailcrm_site: str = "vitrina"
    retailcrm_max_rps: float = Field(
        default=9, description="RetailCRM allows 10 per API key; 9 leaves room for clock jitter"
    )
    onec_lanes: int = Field(default=8, description="aggregates delivered to 1C at once")
    retailcrm_lanes: int = Field(default=2, description="aggregates sent to RetailCRM at once")
    notify_lanes: int = Field(default=2, description="customers messaged at once")
    slack_lanes: int = Field(default=4, description="shop channels posted to at once")
    # Inbound from 1C and RetailCRM (issue 15: app/services/channels/)
    max_shop_receipts: int = Field(default=5000, description="receipts per recordShopSales")
    max_shop_receipt_lines: int = Field(default=20000, description="lines per recordShopSales")
    max_order_status_updates: int = Field(default=1000, description="per updateOrderStatuses")
    retailcrm_history_seconds: int = Field(
        default=30, description="how often RetailCRM's order and customer histories are pulled"
    )
    retailcrm_history_pages: int = Field(
        default=10, description="pages (100 entries each) one pull applies at most per history"
    )
    retailcrm_status_map: dict[str, str] = Field(
        default_factory=lambda: {
            "send-to-delivery": "shipped",
            "delivering": "shipped",
            "complete": "delivered",
            "return": "returned",
            "cancel-other": "cancelled",
            "no-product": "cancelled",
        },
        description="RetailCRM order status code → shipped, delivered, returned (in full) or"
        " cancelled; codes not listed change nothing (payment is ours to say)",
    )
    retailcrm_item_return_statuses: list[str] = Field(
        default_factory=lambda: ["return"],
        description="RetailCRM line (productStatuses) codes meaning the line came back: a"
        " return of that line's units only",
    )

    # Shop confirmations in Slack
    slack_bot_token: str = Field(default="", description="xoxb-…; empty: `vitrina dev` simulates")
    slack_signing_secret: str = Field(default="", description="checks interactivity requests")
    slack_url: str = Field(default="https://slack.com/api/", description="the Web API base")
    slack_socket_mode: bool = Field(
        default=False, description="receive clicks over Socket Mode instead of a public URL"
    )
    slack_app_token: str = Field(default="", description="xapp-…, for Socket Mode")
    shop_confirmation_minutes: int = Field(default=20, description="a shop has to answer")
    shop_confirmation_max_hops: int = Field(default=3, description="moves of a line at most")
    shop_confirmation_ask: Literal["paid", "placed"] = Field(
        default="paid", description="ask shops once the order is paid, or as soon as it is placed"
    )
    slack_post_timeout_minutes: int = Field(
        default=20, description="a request Slack has not accepted by then moves on"
    )
    # Partners' webhooks (docs/partners.md)
    partner_secret_key: str = Field(
        default="", description="derives each subscription's signing secret; required in prod"
    )
    partner_lanes: int = Field(default=16, description="subscriptions delivered to at once")
    partner_subscription_concurrency: int = Field(
        default=4, description="requests in flight to one subscription"
    )
    partner_timeout_seconds: float = Field(default=5.0, description="a webhook request's limit")
    partner_max_attempts: int = Field(
        default=16, description="tries of one event: 2 to 4 hours with the default backoff"
    )
    partner_backoff_cap_seconds: float = 3600.0
    partner_pause_after_hours: float = Field(
        default=24.0, description="a subscription whose receiver fails this long is paused"
    )
    partner_rate_limit_per_second: float = Field(
        default=4.0, description="a partner token's requests per second, sustained"
    )
    partner_rate_limit_burst: int = Field(default=40, description="a partner token's bucket")
    webhook_allow_loopback: bool | None = Field(
        default=None, description="webhooks to 127.0.0.1 (dev, tests); default: on unless prod"
    )
    outbox_max_attempts: int = 12
    outbox_backoff_base_seconds: float = 1.0
    outbox_backoff_cap_seconds: float = 600.0
    slack_backoff_cap_seconds: float = Field(
        default=30.0, description="Slack calls are retried at least this often"
    )

    # Instashop (README: Instashop): off unless INSTAGRAM_ACCESS_TOKEN is set (`vitrina dev`
    # aims it at a local simulator).
    instagram_access_token: str = Field(
        default="", description="the long-lived token to start from; then kept, encrypted"
    )
    instagram_user_id: str = Field(default="me", description="the account's id, or me")
    instagram_url: str = Field(default="https://graph.instagram.com", description="the API base")
    instagram_api_version: str = "v23.0"
    instagram_token_key: str = Field(
        default="", description="Fernet key the token is encrypted with; required in prod"
    )
    instagram_proxy: str | None = Field(default=None, description="http://… for outbound calls")
    instagram_timeout_seconds: float = 10.0
    instagram_sync_minutes: int = Field(default=5, description="poll for new posts every")
    instagram_page_size: int = Field(default=25, description="posts per page, 1..100")
    instagram_usage_pause_percent: int = Field(
        default=80, description="usage header at or above this: pause until the next sync"
    )
    instashop_auto_link: Literal["off", "sku"] = Field(
        default="off", description="sku: link what a caption names by exact SKU or 1C article"
    )
    media_store: Literal["filesystem", "s3"] = Field(
        default="filesystem", description="where Instashop files go: DATA_DIR/media or S3"
    )
    media_url: str = Field(
        default="/media/", description="public base of stored files (a CDN or bucket URL)"
    )
    s3_bucket: str = ""
    s3_endpoint_url: str | None = Field(default=None, description="for an S3-compatible store")
    s3_region: str = "us-east-1"
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    s3_prefix: str = Field(default="instashop/", description="keys start with it")
    stock_stream_key: str = Field(
        default="vitrina:stock", description="the redis stream of stock figures"
    )
    stock_stream_max_len: int = Field(default=10000, description="entries kept (MAXLEN ~)")
    stock_stream_coalesce_ms: int = Field(default=15, description="writes gathered per publish")
    stock_stream_block_ms: int = Field(default=1000, description="a feed's XREAD BLOCK")
    stock_feed_refresh_ms: int = Field(
        default=500, description="re-read watched variants while the feed is down or expired"
    )
    stock_feed_catch_up_ms: int = Field(
        default=400,
        description="compare held figures' versions with the database (a lost publish); 0: off",
    )
    ws_init_timeout_seconds: float = Field(default=3.0, description="connection_init wait")
    ws_ping_seconds: float = Field(default=15.0, description="graphql-transport-ws keep-alive")
    max_subscriptions_per_connection: int = 10
    max_subscriptions_per_process: int = Field(default=10000, description="live subscriptions")
    max_sse_streams_per_client: int = Field(
        default=8, description="open GraphQL-over-SSE streams per client address"
    )

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.outbox_backoff_base_seconds),
            cap=timedelta(seconds=self.outbox_backoff_cap_seconds),
            max_attempts=self.outbox_max_attempts,
        )

    def retry_policy_for(self, target: Target) -> RetryPolicy:
        """The outbox's retries for one system. Slack calls are retried at least every
        `slack_backoff_cap_seconds` (a shop is waiting for the message) and until the post
        timeout has passed, when the request has moved on without them."""
        if target is not Target.SLACK:
            return self.retry_policy
        cap = timedelta(seconds=self.slack_backoff_cap_seconds)
        covering = math.ceil(self.shop_rules.post_timeout / (cap / 2)) + 8  # + the ramp to cap
        return RetryPolicy(
            base=timedelta(seconds=self.outbox_backoff_base_seconds),
            cap=cap,
            max_attempts=max(self.outbox_max_attempts, covering),
        )

    @property
    def shop_rules(self) -> ShopRules:
        return ShopRules(
            window=timedelta(minutes=self.shop_confirmation_minutes),
            max_hops=self.shop_confirmation_max_hops,
            post_timeout=timedelta(minutes=self.slack_post_timeout_minutes),
            ask_when=AskWhen(self.shop_confirmation_ask),
        )

    @property
    def partner_retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            base=timedelta(seconds=self.outbox_backoff_base_seconds),
            cap=timedelta(seconds=self.partner_backoff_cap_seconds),
            max_attempts=self.partner_max_attempts,
        )

    @property
    def resolved_partner_secret_key(self) -> str:
        """The key webhook secrets derive from; outside prod a fixed one stands in (dev
        secrets are then predictable: never use them for a real partner)."""
        if self.partner_secret_key or self.environment == "prod":
            return self.partner_secret_key
        return "vitrina-dev-partner-secret-key"

    @property
    def webhook_loopback_allowed(self) -> bool:
        if self.webhook_allow_loopback is not None:
            return self.webhook_allow_loopback
        return self.environment != "prod"

    @property
    def webhook_https_required(self) -> bool:
        return self.environment == "prod"

    @property
    def resolved_payment_provider(self) -> str:
        if self.payment_provider:
            return self.payment_provider
        return "yookassa" if self.yookassa_url else "dummy"

    @property
    def resolved_payment_return_url(self) -> str:
        return self.payment_return_url or self._own_url

    @property
    def resolved_storefront_url(self) -> str:
        return self.storefront_url or self._own_url

    @property
    def _own_url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{(self.data_dir / 'vitrina.sqlite3').resolve()}"

    @property
    def resolved_query_budget_per_second(self) -> int:
        if self.query_budget_per_second is not None:
            return self.query_budget_per_second
        # tests send thousands of requests from one address at one frozen instant
        return 0 if self.environment == "test" else 20000

    @property
    def response_cache_on(self) -> bool:
        if self.response_cache is not None:
            return self.response_cache
        # tests write rows behind the intake services' backs and read them back at once
        return self.environment != "test"

    @property
    def checkout_throttles_on(self) -> bool:
        if self.checkout_throttles is not None:
            return self.checkout_throttles
        # tests send hundreds of checkout calls from one address at one frozen instant
        return self.environment != "test"

    @property
    def trusted_documents_mode(self) -> Literal["off", "permissive", "strict"]:
        if self.trusted_documents is not None:
            return self.trusted_documents
        return "strict" if self.environment == "prod" else "permissive"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else self.environment != "prod"

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return self.environment != "prod"
