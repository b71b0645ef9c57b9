"""Virtual keys: random, recognisable by prefix, stored only as a hash keyed by a secret."""

from __future__ import annotations

from calcifer.domain.keys import KEY_MARK, hash_key, issue_key, new_id


def test_a_key_carries_256_random_bits_and_is_never_issued_twice() -> None:
    keys = {issue_key(b"secret").secret for _ in range(1000)}
    assert len(keys) == 1000
    key = next(iter(keys))
    assert key.startswith(KEY_MARK) and len(key) == len(KEY_MARK) + 43


def test_the_stored_hash_depends_on_the_gateway_secret_and_hides_the_key() -> None:
    issued = issue_key(b"secret-one")
    assert issued.key_hash == hash_key(b"secret-one", issued.secret)
    assert issued.key_hash != hash_key(b"secret-two", issued.secret)
    assert issued.secret not in issued.key_hash and issued.secret[len(KEY_MARK) :] not in issued.key_hash


def test_the_prefix_tells_keys_apart_without_revealing_them() -> None:
    issued = issue_key(b"s")
    assert issued.secret.startswith(issued.prefix)
    assert len(issued.prefix) == 10  # 7 random characters: 42 bits, far from the key's 256


def test_ids_are_typed_and_distinct() -> None:
    ids = {new_id("key") for _ in range(100)}
    assert len(ids) == 100 and all(i.startswith("key_") for i in ids)
