"""Records from an HTTP JSON API, with the standard library only (``urllib.request``) (P4, data gathering).

``fetch_json(url)`` returns the API's records (a list of JSON objects), following its pages:

- by a link in the body (``next_key="next"``: ``{"results": [...], "next": "https://...?page=2"}``; a dotted key
  such as ``"links.next"`` reaches into nested objects; a relative link is resolved against the page's URL), until
  the link is empty; or
- by a page-number parameter (``page_param="page"``: ``?page=1``, ``?page=2``, ...) until a page has no records;

at most ``pages`` pages (more is an error, not a silent cut). Each request has a ``timeout`` (seconds), is retried
``retries`` times with exponential backoff (``backoff · 2^k`` seconds) on a 5xx or 429 answer, a timeout or a
connection error — never on another 4xx —, and reads at most ``max_bytes`` (in chunks: a larger body is stopped and
refused). A body that is not JSON (an HTML page), an HTTP error, a hang: each a one-line ``ConfigError`` naming the
URL and what to do. ``fetch_table`` reads the records into a ``Table`` (``read.table_from_records``) and, with
``save_to``, writes them as CSV atomically once every page has arrived.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from genlab.data.tabular.read import Table, table_from_records
from genlab.errors import ConfigError

log = logging.getLogger(__name__)
CHUNK = 64 * 1024
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class _Retryable(Exception):
    """A failure worth another try (5xx, 429, timeout, connection); ``final`` is the message if none is left."""

    def __init__(self, final: str) -> None:
        super().__init__(final)
        self.final = final


def get_json(url: str, *, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
             max_bytes: int = 50_000_000, sleep: Callable[[float], None] = time.sleep) -> Any:
    """The JSON body at ``url`` (one GET), retried as the module says."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ConfigError(f"{url!r} is not an http(s) URL: pass one that starts with http:// or https://")
    for attempt in range(retries + 1):
        try:
            return _get_once(url, timeout=timeout, max_bytes=max_bytes)
        except _Retryable as e:
            if attempt == retries:
                tries = f"{retries + 1} tries" if retries else "1 try"
                raise ConfigError(f"{e.final} ({tries}): try again later, or raise timeout=/retries=") from None
            wait = backoff * 2 ** attempt
            log.info("%s; retry %d of %d in %.2f s", e.final, attempt + 1, retries, wait)
            sleep(wait)
    raise AssertionError("unreachable")


def _get_once(url: str, *, timeout: float, max_bytes: int) -> Any:
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "genlab"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            size = response.headers.get("Content-Length")
            if size and size.isdigit() and int(size) > max_bytes:
                raise ConfigError(_too_big(url, max_bytes, f"{int(size):,} bytes"))
            chunks, total = [], 0
            while chunk := response.read(CHUNK):
                total += len(chunk)
                if total > max_bytes:
                    raise ConfigError(_too_big(url, max_bytes, "more"))
                chunks.append(chunk)
            body, ctype = b"".join(chunks), response.headers.get("Content-Type", "")
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as e:
        where = f"{url} answered HTTP {e.code} {e.reason}"
        if e.code in RETRY_STATUS:
            raise _Retryable(where) from None
        raise ConfigError(f"{where}: check the URL and its parameters (not retried: a {e.code} will not change)"
                          ) from None
    except TimeoutError:
        raise _Retryable(f"{url} did not answer within {timeout:g} s") from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise _Retryable(f"{url} did not answer within {timeout:g} s") from None
        raise _Retryable(f"cannot reach {url}: {e.reason}") from None
    except OSError as e:  # a reset connection, a refused one
        raise _Retryable(f"cannot reach {url}: {e}") from None
    try:
        text = body.decode(charset, errors="replace")
        return json.loads(text)
    except (json.JSONDecodeError, LookupError):
        start = body[:80].decode("utf-8", errors="replace")
        raise ConfigError(f"{url} returned {ctype or 'no content type'}, not JSON; it begins {start!r}: pass the "
                          f"URL of a JSON API endpoint") from None


def _too_big(url: str, max_bytes: int, got: str) -> str:
    return (f"{url} sent {got} than max_bytes={max_bytes:,} bytes" if got == "more" else
            f"{url} announces {got}, over max_bytes={max_bytes:,}") + \
        ": raise max_bytes, or ask for fewer records per page"


def _with_params(url: str, params: Mapping[str, Any]) -> str:
    if not params:
        return url
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = [(k, v) for k, v in query if k not in params] + [(k, str(v)) for k, v in params.items()]
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def _dig(body: Any, key: str) -> Any:
    for part in key.split("."):
        body = body.get(part) if isinstance(body, dict) else None
    return body


def records_of(body: Any, url: str, records_key: str | None = None) -> list[Any]:
    """The records of one page: the body itself when it is a list, else the list under ``records_key`` (dotted), or
    the only list-valued key of the object (``results``, ``data``, ``items``, ...)."""
    if isinstance(body, list):
        return body
    if not isinstance(body, dict):
        raise ConfigError(f"{url} returned a JSON {type(body).__name__}, not records: pass the URL of an endpoint "
                          f"that returns a list of objects")
    if records_key:
        found = _dig(body, records_key)
        if not isinstance(found, list):
            raise ConfigError(f"{url}: the body has no list under {records_key!r}; its keys are "
                              f"{', '.join(map(repr, body))}: pass records_key= one of them")
        return found
    lists = [k for k, v in body.items() if isinstance(v, list)]
    if len(lists) != 1:
        raise ConfigError(f"{url}: cannot tell which key holds the records (keys {', '.join(map(repr, body))}): pass "
                          f"records_key=")
    return body[lists[0]]


def fetch_json(url: str, *, timeout: float = 10.0, retries: int = 3, backoff: float = 0.5,
               max_bytes: int = 50_000_000, params: Mapping[str, Any] | None = None, pages: int = 100,
               next_key: str | None = None, page_param: str | None = None, first_page: int = 1,
               records_key: str | None = None, sleep: Callable[[float], None] = time.sleep) -> list[Any]:
    """All records of the JSON API at ``url`` (``params`` added to its query), page after page (see the module's
    docstring): a list of objects."""
    if next_key and page_param:
        raise ConfigError("pass next_key (a link in the body) or page_param (a page number), not both")
    if pages < 1:
        raise ConfigError(f"pages must be ≥ 1, got {pages}")
    get = dict(timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_bytes, sleep=sleep)
    records: list[Any] = []
    if page_param:
        for k in range(pages):
            page_url = _with_params(url, {**(params or {}), page_param: first_page + k})
            page = records_of(get_json(page_url, **get), page_url, records_key)
            if not page:
                return records
            records.extend(page)
        raise ConfigError(f"{url} has more than {pages} pages: raise pages= (--max-pages), or ask for more records "
                          f"per page")
    page_url, seen = _with_params(url, params or {}), set()
    for _ in range(pages):
        seen.add(page_url)
        body = get_json(page_url, **get)
        records.extend(records_of(body, page_url, records_key))
        link = _dig(body, next_key) if next_key and isinstance(body, dict) else None
        if not link:
            return records
        if not isinstance(link, str):
            raise ConfigError(f"{page_url}: the next-page link {next_key!r} is {link!r}, not a URL: pass the key "
                              f"that holds the next page's URL")
        page_url = urllib.parse.urljoin(page_url, link)
        if page_url in seen:
            raise ConfigError(f"{url}: page links go round in a circle (back to {page_url}): check next_key")
    raise ConfigError(f"{url} has more than {pages} pages: raise pages= (--max-pages), or ask for more records per "
                      f"page")


def fetch_table(url: str, *, save_to: str | Path | None = None, dtypes: Mapping[str, str] | None = None,
                dates: tuple[str, ...] | list[str] = (), types: Mapping[str, str] | None = None,
                missing: str = "keep", drop: tuple[str, ...] | list[str] = (), **fetch: Any) -> Table:
    """The records of ``fetch_json(url, **fetch)`` as a ``Table`` (types inferred as ``read.read_table`` does);
    ``save_to``: also written there as CSV, atomically, after every page arrived (never half a file)."""
    records = fetch_json(url, **fetch)
    if not records:
        raise ConfigError(f"{url} returned no records: check the URL and its parameters")
    table = table_from_records(records, source=url, dtypes=dtypes, dates=dates, types=types, missing=missing,
                               drop=drop)
    if save_to is not None:
        from genlab.atomic import atomic_write_text

        atomic_write_text(save_to, table.frame.to_csv(index=False))
    return table
