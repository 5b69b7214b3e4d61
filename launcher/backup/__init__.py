"""Backups and restores of a site: the store and the students' workspaces in one archive
(``launcher backup``, ``launcher restore``; docs/howto/backup.md)."""
