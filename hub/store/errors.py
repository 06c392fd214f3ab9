"""What the store raises instead of SQLAlchemy's exceptions, for the callers outside the store (the
web app's health check and navigation, the scheduler's leadership): a database that does not
answer is :class:`StoreUnavailable`, one of the hub's own errors (``nurture.errors``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import SQLAlchemyError

from nurture.errors import RetryLater

__all__ = ["StoreUnavailable", "unavailable_on_error"]


class StoreUnavailable(RetryLater):
    """The database could not be reached, or failed a statement: try again later.

    Attributes:
        cause: the name of the database error's type (``OperationalError`` …): never its text, which
            can quote a statement's parameters.
    """

    def __init__(self, cause: BaseException) -> None:
        self.cause = type(cause).__name__
        super().__init__(f"the database did not answer ({self.cause})")


@contextmanager
def unavailable_on_error() -> Iterator[None]:
    """Raise :class:`StoreUnavailable` for any SQLAlchemy error inside the block."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise StoreUnavailable(exc) from exc
