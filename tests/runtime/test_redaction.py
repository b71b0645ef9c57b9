"""A catalog's credentials, its proxies' passwords and the master key are all redacted."""

from __future__ import annotations

import base64
from pathlib import Path

from calcifer.catalog import load_catalog
from calcifer.domain.redaction import MAX_UPSTREAM_TEXT, Redactor
from calcifer.errors import UpstreamRejected
from calcifer.runtime.catalog_scope import known_secrets

CATALOG = """\
providers:
  up:
    kind: openai
    base_url: http://127.0.0.1:9/v1
    api_key_env: UP_KEY
    proxy: http://egress:pr0xy-pass@127.0.0.1:3128
models:
  m:
    provider: up
    pricing: {input: 1, output: 1}
"""


def test_every_known_secret_is_redacted_and_long_text_is_cut(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(CATALOG)
    catalog = load_catalog(tmp_path, {"UP_KEY": "sk-provider-key-77"})
    redactor = Redactor(known_secrets(catalog, "master-key-99"))
    basic = base64.b64encode(b"egress:pr0xy-pass").decode()
    error = UpstreamRejected(
        f"saw sk-provider-key-77, master-key-99, pr0xy-pass, Basic {basic} " + "y" * 3000, provider="up"
    )
    redactor.clean(error)
    for secret in ("sk-provider-key-77", "master-key-99", "pr0xy-pass", basic):
        assert secret not in error.message and secret not in str(error)
    assert error.message.startswith("saw [redacted], [redacted], [redacted], Basic [redacted] ")
    assert len(error.message) < MAX_UPSTREAM_TEXT + 60
