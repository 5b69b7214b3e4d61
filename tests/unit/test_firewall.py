"""The packet-filter rules that keep student containers from the host and the metadata
address (pure: the rules; the integration tier checks what they do)."""

from launcher.hub.firewall import bridge_of, rules


def test_the_hub_api_and_allowed_ports_come_before_the_drop():
    found = rules("br-students", "172.30.0.1", 8081, [3141])
    inputs = [r for chain, r in found if chain == "INPUT"]
    assert inputs[0][-6:] == ["-d", "172.30.0.1", "--dport", "8081", "-j", "ACCEPT"]
    assert inputs[1][-6:] == ["-d", "172.30.0.1", "--dport", "3141", "-j", "ACCEPT"]
    assert inputs[-1] == ["-i", "br-students", "-j", "DROP"]
    assert all(r[:2] == ["-i", "br-students"] for _, r in found)
    assert ("DOCKER-USER", ["-i", "br-students", "-d", "169.254.0.0/16", "-j", "DROP"]) in found


def test_the_bridge_is_dockers_name_or_the_one_the_network_sets():
    assert bridge_of({"Id": "e2cac4ce500d0123", "Options": {}}) == "br-e2cac4ce500d"
    named = {"Id": "x", "Options": {"com.docker.network.bridge.name": "students0"}}
    assert bridge_of(named) == "students0"
