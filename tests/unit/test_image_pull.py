"""Pull progress from the engine's event stream, and pull errors as sentences."""

from launcher.images.pull import PullError, PullProgress, pull

STREAM = [
    {"status": "Pulling from launcher/pytorch", "id": "2.13-cpu"},
    {"status": "Already exists", "progressDetail": {}, "id": "aaa111"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb222"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "ccc333"},
    {
        "status": "Downloading",
        "progressDetail": {"current": 1_000_000, "total": 4_000_000},
        "id": "bbb222",
    },
    {
        "status": "Downloading",
        "progressDetail": {"current": 500_000, "total": 1_000_000},
        "id": "ccc333",
    },
    {"status": "Download complete", "progressDetail": {}, "id": "ccc333"},
    {"status": "Extracting", "progressDetail": {"current": 1, "total": 2}, "id": "ccc333"},
    {"status": "Pull complete", "progressDetail": {}, "id": "ccc333"},
    {"status": "Digest: sha256:" + "0" * 64},
    {"status": "Status: Downloaded newer image for launcher/pytorch:2.13-cpu"},
]


def test_progress_sums_bytes_over_layers():
    p = PullProgress()
    for event in STREAM[:6]:
        p.update(event)
    assert (p.current_bytes, p.total_bytes) == (1_500_000, 5_000_000)
    for event in STREAM[6:]:
        p.update(event)
    assert (p.current_bytes, p.total_bytes) == (2_000_000, 5_000_000)
    assert p.sentence() == "Downloading the course image: 2.0 MB of 5.0 MB (2 of 3 layers done)"


class FakeAPI:
    """Stands in for the engine's streamed answer (the lowest layer: the HTTP stream)."""

    def __init__(self, events):
        self.events = events
        self.calls = []

    def pull(self, repository, tag=None, stream=False, decode=False):
        self.calls.append((repository, tag))
        return iter(self.events)


def test_pull_reports_progress_and_passes_digest_pins():
    api = FakeAPI(STREAM)
    seen = []
    ticks = iter(range(100))
    ref = "127.0.0.1:5000/launcher/pytorch:2.13-cpu@sha256:" + "a" * 64
    result = pull(
        api, ref, on_progress=lambda p: seen.append(p.current_bytes), clock=lambda: next(ticks)
    )
    assert api.calls == [("127.0.0.1:5000/launcher/pytorch", "sha256:" + "a" * 64)]
    assert seen[-1] == result.current_bytes == 2_000_000 and len(seen) > 1


def test_missing_tag_is_a_sentence_not_manifest_unknown():
    api = FakeAPI(
        [
            {
                "error": "manifest for 127.0.0.1:5000/launcher/pytorch:9.9 not found: manifest unknown: manifest unknown"
            }
        ]
    )
    try:
        pull(api, "127.0.0.1:5000/launcher/pytorch:9.9")
    except PullError as exc:
        message = str(exc)
    assert "the mirror has not synced 9.9 yet" in message
    assert "manifest unknown" not in message
