#!/usr/bin/env python3
"""Render deploy/nginx/docvouch.conf for a given set of replicas (standard library only).

    python3 deploy/nginx/render.py --upstream 127.0.0.1:8765 --upstream 127.0.0.1:8766 \\
        --listen 80 --access-log /var/log/nginx/docvouch.access.log \\
        > /etc/nginx/conf.d/docvouch.conf

Every line holding ``${DOCVOUCH_UPSTREAM}`` is repeated once per ``--upstream``; the other
placeholders are replaced once. Lines starting with ``#tls`` stay comments unless
``--tls-cert`` and ``--tls-key`` are given, which turn them on (TLS at the proxy). Nothing else
in the template changes, so the tests (which render it the same way) exercise the file that
ships. A placeholder left without a value is an error, never an empty string in the output.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().with_name("docvouch.conf")
PLACEHOLDER = re.compile(r"\$\{(DOCVOUCH_[A-Z_]+)\}")
UPSTREAM = "DOCVOUCH_UPSTREAM"
TLS_MARK = "#tls "
_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+|unix:/[^\s;]+):?\d*$")


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def render(upstreams: list[str], *, listen: str, access_log: str,
           tls_cert: str | None = None, tls_key: str | None = None,
           template: str | None = None) -> str:
    """The configuration text for ``upstreams`` (HOST:PORT each)."""
    tls = bool(tls_cert or tls_key)
    if tls and not (tls_cert and tls_key):
        raise ValueError("TLS needs both --tls-cert and --tls-key")
    if tls and " ssl" not in f" {listen}":
        raise ValueError(f"with TLS the listen value needs 'ssl' (e.g. '443 ssl'), not {listen!r}")
    if not upstreams:
        raise ValueError("at least one --upstream is needed")
    for upstream in upstreams:
        if not _HOST_PORT.match(upstream):
            raise ValueError(f"not a HOST:PORT: {upstream!r}")
    values = {"DOCVOUCH_LISTEN": listen, "DOCVOUCH_ACCESS_LOG": access_log}
    if tls:
        values.update(DOCVOUCH_TLS_CERT=tls_cert or "", DOCVOUCH_TLS_KEY=tls_key or "")
    for name, value in values.items():
        if not value or ";" in value or "\n" in value:
            raise ValueError(f"{name}: {value!r} is not a usable value")
    text = TEMPLATE.read_text() if template is None else template
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        if tls and line.lstrip().startswith(TLS_MARK):
            indent = line[:len(line) - len(line.lstrip())]
            line = indent + line.lstrip()[len(TLS_MARK):]
        names = placeholders(line)
        if UPSTREAM in names and not line.lstrip().startswith("#"):
            out.extend(line.replace("${" + UPSTREAM + "}", u) for u in upstreams)
            continue
        if not line.lstrip().startswith("#"):
            missing = names - values.keys() - {UPSTREAM}
            if missing:
                raise ValueError(f"no value for {', '.join(sorted(missing))}")
            line = PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), line)
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", action="append", required=True, metavar="HOST:PORT",
                        help="one service replica (repeat for each)")
    parser.add_argument("--listen", default="80", help="what `listen` takes (default: 80)")
    parser.add_argument("--access-log", default="/var/log/nginx/docvouch.access.log")
    parser.add_argument("--tls-cert", metavar="FILE", help="certificate chain (PEM)")
    parser.add_argument("--tls-key", metavar="FILE", help="its private key (PEM)")
    args = parser.parse_args(argv)
    try:
        sys.stdout.write(render(args.upstream, listen=args.listen, access_log=args.access_log,
                                tls_cert=args.tls_cert, tls_key=args.tls_key))
    except ValueError as exc:
        parser.error(str(exc))
    return 0


if __name__ == "__main__":
    sys.exit(main())
