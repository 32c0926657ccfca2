"""Where Redis is and which stream to use, found as the daemon finds them.

The URL: the ``url`` argument, else the file ``REDIS_URL_FILE`` names, else ``REDIS_URL``, else
``redis://127.0.0.1:6379``. ``REDIS_CLUSTER_NODES`` (``host:port,host:port``) makes it a Redis
Cluster; the user, password and TLS then still come from the URL. ``EXECUTOR_STREAM`` and
``EXECUTOR_KEY_PREFIX`` name the task stream and the results' prefix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import List, Mapping, Optional, Tuple
from urllib.parse import unquote, urlparse

from .errors import ErrorCode, ExecutorError, usage
from ._wire import DEFAULT_KEY_PREFIX, DEFAULT_STREAM, DEFAULT_TASK_BYTES, KEY_PREFIX

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379"
_NODES = re.compile(r"^$|^[^,\s]+:\d+(,[^,\s]+:\d+)*$")


def without_password(url: str) -> str:
    """The URL with anything before its last @ (but the scheme) and any password= hidden."""
    at = url.rfind("@")
    if at != -1:
        scheme = re.match(r"[a-z][a-z0-9+.-]*:/{0,2}", url, re.I)
        url = (scheme.group(0) if scheme else "") + "***" + url[at:]
    return re.sub(r"(password=)[^&#]*", r"\1***", url, flags=re.I)


def _config_error(message: str) -> ExecutorError:
    return ExecutorError(ErrorCode.CONFIG_INVALID, message)


@dataclass(frozen=True)
class Settings:
    url: str
    cluster_nodes: List[Tuple[str, int]] = field(default_factory=list)
    stream: str = DEFAULT_STREAM
    key_prefix: str = DEFAULT_KEY_PREFIX
    max_task_bytes: int = DEFAULT_TASK_BYTES

    @property
    def address(self) -> str:
        """host:port (or the cluster's nodes), never a password."""
        if self.cluster_nodes:
            return ",".join(f"{h}:{p}" for h, p in self.cluster_nodes)
        u = urlparse(self.url)
        return f"{u.hostname or '127.0.0.1'}:{u.port or 6379}"

    def credentials(self) -> dict:
        """The user, password and TLS of the URL, for the nodes of a cluster."""
        u = urlparse(self.url)
        out: dict = {}
        if u.username:
            out["username"] = unquote(u.username)
        if u.password:
            out["password"] = unquote(u.password)
        if u.scheme == "rediss":
            out["ssl"] = True
        return out


def resolve(
    url: Optional[str],
    stream: Optional[str],
    key_prefix: Optional[str],
    cluster_nodes: Optional[str],
    max_task_bytes: Optional[int],
    env: Mapping[str, str] = os.environ,
) -> Settings:
    if url is None:
        url_file = env.get("REDIS_URL_FILE")
        if url_file:
            try:
                with open(url_file, encoding="utf-8") as f:
                    url = f.read().strip()
            except OSError as err:
                raise _config_error(f"REDIS_URL_FILE={url_file!r} cannot be read: {err}") from err
        else:
            url = env.get("REDIS_URL") or DEFAULT_REDIS_URL
    if urlparse(url).scheme not in ("redis", "rediss", "unix"):
        raise _config_error(f"the Redis URL {without_password(url)!r} must start with redis://, rediss:// or unix://")
    try:
        urlparse(url).port
    except ValueError as err:
        raise _config_error(f"the Redis URL {without_password(url)!r} is invalid: {err}") from None
    nodes_text = env.get("REDIS_CLUSTER_NODES", "") if cluster_nodes is None else cluster_nodes
    if not _NODES.match(nodes_text):
        raise _config_error(f"REDIS_CLUSTER_NODES={nodes_text!r} must be host:port[,host:port...]")
    nodes = [(n[: n.rindex(":")], int(n[n.rindex(":") + 1 :])) for n in nodes_text.split(",") if n]
    stream = stream or env.get("EXECUTOR_STREAM") or DEFAULT_STREAM
    key_prefix = key_prefix if key_prefix is not None else env.get("EXECUTOR_KEY_PREFIX", DEFAULT_KEY_PREFIX)
    if not KEY_PREFIX.match(key_prefix):
        raise usage(f'key prefix {key_prefix!r} must have no braces or one hash tag such as "executor:{{code-review}}:"')
    limit = max_task_bytes if max_task_bytes is not None else DEFAULT_TASK_BYTES
    return Settings(url, nodes, stream, key_prefix, limit)
