"""``launcher backup`` and ``launcher restore`` against a real hub and engine: a site backup
taken while a student writes (their container is paused for the copy, then goes on), restored
into a fresh engine and a new store, byte for byte with the GPU ledger; a single student's
restore that leaves everyone else alone and never overwrites newer files unless asked; the
courses' materials folders travel with a site backup."""

import hashlib
import json
import tarfile
import tempfile

import docker
import pytest
import yaml
from sqlalchemy import create_engine, text

from launcher import schema
from launcher.backup import storedump, volumes
from launcher.backup.archive import Reader
from launcher.store import Store, utcnow
from tests.engines import fresh_engine
from tests.integration.hub import running_hub, wait_for
from tests.integration.test_faults import FAULT_SITE, read_note, write_note
from tests.integration.test_gpus import GPU_ENV, holders
from tests.postgres import fresh

pytestmark = pytest.mark.integration

#: a student's files: text, bytes of every value, a folder, a name in Chinese
WRITE_FILES = """
import hashlib, json, os, pathlib
home = pathlib.Path('/home/jovyan')
(home / 'project' / 'data').mkdir(parents=True, exist_ok=True)
files = {
    'project/train.py': b'print("epoch 1")\\n',
    'project/data/weights.bin': os.urandom(300_000),
    'project/笔记.md': '梯度下降\\n'.encode(),
}
for name, data in files.items():
    (home / name).write_bytes(data)
print(json.dumps({n: hashlib.sha256(d).hexdigest() for n, d in files.items()}))
"""

#: keeps writing while the backup runs: a counter, rewritten every 20 ms for up to 5 minutes
#: (each version whole: written aside, then renamed over the last, so a reader never meets an
#: empty file)
WRITER = """
import os, time, pathlib
p = pathlib.Path('/home/jovyan/counter.txt')
for i in range(15000):
    p.with_suffix('.tmp').write_text(str(i)); os.replace(p.with_suffix('.tmp'), p)
    time.sleep(0.02)
"""


def exec_py(container, code: str) -> str:
    code_, out = container.exec_run(["python3", "-c", code], user="1000:100")
    assert code_ == 0, out.decode()
    return out.decode()


def listing(tar_file) -> dict[str, tuple]:
    """Path -> (kind, uid, mode, sha256 of the content) of every member of a tar stream."""
    found = {}
    with tarfile.open(fileobj=tar_file, mode="r|") as tar:
        for m in tar:
            digest = hashlib.sha256(tar.extractfile(m).read()).hexdigest() if m.isfile() else ""
            found[m.name.removeprefix(f"{volumes.ROOT}/")] = (m.type, m.uid, m.mode, digest)
    return found


def volume_listing(client, name: str) -> dict[str, tuple]:
    with tempfile.TemporaryFile() as spool:
        volumes.read(client, name, spool)
        spool.seek(0)
        return listing(spool)


def rows(url: str, table: str) -> list[tuple]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1"))]
    engine.dispose()
    return found


def test_site_backup_while_a_student_writes_restores_into_a_fresh_engine(tmp_path):
    with running_hub(tmp_path, "backup-site", [], FAULT_SITE, GPU_ENV) as hub:
        student = hub.session("f1")
        student.start_server()
        box = hub.container_of("f1")
        written = json.loads(exec_py(box, WRITE_FILES))
        assert list(holders(hub)) == ["f1"]
        materials = hub.data_dir / "materials" / "lab"
        materials.mkdir(parents=True, exist_ok=True)
        (materials / "week1.ipynb").write_text('{"cells": [], "nbformat": 4}')  # the instructor's
        box.exec_run(["python3", "-c", WRITER], user="1000:100", detach=True)
        wait_for(lambda: box.exec_run(["test", "-s", "/home/jovyan/counter.txt"]).exit_code == 0,
                 30, "the writer to begin")  # fmt: skip

        archive = tmp_path / "site.tar.gz"
        done = hub.launcher("backup", "-o", str(archive))
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"paused {box.name} meanwhile" in done.stdout

        # the student's container runs on, and their writer with it
        box.reload()
        assert box.status == "running"
        counter = int(exec_py(box, "print(open('/home/jovyan/counter.txt').read())"))
        wait_for(
            lambda: int(exec_py(box, "print(open('/home/jovyan/counter.txt').read())")) > counter,
            30,
            "the writer to go on after the backup",
        )

        reader = Reader(archive)  # every checksum is checked on opening
        entry = next(v for v in reader.manifest.volumes if v["user"] == "f1")
        assert entry["paused"] == [box.name] and entry["course"] == "lab"
        with reader.volume_to_file(entry) as member:
            in_archive = listing(member)
        ledger = rows(f"sqlite:///{hub.data_dir / 'launcher.sqlite'}", "gpu_allocations")
        assert [r for r in ledger if r[2] == "f1" and r[7] is None], "f1 holds a GPU"
        reader.close()

    # a new machine: a fresh engine (no volume, no image) and a new data directory
    site = yaml.safe_load(hub.site_file.read_text())
    site["hub"]["data_dir"] = str(tmp_path / "new-data")
    new_site = tmp_path / "new-site.yaml"
    new_site.write_text(yaml.safe_dump(site))
    with fresh_engine() as engine_url:
        hub.env["DOCKER_HOST"] = engine_url
        hub.site_file = new_site
        done = hub.launcher("restore", str(archive))
        assert done.returncode == 0, done.stdout + done.stderr
        fresh = docker.DockerClient(base_url=engine_url)
        restored = volume_listing(fresh, entry["name"])
        assert restored == in_archive, "the workspace is the archive's, byte for byte"
        assert restored[volumes.ROOT][1] == 1000, "the student owns their home folder"
        for name, digest in written.items():
            assert restored[name][3] == digest, name
            assert restored[name][1] == 1000, "the student still owns their files"
        assert ledger == rows(f"sqlite:///{tmp_path / 'new-data' / 'launcher.sqlite'}",
                              "gpu_allocations")  # fmt: skip
        restored_materials = tmp_path / "new-data" / "materials" / "lab" / "week1.ipynb"
        assert restored_materials.read_text() == '{"cells": [], "nbformat": 4}'
        assert "materials of lab: 1 files restored" in done.stdout
        fresh.close()


def test_one_students_restore_leaves_the_others_and_newer_files_alone(tmp_path):
    with running_hub(tmp_path, "backup-student") as hub:
        ann, bob = hub.session("student1"), hub.session("student2")
        ann.start_server()
        write_note(hub.container_of("student1"), "f1 before the backup")
        ann.stop_server()
        bob.start_server()
        write_note(hub.container_of("student2"), "f2 before the backup")
        archive = tmp_path / "site.tar.gz"
        done = hub.launcher("backup", "-o", str(archive))
        assert done.returncode == 0, done.stdout + done.stderr

        write_note(hub.container_of("student2"), "f2 after the backup")
        ann_volume = next(v.name for v in hub.volumes() if "_home_student1_" in v.name)
        bob_volume = next(v.name for v in hub.volumes() if "_home_student2_" in v.name)
        before_bob = volume_listing(hub.docker, bob_volume)

        # f2's server runs: their workspace is never touched
        done = hub.launcher("restore", str(archive), "--user", "student2")
        assert done.returncode == 1
        assert "uses it. Stop that server first" in done.stderr

        # f1 changed a file after the backup: not overwritten unless asked
        ann.start_server()
        write_note(hub.container_of("student1"), "f1 after the backup")
        ann.stop_server()
        done = hub.launcher("restore", str(archive), "--user", "student1")
        assert done.returncode == 1 and "changed after the backup" in done.stderr
        assert volume_text(hub.docker, ann_volume) == "f1 after the backup"

        done = hub.launcher("restore", str(archive), "--user", "student1", "--overwrite")
        assert done.returncode == 0, done.stdout + done.stderr
        assert volume_text(hub.docker, ann_volume) == "f1 before the backup"
        saved = list((hub.data_dir / "backups" / "replaced").glob(f"{ann_volume}-*.tar"))
        with open(saved[0], "rb") as kept:
            assert b"f1 after the backup" in kept.read(), "what was replaced is kept"

        assert read_note(hub.container_of("student2")) == "f2 after the backup"
        assert volume_listing(hub.docker, bob_volume) == before_bob
        bob.stop_server()


def volume_text(client, volume: str, name: str = "note.txt") -> str:
    with tempfile.TemporaryFile() as spool:
        volumes.read(client, volume, spool)
        spool.seek(0)
        with tarfile.open(fileobj=spool) as tar:
            return tar.extractfile(f"{volumes.ROOT}/{name}").read().decode()


def test_the_store_round_trips_through_a_backup_on_postgresql(postgres_url, tmp_path):
    """A PostgreSQL store (the production default) written by release 0.1.0 and upgraded:
    its snapshot put back into an emptied database is the same, row for row, and new rows
    get new ids after the restored ones."""
    from tests.integration.test_upgrade import load_postgresql_release, table_rows

    load_postgresql_release(postgres_url)
    engine = create_engine(postgres_url)
    schema.upgrade(engine, say=lambda _: None)
    engine.dispose()
    before = table_rows(postgres_url)
    dump = storedump.snapshot(postgres_url)

    fresh(postgres_url)
    Store(postgres_url)  # a new, empty store of this launcher (as a new install makes)
    storedump.load(postgres_url, dump, say=lambda _: None)
    assert table_rows(postgres_url) == before
    store = Store(postgres_url)
    added = store.add(["GPU-0003"], "dora", "nlp", "nlp", "launcher_dora-nlp", utcnow())
    assert added[0].id == 4, "the id sequence goes on after the restored rows"
    with pytest.raises(storedump.StoreNotEmpty):
        storedump.load(postgres_url, dump, say=lambda _: None)
