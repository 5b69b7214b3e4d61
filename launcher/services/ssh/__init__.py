"""The hub's SSH endpoint: one address (``ssh.listen``, port 8022 by default) where a student
signs in with a key registered on the hub's key page or a JupyterHub API token, and lands in
their own container (the same workspace, image and GPU as their JupyterLab): shell, commands,
scp, sftp and local port forwarding (VS Code Remote-SSH, TensorBoard).

The endpoint does not run the student's commands itself: it starts the student's server
through the hub API when it is not running (the browser's admission, quota and GPU checks,
with their sentences), then opens its own SSH connection to the sshd inside the container
(which runs as the student, images/launcher-session) and bridges the student's channels to it.
Port forwarding is therefore done from inside the container, where the students' network
keeps everything else (other students, the host) out of reach.

- :mod:`.login`: which student and course an SSH user name selects, and who may sign in;
- :mod:`.failures`: failed sign-ins rate-limited per source and per user;
- :mod:`.hubapi`: the few hub API calls (identify a token, start a server, report activity);
- :mod:`.bridge`: one SSH session channel bridged to the container's sshd;
- :mod:`.gateway`: the SSH server itself; :mod:`.service`: the managed service's main.
"""
