"""The notification routes for people: subscriptions and a subscription's delivery log.

As in ``render``, every value from the API goes in as ``Text``, never as markup.
"""

from __future__ import annotations

from typing import Final

from rich.table import Table

from core.responses import DeliveryListOut, SubscriptionCreatedOut, SubscriptionListOut
from provisioner.cli.render import short_time, text

STATUS_STYLES: Final = {"delivered": "green", "pending": "yellow", "failed": "bold red"}


def scope_label(project_id: str | None) -> str:
    return f"project:{project_id}" if project_id else "install"


def subscriptions_table(listing: SubscriptionListOut) -> Table:
    title = "Notification subscriptions of the install" + (
        f" and of project {listing.projectId}" if listing.projectId else ""
    )
    table = Table(title=f"{title} (times in UTC)", title_justify="left")
    table.add_column("Id", no_wrap=True)
    table.add_column("Scope", no_wrap=True)
    table.add_column("URL", overflow="fold", ratio=2)
    table.add_column("Events", overflow="fold", ratio=1)
    table.add_column("Created", overflow="fold")
    for sub in listing.subscriptions:
        table.add_row(
            text(sub.subscriptionId, "bold"),
            text(scope_label(sub.projectId)),
            text(sub.url),
            text(", ".join(sub.events)),
            text(short_time(sub.createdAt)),
        )
    return table


def created_lines(created: SubscriptionCreatedOut) -> list[tuple[str, str]]:
    """What ``notifications add`` says: the id, and the secret with the warning it is shown once."""
    scope = scope_label(created.projectId)
    return [
        (f"Subscribed {created.subscriptionId} ({scope}): {', '.join(created.events)}", "green"),
        (
            f"Signing secret (shown only now; keep it to verify X-Provisioner-Signature): {created.secret}",
            "bold",
        ),
    ]


def deliveries_table(log: DeliveryListOut) -> Table:
    table = Table(
        title=f"Deliveries to {log.subscriptionId}, newest first (times in UTC)", title_justify="left"
    )
    table.add_column("Event", no_wrap=True)
    table.add_column("Type", no_wrap=True)
    table.add_column("Job", overflow="fold")
    table.add_column("Status", no_wrap=True)
    table.add_column("Attempts", justify="right")
    table.add_column("Last answer", overflow="fold", ratio=1)
    table.add_column("Last attempt", overflow="fold")
    for delivery in log.deliveries:
        answer = str(delivery.lastStatusCode) if delivery.lastStatusCode is not None else ""
        if delivery.lastError:
            answer = f"{answer} {delivery.lastError}".strip()
        table.add_row(
            text(delivery.eventId),
            text(delivery.type),
            text(delivery.jobId or ""),
            text(delivery.status, STATUS_STYLES.get(delivery.status, "")),
            text(delivery.attempts),
            text(answer),
            text(short_time(delivery.lastAttemptAt) if delivery.lastAttemptAt else ""),
        )
    return table
