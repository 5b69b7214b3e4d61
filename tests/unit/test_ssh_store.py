"""SSH keys and the SSH endpoint's refusals in the store: a user's keys are theirs only, one
of a name and one of a key each, at most MAX_SSH_KEYS; the endpoint marks a key used and
records what it refused; and `launcher upgrade` brings a store of revision 0003 to 0004 with
both tables."""

from datetime import datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from launcher import schema
from launcher.store import (
    MAX_SSH_KEYS,
    DuplicateSshKey,
    SshKey,
    Store,
    StoreSchemaMismatch,
    TooManySshKeys,
)

AT = datetime(2026, 12, 4, 9, 0)
LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIBdLygjZ7+LCPGqsoZxPZkhVFO6fwcmkk2+S8hE2iPo"
PRINT = "SHA256:ikOaFcA7F8F13Dpmb7eLksPBKrcq6kI98YX3PhURD+w"


@pytest.fixture
def store(tmp_path):
    return Store(f"sqlite:///{tmp_path / 'store.sqlite'}")


def test_keys_are_listed_per_user_oldest_first(store):
    first = store.add_ssh_key("ann", "laptop", LINE, PRINT, AT)
    second = store.add_ssh_key("ann", "lab pc", "ssh-ed25519 BBBB", "SHA256:b", AT)
    store.add_ssh_key("bob", "laptop", LINE, PRINT, AT)  # the same key for someone else: fine
    assert [k.id for k in store.ssh_keys("ann")] == [first, second]
    assert store.ssh_keys("ann")[0] == SshKey(first, "ann", "laptop", LINE, PRINT, AT, None)
    assert [k.username for k in store.ssh_keys("bob")] == ["bob"]
    assert store.ssh_keys("carl") == []


def test_a_name_or_a_key_twice_is_refused_saying_which(store):
    store.add_ssh_key("ann", "laptop", LINE, PRINT, AT)
    with pytest.raises(DuplicateSshKey) as info:
        store.add_ssh_key("ann", "other name", LINE, PRINT, AT)
    assert info.value.what == "key" and isinstance(info.value, ValueError)
    with pytest.raises(DuplicateSshKey) as info:
        store.add_ssh_key("ann", "laptop", "ssh-ed25519 BBBB", "SHA256:b", AT)
    assert info.value.what == "name"
    assert len(store.ssh_keys("ann")) == 1


def test_at_most_max_keys_per_user(store):
    for n in range(MAX_SSH_KEYS):
        store.add_ssh_key("ann", f"key {n}", f"ssh-ed25519 K{n}", f"SHA256:{n}", AT)
    with pytest.raises(TooManySshKeys, match="remove one first"):
        store.add_ssh_key("ann", "one more", "ssh-ed25519 X", "SHA256:x", AT)
    store.add_ssh_key("bob", "one more", "ssh-ed25519 X", "SHA256:x", AT)  # bob has his own
    assert len(store.ssh_keys("ann")) == MAX_SSH_KEYS


def test_only_the_owner_removes_a_key(store):
    mine = store.add_ssh_key("ann", "laptop", LINE, PRINT, AT)
    assert store.remove_ssh_key("bob", mine) is False
    assert len(store.ssh_keys("ann")) == 1
    assert store.remove_ssh_key("ann", mine) is True
    assert store.remove_ssh_key("ann", mine) is False
    assert store.ssh_keys("ann") == []
    store.add_ssh_key("ann", "laptop", LINE, PRINT, AT)  # the name and the key are free again


def test_the_endpoint_marks_a_key_used(store):
    key = store.add_ssh_key("ann", "laptop", LINE, PRINT, AT)
    store.ssh_key_used(key, AT + timedelta(hours=2))
    assert store.ssh_keys("ann")[0].last_used_at == AT + timedelta(hours=2)


def test_refused_sign_ins_newest_first_and_cut_to_their_columns(store):
    store.record_ssh_failure("ann", "10.0.0.5", "key", AT)
    store.record_ssh_failure("x" * 300, "10.0.0.6", "unknown-user", AT + timedelta(minutes=1))
    store.record_ssh_failure("ann", "10.0.0.5", "token", AT - timedelta(days=1))
    found = store.ssh_failures(AT)
    assert [(f["username"][:3], f["source"], f["reason"]) for f in found] == [
        ("xxx", "10.0.0.6", "unknown-user"),
        ("ann", "10.0.0.5", "key"),
    ]
    assert len(found[0]["username"]) == 255
    assert set(found[0]) == {"id", "at", "username", "source", "reason"}


def test_upgrade_brings_a_0003_store_to_0004(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    Store(url).add_ssh_key("ann", "laptop", LINE, PRINT, AT)
    engine = create_engine(url)
    with engine.begin() as conn:
        command.downgrade(schema.alembic_config(conn), "0003")
        assert {"ssh_keys", "ssh_failures"}.isdisjoint(inspect(conn).get_table_names())
    with pytest.raises(StoreSchemaMismatch, match="schema version 0003, older"):
        Store(url)
    told = []
    before = schema.upgrade(engine, say=told.append)
    assert (before.current, before.head) == ("0003", "0004") == ("0003", schema.head())
    assert "0003 -> 0004" in told[-1]
    with engine.connect() as conn:
        unique = inspect(conn).get_unique_constraints("ssh_keys")
    assert sorted(tuple(u["column_names"]) for u in unique) == [
        ("username", "fingerprint"),
        ("username", "name"),
    ]
    store = Store(url)
    store.add_ssh_key("ann", "laptop", LINE, PRINT, AT)
    store.record_ssh_failure("ann", "10.0.0.5", "key", AT)
    assert len(store.ssh_failures(AT)) == 1
