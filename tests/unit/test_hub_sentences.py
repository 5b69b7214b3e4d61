"""What a student reads from the hub side (progress, refusals, notices) is in their language:
Chinese for a zh_CN reader, English otherwise, times in the site's zone; the spawner decides
the language at each start from the request and remembers it in the server's state."""

import asyncio
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from jupyterhub.spawner import SpawnException
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine
from tornado.web import HTTPError
from traitlets import TraitError
from traitlets.config import Config

from launcher import i18n
from launcher.gpu.allocator import GpuPolicy
from launcher.gpu.broker import CourseRules, GpuBroker, GpuRefusal
from launcher.gpu.inventory import Unit
from launcher.gpu.quota import Quota, quota_refusal
from launcher.hub import notices
from launcher.hub.auth import CoursePasswordAuthenticator, reader_of
from launcher.hub.config import configure
from launcher.hub.spawner import CourseSpawner, _duration
from launcher.i18n import ENGLISH, Reader
from launcher.images import hostcheck
from launcher.images.pull import PullError, PullProgress, pull, stalled
from launcher.settings import DEMO_SITE_FILE, load_site
from launcher.store import Store
from tests.unit.test_hubconfig import FACTS

ZH = Reader("zh_CN", "Asia/Shanghai")
CU124 = {
    "io.launcher.cuda.version": "12.4",
    "io.launcher.min_driver": "550.54.14",
    "io.launcher.cuda.arch_list": "sm_50 sm_60 sm_70 sm_75 sm_80 sm_86 sm_90",
}


def request(accept_language: str | None = None, cookie: str | None = None) -> HTTPServerRequest:
    headers = HTTPHeaders({"Host": "hub.example.edu"})
    if accept_language:
        headers["Accept-Language"] = accept_language
    if cookie:
        headers["Cookie"] = f"{i18n.COOKIE}={cookie}"
    return HTTPServerRequest(
        start_line=RequestStartLine("POST", "/hub/spawn/ann/demo", "HTTP/1.1"), headers=headers
    )


# --- the language of a request ---


def test_the_cookie_beats_accept_language_and_the_site_default_comes_last():
    assert i18n.from_request(request("en-US,en;q=0.9", cookie="zh-CN")) == "zh_CN"
    assert i18n.from_request(request("zh-CN,zh;q=0.9", cookie="en")) == "en"
    assert i18n.from_request(request("zh-CN,zh;q=0.9")) == "zh_CN"
    assert i18n.from_request(request(), "zh_CN") == "zh_CN"
    assert i18n.from_request(request("fr-FR")) == "en"


# --- the GPU broker and the quota ---

UNITS = [Unit("GPU-0", "0", "NVIDIA H200", 143_771, "GPU-0")]


def test_a_busy_gpu_is_refused_in_the_readers_language(tmp_path):
    async def run():
        broker = GpuBroker(Store(f"sqlite:///{tmp_path / 's.sqlite'}"), UNITS, when_full="refuse")
        rules = CourseRules(GpuPolicy(per_student=1), instructors=("teacher",))
        assert (await broker.acquire("ann", "dl101", rules)).units == ["GPU-0"]
        with pytest.raises(GpuRefusal) as english:
            await broker.acquire("bob", "dl101", rules)
        with pytest.raises(GpuRefusal) as zh:
            await broker.acquire("bob", "dl101", rules, reader=ZH)
        return english.value.message, zh.value.message

    english, zh = asyncio.run(run())
    assert english == (
        "All 1 GPUs that dl101 may use are busy. Try again in a few minutes, or ask your "
        "instructor (teacher)."
    )
    assert zh == "dl101 可用的 1 块 GPU 都在使用中。请过几分钟再试，或联系你的老师（teacher）。"


def test_the_queue_time_out_and_the_cpu_fallback_note_in_chinese(tmp_path):
    async def run():
        broker = GpuBroker(Store(f"sqlite:///{tmp_path / 's.sqlite'}"), UNITS, queue_timeout=0.1)
        rules = CourseRules(GpuPolicy(per_student=1))
        await broker.acquire("ann", "ex", rules)
        places = []
        with pytest.raises(GpuRefusal) as timed_out:
            await broker.acquire("bob", "ex", rules, on_wait=lambda *p: places.append(p), reader=ZH)
        fallback = CourseRules(GpuPolicy(per_student=1, cpu_fallback=True))
        grant = await broker.acquire("cy", "ex", fallback, reader=ZH)
        return places, timed_out.value, grant

    places, refusal, grant = asyncio.run(run())
    assert places[0] == (1, 1) and refusal.reason == "queue_timeout"
    assert refusal.message.startswith("0 分钟内没有 GPU 空闲下来。ex 可用的 1 块 GPU 都在使用中")
    assert grant.cpu_only and grant.note.endswith("你暂时获得一个仅使用 CPU 的会话。")


def test_a_spent_quota_in_chinese_with_the_reset_in_shanghai_time():
    now = datetime(2026, 11, 22, 12, 0)  # a Sunday, UTC (20:00 in Shanghai)
    args = (Quota(10, "week"), 10.2, 0, now, "dl101")
    english = quota_refusal(*args, "your instructor (teacher)")
    assert english.startswith("You have used 10.2 of your 10 GPU-hours for dl101 this week.")
    assert "resets on Mon 2026-11-23 00:00 UTC (in 12 h)" in english
    zh = quota_refusal(*args, CourseRules(instructors=("teacher",)).contact(ZH._), ZH)
    assert zh.startswith("你本周在 dl101 已用 10.2 GPU 小时，配额共 10 GPU 小时。")
    # the week ends on a Monday, shown in the site's zone with its abbreviation (whether the
    # period itself ends at midnight UTC or at midnight in Shanghai)
    assert "配额将于 周一 2026-11-23 " in zh and " CST 重置" in zh and "UTC" not in zh
    assert zh.endswith("请联系你的老师（teacher）。")


def test_the_broker_refuses_a_spent_quota_in_chinese(tmp_path):
    class Clock:
        now = datetime(2026, 11, 22, 12, 0)

        def __call__(self):
            return self.now

    async def run():
        clock = Clock()
        broker = GpuBroker(Store(f"sqlite:///{tmp_path / 's.sqlite'}"), UNITS, clock=clock)
        rules = CourseRules(GpuPolicy(per_student=1), Quota(1, "day"))
        await broker.acquire("ann", "ex", rules)
        clock.now += timedelta(hours=1, minutes=1)
        await broker.release("ann")
        with pytest.raises(GpuRefusal) as info:
            await broker.admit("ann", "ex", rules, ZH)
        return info.value

    refusal = asyncio.run(run())
    assert refusal.status == 429 and refusal.message.startswith("你今天在 ex 已用 1.0 GPU 小时")
    assert "请联系你的老师。" in refusal.message


# --- the image: download progress, its failures, the GPUs it cannot run on ---


def test_pull_progress_in_chinese_and_english():
    progress = PullProgress()
    progress.layers = {"a": (2_000_000, 4_000_000), "b": (1_000_000, 1_000_000)}
    progress.done = {"b"}
    assert progress.sentence() == (
        "Downloading the course image: 3.0 MB of 5.0 MB (1 of 2 layers done)"
    )
    assert (
        progress.sentence(ZH._) == "正在下载课程镜像：已下载 3.0 MB，共 5.0 MB（2 层中已完成 1 层）"
    )


class FailingAPI:
    def __init__(self, error: str):
        self.error = error

    def pull(self, repository, tag=None, stream=False, decode=False):
        return iter([{"error": self.error}])


def test_pull_failures_in_chinese():
    missing = FailingAPI(
        "manifest for 127.0.0.1:5000/launcher/pytorch:9.9 not found: manifest unknown"
    )
    with pytest.raises(PullError) as english:
        pull(missing, "127.0.0.1:5000/launcher/pytorch:9.9")
    assert "the mirror has not synced 9.9 yet" in str(english.value)
    with pytest.raises(PullError) as zh:
        pull(missing, "127.0.0.1:5000/launcher/pytorch:9.9", _=ZH._)
    assert str(zh.value).startswith(
        "镜像仓库 127.0.0.1:5000 上还没有 launcher/pytorch:9.9：如果它是镜像站，说明镜像站尚未同步 9.9"
    )
    assert stalled("launcher/pytorch:2.13-cpu", 60).startswith(
        "The download of the course image launcher/pytorch:2.13-cpu stalled: nothing arrived "
        "for 60 seconds"
    )
    assert "60 秒内没有收到任何数据" in stalled("launcher/pytorch:2.13-cpu", 60, ZH._)


def test_an_image_the_gpus_cannot_run_is_refused_in_chinese():
    (english,) = hostcheck.refusals("2.6-cuda12.4", CU124, "580.65.06", ["12.0"])
    assert "has no kernels for GPU architecture sm_120 (Blackwell" in english
    (zh,) = hostcheck.refusals("2.6-cuda12.4", CU124, "580.65.06", ["12.0"], ZH._)
    assert zh.startswith("课程镜像 2.6-cuda12.4 没有适用于此服务器 GPU 架构 sm_120（Blackwell")
    (old,) = hostcheck.refusals("2.6-cuda12.4", CU124, "535.54.03", ["8.0"], ZH._)
    assert "NVIDIA 驱动 535.54.03 最高只支持 CUDA 12.2" in old


# --- the notice of a server that stopped by itself ---


def test_a_stop_notice_in_the_language_of_the_servers_last_start():
    stop = {"reason": "oom", "course": "dl101", "details": "2G", "at": "2026-11-22T12:05:00"}
    assert notices.sentence(stop) == (
        "Your dl101 server ran out of memory (limit 2G) at 12:05 UTC and was stopped. Your files "
        "are kept; start the server again when you are ready. Use less memory (smaller batches "
        "or datasets), or ask your instructor for more."
    )
    zh = notices.sentence(stop, ZH)
    assert zh.startswith(
        "你的 dl101 服务器在 20:05 CST 耗尽了内存（上限 2G），已被停止。你的文件已保留"
    )
    gone = notices.sentence({"reason": "vanished", "course": "", "at": "junk"}, ZH)
    assert gone.startswith("你的 课程 服务器的容器在 未知时间 被 Hub 之外的操作移除了。")

    spawners = {
        "": SimpleNamespace(last_stop=stop, active=False, reader=ZH),
        "cv": SimpleNamespace(last_stop={**stop, "reason": "exited", "details": "1"}, active=False),
        "up": SimpleNamespace(last_stop=stop, active=True, reader=ZH),
    }
    html = notices.stopped_notice(SimpleNamespace(spawners=spawners))
    assert html.count("<p>") == 2
    assert "耗尽了内存" in html and "stopped by itself at 12:05 UTC (exit code 1)" in html


# --- the spawner ---


def user(name: str = "ann") -> SimpleNamespace:
    return SimpleNamespace(name=name, groups=[], spawners={}, url=f"/user/{name}/")


def spawner(tmp_path, **traits) -> CourseSpawner:
    courses = {"demo": {"title": "Demo", "image": "launcher/pytorch:2.13-cpu", "students": ["bob"]}}
    return CourseSpawner(
        user=user(), courses=courses, store_url=f"sqlite:///{tmp_path / 's.sqlite'}", **traits
    )


def test_the_site_language_and_zone_are_traits_the_hub_config_sets():
    c = Config()
    site = load_site(DEMO_SITE_FILE)
    hub = site.hub.model_copy(update={"language": "zh_CN", "timezone": "Asia/Shanghai"})
    configure(c, site.model_copy(update={"hub": hub}), FACTS)
    assert c.CourseSpawner.language == "zh_CN"
    assert c.CourseSpawner.timezone == "Asia/Shanghai"
    made = CourseSpawner(config=c, user=user())
    assert made.reader == Reader("zh_CN", "Asia/Shanghai")
    with pytest.raises(TraitError):
        CourseSpawner(user=user(), timezone="Mars/Olympus")
    assert CourseSpawner(user=user(), language="zh-Hans-CN").language == "zh_CN"


def test_a_refusal_at_start_in_the_language_of_the_request_remembered_for_the_next(tmp_path):
    asking = spawner(tmp_path, language="en")
    asking.handler = SimpleNamespace(request=request("en-US", cookie="zh-CN"))
    with pytest.raises(SpawnException) as refused:
        asyncio.run(asking.start())
    assert str(refused.value.message).startswith("ann 不在此 Hub 任何课程的名单上。")
    assert asking.reader.lang == "zh_CN" and asking.get_state()["language"] == "zh_CN"

    # the next hub (a restart): a start through the API without a request, or a resumed one
    later = spawner(tmp_path, language="en")
    later.load_state(asking.get_state())
    later.clear_state()  # JupyterHub's, before each start: the language stays
    later.handler = None
    with pytest.raises(SpawnException) as again:
        asyncio.run(later.start())
    assert "不在此 Hub 任何课程的名单上" in again.value.message
    assert later.get_state()["language"] == "zh_CN"

    # a start in English (the browser's language, no choice made) is remembered as English
    later.handler = SimpleNamespace(request=request("en-GB,en;q=0.9"))
    with pytest.raises(SpawnException) as english:
        asyncio.run(later.start())
    assert english.value.message.startswith("ann is not on the roster of any course on this hub.")
    assert later.get_state()["language"] == "en"


def test_without_any_request_or_state_the_site_language_is_read(tmp_path):
    fresh = spawner(tmp_path, language="zh_CN", timezone="Asia/Shanghai")
    assert fresh.reader == Reader("zh_CN", "Asia/Shanghai")
    assert "language" not in fresh.get_state()
    fresh.load_state({"language": "klingon"})  # a state nobody wrote: ignored
    assert fresh.reader.lang == "zh_CN"


def test_a_full_disk_and_a_foreign_image_are_refused_in_chinese(tmp_path):
    class Spawner(CourseSpawner):
        _docker_root = str(tmp_path)

    full = Spawner(user=user(), min_free_disk_gb=1e12)
    full.handler = SimpleNamespace(request=request("zh-CN"))
    full._decide_reader()
    with pytest.raises(SpawnException) as refused:
        asyncio.run(full._refuse_a_full_disk())
    assert refused.value.message.startswith("此服务器的磁盘快满了（共 ")
    with pytest.raises(SpawnException) as image:
        asyncio.run(full.check_allowed("evil/miner"))
    assert image.value.message == "镜像 'evil/miner' 不是本课程的镜像；这里只运行课程目录中的镜像。"


def test_the_gpu_queue_in_the_progress_and_its_time_out_in_chinese(tmp_path):
    async def run():
        broker = GpuBroker(Store(f"sqlite:///{tmp_path / 'g.sqlite'}"), UNITS, queue_timeout=0.1)
        rules = CourseRules(GpuPolicy(per_student=1), instructors=("teacher",))
        await broker.acquire("bob", "dl101", rules)  # the one GPU is busy
        waiting = spawner(tmp_path, gpu_broker=broker)
        waiting.handler = SimpleNamespace(request=request("zh-CN"))
        waiting._decide_reader()
        with pytest.raises(SpawnException) as refused:
            await waiting._assign_gpus("dl101", rules, {"GPU-0"}, None)
        return [e["message"] for e in waiting._events], refused.value

    messages, refused = asyncio.run(run())
    assert messages[0] == "正在为你分配 GPU"
    assert set(messages[1:]) == {
        "dl101 的 GPU 全部在使用中：你在队列中排第 1 位（共 1 人）；一有 GPU 空闲，你的服务器就会启动"
    }
    assert refused.status_code == 503 and refused.message.startswith(
        "0 分钟内没有 GPU 空闲下来。dl101 可用的 1 块 GPU 都在使用中。"
    )


def test_progress_durations_and_the_sign_in_reader():
    assert (_duration(12), _duration(12, ZH._), _duration(300, ZH._)) == ("10 s", "10 秒", "5 分钟")
    assert reader_of(None) is ENGLISH
    assert reader_of(SimpleNamespace(request=request("zh-CN"))).lang == "zh_CN"
    assert reader_of(SimpleNamespace(reader=ZH, request=request("en"))) is ZH


# --- signing in ---


def test_a_sign_in_is_refused_in_the_language_of_the_browser(tmp_path):
    auth = CoursePasswordAuthenticator(
        courses={
            "demo": {"title": "Demo", "image": "launcher/pytorch:2.13-cpu", "students": ["ann"]}
        },
        store_url=f"sqlite:///{tmp_path / 'store.sqlite'}",
        user_password="class-password",
        admin_users={"admin"},
    )

    def login(handler, name, password="class-password"):
        data = {"username": name, "password": password}
        return asyncio.run(auth.get_authenticated_user(handler, data))

    chinese_browser = SimpleNamespace(request=request("zh-CN,zh;q=0.9"))
    with pytest.raises(HTTPError) as zh:
        login(chinese_browser, "zoe")
    assert zh.value.status_code == 403
    assert zh.value.log_message == (
        "你已以 zoe 的身份登录，但你不在此 Hub 任何课程的名单上。请让你的老师把你加入课程名单。"
    )
    with pytest.raises(HTTPError) as english:
        login(SimpleNamespace(request=request("en-US")), "zoe")
    assert english.value.log_message.startswith("You are signed in as zoe, but you are not")
    with pytest.raises(HTTPError) as form:
        login(chinese_browser, "ann", None)
    assert form.value.status_code == 400 and form.value.log_message.startswith("请使用登录表单")
    assert login(chinese_browser, "ann")["name"] == "ann"
