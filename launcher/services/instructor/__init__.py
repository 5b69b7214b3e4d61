"""The instructor page: a JupyterHub service where TAs and instructors see their course's
roster and servers, and instructors change the course within the limits an admin set."""
