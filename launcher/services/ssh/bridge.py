"""One SSH session channel of a student (a shell, a command, sftp) bridged to the sshd in
their container: what the student's client asks (a terminal, its size, a command or a
subsystem, signals) is asked of the container's sshd, bytes go both ways unchanged (stdout
and stderr apart), and the command's exit status or signal comes back.

The channel may open before the student's server is ready (it is being started): the
session then shows the start's progress on stderr, keeps what the client sends, and bridges
once the container answers; a start that fails ends the session with its sentence and exit
status 1.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncssh

log = logging.getLogger("launcher.services.ssh")

#: seconds a session waits for the endpoint's end of a forwarded agent (a local socket)
AGENT_SETTLE = 0.05
#: the exit status of a session the endpoint could not bridge (ssh's own is 255)
NOT_BRIDGED = 1


class Upstream(asyncssh.SSHClientSession):
    """The container's side of one bridged session."""

    def __init__(self, down: BridgedSession):
        self.down = down
        self.status: int | None = None
        self.signal: tuple | None = None

    def data_received(self, data, datatype):
        self.down.chan.write(data, datatype)

    def eof_received(self):
        self.down.chan.write_eof()
        return True

    def exit_status_received(self, status):
        self.status = status

    def exit_signal_received(self, signal, core_dumped, msg, lang):
        self.signal = (signal, core_dumped, msg, lang)

    def pause_writing(self):
        self.down.chan.pause_reading()

    def resume_writing(self):
        self.down.chan.resume_reading()

    def connection_lost(self, exc):
        self.down.upstream_ended(self)


class BridgedSession(asyncssh.SSHServerSession):
    """The student's side of one bridged session. ``ready``: a coroutine function giving the
    connection to the container's sshd (or raising :class:`asyncssh.ChannelOpenError` with
    the sentence); ``watch``: subscribes a callback to the start's progress messages and
    returns the function that unsubscribes it; ``with_agent``: a coroutine function giving a
    connection of the session's own that forwards the agent at the given path (the client
    forwarded its agent, where the site allows it)."""

    def __init__(
        self,
        ready: Callable[[], Awaitable[asyncssh.SSHClientConnection]],
        watch: Callable[[Callable[[str], None]], Callable[[], None]],
        with_agent: Callable[[str], Awaitable[asyncssh.SSHClientConnection]] | None = None,
    ):
        self.ready = ready
        self.watch = watch
        self.with_agent = with_agent
        self.own: asyncssh.SSHClientConnection | None = None  # this session's, with an agent
        self.chan = None
        self.up_chan = None
        self.pending: list[tuple[bytes, int | None]] = []
        self.eof = False
        self.term: tuple | None = None
        self.task: asyncio.Task | None = None

    def connection_made(self, chan):
        self.chan = chan

    def pty_requested(self, term_type, term_size, term_modes):
        self.term = (term_type, term_size, term_modes)
        return True

    def shell_requested(self):
        return self._open({})

    def exec_requested(self, command):
        return self._open({"command": command})

    def subsystem_requested(self, subsystem):
        return self._open({"subsystem": subsystem})

    def _open(self, what: dict) -> bool:
        if self.task is not None:
            return False
        self.task = asyncio.ensure_future(self._bridge(what))
        return True

    async def _bridge(self, what: dict) -> None:
        unwatch = self.watch(self._say)
        try:
            upstream = await self.ready()
            if self.with_agent is not None:
                # the client's agent request came before this one; the endpoint's end of
                # the agent is being made in a task of its own: let it finish
                await asyncio.sleep(AGENT_SETTLE)
                agent = self.chan.get_agent_path()  # the client forwarded its agent (ssh -A)
                if agent:
                    upstream = self.own = await self.with_agent(agent)
        except asyncssh.ChannelOpenError as exc:
            return self._end(exc.reason)
        finally:
            unwatch()
        options = dict(what, encoding=None)
        if self.term is not None:
            term_type, term_size, term_modes = self.term
            options.update(term_type=term_type, term_size=term_size, term_modes=term_modes)
        try:
            self.up_chan, _ = await upstream.create_session(lambda: Upstream(self), **options)
        except (asyncssh.Error, OSError) as exc:
            log.warning("could not open a session in the container: %s", exc)
            return self._end(str(exc))
        for data, datatype in self.pending:
            self.up_chan.write(data, datatype)
        self.pending.clear()
        if self.eof:
            self.up_chan.write_eof()

    def _say(self, message: str) -> None:
        """A line on the student's stderr (a terminal wants its carriage return)."""
        self.chan.write_stderr((message + ("\r\n" if self.term else "\n")).encode())

    def _end(self, sentence: str) -> None:
        """The session could not be bridged: the sentence, and exit status 1."""
        self._say(sentence)
        self.chan.exit(NOT_BRIDGED)

    def data_received(self, data, datatype):
        if self.up_chan is None:
            self.pending.append((data, datatype))
        else:
            self.up_chan.write(data, datatype)

    def eof_received(self):
        self.eof = True
        if self.up_chan is not None:
            self.up_chan.write_eof()
        return True

    def terminal_size_changed(self, width, height, pixwidth, pixheight):
        if self.term is not None:
            self.term = (self.term[0], (width, height, pixwidth, pixheight), self.term[2])
        if self.up_chan is not None:
            self.up_chan.change_terminal_size(width, height, pixwidth, pixheight)

    def signal_received(self, signal):
        if self.up_chan is not None:
            self.up_chan.send_signal(signal)

    def break_received(self, msec):
        if self.up_chan is not None:
            self.up_chan.send_break(msec)
            return True
        return False

    def pause_writing(self):
        if self.up_chan is not None:
            self.up_chan.pause_reading()

    def resume_writing(self):
        if self.up_chan is not None:
            self.up_chan.resume_reading()

    def upstream_ended(self, up: Upstream) -> None:
        """The container's side closed: end the student's with its exit status or signal."""
        try:
            if up.signal is not None:
                self.chan.exit_with_signal(*up.signal)
            else:
                self.chan.exit(up.status if up.status is not None else NOT_BRIDGED)
        except OSError:  # the student's side is already gone
            pass

    def connection_lost(self, exc):
        if self.task is not None and not self.task.done():
            self.task.cancel()
        if self.up_chan is not None:
            self.up_chan.close()
        if self.own is not None:
            self.own.close()
