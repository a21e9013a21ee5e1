"""The worker's memo of committed nonces (``gateway.auth.SpentNonces``): bounded, newest
kept, per key, and nothing for a request without a nonce or with the memo off."""

from __future__ import annotations

from medroam.gateway.auth import Credentials, SpentNonces


def _creds(nonce: str, key_id: str = "paas-h1") -> Credentials:
    return Credentials("tif", key_id, "H44030500001", nonce=nonce)


def test_the_oldest_nonce_leaves_a_full_memo() -> None:
    """Size 2: after n1, n2, n3 the memo holds n2 and n3 (n1 is then the database's to
    refuse); the same nonce under another key is another nonce."""
    memo = SpentNonces(2)
    for n in ("n1", "n2", "n3"):
        assert not memo.spent(_creds(n))
        memo.spend(_creds(n))
    assert [memo.spent(_creds(n)) for n in ("n1", "n2", "n3")] == [False, True, True]
    assert not memo.spent(_creds("n3", key_id="paas-h2"))


def test_no_nonce_or_no_memo_remembers_nothing() -> None:
    """An API-key request has no nonce; size 0 turns the memo off."""
    memo = SpentNonces(10)
    memo.spend(_creds(""))
    assert not memo.spent(_creds(""))
    off = SpentNonces(0)
    off.spend(_creds("n1"))
    assert not off.spent(_creds("n1"))
