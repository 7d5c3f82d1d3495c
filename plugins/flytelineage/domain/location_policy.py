"""Which data locations the product may read from or register (pure; one place for the rule).

A location is allowed when it is an ``s3://`` URI with a plain bucket name (no user info, port, query or fragment,
no control characters or whitespace) and, when ``read_buckets`` is set (the Variable key), its bucket is one of
them. ``read_buckets`` empty means any bucket the credentials can reach, which is the default; setting it is
recommended (README). Anything else, e.g. ``file:///etc/``, ``http://169.254.169.254/latest/``, ``s3://other/``,
gets a reason: the caller records it as a problem (a skipped dataset, a rejected read), never as a table.

The ``read_buckets`` allowlist lives here and only here (``in_read_buckets``): grouping asks it before handing a URI
to the S3 reader (``literal_datasets``), Glue before registering a location; the reader hook reads what it is given.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import urlsplit

ALLOWED_SCHEME = "s3"
_BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9.\-]{0,61}[a-z0-9])?")
"""S3 bucket names: up to 63 lowercase letters, digits, dots and hyphens, starting and ending alphanumeric."""
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


def bucket_of(uri: str) -> str:
    """The bucket (network location) of an object URI, e.g. ``s3://b/k`` -> ``b``; empty for local paths."""
    return urlsplit(uri).netloc


def in_read_buckets(uri: str, read_buckets: Collection[str] = ()) -> bool:
    """True when ``read_buckets`` is empty or names the URI's bucket (the allowlist alone, whatever the scheme)."""
    return not read_buckets or bucket_of(uri) in read_buckets


def location_problem(uri: str, read_buckets: Collection[str] = ()) -> str | None:
    """Why ``uri`` may not be read or registered, or None when it may."""
    if _UNSAFE.search(uri):
        return "the location contains whitespace or control characters"
    try:
        parts = urlsplit(uri)
    except ValueError as e:
        return f"the location is not a valid URI ({e})"
    if parts.scheme.lower() != ALLOWED_SCHEME:
        scheme = parts.scheme or "no scheme"
        return f"only s3:// locations are allowed, not {scheme}"
    if "@" in parts.netloc or ":" in parts.netloc or parts.query or parts.fragment:
        return "an s3:// location names a bucket only (no user info, port, query or fragment)"
    if not _BUCKET.fullmatch(parts.netloc):
        return f"{parts.netloc!r} is not a valid S3 bucket name"
    if not in_read_buckets(uri, read_buckets):
        return f"bucket {parts.netloc!r} is not in read_buckets"
    return None


def is_allowed(uri: str, read_buckets: Collection[str] = ()) -> bool:
    """True when ``location_problem`` finds nothing wrong with ``uri``."""
    return location_problem(uri, read_buckets) is None
